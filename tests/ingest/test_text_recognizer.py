"""Concept recognition (dictionary matching) on the tiny release; abbreviations on the real one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocais.ingest.text import ConceptRecognizer, Match
from ocais.ingest.text.abbreviations import CURATED_ABBREVIATIONS, Abbreviation
from ocais.ingest.text.labels import label_variants
from ocais.ingest.text.normalize import label_keys, normalize_word, singular, tokenize

SEIZURE, BTCS, VISION, EYE = "HP:0001250", "HP:0002069", "HP:0000505", "HP:0000478"


@pytest.fixture
def recognizer(tiny_kb: Any) -> ConceptRecognizer:
    return ConceptRecognizer(tiny_kb)


def found(recognizer: ConceptRecognizer, text: str) -> list[tuple[str, str]]:
    """(term id, text[start:end]) of every match: checks the spans point into the text."""
    return [(m.term_id, text[m.start : m.end]) for m in recognizer.find(text)]


def test_spans_are_exact_offsets_into_the_original_text(recognizer: ConceptRecognizer) -> None:
    text = "  On exam:\tBILATERAL Tonic–clonic? no — Bilateral tonic-clonic seizures (x2)."
    [match] = recognizer.find(text)
    assert isinstance(match, Match)
    assert text[match.start : match.end] == "Bilateral tonic-clonic seizures"
    assert (match.term_id, match.label, match.matched) == (
        BTCS,
        "Bilateral tonic-clonic seizure",
        "Bilateral tonic-clonic seizure",
    )


def test_longest_match_wins_over_the_nested_shorter_term(recognizer: ConceptRecognizer) -> None:
    assert found(recognizer, "bilateral tonic-clonic seizure") == [
        (BTCS, "bilateral tonic-clonic seizure")
    ]
    assert found(recognizer, "a grand mal seizure, then a seizure") == [
        (BTCS, "grand mal seizure"),
        (SEIZURE, "seizure"),
    ]


@pytest.mark.parametrize(
    "text",
    ["Seizure", "seizures", "SEIZURES", "Epilepsy", "epilepsies", "the patient's seizure's onset"],
)
def test_case_and_inflection(recognizer: ConceptRecognizer, text: str) -> None:
    assert [term for term, _ in found(recognizer, text)] == [SEIZURE]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bilateral tonic clonic seizures", BTCS),  # hyphen or space
        ("Seizures, bilateral tonic-clonic", BTCS),  # inverted, comma
        ("vision, poor", VISION),
        ("abnormality of the eye", EYE),  # as written
        ("abnormality of eye", EYE),  # stop word dropped
        ("eye abnormality", EYE),  # "X of Y" as "Y X"
        ("abnormal eye", EYE),  # noun as adjective
        ("poor  \n vision", VISION),  # any whitespace
    ],
)
def test_variants(recognizer: ConceptRecognizer, text: str, expected: str) -> None:
    assert [term for term, _ in found(recognizer, text)] == [expected]


def test_no_match_across_sentences_or_list_items(recognizer: ConceptRecognizer) -> None:
    assert found(recognizer, "He is poor. Vision is fine.") == []
    assert found(recognizer, "poor; vision") == []
    # "vision, poor" would be a variant, but "poor vision" is a longer match from "poor"
    assert found(recognizer, "vision, poor vision") == [(VISION, "poor vision")]


def test_words_are_whole_words(recognizer: ConceptRecognizer) -> None:
    assert found(recognizer, "seizuresque epilepsyish poorvision") == []


def test_normalisation_rules() -> None:
    assert normalize_word("Haemorrhages") == normalize_word("hemorrhage")
    assert normalize_word("Oedema") == normalize_word("edema")
    assert normalize_word("behaviours") == normalize_word("behavior")
    assert normalize_word("generalised") == normalize_word("generalized")
    assert normalize_word("Café") == "cafe"
    assert singular("scolioses") == "scoliosis"
    assert singular("anomalies") == "anomaly"
    assert singular("teeth") == "tooth"
    assert singular("vertebrae") == "vertebra"
    assert singular("stenosis") == "stenosis" and singular("loss") == "loss"
    assert label_keys("non-progressive") == label_keys("Nonprogressive") == ["nonprogressive"]
    assert label_keys("Abnormality of the eye") == ["abnormality", "eye"]
    assert [t.key for t in tokenize("a, b.")] == ["a", ",", "b", "."]


def test_label_variants() -> None:
    cache: dict[str, str] = {}
    assert label_variants("Febrile seizure (within 6 years)", cache)[1] == ["febrile", "seizure"]
    assert ["brachydactyly", "type", "c"] in label_variants("Type C brachydactyly", cache)
    assert ["absence", "speech"] in label_variants("Absent speech", cache)
    hypoplasia = label_variants("Hypoplasia of the corpus callosum", cache)
    assert ["corpus", "callosum", "hypoplasia"] in hypoplasia
    assert ["hypoplastic", "corpus", "callosum"] in hypoplasia
    assert ["tonic", "clonic", "seizure"] in label_variants("Seizures, tonic-clonic", cache)


def test_roots_limit_the_dictionary(tiny_kb: Any) -> None:
    everything = ConceptRecognizer(tiny_kb, roots=None)
    eyes_only = ConceptRecognizer(tiny_kb, roots=[EYE])
    assert [m.term_id for m in everything.find("All seizures")] == ["HP:0000001", SEIZURE]
    assert [m.term_id for m in eyes_only.find("seizures and poor vision")] == [VISION]
    assert eyes_only.n_keys < everything.n_keys
    assert everything.knowledge_version == "2099-01-01"
    assert everything.release == tiny_kb.release


def test_abbreviations_are_case_sensitive_and_use_context(tiny_kb: Any) -> None:
    seizure_words = frozenset({"eeg", "seizure", "epilepsy"})
    recognizer = ConceptRecognizer(
        tiny_kb,
        abbreviations=[
            Abbreviation("PV", VISION, forbids=frozenset({"vein"})),
            Abbreviation("GTC", BTCS, requires=seizure_words),
            Abbreviation("GTC", SEIZURE, requires=frozenset({"fit"})),
            Abbreviation("XX", "HP:9999999"),  # not in this release: ignored
        ],
    )
    assert found(recognizer, "She has PV.") == [(VISION, "PV")]
    assert found(recognizer, "She has pv.") == []
    assert found(recognizer, "Two PVs noted") == [(VISION, "PVs")]
    assert found(recognizer, "the PV vein") == []
    assert found(recognizer, "GTC on EEG") == [(BTCS, "GTC")]
    assert found(recognizer, "one GTC fit") == [(SEIZURE, "GTC")]
    assert found(recognizer, "GTC stock price") == []  # no context: skipped
    assert found(recognizer, "GTC. Her EEG was normal.") == []  # context is the sentence


def test_dictionary_is_cached_beside_the_knowledge_cache(tiny_kb: Any, tmp_path: Path) -> None:
    first = ConceptRecognizer(tiny_kb)
    assert not first.from_cache and first.cache_file is not None and first.cache_file.is_file()
    assert first.cache_file.parent == Path(tiny_kb.cache_dir).parent / "text"
    again = ConceptRecognizer(tiny_kb)
    assert again.from_cache and again.n_keys == first.n_keys
    text = "Grand mal seizures, PV and vision, poor"
    assert again.find(text) == first.find(text)
    other_roots = ConceptRecognizer(tiny_kb, roots=[EYE])  # other options: another file
    assert other_roots.cache_file != first.cache_file and not other_roots.from_cache
    first.cache_file.write_text("{not json", encoding="utf-8")  # damaged: rebuilt
    rebuilt = ConceptRecognizer(tiny_kb)
    assert not rebuilt.from_cache and rebuilt.find(text) == first.find(text)
    explicit = ConceptRecognizer(tiny_kb, cache_dir=tmp_path / "elsewhere")
    assert explicit.cache_file is not None and explicit.cache_file.parent == tmp_path / "elsewhere"


@pytest.mark.slow
def test_real_release_abbreviations_and_curated_ids(real_kb: Any) -> None:
    for entry in CURATED_ABBREVIATIONS:
        assert real_kb.resolve_id(entry.term_id) == entry.term_id, entry
    recognizer = ConceptRecognizer(real_kb)
    assert recognizer.build_seconds < 10
    assert found(recognizer, "Echo showed a VSD and an ASD.") == [
        ("HP:0001629", "VSD"),
        ("HP:0001631", "ASD"),
    ]
    assert found(recognizer, "He has ASD and ADHD.") == [
        ("HP:0000729", "ASD"),
        ("HP:0007018", "ADHD"),
    ]
    assert found(recognizer, "ASD.") == []  # ambiguous without context
    assert found(recognizer, "Patient ID 1234, mild ID.") == [("HP:0001249", "ID")]
    assert found(recognizer, "Corn and a mole were removed.") == []  # lay senses skipped
    assert [m.term_id for m in recognizer.find("Mild, left-sided, frequent")] == []  # modifiers


@pytest.mark.slow
def test_real_release_is_fast(real_kb: Any) -> None:
    import time

    recognizer = ConceptRecognizer(real_kb)
    sentence = "She had generalized tonic-clonic seizures, hypotonia and café-au-lait spots."
    assert [m.term_id for m in recognizer.find(sentence)] == [
        "HP:0002069",
        "HP:0001252",
        "HP:0000957",
    ]
    started = time.perf_counter()
    for _ in range(1000):
        recognizer.find(sentence)
    assert (time.perf_counter() - started) / 1000 < 1e-3  # well under a millisecond
