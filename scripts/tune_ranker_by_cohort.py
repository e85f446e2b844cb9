"""Tune the phenotype ranker's options on half of the cohorts, check them on the other half.

Usage: python scripts/tune_ranker_by_cohort.py [PHENOPACKETS] [--seeds 0 1] [--grid JSON]

The shared cases are split by cohort (``Case.cohort``, the ``notebooks/<cohort>/`` folder) into
two halves per seed, as in ``measure_temperature.py``: half A (tuning) and half B (held out).
Every setting is scored once over all cases (``score_cases``) and ranked by MONDO disease
(``DiseaseGroups`` at the ranker's temperature, pessimistic ties); a case whose diagnosis is
not annotated counts as a miss. Settings: one option at a time around today's defaults
(``--grid``: {"option": [values, ...]}) and a few combinations (``--extra``: [{...}, ...]).
Per family (the settings that vary the same options; "any": all of them) and seed, the
setting with the best top-1 + top-10 on half A (the defaults included) is picked and its half-B
figures reported. A family *wins* if both seeds pick the same setting and it beats the defaults
on half B for both seeds (top-1 + top-10) without losing more than 0.3 points of top-1 or
top-10 on any half of any seed. Prints JSON lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / (
    "shared/data/phenopacket-store/dev.tar.gz"
)
DEFAULT_GRID: dict[str, list[Any]] = {
    "noise_floor": [0.003, 0.03, 0.1],
    "specificity_penalty": [4.0, 8.0, 10.0],
    "unreported_penalty": [0.05, 0.2],
    "default_frequency": [0.3, 0.7, 0.85, 1.0],
    "excluded_weight": [0.0, 0.15, 0.5],
    "excluded_relevance": [0.25, 0.75, 1.0],
    "excluded_ratio": [1.0, 2.0],
    "match_ic_weight": [0.5, 1.0],
    "system_cap": [5.0, 10.0, 15.0],
}
DEFAULT_EXTRA: list[dict[str, Any]] = [  # combinations of the single options that did best
    {"default_frequency": 1.0, "specificity_penalty": 8.0},
    {"default_frequency": 1.0, "excluded_weight": 0.15},
    {"default_frequency": 1.0, "noise_floor": 0.03},
    {"default_frequency": 1.0, "match_ic_weight": 0.5},
]
TOLERANCE = 0.3  # points of top-1 or top-10 a winner may lose anywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--grid", type=json.loads, default=DEFAULT_GRID)
    parser.add_argument("--extra", type=json.loads, default=DEFAULT_EXTRA)
    args = parser.parse_args()

    from cohort_halves import cohort_halves, grouped_ranks, half_figures

    from ocais.config import load_settings
    from ocais.evaluate.benchmark import confirmed_truth, read_cases
    from ocais.knowledge import load_knowledge
    from ocais.predict.groups import DiseaseGroups
    from ocais.predict.phenotype import PhenotypeRanker

    settings = load_settings()
    kb = load_knowledge(settings.resolved_hpo_dir, settings.resolved_cache_dir)
    cases, _ = read_cases(args.source, kb)
    truths = [confirmed_truth(c) for c in cases]
    halves = cohort_halves(cases, args.seeds)
    groups_cache: dict[tuple[str, ...], tuple[DiseaseGroups, list[list[int]]]] = {}

    def evaluate(options: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        ranker = PhenotypeRanker(kb, **options)
        key = tuple(ranker.disease_ids)
        if key not in groups_cache:
            groups = DiseaseGroups.build(kb, key, ranker.options.temperature)
            groups_cache[key] = (groups, [groups.positions(t, kb) for t in truths])
        groups, rows = groups_cache[key]
        grouped = groups.scores(ranker.score_cases(cases))
        figures: dict[str, Any] = {"seconds": round(time.perf_counter() - start, 1)}
        return {**figures, **half_figures(grouped_ranks(grouped, rows), halves)}

    def gain(figures: dict[str, Any], base: dict[str, Any], cell: str) -> float:
        return float(sum(figures[cell]) - sum(base[cell]))

    def verdict(figures: dict[str, Any], base: dict[str, Any]) -> bool:
        cells = [f"{s}{h}" for s in args.seeds for h in "AB"]
        held = all(gain(figures, base, f"{s}B") > 0 for s in args.seeds)
        worst = min(f - b for c in cells for f, b in zip(figures[c], base[c], strict=True))
        return held and worst >= -TOLERANCE

    settings_list = [{o: v} for o, values in args.grid.items() for v in values] + args.extra
    base = evaluate({})
    results: list[dict[str, Any]] = [{"options": {}, **base}]
    print(json.dumps(results[-1]), flush=True)  # noqa: T201
    for options in settings_list:
        results.append({"options": options, **evaluate(options)})
        print(json.dumps(results[-1]), flush=True)  # noqa: T201
    # per family of settings (the same options varied) and per seed: the value with the best
    # top-1 + top-10 on half A (the defaults included), judged on half B
    families: dict[str, list[dict[str, Any]]] = {}
    for row in results[1:]:
        families.setdefault("+".join(sorted(row["options"])), []).append(row)
    families["any"] = results[1:]
    picks: dict[str, Any] = {}
    for family, rows in families.items():
        chosen: dict[str, Any] = {}
        for seed in args.seeds:
            best = max([results[0], *rows], key=lambda r: gain(r, base, f"{seed}A"))
            chosen[str(seed)] = {
                "options": best["options"],
                "held_out": best[f"{seed}B"],
                "defaults_held_out": base[f"{seed}B"],
            }
        winners = [
            results[0]
            if not c["options"]
            else next(r for r in rows if r["options"] == c["options"])
            for c in chosen.values()
        ]
        same = all(w["options"] == winners[0]["options"] for w in winners)
        chosen["wins"] = bool(same and winners[0]["options"] and verdict(winners[0], base))
        picks[family] = chosen
    print(json.dumps({"cases": len(cases), "hpo": kb.version, "results": results, "picks": picks}))  # noqa: T201


if __name__ == "__main__":
    main()
