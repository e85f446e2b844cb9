"""Tune the genotype likelihood ratio on half of the cohorts, check it on the other half.

Usage: python scripts/tune_genotype_by_cohort.py SIMULATED_DIR [--seeds 0 1] [--grid JSON]
       [--extra JSON] [--out FILE]

SIMULATED_DIR is a folder written by ``ocais genomic simulate`` (phenopackets whose ``files``
point to VCFs beside them, no genomic interpretations). The cases are split by cohort into two
halves per seed (as ``tune_ranker_by_cohort.py``): half A tunes, half B is held out whole.
Each case's VCF calls, and its phenotype scores per phenotype setting, are computed once; every
setting (options of :class:`~ocais.genomic.model.GenotypeOptions` and of the phenotype ranker,
which the ``genomic`` predictor also takes) is then scored over all cases and ranked by MONDO
disease (pessimistic ties; a case whose diagnosis is not annotated is a miss). Per seed, the
setting with the best top-1 + top-10 on half A is picked and its half-B figures reported, next
to the phenotype ranker's on the same half. Prints JSON lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

# one option at a time around the defaults (docs/decisions/0017), and LIRICAL-like settings
DEFAULT_GRID: dict[str, list[Any]] = {
    "miss_lr": [0.05, 0.01, 0.0001],
    "no_gene_log_lr": [0.0, -3.0, -12.0],
    "genotype_weight": [1.0, 2.0],
    "background_rate": [0.02, 0.3],
    "threshold": [0.9],
    "moderate_pathogenicity": [0.6],
    "inheritance": ["poisson", "off"],
    "mondo_genes": [False],
    "phenotype_overrides": [{}],
}
DEFAULT_EXTRA: list[dict[str, Any]] = [
    {  # LIRICAL's constants with the phenotype ranker as it is
        "miss_lr": 0.05,
        "no_gene_log_lr": -3.0,
        "genotype_weight": 1.0,
        "inheritance": "poisson",
        "phenotype_overrides": {},
    },
    {"miss_lr": 0.01, "no_gene_log_lr": -3.0},  # a milder filter
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--grid", type=json.loads, default=DEFAULT_GRID)
    parser.add_argument("--extra", type=json.loads, default=DEFAULT_EXTRA)
    parser.add_argument("--out", type=Path, help="Also write the final JSON object here.")
    parser.add_argument(
        "--as-gene-list",
        action="store_true",
        help="Give each case the genes of its VCF's calls as a candidate-gene list (no "
        "genotypes): measures gene_list_hit and gene_list_miss.",
    )
    args = parser.parse_args()

    import numpy as np
    from cohort_halves import cohort_halves, grouped_ranks, half_figures

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import confirmed_truth, read_cases
    from ocais.genomic.model import GenotypeModel, GenotypeOptions
    from ocais.knowledge import load_knowledge
    from ocais.knowledge.genes import load_gene_table
    from ocais.predict.genomic import GenomicRanker
    from ocais.predict.groups import DiseaseGroups
    from ocais.predict.phenotype import PhenotypeRanker
    from ocais.predict.terms import case_terms

    settings = load_settings()
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    started = time.perf_counter()
    cases, _ = read_cases(args.source, kb)
    truths = [confirmed_truth(c) for c in cases]
    phenotype = PhenotypeRanker(kb)
    ids = list(phenotype.disease_ids)
    groups = DiseaseGroups.build(kb, ids, phenotype.options.temperature)
    rows = [groups.positions(t, kb) for t in truths]
    base_cache: dict[str, np.ndarray] = {}

    def base_of(options: dict[str, Any]) -> np.ndarray:
        """Phenotype scores of every case under ``options`` (computed once per setting)."""
        key = json.dumps(options, sort_keys=True)
        if key not in base_cache:
            ranker = PhenotypeRanker(kb, **options)
            base_cache[key] = np.stack([ranker.score(c, case_terms(kb, c)) for c in cases])
        return base_cache[key]

    base_scores = base_of({})
    reader = GenomicRanker(kb)
    calls = []
    for case in cases:
        variants = list(case.genomics.variants) if case.genomics else []
        for file in case.genomics.files if case.genomics else []:
            variants.extend(reader.read_file(file.uri, file.sample).variants)
        calls.append(variants)
    genes = load_gene_table(kb)
    prepared = round(time.perf_counter() - started, 1)

    halves = cohort_halves(cases, args.seeds)

    def figures_of(scores: np.ndarray) -> dict[str, Any]:
        return half_figures(grouped_ranks(groups.scores(scores), rows), halves)

    genotype_keys = set(GenotypeOptions.model_fields)

    def evaluate(options: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        geno = GenotypeOptions(**{k: v for k, v in options.items() if k in genotype_keys})
        # as the genomic predictor: its phenotype options, then the genotype's overrides
        pheno = {k: v for k, v in options.items() if k not in genotype_keys}
        pheno.update(geno.phenotype_overrides)
        model = GenotypeModel(kb, genes, ids, geno)
        scores = base_of(pheno).copy()
        for i, variants in enumerate(calls):
            if args.as_gene_list:
                listed = sorted({v.gene for v in variants})
                profile = model.profile([], listed, has_genotypes=False)
            else:
                profile = model.profile(variants, [], has_genotypes=True)
            scores[i] += model.score(profile).log_lr
        return {"seconds": round(time.perf_counter() - start, 1), **figures_of(scores)}

    phenotype_figures = figures_of(base_scores)
    print(json.dumps({"phenotype": phenotype_figures, "prepared_s": prepared}), flush=True)  # noqa: T201
    settings_list = [{o: v} for o, values in args.grid.items() for v in values] + args.extra
    results = [{"options": {}, **evaluate({})}]
    print(json.dumps(results[-1]), flush=True)  # noqa: T201
    for options in settings_list:
        results.append({"options": options, **evaluate(options)})
        print(json.dumps(results[-1]), flush=True)  # noqa: T201
    picks: dict[str, Any] = {}
    for seed in args.seeds:
        best = max(results, key=lambda r: sum(r[f"{seed}A"]))
        picks[str(seed)] = {
            "options": best["options"],
            "tuned_on_A": best[f"{seed}A"],
            "held_out_B": best[f"{seed}B"],
            "phenotype_B": phenotype_figures[f"{seed}B"],
            "cases_B": int(halves[seed]["B"].size),
        }
    summary = {
        "source": str(args.source),
        "cases": len(cases),
        "hpo": kb.version,
        "phenotype": phenotype_figures,
        "results": results,
        "picks": picks,
    }
    print(json.dumps(summary))  # noqa: T201
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
