"""Free text → HPO terms: dictionary concept recognition with negation, family and uncertainty.

>>> recognizer = ConceptRecognizer(kb)  # ~1 s to build, ~0.3 s from its disk cache
>>> extract_phenotypes("No seizures but poor vision.", recognizer)
[Mention(id='HP:0001250', ..., excluded=True, ...), Mention(id='HP:0000505', ...)]
>>> to_observations(_)  # the patient's own, certain findings, for a Case
>>> extract_text("developmntal delay, toe-walkng", recognizer)  # + unmapped spans, language
Extraction(mentions=[...], unmapped=[UnmappedSpan(text='toe-walkng', ...)], language='en')

``extract_phenotypes`` also takes a ``KnowledgeBase`` and builds the recognizer itself, which is
fine for one text; build a :class:`ConceptRecognizer` for many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocais.ingest.text.context import Mention, to_observations
from ocais.ingest.text.extraction import (
    DEFAULT_MAX_CHARS,
    Extraction,
    check_text,
    extract_text,
    find_mentions,
)
from ocais.ingest.text.languages import LANGUAGES, detect_language
from ocais.ingest.text.recognizer import ConceptRecognizer, Match
from ocais.ingest.text.rules import ContextRules
from ocais.ingest.text.unmapped import Suggestion, UnmappedSpan

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase

__all__ = [
    "DEFAULT_MAX_CHARS",
    "LANGUAGES",
    "ConceptRecognizer",
    "ContextRules",
    "Extraction",
    "Match",
    "Mention",
    "Suggestion",
    "UnmappedSpan",
    "detect_language",
    "extract_phenotypes",
    "extract_text",
    "to_observations",
]


def extract_phenotypes(
    text: str,
    kb: KnowledgeBase | ConceptRecognizer,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    rules: ContextRules | None = None,
    language: str | None = None,
) -> list[Mention]:
    """HPO terms mentioned in ``text``, each with its span and assertion status, in text order.

    The language is detected unless given (English, German, Spanish, French, Italian,
    Portuguese, Japanese, Chinese; see :func:`extract_text` for the unmapped spans too).
    Raises ``TypeError`` if ``text`` is not a string and
    :class:`~ocais.errors.InputTooLargeError` if it is longer than ``max_chars`` characters.
    Empty or blank text gives an empty list.
    """
    check_text(text, max_chars)
    if not text.strip():
        return []
    recognizer = kb if isinstance(kb, ConceptRecognizer) else ConceptRecognizer(kb)
    return find_mentions(text, recognizer, language or detect_language(text), rules)
