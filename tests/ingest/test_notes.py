"""Notes reader: de-identification first, then phenotypes from the scrubbed text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocais.errors import ConfigError, InvalidRecordError
from ocais.ingest.base import ReaderContext
from ocais.ingest.deid import DeidConfig, pseudonymous_id
from ocais.ingest.notes import NotesReader, demographics_from_text
from ocais.schemas import Case, Sex

SECRET = "a-long-random-test-secret-for-notes"
NOTE = (
    "Jane Roe (MRN 00123456), a 4-year-old girl, seen 2021-03-04 by Dr. Alan Smith. "
    "She has had seizures since infancy. No poor vision. Her brother has epilepsy. "
    "Phone 617-555-0199."
)


@pytest.fixture
def reader(tiny_kb, monkeypatch: pytest.MonkeyPatch) -> NotesReader:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OCAIS_DEID_SECRET", SECRET)
    return NotesReader(ReaderContext(site="clinic", terms=tiny_kb))


def test_text_file_becomes_a_deidentified_case(reader: NotesReader, tmp_path: Path) -> None:
    folder = tmp_path / "notes"  # tmp_path also holds the tiny HPO release (its .txt files)
    folder.mkdir()
    (folder / "jane_roe.txt").write_text(NOTE)
    [case] = list(reader.read(folder))
    assert isinstance(case, Case)
    dumped = case.model_dump_json()
    for secret in (
        "Jane",
        "Roe",
        "00123456",
        "Alan",
        "Smith",
        "2021-03-04",
        "555-0199",
        "jane_roe",
    ):
        assert secret not in dumped, secret
    stored = case.notes[0].text
    assert "[NAME]" in stored and "[ID]" in stored and "[PHONE]" in stored
    # seizures observed; "poor vision" negated; the brother's epilepsy is family history
    assert case.observed == ["HP:0001250"]
    assert case.excluded == ["HP:0000505"]
    assert (case.subject.sex, case.subject.age_years) == (Sex.FEMALE, 4.0)
    mentions = case.provenance.parameters["mentions"]
    for mention in mentions:  # spans point into the stored, scrubbed note
        assert stored[mention["start"] : mention["end"]].lower() == mention["text"].lower()
    assert any(m["family"] for m in mentions)
    assert case.provenance.parameters["phi_replaced"]["NAME"] >= 2
    # the same note read again is the same case (same id, same shifted dates)
    [again] = list(reader.read(folder))
    assert isinstance(again, Case)
    assert (again.id, again.notes[0].text) == (case.id, stored)


def test_jsonl_notes_with_known_identifiers(reader: NotesReader, tmp_path: Path) -> None:
    lines = [
        {
            "id": "n1",
            "text": "Kowalczyk reports epilepsy.",
            "names": ["Anna Kowalczyk"],
            "sex": "female",
            "age_years": 30,
        },
        {"id": "n2", "text": "   "},
        "not an object",
        {"id": "n3", "text": "Grand mal seizure at night."},
    ]
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    records = list(reader.read(source))
    cases = [r for r in records if isinstance(r, Case)]
    rejects = [r for r in records if isinstance(r, InvalidRecordError)]
    assert [c.external_id for c in cases] == [pseudonymous_id(SECRET, i) for i in ("n1", "n3")]
    assert "Kowalczyk" not in cases[0].notes[0].text
    assert cases[0].subject.age_years == 30 and cases[0].observed == ["HP:0001250"]
    assert cases[1].observed == ["HP:0002069"]
    assert sorted(r.record or "" for r in rejects) == ["line 2", "line 3", "line 5"]


def test_record_id_is_kept_only_as_a_keyed_hash(
    reader: NotesReader, tiny_kb, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A note's id is often a record number: the case keeps its keyed hash, stable per secret."""
    mrn = "MRN-00987654"
    source = tmp_path / "notes.jsonl"
    source.write_text(json.dumps({"id": mrn, "text": "Recurrent seizures."}) + "\n")
    [case] = list(reader.read(source))
    assert isinstance(case, Case)
    assert mrn not in case.model_dump_json() and "00987654" not in case.model_dump_json()
    assert case.external_id == case.provenance.record_id == pseudonymous_id(SECRET, mrn)
    assert case.external_id.startswith("h:")
    [again] = list(reader.read(source))  # re-import: the same case, not a new one
    assert isinstance(again, Case)
    assert (again.id, again.source_key) == (case.id, case.source_key)
    other = "another-site-secret-of-enough-length"
    config = DeidConfig(secret=other)
    [elsewhere] = list(NotesReader(ReaderContext(terms=tiny_kb), config).read(source))
    assert isinstance(elsewhere, Case)
    assert elsewhere.external_id == pseudonymous_id(other, mrn) != case.external_id
    assert elsewhere.id != case.id


def test_structured_age_over_89_is_stored_as_90(reader: NotesReader, tmp_path: Path) -> None:
    text = "A 93-year-old woman with recurrent seizures."
    lines = [
        {"id": "old", "text": text, "sex": "female", "age_years": 93},
        {"id": "young", "text": "Seizures.", "age_years": 89},
    ]
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    old, young = list(reader.read(source))
    assert isinstance(old, Case) and isinstance(young, Case)
    assert old.subject.age_years == 90.0  # "90 or older", like the text's "90+"
    assert old.provenance.parameters["age_top_coded"] is True
    assert "93" not in old.notes[0].text and "90+" in old.notes[0].text
    assert young.subject.age_years == 89
    assert "age_top_coded" not in young.provenance.parameters


def test_missing_secret_is_an_error_of_the_import(tiny_kb, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OCAIS_DEID_SECRET", raising=False)
    (tmp_path / "a.txt").write_text("Seizures.")
    with pytest.raises(ConfigError, match="OCAIS_DEID_SECRET"):
        list(NotesReader(ReaderContext(terms=tiny_kb)).read(tmp_path))


def test_demographics_from_text() -> None:
    assert demographics_from_text("a 45-year-old man with") == (45.0, Sex.MALE)
    assert demographics_from_text("A 3 year old boy") == (3.0, Sex.MALE)
    assert demographics_from_text("no age here") == (None, Sex.UNKNOWN)


@pytest.mark.slow
def test_placeholders_are_not_read_as_abbreviations(real_kb, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """ "MRN [ID]" after scrubbing must not become ID = intellectual disability."""
    monkeypatch.setenv("OCAIS_DEID_SECRET", SECRET)
    (tmp_path / "n.txt").write_text("Seen today, MRN 12345678. Recurrent seizures.")
    [case] = list(NotesReader(ReaderContext(terms=real_kb)).read(tmp_path))
    assert isinstance(case, Case)
    assert "[ID]" in case.notes[0].text
    assert case.observed == ["HP:0001250"]
