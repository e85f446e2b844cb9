"""A case's HPO terms as knowledge-base indices, with unknown and obsolete ids reported."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case


@dataclass
class CaseTerms:
    """Observed and excluded term indices (deduplicated, sorted) and what was done to ids."""

    observed: npt.NDArray[np.int64]
    excluded: npt.NDArray[np.int64]
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.observed.size == 0 and self.excluded.size == 0


def case_terms(kb: KnowledgeBase, case: Case) -> CaseTerms:
    """Resolve a case's phenotype ids against ``kb``: alternative and obsolete ids are replaced,
    unknown ids dropped; both reported. A term both observed and excluded counts as observed."""
    warnings: list[str] = []
    observed: set[int] = set()
    excluded: set[int] = set()
    for obs in case.phenotypes:
        current = kb.resolve_id(obs.id)
        if current is None:
            warnings.append(f"{obs.id} is not in HPO {kb.version}; ignored")
            continue
        if current != obs.id:
            warnings.append(f"{obs.id} is obsolete or an alternative id; used {current}")
        (excluded if obs.excluded else observed).add(kb.term_index[current])
    excluded -= observed
    return CaseTerms(
        observed=np.asarray(sorted(observed), dtype=np.int64),
        excluded=np.asarray(sorted(excluded), dtype=np.int64),
        warnings=warnings,
    )
