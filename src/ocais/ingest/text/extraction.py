"""One call for a note: findings in its language, spans not mapped (with suggestions), the
language detected.

English goes through the full recognizer (labels, synonyms, variants, abbreviations, spelling
tolerance) and the English trigger phrases; German, Spanish, French, Italian, Portuguese,
Japanese and Chinese through the HPO translations (:mod:`ocais.ingest.text.languages`) and their
own negation, family and uncertainty cues (:mod:`ocais.ingest.text.multilingual`). Section
headings and "Finding: no" lines count in every language (:mod:`ocais.ingest.text.sections`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ocais.errors import InputTooLargeError
from ocais.ingest.text.context import Mention, assert_mentions
from ocais.ingest.text.languages import (
    CJK,
    LANGUAGES,
    TranslatedDictionary,
    detect_language,
    fold,
    load_translations,
    stem,
)
from ocais.ingest.text.multilingual import assert_cjk, language_rules, triggers
from ocais.ingest.text.recognizer import ConceptRecognizer
from ocais.ingest.text.rules import ContextRules
from ocais.ingest.text.spelling import everyday_words
from ocais.ingest.text.triggers import TRIGGERS
from ocais.ingest.text.unmapped import SuggestionIndex, UnmappedSpan, find_unmapped

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase

DEFAULT_MAX_CHARS = 100_000


class Extraction(BaseModel):
    """What a note says: findings, what could not be mapped, and the language it was read in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mentions: list[Mention]
    unmapped: list[UnmappedSpan] = Field(default_factory=list)
    language: str = Field(description="ISO 639-1 code of the language the note was read in")


def check_text(text: object, max_chars: int) -> str:
    """``text`` if it is a string within ``max_chars``; else TypeError / InputTooLargeError."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    if len(text) > max_chars:
        raise InputTooLargeError(
            f"text of {len(text):,} characters is over the limit of {max_chars:,}",
            hint="split the note into parts (e.g. by section) or raise max_chars",
        )
    return text


def translated_dictionary(recognizer: ConceptRecognizer, language: str) -> TranslatedDictionary:
    """The recognizer's dictionary of ``language`` (loaded from package data once)."""

    def build() -> TranslatedDictionary:
        in_scope = {recognizer.term_ids[term]: term for term, _ in recognizer.labels()}
        return TranslatedDictionary(
            language,
            load_translations(language),
            in_scope,
            recognizer.term_ids,
            recognizer.term_names,
        )

    result: TranslatedDictionary = recognizer.derived(f"language:{language}", build)
    return result


def _suggestions(recognizer: ConceptRecognizer, language: str) -> SuggestionIndex:
    def build() -> SuggestionIndex:
        if language == "en":
            rows = recognizer.labels()
        else:
            rows = translated_dictionary(recognizer, language).labels
        names = recognizer.term_names
        return SuggestionIndex([(recognizer.term_ids[t], names[t], label) for t, label in rows])

    result: SuggestionIndex = recognizer.derived(f"suggest:{language}", build)
    return result


def find_mentions(
    text: str,
    recognizer: ConceptRecognizer,
    language: str,
    rules: ContextRules | None = None,
) -> list[Mention]:
    """Mentions with assertion status, read as ``language``."""
    if language == "en":
        return assert_mentions(text, recognizer.find(text), rules)
    matches = translated_dictionary(recognizer, language).find(text)
    if language in CJK:
        return assert_cjk(text, matches, language)
    return assert_mentions(text, matches, rules or language_rules(language))


def _clinical_word(recognizer: ConceptRecognizer, language: str) -> object:
    if language == "en":
        spelling = recognizer.spelling()
        everyday = everyday_words()

        def english(word: str) -> bool:
            # a near miss of a label word; label words themselves are ordinary English too often
            key = recognizer.key(word)
            return key not in everyday and len(key) >= 7 and bool(spelling.candidates(key))

        return english
    words = translated_dictionary(recognizer, language).words

    def translated(word: str) -> bool:
        key = stem(fold(word), language)
        return len(key) >= 4 and key in words

    return translated


def extract_text(
    text: str,
    kb: KnowledgeBase | ConceptRecognizer,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    rules: ContextRules | None = None,
    language: str | None = None,
) -> Extraction:
    """Findings of ``text`` with assertion status, unmapped spans with suggestions, and the
    language (detected unless given: one of :data:`~ocais.ingest.text.languages.LANGUAGES`).

    Raises ``TypeError`` for a text that is not a string, ``ValueError`` for an unknown language
    and :class:`~ocais.errors.InputTooLargeError` over ``max_chars`` characters.
    """
    check_text(text, max_chars)
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    lang = language or detect_language(text)
    if not text.strip():
        return Extraction(mentions=[], language=lang)
    recognizer = kb if isinstance(kb, ConceptRecognizer) else ConceptRecognizer(kb)
    mentions = find_mentions(text, recognizer, lang, rules)
    if lang in CJK:
        return Extraction(mentions=mentions, language=lang)
    cues = TRIGGERS if lang == "en" else triggers(lang)
    ignored = {t.pattern for t in cues if t.pattern.replace(" ", "").isalpha()}
    index = _suggestions(recognizer, lang)
    unmapped = find_unmapped(
        text,
        mentions,
        clinical_word=_clinical_word(recognizer, lang),  # type: ignore[arg-type]
        suggest=index.suggest,
        ignored=ignored,
    )
    return Extraction(mentions=mentions, unmapped=unmapped, language=lang)
