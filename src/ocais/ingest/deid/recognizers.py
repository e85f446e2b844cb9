"""Pattern recognizers for everything but names and dates: ids, phones, faxes, e-mail, URLs, IPs,
addresses and ages over 89.

Recall comes first (a missed identifier is stored for good; a removed word costs little), so
patterns are broad; the clinical notations that look like identifiers (HPO and OMIM ids, HGVS
variants, RefSeq accessions, rs ids, genomic coordinates, karyotypes) are found first and protect
their text from the *generic* rules (long digit runs, bare domains), not from labelled ones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from ocais.ingest.deid.models import Candidate, PhiKind

PRIORITY_KNOWN = 30
PRIORITY_LABELLED = 20
PRIORITY_SPECIFIC = 10
PRIORITY_GENERIC = 0

_PROTECTED = re.compile(
    r"\b(?:HP|OMIM|MIM|ORPHA|Orphanet|ORPHANET|MONDO|DOID|HGNC|NCBIGene|GO|UBERON|CHEBI"
    r"|SNOMEDCT(?:_US)?|UMLS|ICD-?10(?:-?CM)?|ICD-?9|LOINC|RXNORM|PMID|PMCID|DOI|NCT)"
    r"[ \t]?:[ \t]?[\w./-]*\d[\w./-]*"
    r"|\b(?:N[MRPCGTW]|X[MRP]|NC|LRG)_\d+(?:\.\d+)?"
    r"|\bENS[A-Z]{0,4}\d{6,}(?:\.\d+)?"
    r"|\brs\d{3,}\b"
    r"|\bNCT\d{8}\b"
    r"|(?<![\w.])[cgmnpr]\.\(?[\w*>()_+:;\[\]?=-]*\d[\w*>()_+:;\[\]?=-]*"
    r"|\bchr(?:\d{1,2}|X|Y|M|MT|Un)[:_]\d[\d,]*(?:[-_]\d[\d,]*)?"
    r"|\b4[5-9],[ \t]?X{1,3}Y{0,2}\b"
)

_ID_LABEL = (
    r"(?:MRN|MR[ \t]?#|medical[ \t]+record(?:[ \t]+(?:no\.?|number|#))?|med[ \t]+rec\.?"
    r"|(?:patient|pt|member|subscriber|beneficiary|insurance|policy|plan|group|account|acct"
    r"|encounter|visit|case|accession|specimen|sample|order|claim|device|serial|license"
    r"|licence|DL|passport|NHS|health[ \t]+card|certificate|record|chart|CSN|FIN|HAR)"
    r"\.?(?:[ \t]+(?:id|no\.?|number|#|num\.?))?|SSN|SS#|social[ \t]+security(?:[ \t]+(?:no\.?"
    r"|number|#))?|ID|I\.D\.)"
)
_LABELLED_ID = re.compile(
    rf"\b{_ID_LABEL}[ \t]*(?:is[ \t]+)?[:=#]?[ \t]*#?[ \t]*"
    r"((?=[A-Z0-9*-]*\d)[A-Z0-9][A-Z0-9*/.-]*[A-Z0-9])",
    re.IGNORECASE,
)
_SSN = re.compile(r"(?<![\w-])(?:\d{3}|\*{3}|x{3}|X{3})([- ])(?:\d{2}|\*{2}|xx|XX)\1\d{4}(?![\w-])")
_CREDIT_CARD = re.compile(r"(?<![\w-])\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}(?![\w-])")
_DIGIT_RUN = re.compile(
    r"(?<![\w.,/:])(?:\d{6,}|\d+(?:[-.]\d+){1,5})(?![\w/]|[.,]\d)(?![ \t]*(?:%|mg|mcg|µg|ug|g\b"
    r"|kg|ml|mL|l\b|L\b|mmol|umol|µmol|IU|U\b|units?|cells|copies|/))"
)
_ALNUM_ID = re.compile(r"(?<![\w.:/-])(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{4,}(?![\w])")

_ISO_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}T\d")

_PHONE_US = re.compile(
    r"(?<![\w+])(?:(?:\+|00)?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}"
    r"(?:[ \t]*(?:x|ext\.?|extension)[ \t]*\d{1,6})?(?![\w])"
)
_PHONE_INTL = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\d{1,3}[ .-]?(?:\(0\)[ .-]?)?|\(0?\d{2,5}\)[ .-]?|0)"
    r"\d{1,5}(?:[ .-]?\d{2,6}){1,4}(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,6})?(?![\w])"
)
_FAX_CUE = re.compile(
    r"\b(?:fax|facsimile|telefax)(?:[ \t]*(?:no\.?|number|#|line|to|at|via|on|is|:))*[ \t:#.-]*$",
    re.IGNORECASE,
)

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:(?:https?|ftps?|sftp)://|www\d{0,3}\.)[^\s<>\"'`]+", re.IGNORECASE)
_GENERIC_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|health|care|clinic|hospital|med|online"
    "|site|name|me|tv|co|us|uk|ca|au|nz|ie|de|fr|nl|be|es|it|pt|ch|at|se|no|dk|fi|pl|cz|eu|in"
    "|jp|cn|kr|br|mx|ar|za|ru"
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)*[a-z0-9][a-z0-9-]{{1,61}}[a-z0-9]"
    rf"\.(?:{_GENERIC_TLDS})(?![\w-])(?:/[^\s<>\"'`]*)?",
    re.IGNORECASE,
)
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/\d{1,2}|:\d{1,5})?(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:.])(?=[0-9a-fA-F:.]*::?[0-9a-fA-F]*:)[0-9a-fA-F:.]{3,45}(?![\w:])")

# USPS Publication 28, appendix C1 (primary street suffixes) and their common abbreviations;
# each may be plural ('Groves', 'Ridges')
_STREET_SUFFIX = (
    "Alley|Aly|Anex|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluff|Bottom|Boulevard|Blvd"
    "|Branch|Bridge|Brook|Burg|Bypass|Byway|Camp|Canyon|Cape|Causeway|Center|Centre|Circle|Cir"
    "|Cliff|Close|Club|Common|Corner|Course|Court|Ct|Cove|Creek|Crescent|Cres|Crest|Crossing"
    "|Xing|Crossroad|Curve|Dale|Dam|Divide|Drive|Dr|Estate|Expressway|Expy|Extension|Ext|Fall"
    "|Ferry|Field|Flat|Ford|Forest|Forge|Fork|Fort|Freeway|Fwy|Garden|Gdns|Gateway|Glen|Green"
    "|Grove|Harbor|Haven|Heights|Hts|Highway|Hwy|Hill|Hollow|Inlet|Island|Isle|Junction|Jct|Key"
    "|Knoll|Lake|Land|Landing|Lane|Ln|Light|Loaf|Lock|Lodge|Loop|Mall|Manor|Meadow|Mews|Mill"
    "|Mission|Motorway|Mount|Mountain|Neck|Orchard|Oval|Overpass|Park|Parkway|Pkwy|Pass"
    "|Passage|Path|Pike|Pine|Place|Pl|Plain|Plaza|Plz|Point|Pt|Port|Prairie|Radial|Ramp|Ranch"
    "|Rapid|Rest|Ridge|Rdg|River|Road|Rd|Route|Rte|Row|Rue|Run|Shoal|Shore|Skyway|Spring|Spur"
    "|Square|Sq|Station|Stravenue|Stream|Street|St|Summit|Terrace|Ter|Throughway|Trace|Track"
    "|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Tpke|Underpass|Union|Valley|Viaduct|View"
    "|Via|Village|Ville|Vista|Walk|Wall|Way|Well|Wood|Gate|Mead"
)
_UNIT = r"(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Room|Rm|Bldg|Building|Box|#)\.?[ \t]*#?[\w-]+"
_STREET = re.compile(
    rf"(?<![\w-])\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+(?:(?:[NSEW]|NE|NW|SE|SW)\.?[ \t]+)?"
    rf"(?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Z][\w'.-]*|de|la|del|van|von)[ \t]+){{0,4}}"
    rf"(?:{_STREET_SUFFIX})s?\b\.?(?:[ \t]+(?:[NSEW]|NE|NW|SE|SW)\b\.?)?(?:,?[ \t]+{_UNIT})?"
)
_PO_BOX = re.compile(
    r"\b(?:P\.?[ \t]?O\.?[ \t]?Box|Post[ \t]+Office[ \t]+Box)[ \t]+\d+", re.IGNORECASE
)
_MILITARY = re.compile(
    r"\b(?:(?:USNS|USNV|USS|USCGC)[ \t]+[A-Z][\w'-]+"
    r"|(?:PSC|Unit|CMR)[ \t]+\d{4},[ \t]*Box[ \t]+\d{4})"
    r"(?:,[ \t]*(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5})?|\b(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}\b"
)
_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia"
    "|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts"
    "|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey"
    "|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania"
    "|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington"
    "|West Virginia|Wisconsin|Wyoming|District of Columbia|Puerto Rico|Guam"
)
# abbreviations that double as credentials or English words ('Smith, MD', 'Jones, OR')
_AMBIGUOUS_STATE_ABBRS = (
    "CO|DE|HI|ID|IN|LA|ME|MD|MO|OH|OK|OR|PA|AS|AA|AE|AP|GU|VI|MP|FM|MH|PW|DC|PR"
)
_STATE_ABBRS = (
    "AL|AK|AZ|AR|CA|CT|FL|GA|IL|IA|KS|KY|MA|MI|MN|MS|MT|NE|NV|NH|NJ|NM|NY|NC|ND|RI|SC|SD|TN|TX"
    "|UT|VT|VA|WA|WV|WI|WY"
)
_STATES = f"{_STATE_NAMES}|{_STATE_ABBRS}|{_AMBIGUOUS_STATE_ABBRS}"
_PLACE = r"(?:[A-Z][\w'.-]*[ \t]+){0,3}[A-Z][\w'.-]*"
_CITY_STATE_ZIP = re.compile(rf"{_PLACE},?[ \t]+(?:{_STATES})\.?,?[ \t]+\d{{5}}(?:-\d{{4}})?\b")
_CITY_STATE = re.compile(rf"\b{_PLACE},[ \t]+(?:{_STATE_NAMES}|{_STATE_ABBRS})\b(?![ \t]*\d)")
_ZIP = re.compile(rf"{_PLACE},?[ \t]+(?:{_STATES})\.?,?[ \t]+\d{{5}}(?:-\d{{4}})?\b")
# 'City, ST' without a ZIP: not the abbreviations that double as credentials or words
_CITY_STATE = re.compile(
    rf"\b{_PLACE},[ \t]+(?:{_STATES.split('|AL|')[0]}|AL|AK|AZ|AR|CA|CT|FL|GA|IL|IA|KS|KY|MA|MI"
    r"|MN|MS|MT|NE|NV|NH|NJ|NM|NY|NC|ND|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)\b(?![ \t]*\d)"
)
_ZIP = re.compile(
    r"\b(?:ZIP|zip|Zip|postal[ \t]+code|postcode)(?:[ \t]+code)?[ \t]*:?[ \t]*(\d{5}(?:-\d{4})?)\b"
    r"|\b\d{5}-\d{4}\b"
)
_RESIDENCE = re.compile(
    r"\b(?:lives|living|live|resides|residing|reside|moved|relocated|born|home(?:town)?"
    r"|address(?:ed)?|located)[ \t]+(?:is[ \t]+)?(?:in|at|to|near|from)[ \t]+(?:the[ \t]+)?"
    r"((?:[A-Z][\w'.-]*[ \t]+){0,2}[A-Z][\w'.-]*"
    rf"(?:,[ \t]*(?:{_STATE_NAMES}|{_STATE_ABBRS}|{_AMBIGUOUS_STATE_ABBRS}))?)",
)

_AGE_NUMBER = r"(?:9\d|1[0-4]\d)"
_AGE_WORD = (
    r"(?:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|(?:one[- ])?hundred(?:[- ](?:and[- ])?\w+)?)"
)
_AGE_AFTER = re.compile(
    rf"(?<![\w.,/-])({_AGE_NUMBER}|{_AGE_WORD})(?=[ \t]*-?[ \t]*(?:years?|yrs?|y/?o\b|y\.o\.|yo\b"
    r"|-?year|yr-old))",
    re.IGNORECASE,
)
_AGE_BEFORE = re.compile(
    r"\b(?:aged?|age[ \t]*:|age[ \t]+of|at[ \t]+age|(?:died|passed[ \t]+away|deceased|death)"
    r"[ \t]+(?:at|aged?)(?:[ \t]+age)?)"
    rf"[ \t]*({_AGE_NUMBER}|{_AGE_WORD})(?![\w/]|[.,]\d)",
    re.IGNORECASE,
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Clinical notations that generic id/number rules must leave alone."""
    return [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]


