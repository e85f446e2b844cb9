"""Measure the phenotype ranker's softmax temperature for calibrated disease probabilities.

Usage: python scripts/measure_temperature.py [PHENOPACKETS] [--temperatures 1 2 3 4.5 6]

The ranker's probability of a disease is the softmax of its entries' scores at temperature T,
summed over the entries of one MONDO disease (docs/decisions/0010). For each T, on the shared
cases split by cohort into two halves (seeded), prints per half: grouped top-1 (pessimistic
ties), expected calibration error (ECE, 10 bins) and Brier score of the top-1 probability, and
the mean negative log probability of the true disease. T is fitted on one half and checked on
the other. Prints one JSON object.
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
    parser.add_argument(
        "--temperatures", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 3.5, 4.5, 6.0]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    from cohort_halves import cohort_halves

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import confirmed_truth, read_cases
    from ocais.evaluate.metrics import calibration_metrics
    from ocais.knowledge import load_knowledge
    from ocais.predict.groups import DiseaseGroups
    from ocais.predict.phenotype import PhenotypeRanker

    settings = load_settings()
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    cases, _ = read_cases(args.source, kb)
    ranker = PhenotypeRanker(kb)
    ids = list(ranker.disease_ids)
    scores = np.asarray(ranker.score_cases(cases))
    split = cohort_halves(cases, [args.seed])[args.seed]
    halves = {half.lower(): index.tolist() for half, index in split.items()}
    result: dict[str, object] = {"n_cases": len(cases), "temperatures": {}}
    for t in args.temperatures:
        groups = DiseaseGroups.build(kb, ids, t)
        group_scores = groups.scores(scores)  # (cases, groups), T·log Σ exp(s/T)
        z = group_scores / t
        z = z - z.max(axis=1, keepdims=True)
        probabilities = np.exp(z)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        per_half = {}
        for name, rows in halves.items():
            top_p, hit, nll = [], [], []
            for i in rows:
                truth = set(groups.positions(confirmed_truth(cases[i]), kb))
                best = int(np.argmax(group_scores[i]))
                tied = group_scores[i] >= group_scores[i, best]
                pessimistic_hit = bool(truth) and tied.sum() == 1 and best in truth
                top_p.append(float(probabilities[i, best]))
                hit.append(pessimistic_hit)
                if truth:
                    mass = sum(float(probabilities[i, g]) for g in truth)
                    nll.append(-float(np.log(max(mass, 1e-12))))
            metrics = calibration_metrics(top_p, hit)
            per_half[name] = {
                "n": len(rows),
                "top1": round(float(np.mean(hit)), 4),
                "ece": metrics["ece"],
                "brier": metrics["brier"],
                "mean_top1_probability": round(float(np.mean(top_p)), 4),
                "nll_truth": round(float(np.mean(nll)), 4),
            }
        result["temperatures"][str(t)] = per_half  # type: ignore[index]
    print(json.dumps(result, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
