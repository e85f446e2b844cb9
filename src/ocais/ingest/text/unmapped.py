"""Spans the recognizer could not map, and "did you mean" suggestions for them.

A note is cut into short fragments at punctuation, line breaks, list bullets and the words that
join findings ("and", "with", "und", "y", "et", …). A fragment with no recognized finding is
reported when it is short (at most :data:`MAX_WORDS` content words) and looks clinical: one of
its words is a word of the dictionary's labels (and not an everyday word), is one edit away from
one, or has a medical ending ("-megaly", "-osis", "-plasia", …). Prose sentences are long, so
they are never reported whole.

Suggestions rank the dictionary's labels by the cosine similarity of character trigram counts
(the usual fuzzy-lookup measure; e.g. Okazaki & Tsujii, COLING 2010) — robust to typos, word order
and inflection — and keep the best label of each term.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from ocais.ingest.text.context import Mention

MAX_WORDS = 5
MAX_SUGGESTIONS = 3
MIN_SCORE = 0.3
_BREAK = re.compile(
    r"[.,;:!?()\[\]\n•]|\s[-–—]\s|^\s*[-*]\s"
    r"|\b(?:and|or|with|but|plus|und|oder|mit|sowie|y|con|o|et|avec|ou|e|com|ma|mas|pero)\b",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’-][^\W_]+)*")
_MEDICAL_ENDING = re.compile(
    r"(?:a?emia|osis|oses|itis|pathy|plasia|plasty|megaly|trophy|algia|ectomy|omas?|cephaly"
    r"|dactyly|tonia|taxia|uria|penia|cytosis|phagia|phasia|lexia|kinesia|plegia|paresis"
    r"|rrh?o?ea|ptosis|stenosis|ectasia|spasm|ismus|opia|osia|megalie|ämie|ose|itis|ie|ía"
    r"|ite|pathie|patía|patia)$",
    re.IGNORECASE,
)
_FILLER = frozenset(
    {
        "patient", "patients", "history", "exam", "examination", "normal", "abnormal", "left",
        "right", "bilateral", "mild", "moderate", "severe", "also", "noted", "present",
        "presents", "presented", "today", "since", "years", "year", "months", "month", "old",
        "age", "child", "boy", "girl", "son", "daughter", "mother", "father", "family", "parents",
        "brother", "sister", "problem", "problems", "finding", "findings", "plan", "assessment",
        "review", "clinic", "visit", "follow", "referral", "known", "new", "recent", "some",
        "other", "general", "status", "note", "notes", "yes", "none", "positive", "negative",
        "denies", "no", "not", "without", "der", "die", "das", "ein", "eine", "ist", "hat",
        "patientin", "kind", "seit", "jahren", "bei", "el", "la", "los", "las", "un", "una",
        "paciente", "desde", "años", "le", "les", "des", "une", "est", "patiente", "depuis",
        "ans", "il", "lo", "gli", "di", "del", "della", "paziente", "anni", "o", "os", "as", "um",
        "uma", "anos", "criança", "niño", "niña"
    }
)  # fmt: skip


class Suggestion(BaseModel):
    """A term the unmapped span may mean, with the similarity of its best label (0–1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    label: str
    score: float = Field(ge=0, le=1)


class UnmappedSpan(BaseModel):
    """A clinical-looking fragment of the text that no term was recognized in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    suggestions: list[Suggestion] = Field(default_factory=list)


def _trigrams(text: str) -> list[str]:
    padded = f"  {' '.join(text.casefold().split())} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


class SuggestionIndex:
    """Character-trigram cosine search over labels: ``labels`` are (term id, name, label)."""

    def __init__(self, labels: Sequence[tuple[str, str, str]]) -> None:
        self.labels = list(labels)
        vocabulary: dict[str, int] = {}
        rows, cols, values = [], [], []
        for row, (_, _, label) in enumerate(self.labels):
            counts: dict[int, int] = {}
            for gram in _trigrams(label):
                column = vocabulary.setdefault(gram, len(vocabulary))
                counts[column] = counts.get(column, 0) + 1
            norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
            for column, count in counts.items():
                rows.append(row)
                cols.append(column)
                values.append(count / norm)
        self._vocabulary = vocabulary
        self._matrix = sparse.csr_matrix(
            (values, (rows, cols)), shape=(len(self.labels), max(1, len(vocabulary)))
        )

    def suggest(self, text: str, k: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        """The ``k`` terms whose labels are most similar to ``text`` (score ≥ :data:`MIN_SCORE`)."""
        counts: dict[int, int] = {}
        for gram in _trigrams(text):
            column = self._vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts or not self.labels:
            return []
        total = float(np.sqrt(sum(c * c for c in counts.values())))
        query = np.zeros(self._matrix.shape[1])
        for column, count in counts.items():
            query[column] = count / total
        scores = self._matrix @ query
        top = np.argsort(-scores, kind="stable")[: k * 8]
        found: dict[str, Suggestion] = {}
        for row in top.tolist():
            score = float(scores[row])
            term_id, name, _ = self.labels[row]
            if score < MIN_SCORE or len(found) >= k:
                break
            if term_id not in found:
                found[term_id] = Suggestion(id=term_id, label=name, score=round(min(score, 1), 3))
        return list(found.values())


def find_unmapped(
    text: str,
    mentions: Sequence[Mention],
    *,
    clinical_word: Callable[[str], bool],
    suggest: Callable[[str], list[Suggestion]],
    ignored: Collection[str] = frozenset(),
) -> list[UnmappedSpan]:
    """Short clinical-looking fragments of ``text`` without a mention, with suggestions.

    ``clinical_word(word)`` says whether a word looks clinical in the note's language;
    ``ignored`` holds words (casefolded) never reported: trigger phrases such as "no", "denies".
    """
    covered = sorted((m.start, m.end) for m in mentions)
    cuts = [0, *(x for m in _BREAK.finditer(text) for x in (m.start(), m.end())), len(text)]
    spans: list[UnmappedSpan] = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if end <= start or any(s < end and start < e for s, e in covered):
            continue
        words = [
            w
            for w in _WORD.finditer(text, start, end)
            if w.group().casefold() not in _FILLER and w.group().casefold() not in ignored
        ]
        if not words or len(words) > MAX_WORDS:
            continue
        if not any(
            clinical_word(w.group()) or (_MEDICAL_ENDING.search(w.group()) and len(w.group()) >= 6)
            for w in words
        ):
            continue
        first, last = words[0].start(), words[-1].end()
        phrase = text[first:last]
        spans.append(UnmappedSpan(text=phrase, start=first, end=last, suggestions=suggest(phrase)))
    return spans