def find_patterns(text: str) -> Iterator[Candidate]:
    """Every non-name, non-date proposal of the built-in recognizers."""
    yield from _ids(text)
    yield from _phones(text)
    yield from _web(text)
    yield from _addresses(text)
    yield from _ages(text)


def _ids(text: str) -> Iterator[Candidate]:
    for m in _LABELLED_ID.finditer(text):
        value = m.group(1).rstrip(".-/")
        yield Candidate(PhiKind.ID, m.start(1), m.start(1) + len(value), None, PRIORITY_LABELLED)
    for pattern in (_SSN, _CREDIT_CARD):
        for m in pattern.finditer(text):
            yield Candidate(PhiKind.ID, m.start(), m.end(), None, PRIORITY_SPECIFIC)
    for m in _DIGIT_RUN.finditer(text):
        value = m.group()
        if value.count(".") == 1 and "-" not in value:
            continue  # a decimal number (0.00002), not an id
        if sum(c.isdigit() for c in value) >= 6:
            yield Candidate(PhiKind.ID, m.start(), m.end(), None, PRIORITY_GENERIC)
    for m in _ALNUM_ID.finditer(text):
        token = m.group()
        if sum(c.isdigit() for c in token) >= 4 and len(token) >= 6 and not _ISO_TIME.match(token):
            yield Candidate(PhiKind.ID, m.start(), m.end(), None, PRIORITY_GENERIC)


