"""Notes in other languages: detection, and HPO's own translations as a dictionary.

Detection is deliberately light: the writing system first (kana → Japanese, Han characters without
kana → Chinese), then, for Latin script, counts of frequent function words of English, German,
Spanish, French, Italian and Portuguese; the language with most hits wins, English when nothing
is clear (fewer than two hits, or a tie with English).

The dictionary of a language holds the translated labels of the HPO translation project
(package data built by ``scripts/build_hpo_translations.py``; see ``data/ATTRIBUTION``) and a few
terms clinicians write that the translations lack (``data/clinical-terms.tsv``, written for OCAIS).
Words are matched on light keys: case and accents folded, articles dropped, a plural or gender
ending stripped ("convulsiones" = "convulsión", "Krampfanfälle" = "Krampfanfall"). Japanese and
Chinese are written without spaces: there every character is a token, so a label matches as a
substring of the text, the longest first.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from ocais.ingest.text.recognizer import Match

LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "ja", "zh")
TRANSLATED = ("de", "es", "fr", "it", "pt", "ja", "zh")
CJK = frozenset({"ja", "zh"})

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({
        "the", "and", "with", "of", "was", "has", "is", "his", "her", "she", "he", "patient",
        "not", "no", "had", "were"
    }),
    "de": frozenset({
        "der", "die", "das", "und", "mit", "ist", "nicht", "kein", "keine", "eine", "bei",
        "seit", "hat", "auf", "im", "zeigt"
    }),
    "es": frozenset({
        "el", "los", "las", "y", "con", "del", "sin", "presenta", "una", "por", "se", "niega",
        "paciente", "hay"
    }),
    "fr": frozenset({
        "le", "les", "et", "avec", "du", "est", "une", "pas", "sans", "présente", "il",
        "elle", "au", "aux", "des"
    }),
    "it": frozenset({
        "il", "gli", "e", "con", "della", "di", "che", "è", "non", "senza", "presenta",
        "paziente", "nella"
    }),
    "pt": frozenset({
        "os", "e", "com", "do", "da", "que", "é", "não", "sem", "apresenta", "uma", "dos",
        "das", "nega"
    }),
}  # fmt: skip
_SKIPPED: dict[str, frozenset[str]] = {
    "de": frozenset({
        "der", "die", "das", "des", "dem", "den", "ein", "eine", "einer", "eines", "einem",
        "einen", "von", "vom"
    }),
    "es": frozenset({
        "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "de", "del", "al"
    }),
    "fr": frozenset({
        "le", "la", "les", "l", "un", "une", "des", "de", "du", "d", "au", "aux"
    }),
    "it": frozenset({
        "il", "lo", "la", "i", "gli", "le", "l", "un", "uno", "una", "di", "del", "della",
        "dello", "dei", "degli", "delle", "dell"
    }),
    "pt": frozenset({
        "o", "a", "os", "as", "um", "uma", "uns", "umas", "de", "do", "da", "dos", "das"
    }),
}  # fmt: skip
_LATIN_TOKEN = re.compile(r"(?P<word>[^\W\d_]+|\d+)|(?P<punct>[,.;:!?()\[\]])")
_CJK_TOKEN = re.compile(
    r"(?P<word>[A-Za-z0-9]+|[^\W_])|(?P<punct>[,.;:!?()\[\]、。，；：！？（）])"
)
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LETTER = re.compile(r"[^\W\d_]")


def detect_language(text: str) -> str:
    """The language code of ``text``: one of :data:`LANGUAGES` ("en" when unsure)."""
    sample = text[:5000]
    kana, han = len(_KANA.findall(sample)), len(_HAN.findall(sample))
    letters = max(1, len(_LETTER.findall(sample)))
    if kana and (kana + han) / letters > 0.2:
        return "ja"
    if han / letters > 0.2:
        return "zh"
    words = [w.casefold() for w in re.findall(r"[^\W\d_]+", sample)]
    hits = {
        lang: sum(w in vocabulary for w in words) for lang, vocabulary in _FUNCTION_WORDS.items()
    }
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    return best if hits[best] >= 2 and hits[best] > hits["en"] else "en"


def fold(word: str) -> str:
    """Casefolded, accents removed, ß as ss."""
    text = word.casefold().replace("ß", "ss")
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def stem(word: str, language: str) -> str:
    """A light stem: plural and gender endings of German or Romance words stripped."""
    if len(word) <= 4 or not word.isalpha():
        return word
    if language == "de":
        for ending in ("en", "er", "em", "es", "e", "n", "s"):
            if word.endswith(ending) and len(word) - len(ending) >= 4:
                return word[: -len(ending)]
        return word
    if language == "pt" and word.endswith(("oes", "aes", "ao")):
        return word[:-3] + "a" if word.endswith(("oes", "aes")) else word[:-2] + "a"
    if word.endswith("es") and len(word) > 5:
        word = word[:-2]
    elif word.endswith("s"):
        word = word[:-1]
    return word[:-1] if word[-1] in "aeiou" and len(word) > 4 else word


@dataclass(frozen=True, slots=True)
class _Token:
    key: str
    start: int
    end: int


def tokens(text: str, language: str) -> list[_Token]:
    """Matching tokens of ``text`` in ``language`` (punctuation kept, articles dropped)."""
    found: list[_Token] = []
    pattern = _CJK_TOKEN if language in CJK else _LATIN_TOKEN
    skipped = _SKIPPED.get(language, frozenset())
    for match in pattern.finditer(text):
        raw = match.group()
        if match.lastgroup == "punct":
            found.append(_Token(raw, match.start(), match.end()))
            continue
        key = fold(raw)
        if key in skipped:
            continue
        found.append(_Token(key if language in CJK else stem(key, language), *match.span()))
    return found


def load_translations(language: str) -> list[tuple[str, str]]:
    """(HPO id, label) rows of one language: the HPO translations, then the curated terms."""
    folder = resources.files("ocais.ingest.text.data")
    with folder.joinpath(f"hpo-{language}.tsv.gz").open("rb") as raw:
        body = gzip.decompress(raw.read()).decode("utf-8")
    rows = [(line.split("\t")[0], line.split("\t")[1]) for line in body.splitlines() if line]
    for line in folder.joinpath("clinical-terms.tsv").read_text("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == language:
            rows.append((parts[1], parts[2]))
    return rows


class TranslatedDictionary:
    """Translated HPO labels of one language, matched longest first, non-overlapping.

    ``term_index`` maps HPO ids to the recognizer's term positions: labels of terms outside its
    scope (or unknown to its release) are left out.
    """

    def __init__(
        self,
        language: str,
        rows: Iterable[tuple[str, str]],
        term_index: dict[str, int],
        term_ids: Sequence[str],
        term_names: Sequence[str],
    ) -> None:
        self.language = language
        self.term_ids, self.term_names = term_ids, term_names
        self.labels: list[tuple[int, str]] = []
        self._entries: dict[tuple[str, ...], int] = {}
        self._prefixes: set[tuple[str, ...]] = set()
        for term_id, label in rows:
            term = term_index.get(term_id)
            if term is None:
                continue
            keys = tuple(t.key for t in tokens(label, language) if t.key not in _PUNCTUATION)
            if not keys:
                continue
            self.labels.append((term, label))
            self._entries.setdefault(keys, len(self.labels) - 1)
            self._prefixes.update(keys[:end] for end in range(1, len(keys)))
        self.words = {word for key in self._entries for word in key}  # every word of a label

    def find(self, text: str) -> list[Match]:
        """Translated labels in ``text``, longest first, in text order."""
        found = tokens(text, self.language)
        keys = [t.key for t in found]
        candidates: list[tuple[int, int, int]] = []
        for i in range(len(keys)):
            best: tuple[int, int, int] | None = None
            for j in range(i + 1, len(keys) + 1):
                key = tuple(keys[i:j])
                label = self._entries.get(key)
                if label is not None:
                    best = (i, j, label)
                if key not in self._prefixes:
                    break
            if best is not None:
                candidates.append(best)
        taken: list[tuple[int, int, int]] = []
        used: set[int] = set()
        for start, end, label in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
            if used.isdisjoint(range(start, end)):
                taken.append((start, end, label))
                used.update(range(start, end))
        matches = []
        for start, end, label in sorted(taken):
            term, written = self.labels[label]
            matches.append(
                Match(
                    self.term_ids[term],
                    self.term_names[term],
                    found[start].start,
                    found[end - 1].end,
                    written,
                )
            )
        return matches


_PUNCTUATION = frozenset(",.;:!?()[]、。，；：！？（）")
