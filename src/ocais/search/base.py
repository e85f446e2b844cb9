"""The ``Embedder`` extension point: cases and texts → fixed-size vectors.

An embedder has a stable ``id`` (name + version + parameters that change its vectors), a
``dimension`` and a ``metric``; a vector collection is bound to exactly one of them, so vectors
of different embedders are never mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from ocais.schemas import Case

Metric = Literal["cosine", "l2", "ip"]


@runtime_checkable
class Embedder(Protocol):
    """Turns cases (and, if ``supports_text``, free text) into float32 vectors."""

    name: ClassVar[str]
    supports_text: ClassVar[bool]
    supports_cases: ClassVar[bool]

    @property
    def id(self) -> str:
        """Identifies the vector space: two embedders with the same id give the same vectors."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    def embed_cases(self, cases: Sequence[Case]) -> np.ndarray:
        """(len(cases), dimension) float32; unit-norm for the cosine metric."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32; ``NotImplementedError`` if not ``supports_text``."""
        ...
