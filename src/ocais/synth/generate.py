"""Synthetic patients: from the knowledge base's annotations, or from counted real cases.

Both generators sample from a per-disease *profile*: for every HPO term a probability that the
patient shows it, and for a few terms a probability that it is recorded as explicitly absent,
plus sex and age-band distributions.

* **Knowledge-driven** (:func:`from_knowledge`): the profile is the disease's annotations
  (annotated frequency, or ``default_frequency``), NOT annotations as likely pertinent
  negatives, the annotated sex limitation and onset.
* **Case-driven** (:func:`from_cases`): the profile is counted from cases
  (:class:`~ocais.learn.profiles.CaseProfiles`, optionally with differential privacy), each
  term's frequency smoothed with the knowledge base: (count + s·f_kb) / (n + s).

Terms are drawn independently, so a synthetic patient recombines features of a disease rather
than replaying one source patient. Realistic noise is then applied, as case reports show it:
a term may be reported less specifically (replaced by a parent), unrelated findings appear
(drawn from the terms' overall annotation frequency), and frequent features go unreported
(the draw itself omits them). Every case-driven patient is checked against the source cases of
its disease: one whose term set is within ``min_distance`` (Jaccard) of a source case is drawn
again (up to ``max_redraws`` times) and dropped if it still is, so no exact copy is ever emitted
(for ``min_distance`` ≥ 0).

Everything is seeded: the same inputs, options and seed give the same patients.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import ConfigError, UnknownDiseaseError
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import AGE_BANDS, SEXES, CaseProfiles, truth_of
from ocais.predict.demographics import ONSET_YEARS
from ocais.predict.matrices import knowledge_annotations
from ocais.schemas import (
    Case,
    Diagnosis,
    PhenotypeObservation,
    Provenance,
    Sex,
    Subject,
)
from ocais.synth.privacy import item_matrix, item_set, nearest_distances, phenotype_sets

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
SOURCE_FORMAT = "ocais-synth"
Progress = Callable[[str, int, int | None], None]


class SynthOptions(BaseModel):
    """How synthetic patients are drawn (recorded in every patient's provenance)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    per_disease: int | None = Field(
        None, ge=1, description="Patients per disease (default: as many as source cases)"
    )
    multiplier: float = Field(
        3.0, gt=0, description="Without per_disease: patients per source case"
    )
    prior_strength: float = Field(
        1.0, ge=0, description="s: pseudo-cases of knowledge-base frequencies in a profile"
    )
    epsilon: float | None = Field(
        None, gt=0, description="Differential privacy on the counts (None: off)"
    )
    max_terms: int = Field(60, ge=1, description="Terms counted per source case")
    min_terms: int = Field(1, ge=1, description="Fewest observed terms per patient")
    ancestor_rate: float = Field(
        0.1, ge=0, le=1, description="Chance a term is reported by its parent instead"
    )
    noise_rate: float = Field(
        0.3, ge=0, description="Mean number of unrelated findings added per patient"
    )
    excluded_rate: float = Field(
        1.0, ge=0, le=1, description="Scale of the chance to record pertinent negatives"
    )
    min_cases: int = Field(
        4,
        ge=1,
        description="Fewest source cases of a disease for case-driven patients; smaller groups "
        "are drawn from the knowledge base if it annotates the disease, else left out",
    )
    support: int = Field(
        1,
        ge=1,
        description="Cases needed before a term the knowledge base does not tie to the disease "
        "is reported at its own level (rarer ones are generalized to a parent)",
    )
    min_distance: float = Field(
        0.1, ge=0, lt=1, description="Least Jaccard distance to any source case of the disease"
    )
    max_redraws: int = Field(20, ge=0, description="Redraws of a too-close patient")
    default_frequency: float = Field(
        0.5, gt=0, le=1, description="Knowledge-driven: frequency of an unquantified annotation"
    )


@dataclass
class Profile:
    """What one disease's patients are drawn from."""

    disease_id: str
    name: str
    terms: IntArray  # candidate observed terms
    probability: FloatArray  # chance of each
    generalize: FloatArray  # chance each is reported by a parent instead
    excluded_terms: IntArray
    excluded_probability: FloatArray
    sex: FloatArray  # probabilities over SEXES
    age: FloatArray  # probabilities over AGE_BANDS + unknown
    n: int  # patients to draw


