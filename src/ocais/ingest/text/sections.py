"""Section headings and line forms of clinical notes ("FAMILY HISTORY:", "Hypotonia: no").

Notes are lists as often as prose. Two things the sentence-level rules of
:mod:`ocais.ingest.text.context` cannot see are handled here:

- **Sections.** A heading is a line that starts with a name and a colon: a known heading (family
  history, past history, review of systems, negatives, problem list, … in the languages we read)
  or any name in capitals ("SOCIAL:"). A heading alone on its line opens a section that runs to
  the next heading or blank line; a heading with text after it ("Negative: hepatomegaly") covers
  that line. Findings in a *family* section are the relatives' (unless their sentence names the
  patient first); findings in a *negatives* section are absent. Other sections (past history,
  problem list, examination) change nothing: a past finding is a finding (HPO convention).
- **Line forms.** A finding followed by a colon or dash and an answer that means no
  ("Hypotonia: no", "Seizures - denies", "Ataxia: not present", "Krampfanfälle: nein",
  "けいれん：なし") is absent; the answer word is then not read as a trigger for what follows
  ("Hypotonia: no, seizures: yes").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SectionKind = Literal["family", "negative", "other"]

_FAMILY_HEADINGS = (
    r"family(?: medical)? history|family hx|fhx|fh|family|familienanamnese|familien?anamnese"
    r"|antecedentes familiares|historia familiar|historia clinica familiar|antécédents familiaux"
    r"|antecedents familiaux|histoire familiale|anamnesi familiare|storia familiare"
    r"|história familiar|historia familiar|antecedentes familiares|家族歴|家族史"
)
_NEGATIVE_HEADINGS = (
    r"(?:pertinent )?negatives?(?: findings)?|denies|absent|not present|ausgeschlossen|negativ"
    r"|negativos?|n[ée]gatifs?|negativi|absents?|ausentes?|assenti|陰性所見|阴性"
)
_OTHER_HEADINGS = (
    r"(?:past )?(?:medical |surgical )?history|pmh|psh|hpi|history of present illness|ros"
    r"|review of systems|exam(?:ination)?|physical exam(?:ination)?|assessment|plan|impression"
    r"|problem list|problems|diagnos[ie]s|findings|positives?|medications?|allergies"
    r"|social(?: history)?|birth history|developmental history|development|labs?|imaging"
    r"|investigations|summary|course|chief complaint|cc|neuro|cardio|gi|skin|eyes|ent"
    r"|anamnese|befund|diagnose|antecedentes(?: personales)?|exploraci[oó]n|examen"
    r"|antécédents|esame obiettivo|anamnesi|exame f[ií]sico|antecedentes pessoais|現病歴|既往歴"
    r"|现病史|既往史|诊断|所見|主訴|主诉"
)
_HEADING = re.compile(
    r"^[ \t]*(?:[-*•#]+[ \t]*)?(?P<name>[^\W\d_][^\n:：]{0,48}?)[ \t]*[:：](?P<rest>[^\n]*)$",
    re.MULTILINE,
)
_KINDS: tuple[tuple[SectionKind, re.Pattern[str]], ...] = (
    ("family", re.compile(rf"(?:{_FAMILY_HEADINGS})", re.IGNORECASE)),
    ("negative", re.compile(rf"(?:{_NEGATIVE_HEADINGS})", re.IGNORECASE)),
    ("other", re.compile(rf"(?:{_OTHER_HEADINGS})", re.IGNORECASE)),
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")

NEGATIVE_ANSWERS = (
    r"no|none|nil|absent|denies|denied|not present|not seen|not noted|negative|neg|never"
    r"|nein|keine?|nicht vorhanden|fehlt|negativ|verneint"
    r"|sin|ninguno|ninguna|ausente|negativo|niega|negado"
    r"|non|pas|aucun|aucune|absente?|négatif|negatif"
    r"|nessuno|nessuna|assente|negativa"
    r"|não|nao|nenhum|nenhuma|negada"
    r"|なし|無し|無|認めない|陰性|无|没有|否认|阴性"
    r"|\(?-\)?|✗|×"
)
_LINE_FORM = re.compile(
    rf"[ \t]*(?:[:=：]|\s[-–—]|\()[ \t]*(?P<answer>{NEGATIVE_ANSWERS})\)?[ \t]*"
    r"(?=$|[.,;。，、\n)])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Section:
    """A section's kind and the character span it covers (heading excluded)."""

    kind: SectionKind
    start: int
    end: int


def heading_kind(name: str) -> SectionKind | None:
    """The kind of a heading name, or None if it is not a heading (e.g. "Hypotonia")."""
    cleaned = " ".join(name.split()).strip(" -*#")
    for kind, pattern in _KINDS:
        if pattern.fullmatch(cleaned):
            return kind
    letters = [c for c in cleaned if c.isalpha()]
    if len(letters) >= 3 and all(c.isupper() for c in letters):
        return "other"  # "SOCIAL:", "PLAN:"
    return None


def find_sections(text: str) -> list[Section]:
    """Family, negative and other sections of ``text``, in text order."""
    headings = []
    for match in _HEADING.finditer(text):
        kind = heading_kind(match.group("name"))
        if kind is not None:
            headings.append((match, kind))
    sections = []
    for index, (match, kind) in enumerate(headings):
        if match.group("rest").strip():
            sections.append(Section(kind, match.start("rest"), match.end("rest")))
            continue
        start = match.end()
        limit = headings[index + 1][0].start() if index + 1 < len(headings) else len(text)
        body = text[start:limit]
        leading = len(body) - len(body.lstrip())
        blank = _BLANK_LINE.search(body, leading)
        sections.append(Section(kind, start, start + (blank.start() if blank else len(body))))
    return sections


def section_of(sections: Sequence[Section], offset: int) -> SectionKind | None:
    """The kind of the section that holds ``offset`` (None outside any)."""
    for section in sections:
        if section.start <= offset < section.end:
            return section.kind
    return None


def negative_answer(text: str, end: int) -> tuple[int, int] | None:
    """The span of a "no" answer right after a finding ending at ``end`` ("Hypotonia: no")."""
    match = _LINE_FORM.match(text, end)
    return (match.start("answer"), match.end("answer")) if match else None
