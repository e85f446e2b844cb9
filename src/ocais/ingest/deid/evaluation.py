"""Scoring de-identification on notes with planted identifiers (see :mod:`.synthetic`).

Recall is strict: a planted identifier counts as caught only if nothing of it survives in the
output TEXT: neither the whole value nor any of its distinctive parts (name words, street and city
words, ZIP, the digits of an age). Parts are counted per line, against the same line with the
planted values cut out, so a word that the surrounding sentence uses anyway does not count.

Precision has two measures: of the replaced spans of a kind, the share that overlaps a planted
identifier (the rest replaced clinical text), and the share of planted clinical terms
('Down syndrome', 'c.5266dupC', 'BP 118/76', 'in 2019') that reach the output intact.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from ocais.ingest.deid.models import DeidResult, PhiKind
from ocais.ingest.deid.synthetic import Planted, SyntheticNote


def survives(note: SyntheticNote, result: DeidResult, planted: Planted) -> bool:
    """True if the value or one of its distinctive parts is still in the output text.

    Searched in the output line of the planted value (the whole output if a replacement crossed a
    line), outside the replacements themselves: a shifted date may say 'May' for a Mr. May.
    """
    output = _mask_replacements(result)
    note_lines, out_lines = note.text.split("\n"), output.split("\n")
    if len(note_lines) == len(out_lines):
        line = note.text.count("\n", 0, planted.start)
        original, output = note_lines[line], out_lines[line]
        line_start = sum(len(x) + 1 for x in note_lines[:line])
        in_line = [p for p in note.planted if note.text.count("\n", 0, p.start) == line]
        regions = [(p.start - line_start, p.end - line_start) for p in in_line]
    else:
        original = note.text
        regions = [(p.start, p.end) for p in note.planted]
    skeleton = _cut(original, regions)
    return any(
        _count(needle, output) > _count(needle, skeleton)
        for needle in (planted.value, *planted.tokens)
    )


def _mask_replacements(result: DeidResult) -> str:
    """The output text with every replacement blanked out (kept the same length)."""
    pieces, shift = list(result.text), 0
    for span in result.spans:
        start = span.start + shift
        for index in range(start, start + len(span.replacement)):
            if pieces[index] != "\n":
                pieces[index] = "\x00"
        shift += len(span.replacement) - (span.end - span.start)
    return "".join(pieces)


def score(notes: Sequence[SyntheticNote], results: Sequence[DeidResult]) -> dict[str, object]:
    """Recall and precision per kind, plus the clinical terms that were removed."""
    planted_n: Counter[str] = Counter()
    caught_n: Counter[str] = Counter()
    spans_n: Counter[str] = Counter()
    true_spans_n: Counter[str] = Counter()
    terms_total = 0
    removed_terms: Counter[str] = Counter()
    missed_examples: dict[str, list[str]] = defaultdict(list)
    for note, result in zip(notes, results, strict=True):
        for planted in note.planted:
            groups = [planted.kind.value]
            if planted.kind is PhiKind.NAME:
                origin = "en_US" if planted.locale == "en_US" else "other-locales"
                groups += [f"NAME/{planted.role}", f"NAME/{planted.role}/{origin}"]
                if planted.role == "patient":
                    labelled = "labelled" if note.labelled else "unlabelled"
                    groups.append(f"NAME/patient/{labelled}-notes")
            for group in groups:
                planted_n[group] += 1
            if survives(note, result, planted):
                if len(missed_examples[planted.kind.value]) < 8:
                    missed_examples[planted.kind.value].append(planted.value)
            else:
                for group in groups:
                    caught_n[group] += 1
        regions = [(p.start, p.end) for p in note.planted]
        for span in result.spans:
            spans_n[span.kind.value] += 1
            if any(s < span.end and span.start < e for s, e in regions):
                true_spans_n[span.kind.value] += 1
        for term in note.terms:
            terms_total += 1
            if any(span.start < term.end and term.start < span.end for span in result.spans):
                removed_terms[term.value] += 1
    recall = {k: round(caught_n[k] / n, 4) for k, n in sorted(planted_n.items())}
    precision = {k: round(true_spans_n[k] / n, 4) for k, n in sorted(spans_n.items())}
    return {
        "notes": len(notes),
        "planted": dict(sorted(planted_n.items())),
        "recall": recall,
        "recall_all": round(sum(caught_n[k.value] for k in PhiKind) / max(1, _total(planted_n)), 4),
        "span_precision": precision,
        "spans": dict(sorted(spans_n.items())),
        "clinical_terms": terms_total,
        "clinical_terms_kept": round(1 - sum(removed_terms.values()) / max(1, terms_total), 4),
        "clinical_terms_removed": dict(removed_terms.most_common(15)),
        "missed_examples": dict(missed_examples),
    }


def _total(planted: Counter[str]) -> int:
    return sum(planted[kind.value] for kind in PhiKind)


def _cut(text: str, regions: Sequence[tuple[int, int]]) -> str:
    pieces, position = [], 0
    for start, end in sorted(regions):
        pieces.append(text[position:start])
        pieces.append(" ")
        position = max(position, end)
    pieces.append(text[position:])
    return "".join(pieces)


def _count(needle: str, haystack: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack, re.IGNORECASE))
