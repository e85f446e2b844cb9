"""Tokens for dictionary matching: one tokenizer and one word normaliser for labels and text alike.

Both sides go through the same functions, so a rule only has to map variants to the same key, not
to a correct English lemma: ``"seizures"`` and ``"Seizure"`` both become ``"seizure"``,
``"haemorrhage"`` and ``"hemorrhage"`` both ``"hemorrhage"``, ``"non-progressive"`` and
``"nonprogressive"`` both ``"nonprogressive"``. Hyphens, slashes and quotes separate words;
``, . ; : ! ? ( ) [ ]`` are tokens of their own, so a match never runs across a sentence or a list
item unless the label itself has that comma.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"(?P<word>[^\W_]+(?:['’][^\W_]+)*)|(?P<punct>[,.;:!?()\[\]])")

# Words skipped inside labels and inside text ("abnormality of the eye" = "abnormality eye").
# Only words whose removal never changes a label's meaning: not "a" ("vitamin A"), "and", "or",
# "with", "without", "no", "not".
SKIPPED_WORDS = frozenset({"the", "of", "an", "his", "her", "their", "its"})

# A hyphen after these joins the words: "non-progressive" and "nonprogressive" are one token.
HYPHEN_PREFIXES = frozenset(
    {
        "non", "hypo", "hyper", "pre", "post", "intra", "inter", "extra", "sub", "supra", "peri",
        "para", "anti", "micro", "macro", "mega", "poly", "oligo", "hemi", "multi", "bi", "tri",
        "uni", "co", "de", "dys", "ante", "retro", "pseudo", "neo", "over", "under", "mid",
        "gastro",
    }
)  # fmt: skip

_IRREGULAR = {
    "teeth": "tooth",
    "feet": "foot",
    "children": "child",
    "men": "man",
    "women": "woman",
    "phalanges": "phalanx",
    "apices": "apex",
    "vertices": "vertex",
    "appendices": "appendix",
    "indices": "index",
    "diverticula": "diverticulum",
    "septa": "septum",
    "naevi": "nevus",
    "nevi": "nevus",
    "naevus": "nevus",
    "foci": "focus",
    "calculi": "calculus",
    "thrombi": "thrombus",
    "emboli": "embolus",
    "bronchi": "bronchus",
    "nuclei": "nucleus",
    "stimuli": "stimulus",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
    "fourth": "4th",
    "fifth": "5th",
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "vi": "6",
}
_KEEP_FINAL_S = ("ss", "us", "is")
_ES_PLURALS = ("sses", "xes", "ches", "shes", "zzes")
_SES_PLURALS = ("oses", "yses", "eses", "iases", "schises")
_BRITISH = (
    (re.compile(r"(?<=\w)ae(?=[bcdfghjklmnpqrstvwxz])"), "e"),  # haem-, anaem-, paed-, gynaec-
    (re.compile(r"^oe|oe(?=soph)"), "e"),  # oedema, (gastro)oesophageal
    (re.compile(r"oea"), "ea"),  # diarrhoea, amenorrhoea
    (re.compile(r"^foet"), "fet"),
    (re.compile(r"^coel"), "cel"),
    (re.compile(r"(?<=\w{3})our$"), "or"),  # behaviour, tumour, colour (not four, hour)
    (re.compile(r"(?<=\w{3})is(ation|ed|es|e|ing)$"), r"iz\1"),  # generalised, localisation
    (re.compile(r"(?<=\w{3})tre$"), "ter"),  # centre, fibre
)


def singular(word: str) -> str:
    """A casefolded word's singular form by simple English (and a few Latin) plural rules."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(_SES_PLURALS) and len(word) >= 6:
        return word[:-2] + "is"  # stenoses, scolioses, analyses, ageneses, lithiases
    if word.endswith(_ES_PLURALS):
        return word[:-2]
    if word.endswith("ae") and len(word) > 4:
        return word[:-1]
    if word.endswith("s") and not word.endswith(_KEEP_FINAL_S):
        return word[:-1]
    return word


def normalize_word(word: str) -> str:
    """The matching key of one word: casefolded, accents and possessive dropped, singular, US
    spelling."""
    text = word.casefold().replace("’", "'")
    if not text.isascii():  # café → cafe, Sjögren → sjogren
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    if text.endswith("'s"):
        text = text[:-2]
    text = text.replace("'", "")
    text = singular(text)
    for pattern, replacement in _BRITISH:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a text: its matching key and its character span in the original text."""

    key: str
    start: int
    end: int
    raw: str


def tokenize(
    text: str, cache: dict[str, str] | None = None, *, keep_skipped: bool = False
) -> list[Token]:
    """Tokens of ``text`` with spans into it; skipped words are dropped, hyphen prefixes joined.

    ``cache`` memoizes ``normalize_word`` (owned by the caller, e.g. one recognizer).
    """
    memo = cache if cache is not None else {}
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        raw = match.group(0)
        if match.lastgroup == "punct":
            tokens.append(Token(raw, match.start(), match.end(), raw))
            continue
        key = memo.get(raw)
        if key is None:
            key = memo[raw] = normalize_word(raw)
        previous = tokens[-1] if tokens else None
        if (
            previous is not None
            and previous.key in HYPHEN_PREFIXES
            and text[previous.end : match.start()] == "-"
        ):
            joined = previous.raw + raw
            tokens[-1] = Token(normalize_word(joined), previous.start, match.end(), joined)
            continue
        if key in SKIPPED_WORDS and not keep_skipped:
            continue
        tokens.append(Token(key, match.start(), match.end(), raw))
    return tokens


def label_keys(
    label: str, cache: dict[str, str] | None = None, *, keep_skipped: bool = False
) -> list[str]:
    """The token keys of a dictionary label (same rules as text)."""
    return [t.key for t in tokenize(label, cache, keep_skipped=keep_skipped)]
