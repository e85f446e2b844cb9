"""Sentence templates for the synthetic evaluation set (data only).

``{a}``, ``{b}``, ``{c}`` are phenotype phrases (``{A}``: capitalized, at a sentence start),
``{age}`` a number. Each template lists the status of each slot in order. Distractors mention no
phenotype at all; several carry trigger words ("no", "denies", "mother reports") on purpose.
"""

from __future__ import annotations

from typing import Final

Template = tuple[str, tuple[str, ...]]

OBSERVED: Final[tuple[Template, ...]] = (
    ("The patient presented with {a}.", ("observed",)),
    ("Examination revealed {a}.", ("observed",)),
    ("She has a history of {a}.", ("observed",)),
    ("He has a history of {a}.", ("observed",)),
    ("{A} was noted at the age of {age} years.", ("observed",)),
    ("At {age} months she developed {a}.", ("observed",)),
    ("Clinical findings include {a}.", ("observed",)),
    ("{A} has been present since infancy.", ("observed",)),
    ("Her main problem is {a}.", ("observed",)),
    ("The patient presented with {a} and {b}.", ("observed", "observed")),
    ("On examination, {a} and {b} were observed.", ("observed", "observed")),
    ("Clinical features included {a}, {b} and {c}.", ("observed", "observed", "observed")),
    ("He shows {a} as well as {b}.", ("observed", "observed")),
    ("Physical examination was remarkable for {a}.", ("observed",)),
)
EXCLUDED: Final[tuple[Template, ...]] = (
    ("No {a} was observed.", ("excluded",)),
    ("He denies {a}.", ("excluded",)),
    ("There was no evidence of {a} or {b}.", ("excluded", "excluded")),
    ("{A} was absent.", ("excluded",)),
    ("She did not have {a}.", ("excluded",)),
    ("Examination was negative for {a}.", ("excluded",)),
    ("{A} and {b} were not observed.", ("excluded", "excluded")),
    ("{A} was ruled out.", ("excluded",)),
    ("The patient has no {a}.", ("excluded",)),
    ("There is no {a}, {b} or {c}.", ("excluded", "excluded", "excluded")),
)
FAMILY: Final[tuple[Template, ...]] = (
    ("Family history is notable for {a} in his mother.", ("family",)),
    ("Her father has {a}.", ("family",)),
    ("There is a family history of {a}.", ("family",)),
    ("His older brother was diagnosed with {a}.", ("family",)),
    ("{A} was reported in a maternal aunt.", ("family",)),
    ("Her sister had {a} in childhood.", ("family",)),
    ("A paternal cousin also has {a} and {b}.", ("family", "family")),
)
UNCERTAIN: Final[tuple[Template, ...]] = (
    ("Possible {a}.", ("uncertain",)),
    ("{A} is suspected.", ("uncertain",)),
    ("Cannot exclude {a}.", ("uncertain",)),
    ("There is concern for {a}.", ("uncertain",)),
    ("Questionable {a} on examination.", ("uncertain",)),
    ("Rule out {a}.", ("uncertain",)),
    ("Findings are suggestive of {a}.", ("uncertain",)),
    ("She may have {a}.", ("uncertain",)),
)
MIXED: Final[tuple[Template, ...]] = (
    ("The patient presented with {a} but no {b}.", ("observed", "excluded")),
    ("No {a}, but {b} was present.", ("excluded", "observed")),
    ("She has {a}; her mother has {b}.", ("observed", "family")),
    ("He denies {a}, however {b} was noted.", ("excluded", "observed")),
    ("{A} was confirmed, and {b} is suspected.", ("observed", "uncertain")),
    ("There was {a} without {b}.", ("observed", "excluded")),
)
DISTRACTORS: Final[tuple[str, ...]] = (
    "The patient was seen in clinic today.",
    "Vital signs were within normal limits.",
    "Informed consent was obtained from the parents.",
    "He lives with his parents and two siblings.",
    "Follow-up is scheduled in six months.",
    "Genetic testing was performed on a blood sample.",
    "Exome sequencing was requested.",
    "The family was counseled about the results.",
    "No medications were prescribed at this visit.",
    "She denies any recent travel.",
    "Her mother reports that she sleeps well.",
    "The referral letter was reviewed.",
    "He attends a regular school with support.",
    "The pregnancy was uneventful and delivery was at term.",
    "Parents are healthy and nonconsanguineous.",
    "A second opinion was requested.",
)

