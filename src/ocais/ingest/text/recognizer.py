"""Dictionary-based HPO concept recognition: every label and synonym, longest match first.

The dictionary maps the token keys of each label (see :mod:`ocais.ingest.text.normalize`) to its
term. Besides the labels as written it holds, at lower priority, a few variants clinicians write:
the comma dropped or added (``"seizure, generalized"``), ``"X of Y"`` as ``"Y X"`` (``"corpus
callosum hypoplasia"``), a noun as its adjective (``"hypoplastic corpus callosum"``), a trailing
parenthesis dropped, ``"type C brachydactyly"`` as ``"brachydactyly type C"``. A variant never
displaces a real label, and a variant two terms share is dropped; a name or synonym two terms share
goes to the more general term (lower information content).

Matching walks the tokens once; from each token it follows the longest key in the dictionary.
Overlapping matches are resolved to the longest (most tokens, hence most specific: "bilateral
tonic-clonic seizure" over "seizure"), then the leftmost. Spans are character offsets into the
original text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ocais.ingest.text.abbreviations import (
    AMBIGUOUS_ABBREVIATIONS,
    AMBIGUOUS_WORDS,
    CURATED_ABBREVIATIONS,
    WORD_ABBREVIATIONS,
    Abbreviation,
)
from ocais.ingest.text.cache import cache_key, load_state, save_state
from ocais.ingest.text.labels import label_variants, longest_first
from ocais.ingest.text.normalize import (
    Token,
    normalize_word,
    tokenize,
)
from ocais.ingest.text.spelling import SpellingIndex, correct_tokens, everyday_words, prose_words
from ocais.knowledge.base import PHENOTYPIC_ABNORMALITY

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase
PUNCTUATION = frozenset(",.;:!?()[]")
_SENTENCE_END = frozenset(".;!?")
_ABBREVIATION_LIKE = re.compile(r"^(?=(?:[^A-Z]*[A-Z]){2})[A-Za-z0-9]{2,8}$")
_ABBREVIATION_WINDOW = 12

# Priorities of a dictionary key's source: lower wins.
_NAME, _SYNONYM, _NAME_VARIANT, _SYNONYM_VARIANT = range(4)


@dataclass(frozen=True, slots=True)
class Match:
    """One recognized term (id and name), its character span, and the dictionary label matched."""

    term_id: str
    label: str
    start: int
    end: int
    matched: str
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class _AbbreviationEntry:
    term: int
    requires: frozenset[str]
    forbids: frozenset[str]


def _subtree_mask(kb: KnowledgeBase, roots: Sequence[str] | None) -> np.ndarray:
    return np.ones(len(kb.term_ids), dtype=bool) if roots is None else kb.subtree_mask(roots)


class ConceptRecognizer:
    """Finds HPO terms in free text by their names and synonyms.

    ``roots`` limits the dictionary to the subtrees of those terms (default: Phenotypic
    abnormality, so that modifiers such as "Mild", "Left" or "Frequent" and onset or inheritance
    terms are not reported as findings); ``None`` uses every live term. Build one per knowledge
    base and reuse it: building takes about a second for a full HPO release, matching well under a
    millisecond per sentence. The built dictionary is cached as JSON in ``cache_dir`` (default:
    ``text/`` beside the knowledge base's compiled cache, if it has one) and loaded from there
    next time (:mod:`ocais.ingest.text.cache`).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        roots: Sequence[str] | None = (PHENOTYPIC_ABNORMALITY,),
        abbreviations: Iterable[Abbreviation] = CURATED_ABBREVIATIONS,
        cache_dir: Path | None = None,
    ) -> None:
        started = time.perf_counter()
        self.knowledge_version = kb.version
        self.release = dict(kb.release)
        self.term_ids: list[str] = list(kb.term_ids)
        self.term_names: list[str] = list(kb.term_names)
        self._norm_cache: dict[str, str] = {}
        self._labels: list[str] = []
        self._entries: dict[str, tuple[int, int]] = {}
        self._prefixes: set[str] = set()
        self._comma_tails: set[str] = set()  # keys ending ", word" ("seizure, generalized")
        self._abbreviations: dict[str, list[_AbbreviationEntry]] = {}
        self._known_words: list[str] = []  # ordinary English: never spelling-corrected
        self._spelling: SpellingIndex | None = None  # built on first use
        self._expansions = {
            normalize_word(w): normalize_word(e) for w, e in WORD_ABBREVIATIONS.items()
        }
        self._derived: dict[str, Any] = {}  # indexes built from the dictionary on first use
        abbreviations = tuple(abbreviations)
        folder = cache_dir
        if folder is None and kb.cache_dir is not None:
            folder = Path(kb.cache_dir).parent / "text"
        self.cache_file: Path | None = None
        if folder is not None:
            key = cache_key(kb.release["content_hash"], roots, abbreviations, Path(__file__))
            self.cache_file = folder / f"dictionary-{key}.json"
        state = load_state(self.cache_file) if self.cache_file is not None else None
        self.from_cache = state is not None and self._restore(state)
        if not self.from_cache:
            self._build(kb, _subtree_mask(kb, roots), abbreviations)
            if self.cache_file is not None:
                save_state(self.cache_file, self._state())
        self.build_seconds = round(time.perf_counter() - started, 4)

    @property
    def n_keys(self) -> int:
        """Dictionary size: distinct token-key sequences (labels and their variants)."""
        return len(self._entries)

    # --- building ---------------------------------------------------------------------------
    def _build(
        self, kb: KnowledgeBase, in_scope: np.ndarray, abbreviations: Iterable[Abbreviation]
    ) -> None:
        best: dict[str, tuple[int, int, int]] = {}  # key -> (priority, term, label)
        ic = np.asarray(kb.information_content).tolist()
        shared: set[str] = set()  # variant keys that two terms share
        kb_abbreviations: dict[str, set[int]] = {}
        for term in np.flatnonzero(in_scope).tolist():
            names = [kb.term_names[term], *kb.term(kb.term_ids[term]).synonyms]
            for position, label in enumerate(dict.fromkeys(names)):
                if _ABBREVIATION_LIKE.match(label):
                    kb_abbreviations.setdefault(label, set()).add(term)
                    continue
                self._labels.append(label)
                label_index = len(self._labels) - 1
                base = _NAME if position == 0 else _SYNONYM
                for rank, keys in enumerate(label_variants(label, self._norm_cache)):
                    if len(keys) == 1 and keys[0] in AMBIGUOUS_WORDS:
                        continue
                    priority = base if rank == 0 else base + 2
                    key = " ".join(keys)
                    current = best.get(key)
                    if current is None or priority < current[0]:
                        best[key] = (priority, term, label_index)
                        shared.discard(key)
                    elif priority == current[0] and term != current[1]:
                        if priority >= _NAME_VARIANT:
                            shared.add(key)
                        elif ic[term] < ic[current[1]]:  # a synonym two terms share: the general
                            best[key] = (priority, term, label_index)
        for key, (_, term, label_index) in best.items():
            if key in shared:
                continue
            self._entries[key] = (term, label_index)
            words = key.split(" ")
            if len(words) >= 3 and words[-2] == ",":
                self._comma_tails.add(key)
            for end in range(1, len(words)):
                self._prefixes.add(" ".join(words[:end]))
        self._add_abbreviations(kb, in_scope, kb_abbreviations, abbreviations)
        definitions = (kb.term(term_id).definition for term_id in kb.term_ids)
        self._known_words = sorted(prose_words(definitions, self._norm_cache))

    def _add_abbreviations(
        self,
        kb: KnowledgeBase,
        in_scope: np.ndarray,
        from_kb: dict[str, set[int]],
        curated: Iterable[Abbreviation],
    ) -> None:
        for text, terms in from_kb.items():
            if len(terms) == 1 and text not in AMBIGUOUS_ABBREVIATIONS:
                (term,) = terms
                self._abbreviations[text] = [_AbbreviationEntry(term, frozenset(), frozenset())]
        overridden: set[str] = set()
        for entry in curated:
            term_id = kb.resolve_id(entry.term_id)
            if term_id is None or not in_scope[kb.term_index[term_id]]:
                continue
            if entry.text not in overridden:
                self._abbreviations[entry.text] = []
                overridden.add(entry.text)
            self._abbreviations[entry.text].append(
                _AbbreviationEntry(kb.term_index[term_id], entry.requires, entry.forbids)
            )

    # --- cache ------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "term_ids": self.term_ids,
            "labels": self._labels,
            "entries": self._entries,
            "prefixes": sorted(self._prefixes),
            "comma_tails": sorted(self._comma_tails),
            "known_words": self._known_words,
            "abbreviations": {
                text: [[e.term, sorted(e.requires), sorted(e.forbids)] for e in entries]
                for text, entries in self._abbreviations.items()
            },
        }

    def _restore(self, state: dict[str, Any]) -> bool:
        """Load a saved dictionary; False if it is not one for this release."""
        if state.get("term_ids") != self.term_ids:
            return False
        try:
            self._labels = list(state["labels"])
            self._entries = {k: (int(t), int(lab)) for k, (t, lab) in state["entries"].items()}
            self._prefixes = set(state["prefixes"])
            self._comma_tails = set(state["comma_tails"])
            self._known_words = list(state["known_words"])
            self._abbreviations = {
                text: [_AbbreviationEntry(int(t), frozenset(r), frozenset(f)) for t, r, f in rows]
                for text, rows in state["abbreviations"].items()
            }
        except (KeyError, TypeError, ValueError):
            self._labels, self._entries, self._prefixes = [], {}, set()
            self._comma_tails, self._abbreviations = set(), {}
            return False
        return True

    # --- matching ---------------------------------------------------------------------------
    def derived(self, name: str, build: Callable[[], Any]) -> Any:
        """An index derived from this dictionary (a language's, suggestions), built once."""
        if name not in self._derived:
            self._derived[name] = build()
        return self._derived[name]

    def labels(self) -> list[tuple[int, str]]:
        """(term position, label) of every in-scope name and synonym in the dictionary."""
        by_label = {label: term for term, label in self._entries.values() if label >= 0}
        return [(term, self._labels[label]) for label, term in sorted(by_label.items())]

    def key(self, word: str) -> str:
        """The matching key of one word (as in the dictionary)."""
        return normalize_word(word)

    def spelling(self) -> SpellingIndex:
        """The spelling-tolerant index of the dictionary's words (built on first use)."""
        if self._spelling is None:
            vocabulary: dict[str, int] = {}
            for key in self._entries:
                for word in key.split(" "):
                    vocabulary[word] = vocabulary.get(word, 0) + 1
            self._spelling = SpellingIndex(vocabulary, {*self._known_words, *everyday_words()})
        return self._spelling

    def find(self, text: str, *, fuzzy: bool = True) -> list[Match]:
        """Terms in ``text``: non-overlapping, in text order, longest match at each place.

        With ``fuzzy``, a word one edit away from a dictionary word (and not an ordinary word) is
        read as that word (:mod:`ocais.ingest.text.spelling`); a match that needed it has a
        confidence below 1.
        """
        tokens = tokenize(text, self._norm_cache)
        keys = [t.key for t in tokens]
        confidence: dict[int, float] = {}
        if fuzzy:
            confidence = correct_tokens(
                text,
                tokens,
                keys,
                self.spelling(),
                self._entries,
                self._prefixes,
                self._abbreviations,
                self._expansions,
            )
        return [
            Match(
                self.term_ids[term],
                self.term_names[term],
                tokens[start].start,
                tokens[end - 1].end,
                self._labels[label] if label >= 0 else tokens[start].raw,
                min((confidence.get(i, 1.0) for i in range(start, end)), default=1.0),
            )
            for start, end, term, label in self._walk(tokens, keys)
        ]

    def _walk(self, tokens: list[Token], keys: list[str]) -> list[tuple[int, int, int, int]]:
        candidates: list[tuple[int, int, int, int]] = []  # (start token, end token, term, label)
        fallbacks: dict[int, tuple[int, int, int, int] | None] = {}
        entries, prefixes, comma_tails = self._entries, self._prefixes, self._comma_tails
        for i, first in enumerate(keys):
            if first in PUNCTUATION:
                continue
            key, j = first, i
            found: tuple[int, int, int, int] | None = None
            plain: tuple[int, int, int, int] | None = None
            while True:
                hit = entries.get(key)
                if hit is not None:
                    found = (i, j + 1, *hit)
                    if key not in comma_tails:
                        plain = found
                if key not in prefixes or j + 1 >= len(keys):
                    break
                j += 1
                key = f"{key} {keys[j]}"
            if found is None:
                found = self._abbreviation(tokens, i)
            if found is not None:
                candidates.append(found)
                if found is not plain:
                    fallbacks[len(candidates) - 1] = plain
        # "face, broad forehead": a label ending ", word" yields to a longer match from that word
        multi_starts = {c[0] for c in candidates if c[1] - c[0] > 1}
        for position, plain in fallbacks.items():
            if candidates[position][1] - 1 in multi_starts:
                candidates[position] = plain if plain is not None else (-1, -1, -1, -1)
        return longest_first([c for c in candidates if c[0] >= 0])

    def _abbreviation(self, tokens: list[Token], i: int) -> tuple[int, int, int, int] | None:
        raw = tokens[i].raw
        entries = self._abbreviations.get(raw)
        if entries is None and raw.endswith("s") and raw[:-1].isupper():
            entries = self._abbreviations.get(raw[:-1])
        if not entries:
            return None
        window = _sentence_window(tokens, i)
        neighbours = {tokens[j].key for j in (i - 1, i + 1) if 0 <= j < len(tokens)}
        identifier = i + 1 < len(tokens) and tokens[i + 1].key.isdigit()
        for entry in entries:
            if entry.forbids and (identifier or entry.forbids & neighbours):
                continue  # "patient ID", "ID 1234"
            if entry.requires and not entry.requires & window:
                continue
            return (i, i + 1, entry.term, -1)
        return None


def _sentence_window(tokens: list[Token], i: int) -> set[str]:
    """Token keys within a few tokens of ``i`` and in the same sentence (``i`` excluded)."""
    words: set[str] = set()
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(tokens) and abs(j - i) <= _ABBREVIATION_WINDOW:
            if tokens[j].key in _SENTENCE_END:
                break
            words.add(tokens[j].key)
            j += step
    return words
