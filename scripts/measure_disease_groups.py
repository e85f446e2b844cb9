"""Measure how a MONDO disease's score should combine its entries' (docs/decisions/0010).

Usage: python scripts/measure_disease_groups.py [PHENOPACKETS] [--predictor phenotype|resnik]

Rules compared on the shared cases, grouped and strict top-1/top-10 (pessimistic ties):

* ``entries``: no grouping (the strict ranks of before; grouped = first entry of the group).
* ``max``: a disease scores as its best entry.
* ``logsumexp``: T·log Σ exp(s/T) over its entries (its probability is the sum of theirs).
* ``merged``: one annotation profile per disease (union of its entries' annotations, highest
  frequency per term) scored by the phenotype ranker.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--predictor", default="phenotype")
    parser.add_argument("--temperature", type=float, default=4.5)
    args = parser.parse_args()

    import numpy as np

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import confirmed_truth, read_cases
    from ocais.evaluate.metrics import pessimistic_rank
    from ocais.knowledge import load_knowledge
    from ocais.predict.base import create_predictor
    from ocais.predict.groups import DiseaseGroups
    from ocais.predict.matrices import compile_matrices, knowledge_annotations
    from ocais.predict.phenotype import PhenotypeRanker

    settings = load_settings()
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    cases, _ = read_cases(args.source, kb)
    predictor = create_predictor(args.predictor, kb)
    ids = list(predictor.disease_ids)  # type: ignore[attr-defined]
    groups = DiseaseGroups.build(kb, ids)
    index = {d: i for i, d in enumerate(ids)}
    scores = np.asarray(predictor.score_cases(cases))  # type: ignore[attr-defined]
    t = args.temperature

    def logsumexp(values: np.ndarray) -> np.ndarray:
        top = groups.scores(values)
        safe = np.where(np.isfinite(top), top, 0.0)
        spread = np.exp(
            (
                values[:, groups.order]
                - np.repeat(safe, np.diff(np.r_[groups.starts, values.shape[1]]), axis=1)
            )
            / t
        )
        total = np.add.reduceat(spread, groups.starts, axis=1)
        return np.where(np.isfinite(top), safe + t * np.log(total), -np.inf)

    def figures(matrix: np.ndarray, truth_rows: list[list[int]]) -> dict[str, float]:
        ranks = [
            pessimistic_rank(matrix[i], rows) if rows else None for i, rows in enumerate(truth_rows)
        ]
        n = len(ranks)
        return {
            "top1": round(100 * sum(r == 1 for r in ranks) / n, 2),
            "top10": round(100 * sum(r is not None and r <= 10 for r in ranks) / n, 2),
        }

    truths = [confirmed_truth(c) for c in cases]
    strict_rows = [[index[d] for d in truth if d in index] for truth in truths]
    group_rows = [groups.positions(truth, kb) for truth in truths]
    member_rows = [sorted(int(r) for g in rows for r in groups.members(g)) for rows in group_rows]
    # strict top-k within a grouped list: the truth entry must be its group's named member
    results: dict[str, dict[str, object]] = {
        "entries": {
            "strict": figures(scores, strict_rows),
            "any_member": figures(scores, member_rows),
        },
        "max": {"grouped": figures(groups.scores(scores), group_rows)},
        "logsumexp": {"grouped": figures(logsumexp(scores), group_rows)},
    }
    if isinstance(predictor, PhenotypeRanker):
        base = knowledge_annotations(kb)
        row_group = groups.group_of
        base.disease = row_group[base.disease]
        base.not_disease = row_group[base.not_disease]
        base.disease_ids = list(groups.group_ids)
        base.disease_names = list(groups.group_ids)
        base.kb_rows = np.asarray(
            [base.kb_rows[groups.members(g)[0]] for g in range(groups.n_groups)], dtype=np.int64
        )
        merged = PhenotypeRanker(kb, matrices=compile_matrices(kb, base))
        results["merged"] = {"grouped": figures(merged.score_cases(cases), group_rows)}
    print(  # noqa: T201
        json.dumps(
            {
                "cases": len(cases),
                "predictor": args.predictor,
                "hpo": kb.version,
                "entries": len(ids),
                "groups": groups.n_groups,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
