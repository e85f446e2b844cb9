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
ordinary words: "bearing" is never read as "hearing". Long unknown words (:data:`LONG` letters or
more) with no word one edit away may be read as the single fitting word two edits away with the
same first letter and last two letters, if no consonant was replaced ("devlopmantal";
"animation" is not "agitation", "confusing" not "confusion").

Anchored corrections (:func:`correct_tokens`, second pass): when the words before a word match the
start of a multi-word label exactly and the word is one edit away from the label's last word, it is
read as that word: "hearing los" → "hearing loss" (a short unknown word: commonest slips only),
"ventricular septal defct". A real word (ordinary English or a dictionary word) is read so only if
it has :data:`REAL_WORD_MIN` letters or more and differs by one letter inserted or dropped after
the first ("short statue" → "short stature", "joint hypermobilty" → "joint hypermobility"), never
by a replaced letter ("flat fees", "long race" stay as written). Clinical shorthand words
(:data:`~ocais.ingest.text.abbreviations.WORD_ABBREVIATIONS`: "dev delay") are expanded when the
expansion starts, continues or is a dictionary key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from importlib import resources

from ocais.ingest.text.normalize import Token, normalize_word

MIN_LENGTH = 5
SHORT = 7
LONG = 9  # unknown words this long may be two edits from their correction
REAL_WORD_MIN = 6  # a real word read as a label word (anchored) has at least this many letters
_VOWELS = frozenset("aeiouy")
CONFIDENCE_UNIQUE = 0.8  # the matched term, when one word was read as its only near neighbour
CONFIDENCE_AMBIGUOUS = 0.6  # ... as the most frequent of several near neighbours
CONFIDENCE_FAR = 0.6  # ... as the only fitting word two edits away
CONFIDENCE_REAL_WORD = 0.6  # a real word read as the last word of a label it is anchored in
CONFIDENCE_EXPANDED = 0.9  # a shorthand word read as its expansion ("dev" → "developmental")
_WORD = re.compile(r"[^\W\d_]+")
_BREAKS = frozenset(".;:!?()[]")
_FUNCTION_WORDS = frozenset(
    {
        "and", "are", "but", "can", "did", "does", "for", "from", "had", "has", "have", "into",
        "nor", "not", "now", "off", "one", "onto", "than", "that", "two", "was", "were", "who",
        "whom", "with", "without", "all", "any", "some", "this", "these", "those", "very",
    }
)  # fmt: skip


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


def _consonants(word: str) -> int:
    return sum(c not in _VOWELS for c in word)


def _two_slips(typed: str, word: str) -> bool:
    """Two edits that look like typing, not another word: letters missing, extra or swapped, or a
    vowel for a vowel ("devlopmantal"); a replaced consonant costs more than two ("animation" is
    not "agitation", "overwrite" not "overbite")."""
    previous2: list[int] = []
    previous = list(range(len(word) + 1))
    for i, ca in enumerate(typed, 1):
        current = [i] + [0] * len(word)
        for j, cb in enumerate(word, 1):
            cost = 0 if ca == cb else 1 if ca in _VOWELS and cb in _VOWELS else 3
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == word[j - 2] and typed[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1] <= 2