def _phones(text: str) -> Iterator[Candidate]:
    seen: set[tuple[int, int]] = set()
    for pattern in (_PHONE_US, _PHONE_INTL):
        for m in pattern.finditer(text):
            digits = sum(c.isdigit() for c in m.group())
            if not 7 <= digits <= 17 or (m.start(), m.end()) in seen:
                continue
            seen.add((m.start(), m.end()))
            is_fax = _FAX_CUE.search(text, max(0, m.start() - 24), m.start()) is not None
            kind = PhiKind.FAX if is_fax else PhiKind.PHONE
            priority = PRIORITY_LABELLED if is_fax else PRIORITY_SPECIFIC
            yield Candidate(kind, m.start(), m.end(), None, priority)


def _web(text: str) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(text):
        yield Candidate(PhiKind.EMAIL, m.start(), m.end(), None, PRIORITY_SPECIFIC + 1)
    for pattern, priority in ((_URL, PRIORITY_SPECIFIC), (_BARE_DOMAIN, PRIORITY_GENERIC)):
        for m in pattern.finditer(text):
            end = m.start() + len(m.group().rstrip(".,;:!?)]}"))
            yield Candidate(PhiKind.URL, m.start(), end, None, priority)
    for m in _IPV4.finditer(text):
        yield Candidate(PhiKind.IP, m.start(), m.end(), None, PRIORITY_SPECIFIC)
    for m in _IPV6.finditer(text):
        candidate = m.group().rstrip(".")
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue  # a time like 10:30:00, not an address
        yield Candidate(PhiKind.IP, m.start(), m.start() + len(candidate), None, PRIORITY_SPECIFIC)


def _addresses(text: str) -> Iterator[Candidate]:
    for pattern in (_STREET, _PO_BOX, _MILITARY, _CITY_STATE_ZIP, _CITY_STATE):
        for m in pattern.finditer(text):
            yield Candidate(PhiKind.ADDRESS, m.start(), m.end(), None, PRIORITY_SPECIFIC)
    for m in _ZIP.finditer(text):
        group = 1 if m.group(1) else 0
        yield Candidate(PhiKind.ADDRESS, m.start(group), m.end(group), None, PRIORITY_SPECIFIC)
    for m in _RESIDENCE.finditer(text):
        yield Candidate(PhiKind.ADDRESS, m.start(1), m.end(1), None, PRIORITY_SPECIFIC)


def _ages(text: str) -> Iterator[Candidate]:
    for pattern in (_AGE_AFTER, _AGE_BEFORE):
        for m in pattern.finditer(text):
            yield Candidate(PhiKind.AGE_OVER_89, m.start(1), m.end(1), "90+", PRIORITY_SPECIFIC)