@dataclass
class Draw:
    """One drawn patient before it becomes a Case."""

    disease: int  # index into the profile list
    observed: list[int]
    excluded: list[int]
    sex: Sex
    age: float | None


class Sampler:
    """Draws patients from profiles with the noise model (vectorized per disease)."""

    def __init__(self, kb: KnowledgeBase, options: SynthOptions, rng: np.random.Generator):
        self.kb = kb
        self.options = options
        self.rng = rng
        self._par_ptr = np.asarray(kb.array("parent_ptr"), dtype=np.int64)
        self._par_idx = np.asarray(kb.array("parent_idx"), dtype=np.int64)
        self._parents: dict[int, list[int]] = {}
        phenotypic = kb.phenotypic_mask
        self._phenotypic = phenotypic
        counts = np.bincount(
            np.asarray(kb.array("ann_term"), dtype=np.int64), minlength=len(kb.term_ids)
        ).astype(np.float64)
        counts[~phenotypic] = 0.0
        self._noise_terms = np.flatnonzero(counts)
        weights = counts[self._noise_terms]
        self._noise_cdf = np.cumsum(weights) / weights.sum() if weights.size else weights

    def parent(self, term: int) -> int:
        """A parent of ``term`` (seeded choice among several), or ``term`` at the top."""
        parents = self._parents.get(term)
        if parents is None:
            found = self._par_idx[self._par_ptr[term] : self._par_ptr[term + 1]]
            parents = self._parents[term] = found[self._phenotypic[found]].tolist()
        if not parents:
            return term
        return parents[int(self.rng.integers(len(parents)))] if len(parents) > 1 else parents[0]

    def draw(self, profile: Profile, n: int) -> list[tuple[list[int], list[int]]]:
        """``n`` (observed, excluded) term lists from ``profile``."""
        opts, rng = self.options, self.rng
        shown = rng.random((n, profile.terms.size)) < profile.probability
        absent = rng.random((n, profile.excluded_terms.size)) < (
            profile.excluded_probability * opts.excluded_rate
        )
        n_noise = rng.poisson(opts.noise_rate, n) if opts.noise_rate > 0 else np.zeros(n, int)
        result = []
        weights = profile.probability / profile.probability.sum()
        coarse_all = rng.random((n, profile.terms.size)) < np.maximum(
            profile.generalize, opts.ancestor_rate
        )
        for i in range(n):
            observed = [
                self.parent(int(t)) if c else int(t)
                for t, c in zip(profile.terms[shown[i]], coarse_all[i][shown[i]], strict=True)
            ]
            missing = opts.min_terms - len(observed)
            if missing > 0:  # a patient is reported with at least min_terms features
                pool = np.setdiff1d(profile.terms, observed)
                if pool.size:
                    p = weights[np.isin(profile.terms, pool)]
                    extra = rng.choice(pool, min(missing, pool.size), replace=False, p=p / p.sum())
                    observed.extend(int(t) for t in extra)
            if n_noise[i] and self._noise_terms.size:
                picks = np.searchsorted(self._noise_cdf, rng.random(int(n_noise[i])))
                observed.extend(int(self._noise_terms[p]) for p in picks)
            observed_set = set(observed)
            excluded = [
                int(t) for t in profile.excluded_terms[absent[i]] if int(t) not in observed_set
            ]
            result.append((sorted(observed_set), sorted(set(excluded))))
        return result

    def demographics(self, profile: Profile, n: int) -> list[tuple[Sex, float | None]]:
        sexes = self.rng.choice(len(SEXES), n, p=profile.sex)
        bands = self.rng.choice(len(AGE_BANDS) + 1, n, p=profile.age)
        offsets = self.rng.random(n)
        out: list[tuple[Sex, float | None]] = []
        for s, b, u in zip(sexes, bands, offsets, strict=True):
            age = None
            if b < len(AGE_BANDS):
                low, high = AGE_BANDS[b]
                age = round(low + float(u) * (high - low), 2)
            out.append((SEXES[int(s)], age))
        return out


