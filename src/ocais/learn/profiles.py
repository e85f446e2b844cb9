"""Per-disease phenotype profiles counted from cases: what both learning and synthesis start from.

A profile is a set of counts per disease: cases, cases showing each HPO term (observed) or
explicitly without it (excluded), sex, and age bands. Counts — not case lists — are what
leave this module, so optional differential privacy (the Laplace mechanism on every count,
:meth:`CaseProfiles.privatized`) covers everything derived from them.

Privacy accounting: one case contributes at most ``max_terms`` observed and ``max_terms``
excluded terms (extra ones are dropped, in a seeded random order), plus 1 to its disease's case
count, sex count and age-band count. Its L1 sensitivity is therefore ``2·max_terms + 3`` and
Laplace noise of scale ``(2·max_terms + 3) / epsilon`` on every count (including zero counts of
terms the knowledge base annotates to the disease) gives epsilon-DP for the counts of the
diseases present. Which diseases are present is *not* hidden: a site shares profiles of its
diagnoses, as the dataset card says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ocais.errors import ConfigError
from ocais.evaluate.benchmark import confirmed_truth
from ocais.knowledge import KnowledgeBase
from ocais.predict.terms import case_terms
from ocais.schemas import Case, Sex

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SEXES = (Sex.FEMALE, Sex.MALE, Sex.UNKNOWN)
# Age bands (years, lower bound inclusive): unknown, antenatal/neonatal, infant, child, youth,
# adult. The last column counts cases without an age.
AGE_BANDS = ((0.0, 0.08), (0.08, 1.0), (1.0, 5.0), (5.0, 16.0), (16.0, 40.0), (40.0, 90.0))
N_AGE_COLUMNS = len(AGE_BANDS) + 1
PROFILE_FORMAT = "ocais-case-profiles/1"


def truth_of(case: Case) -> str | None:
    """The case's first confirmed diagnosis id, or None."""
    return next(iter(confirmed_truth(case)), None)


def cases_sha256(cases: Iterable[Case]) -> str:
    """Digest of a list of cases, in order: each one's source record hash (or content hash)."""
    digest = hashlib.sha256()
    for case in cases:
        digest.update((case.provenance.record_hash or case.content_hash()).encode())
    return digest.hexdigest()


def age_band(age: float | None) -> int:
    """Column of ``age`` in the age-band counts (the last one: unknown)."""
    if age is None:
        return len(AGE_BANDS)
    for i, (_low, high) in enumerate(AGE_BANDS):
        if age < high:
            return i
    return len(AGE_BANDS) - 1


