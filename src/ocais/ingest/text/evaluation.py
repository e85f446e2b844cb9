"""A synthetic evaluation set from real phenopackets, and its scoring (used by the benchmark).

Each sentence is written from the HPO terms of one phenopacket (observed ones for present, family
and uncertain findings; excluded ones for negated findings) by a template
(:mod:`ocais.ingest.text.templates`), with each term written as its name or one of its synonyms,
in lower, original or upper case, sometimes in the plural. The gold standard is the set of
``(term id, status)`` pairs of each sentence.

Caveat, stated in every report: the ``main`` subset uses the ontology's own labels, which a
dictionary matcher built on them finds by construction, and templates the context rules were tuned
on; it measures the matcher's handling of case, plurals and overlaps, not recall on real clinical
language. The ``heldout`` subset uses two batches of templates written later, each scored once
and then used to fix rules (first scores in :mod:`~ocais.ingest.text.templates`); the ``blind``
subset uses a third batch, never tuned on: the honest estimate for unseen phrasings. The
``hard`` subset perturbs one label per sentence (word order, inflection, spelling, a typo…) and is
scored per perturbation; some perturbations are handled by design (``inversion``, ``of_flip``,
``adjectival``), others not at all (``typo``, ``reverse_of``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from ocais.ingest.text import templates
from ocais.ingest.text.context import Mention, Status
from ocais.ingest.text.labels import NOUN_TO_ADJECTIVES
from ocais.schemas import Case

if TYPE_CHECKING:
    from ocais.knowledge import KnowledgeBase

STATUSES: tuple[Status, ...] = ("observed", "excluded", "family", "uncertain")
PERTURBATIONS = (
    "inversion", "of_flip", "adjectival", "reverse_of", "plural_head", "british", "hyphen",
    "modifier", "typo",
)  # fmt: skip
_ABBREVIATION = re.compile(r"^(?=(?:[^A-Z]*[A-Z]){2})[A-Za-z0-9]{2,8}$")
_IRREGULAR_PLURALS = frozenset({"feet", "teeth", "children", "men", "women", "fingers", "toes"})
_OF = re.compile(r"^(\S+) of (?:the )?(.+)$", re.IGNORECASE)
_BRITISH = tuple(
    (re.compile(us), uk)
    for us, uk in (
        (r"\bhem", "haem"), (r"(?<![ao])emia", "aemia"), (r"\bedema", "oedema"),
        (r"(?<!o)esoph", "oesoph"), (r"behavior", "behaviour"), (r"tumor", "tumour"),
        (r"color", "colour"), (r"ized\b", "ised"), (r"\bfetal", "foetal"),
        (r"pediatric", "paediatric"), (r"diarrhea", "diarrhoea"),
    )
)  # fmt: skip


class GoldTerm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    status: Status


class Example(BaseModel):
    """One sentence of the evaluation set with its gold terms."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    gold: list[GoldTerm]
    subset: Literal["main", "heldout", "blind", "hard"]
    template: str
    perturbation: str | None = None
    case: str | None = None


