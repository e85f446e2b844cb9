"""Names without a structured record: cues, not a language model.

A stretch of capitalized words is a name when something says so: a title (``Dr.``, ``Mrs.``), a
label (``Patient:``, ``Name:``, ``PCP:``), a signature (``Electronically signed by``), a relation
or action word (``his mother``, ``spoke with``, ``seen by``), a credential after it (``, MD``), or,
optionally, a first name from the US Census Bureau 1990 list (5,163 names, public domain, shipped
in ``ocais/ingest/deid/data``) followed by a surname-like word. A name found once is then replaced
wherever else it is written capitalized in the same text.

A capitalized word whose lower-case form is also used in the same text ("Seizures ... seizures") is
taken for an ordinary word by the dictionary rule; titles, labels and signatures override that.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from ocais.ingest.deid.models import Candidate, PhiKind
from ocais.ingest.deid.recognizers import PRIORITY_LABELLED, PRIORITY_SPECIFIC


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string (readable word lists)."""
    return frozenset(text.split())


# a possessive 's is not part of the word ("Gaja's mother")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-](?![sS]\b)[^\W\d_]+)*\.?")
# surname particles ('van der Berg', 'de la Cruz'); shared with known.py
NAME_PARTICLES = _words(
    "van von der den de del della di da das dos du la le ter ten te het op zu zum vom dei degli "
    "delle lo las los do bin ibn al el st y"
)
_PARTICLES = NAME_PARTICLES
_TITLES = _words(
    "dr dra doctor mr mrs ms mx miss prof professor sister nurse rev sr sra mme mlle herr frau "
    "madam sir"
)
_RELATIONS = (
    r"mother|father|mom|dad|mum|parents?|guardian|husband|wife|spouse|partner|son|daughter"
    r"|sister|brother|sibling|grandmother|grandfather|grandma|grandpa|grandparents?|aunt|uncle"
    r"|cousin|niece|nephew|friend|neighbou?r|caregiver|carer|roommate|fianc[ée]e?|boyfriend"
    r"|girlfriend|stepmother|stepfather|stepmom|stepdad|foster[ \t]+(?:mother|father|parent)"
)
_ACTIONS = (
    r"(?:signed|dictated|transcribed|reviewed|attested|authenticated|co-?signed|verified|performed"
    r"|interpreted|reported|seen|examined|evaluated|accompanied|referred|ordered|prepared|written"
    r"|approved|supervised|read|released)[ \t]+(?:to[ \t]+|by:?[ \t]+)|referring[ \t]+"
    r"|electronically[ \t]+signed(?:[ \t]+by)?:?[ \t]+|(?:discussed|spoke|met|consulted|talked)"
    r"[ \t]+(?:with|to)[ \t]+|(?:called|contacted|paged|informed|notified|thanked)[ \t]+"
    r"|care[ \t]+of[ \t]+|c/o[ \t]+|attn:?[ \t]+|attention:?[ \t]+|per[ \t]+"
)
_LABELS = (
    r"(?:patient|pt|client|resident)(?:'s)?[ \t]+name|name|patient|pt|client|PCP|primary[ \t]+care"
    r"(?:[ \t]+(?:physician|provider|doctor))?|attending|resident|fellow|physician|provider"
    r"|surgeon|nurse|RN|NP|author|clinician|consultant|referring(?:[ \t]+(?:physician|provider"
    r"|doctor))?|emergency[ \t]+contact|next[ \t]+of[ \t]+kin|NOK|contact|informant|interpreter"
    r"|cc|to|from|dear|signature|signed|witness|therapist|counsel+or|social[ \t]+worker"
    r"|case[ \t]+manager|coordinator|technician|tech|scribe|" + _RELATIONS
)
_LABEL = re.compile(rf"\b(?:{_LABELS})[ \t]*(?::|-|–|—)[ \t]*(?=\S)", re.IGNORECASE)
_CUE = re.compile(
    rf"\b(?:{_ACTIONS}|(?:{_RELATIONS})(?:[ \t]*,[ \t]*|[ \t]+\(|[ \t]+named[ \t]+|[ \t]+))"
    r"|\b(?:the[ \t]+)?(?:patient|pt)(?:[ \t]+is)?[ \t]+(?=[A-Z])",
    re.IGNORECASE,
)
_CREDENTIAL = re.compile(
    r",?[ \t]*\b(?:MD|M\.D\.|DO|D\.O\.|RN|BSN|NP|FNP|APRN|PA-C|PhD|Ph\.D\.|MBBS|MBChB|FRCP\w*"
    r"|FRACP|FAAP|FACMG|CGC|MS,[ \t]*CGC|LCGC|CNM|CRNA|LPN|DNP|PharmD|LCSW|MSW|CCC-SLP|DPT|OTR"
    r"|MPH|MSN)\b"
)
# what follows a person as the subject of a sentence ('Ewelina Korda was seen', "Gaja's mother")
_PERSON_VERB = re.compile(
    r"(?:['’]s\b|[ \t]+(?:was|is|has[ \t]+been)[ \t]+(?:seen|admitted|referred|discharged"
    r"|evaluated|examined|brought|transferred|born|diagnosed|accompanied)\b|[ \t]+(?:is|was)[ \t]+"
    r"an?[ \t]+(?:\d|child|boy|girl|infant|toddler|adolescent|teen|man|woman|patient|gentleman"
    r"|lady|baby|newborn|neonate|pleasant|healthy|previously)|[ \t]+(?:tolerated|reports|reported"
    r"|denies|denied|states|stated|presented|presents|returns|returned|underwent|complains"
    r"|complained|lives|attends|arrived|endorses|feels|felt|walks|walked|talks|speaks|says|said"
    r"|describes|described|visited|comes|came)\b)"
)
# words that, right after a capitalized pair, show it is an eponym, not a person
_EPONYM_NEXT = _words(
    "stage syndrome syndromes disease disorder sign signs test score scale criteria classification "
    "reflex phenomenon anomaly malformation palsy type maneuver manoeuvre procedure operation "
    "method index law effect cell cells body bodies node nodes duct tumor tumour sarcoma lymphoma "
    "fracture ulcer hernia cyst sequence complex variant staging grade protocol formula equation "
    "technique repair shunt tube catheter line stain medium agar ratio questionnaire inventory "
    "assessment chart curve triad tetralogy pentalogy"
)
_EPONYM_AFTER = re.compile(rf"[ \t]+(?:{'|'.join(sorted(_EPONYM_NEXT))})\b", re.IGNORECASE)
# capitalized words that end a name run: function words, headings, weekdays, months, roles
_STOP = _words(
    "a an the he she his her hers him they them their it its this that these those we our us i me "
    "my you your on in at for from to with without by of and or but if as no not yes per via also "
    "then today tomorrow yesterday now please is was are were has had have would could "
    "should might must do does did be been being after before during since until when while "
    "where who whom whose which what why how all any each every some other another both monday "
    "tuesday wednesday thursday friday saturday sunday january february march feb apr "
    "jul aug sept oct nov dec patient pt name history hx hpi assessment plan impression "
    "diagnosis diagnoses exam examination physical findings results labs lab medications meds "
    "allergies social family review systems vitals vital signs chief complaint subjective "
    "objective follow up discharge admission admitted summary note notes report consult "
    "consultation clinic hospital center centre department dept unit service pediatrics "
    "paediatrics neurology genetics cardiology radiology emergency room floor mri eeg ct ecg "
    "ekg dna rna icu nicu picu or md do rn np pa phd dr mr mrs ms miss prof mother father "
    "mom dad sister brother son daughter wife husband parents grandmother grandfather aunt uncle "
    "signed electronically dictated transcribed reviewed seen spoke discussed called contacted "
    "referred reports reported denies states presented presents returns seizure seizures "
    "developmental delay syndrome disease disorder normal abnormal negative positive left right "
    "bilateral general medical medicine surgery surgical clinical genetic university school "
    "street avenue road county state city section table figure appendix addendum attending "
    "resident fellow physician provider nurse practitioner team group program contact phone fax "
    "email address date time dob mrn ssn id age sex male female boy girl man woman infant child "
    "baby newborn term preterm great step x nephrology endocrinology gastroenterology "
    "pulmonology oncology hematology immunology rheumatology dermatology ophthalmology audiology "
    "urology orthopedics psychiatry psychology neurosurgery cardiology therapy counseling "
    "nutrition intensive care"
)
# capitalized words that are also surnames ('Edwin West', 'Dr. May', 'Rodney Ward'): they end a
# name run only where no cue started it
_WEAK_STOP = _words(
    "may will can jan mar jun jul aug sep june april august ray north south east west new saint "
    "st mount lake port fort page ward hall young long rich mark bill grace hope joy king love "
    "lane bell frank"
)
# Census first names that are also common words or clinical headings ('Will', 'Gene', 'Long QT')
_AMBIGUOUS_FIRST_NAMES = _words(
    "in my so see ok many may will else man miss son soon long major young rich page chance carry "
    "season spring summer star song hope art bill guy august april june mark iris ward an al ma "
    "ed bo van wan don pat ray gene case frank chase lacy love king grace joy faith dawn mercy "
    "charity patience precious destiny trinity harmony unique crystal diamond crista easter noel "
    "forest hunter sage olive lane bell dale glen clay cliff reed rod ivy hazel sharon"
)

