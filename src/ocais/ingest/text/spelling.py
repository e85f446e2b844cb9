"""Spelling-tolerant lookup of single words: one edit away from a dictionary word.

The index is SymSpell's symmetric-delete idea (Garbe 2012, https://github.com/wolfgarbe/SymSpell):
every dictionary word is stored under itself and under each string made by deleting one of its
characters; a query looks up itself and its own one-character deletions. Two words meet when one
deletion on each side makes them equal, which covers a character inserted, deleted or replaced and
two adjacent characters swapped ("siezure" / "seizure"). Every hit is then checked with the
optimal-string-alignment distance (Damerau-Levenshtein without repeated edits of one substring),
so only distance-1 words are returned.

A word is only corrected when it is unknown: not a dictionary word and not in ``known`` (ordinary
English, built by the caller from the ontology's definitions and a list of everyday words), at least
:data:`MIN_LENGTH` characters long, and all letters. This is the guard against false hits on
ordinary words: "bearing" is never read as "hearing".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from importlib import resources

from ocais.ingest.text.normalize import Token, normalize_word

MIN_LENGTH = 5
SHORT = 7
_VOWELS = frozenset("aeiouy")
CONFIDENCE_UNIQUE = 0.8  # the matched term, when one word was read as its only near neighbour
CONFIDENCE_AMBIGUOUS = 0.6  # ... as the most frequent of several near neighbours
_WORD = re.compile(r"[^\W\d_]+")
_BREAKS = frozenset(".;:!?()[]")


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance between ``a`` and ``b`` (adjacent swaps cost one)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def plausible_typo(typed: str, word: str) -> bool:
    """For short words (under :data:`SHORT` letters), only the commonest slips: two adjacent
    letters swapped, one vowel for another, a letter doubled or undoubled. "absant" → "absent"
    passes; "strip" → "stria" and "cancel" → "cancer" do not."""
    if len(typed) >= SHORT:
        return True
    if len(typed) == len(word):
        diff = [k for k in range(len(word)) if typed[k] != word[k]]
        if len(diff) == 2:
            return diff[1] == diff[0] + 1  # a swap
        return len(diff) == 1 and typed[diff[0]] in _VOWELS and word[diff[0]] in _VOWELS
    longer, shorter = (typed, word) if len(typed) > len(word) else (word, typed)
    k = next((k for k in range(len(shorter)) if longer[k] != shorter[k]), len(shorter))
    return k > 0 and longer[k] == longer[k - 1]  # "seizzure", "microcephaly" → "microcephally"


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def everyday_words() -> frozenset[str]:
    """Ordinary words of clinical notes that are never corrected (package data, lower case)."""
    text = resources.files("ocais.ingest.text.data").joinpath("en-everyday.txt").read_text("utf-8")
    return frozenset(
        normalize_word(word)
        for line in text.splitlines()
        if not line.startswith("#")
        for word in line.split()
    )


class SpellingIndex:
    """Dictionary words one edit away from an unknown word, most frequent first.

    ``vocabulary`` maps each dictionary word (a matching key) to how many labels use it;
    ``known`` holds words that are never corrected although they are not dictionary words.
    """

    def __init__(self, vocabulary: Mapping[str, int], known: Collection[str]) -> None:
        self.vocabulary = vocabulary
        self.known = known
        self._deletes: dict[str, list[str]] = {}
        for word in vocabulary:
            if len(word) < MIN_LENGTH - 1 or not word.isalpha():
                continue
            for variant in (word, *_deletions(word)):
                self._deletes.setdefault(variant, []).append(word)

    def correctable(self, key: str) -> bool:
        """True for a word worth correcting: long enough, letters only, and unknown."""
        return (
            len(key) >= MIN_LENGTH
            and key.isalpha()
            and key not in self.vocabulary
            and key not in self.known
        )

    def candidates(self, key: str) -> list[str]:
        """Dictionary words at distance one from ``key`` (most labels first, then A→Z)."""
        if not self.correctable(key):
            return []
        found: set[str] = set()
        for variant in (key, *_deletions(key)):
            for word in self._deletes.get(variant, ()):
                if (
                    len(word) >= MIN_LENGTH
                    and osa_distance(key, word) == 1
                    and plausible_typo(key, word)
                ):
                    found.add(word)
        return sorted(found, key=lambda w: (-self.vocabulary[w], w))


def prose_words(texts: Iterable[str], cache: dict[str, str]) -> set[str]:
    """Matching keys of the words of ``texts`` (e.g. the ontology's definitions): known English."""
    words: set[str] = set()
    seen: set[str] = set()
    for text in texts:
        for raw in _WORD.findall(text):
            if raw in seen:
                continue
            seen.add(raw)
            key = cache.get(raw)
            if key is None:
                key = cache[raw] = normalize_word(raw)
            words.add(key)
    return words


def _fits(
    word: str, i: int, keys: list[str], entries: Container[str], prefixes: Container[str]
) -> bool:
    """True if ``word`` at position ``i`` is (the start of) a dictionary key, alone or with a
    neighbour."""
    if word in entries or word in prefixes:
        return True
    if i > 0:
        pair = f"{keys[i - 1]} {word}"
        if pair in entries or pair in prefixes:
            return True
    return False


def _capitalized_inside_sentence(text: str, tokens: Sequence[Token], i: int) -> bool:
    """A capitalized word after another word of its sentence and line: likely a name."""
    raw = tokens[i].raw
    if not (raw[:1].isupper() and raw[1:].islower()) or i == 0:
        return False
    previous = tokens[i - 1]
    return previous.key not in _BREAKS and "\n" not in text[previous.end : tokens[i].start]


def correct_tokens(
    text: str,
    tokens: Sequence[Token],
    keys: list[str],
    index: SpellingIndex,
    entries: Container[str],
    prefixes: Container[str],
    abbreviations: Container[str],
) -> dict[int, float]:
    """Replace unknown words in ``keys`` (in place) by the dictionary word one edit away that
    starts or continues a dictionary key; return the confidence of each replaced position.

    A word with one candidate gets :data:`CONFIDENCE_UNIQUE`, with several
    :data:`CONFIDENCE_AMBIGUOUS`; names (capitalized inside a sentence) and abbreviations are left
    alone.
    """
    confidence: dict[int, float] = {}
    for i, token in enumerate(tokens):
        if not index.correctable(keys[i]) or token.raw in abbreviations:
            continue
        if _capitalized_inside_sentence(text, tokens, i):
            continue
        options = index.candidates(keys[i])
        best = next((w for w in options if _fits(w, i, keys, entries, prefixes)), None)
        if best is None:
            continue
        keys[i] = best
        confidence[i] = CONFIDENCE_UNIQUE if len(options) == 1 else CONFIDENCE_AMBIGUOUS
    return confidence
