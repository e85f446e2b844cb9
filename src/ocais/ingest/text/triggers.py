"""Trigger phrases for assertion status (data only), after NegEx and ConText.

NegEx: Chapman WW, Bridewell W, Hanbury P, Cooper GF, Buchanan BG. A simple algorithm for
identifying negated findings and diseases in discharge summaries. J Biomed Inform
2001;34(5):301-310. ConText: Harkema H, Dowling JN, Thornblade T, Chapman WW. ConText: an algorithm
for determining negation, experiencer, and temporal status from clinical reports. J Biomed Inform
2009;42(5):839-851.

A phrase is a regular-expression fragment matched case-insensitively between word boundaries; a
space stands for any run of whitespace. Where phrases overlap, the longest wins, so a pseudo-
trigger ("no increase", "not only", "without difficulty") or a longer phrase of another kind
("not ruled out" is uncertainty, "ruled out" negation) hides the shorter one.

Decisions (documented, tested):
- "ruled out", "excluded", "was absent" negate; "rule out", "r/o", "to exclude", "cannot exclude",
  "not ruled out" make the finding uncertain (a work-up, not a result).
- "unlikely" is uncertainty, not negation: the finding is left out rather than asserted absent.
- "resolved", "no longer" and "no further" do not negate: the patient had the finding, and an HPO
  phenotype is a lifetime feature.
- A relative ("his mother has …", "… in his mother") makes a mention the family's; a relative who
  reports ("mother reports", "parents denied", "per her parents", "according to his father")
  does not.
- "consistent with" is certain, "compatible with" uncertain; "definite", "confirmed" end the
  scope of an uncertainty ("possible X and definite Y").
- A verb that asserts a new finding ends negation and uncertainty only after "and" ("denies
  seizures and has poor vision"), not after a subject alone ("unclear whether she has X").
- Negation stated after a finding wins over uncertainty before it: "screening for X was
  negative" is excluded (a result beats the question).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NEGATED = "negated"
UNCERTAIN = "uncertain"
FAMILY = "family"
CATEGORIES = (NEGATED, UNCERTAIN, FAMILY)

# pre/post: the phrase modifies findings after/before it; pseudo: a phrase that looks like a
# trigger but is none; terminate: ends the scope of the listed categories (pre and post);
# terminate-pre: ends only the scope of pre-triggers (post-triggers sit behind auxiliaries).
Direction = Literal["pre", "post", "pseudo", "terminate", "terminate-pre"]


@dataclass(frozen=True)
class Trigger:
    pattern: str
    direction: Direction
    categories: frozenset[str]


def _group(direction: Direction, categories: tuple[str, ...], *phrases: str) -> list[Trigger]:
    return [Trigger(p, direction, frozenset(categories)) for p in phrases]


_RELATIVE = (
    r"(?:(?:maternal|paternal|older|younger|elder|big|little|twin|half|step|great)[\s-]+)*"
    r"(?:mother|father|parents?|sisters?|brothers?|siblings?|sibs?|aunts?|uncles?|cousins?"
    r"|grandmothers?|grandfathers?|grandparents?|nieces?|nephews?|sons?|daughters?|mom|dad|mum"
    r"|twins?|relatives?|family members?)"
)
_DETERMINER = r"(?:(?:his|her|their|the|a|an|one|two|three|several|both|many|some|its) )?"
_REPORTING = (
    r"(?:reports?|reported|states?|stated|notes?|noted|says|said|describes?|described|noticed"
    r"|denies|denied|deny|confirms?|confirmed|mentions?|mentioned|complains?|complained"
    r"|observed|is concerned|was concerned|were concerned|brought|worries|worried|thinks?"
    r"|believes?|feels?|recalls?|recounts?|explains?|explained)"
)
_FAMILY_HISTORY = r"(?:family history|family hx|fhx|fh)"
_PATIENT = r"(?:he|she|the patient|the child|our patient|the proband)"
_ASSERTING = r"(?:has|had|have|shows|showed|presents|presented|developed|exhibits|reports)"

TRIGGERS: tuple[Trigger, ...] = (
    *_group(
        "pre", (NEGATED,),
        "no", "not", "denies", "denied", "deny", "denying", "without", "w/o", "negative for",
        "neg for", "absence of", "free of", "free from", "no evidence of", "no evidence for",
        "no signs? of", "no symptoms? of", "no history of", "no h/o", "no hx of", "no known",
        "never", "never had", "never developed", "never experienced", "ruled out", "rules out",
        "fails to reveal", "failed to reveal", "failed to show", "did not show",
        "does not show", "did not reveal", "did not have", "does not have", "doesn't have",
        "didn't have", "has not had", "have not had", "hasn't had", "haven't had", "not had",
        "not have", "did not exhibit", "not demonstrate", "not exhibit", "lack of", "lacks",
        "lacked", "lacking", "nor", "neither", "unremarkable for", "with no",
    ),
    *_group(
        "post", (NEGATED,),
        "absent", "not seen", "not observed", "not present", "not noted", "not detected",
        "not found", "not identified", "not evident", "not reported", "not apparent",
        "not appreciated", "not visualized", "not demonstrated", "not shown", "not confirmed",
        "ruled out", "excluded", "negative", "none", "denied",
    ),
    *_group(
        "pre", (UNCERTAIN,),
        "possible", "possibly", "suspected", "suspect", "suspicion of", "suspicious for",
        "suspicious of", "probable", "probably", "likely", "most likely", "may have",
        "might have", "may have had", "might have had", "could have had", "may be", "might be",
        "could be", "could have", "cannot exclude",
        "can not exclude", "can't exclude", "cannot rule out", "can not rule out",
        "can't rule out", "could not rule out", "questionable", "question of", "query",
        "concern for", "concerning for", "worrisome for", "rule out", "r/o", "evaluate for",
        "evaluation for", "evaluated for", "to exclude", "to rule out", "work-up for",
        "workup for", "differential diagnosis", "differential includes", "ddx", "presumed",
        "presumptive", "equivocal", "suggestive of", "suggests", "at risk for", "at risk of",
        "risk of", "risk for", "screening for", "screen for", "screened for", "tested for",
        "testing for", "monitor for", "monitoring for", "watch for", "if", "in case of",
        "unclear if", "unclear whether", "uncertain if", "uncertain whether", "may represent",
        "might represent", "could represent", "may reflect", "might reflect", "may indicate",
        "possibly representing", "we suspect", "is suspected to have", "compatible with",
        "not certain whether", "not sure if", "whether", "unlikely", "unlikely to have",
    ),
    *_group(
        "post", (UNCERTAIN,),
        "suspected", "possible", "likely", "unlikely", "questionable", "cannot be excluded",
        "can not be excluded", "could not be excluded", "can't be excluded", "not excluded",
        "not ruled out", "cannot be ruled out", "could not be ruled out", "can not be ruled out",
        "can't be ruled out", "not be ruled out", "not been ruled out", "not been excluded",
        "was considered", "is considered", "is a possibility", "was a possibility",
        "to be ruled out", "to be excluded", "remains possible", "uncertain", "unclear",
        "questioned", "pending", "was queried", "is queried",
    ),
    *_group(
        "pre", (FAMILY,),
        _RELATIVE,
        rf"{_FAMILY_HISTORY}(?: (?:is|was))?(?: (?:notable|significant|positive|remarkable))?"
        r"(?: (?:for|of|includes|included))?",
        r"(?:strong|positive) family history(?: of| for)?",
        r"family members? with",
    ),
    *_group(
        "post", (FAMILY,),
        rf"in {_DETERMINER}{_RELATIVE}",
        r"(?:runs )?in the family",
        r"in (?:several |other |many )?family members",
    ),
    *_group(
        "pre", (NEGATED, FAMILY),
        rf"no (?:known )?{_FAMILY_HISTORY}(?: of| for)?",
        rf"{_FAMILY_HISTORY}(?: (?:is|was))? (?:negative|unremarkable|noncontributory) for",
        r"negative family history(?: of| for)?",
    ),
    *_group(
        "pseudo", (),
        "no increase", "no decrease", "no change", "no significant change", "no interval change",
        "not only", "not necessarily", "no further", "no longer", "without difficulty",
        "without any difficulty", "not cause", "not extend", "gram negative", "no doubt",
        "no question", "not drain", "if any", "even if",
        # the relative alone (look-ahead), so that "parents denied X" is still a negation
        rf"{_RELATIVE}(?= {_REPORTING}\b)",
        rf"(?:his|her|their|the) {_RELATIVE}(?= {_REPORTING}\b)",
        rf"(?:per|according to|as reported by|by) {_DETERMINER}{_RELATIVE}",
    ),
    *_group(
        "terminate", CATEGORIES,
        "but", "however", "although", "though", "yet", "except", "apart from", "aside from",
        "whereas", "while", "which", "nevertheless", "other than", "besides", "instead",
    ),
    *_group(
        "terminate-pre", (NEGATED, UNCERTAIN),
        rf"and {_ASSERTING}",
        "shows", "showed", "presents", "presented", "developed", "exhibits", "exhibited",
        "demonstrates", "demonstrated", "displays", "displayed", "reports", "reported",
    ),
    *_group(
        "terminate-pre", (UNCERTAIN,),
        "definite", "definitely", "confirmed", "proven", "certain", "established",
    ),
    *_group(
        "terminate-pre", CATEGORIES,
        rf"and {_PATIENT} {_ASSERTING}",  # "his brother has X and he has Y"
    ),
    *_group(
        "terminate-pre", (FAMILY,),
        "he", "she", "the patient", "our patient", "this patient", "the proband", "proband",
        "the child", "the boy", "the girl", "the infant", "index case", "himself", "herself",
    ),
)  # fmt: skip