# --- case-driven ------------------------------------------------------------------------------
def case_profiles(
    profiles: CaseProfiles, kb: KnowledgeBase, options: SynthOptions
) -> list[Profile]:
    """Sampling profiles from counted cases, smoothed with the knowledge base."""
    kb_freq = _knowledge_frequencies(kb, profiles.disease_ids, options.default_frequency)
    frequencies = profiles.frequencies(kb_freq, options.prior_strength).tocsr()
    n_cases = np.maximum(profiles.n_cases, 0.0)
    excluded = profiles.excluded.tocsr()
    counts = profiles.observed.tocsr()
    supported = _KnowledgeSupport(kb, kb_freq)
    result = []
    for row, disease in enumerate(profiles.disease_ids):
        terms, probability = _row(frequencies, row)
        exc_terms, exc_counts = _row(excluded, row)
        count_terms, count_values = _row(counts, row)
        count = np.zeros(terms.size)
        count[np.searchsorted(terms, count_terms)] = count_values
        # a term few cases show and the knowledge base does not tie to the disease says more
        # about those patients than about the disease: report it less specifically
        rare = np.clip(1.0 - count / options.support, 0.0, 1.0)
        generalize = np.where(supported[row][terms], 0.0, rare)
        if options.per_disease is not None:
            n = options.per_disease
        else:
            n = max(1, round(float(n_cases[row]) * options.multiplier))
        result.append(
            Profile(
                disease_id=disease,
                name=profiles.disease_names[row],
                terms=terms,
                probability=np.clip(probability, 0.0, 0.98),
                generalize=generalize,
                excluded_terms=exc_terms,
                excluded_probability=np.clip(exc_counts / (n_cases[row] + 1.0), 0.0, 0.98),
                sex=_normalized(profiles.sex[row] + 0.5),
                age=_normalized(profiles.age[row] + 0.5),
                n=n,
            )
        )
    return result


def from_cases(
    cases: Sequence[Case],
    kb: KnowledgeBase,
    options: SynthOptions | None = None,
    *,
    source: str = "cases",
    progress: Progress | None = None,
) -> list[Case]:
    """Synthetic patients for every diagnosis in ``cases`` (de-identified, with a confirmed
    diagnosis). None is within ``min_distance`` of a source case of its disease."""
    opts = options or SynthOptions()
    usable = [c for c in cases if truth_of(c) is not None]
    if not usable:
        raise ConfigError(
            "no source case with a confirmed diagnosis: nothing to learn profiles from",
            hint="synthesize from phenopackets whose interpretation is SOLVED",
        )
    counted = CaseProfiles.from_cases(usable, kb, max_terms=opts.max_terms, seed=opts.seed)
    if opts.epsilon is not None:
        counted = counted.privatized(opts.epsilon, kb, seed=opts.seed)
    small = counted.n_cases < opts.min_cases
    profiles = [p for p, s in zip(case_profiles(counted, kb, opts), small, strict=True) if not s]
    fallback = left_out = 0
    for row in np.flatnonzero(small):
        disease = counted.disease_ids[row]
        if kb.has_disease(disease):
            n = opts.per_disease or max(1, round(float(counted.n_cases[row]) * opts.multiplier))
            profiles.append(knowledge_profile(kb, disease, n, opts))
            fallback += 1
        else:
            left_out += 1
    guard = _SourceGuard(usable, kb, opts.min_distance)
    return _generate(
        profiles,
        kb,
        opts,
        generator="from-cases",
        source=source,
        source_hash=str(counted.sources.get("cases_sha256")),
        guard=guard,
        progress=progress,
        summary={
            "n_source_cases": len(usable),
            "n_source_diseases": counted.n_diseases,
            "small_groups_from_knowledge": fallback,
            "small_groups_left_out": left_out,
        },
    )