def _one_letter_more_or_less(typed: str, word: str) -> bool:
    """``word`` is ``typed`` with one letter inserted or dropped, not the first."""
    if abs(len(typed) - len(word)) != 1:
        return False
    longer, shorter = (typed, word) if len(typed) > len(word) else (word, typed)
    k = next((k for k in range(len(shorter)) if longer[k] != shorter[k]), len(shorter))
    return k > 0 and longer[k + 1 :] == shorter[k:]


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
        self._ends: dict[str, list[str]] | None = None  # long words by first + last 2 letters
        self._far: dict[str, list[str]] = {}  # answers of far_candidates (bounded)
        for word in vocabulary:
            if len(word) < MIN_LENGTH - 1 or not word.isalpha():
                continue
            for variant in (word, *_deletions(word)):
                self._deletes.setdefault(variant, []).append(word)

    def neighbours(self, key: str) -> list[str]:
        """Dictionary words (:data:`MIN_LENGTH` - 1 letters or more) at distance one from
        ``key``, whatever ``key`` is (A→Z)."""
        found: set[str] = set()
        for variant in (key, *_deletions(key)):
            for word in self._deletes.get(variant, ()):
                if word != key and osa_distance(key, word) == 1:
                    found.add(word)
        return sorted(found)

    def longer_by_one(self, key: str) -> list[str]:
        """Dictionary words that are ``key`` with one letter inserted."""
        return [w for w in self._deletes.get(key, ()) if len(w) == len(key) + 1]

    def far_candidates(self, key: str) -> list[str]:
        """Dictionary words two edits from an unknown ``key`` of :data:`LONG` letters or more,
        with its first and last two letters (A→Z). Rarely needed: the words are grouped by those
        letters on first use and the few of a group are compared one by one."""
        if len(key) < LONG or not self.correctable(key):
            return []
        found = self._far.get(key)
        if found is None:
            if self._ends is None:
                self._ends = {}
                for word in self.vocabulary:
                    if len(word) >= LONG - 2 and word.isalpha():
                        self._ends.setdefault(word[0] + word[-2:], []).append(word)
            if len(self._far) > 10_000:
                self._far.clear()
            found = self._far[key] = sorted(
                word
                for word in self._ends.get(key[0] + key[-2:], ())
                if abs(len(word) - len(key)) <= 2
                and abs(_consonants(word) - _consonants(key)) <= 2
                and _two_slips(key, word)
                and osa_distance(key, word) == 2
            )
        return found

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
    expansions: Mapping[str, str] | None = None,
) -> dict[int, float]:
    """Replace words in ``keys`` (in place) by the dictionary word they were meant as; return the
    confidence of each replaced position.

    First pass: a shorthand word of ``expansions`` (its key → the expansion's key) whose expansion
    fits; an unknown word by the dictionary word one edit away (two for long words) that starts or
    continues a dictionary key. A word with one candidate gets :data:`CONFIDENCE_UNIQUE`, with
    several :data:`CONFIDENCE_AMBIGUOUS`. Second pass: anchored corrections (module docstring).
    Names (capitalized inside a sentence) and abbreviations are left alone.
    """
    confidence: dict[int, float] = {}
    for i, token in enumerate(tokens):
        if expansions:
            expanded = expansions.get(keys[i])
            if (
                expanded is not None
                and token.raw[1:].islower()
                and (expanded in entries or _fits_next(expanded, i, keys, entries, prefixes))
            ):
                keys[i] = expanded
                confidence[i] = CONFIDENCE_EXPANDED
                continue
        if not index.correctable(keys[i]) or token.raw in abbreviations:
            continue
        if _capitalized_inside_sentence(text, tokens, i):
            continue
        options = index.candidates(keys[i])
        best = next((w for w in options if _fits(w, i, keys, entries, prefixes)), None)
        if best is None and not options:
            far = [w for w in index.far_candidates(keys[i]) if _fits(w, i, keys, entries, prefixes)]
            if len(far) == 1:
                keys[i] = far[0]
                confidence[i] = CONFIDENCE_FAR
            continue
        if best is None:
            continue
        keys[i] = best
        confidence[i] = CONFIDENCE_UNIQUE if len(options) == 1 else CONFIDENCE_AMBIGUOUS
    _correct_anchored(text, tokens, keys, index, entries, prefixes, abbreviations, confidence)
    return confidence


def _fits_next(
    word: str, i: int, keys: list[str], entries: Container[str], prefixes: Container[str]
) -> bool:
    """True if ``word`` at ``i`` starts a dictionary key with the next word or continues one."""
    pairs = []
    if i + 1 < len(keys):
        pairs.append(f"{word} {keys[i + 1]}")
    if i > 0:
        pairs.append(f"{keys[i - 1]} {word}")
    return any(pair in entries or pair in prefixes for pair in pairs)


def _anchors(
    i: int, keys: list[str], corrected: Container[int], prefixes: Container[str]
) -> list[str]:
    """Up to three exact content words before ``i`` (none corrected) that start a key."""
    found: list[str] = []
    anchor = ""
    for j in range(i - 1, max(i - 4, -1), -1):
        if len(keys[j]) < 3 or keys[j] in _FUNCTION_WORDS or j in corrected:
            break  # punctuation, "a", "in", "with": no anchor
        anchor = f"{keys[j]} {anchor}" if anchor else keys[j]
        if anchor in prefixes:
            found.append(anchor)
    return found


def _correct_anchored(
    text: str,
    tokens: Sequence[Token],
    keys: list[str],
    index: SpellingIndex,
    entries: Container[str],
    prefixes: Container[str],
    abbreviations: Container[str],
    confidence: dict[int, float],
) -> None:
    vocabulary, known = index.vocabulary, index.known
    for i in range(1, len(tokens)):
        key, previous = keys[i], keys[i - 1]
        if len(key) < 3 or len(previous) < 3 or i in confidence or previous in _FUNCTION_WORDS:
            continue
        real = key in vocabulary or key in known
        if (real and len(key) < REAL_WORD_MIN) or not key.isalpha():
            continue
        pair = f"{previous} {key}"
        if pair in prefixes or pair in entries:
            continue  # as written, it continues a key (the common case: checked first)
        anchors = _anchors(i, keys, confidence, prefixes)
        if not anchors or any(f"{a} {key}" in entries or f"{a} {key}" in prefixes for a in anchors):
            continue
        if tokens[i].raw in abbreviations or _capitalized_inside_sentence(text, tokens, i):
            continue
        # a real word: one letter more or less only (no distance computation needed)
        near = [*index.longer_by_one(key), *_deletions(key)] if real else index.neighbours(key)
        found = {
            word
            for word in near
            if any(f"{a} {word}" in entries for a in anchors)
            and (
                _one_letter_more_or_less(key, word)
                if real
                else len(key) >= MIN_LENGTH or plausible_typo(key, word)
            )
        }
        if len(found) == 1:
            keys[i] = found.pop()
            confidence[i] = CONFIDENCE_REAL_WORD if real else CONFIDENCE_UNIQUE
