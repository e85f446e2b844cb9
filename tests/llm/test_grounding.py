"""Grounding LLM disease answers to knowledge-base ids (ocais.llm.grounding).

Measured on the real knowledge base (12,687 entries + 20,548 MONDO labels, 23,687 distinct
normalized names; CPU of the development container): building the grounder takes 1.1-1.7 s;
one ``ground`` takes about 0.02 ms for an exact or normalized name (0.07 ms on average over a
mixed list) and about 0.25-0.6 ms when it falls through to the similarity search.
"""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

from ocais.llm.grounding import DiseaseGrounder, Grounding, grounder_for, normalize
from tests.conftest import write_tiny_release

MARFAN = "MONDO:0007947"
TURNER = "MONDO:0019499"
CYSTIC_FIBROSIS = "MONDO:0009061"


@pytest.fixture(scope="module")
def grounder(real_kb: Any) -> DiseaseGrounder:
    return grounder_for(real_kb)


# --- normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Turner's syndrome", "turner syndrome"),
        ("Turner’s Syndrome", "turner syndrome"),
        ("Marfan-syndrome", "marfan syndrome"),
        ("Neurofibromatosis, type II", "neurofibromatosis type 2"),
        ("Progressive familial heart block, type IB", "progressive familial heart block type 1b"),
        ("Behçet disease", "behcet disease"),
        ("Åland Islands eye disease", "aland islands eye disease"),
        ("α-thalassemia", "alpha thalassemia"),
        ("X-linked", "x linked"),
        ("Vitamin D-dependent rickets, type 1A", "vitamin d dependent rickets type 1a"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --- the real knowledge base -----------------------------------------------------------------


def test_marfan_exact(grounder: DiseaseGrounder, real_kb: Any) -> None:
    found = grounder.ground("Marfan syndrome")
    assert found.grounded
    assert found.method == "exact"
    assert found.score == 1.0
    assert found.group_id == MARFAN
    assert found.disease_id is not None and found.disease_id.startswith("OMIM:")
    assert found.disease_id in real_kb.group_members(MARFAN)
    assert found.label == "Marfan syndrome"
    assert found.text == "Marfan syndrome"


@pytest.mark.parametrize(
    "text",
    [
        "marfan's syndrome",
        "Marfan-syndrome",
        "Marfan’s Syndrome",
        "MARFAN SYNDROME",
        "  Marfan   syndrome. ",
        "1. **Marfan syndrome**",
        "Marfan",
        "Marfan disease",
    ],
)
def test_marfan_spellings(grounder: DiseaseGrounder, text: str) -> None:
    found = grounder.ground(text)
    assert found.group_id == MARFAN, found
    assert found.method in ("exact", "normalized")
    assert found.score == 1.0
    assert found.text == text


@pytest.mark.parametrize(
    ("text", "disease_id"),
    [
        ("OMIM:154700", "OMIM:154700"),
        ("omim 154700", "OMIM:154700"),
        ("MIM #154700", "OMIM:154700"),
        ("ORPHA:558", "ORPHA:558"),
        ("Orphanet:558", "ORPHA:558"),
        ("Orphanet_558", "ORPHA:558"),
        ("MONDO:0007947", "OMIM:154700"),  # a MONDO id: its first annotated member
        ("mondo_0007947", "OMIM:154700"),
        ("Some syndrome (OMIM:154700)", "OMIM:154700"),  # the id wins over the name
    ],
)
def test_explicit_ids(grounder: DiseaseGrounder, text: str, disease_id: str) -> None:
    found = grounder.ground(text)
    assert (found.method, found.disease_id, found.group_id) == ("id", disease_id, MARFAN)
    assert found.score == 1.0


def test_unknown_id_falls_back_to_the_name(grounder: DiseaseGrounder) -> None:
    found = grounder.ground("Marfan syndrome (OMIM:999999)")
    assert (found.method, found.group_id) == ("exact", MARFAN)
    assert not grounder.ground("OMIM:999999").grounded


def test_turner(grounder: DiseaseGrounder) -> None:
    exact = grounder.ground("Turner syndrome")
    assert (exact.method, exact.group_id, exact.disease_id) == ("exact", TURNER, "ORPHA:881")
    possessive = grounder.ground("Turner's syndrome")
    assert (possessive.method, possessive.group_id) == ("normalized", TURNER)


def test_numbered_subtypes(grounder: DiseaseGrounder, real_kb: Any) -> None:
    lds1 = real_kb.disease_group("OMIM:609192")  # Loeys-Dietz syndrome 1
    for text in ("Loeys-Dietz syndrome type 1", "Loeys-Dietz syndrome type I"):
        found = grounder.ground(text)
        assert (found.method, found.group_id, found.disease_id) == (
            "normalized",
            lds1,
            "OMIM:609192",
        )
    assert (
        grounder.ground("Diabetes mellitus, type II").group_id
        == grounder.ground("type 2 diabetes mellitus").group_id
    )


def test_word_order(grounder: DiseaseGrounder) -> None:
    inverted = grounder.ground("Ehlers-Danlos syndrome, classic type")
    natural = grounder.ground("classic Ehlers-Danlos syndrome")
    assert inverted.grounded and natural.group_id == inverted.group_id
    assert natural.method == "normalized"


def test_typo_is_similar(grounder: DiseaseGrounder) -> None:
    found = grounder.ground("Marfan syndrom")
    assert (found.method, found.group_id) == ("similar", MARFAN)
    assert 0.85 <= found.score < 1.0


def test_similar_never_changes_a_number_or_letter(grounder: DiseaseGrounder) -> None:
    # one n-gram apart from "Loeys-Dietz syndrome 1".."6" and "hemophilia A"/"B": no match
    for text in ("Loeys-Dietz syndrome 7", "hemophilia C"):
        assert not grounder.ground(text).grounded


def test_cystic_fibrosis(grounder: DiseaseGrounder, real_kb: Any) -> None:
    found = grounder.ground("cystic fibrosis")
    assert found.grounded and found.group_id == CYSTIC_FIBROSIS
    assert found.disease_id in real_kb.group_members(CYSTIC_FIBROSIS)


def test_mondo_disease_without_annotations(grounder: DiseaseGrounder, real_kb: Any) -> None:
    asthma = "MONDO:0004979"
    if asthma not in real_kb.mondo:
        pytest.skip("the packaged MONDO table has no asthma")
    found = grounder.ground("asthma")
    assert (found.disease_id, found.group_id, found.method) == (asthma, asthma, "exact")
    assert found.label == "asthma"
    assert not real_kb.has_disease(asthma)


@pytest.mark.parametrize(
    "text",
    [
        "xyzzy plugh",
        "disease",
        "Syndrome",
        "a genetic syndrome",
        "unknown",
        "None",
        "N/A",
        "",
        "   ",
        "ab",
        "OMIM:999999",
        "MONDO:123",
    ],
)
def test_unmapped(grounder: DiseaseGrounder, text: str) -> None:
    found = grounder.ground(text)
    assert found == Grounding(text, None, None, None, None, 0.0)
    assert not found.grounded


def test_within_picks_the_candidate_member(grounder: DiseaseGrounder) -> None:
    assert grounder.ground("Marfan syndrome", within=["ORPHA:558"]).disease_id == "ORPHA:558"
    assert grounder.ground("Marfan syndrome", within=["OMIM:154700"]).disease_id == "OMIM:154700"
    by_group = grounder.ground("Marfan syndrome", within=[MARFAN])
    assert (by_group.disease_id, by_group.group_id) == ("OMIM:154700", MARFAN)
    by_id = grounder.ground("MONDO:0007947", within={"ORPHA:558", "OMIM:219700"})
    assert (by_id.method, by_id.disease_id) == ("id", "ORPHA:558")


def test_within_lowers_the_similarity_threshold(grounder: DiseaseGrounder) -> None:
    assert not grounder.ground("Marfan sindrome").grounded
    found = grounder.ground("Marfan sindrome", within=["ORPHA:558", "OMIM:219700"])
    assert (found.method, found.disease_id) == ("similar", "ORPHA:558")
    assert 0.75 <= found.score < 0.85


def test_within_falls_back_to_the_whole_index(grounder: DiseaseGrounder) -> None:
    found = grounder.ground("cystic fibrosis", within=["OMIM:154700"])
    assert (found.method, found.group_id) == ("exact", CYSTIC_FIBROSIS)


def test_within_never_bends_an_exact_name_onto_a_candidate(
    grounder: DiseaseGrounder, real_kb: Any
) -> None:
    # "Loeys-Dietz syndrome" names the umbrella disease, not the candidate subtype
    subtype = "OMIM:609192"
    found = grounder.ground("Loeys-Dietz syndrome", within=[subtype])
    assert found.method == "exact"
    assert found.group_id != real_kb.disease_group(subtype)


def test_deterministic(grounder: DiseaseGrounder) -> None:
    texts = [
        "Marfan syndrome",
        "Marfan syndrom",
        "xyzzy plugh",
        "Cushing's",
        "Noonan syndrom",
        "asthma",
        "OMIM:154700",
        "Alzheimer's disease",
    ]
    first = grounder.ground_many(texts)
    assert grounder.ground_many(texts) == first
    assert [grounder.ground(t) for t in texts] == first
    assert [g.text for g in first] == texts  # in order, unmapped ones kept
    assert not first[2].grounded


def test_grounder_for_is_cached(real_kb: Any, grounder: DiseaseGrounder) -> None:
    started = time.perf_counter()
    assert grounder_for(real_kb) is grounder
    assert time.perf_counter() - started < 0.1


# --- a tiny knowledge base without MONDO -------------------------------------------------------


def test_tiny_kb(tiny_kb: Any) -> None:
    grounder = DiseaseGrounder(tiny_kb)
    found = grounder.ground("disease a")
    assert (found.disease_id, found.group_id, found.label, found.method) == (
        "OMIM:100001",
        "OMIM:100001",
        "Disease A",
        "exact",
    )
    assert grounder.ground("ORPHA:100003").disease_id == "ORPHA:100003"
    assert grounder.ground("Disease B.").disease_id == "OMIM:100002"
    assert grounder.ground("Diseas B").method == "similar"
    assert not grounder.ground("Disease D").grounded  # one letter from A, B and C
    assert not grounder.ground("MONDO:0007947").grounded  # MONDO not loaded here


def test_grounder_cache_does_not_keep_the_knowledge_base_alive(tmp_path: Path) -> None:
    from ocais.knowledge import load_knowledge
    from ocais.knowledge.mondo import tiny_table

    release = write_tiny_release(tmp_path / "hpo")
    kb = load_knowledge(release, tmp_path / "cache", mondo=tiny_table([]))
    assert grounder_for(kb) is grounder_for(kb)
    alive = weakref.ref(kb)
    del kb
    gc.collect()
    assert alive() is None