_NOT_PROPAGATED = _STOP | _PARTICLES | _TITLES
_SUFFIXES = _words("jr sr ii iii iv")


FIRST_NAMES_FILE = "census1990_first_names.txt"  # in ocais/ingest/deid/data (ATTRIBUTION.md)


@functools.cache
def load_first_names() -> frozenset[str]:
    """Lower-case US Census 1990 first names (shipped package data), minus common words.

    Read once per process, on first use.
    """
    text = (resources.files("ocais.ingest.deid") / "data" / FIRST_NAMES_FILE).read_text(
        encoding="ascii"
    )
    found = {line.strip() for line in text.splitlines()}
    return frozenset(n for n in found if n and not n.startswith("#")) - _AMBIGUOUS_FIRST_NAMES


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    text: str

    @property
    def bare(self) -> str:
        return self.text.rstrip(".")

    @property
    def key(self) -> str:
        return self.bare.lower()


class NameFinder:
    """Finds personal names in one text; stateless between calls."""

    def __init__(self, first_names: frozenset[str] = frozenset()) -> None:
        self._first_names = first_names

    def find(self, text: str) -> list[Candidate]:
        tokens = [_Token(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        if not tokens:
            return []
        starts = {token.start: index for index, token in enumerate(tokens)}
        lower_words = {token.key for token in tokens if token.bare.islower()}
        found: list[Candidate] = []

        def add(run: Sequence[_Token], priority: int) -> None:
            found.append(_name(run, priority))

        for index, token in enumerate(tokens):
            if token.key in _TITLES and index + 1 < len(tokens):
                # 'Dr. Smith', 'Dr Smith', 'Mrs. O'Neil'; not 'Dr' at the end of a street name
                nxt = tokens[index + 1]
                if _gap_ok(text, token.end, nxt.start) and (run := _run(text, tokens, index + 1)):
                    add(run, PRIORITY_LABELLED)
        for pattern, priority in ((_LABEL, PRIORITY_LABELLED), (_CUE, PRIORITY_SPECIFIC)):
            for m in pattern.finditer(text):
                start = starts.get(m.end())
                if start is not None and (run := _run(text, tokens, start, allow_inverted=True)):
                    add(run, priority)
        for m in _CREDENTIAL.finditer(text):
            if run := _run_before(text, tokens, m.start()):
                add(run, PRIORITY_SPECIFIC)
        found.extend(_subjects(text, tokens, lower_words))
        if self._first_names:
            found.extend(self._dictionary(text, tokens, lower_words))
        return found

    def _dictionary(
        self, text: str, tokens: list[_Token], lower_words: set[str]
    ) -> Iterator[Candidate]:
        for index, token in enumerate(tokens):
            if token.key not in self._first_names or not token.text[0].isupper():
                continue
            run = _run(text, tokens, index, allow_inverted=False)
            if len(run) >= 2 and _plausible_surname(run[-1], lower_words):
                if not _eponym_follows(tokens, index + len(run)):
                    yield _name(run, PRIORITY_SPECIFIC)
                continue
            # 'Smith, John': surname, comma, dictionary first name
            if index >= 1 and text[tokens[index - 1].end : token.start].strip() == ",":
                previous = tokens[index - 1]
                if _is_name_word(previous) and _plausible_surname(previous, lower_words):
                    yield _name([previous, token], PRIORITY_SPECIFIC)
                    continue
            # a first name alone ('I met Autumn and her family'), unless an eponym follows
            if (
                not token.bare.isupper()
                and len(token.bare) >= 3
                and _plausible_surname(token, lower_words)
                and not _eponym_follows(tokens, index + 1)
            ):
                yield _name([token], PRIORITY_SPECIFIC)

    @staticmethod
    def propagate(text: str, found: Sequence[tuple[int, int]]) -> list[Candidate]:
        """Every other capitalized occurrence of a word of a name already found."""
        words: set[str] = set()
        for start, end in found:
            for m in _WORD.finditer(text, start, end):
                word = m.group().rstrip(".")
                if len(word) >= 2 and word.lower() not in _NOT_PROPAGATED:
                    words.add(word)
        if not words:
            return []
        forms = {form for word in words for form in (word, word.upper(), word.capitalize())}
        alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w-])")
        return [
            Candidate(PhiKind.NAME, m.start(), m.end())
            for m in pattern.finditer(text)
            if not _EPONYM_AFTER.match(text, m.end())
        ]


