"""Assertion status (NegEx/ConText), observations, input checks and ``extract_phenotypes``."""

from __future__ import annotations

from typing import Any

import pytest

from ocais.errors import InputTooLargeError, OcaisError
from ocais.ingest.text import (
    DEFAULT_MAX_CHARS,
    ConceptRecognizer,
    ContextRules,
    Mention,
    extract_phenotypes,
    to_observations,
)
from ocais.ingest.text.context import sentence_bounds
from ocais.ingest.text.triggers import NEGATED, TRIGGERS, Trigger
from ocais.schemas import PhenotypeObservation

SEIZURE, BTCS, VISION = "HP:0001250", "HP:0002069", "HP:0000505"


@pytest.fixture
def recognizer(tiny_kb: Any) -> ConceptRecognizer:
    return ConceptRecognizer(tiny_kb)


def statuses(recognizer: ConceptRecognizer, text: str) -> list[tuple[str, str]]:
    return [(m.id, m.status) for m in extract_phenotypes(text, recognizer)]


def test_negation_scope_ends_at_a_conjunction(recognizer: ConceptRecognizer) -> None:
    mentions = extract_phenotypes("no seizures but poor vision", recognizer)
    assert [(m.id, m.excluded, m.family, m.uncertain) for m in mentions] == [
        (SEIZURE, True, False, False),
        (VISION, False, False, False),
    ]
    assert mentions[0].text == "seizures" and mentions[0].start == 3 and mentions[0].end == 11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No seizures.", ["excluded"]),
        ("He denies seizures or poor vision.", ["excluded", "excluded"]),  # a list
        ("There was no evidence of seizures, epilepsy or poor vision.", ["excluded"] * 3),
        ("Without poor vision.", ["excluded"]),
        ("Negative for seizures.", ["excluded"]),
        ("She has not had seizures.", ["excluded"]),
        ("Never had a grand mal seizure.", ["excluded"]),
        ("No seizures. Poor vision.", ["excluded", "observed"]),  # sentence end
        ("No seizures; poor vision", ["excluded", "observed"]),
        ("Denies seizures, however poor vision.", ["excluded", "observed"]),
        ("He denies seizures and has poor vision.", ["excluded", "observed"]),
        ("No fever, cough, headache, rash, fatigue or recent travel; epilepsy.", ["observed"]),
        ("No one in clinic today had time to discuss the history of epilepsy", ["observed"]),
    ],
)
def test_negation(recognizer: ConceptRecognizer, text: str, expected: list[str]) -> None:
    assert [status for _, status in statuses(recognizer, text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seizures were absent.", ["excluded"]),
        ("Seizures and poor vision were not observed.", ["excluded", "excluded"]),
        ("Epilepsy has been ruled out.", ["excluded"]),
        ("Seizures: none.", ["excluded"]),
        (
            "Seizures began at two years of age, and poor vision was absent.",
            ["observed", "excluded"],
        ),
        ("Seizures are not seen; poor vision is.", ["excluded", "observed"]),
    ],
)
def test_post_triggers(recognizer: ConceptRecognizer, text: str, expected: list[str]) -> None:
    assert [status for _, status in statuses(recognizer, text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No increase in seizures.", "observed"),
        ("Not only seizures.", "observed"),
        ("Walks without difficulty despite poor vision.", "observed"),
        ("Seizures resolved.", "observed"),
        ("No longer has seizures.", "observed"),
        ("Her mother reports seizures.", "observed"),
        ("According to his parents, seizures began at 2.", "observed"),
        ("The parents denied seizures.", "excluded"),
        ("Absent speech; poor vision.", "observed"),  # a trigger word outside any label
    ],
)
def test_pseudo_triggers(recognizer: ConceptRecognizer, text: str, expected: str) -> None:
    assert statuses(recognizer, text)[-1][1] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Family history of epilepsy.",
        "Family history is notable for seizures in his mother.",
        "His mother has epilepsy.",
        "A maternal aunt had grand mal seizures.",
        "Epilepsy in two paternal cousins.",
        "Epilepsy runs in the family.",
        "FHx: seizures.",
        "No family history of seizures.",
    ],
)
def test_family(recognizer: ConceptRecognizer, text: str) -> None:
    [mention] = extract_phenotypes(text, recognizer)
    assert mention.family and mention.status == "family"


def test_family_and_patient_in_one_sentence(recognizer: ConceptRecognizer) -> None:
    text = "His brother has epilepsy and he has poor vision."
    assert statuses(recognizer, text) == [(SEIZURE, "family"), (VISION, "observed")]
    [negated] = extract_phenotypes("His mother has no seizures.", recognizer)
    assert negated.family and negated.excluded
    assert extract_phenotypes("No family history of seizures.", recognizer)[0].excluded


@pytest.mark.parametrize(
    "text",
    [
        "Possible seizures.",
        "Suspected epilepsy.",
        "Seizures are suspected.",
        "Probable grand mal seizure.",
        "She may have epilepsy.",
        "Cannot exclude epilepsy.",
        "Epilepsy cannot be ruled out.",
        "Rule out seizures.",
        "r/o seizures",
        "Questionable poor vision.",
        "Seizures?",
        "?seizures",
        "Does he have seizures?",
        "Epilepsy is unlikely.",
        "Screening for seizures is planned.",
    ],
)
def test_uncertainty(recognizer: ConceptRecognizer, text: str) -> None:
    [mention] = extract_phenotypes(text, recognizer)
    assert mention.uncertain and mention.status == "uncertain"


