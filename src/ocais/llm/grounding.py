"""Ground the disease names an LLM writes to disease ids of the knowledge base.

An LLM answers with free text: "Marfan syndrome", "Loeys-Dietz syndrome type 1", "OMIM:154700",
"Turner's syndrome". :class:`DiseaseGrounder` maps each answer deterministically to one disease
and says how (:class:`Grounding`); an answer it cannot map comes back unmapped (``disease_id``
``None``), never dropped, so callers can count and show it.

The index holds every annotated entry's name (OMIM, ORPHA, DECIPHER) and every MONDO label
(obsolete ones left out), and a few aliases of each at a lower rank: the parts of an OMIM-style
name split at ``;`` ("MARFAN SYNDROME; MFS"), the name without a trailing parenthetical, and an
acronym in parentheses when its letters follow the initials of the name ("Williams-Beuren
syndrome (WBS)"). An answer is tried against it in this order:

1. ``id``: an explicit OMIM, ORPHA/Orphanet, DECIPHER or MONDO id in the text (``OMIM:154700``,
   ``omim 154700``, ``Orphanet_558``, ``MONDO:0007947``) that the knowledge base or MONDO knows.
2. ``exact``: the name, case-insensitively.
3. ``normalized``: three progressively looser keys, each compared with the same key of every
   name. The normalized key folds case, diacritics and a few letters (ß, ø, α → alpha, ...),
   drops a possessive 's ("Turner's" → "turner"), turns punctuation and hyphens into spaces and
   roman numerals after "type", "group", "complex", ... into arabic ones ("type II" → "type 2").
   The loose key also drops "type" before a number and the generic words "syndrome", "disease",
   "disorder" at either end ("Loeys-Dietz syndrome type 1" and "Loeys-Dietz syndrome 1" meet).
   The word-set key sorts the loose key's words after dropping those generic words anywhere
   ("Ehlers-Danlos syndrome, classic type" and "classic Ehlers-Danlos syndrome" meet).
4. ``similar``: cosine similarity of character 3-4-gram TF-IDF vectors (fitted on the
   normalized keys of all names), the best name at or above ``min_similarity`` among those with
   the same numbers and single letters ("Noonan syndrome 14" never becomes "Noonan syndrome 1",
   nor "hemophilia C" "hemophilia A": they differ in one n-gram only).

Several diseases may share a key. The winner is the one with the best (rank, annotated first,
smallest id): a real name beats an alias, a disease with annotated entries beats one without, and
then the smallest group id; for ``similar`` the highest score comes first. Answers that name no
disease ("disease", "unknown", "none", "genetic syndrome") and answers under three characters
(unless they hold an id) are unmapped.

Identity follows MONDO: the ``group_id`` is the MONDO disease (or the entry itself when MONDO has
no exact match for it), the ``disease_id`` an annotated member of it when there is one (the one
in ``within`` if given, else the entry whose name matched, else the first member), else the MONDO
id. With ``within`` (the ranker's candidates, as entry and/or group ids) the answer is first
grounded among those diseases (exact, normalized); then an exact or normalized match anywhere
wins over a fuzzy one among the candidates (a name that names another disease exactly is never
bent onto a candidate); then ``similar`` among the candidates (threshold ``within_similarity``,
0.1 below ``min_similarity`` by default); then ``similar`` anywhere.

Build once per knowledge base with :func:`grounder_for` (about 1-2 s for the real one); one
``ground`` then takes well under a millisecond for a name hit and about a millisecond for a
fuzzy one.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import weakref
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase

METHODS = ("id", "exact", "normalized", "similar")

# --- normalization ----------------------------------------------------------------------------

_LETTERS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "α": " alpha ",
        "β": " beta ",
        "γ": " gamma ",
        "δ": " delta ",
        "ε": " epsilon ",
        "κ": " kappa ",
        "λ": " lambda ",
        "μ": " mu ",
        "&": " and ",
    }
)
_POSSESSIVE = re.compile(r"(?<=\w)['’‘`´]s\b")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})([a-h]?)$")
_ROMAN_UNITS = {
    r: i for i, r in enumerate(("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix"))
}
_NUMBERED = {"type", "types", "group", "class", "grade", "stage", "complex", "factor", "form"}
_GENERIC = {"syndrome", "syndromes", "disease", "diseases", "disorder", "disorders"}
_FILLER = _GENERIC | {"type", "types", "the", "of"}
# answers that name no disease (compared with the normalized and the loose key)
_VAGUE = {
    "",
    "none",
    "unknown",
    "other",
    "others",
    "unclear",
    "uncertain",
    "undetermined",
    "undiagnosed",
    "unspecified",
    "null",
    "na",
    "n a",
    "not applicable",
    "not sure",
    "no diagnosis",
    "normal",
    "healthy",
    "condition",
    "illness",
    "genetic",
    "rare",
    "rare genetic",
    "inherited",
    "hereditary",
    "congenital",
    "idiopathic",
    "unknown cause",
    "genetic condition",
    "rare condition",
}
_MIN_CHARS = 3


def normalize(text: str) -> str:
    """The normalized key: ``"Turner's Syndrome, type II"`` → ``"turner syndrome type 2"``."""
    folded = text
    if not text.isascii():
        folded = unicodedata.normalize("NFKD", text)
        folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = _POSSESSIVE.sub("", folded).casefold().translate(_LETTERS)
    tokens = [t for t in _NON_WORD.split(folded) if t]
    for i in range(1, len(tokens)):
        if tokens[i - 1] in _NUMBERED:
            tokens[i] = _arabic(tokens[i])
    return " ".join(tokens)


def _arabic(token: str) -> str:
    """``"ii"`` → ``"2"``, ``"ib"`` → ``"1b"``; anything else unchanged."""
    match = _ROMAN.match(token)
    if match is None:
        return token
    tens, units, suffix = match.groups()
    value = 10 * len(tens) + _ROMAN_UNITS[units]
    return f"{value}{suffix}" if value else token


def _loose_tokens(key: str) -> list[str]:
    """The normalized key's words, letters and digits split ("mody1" → "mody 1"), "type"
    dropped before a number and generic words dropped at either end."""
    tokens = _LETTER_DIGIT.sub(" ", key).split()
    tokens = [
        t
        for i, t in enumerate(tokens)
        if not (t in ("type", "types") and i + 1 < len(tokens) and tokens[i + 1][0].isdigit())
    ]
    while tokens and tokens[0] in _GENERIC:
        tokens.pop(0)
    while tokens and tokens[-1] in _GENERIC:
        tokens.pop()
    return tokens


def _designators(key: str) -> str:
    """The words of a normalized key that tell subtypes apart: numbers and single letters
    ("noonan syndrome 3" → "3", "hemophilia a" → "a"). A fuzzy match must agree on them."""
    tokens = _LETTER_DIGIT.sub(" ", key).split()
    return " ".join(sorted(t for t in tokens if len(t) == 1 or t.isdigit()))


@dataclass(frozen=True)
class _Keys:
    exact: str
    normalized: str
    loose: str
    words: str

    @classmethod
    def of(cls, name: str) -> _Keys:
        normalized = normalize(name)
        loose = _loose_tokens(normalized)
        words = sorted(t for t in loose if t not in _FILLER)
        return cls(
            exact=" ".join(name.split()).casefold(),
            normalized=normalized,
            loose=" ".join(loose),
            words=" ".join(words),
        )

    @property
    def vague(self) -> bool:
        return (
            self.normalized in _VAGUE
            or self.loose in _VAGUE
            or not self.words
            or len(self.exact) < _MIN_CHARS
        )

    def tiers(self) -> Iterator[tuple[int, str]]:
        """(tier, key) pairs worth looking up: tier 0 is exact, 1-3 the normalized keys."""
        yield 0, self.exact
        yield 1, self.normalized
        if len(self.loose) >= _MIN_CHARS:
            yield 2, self.loose
        if len(self.words) >= _MIN_CHARS:
            yield 3, self.words


# --- names and aliases ------------------------------------------------------------------------

_PARENTHETICAL = re.compile(r"\s+[(\[]([^()\[\]]*)[)\]]")
_ACRONYM = re.compile(r"^[A-Z][A-Za-z0-9]{1,11}$")
_INITIALS = re.compile(r"[A-Za-z0-9]+")


def _aliases(name: str) -> Iterator[tuple[str, int]]:
    """A name (rank 0) and its aliases (rank 1): the parts of an OMIM-style ``A; B`` name, the
    name without parentheticals and an acronym in parentheses that follows the initials."""
    name = name.strip()
    if not name:
        return
    yield name, 0
    parts = [p.strip() for p in _split_outside_parentheses(name)]
    if len(parts) > 1:
        for part in parts:
            if part:
                yield part, 1
    for part in parts:
        if "(" not in part and "[" not in part:
            continue
        bare = _PARENTHETICAL.sub("", part).strip()
        if bare and bare != part:
            yield bare, 1
        for inner in _PARENTHETICAL.findall(part):
            acronym = inner.strip()
            if _is_acronym_of(acronym, bare):
                yield acronym, 1


def _split_outside_parentheses(name: str) -> list[str]:
    if ";" not in name:
        return [name]
    parts, depth, start = [], 0, 0
    for i, char in enumerate(name):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def _is_acronym_of(acronym: str, name: str) -> bool:
    """Do the acronym's letters (at least two capitals) follow the initials of ``name``'s
    words in order? ("WBS" of "Williams-Beuren Syndrome", "LCA3" of "Leber congenital
    amaurosis-3"; not the gene "DNAJB6" of "limb-girdle muscular dystrophy type 1D")."""
    if not _ACRONYM.match(acronym) or sum(c.isupper() for c in acronym) < 2:
        return False
    letters = [c for c in acronym.casefold() if c.isalpha()]
    initials = iter(w[0].casefold() for w in _INITIALS.findall(name))
    return all(any(letter == initial for initial in initials) for letter in letters)


# --- explicit ids -----------------------------------------------------------------------------

_ID = re.compile(
    r"(?<![A-Za-z0-9])(OMIM|MIM|ORPHA(?:NET)?|DECIPHER|MONDO)\s*[:_#-]?\s*#?\s*(\d+)(?!\d)",
    re.IGNORECASE,
)
_PREFIX = {"OMIM": "OMIM", "MIM": "OMIM", "ORPHA": "ORPHA", "ORPHANET": "ORPHA"}
_PREFIX |= {"DECIPHER": "DECIPHER", "MONDO": "MONDO"}
_LIST_MARKER = re.compile(r"^\s*(?:[-*•·+]+|\(?\d{1,2}[.)]|#+)\s+")
_EMPTY_BRACKETS = re.compile(r"[(\[]\s*[,;:/|-]?\s*[)\]]")
_EDGE_JUNK = " \t\r\n\"'`*_.,;:|/-–—"


def _explicit_ids(text: str) -> list[str]:
    ids = []
    for match in _ID.finditer(text):
        prefix, number = _PREFIX[match.group(1).upper()], match.group(2)
        if prefix == "MONDO" and len(number) != 7:
            continue
        ids.append(f"{prefix}:{number}")
    return ids


def _clean(text: str) -> str:
    """The answer without list markers, markdown, quotes, ids and empty brackets."""
    cleaned = _LIST_MARKER.sub("", text.replace("**", " ").replace("__", " "))
    cleaned = _ID.sub(" ", cleaned)
    cleaned = _EMPTY_BRACKETS.sub(" ", cleaned)
    return " ".join(cleaned.split()).strip(_EDGE_JUNK)


def _variants(cleaned: str) -> list[str]:
    """The cleaned answer, then the answer without parentheticals (when that differs)."""
    variants = [cleaned]
    bare = _PARENTHETICAL.sub("", cleaned).strip(_EDGE_JUNK)
    if bare and bare != cleaned:
        variants.append(bare)
    return variants


# --- the grounder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grounding:
    """One answer and the disease it was mapped to (all ``None`` when unmapped)."""

    text: str  # the answer as the LLM gave it
    disease_id: str | None  # an annotated entry when the disease has one, else its MONDO id
    group_id: str | None  # its MONDO id (or the entry itself when MONDO has none)
    label: str | None  # the name of the disease (group) it was mapped to
    method: str | None  # "id" | "exact" | "normalized" | "similar" | None
    score: float  # 1.0 for id/exact/normalized, the similarity for "similar", 0 unmapped

    @property
    def grounded(self) -> bool:
        return self.disease_id is not None


# (rank, group id, entry id or None): one indexed name of one disease
_Target = tuple[int, str, str | None]


@dataclass(frozen=True)
class _Scope:
    """What ``within`` allows: groups, and the entries asked for by id."""

    groups: frozenset[str]
    entries: frozenset[str]


class DiseaseGrounder:
    """Maps disease names (and ids) to the knowledge base's diseases; see the module doc.

    Holds no reference to the knowledge base (only to its MONDO table and what it derived), so
    :func:`grounder_for` can cache one per knowledge base without keeping it alive.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        min_similarity: float = 0.85,
        within_similarity: float | None = None,
    ) -> None:
        self.min_similarity = min_similarity
        self.within_similarity = (
            min_similarity - 0.1 if within_similarity is None else within_similarity
        )
        self.version = knowledge.version
        self._mondo = knowledge.mondo
        self._entry_names = dict(zip(knowledge.disease_ids, knowledge.disease_names, strict=True))
        self._entry_group = {d: knowledge.disease_group(d) for d in knowledge.disease_ids}
        self._members: dict[str, list[str]] = {}
        for entry in knowledge.disease_ids:  # sorted, so members come out sorted
            self._members.setdefault(self._entry_group[entry], []).append(entry)
        self._tiers: tuple[dict[str, list[_Target]], ...] = ({}, {}, {}, {})
        rows: dict[str, list[_Target]] = {}
        for name, group, named, rank in self._names():
            keys = _Keys.of(name)
            if keys.vague:
                continue
            target = (rank, group, named)
            for tier, key in keys.tiers():
                self._tiers[tier].setdefault(key, []).append(target)
            rows.setdefault(keys.normalized, []).append(target)
        for table in self._tiers:
            for key, targets in table.items():
                table[key] = sorted(set(targets), key=_target_order)
        self._row_keys = sorted(rows)
        self._row_targets = [sorted(set(rows[k]), key=_target_order) for k in self._row_keys]
        designators: dict[str, int] = {}
        self._row_designators = np.array(
            [designators.setdefault(_designators(k), len(designators)) for k in self._row_keys],
            dtype=np.int32,
        )
        self._designator_ids = designators
        self._group_rows: dict[str, list[int]] = {}
        for row, targets in enumerate(self._row_targets):
            for group in sorted({t[1] for t in targets}):
                self._group_rows.setdefault(group, []).append(row)
        self._fit_similarity()

    # --- building -------------------------------------------------------------------------
    def _names(self) -> Iterator[tuple[str, str, str | None, int]]:
        """(name, group, entry or None, rank) of every entry name, MONDO label and alias."""
        for entry, name in self._entry_names.items():
            for alias, rank in _aliases(name):
                yield alias, self._entry_group[entry], entry, rank
        for disease in self._mondo.diseases():
            if disease.label.casefold().startswith("obsolete "):
                continue
            for alias, rank in _aliases(disease.label):
                yield alias, disease.id, None, rank

    def _fit_similarity(self) -> None:
        """TF-IDF of character 3-4-grams of each word (padded with a space on both sides), with
        smoothed idf and l2-normalized rows: as scikit-learn's ``char_wb`` analyzer would make
        them, built here from each distinct word's n-grams (several times faster)."""
        self._vocabulary: dict[str, int] = {}
        word_grams: dict[str, list[int]] = {}
        rows: list[int] = []
        columns: list[int] = []
        for row, key in enumerate(self._row_keys):
            for word in key.split():
                grams = word_grams.get(word)
                if grams is None:
                    grams = [
                        self._vocabulary.setdefault(g, len(self._vocabulary)) for g in _grams(word)
                    ]
                    word_grams[word] = grams
                columns.extend(grams)
                rows.extend([row] * len(grams))
        shape = (len(self._row_keys), len(self._vocabulary))
        counts = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), (np.array(rows), np.array(columns))),
            shape=shape,
        )
        counts.sum_duplicates()
        document_frequency = np.bincount(counts.indices, minlength=shape[1])
        self._idf = (np.log((1 + shape[0]) / (1 + document_frequency)) + 1).astype(np.float32)
        counts.data *= self._idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        counts.data /= np.repeat(norms, np.diff(counts.indptr)).astype(np.float32)
        self._by_gram: Any = sparse.csr_matrix(counts.T)  # n-grams × names

    # --- grounding --------------------------------------------------------------------------
    def ground(self, text: str, *, within: Collection[str] | None = None) -> Grounding:
        """The disease an answer names; unmapped (``disease_id`` ``None``) when none fits."""
        return self._ground(text, self._scope(within))

    def ground_many(
        self, texts: Sequence[str], *, within: Collection[str] | None = None
    ) -> list[Grounding]:
        """:meth:`ground` for each answer, in order (unmapped ones included)."""
        scope = self._scope(within)
        return [self._ground(text, scope) for text in texts]

    def _scope(self, within: Collection[str] | None) -> _Scope | None:
        if not within:
            return None
        groups = {self._group_of(x) for x in within}
        return _Scope(groups=frozenset(groups), entries=frozenset(within))

    def _group_of(self, disease_id: str) -> str:
        return self._entry_group.get(disease_id) or self._mondo.mondo_of(disease_id) or disease_id

    def _ground(self, text: str, scope: _Scope | None) -> Grounding:
        for curie in _explicit_ids(text):
            found = self._by_id(text, curie, scope)
            if found is not None:
                return found
        cleaned = _clean(text)
        keys = [_Keys.of(v) for v in _variants(cleaned)]
        if not keys or keys[0].vague:
            return _unmapped(text)
        if scope is not None:
            found = self._by_name(text, keys, scope)
            if found is not None:
                return found
        found = self._by_name(text, keys, None)
        if found is not None:
            return found
        if scope is not None:
            found = self._by_similarity(text, keys, scope, self.within_similarity)
            if found is not None:
                return found
        found = self._by_similarity(text, keys, None, self.min_similarity)
        return found if found is not None else _unmapped(text)

    def _by_id(self, text: str, curie: str, scope: _Scope | None) -> Grounding | None:
        if curie in self._entry_group:
            group = self._entry_group[curie]
            return self._grounding(text, group, curie, "id", 1.0)
        group_id = self._mondo.mondo_of(curie)
        if group_id is None:
            return None
        return self._grounding(text, group_id, self._member(group_id, (), scope), "id", 1.0)

    def _by_name(self, text: str, keys: list[_Keys], scope: _Scope | None) -> Grounding | None:
        for tier in range(len(self._tiers)):
            for variant in keys:
                for key_tier, key in variant.tiers():
                    if key_tier != tier:
                        continue
                    targets = self._tiers[tier].get(key)
                    chosen = _choose(targets or [], scope, self._members)
                    if chosen is not None:
                        group, named = chosen
                        method = "exact" if tier == 0 else "normalized"
                        disease_id = self._member(group, named, scope)
                        return self._grounding(text, group, disease_id, method, 1.0)
        return None

    def _by_similarity(
        self, text: str, keys: list[_Keys], scope: _Scope | None, threshold: float
    ) -> Grounding | None:
        best: tuple[float, str, tuple[str, ...]] | None = None
        for variant in keys:
            scored = self._most_similar(variant.normalized, scope)
            if scored is not None and (best is None or scored[0] > best[0]):
                best = scored
        if best is None or best[0] < threshold:
            return None
        score, group, named = best
        disease_id = self._member(group, named, scope)
        return self._grounding(text, group, disease_id, "similar", score)

    def _most_similar(
        self, key: str, scope: _Scope | None
    ) -> tuple[float, str, tuple[str, ...]] | None:
        """(score, group, named entries) of the most similar name with the same designators
        (ties: the first by rank, annotated first, then smallest id), or None."""
        columns, weights = self._vector(key)
        if columns.size == 0:
            return None
        query = sparse.csr_matrix(
            (weights, columns, np.array([0, columns.size])), shape=(1, self._by_gram.shape[0])
        )
        scores = query @ self._by_gram
        rows, values = np.asarray(scores.indices), np.round(np.asarray(scores.data), 6)
        designator = self._designator_ids.get(_designators(key), -1)
        keep = self._row_designators[rows] == designator
        if scope is not None:
            allowed = {r for g in scope.groups for r in self._group_rows.get(g, ())}
            keep &= np.fromiter((r in allowed for r in rows), dtype=bool, count=rows.size)
        rows, values = rows[keep], values[keep]
        if rows.size == 0:
            return None
        top = float(values.max())
        targets = [t for r in sorted(rows[values == top].tolist()) for t in self._row_targets[r]]
        chosen = _choose(targets, scope, self._members)
        if chosen is None:
            return None
        return top, chosen[0], chosen[1]

    def _vector(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's TF-IDF vector (as the fitted vectorizer would make it): columns, weights."""
        counts = Counter(g for word in key.split() for g in _grams(word))
        pairs = sorted(
            (self._vocabulary[gram], n) for gram, n in counts.items() if gram in self._vocabulary
        )
        if not pairs:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        columns = np.array([c for c, _ in pairs], dtype=np.int32)
        weights = np.array([n for _, n in pairs], dtype=np.float32) * self._idf[columns]
        return columns, weights / np.float32(np.linalg.norm(weights))

    # --- identity ----------------------------------------------------------------------------
    def _member(self, group: str, named: Sequence[str], scope: _Scope | None) -> str:
        """The entry to report for a group: one asked for in ``within``, else an entry whose
        name matched, else the first annotated member, else the group (a MONDO id) itself."""
        members = self._members.get(group, [])
        if scope is not None:
            for member in members:
                if member in scope.entries:
                    return member
        for member in members:
            if member in named:
                return member
        return members[0] if members else group

    def _label(self, group: str) -> str:
        if group in self._mondo:
            return self._mondo.label(group)
        return self._entry_names.get(group, group)

    def _grounding(
        self, text: str, group: str, disease_id: str, method: str, score: float
    ) -> Grounding:
        return Grounding(
            text=text,
            disease_id=disease_id,
            group_id=group,
            label=self._label(group),
            method=method,
            score=float(score),
        )


def _grams(word: str) -> Iterator[str]:
    """The character 3- and 4-grams of `` word `` (a word under two letters gives itself)."""
    padded = f" {word} "
    for n in (3, 4):
        for i in range(len(padded) - n + 1):
            yield padded[i : i + n]


def _target_order(target: _Target) -> tuple[int, str, str]:
    return target[0], target[1], target[2] or ""


def _choose(
    targets: Sequence[_Target], scope: _Scope | None, members: dict[str, list[str]]
) -> tuple[str, tuple[str, ...]] | None:
    """The winning group among a key's targets (best rank, annotated first, smallest id) and
    the entries of it whose names matched."""
    allowed = [t for t in targets if scope is None or t[1] in scope.groups]
    if not allowed:
        return None
    _, group, _ = min(allowed, key=lambda t: (t[0], t[1] not in members, t[1]))
    named = tuple(sorted({t[2] for t in allowed if t[1] == group and t[2] is not None}))
    return group, named


def _unmapped(text: str) -> Grounding:
    return Grounding(text=text, disease_id=None, group_id=None, label=None, method=None, score=0.0)


_GROUNDERS: weakref.WeakKeyDictionary[Any, DiseaseGrounder] = weakref.WeakKeyDictionary()
_GROUNDERS_LOCK = threading.Lock()


def grounder_for(knowledge: KnowledgeBase) -> DiseaseGrounder:
    """The grounder of a knowledge base (default settings), built on first use and kept as long
    as the knowledge base lives."""
    with _GROUNDERS_LOCK:
        grounder = _GROUNDERS.get(knowledge)
        if grounder is None:
            grounder = DiseaseGrounder(knowledge)
            _GROUNDERS[knowledge] = grounder
        return grounder