def _subjects(text: str, tokens: list[_Token], lower_words: set[str]) -> Iterator[Candidate]:
    """Capitalized words that act as a person: 'Korda, Ewelina was admitted', 'Gaja reports'."""
    index = 0
    while index < len(tokens):
        run = _run(text, tokens, index, cued=False)
        if not run:
            index += 1
            continue
        index += len(run)
        if all(_plausible_surname(t, lower_words) or _is_initial(t) for t in run) and (
            _PERSON_VERB.match(text, run[-1].start + len(run[-1].bare))
        ):
            yield _name(run, PRIORITY_SPECIFIC)


def _name(run: Sequence[_Token], priority: int) -> Candidate:
    last = run[-1]
    # keep the full stop of an initial ('J.'), drop a sentence's
    end = last.end if len(last.bare) == 1 else last.start + len(last.bare)
    return Candidate(PhiKind.NAME, run[0].start, end, None, priority)


def _gap_ok(text: str, end: int, start: int) -> bool:
    gap = text[end:start]
    return len(gap) <= 3 and gap.strip() == "" and "\n" not in gap


def _is_name_word(token: _Token, *, cued: bool = True) -> bool:
    bare = token.bare
    if not bare or not bare[0].isupper() or token.key in _STOP:
        return False
    if "-" in token.key and any(part in _STOP for part in token.key.split("-")):
        return False  # 'Great-grandmother', 'X-Ray'
    if not cued and token.key in _WEAK_STOP:
        return False
    # short upper-case words are acronyms (MRI, EEG), not names
    return not (bare.isupper() and 1 < len(bare) <= 3)


