"""Merging a newer release (an hpo3 export) with an official release's metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ocais.config import load_settings
from ocais.errors import KnowledgeError
from ocais.knowledge import load_knowledge
from ocais.knowledge.hpoa import parse_hpoa
from ocais.knowledge.merge import HPOA_COLUMNS, merge_release
from ocais.knowledge.ontology_files import parse_obo
from tests.conftest import write_tiny_release

NEWER = "2099-06-01"

# Against the tiny release: HP:0000505 renamed; HP:0100022 new under HP:0000707;
# HP:0002069 now obsolete, replaced by HP:0001250; the inheritance terms added; the base
# obsolete HP:0000999 not listed. Disease A renamed and loses Visual impairment; B now carries
# Seizure (its base pair was the obsolete HP:0002069); C gains HP:0100022; D is new.
EXPORT: dict[str, Any] = {
    "source": "hpo3 9.9.9",
    "hpo_version": NEWER,
    "terms": [
        {"id": "HP:0000001", "name": "All", "parents": [], "obsolete": False, "replaced_by": None},
        {
            "id": "HP:0000005",
            "name": "Mode of inheritance",
            "parents": ["HP:0000001"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0000006",
            "name": "Autosomal dominant inheritance",
            "parents": ["HP:0000005"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0000118",
            "name": "Phenotypic abnormality",
            "parents": ["HP:0000001"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0000478",
            "name": "Abnormality of the eye",
            "parents": ["HP:0000118"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0000505",
            "name": "Reduced visual acuity",
            "parents": ["HP:0000478"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0000707",
            "name": "Abnormality of the nervous system",
            "parents": ["HP:0000118"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0001250",
            "name": "Seizure",
            "parents": ["HP:0000707"],
            "obsolete": False,
            "replaced_by": None,
        },
        {
            "id": "HP:0002069",
            "name": "obsolete Bilateral tonic-clonic seizure",
            "parents": [],
            "obsolete": True,
            "replaced_by": "HP:0001250",
        },
        {
            "id": "HP:0100022",
            "name": "Abnormality of movement",
            "parents": ["HP:0000707"],
            "obsolete": False,
            "replaced_by": None,
        },
    ],
    "diseases": [
        {"id": "OMIM:100001", "name": "Disease A, renamed", "terms": ["HP:0000006", "HP:0001250"]},
        {"id": "OMIM:100002", "name": "Disease B", "terms": ["HP:0001250"]},
        {"id": "OMIM:100004", "name": "Disease D", "terms": ["HP:0000006", "HP:0100022"]},
        {"id": "ORPHA:100003", "name": "Disease C", "terms": ["HP:0000478", "HP:0100022"]},
    ],
}

# Appended to the tiny annotations: a DECIPHER row (kept unchanged), and a disease the newer
# export lacks, with a NOT row (both dropped).
EXTRA_ROWS = [
    "DECIPHER:1\tDel syndrome\t\tHP:0001250\tDECIPHER:1\tIEA\t\t\t\t\tP\tHPO:skoehler[2013-05-29]",
    "OMIM:100009\tDisease Z\t\tHP:0001250\tPMID:9\tPCS\t\t3/4\t\t\tP\tHPO:test[2099-01-01]",
    "OMIM:100009\tDisease Z\tNOT\tHP:0000505\tPMID:9\tPCS\t\t\t\t\tP\tHPO:test[2099-01-01]",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hpoa_rows(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert lines[0].split("\t") == list(HPOA_COLUMNS)
    return [dict(zip(HPOA_COLUMNS, ln.split("\t"), strict=True)) for ln in lines[1:]]


def stanza(obo: str, term_id: str) -> list[str]:
    block = obo.split(f"[Term]\nid: {term_id}\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    base = write_tiny_release(tmp_path / "base")
    with (base / "phenotype.hpoa").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(EXTRA_ROWS) + "\n")
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), encoding="utf-8")
    return base, export


@pytest.fixture
def merged(inputs: tuple[Path, Path], tmp_path: Path) -> Path:
    base, export = inputs
    merge_release(base, export, tmp_path / "merged")
    return tmp_path / "merged"


def test_report_counts(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    base, export = inputs
    report = merge_release(base, export, tmp_path / "out")
    assert (report.base_hpo_version, report.base_annotations_version) == (
        "2099-01-01",
        "2099-01-02",
    )
    assert (report.newer_version, report.newer_source) == (NEWER, "hpo3 9.9.9")
    assert report.terms == 9
    assert report.new_terms == 3  # HP:0000005, HP:0000006, HP:0100022
    assert report.newly_obsolete_terms == 1  # HP:0002069
    assert report.renamed_terms == 2  # HP:0000505; HP:0002069 ("obsolete ...")
    assert report.obsolete_terms == 2  # HP:0002069 (newer) + HP:0000999 (kept from the base)
    assert report.base_obsolete_terms_kept == 1
    assert report.base_terms_dropped == 0
    assert (report.diseases, report.diseases_new, report.diseases_dropped) == (5, 1, 1)
    assert report.decipher_diseases == 1
    assert report.pairs == 7
    assert (report.pairs_kept, report.pairs_kept_id_updated, report.pairs_new) == (4, 1, 3)
    assert report.pairs_dropped == 2  # A / Visual impairment, Z / Seizure
    assert (report.not_rows_kept, report.not_rows_dropped, report.decipher_rows) == (1, 1, 1)
    assert report.rows == 7 + 1 + 1
    assert report.rows_with_frequency == 2


def test_merged_ontology(merged: Path) -> None:
    obo = (merged / "hp.obo").read_text(encoding="utf-8")
    assert f"data-version: hp/releases/{NEWER}\n" in obo
    assert any(ln.startswith("remark: merged") for ln in obo.splitlines())

    seizure = stanza(obo, "HP:0001250")
    assert "name: Seizure" in seizure
    assert "alt_id: HP:0001251" in seizure
    assert 'def: "An intermittent abnormality of nervous system physiology." []' in seizure
    assert 'synonym: "Seizures" EXACT []' in seizure
    assert "xref: SNOMEDCT_US:91175000" in seizure and "xref: UMLS:C0036572" in seizure
    assert "is_a: HP:0000707 ! Abnormality of the nervous system" in seizure

    assert stanza(obo, "HP:0000505")[0] == "name: Reduced visual acuity"
    assert 'synonym: "Poor vision" EXACT []' in stanza(obo, "HP:0000505")  # layperson dropped
    assert stanza(obo, "HP:0100022") == [
        "name: Abnormality of movement",
        "is_a: HP:0000707 ! Abnormality of the nervous system",
    ]
    assert stanza(obo, "HP:0002069") == [
        "name: obsolete Bilateral tonic-clonic seizure",
        "is_obsolete: true",
        "replaced_by: HP:0001250",
    ]
    assert "replaced_by: HP:0001250" in stanza(obo, "HP:0000999")

    # the loaders' own parser reads it back
    onto = parse_obo(merged / "hp.obo")
    assert onto.version == NEWER
    assert onto.terms["HP:0001250"].synonyms == ["Seizures", "Epilepsy"]
    assert onto.terms["HP:0001250"].alt_ids == ["HP:0001251"]
    assert onto.terms["HP:0001250"].definition.startswith("An intermittent")
    assert onto.terms["HP:0100022"].parents == ["HP:0000707"]
    assert onto.terms["HP:0002069"].obsolete and onto.terms["HP:0002069"].parents == []
    assert onto.terms["HP:0000999"].obsolete


def test_merged_annotations(merged: Path) -> None:
    text = (merged / "phenotype.hpoa").read_text(encoding="utf-8")
    assert text.startswith("#description: ")
    assert f"\n#version: {NEWER}\n" in text
    rows = hpoa_rows(merged / "phenotype.hpoa")
    by_pair = {(r["database_id"], r["qualifier"], r["hpo_id"]): r for r in rows}
    assert len(by_pair) == len(rows) == 9

    kept = by_pair[("OMIM:100001", "", "HP:0001250")]
    assert (kept["frequency"], kept["reference"], kept["evidence"]) == ("1/2", "PMID:1", "PCS")
    assert kept["disease_name"] == "Disease A, renamed"
    assert kept["biocuration"] == "HPO:test[2099-01-01]"
    assert by_pair[("OMIM:100001", "", "HP:0000006")]["aspect"] == "I"
    assert ("OMIM:100001", "", "HP:0000505") not in by_pair  # dropped pair

    # B's base pair used HP:0002069, now obsolete -> HP:0001250: rows reused, id updated
    assert by_pair[("OMIM:100002", "", "HP:0001250")]["frequency"] == "80%"
    assert ("OMIM:100002", "", "HP:0002069") not in by_pair
    not_row = by_pair[("OMIM:100002", "NOT", "HP:0000505")]
    assert (not_row["reference"], not_row["evidence"]) == ("PMID:1", "PCS")

    c_eye = by_pair[("ORPHA:100003", "", "HP:0000478")]
    assert (c_eye["onset"], c_eye["sex"]) == ("HP:0000999", "FEMALE")
    new = by_pair[("ORPHA:100003", "", "HP:0100022")]
    assert new == {
        "database_id": "ORPHA:100003",
        "disease_name": "Disease C",
        "qualifier": "",
        "hpo_id": "HP:0100022",
        "reference": "ORPHA:100003",
        "evidence": "IEA",
        "onset": "",
        "frequency": "",
        "sex": "",
        "modifier": "",
        "aspect": "P",
        "biocuration": f"OCAIS:merge[hpo3-{NEWER}]",
    }
    assert by_pair[("OMIM:100004", "", "HP:0000006")]["aspect"] == "I"
    assert by_pair[("OMIM:100004", "", "HP:0100022")]["disease_name"] == "Disease D"

    decipher = by_pair[("DECIPHER:1", "", "HP:0001250")]
    assert "\t".join(decipher[c] for c in HPOA_COLUMNS) == EXTRA_ROWS[0]
    assert not any(r["database_id"] == "OMIM:100009" for r in rows)

    parsed = parse_hpoa(merged / "phenotype.hpoa")
    assert parsed.version == NEWER
    assert parsed.disease_names["OMIM:100001"] == "Disease A, renamed"


def test_merged_release_loads(merged: Path, tmp_path: Path) -> None:
    kb = load_knowledge(merged, tmp_path / "cache")
    info = kb.info()
    assert (info.hpo_version, info.annotations_version) == (NEWER, NEWER)
    assert info.n_terms == 9
    assert info.n_obsolete_terms == 2
    assert info.n_alt_ids == 1
    assert info.n_diseases == {"DECIPHER": 1, "OMIM": 3, "ORPHA": 1}
    assert info.n_annotations == 9
    assert info.n_with_frequency == 2
    assert info.n_not_annotations == 1
    assert kb.term("Poor vision").id == "HP:0000505"
    assert kb.term("HP:0002069").id == "HP:0001250"  # obsolete -> replacement
    assert kb.term("HP:0100022").parents == ["HP:0000707"]
    disease = kb.disease("OMIM:100002")
    assert sorted((p.id, p.excluded, p.frequency) for p in disease.phenotypes) == [
        ("HP:0000505", True, None),
        ("HP:0001250", False, pytest.approx(0.8)),
    ]


def test_provenance(inputs: tuple[Path, Path], merged: Path) -> None:
    base, export = inputs
    provenance = json.loads((merged / "PROVENANCE.json").read_text(encoding="utf-8"))
    assert provenance["attribution"] == (
        "Human Phenotype Ontology (https://hpo.jax.org), HPO license"
    )
    assert provenance["inputs"]["base_ontology"]["sha256"] == sha256(base / "hp.obo")
    assert provenance["inputs"]["base_annotations"]["sha256"] == sha256(base / "phenotype.hpoa")
    assert provenance["inputs"]["newer_export"]["sha256"] == sha256(export)
    assert provenance["inputs"]["newer_export"]["path"] == str(export.resolve())
    assert provenance["versions"]["hpo"] == NEWER
    assert provenance["versions"]["base_hpo"] == "2099-01-01"
    assert provenance["outputs"]["hp.obo"] == sha256(merged / "hp.obo")
    assert provenance["outputs"]["phenotype.hpoa"] == sha256(merged / "phenotype.hpoa")
    counts = provenance["counts"]
    assert (counts["terms"], counts["new_terms"], counts["pairs_new"]) == (9, 3, 3)
    assert (counts["diseases_new"], counts["diseases_dropped"]) == (1, 1)
    assert counts["rows_with_frequency"] == 2
    assert provenance["created"]


def test_rerun_replaces_an_earlier_merge_only(inputs: tuple[Path, Path], merged: Path) -> None:
    base, export = inputs
    first = (merged / "phenotype.hpoa").read_bytes()
    merge_release(base, export, merged)
    assert (merged / "phenotype.hpoa").read_bytes() == first
    assert sorted(p.name for p in merged.parent.iterdir() if p.name.startswith(".")) == []

    foreign = merged.parent / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not empty"):
        merge_release(base, export, foreign)
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"
    with pytest.raises(KnowledgeError, match="overwrite its base"):
        merge_release(base, export, base)


def test_bad_inputs(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    base, export = inputs
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"source": "x", "terms": []}), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not an hpo3 export"):
        merge_release(base, broken, tmp_path / "out")
    with pytest.raises(KnowledgeError, match="does not exist"):
        merge_release(tmp_path / "nowhere", export, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_merge_then_default_release(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocais.cli.main import app

    base, export = inputs
    monkeypatch.delenv("OCAIS_HPO_DIR", raising=False)
    monkeypatch.delenv("OCAIS_CACHE_DIR", raising=False)
    data_dir = tmp_path / "data"
    runner = CliRunner()
    root = ["--data-dir", str(data_dir), "--json"]
    result = runner.invoke(app, [*root, "knowledge", "merge", str(base), str(export)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["out_dir"] == str(data_dir / "hpo")
    assert (report["pairs_new"], report["rows_with_frequency"]) == (3, 2)

    # the merged release in DATA_DIR/hpo is now the default one
    result = runner.invoke(app, [*root, "knowledge", "info"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hpo_version"] == NEWER

    result = runner.invoke(app, [*root, "knowledge", "merge", str(base), str(tmp_path / "no")])
    assert result.exit_code == 2


def test_resolved_hpo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCAIS_HPO_DIR", raising=False)
    data_dir = tmp_path / "data"
    assert load_settings(data_dir=data_dir).resolved_hpo_dir is None
    (data_dir / "hpo").mkdir(parents=True)
    assert load_settings(data_dir=data_dir).resolved_hpo_dir is None  # no release in it
    (data_dir / "hpo" / "phenotype.hpoa").write_text("", encoding="utf-8")
    assert load_settings(data_dir=data_dir).resolved_hpo_dir == data_dir / "hpo"
    explicit = tmp_path / "release"
    settings = load_settings(data_dir=data_dir, hpo_dir=explicit)
    assert settings.resolved_hpo_dir == explicit