# --- knowledge-driven -------------------------------------------------------------------------
def knowledge_profile(kb: KnowledgeBase, disease_id: str, n: int, options: SynthOptions) -> Profile:
    """The sampling profile of an annotated disease."""
    if not kb.has_disease(disease_id):
        raise UnknownDiseaseError(
            f"{disease_id} has no annotations in HPO {kb.version}",
            hint="use OMIM:…, ORPHA:… or DECIPHER:… ids of annotated diseases",
        )
    disease = kb.disease(disease_id)
    observed: dict[int, float] = {}
    excluded: dict[int, float] = {}
    sexes: set[Sex] = set()
    onsets: list[tuple[float, float]] = []
    for item in disease.phenotypes:
        if item.id in ONSET_YEARS:
            onsets.append(ONSET_YEARS[item.id])
            continue
        if item.id not in kb.term_index:
            continue
        index = kb.term_index[item.id]
        if not kb.phenotypic_mask[index]:
            continue
        if item.excluded or item.frequency == 0:
            excluded[index] = 0.5  # a NOT annotation: a likely pertinent negative
            continue
        frequency = options.default_frequency if item.frequency is None else item.frequency
        observed[index] = max(observed.get(index, 0.0), frequency)
        if item.sex is not None:
            sexes.add(item.sex)
    if not observed:
        raise UnknownDiseaseError(f"{disease_id} has no phenotype annotations to draw from")
    sex = np.asarray([0.5, 0.5, 0.0])
    if sexes == {Sex.FEMALE}:
        sex = np.asarray([1.0, 0.0, 0.0])
    elif sexes == {Sex.MALE}:
        sex = np.asarray([0.0, 1.0, 0.0])
    age = np.ones(len(AGE_BANDS) + 1)
    if onsets:
        low = min(o[0] for o in onsets)
        age = np.asarray(
            [1.0 if band[1] > low else 0.05 for band in AGE_BANDS] + [1.0], dtype=np.float64
        )
    terms = np.asarray(sorted(observed), dtype=np.int64)
    exc = np.asarray(sorted(excluded), dtype=np.int64)
    return Profile(
        disease_id=disease.id,
        name=disease.name,
        terms=terms,
        probability=np.clip(np.asarray([observed[t] for t in terms.tolist()]), 0.0, 0.98),
        generalize=np.zeros(terms.size),
        excluded_terms=exc,
        excluded_probability=np.asarray([excluded[t] for t in exc.tolist()], dtype=np.float64),
        sex=_normalized(sex),
        age=_normalized(age),
        n=n,
    )


def from_knowledge(
    disease_ids: Sequence[str],
    kb: KnowledgeBase,
    options: SynthOptions | None = None,
    *,
    progress: Progress | None = None,
) -> list[Case]:
    """Synthetic patients of annotated diseases (``per_disease`` each, default 10)."""
    opts = options or SynthOptions()
    if not disease_ids:
        raise ConfigError("no disease given", hint="e.g. --diseases OMIM:154700,ORPHA:558")
    n = opts.per_disease or 10
    profiles = [knowledge_profile(kb, d, n, opts) for d in dict.fromkeys(disease_ids)]
    return _generate(
        profiles,
        kb,
        opts,
        generator="from-knowledge",
        source=f"HPO annotations {kb.release.get('annotations_version', kb.version)}",
        source_hash=kb.release["content_hash"],
        guard=None,
        progress=progress,
    )


def annotated_diseases(
    kb: KnowledgeBase, namespaces: Sequence[str] = ("OMIM", "ORPHA")
) -> list[str]:
    """Every disease of ``namespaces`` with a phenotype annotation to draw patients from (a
    positive one under Phenotypic abnormality; some diseases have none, see
    :func:`knowledge_profile`)."""
    base = knowledge_annotations(kb, namespaces)
    drawable = kb.phenotypic_mask[base.term] & (base.frequency > 0)
    return [base.disease_ids[i] for i in np.unique(base.disease[drawable]).tolist()]