def _is_initial(token: _Token) -> bool:
    return len(token.bare) == 1 and token.bare.isupper()


def _run(
    text: str, tokens: list[_Token], index: int, *, allow_inverted: bool = True, cued: bool = True
) -> list[_Token]:
    """Up to four name words from ``index`` (initials and particles inside), or []."""
    run: list[_Token] = []
    position = index
    inverted = False
    while position < len(tokens) and len(run) < 4:
        token = tokens[position]
        if run:
            gap = text[run[-1].end : token.start]
            if run[-1].text.endswith(".") and len(run[-1].bare) > 1:
                break  # 'Smith.' ended a sentence
            if (
                allow_inverted
                and not inverted
                and gap.strip() == ","
                and "\n" not in gap
                and len(run) == 1
            ):
                inverted = True  # 'Doe, John'
            elif not _gap_ok(text, run[-1].end, token.start):
                break
        if (
            token.key in _PARTICLES
            and (run or cued)
            and (token.bare[0].isupper() or position + 1 < len(tokens))
        ):
            run.append(token)  # 'Dr. van der Berg'; 'Chelsea Le'
        elif _is_name_word(token, cued=cued) or _is_initial(token):
            run.append(token)
        else:
            break
        position += 1
    while run and (run[-1].bare.islower() or run[-1].key in _TITLES):
        run.pop()
    after = index + len(run)  # the run is contiguous from index
    if run and after < len(tokens) and tokens[after].key in _SUFFIXES:
        gap = text[run[-1].end : tokens[after].start]
        if _gap_ok(text, run[-1].end, tokens[after].start) or gap.strip() == ",":
            run.append(tokens[after])  # 'Koch II', 'Smith, Jr.'
    return run


def _run_before(text: str, tokens: list[_Token], end: int) -> list[_Token]:
    """The name words right before ``end`` (e.g. before ', MD')."""
    count = bisect.bisect_right(tokens, end, key=lambda token: token.end)
    before = tokens[max(0, count - 4) : count]
    run: list[_Token] = []
    for token in reversed(before):
        limit = run[0].start if run else end
        if not _gap_ok(text, token.end, limit) or not (
            _is_name_word(token) or _is_initial(token) or (run and token.key in _PARTICLES)
        ):
            break
        run.insert(0, token)
    return run


def _plausible_surname(token: _Token, lower_words: set[str]) -> bool:
    return _is_name_word(token) and token.key not in lower_words and len(token.bare) >= 2


def _eponym_follows(tokens: list[_Token], index: int) -> bool:
    return index < len(tokens) and tokens[index].key in _EPONYM_NEXT