# Held out, batch 1: written after the rules were tuned on the templates above. First score
# (overall F1 0.922; observed 0.925, excluded 0.963, family 0.939, uncertain 0.842); then three
# rules were fixed on it ("may represent", "parents denied", "X was suspected, Y ..."), so it is
# no longer blind.
HELDOUT_1: Final[tuple[Template, ...]] = (
    ("Her examination was significant for {a}.", ("observed",)),
    ("{A} became apparent during the second year of life.", ("observed",)),
    ("He was found to have {a} and {b} at the age of {age}.", ("observed", "observed")),
    ("Additional features were {a}, {b}, and {c}.", ("observed", "observed", "observed")),
    ("The proband exhibits {a}.", ("observed",)),
    ("MRI of the brain demonstrated {a}.", ("observed",)),
    ("Notable findings: {a}; {b}.", ("observed", "observed")),
    ("There were no signs of {a}.", ("excluded",)),
    ("She never had {a}.", ("excluded",)),
    ("{A} was not present.", ("excluded",)),
    ("Neither {a} nor {b} was reported.", ("excluded", "excluded")),
    ("The parents denied any {a}.", ("excluded",)),
    ("Evaluation did not reveal {a}.", ("excluded",)),
    ("She is free of {a}.", ("excluded",)),
    ("He has no history of {a} or {b}.", ("excluded", "excluded")),
    ("Her maternal grandmother had {a}.", ("family",)),
    ("{A} runs in the family.", ("family",)),
    ("The patient's younger sister also shows {a}.", ("family",)),
    ("Family history: {a} in two paternal uncles.", ("family",)),
    ("{A} cannot be ruled out.", ("uncertain",)),
    ("A diagnosis of {a} was considered.", ("uncertain",)),
    ("Probable {a}.", ("uncertain",)),
    ("The findings may represent {a}.", ("uncertain",)),
    ("We suspect {a}.", ("uncertain",)),
    ("Evaluate for {a}.", ("uncertain",)),
    ("He has {a} but not {b}.", ("observed", "excluded")),
    ("Although {a} was initially suspected, {b} was confirmed.", ("uncertain", "observed")),
    ("Her brother has {a}, while she has {b}.", ("family", "observed")),
    ("No {a}; {b} was observed.", ("excluded", "observed")),
)

# Held out, batch 2: written after those fixes. First score (overall F1 0.822; observed 0.823,
# excluded 0.940, family 1.0, uncertain 0.555); then four rules were fixed on it ("may have had",
# "definite", "whether she has", "screening for X was negative"); no longer blind.
HELDOUT_2: Final[tuple[Template, ...]] = (
    ("Over the past year she has developed {a}.", ("observed",)),
    ("Exam notable for {a} and mild {b}.", ("observed", "observed")),
    ("He was diagnosed with {a} at {age} years of age.", ("observed",)),
    ("Imaging confirmed {a}.", ("observed",)),
    ("The child is known to have {a}, {b} and {c}.", ("observed", "observed", "observed")),
    ("No history of {a}.", ("excluded",)),
    ("{A}: none.", ("excluded",)),
    ("There is no clinical evidence of {a} at present.", ("excluded",)),
    ("Screening for {a} was negative.", ("excluded",)),
    ("She does not have {a} or {b}.", ("excluded", "excluded")),
    ("Her paternal uncle died of {a}.", ("family",)),
    ("Both of his sisters have {a}.", ("family",)),
    ("Mother with {a}.", ("family",)),
    ("{A} is likely.", ("uncertain",)),
    ("Suspicion of {a}, to be confirmed by imaging.", ("uncertain",)),
    ("It is unclear whether she has {a}.", ("uncertain",)),
    ("He may have had {a} as an infant.", ("uncertain",)),
    ("She has {a}, but her brother has {b}.", ("observed", "family")),
    ("{A} was excluded; however, {b} was present.", ("excluded", "observed")),
    ("Possible {a} and definite {b}.", ("uncertain", "observed")),
)

# Batch 3: written after those fixes; never tuned on. Its score is the blind estimate.
BLIND: Final[tuple[Template, ...]] = (
    ("Since birth, {a} has been evident.", ("observed",)),
    ("Her parents noticed {a} when she was {age} months old.", ("observed",)),
    ("Neurological examination showed {a} and {b}.", ("observed", "observed")),
    ("Echocardiography revealed {a}.", ("observed",)),
    ("Current problems include {a} as well as {b}.", ("observed", "observed")),
    ("{A} (confirmed on MRI).", ("observed",)),
    ("He continues to have {a}.", ("observed",)),
    ("He has never experienced {a}.", ("excluded",)),
    ("Negative for {a}, {b}, and {c}.", ("excluded", "excluded", "excluded")),
    ("Without evidence of {a}.", ("excluded",)),
    ("Examination did not show {a}.", ("excluded",)),
    ("{A} and {b} were both absent.", ("excluded", "excluded")),
    ("There are no features of {a}.", ("excluded",)),
    ("A maternal cousin had {a}.", ("family",)),
    ("The father is affected by {a}.", ("family",)),
    ("{A} was present in several relatives.", ("family",)),
    ("Differential diagnosis includes {a}.", ("uncertain",)),
    ("{A} is possible but unconfirmed.", ("uncertain",)),
    ("Follow-up to evaluate for {a}.", ("uncertain",)),
    ("Features suspicious for {a}.", ("uncertain",)),
    ("She has {a}, not {b}.", ("observed", "excluded")),
    ("While {a} was absent, {b} was noted.", ("excluded", "observed")),
    ("His sister has {a}; he has {b}.", ("family", "observed")),
)
