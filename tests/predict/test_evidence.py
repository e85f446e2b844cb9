"""Evidence reads the ranker only through its ``state`` and the two cached lookups passed in.

Tiny release (tests/conftest.py): disease A has Seizure 0.5 and Visual impairment 0.895; B has
Bilateral tonic-clonic seizure (BTCS) 0.8 and NOT Visual impairment.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from ocais.predict.evidence import (
    RowFacts,
    candidates_evidence,
    case_context,
    next_phenotypes,
    row_facts,
)
from ocais.predict.phenotype import PhenotypeRanker, RankerState
from ocais.predict.terms import case_terms
from ocais.schemas import Case, PhenotypeObservation, Provenance, Subject


def make_case(observed: tuple[str, ...], excluded: tuple[str, ...] = ()) -> Case:
    phenotypes = [PhenotypeObservation(id=t) for t in observed]
    phenotypes += [PhenotypeObservation(id=t, excluded=True) for t in excluded]
    return Case(
        id="c1",
        subject=Subject(),
        phenotypes=phenotypes,
        provenance=Provenance(source="test", source_format="test"),
    )


def test_state_holds_the_compiled_arrays_read_only(tiny_kb: Any) -> None:
    ranker = PhenotypeRanker(tiny_kb, noise_floor=0.02, specificity_penalty=4.0)
    state = ranker.state
    assert isinstance(state, RankerState) and ranker.state is state
    assert state.kb is tiny_kb and state.matrices is ranker.matrices
    assert state.log_floor == pytest.approx(math.log(0.02))
    assert state.specificity_penalty == 4.0
    assert state.closure_rows.has_sorted_indices
    assert (state.closure_rows.toarray() == ranker.matrices.closure.toarray()).all()
    seizure = tiny_kb.term_ids.index("HP:0001250")
    assert set(ranker.ancestors(seizure).tolist()) == set(
        state.ancestor_idx[state.ancestor_ptr[seizure] : state.ancestor_ptr[seizure + 1]].tolist()
    )
    assert state.depth[seizure] == ranker.ancestors(seizure).size
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.log_floor = 0.0  # type: ignore[misc]


def test_evidence_from_the_state_alone_matches_predict(tiny_kb: Any) -> None:
    ranker = PhenotypeRanker(tiny_kb)
    case = make_case(("HP:0001250",), ("HP:0000505",))
    prediction = ranker.predict(case)
    order = [ranker.disease_ids.index(c.disease_id) for c in prediction.candidates]
    state = ranker.state
    # a fresh, uncached lookup per call: nothing else of the ranker is read
    lookups: list[int] = []

    def facts_of(row: int) -> RowFacts:
        lookups.append(row)
        return row_facts(state, row)

    terms = case_terms(tiny_kb, case)
    evidence = candidates_evidence(
        state, case_context(state, terms), order, facts_of, ranker.observed_log_lr
    )
    assert sorted(lookups) == sorted(order)
    assert evidence == [c.evidence for c in prediction.candidates]
    posterior = ranker.probabilities(ranker.score(case, terms))[0]
    assert next_phenotypes(state, terms, posterior) == prediction.next_phenotypes


def test_row_facts_weigh_links_by_frequency_and_information_content(tiny_kb: Any) -> None:
    state = PhenotypeRanker(tiny_kb).state
    row = state.matrices.disease_ids.index("OMIM:100002")  # B: BTCS 0.8
    facts = row_facts(state, row)
    btcs = tiny_kb.term_ids.index("HP:0002069")
    at = int(np.flatnonzero(facts.closure_terms == btcs)[0])
    lam, ic = state.specificity_penalty, state.information_content[btcs]
    assert facts.link_weight[at] == pytest.approx(math.log(0.8) + (1 + lam) * ic)
    assert facts.frequent_terms.tolist() == [btcs]


def test_a_capped_missing_list_says_how_many_there_are(
    tiny_kb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocais.predict import evidence

    case = Case(
        id="c",
        phenotypes=[PhenotypeObservation(id="HP:0000505")],
        provenance=Provenance(source="test", source_format="test"),
    )
    full = PhenotypeRanker(tiny_kb).predict(case, 5)
    monkeypatch.setattr(evidence, "MISSING_SHOWN", 0)
    capped = PhenotypeRanker(tiny_kb).predict(case, 5)
    totals = [c.evidence["missing_total"] for c in full.candidates]
    assert any(totals), "the tiny release should leave something frequent unreported"
    for whole, cut in zip(full.candidates, capped.candidates, strict=True):
        assert whole.evidence["missing_total"] == len(whole.evidence["missing"])
        assert (
            cut.evidence["missing"] == []
            and cut.evidence["missing_total"] == (whole.evidence["missing_total"])
        )