def pluralize(word: str) -> str:
    """A simple English plural (the generator's, deliberately independent of the matcher's)."""
    if not word.isalpha() or len(word) < 3 or word.casefold() in _IRREGULAR_PLURALS:
        return word
    if word.endswith("sis"):
        return word[:-3] + "ses"
    if word.endswith(("s", "i", "ae")):
        return word  # already plural, or Latin ("nystagmus", "nevi", "sclerae")
    if word.endswith(("x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _pluralize_last(label: str) -> str:
    words = label.split(" ")
    return " ".join([*words[:-1], pluralize(words[-1])])


def perturb(label: str, kind: str, rng: random.Random) -> str | None:
    """``label`` perturbed one way, or None when that perturbation does not apply to it."""
    words = label.split(" ")
    of = _OF.match(label)
    result: str | None = None
    if kind == "inversion" and 2 <= len(words) <= 4 and "," not in label and not of:
        result = f"{words[-1]}, {' '.join(words[:-1])}"  # "seizures, generalized tonic"
    elif kind == "of_flip" and of and len(of.group(2).split()) <= 3:
        result = f"{of.group(2)} {of.group(1)}"
    elif kind == "adjectival" and of and of.group(1).casefold() in NOUN_TO_ADJECTIVES:
        result = f"{NOUN_TO_ADJECTIVES[of.group(1).casefold()][0]} {of.group(2)}"
    elif kind == "reverse_of" and not of and 2 <= len(words) <= 3:
        if words[-1].casefold() in NOUN_TO_ADJECTIVES:
            result = f"{words[-1]} of the {' '.join(words[:-1])}"
    elif kind == "plural_head" and of:
        result = f"{pluralize(of.group(1))} of the {of.group(2)}"
    elif kind == "british":
        lowered = label.casefold()
        for us, uk in _BRITISH:
            lowered = us.sub(uk, lowered)
        result = lowered if lowered != label.casefold() else None
    elif kind == "hyphen" and "-" in label:
        result = label.replace("-", " ")
    elif kind == "hyphen" and re.match(r"(?i)^non[a-z]{4,}", label):
        result = f"{label[:3]}-{label[3:]}"
    elif kind == "modifier":
        result = f"{rng.choice(('marked', 'obvious', 'clear'))} {label}"
    elif kind == "typo":
        longest = max(words, key=len)
        if len(longest) >= 6:
            cut = rng.randrange(2, len(longest) - 2)
            result = label.replace(longest, longest[:cut] + longest[cut + 1 :], 1)
    return result


class _Writer:
    """Writes phenotype phrases for terms: name or synonym, case and number varied by a seed."""

    def __init__(self, kb: KnowledgeBase, rng: random.Random) -> None:
        self.kb = kb
        self.rng = rng

    def phrase(self, term_id: str, *, plural_rate: float = 0.2) -> str:
        term = self.kb.term(term_id)
        labels = [term.name, *term.synonyms]
        label = labels[0] if self.rng.random() < 0.5 else self.rng.choice(labels)
        if _ABBREVIATION.match(label):
            return label
        if self.rng.random() < plural_rate:
            label = _pluralize_last(label)
        roll = self.rng.random()
        if roll < 0.7:
            return label.casefold()
        return label.upper() if roll > 0.93 else label


def _fill(template: str, phrases: Sequence[str], rng: random.Random) -> str:
    slots = dict(zip("abc", phrases, strict=False))
    text = template.replace("{A}", "{a_cap}")
    first = slots.get("a", "")
    cap = first[:1].upper() + first[1:]
    return text.format(a_cap=cap, age=rng.randint(2, 15), **slots)


def _usable(kb: KnowledgeBase, ids: Iterable[str]) -> list[str]:
    return sorted({kb.resolve_id(i) or "" for i in ids} - {""})


def generate_examples(
    cases: Iterable[Case],
    kb: KnowledgeBase,
    *,
    n_main: int = 2400,
    n_heldout: int = 600,
    n_blind: int = 600,
    n_hard: int = 600,
    seed: int = 0,
) -> list[Example]:
    """``n_main`` varied sentences (about 10% distractors), ``n_heldout`` and ``n_blind`` from
    the two held-out template batches, and ``n_hard`` with perturbed labels."""
    rng = random.Random(seed)
    writer = _Writer(kb, rng)
    pool = [
        (c.external_id or c.id, _usable(kb, c.observed), _usable(kb, c.excluded)) for c in cases
    ]
    pool = [p for p in sorted(pool) if p[1]]
    if not pool:
        return []
    rng.shuffle(pool)
    groups = [
        (templates.OBSERVED, 0.36), (templates.EXCLUDED, 0.2), (templates.FAMILY, 0.1),
        (templates.UNCERTAIN, 0.12), (templates.MIXED, 0.12),
    ]  # fmt: skip
    examples = _template_examples(pool, writer, groups, n_main, rng, "main", 0)
    heldout = [(templates.HELDOUT_1, 0.5), (templates.HELDOUT_2, 0.5)]
    examples += _template_examples(pool, writer, heldout, n_heldout, rng, "heldout", len(examples))
    blind = [(templates.BLIND, 1.0)]
    examples += _template_examples(pool, writer, blind, n_blind, rng, "blind", len(examples))
    examples.extend(_hard_examples(pool, kb, n_hard, rng, start=len(examples)))
    return examples


def _template_examples(
    pool: list[tuple[str, list[str], list[str]]],
    writer: _Writer,
    groups: Sequence[tuple[Sequence[templates.Template], float]],
    n: int,
    rng: random.Random,
    subset: Literal["main", "heldout", "blind"],
    start: int,
) -> list[Example]:
    examples: list[Example] = []
    index = 0
    while len(examples) < n:
        case, observed, excluded = pool[index % len(pool)]
        index += 1
        if rng.random() < 0.1:
            text = rng.choice(templates.DISTRACTORS)
            number = start + len(examples)
            examples.append(_example(number, text, [], subset, "distractor", None, case))
            continue
        group = rng.choices([g for g, _ in groups], weights=[w for _, w in groups])[0]
        template, statuses = rng.choice(group)
        picked = _pick(statuses, observed, excluded, rng)
        if picked is None:
            continue
        phrases = [writer.phrase(t) for t in picked]
        gold = list(zip(picked, statuses, strict=True))
        name = f"{_group_name(statuses)}:{list(group).index((template, statuses))}"
        text = _fill(template, phrases, rng)
        examples.append(_example(start + len(examples), text, gold, subset, name, None, case))
    return examples


def _group_name(statuses: Sequence[str]) -> str:
    return statuses[0] if len(set(statuses)) == 1 else "mixed"


def _pick(
    statuses: Sequence[str], observed: list[str], excluded: list[str], rng: random.Random
) -> list[str] | None:
    need_excluded = sum(s == "excluded" for s in statuses)
    need_other = len(statuses) - need_excluded
    if need_excluded > len(excluded) or need_other > len(observed):
        return None
    chosen_excluded = rng.sample(excluded, need_excluded)
    chosen_other = rng.sample(observed, need_other)
    return [chosen_excluded.pop() if s == "excluded" else chosen_other.pop() for s in statuses]


def _hard_examples(
    pool: list[tuple[str, list[str], list[str]]],
    kb: KnowledgeBase,
    n_hard: int,
    rng: random.Random,
    *,
    start: int,
) -> list[Example]:
    examples: list[Example] = []
    for kind in PERTURBATIONS:
        quota = n_hard // len(PERTURBATIONS) + (
            PERTURBATIONS.index(kind) < n_hard % len(PERTURBATIONS)
        )
        done, attempts = 0, 0
        while done < quota and attempts < quota * 200:  # a kind that rarely applies may fall short
            attempts += 1
            case, observed, excluded = rng.choice(pool)
            negated = bool(excluded) and rng.random() < 0.5
            template = "No {a} was observed." if negated else "The patient presented with {a}."
            status = "excluded" if negated else "observed"
            term = kb.term(rng.choice(excluded if negated else observed))
            label = rng.choice([term.name, *term.synonyms])
            phrase = perturb(label, kind, rng)
            if phrase is None or _ABBREVIATION.match(label):
                continue
            text = _fill(template, [phrase.casefold()], rng)
            number = start + len(examples)
            examples.append(_example(number, text, [(term.id, status)], "hard", kind, kind, case))
            done += 1
    return examples


def _example(
    number: int,
    text: str,
    gold: Sequence[tuple[str, str]],
    subset: Literal["main", "heldout", "blind", "hard"],
    template: str,
    perturbation: str | None,
    case: str,
) -> Example:
    return Example(
        id=f"s{number:05d}",
        text=text,
        gold=[GoldTerm(id=i, status=s) for i, s in gold],
        subset=subset,
        template=template,
        perturbation=perturbation,
        case=case,
    )


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def score(
    examples: Sequence[Example],
    predictions: Sequence[Sequence[Mention]],
    resolve: Callable[[str], str | None],
) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 per status, ``overall`` (micro over (term, status) pairs) and
    ``terms`` (term ids alone, status ignored: recognition without context).

    Pairs are compared per sentence after ``resolve`` (e.g. ``kb.resolve_id``) maps alternative
    and obsolete ids to current ones.
    """

    def current(term_id: str) -> str:
        return resolve(term_id) or term_id

    counts = {key: [0, 0, 0] for key in (*STATUSES, "overall", "terms")}
    for example, mentions in zip(examples, predictions, strict=True):
        gold = {(current(g.id), g.status) for g in example.gold}
        found = {(current(m.id), m.status) for m in mentions}
        for status in STATUSES:
            g = {p for p in gold if p[1] == status}
            f = {p for p in found if p[1] == status}
            _add(counts[status], g, f)
            _add(counts["overall"], g, f)
        _add(counts["terms"], {i for i, _ in gold}, {i for i, _ in found})
    return {key: _prf(*value) for key, value in counts.items()}


def _add(bucket: list[int], gold: AbstractSet[Hashable], found: AbstractSet[Hashable]) -> None:
    bucket[0] += len(gold & found)
    bucket[1] += len(found - gold)
    bucket[2] += len(gold - found)
