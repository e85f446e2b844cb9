"""The MONDO disease table (packaged and tiny) and the knowledge base's disease groups."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from ocais.errors import KnowledgeError, UnknownDiseaseError
from ocais.knowledge import load_knowledge
from ocais.knowledge.mondo import (
    MondoDisease,
    MondoTable,
    disease_url,
    normalize_code,
    tiny_table,
)

# Disease A (OMIM:100001) and C (ORPHA:100003) of the tiny release are one disease here
GROUPED = [("MONDO:9000001", "disease A or C", ["OMIM:100001", "ORPHA:100003"])]


def test_packaged_table_groups_omim_and_orphanet_entries() -> None:
    table = MondoTable.load()
    assert len(table) > 15_000
    assert table.sha256
    assert table.mondo_of("OMIM:154700") == "MONDO:0007947"  # Marfan syndrome
    assert table.mondo_of("ORPHA:558") == "MONDO:0007947"
    assert table.mondo_of("MONDO:0007947") == "MONDO:0007947"
    marfan = table.disease("MONDO:0007947")
    assert marfan.label == "Marfan syndrome"
    assert {"OMIM:154700", "ORPHA:558"} <= set(marfan.members)
    assert table.mondo_for_code("ICD10CM", "Q87.4") == "MONDO:0007947"
    assert table.mondo_for_code("http://snomed.info/sct", "19346006") == "MONDO:0007947"
    assert table.mondo_of("OMIM:999999999") is None


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        ("ICD10CM", "Q874", "ICD10CM:Q87.4"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "e11", "ICD10CM:E11"),
        ("SNOMEDCT_US", "44054006", "SNOMEDCT:44054006"),
        ("Orphanet", "558", "ORPHA:558"),
        ("LOINC", "8302-2", None),
        ("SNOMEDCT", " ", None),
    ],
)
def test_codes_are_normalized(system: str, code: str, expected: str | None) -> None:
    assert normalize_code(system, code) == expected


def test_links_to_disease_pages() -> None:
    assert disease_url("MONDO:0007947") == "https://monarchinitiative.org/MONDO:0007947"
    assert disease_url("OMIM:154700") == "https://omim.org/entry/154700"
    assert disease_url("ORPHA:558") == "https://www.orpha.net/en/disease/detail/558"
    assert disease_url("DECIPHER:1") is None


def test_one_id_in_two_diseases_is_refused() -> None:
    with pytest.raises(KnowledgeError, match="OMIM:1"):
        tiny_table([("MONDO:1", "a", ["OMIM:1"]), ("MONDO:2", "b", ["OMIM:1"])])


def test_a_file_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tb\n"))
    with pytest.raises(KnowledgeError, match="not a MONDO disease table"):
        MondoTable.load(path)
    with pytest.raises(KnowledgeError, match="cannot read"):
        MondoTable.load(tmp_path / "missing.tsv.gz")
    with pytest.raises(UnknownDiseaseError):
        MondoTable([MondoDisease("MONDO:1", "x")]).disease("MONDO:2")


def test_knowledge_base_groups(tiny_release: Path, tmp_path: Path) -> None:
    kb = load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table(GROUPED))
    assert kb.disease_group("OMIM:100001") == "MONDO:9000001"
    assert kb.disease_group("OMIM:100002") == "OMIM:100002"  # no MONDO match: its own group
    assert kb.group_members("MONDO:9000001") == ["OMIM:100001", "ORPHA:100003"]
    assert kb.group_members("ORPHA:100003") == ["OMIM:100001", "ORPHA:100003"]
    assert kb.group_members("OMIM:100002") == ["OMIM:100002"]
    assert kb.group_name("MONDO:9000001") == "disease A or C"
    assert kb.group_name("OMIM:100002") == "Disease B"
    with pytest.raises(UnknownDiseaseError):
        kb.group_members("OMIM:424242")


def test_knowledge_base_reads_the_packaged_table_lazily(tiny_kb: Any) -> None:
    kb = load_knowledge(Path(tiny_kb.meta["ontology_file"]).parent)
    assert "mondo" not in vars(kb)  # nothing read yet
    assert kb.mondo_for_code("SNOMEDCT", "19346006") == "MONDO:0007947"
    assert "mondo" in vars(kb)


def test_pickled_knowledge_base_keeps_its_table(tiny_release: Path, tmp_path: Path) -> None:
    import pickle

    kb = load_knowledge(tiny_release, tmp_path / "cache", mondo=tiny_table(GROUPED))
    again = pickle.loads(pickle.dumps(kb))
    assert again.disease_group("OMIM:100001") == "MONDO:9000001"
