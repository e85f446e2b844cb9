"""Free text → HPO terms: dictionary concept recognition with negation, family and uncertainty.

>>> recognizer = ConceptRecognizer(kb)  # ~1 s to build, ~0.3 s from its disk cache
>>> extract_phenotypes("No seizures but poor vision.", recognizer)
[Mention(id='HP:0001250', ..., excluded=True, ...), Mention(id='HP:0000505', ...)]
>>> to_observations(_)  # the patient's own, certain findings, for a Case

``extract_phenotypes`` also takes a ``KnowledgeBase`` and builds the recognizer itself, which is
fine for one text; build a :class:`ConceptRecognizer` for many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocais.errors import InputTooLargeError
from ocais.ingest.text.context import Mention, assert_mentions, to_observations
from ocais.ingest.text.recognizer import ConceptRecognizer, Match
from ocais.ingest.text.rules import ContextRules

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase

__all__ = [
    "DEFAULT_MAX_CHARS",
    "ConceptRecognizer",
    "ContextRules",
    "Match",
    "Mention",
    "extract_phenotypes",
    "to_observations",
]

DEFAULT_MAX_CHARS = 100_000


def extract_phenotypes(
    text: str,
    kb: KnowledgeBase | ConceptRecognizer,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    rules: ContextRules | None = None,
) -> list[Mention]:
    """HPO terms mentioned in ``text``, each with its span and assertion status, in text order.

    Raises ``TypeError`` if ``text`` is not a string and
    :class:`~ocais.errors.InputTooLargeError` if it is longer than ``max_chars`` characters.
    Empty or blank text gives an empty list; text in a language other than English gives few or
    no mentions (the dictionary is HPO's English labels).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    if len(text) > max_chars:
        raise InputTooLargeError(
            f"text of {len(text):,} characters is over the limit of {max_chars:,}",
            hint="split the note into parts (e.g. by section) or raise max_chars",
        )
    if not text.strip():
        return []
    recognizer = kb if isinstance(kb, ConceptRecognizer) else ConceptRecognizer(kb)
    return assert_mentions(text, recognizer.find(text), rules)