@dataclass
class CaseProfiles:
    """Counts per disease (rows) and HPO term (columns of the knowledge base's term list)."""

    disease_ids: list[str]
    disease_names: list[str]
    n_cases: FloatArray  # per disease (float: noisy counts are not integers)
    observed: sp.csr_array  # disease × term: cases showing the term
    excluded: sp.csr_array  # disease × term: cases where it was explicitly excluded
    sex: FloatArray  # disease × 3 (female, male, unknown)
    age: FloatArray  # disease × N_AGE_COLUMNS
    term_ids: list[str]  # column labels (the knowledge base's term ids)
    knowledge_version: str
    max_terms: int
    epsilon: float | None = None
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def n_diseases(self) -> int:
        return len(self.disease_ids)

    @property
    def total_cases(self) -> float:
        return float(self.n_cases.sum())

    def index_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.disease_ids)}

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_cases(
        cls,
        cases: Sequence[Case],
        kb: KnowledgeBase,
        *,
        max_terms: int = 60,
        seed: int = 0,
        names: dict[str, str] | None = None,
    ) -> CaseProfiles:
        """Count the cases with a confirmed diagnosis (others are ignored).

        Terms are resolved against ``kb`` (alternative and obsolete ids replaced, unknown ones
        dropped). A case with more than ``max_terms`` observed (or excluded) terms keeps a seeded
        random ``max_terms`` of them, which bounds each case's influence (see module docstring).
        """
        if max_terms < 1:
            raise ConfigError("max_terms must be at least 1")
        rng = np.random.default_rng(seed)
        index: dict[str, int] = {}
        labels: dict[str, str] = dict(names or {})
        obs_rows: list[int] = []
        obs_cols: list[int] = []
        exc_rows: list[int] = []
        exc_cols: list[int] = []
        sexes: list[tuple[int, int]] = []
        ages: list[tuple[int, int]] = []
        counted: list[Case] = []
        for case in cases:
            disease = truth_of(case)
            if disease is None:
                continue
            counted.append(case)
            row = index.setdefault(disease, len(index))
            for diagnosis in case.diagnoses:
                if diagnosis.disease_id == disease and diagnosis.label:
                    labels.setdefault(disease, diagnosis.label)
            resolved = case_terms(kb, case)
            for terms, rows, cols in (
                (resolved.observed.tolist(), obs_rows, obs_cols),
                (resolved.excluded.tolist(), exc_rows, exc_cols),
            ):
                if len(terms) > max_terms:
                    terms = sorted(rng.choice(terms, size=max_terms, replace=False).tolist())
                rows.extend([row] * len(terms))
                cols.extend(terms)
            sexes.append((row, SEXES.index(case.subject.sex) if case.subject.sex in SEXES else 2))
            ages.append((row, age_band(case.subject.age_years)))
        n = len(index)
        shape = (n, len(kb.term_ids))

        def counts(rows: list[int], cols: list[int]) -> sp.csr_array:
            matrix = sp.csr_array(
                (np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(cols))),
                shape=shape,
            )
            matrix.sum_duplicates()
            return matrix

        sex = np.zeros((n, len(SEXES)))
        np.add.at(sex, tuple(np.asarray(sexes, dtype=np.int64).reshape(-1, 2).T), 1)
        age = np.zeros((n, N_AGE_COLUMNS))
        np.add.at(age, tuple(np.asarray(ages, dtype=np.int64).reshape(-1, 2).T), 1)
        ids = list(index)
        return cls(
            disease_ids=ids,
            disease_names=[labels.get(d) or _kb_name(kb, d) for d in ids],
            n_cases=sex.sum(axis=1),
            observed=counts(obs_rows, obs_cols),
            excluded=counts(exc_rows, exc_cols),
            sex=sex,
            age=age,
            term_ids=list(kb.term_ids),
            knowledge_version=kb.version,
            max_terms=max_terms,
            sources={"n_cases": len(counted), "cases_sha256": cases_sha256(counted)},
        )

    # --- differential privacy ----------------------------------------------------------------
    @property
    def sensitivity(self) -> float:
        """L1 sensitivity of all counts to one case (see module docstring)."""
        return 2.0 * self.max_terms + 3.0

    def privatized(
        self, epsilon: float, kb: KnowledgeBase, *, seed: int = 0, namespaces: Sequence[str] = ()
    ) -> CaseProfiles:
        """Profiles with Laplace noise (scale sensitivity/epsilon) on every count, clipped at 0.

        Noise is added to every present count and to the zero counts of every term the
        knowledge base annotates to the disease, so a term's absence is protected as well as
        its presence among the terms a disease is known for. Terms that are neither counted nor
        annotated stay 0 (the set of columns touched is data-dependent only through terms that
        were observed; for a stricter guarantee, use a small ``max_terms``).
        """
        if not epsilon > 0:
            raise ConfigError("epsilon must be positive", hint="e.g. epsilon = 1.0")
        rng = np.random.default_rng(seed)
        scale = self.sensitivity / epsilon
        annotated = _annotation_pattern(self, kb)

        def noisy(matrix: sp.csr_array) -> sp.csr_array:
            keys, values = _with_support(matrix, annotated)
            values = np.maximum(values + rng.laplace(0.0, scale, values.size), 0.0)
            n_terms = matrix.shape[1]
            result = sp.csr_array((values, (keys // n_terms, keys % n_terms)), shape=matrix.shape)
            result.eliminate_zeros()
            return result

        observed = noisy(self.observed)
        excluded = noisy(self.excluded)
        sex = np.maximum(self.sex + rng.laplace(0.0, scale, self.sex.shape), 0.0)
        age = np.maximum(self.age + rng.laplace(0.0, scale, self.age.shape), 0.0)
        n_cases = np.maximum(self.n_cases + rng.laplace(0.0, scale, self.n_cases.shape), 1.0)
        return CaseProfiles(
            disease_ids=list(self.disease_ids),
            disease_names=list(self.disease_names),
            n_cases=n_cases,
            observed=observed,
            excluded=excluded,
            sex=sex,
            age=age,
            term_ids=list(self.term_ids),
            knowledge_version=self.knowledge_version,
            max_terms=self.max_terms,
            epsilon=epsilon,
            sources={**self.sources, "dp_seed": seed, "dp_scale": scale},
        )

    # --- frequencies ---------------------------------------------------------------------------
    def frequencies(
        self, prior: sp.csr_array | None = None, strength: float = 1.0, min_share: float = 0.0
    ) -> sp.csr_array:
        """Smoothed frequency of each observed term per disease: (count + s·f₀) / (n + s).

        ``prior`` (disease × term, aligned with this profile's rows) holds the knowledge
        base's frequencies f₀; without it, f₀ = 0 and the estimate shrinks towards 0. Counts
        below ``min_share`` of the disease's cases (a finding of one patient among many:
        noise, a second condition) are dropped before smoothing.
        """
        n = np.maximum(self.n_cases, 0.0)[:, None]
        counts = sp.csr_array(self.observed.astype(np.float64))
        if min_share > 0:
            rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            counts.data[counts.data < min_share * n.ravel()[rows]] = 0.0
            counts.eliminate_zeros()
        numerator = counts
        if prior is not None and strength > 0:
            numerator = numerator + strength * prior
        result = sp.csr_array(numerator.multiply(1.0 / (n + strength)))
        result.data = np.clip(result.data, 0.0, 1.0)
        result.eliminate_zeros()
        return result

    # --- persistence (no pickle: NPZ + JSON) --------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        obs = self.observed.tocoo()
        exc = self.excluded.tocoo()
        # terms are stored by id, not by index, so the file survives a new HPO release
        np.savez_compressed(
            directory / "profiles.npz",
            n_cases=self.n_cases,
            sex=self.sex,
            age=self.age,
            obs_row=obs.row.astype(np.int32),
            obs_term=obs.col.astype(np.int32),
            obs_count=obs.data,
            exc_row=exc.row.astype(np.int32),
            exc_term=exc.col.astype(np.int32),
            exc_count=exc.data,
        )
        used = sorted(set(obs.col.tolist()) | set(exc.col.tolist()))
        meta = {
            "format": PROFILE_FORMAT,
            "disease_ids": self.disease_ids,
            "disease_names": self.disease_names,
            "term_ids": {str(i): self.term_ids[i] for i in used},
            "knowledge_version": self.knowledge_version,
            "max_terms": self.max_terms,
            "epsilon": self.epsilon,
            "sources": self.sources,
        }
        (directory / "profiles.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, kb: KnowledgeBase) -> CaseProfiles:
        """Load saved profiles, mapping their term ids onto ``kb`` (obsolete ids replaced,
        ids the release does not know dropped)."""
        meta_path = directory / "profiles.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            arrays = np.load(directory / "profiles.npz", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read case profiles in {directory}: {exc}",
                hint="point to a directory written by `ocais learn fit`",
            ) from exc
        if meta.get("format") != PROFILE_FORMAT:
            raise ConfigError(f"{meta_path}: not an {PROFILE_FORMAT} file")
        mapping = np.full(max((int(k) for k in meta["term_ids"]), default=-1) + 1, -1)
        for key, term_id in meta["term_ids"].items():
            current = kb.resolve_id(term_id)
            if current is not None:
                mapping[int(key)] = kb.term_index[current]
        n = len(meta["disease_ids"])
        shape = (n, len(kb.term_ids))

        def matrix(prefix: str) -> sp.csr_array:
            cols = mapping[arrays[f"{prefix}_term"]] if mapping.size else np.empty(0, np.int64)
            keep = cols >= 0
            result = sp.csr_array(
                (arrays[f"{prefix}_count"][keep], (arrays[f"{prefix}_row"][keep], cols[keep])),
                shape=shape,
            )
            result.sum_duplicates()
            return result

        return cls(
            disease_ids=list(meta["disease_ids"]),
            disease_names=list(meta["disease_names"]),
            n_cases=np.asarray(arrays["n_cases"], dtype=np.float64),
            observed=matrix("obs"),
            excluded=matrix("exc"),
            sex=np.asarray(arrays["sex"], dtype=np.float64),
            age=np.asarray(arrays["age"], dtype=np.float64),
            term_ids=list(kb.term_ids),
            knowledge_version=str(meta["knowledge_version"]),
            max_terms=int(meta["max_terms"]),
            epsilon=meta.get("epsilon"),
            sources=dict(meta.get("sources") or {}),
        )


def _kb_name(kb: KnowledgeBase, disease_id: str) -> str:
    try:
        return kb.disease_name(disease_id)
    except LookupError:  # unknown disease: its id is its name
        return disease_id


def _with_support(matrix: sp.csr_array, keys: IntArray) -> tuple[IntArray, FloatArray]:
    """Flat keys (row·n_terms + col) of the union of ``matrix``'s entries and ``keys``, and
    ``matrix``'s values there (0 where it has none)."""
    coo = matrix.tocoo()
    own = coo.row.astype(np.int64) * matrix.shape[1] + coo.col.astype(np.int64)
    union = np.union1d(own, keys)
    values = np.zeros(union.size)
    values[np.searchsorted(union, own)] = coo.data
    return union, values


def _annotation_pattern(profiles: CaseProfiles, kb: KnowledgeBase) -> IntArray:
    """Flat keys (row·n_terms + col) of the knowledge base's annotations of these diseases."""
    kb_index = {d: i for i, d in enumerate(kb.disease_ids)}
    local = np.full(len(kb.disease_ids), -1, dtype=np.int64)
    for row, disease in enumerate(profiles.disease_ids):
        if disease in kb_index:
            local[kb_index[disease]] = row
    rows = local[np.asarray(kb.array("ann_disease"), dtype=np.int64)]
    term = np.asarray(kb.array("ann_term"), dtype=np.int64)
    keep = rows >= 0
    return np.unique(rows[keep] * len(kb.term_ids) + term[keep])
