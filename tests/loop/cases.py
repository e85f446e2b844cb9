"""Small phenopacket sets for the loop tests, on the tiny release of ``tests/conftest.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.helpers import packet

# the phenotypic terms of the tiny ontology
TERMS = {
    "HP:0000707": "Abnormality of the nervous system",
    "HP:0001250": "Seizure",
    "HP:0002069": "Bilateral tonic-clonic seizure",
    "HP:0000478": "Abnormality of the eye",
    "HP:0000505": "Visual impairment",
}
DISEASES = {"OMIM:100001": "Disease A", "OMIM:100002": "Disease B"}


def write_cohorts(root: Path, per_cohort: int = 12, seed: int = 0) -> Path:
    """``root/<cohort>/phenopackets/*.json``: one cohort per tiny disease, random term sets."""
    rng = np.random.default_rng(seed)
    terms = list(TERMS)
    for cohort, (disease, label) in zip(("COHA", "COHB"), DISEASES.items(), strict=True):
        folder = root / cohort / "phenopackets"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_cohort):
            chosen = rng.choice(len(terms), size=int(rng.integers(1, 4)), replace=False)
            features = [{"type": {"id": terms[j], "label": TERMS[terms[j]]}} for j in chosen]
            record = packet(
                f"{cohort}-{i}",
                phenotypicFeatures=features,
                interpretations=[
                    {
                        "id": "i1",
                        "progressStatus": "SOLVED",
                        "diagnosis": {"disease": {"id": disease, "label": label}},
                    }
                ],
                diseases=[{"term": {"id": disease, "label": label}}],
            )
            (folder / f"{cohort}-{i}.json").write_text(json.dumps(record), encoding="utf-8")
    return root


TINY_CONFIG = """\
source = "cases"
out = "out"
seed = 1

[split]
holdout_fraction = 0.5

[synth]
multiplier = 2.0
min_distance = 0.0
min_cases = 2

[gate]
max_mia_auc = 1.0

[validation]
binary_k = 1
n_resamples = 100
"""
