"""The search service: semantic query + structured filters + k, with reasons, on the tiny
release, an SQLite store and the embedded vector index (and PostgreSQL + pgvector)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocais.errors import InvalidRecordError, UnknownTermError
from ocais.schemas import Case, Diagnosis, PhenotypeObservation, Provenance, Sex, Subject
from ocais.search.embedders import PhenotypeEmbedder
from ocais.search.service import SearchFilters, SearchQuery, SearchService
from ocais.store import Repository
from ocais.store.vectors import open_vector_index

BTCS, SEIZURE, VI, EYE = "HP:0002069", "HP:0001250", "HP:0000505", "HP:0000478"


def case(
    name: str,
    observed: tuple[str, ...],
    *,
    excluded: tuple[str, ...] = (),
    sex: Sex = Sex.FEMALE,
    age: float = 5.0,
    disease: str = "OMIM:100001",
    site: str = "a",
    synthetic: bool = False,
) -> Case:
    return Case(
        id=Case.stable_id("test", name),
        external_id=name,
        subject=Subject(sex=sex, age_years=age),
        phenotypes=[PhenotypeObservation(id=t) for t in observed]
        + [PhenotypeObservation(id=t, excluded=True) for t in excluded],
        diagnoses=[Diagnosis(disease_id=disease)],
        site=site,
        synthetic=synthetic,
        provenance=Provenance(source="test", source_format="test", record_id=name),
    )


CASES = [
    case("btcs-girl", (BTCS,), age=3),
    case("btcs-boy", (BTCS, VI), sex=Sex.MALE, age=10, disease="OMIM:100002"),
    case("seizure", (SEIZURE,), excluded=(VI,), age=40, site="b"),
    case("eye", (EYE,), disease="ORPHA:100003", age=2, synthetic=True),
    case("vision", (VI,), excluded=(SEIZURE,), sex=Sex.MALE, age=70, site="b"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(request: pytest.FixtureRequest, tmp_path: Path, tiny_kb) -> SearchService:  # type: ignore[no-untyped-def]
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    repo = Repository.open(url)
    repo.upsert_cases(CASES)
    index = open_vector_index(url, tmp_path)
    svc = SearchService(repo, index, PhenotypeEmbedder(tiny_kb, dimension=32), tiny_kb)
    assert svc.reindex() == len(CASES)
    return svc


def ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.external_id for h in result.hits]


def test_semantic_query_by_hpo_ranks_by_profile(service: SearchService) -> None:
    result = service.search(SearchQuery(hpo=[BTCS], k=3))
    assert ids(result)[0] in {"btcs-girl", "btcs-boy"}
    assert ids(result)[2] == "seizure"  # Seizure is BTCS's parent: next closest
    top = result.hits[0]
    assert top.score is not None and top.score > result.hits[2].score  # type: ignore[operator]
    assert top.shared_phenotypes == [{"id": BTCS, "label": "Bilateral tonic-clonic seizure"}]
    assert any("shares 1 of 1 query phenotypes" in r for r in top.reasons)


def test_filters_in_the_index_and_in_the_store(service: SearchService) -> None:
    males = service.search(SearchQuery(hpo=[BTCS], filters=SearchFilters(sex=Sex.MALE)))
    assert ids(males) == ["btcs-boy", "vision"]
    assert any("matches sex" in r for r in males.hits[0].reasons)
    adults = service.search(SearchQuery(hpo=[BTCS], filters=SearchFilters(age_min=18)))
    assert set(ids(adults)) == {"seizure", "vision"} and adults.n_candidates == 2
    # a phenotype filter includes subtypes: Seizure matches cases with BTCS
    with_seizure = service.search(
        SearchQuery(hpo=[VI], filters=SearchFilters(phenotypes_present=[SEIZURE]))
    )
    assert set(ids(with_seizure)) == {"btcs-girl", "btcs-boy", "seizure"}
    lacking = service.search(SearchQuery(filters=SearchFilters(phenotypes_absent=[SEIZURE])))
    assert ids(lacking) == ["vision"] and lacking.hits[0].score is None
    dx = service.search(
        SearchQuery(hpo=[EYE], filters=SearchFilters(diagnoses=["OMIM:100002", "ORPHA:100003"]))
    )
    assert set(ids(dx)) == {"btcs-boy", "eye"}
    combined = service.search(
        SearchQuery(
            hpo=[SEIZURE],
            filters=SearchFilters(site="b", sex=Sex.FEMALE, synthetic=False, age_max=50),
        )
    )
    assert ids(combined) == ["seizure"]
    synthetic = service.search(SearchQuery(hpo=[EYE], filters=SearchFilters(synthetic=True)))
    assert ids(synthetic) == ["eye"]


def test_similar_cases_and_like_case(service: SearchService) -> None:
    girl = CASES[0]
    similar = service.similar_cases(girl, k=2)
    assert similar[0].external_id == "btcs-boy" and girl.id not in [h.case_id for h in similar]
    like = service.search(SearchQuery(like_case=girl.id, k=1))
    assert ids(like) == ["btcs-boy"]


def test_text_query(service: SearchService) -> None:
    result = service.search(SearchQuery(text="Grand mal seizures, no poor vision.", k=2))
    assert result.query_phenotypes == [BTCS]
    assert set(ids(result)) == {"btcs-girl", "btcs-boy"}
    with pytest.raises(InvalidRecordError, match="no HPO phenotype"):
        service.search(SearchQuery(text="The weather is nice today."))


def test_bad_queries(service: SearchService) -> None:
    with pytest.raises(ValueError):
        SearchQuery(text="   ")
    with pytest.raises(ValueError):
        SearchQuery(text="seizure", hpo=[SEIZURE])
    with pytest.raises(ValueError):
        SearchFilters(age_min=10, age_max=5)
    with pytest.raises(ValueError):
        SearchFilters(phenotypes_present=["seizure"])  # not an HPO id
    with pytest.raises(UnknownTermError):
        service.search(SearchQuery(filters=SearchFilters(phenotypes_present=["HP:0004321"])))
    with pytest.raises(InvalidRecordError):
        service.search(SearchQuery(hpo=["HP:0004321"]))


def test_reindex_replaces_changed_cases(service: SearchService) -> None:
    changed = case("eye", (BTCS,), disease="ORPHA:100003", age=2, synthetic=True)
    service.repo.upsert_cases([changed])
    service.index_cases([changed])
    result = service.search(SearchQuery(hpo=[BTCS], filters=SearchFilters(synthetic=True)))
    assert ids(result) == ["eye"] and result.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert service.index.count(service.collection) == len(CASES)
