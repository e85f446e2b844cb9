"""Does a learned model hurt what it did not learn? Seen-cohort half vs cohorts held out whole.

Usage: python benchmarks/bench_learned_heldout.py [PHENOPACKETS] [--seeds 0 1]
       [--heldout-share 0.3] [--variant NAME=JSON ...] [--hpo-dir DIR]

For each seed, the cohorts of PHENOPACKETS (default: the shared phenopacket-store cases; a
cohort is the ``notebooks/<cohort>/`` folder, ``Case.cohort``) are drawn: a seeded share
(``--heldout-share``) is held out WHOLE; the cases of the other cohorts are split in halves
inside each cohort (:func:`ocais.loop.split.split_cases`, as the loop does). Synthetic patients
are drawn from the training half (:func:`ocais.synth.generate.from_cases`, the loop's defaults),
a model is fitted on them only (:func:`ocais.learn.model.fit`) and the knowledge-only ranker and
the learned one are scored on (a) the other half of the seen cohorts and (b) the cohorts held
out whole: strict top-1/top-3/top-10 and MRR (exact disease id, ties pessimistic, diagnoses the
predictor does not know count as misses; :mod:`ocais.evaluate.metrics`). Held-out-whole cases
are also reported by whether their disease has a learned profile (another cohort of the same
disease was in training) or not.

``--variant NAME=JSON`` fits one more model per seed with ``LearnOptions`` overrides (JSON
object), e.g. ``--variant s5='{"prior_strength": 5}'``; ``default`` (the current defaults) is
always fitted. Cases are read once; the knowledge-only scores are computed once per seed.
Prints one JSON object.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)


def split_heldout(
    cases: Sequence[Any], share: float, seed: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """(train half, seen half, held-out-whole cases): a seeded ``share`` of cohorts held out whole,
    the cases of the others split in halves inside each cohort."""
    from ocais.loop.split import split_cases

    cohorts = sorted({c.cohort or "" for c in cases})
    rng = np.random.default_rng(seed)
    held = {cohorts[i] for i in rng.permutation(len(cohorts))[: round(share * len(cohorts))]}
    whole = sorted((c for c in cases if (c.cohort or "") in held), key=lambda c: c.id)
    rest = [c for c in cases if (c.cohort or "") not in held]
    train, seen = split_cases(rest, holdout_fraction=0.5, by="cohort", seed=seed)
    return train, seen, whole


def ranks_of(scorer: Any, cases: Sequence[Any]) -> list[int | None]:
    """Strict pessimistic rank of each case's confirmed diagnosis (None: not ranked)."""
    from ocais.evaluate.benchmark import confirmed_truth
    from ocais.evaluate.metrics import pessimistic_rank

    index = {d: i for i, d in enumerate(scorer.disease_ids)}
    ranks: list[int | None] = []
    for start in range(0, len(cases), 256):
        batch = cases[start : start + 256]
        scores = np.asarray(scorer.score_cases(batch), dtype=np.float64)
        for row, case in enumerate(batch):
            positions = [index[d] for d in confirmed_truth(case) if d in index]
            ranks.append(pessimistic_rank(scores[row], positions) if positions else None)
    return ranks


def figures(ranks: Sequence[int | None]) -> dict[str, float]:
    from ocais.evaluate.metrics import ranking_metrics

    result = ranking_metrics(ranks, [r is not None for r in ranks], ks=(1, 3, 10))
    return {k: result[k] for k in ("n_cases", "coverage", "top1", "top3", "top10", "mrr")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--heldout-share", type=float, default=0.3)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--hpo-dir", type=Path, default=None)
    args = parser.parse_args()

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import read_cases
    from ocais.knowledge import load_knowledge
    from ocais.learn.model import LearnedPredictor, LearnOptions, fit
    from ocais.learn.profiles import truth_of
    from ocais.predict.phenotype import PhenotypeRanker
    from ocais.synth.generate import SynthOptions, from_cases

    variants: dict[str, dict[str, Any]] = {"default": {}}
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        variants[name] = json.loads(overrides or "{}")
    settings = load_settings(**({"hpo_dir": args.hpo_dir} if args.hpo_dir else {}))
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    started = time.perf_counter()
    cases, _skipped = read_cases(args.source, kb)
    timings: dict[str, float] = {"read": round(time.perf_counter() - started, 1)}
    knowledge = PhenotypeRanker(kb)
    runs: dict[str, Any] = {}
    for seed in args.seeds:
        train, seen, whole = split_heldout(cases, args.heldout_share, seed)
        clock = time.perf_counter()
        synthetic = from_cases(train, kb, SynthOptions(seed=seed), source="bench")
        learned_diseases = {truth_of(c) for c in synthetic}
        whole_learned = [truth_of(c) in learned_diseases for c in whole]
        base = {"seen": ranks_of(knowledge, seen), "whole": ranks_of(knowledge, whole)}
        timings[f"seed{seed}_synth_and_base"] = round(time.perf_counter() - clock, 1)
        run: dict[str, Any] = {
            "n_train": len(train),
            "n_synthetic": len(synthetic),
            "n_seen": len(seen),
            "n_whole": len(whole),
            "n_whole_disease_learned": int(sum(whole_learned)),
            "n_cohorts_whole": len({c.cohort for c in whole}),
        }
        for name, overrides in {"knowledge": None, **variants}.items():
            clock = time.perf_counter()
            if overrides is None:
                ranks = base
            else:
                model = fit(synthetic, kb, LearnOptions(seed=seed, **overrides), source="bench")
                predictor = LearnedPredictor(kb, model=model)
                ranks = {"seen": ranks_of(predictor, seen), "whole": ranks_of(predictor, whole)}
                timings[f"seed{seed}_{name}"] = round(time.perf_counter() - clock, 1)
            whole_new = [r for r, k in zip(ranks["whole"], whole_learned, strict=True) if not k]
            whole_old = [r for r, k in zip(ranks["whole"], whole_learned, strict=True) if k]
            run[name] = {
                "seen": figures(ranks["seen"]),
                "whole": figures(ranks["whole"]),
                "whole_disease_not_learned": figures(whole_new),
                "whole_disease_learned": figures(whole_old),
            }
            print(name, seed, json.dumps(run[name]), file=sys.stderr, flush=True)
        runs[str(seed)] = run
    summary = {
        name: {
            part: {
                metric: round(
                    float(np.mean([runs[str(s)][name][part][metric] for s in args.seeds])), 4
                )
                for metric in ("top1", "top10")
            }
            for part in ("seen", "whole")
        }
        for name in ("knowledge", *variants)
    }
    print(
        json.dumps(
            {
                "date": dt.date.today().isoformat(),
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
                "source": str(args.source),
                "knowledge_version": kb.version,
                "heldout_share": args.heldout_share,
                "variants": variants,
                "mean_over_seeds": summary,
                "runs": runs,
                "timings_s": timings,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