def test_uncertainty_and_negation_interplay(recognizer: ConceptRecognizer) -> None:
    assert statuses(recognizer, "Denies seizures, possible poor vision.") == [
        (SEIZURE, "excluded"),
        (VISION, "uncertain"),
    ]
    assert statuses(recognizer, "Seizures were suspected, poor vision was confirmed.") == [
        (SEIZURE, "uncertain"),
        (VISION, "observed"),
    ]
    assert statuses(recognizer, "Possible seizures and definite poor vision.") == [
        (SEIZURE, "uncertain"),
        (VISION, "observed"),
    ]
    assert statuses(recognizer, "Screening for seizures was negative.") == [(SEIZURE, "excluded")]
    assert statuses(recognizer, "Seizures? Poor vision.") == [
        (SEIZURE, "uncertain"),
        (VISION, "observed"),
    ]


def test_to_observations_keeps_the_patients_certain_findings(
    recognizer: ConceptRecognizer,
) -> None:
    text = (
        "Seizures and poor vision. No epilepsy. Bilateral tonic-clonic seizures are suspected. "
        "His father has poor vision. Seizures again."
    )
    observations = to_observations(extract_phenotypes(text, recognizer))
    assert observations == [
        PhenotypeObservation(id=SEIZURE, label="Seizure"),
        PhenotypeObservation(id=VISION, label="Visual impairment"),
    ]
    only_negated = to_observations(extract_phenotypes("No poor vision.", recognizer))
    assert only_negated == [
        PhenotypeObservation(id=VISION, label="Visual impairment", excluded=True)
    ]


def test_mention_model(recognizer: ConceptRecognizer) -> None:
    [mention] = extract_phenotypes("Grand mal seizures.", recognizer)
    assert mention.model_dump() == {
        "id": BTCS,
        "label": "Bilateral tonic-clonic seizure",
        "text": "Grand mal seizures",
        "start": 0,
        "end": 18,
        "excluded": False,
        "family": False,
        "uncertain": False,
        "matched": "Grand mal seizure",
        "confidence": 1.0,
    }
    with pytest.raises(ValueError, match="frozen"):
        mention.excluded = True  # type: ignore[misc]
    with pytest.raises(ValueError):
        Mention.model_validate({**mention.model_dump(), "extra": 1})


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u00a0"])
def test_empty_text_gives_no_mentions(recognizer: ConceptRecognizer, text: str) -> None:
    assert extract_phenotypes(text, recognizer) == []


def test_too_large_and_wrong_type(recognizer: ConceptRecognizer) -> None:
    with pytest.raises(InputTooLargeError, match="100,001 characters") as caught:
        extract_phenotypes("a" * (DEFAULT_MAX_CHARS + 1), recognizer)
    assert isinstance(caught.value, OcaisError) and caught.value.hint
    with pytest.raises(InputTooLargeError):
        extract_phenotypes("seizures", recognizer, max_chars=5)
    with pytest.raises(TypeError, match="bytes"):
        extract_phenotypes(b"seizures", recognizer)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        extract_phenotypes(None, recognizer)  # type: ignore[arg-type]


def test_large_note_at_the_limit_is_fast(recognizer: ConceptRecognizer) -> None:
    sentence = "No seizures, but poor vision; his mother has epilepsy. Possible seizures? "
    text = (sentence * (DEFAULT_MAX_CHARS // len(sentence)))[:DEFAULT_MAX_CHARS]
    mentions = extract_phenotypes(text, recognizer)
    assert len(mentions) >= 4 * (DEFAULT_MAX_CHARS // len(sentence)) - 4
    assert {m.status for m in mentions} == {"excluded", "observed", "family", "uncertain"}


@pytest.mark.parametrize(
    "text",
    [
        "Le patient présente des crises d'épilepsie et une déficience visuelle.",
        "Der Patient hat Krampfanfälle und eine Sehbehinderung; keine Epilepsie in der Familie.",
        "患者有癫痫发作。",
    ],
)
def test_other_languages_are_read_with_hpo_translations(
    recognizer: ConceptRecognizer, text: str
) -> None:
    # the tiny release has HPO's translations of Seizure ("Epilépsie", "Krampfanfall", "癫痫发作")
    mentions = extract_phenotypes(text, recognizer)
    assert [m.id for m in mentions] and {m.id for m in mentions} <= {SEIZURE, VISION}


def test_takes_a_knowledge_base_too(tiny_kb: Any) -> None:
    assert [m.id for m in extract_phenotypes("Epilepsy.", tiny_kb)] == [SEIZURE]


def test_custom_rules(recognizer: ConceptRecognizer) -> None:
    rules = ContextRules([*TRIGGERS, Trigger("sans", "pre", frozenset({NEGATED}))])
    [mention] = extract_phenotypes("sans seizures", recognizer, rules=rules)
    assert mention.excluded
    assert not extract_phenotypes("sans seizures", recognizer)[0].excluded


def test_sentence_bounds_skip_abbreviations() -> None:
    text = "Seen by Dr. Smith, e.g. today. Next"
    assert sentence_bounds(text) == [len("Seen by Dr. Smith, e.g. today."), len(text)]
