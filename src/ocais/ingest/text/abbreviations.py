"""Curated clinical abbreviations and dictionary exclusions (data only).

Abbreviations are matched case-sensitively as whole words (``ID`` but not ``id``; a plural ``s``
is allowed: ``VSDs``). HPO's own all-capital synonyms (``GDD``, ``IUGR``, ``VSD``…) are used too,
unless listed in :data:`AMBIGUOUS_ABBREVIATIONS`, or unless they name two terms (``ASD``), in which
case only the curated entries below, with their context words, decide.

An entry with ``requires`` matches only when one of those words (matching keys, i.e. lower-case
singular) occurs within a dozen tokens in the same sentence; ``forbids`` vetoes it when one of its
words is right before or after the abbreviation, or a number follows it ("patient ID",
"ID 1234"). When several entries for one
abbreviation match, the first wins; when none does, the abbreviation is skipped.

:data:`WORD_ABBREVIATIONS` are shorthand for one word ("dev delay"), matched in lower case or
capitalized and used only where the expansion fits the dictionary (see
:func:`ocais.ingest.text.spelling.correct_tokens`).

Where these lists come from: written for OCAIS from general clinical usage (shorthand common in
clinic letters and genetics referrals), not copied from a published list. Abbreviations with
several common clinical senses (CP, MR, DM, AF, LD, HL, LOC, NEC, ...) are left out or listed in
:data:`AMBIGUOUS_ABBREVIATIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Abbreviation:
    text: str
    term_id: str
    requires: frozenset[str] = field(default_factory=frozenset)
    forbids: frozenset[str] = field(default_factory=frozenset)


_HEART = frozenset(
    {
        "heart", "cardiac", "echo", "echocardiogram", "echocardiography", "septal", "septum",
        "atrial", "murmur", "vsd", "pda", "pfo", "shunt", "cardiology", "cardiologist", "defect",
        "tof", "repair", "closure", "congenital", "chd",
    }
)  # fmt: skip
_BEHAVIOUR = frozenset(
    {
        "autism", "autistic", "behavior", "behavioral", "social", "adhd", "id", "speech",
        "language", "communication", "developmental", "neurodevelopmental", "intellectual",
        "stereotypy", "stereotypie", "diagnosed", "spectrum", "dd", "gdd",
    }
)  # fmt: skip
_NOT_A_DISABILITY = frozenset({"patient", "study", "sample", "subject", "record", "case", "user"})

CURATED_ABBREVIATIONS: tuple[Abbreviation, ...] = (
    Abbreviation("ID", "HP:0001249", forbids=_NOT_A_DISABILITY),  # intellectual disability
    Abbreviation("GDD", "HP:0001263"),  # global developmental delay
    Abbreviation("DD", "HP:0001263", forbids=_NOT_A_DISABILITY),  # developmental delay
    Abbreviation("ASD", "HP:0001631", requires=_HEART),  # atrial septal defect
    Abbreviation("ASD", "HP:0000729", requires=_BEHAVIOUR),  # autism spectrum disorder
    Abbreviation("ADHD", "HP:0007018"),
    Abbreviation("VSD", "HP:0001629"),
    Abbreviation("PDA", "HP:0001643"),
    Abbreviation("PFO", "HP:0001655"),  # patent foramen ovale
    Abbreviation("TOF", "HP:0001636"),  # tetralogy of Fallot
    Abbreviation("HCM", "HP:0001639"),
    Abbreviation("DCM", "HP:0001644"),
    Abbreviation("LVH", "HP:0001712"),
    Abbreviation("FTT", "HP:0001508"),
    Abbreviation("IUGR", "HP:0001511"),
    Abbreviation("SGA", "HP:0001518"),
    Abbreviation("GERD", "HP:0002020"),
    Abbreviation("GORD", "HP:0002020"),
    Abbreviation("OSA", "HP:0002870"),  # obstructive sleep apnea
    Abbreviation("SNHL", "HP:0000407"),  # sensorineural hearing impairment
    Abbreviation("VUR", "HP:0000076"),
    Abbreviation("CKD", "HP:0012622"),
    Abbreviation("ESRD", "HP:0003774"),  # stage 5 chronic kidney disease
    Abbreviation("HTN", "HP:0000822"),  # hypertension
    Abbreviation("OCD", "HP:0000722"),
    Abbreviation("HSM", "HP:0001433"),  # hepatosplenomegaly
    Abbreviation("CDH", "HP:0000776"),  # congenital diaphragmatic hernia
    Abbreviation("NTD", "HP:0045005"),  # neural tube defect
    Abbreviation("DDH", "HP:0001385"),  # developmental dysplasia of the hip
    Abbreviation("PVL", "HP:0006970"),  # periventricular leukomalacia
    Abbreviation("NDD", "HP:0012758"),  # neurodevelopmental delay
    Abbreviation("SOB", "HP:0002094"),  # shortness of breath: dyspnea
    Abbreviation("GTC", "HP:0002069"),  # (generalized) tonic-clonic seizure
    Abbreviation("GTCS", "HP:0002069"),
    Abbreviation("T1DM", "HP:0100651"),
    Abbreviation("T2DM", "HP:0005978"),
    Abbreviation("CHF", "HP:0001635"),  # congestive heart failure
    Abbreviation("SVT", "HP:0004755"),  # supraventricular tachycardia
    Abbreviation("LGA", "HP:0001520"),  # large for gestational age
    Abbreviation("CHL", "HP:0000405"),  # conductive hearing loss
    Abbreviation("VPI", "HP:0000220"),  # velopharyngeal insufficiency
)

# Shorthand for one word (lower-case raw word → the word, as written in labels).
WORD_ABBREVIATIONS: dict[str, str] = {
    "dev": "developmental",
    "devel": "developmental",
    "devt": "development",
    "bilat": "bilateral",
    "abn": "abnormal",
    "abnl": "abnormal",
    "cong": "congenital",
    "resp": "respiratory",
    "sz": "seizure",
    "szs": "seizures",
    "hypopig": "hypopigmented",
    "hyperpig": "hyperpigmented",
    "periph": "peripheral",
    "ventric": "ventricular",
}

# HPO synonyms that are also common abbreviations of something else (or of a test): never matched.
AMBIGUOUS_ABBREVIATIONS = frozenset(
    {
        "BO", "RA", "MI", "CP", "RAD", "LFT", "TMD", "S3", "S4", "BPD", "CVI", "LDD", "DDN",
        "UPD", "TIA", "AOP", "CSU", "RBD", "OME", "MEMA", "VMA", "ODD", "GIST",
    }
)  # fmt: skip

# Lay synonyms whose everyday sense is more common in notes than the HPO sense (matching keys).
AMBIGUOUS_WORDS = frozenset(
    {
        "corn", "mole", "cutting", "spinning", "jumping", "hopping", "bouncing", "ordering",
        "oncology", "trance", "piles", "boil", "hostile", "sad", "limp",
        "intoe", "manic", "sleepy", "dull", "cyclic", "cyclical", "whorled", "vaping",
    }
)  # fmt: skip
