"""A seeded split of cases into training and holdout sets.

``by="cohort"`` splits the cases of each cohort (``Case.cohort``; cases without one form one
group): a cohort of ``n ≥ 2`` cases puts ``⌊n·f + u⌋`` of them (``u`` uniform, so the expected
share is exactly ``f``), clamped to ``[1, n − 1]``, in the holdout, so every such cohort is on
both sides; a cohort of one case goes to the holdout with probability ``f``. ``by="case"`` is
one seeded shuffle of all cases. Cases are ordered by id before drawing, so the split does not
depend on the order they were read in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ocais.errors import ConfigError
from ocais.schemas import Case


def split_cases(
    cases: Sequence[Case],
    *,
    holdout_fraction: float = 0.5,
    by: Literal["cohort", "case"] = "cohort",
    seed: int = 0,
) -> tuple[list[Case], list[Case]]:
    """(train, holdout), each ordered by case id; see the module docstring."""
    if not 0 < holdout_fraction < 1:
        raise ConfigError(f"holdout_fraction must lie strictly between 0 and 1: {holdout_fraction}")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise ConfigError("case ids repeat: each case must appear once to be split")
    rng = np.random.default_rng(seed)
    ordered = sorted(cases, key=lambda c: c.id)
    held: set[str] = set()
    if by == "case":
        n_holdout = math.floor(len(ordered) * holdout_fraction + rng.random())
        order = rng.permutation(len(ordered))
        held = {ordered[i].id for i in order[:n_holdout]}
    else:
        groups: dict[str, list[Case]] = {}
        for case in ordered:
            groups.setdefault(case.cohort or "", []).append(case)
        for name in sorted(groups):
            members = groups[name]
            n = len(members)
            if n == 1:
                if rng.random() < holdout_fraction:
                    held.add(members[0].id)
                continue
            n_holdout = min(max(math.floor(n * holdout_fraction + rng.random()), 1), n - 1)
            held.update(members[i].id for i in rng.permutation(n)[:n_holdout])
    train = [c for c in ordered if c.id not in held]
    holdout = [c for c in ordered if c.id in held]
    return train, holdout