# --- shared -----------------------------------------------------------------------------------
def dataset_id(generator: str, source_hash: str, options: SynthOptions, kb: KnowledgeBase) -> str:
    """Deterministic id of a synthetic set: same generator, source, options and HPO → same id."""
    payload = json.dumps(
        [generator, source_hash, options.model_dump(mode="json"), kb.release["content_hash"]],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _generate(
    profiles: Sequence[Profile],
    kb: KnowledgeBase,
    options: SynthOptions,
    *,
    generator: str,
    source: str,
    source_hash: str,
    guard: _SourceGuard | None,
    progress: Progress | None,
    summary: dict[str, int] | None = None,
) -> list[Case]:
    rng = np.random.default_rng(options.seed)
    sampler = Sampler(kb, options, rng)
    ident = dataset_id(generator, source_hash, options, kb)
    parameters = {
        "generator": generator,
        "dataset_id": ident,
        "source_sha256": source_hash,
        "seed": options.seed,
        "epsilon": options.epsilon,
        "options": options.model_dump(mode="json"),
        **(summary or {}),
    }
    factory = _CaseFactory(kb, dt.datetime.now(dt.UTC), ident, source, parameters)
    total = sum(p.n for p in profiles)
    cases: list[Case] = []
    dropped = 0
    for profile in profiles:
        draws = sampler.draw(profile, profile.n)
        if guard is not None:
            for attempt in range(options.max_redraws + 1):
                close = guard.too_close(profile.disease_id, draws)
                if not close:
                    break
                if attempt == options.max_redraws:
                    dropped += len(close)
                    keep = set(range(len(draws))) - set(close)
                    draws = [d for i, d in enumerate(draws) if i in keep]
                    break
                redrawn = sampler.draw(profile, len(close))
                for i, d in zip(close, redrawn, strict=True):
                    draws[i] = d
        people = sampler.demographics(profile, len(draws))
        for (observed, excluded), (sex, age) in zip(draws, people, strict=True):
            cases.append(factory.case(profile, observed, excluded, sex, age, len(cases)))
        if progress is not None:
            progress("synthesize", len(cases) + dropped, total)
    if dropped:
        parameters["dropped_too_close"] = dropped
    return cases


class _CaseFactory:
    """Builds synthetic :class:`Case` objects fast.

    Models are built without re-validation (every id comes from the knowledge base), and the
    phenotype observations and diagnoses, identical across patients, are shared between them:
    treat generated cases as read-only (copy one with ``model_copy(deep=True)`` to edit it).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        created: dt.datetime,
        ident: str,
        source: str,
        parameters: dict[str, Any],
    ) -> None:
        self.kb = kb
        self.created = created
        self.ident = ident
        self.source = source
        self.parameters = parameters
        self.created_by = f"ocais {__version__}"
        self._observations: dict[tuple[int, bool], PhenotypeObservation] = {}
        self._diagnoses: dict[str, Diagnosis] = {}

    def observation(self, term: int, excluded: bool) -> PhenotypeObservation:
        key = (term, excluded)
        found = self._observations.get(key)
        if found is None:
            found = PhenotypeObservation.model_construct(
                id=self.kb.term_ids[term],
                label=self.kb.term_names[term],
                excluded=excluded,
                onset_age_years=None,
                onset_term=None,
            )
            self._observations[key] = found
        return found

    def observations(self, terms: list[int], excluded: bool) -> list[PhenotypeObservation]:
        cache = self._observations
        return [cache.get((t, excluded)) or self.observation(t, excluded) for t in terms]

    def case(
        self,
        profile: Profile,
        observed: list[int],
        excluded: list[int],
        sex: Sex,
        age: float | None,
        number: int,
    ) -> Case:
        record = f"synth-{self.ident}-{number:06d}"
        diagnosis = self._diagnoses.get(profile.disease_id)
        if diagnosis is None:
            diagnosis = Diagnosis.model_construct(
                disease_id=profile.disease_id, label=profile.name, status="confirmed"
            )
            self._diagnoses[profile.disease_id] = diagnosis
        return Case.model_construct(
            id=Case.stable_id(SOURCE_FORMAT, record),
            external_id=record,
            subject=Subject.model_construct(sex=sex, age_years=age, birth_year=None, deceased=None),
            phenotypes=self.observations(observed, False) + self.observations(excluded, True),
            findings=[],
            notes=[],
            diagnoses=[diagnosis],
            site="synthetic",
            cohort=profile.disease_id,
            synthetic=True,
            provenance=Provenance.model_construct(
                source=self.source,
                source_format=SOURCE_FORMAT,
                record_id=record,
                record_hash=None,
                created_at=self.created,
                created_by=self.created_by,
                knowledge_version=self.kb.version,
                parameters=self.parameters,
            ),
        )


class _SourceGuard:
    """Jaccard distance of draws to the source cases of their disease (the report's item sets
    and distances, :mod:`ocais.synth.privacy`)."""

    def __init__(self, cases: Sequence[Case], kb: KnowledgeBase, min_distance: float) -> None:
        self.min_distance = min_distance
        self.n_terms = len(kb.term_ids)
        labelled = [c for c in cases if truth_of(c) is not None]
        by_disease: dict[str, list[frozenset[int]]] = {}
        for case, items in zip(labelled, phenotype_sets(labelled, kb), strict=True):
            by_disease.setdefault(str(truth_of(case)), []).append(items)
        self.sources = {d: item_matrix(s, self.n_terms) for d, s in by_disease.items()}

    def too_close(self, disease: str, draws: Sequence[tuple[list[int], list[int]]]) -> list[int]:
        """Positions of the draws within ``min_distance`` of a source case of ``disease``."""
        source = self.sources.get(disease)
        if source is None or not draws:
            return []
        query = item_matrix([item_set(o, e) for o, e in draws], self.n_terms)
        distances, _ = nearest_distances(query, source)
        return np.flatnonzero(distances <= self.min_distance).tolist()


def _knowledge_frequencies(
    kb: KnowledgeBase, disease_ids: Sequence[str], default: float
) -> sp.csr_array:
    """Disease × term matrix of annotated frequencies of ``disease_ids`` (0 where unannotated)."""
    namespaces = sorted({d.split(":", 1)[0] for d in disease_ids})
    n_terms = len(kb.term_ids)
    try:
        base = knowledge_annotations(kb, namespaces, default)
    except ConfigError:  # none of these namespaces is annotated
        return sp.csr_array((len(disease_ids), n_terms))
    row_of = {d: i for i, d in enumerate(disease_ids)}
    target = np.asarray([row_of.get(d, -1) for d in base.disease_ids], dtype=np.int64)
    rows = target[base.disease]
    keep = rows >= 0
    matrix = sp.csr_array(
        (base.frequency[keep], (rows[keep], base.term[keep])), shape=(len(disease_ids), n_terms)
    )
    matrix.sum_duplicates()
    return matrix


class _KnowledgeSupport:
    """Per disease row: is each term an annotation of the disease, or an ancestor or a
    descendant of one? (Computed on access, one row at a time.)"""

    def __init__(self, kb: KnowledgeBase, frequencies: sp.csr_array) -> None:
        self.matrix = sp.csr_array(frequencies)
        self.anc_ptr = np.asarray(kb.array("anc_ptr"), dtype=np.int64)
        self.anc_idx = np.asarray(kb.array("anc_idx"), dtype=np.int64)
        self.desc_ptr, self.desc_idx = kb.descendant_csr
        self.n_terms = len(kb.term_ids)

    def __getitem__(self, row: int) -> npt.NDArray[np.bool_]:
        m = self.matrix
        mask = np.zeros(self.n_terms, dtype=bool)
        for t in m.indices[m.indptr[row] : m.indptr[row + 1]].tolist():
            mask[self.anc_idx[self.anc_ptr[t] : self.anc_ptr[t + 1]]] = True
            mask[self.desc_idx[self.desc_ptr[t] : self.desc_ptr[t + 1]]] = True
        return mask


def _row(matrix: sp.csr_array, row: int) -> tuple[IntArray, FloatArray]:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return (
        np.asarray(matrix.indices[start:end], dtype=np.int64),
        np.asarray(matrix.data[start:end], dtype=np.float64),
    )


def _normalized(values: FloatArray) -> FloatArray:
    total = float(values.sum())
    if not math.isfinite(total) or total <= 0:
        return np.full(values.size, 1.0 / values.size)
    return values / total
