"""A predictor learned from cases, on top of the knowledge ranker.

Three things are learned from a set of cases (real or synthetic), each with a confirmed
diagnosis:

1. **Disease profiles.** For every diagnosis in the cases, the frequency of each HPO term,
   smoothed with the knowledge base: (count + s·f_kb) / (n + s), where f_kb is the annotated
   frequency (0 when the disease lacks the term) and s the prior strength. Diseases the knowledge
   base does not annotate at all get a profile from the cases alone: this is how a site teaches
   the service diseases missing from the public annotations. The profiles replace the
   knowledge base's annotations of those diseases in a copy of the likelihood-ratio ranker
   (:mod:`ocais.predict.phenotype`), so scoring and evidence work as before.
2. **A re-ranker.** Logistic regression over features of every disease
   (:mod:`ocais.learn.reranker`) — the score with learned profiles (for every disease, on one
   scale: decision 0011), the knowledge-only score, and optionally
   (``case_prior``) whether the disease is profiled, log(1 + its training cases) and whether it
   is new — trained on *cross-fitted* scores: profiles from the other fold, with a share of
   diseases (``unseen_share``) left out entirely so that it also sees diseases it has no cases
   of. Its decision function is linear, so it ranks every disease at once (exact ranks in
   benchmarks). The case prior is off by default: on held-out cases of the same diseases it
   adds about 3 points of top-1, but it buries diseases absent from the training cases
   (measured: top-1 of such cases fell from 75% to 33% with it, to 58% without; top-10 stayed
   at 87% without it), and a deployment sees diseases its training set lacked.
3. **A temperature** for the posterior (softmax of the re-ranker score), fitted by maximum
   likelihood of the true diagnosis on the cross-fitted cases.

Artifacts are a directory: ``model.json`` (options, weights, temperature, provenance, training
summary) and the counted profiles (``profiles.npz`` + ``profiles.json``); no pickle.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import ConfigError
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import CaseProfiles, truth_of
from ocais.learn.reranker import (
    FEATURES,
    feature_context,
    feature_mask,
    feature_matrix,
    fit_temperature,
    top1,
    weights_by_name,
)
from ocais.predict.matrices import (
    DEFAULT_NAMESPACES,
    Annotations,
    DiseaseMatrices,
    compile_matrices,
    knowledge_annotations,
)
from ocais.predict.phenotype import PhenotypeRanker
from ocais.predict.terms import CaseTerms, case_terms
from ocais.schemas import Case, Provenance

FloatArray = npt.NDArray[np.float64]
MODEL_FORMAT = "ocais-learned-predictor/1"
MODEL_FILE = "model.json"
REFIT_HINT = "fit one with `ocais learn fit CASES_DIR --out MODEL_DIR`"
Progress = Callable[[str, int, int | None], None]


class LearnOptions(BaseModel):
    """How a model is fitted (stored in ``model.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespaces: tuple[str, ...] = Field(DEFAULT_NAMESPACES, description="Knowledge catalogues")
    prior_strength: float = Field(
        1.0, ge=0, description="s: pseudo-cases of the knowledge base's frequencies"
    )
    max_terms: int = Field(60, ge=1, description="Terms counted per case (bounds influence)")
    min_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Drop a term from a learned profile when fewer than this share of the "
        "disease's cases show it",
    )
    folds: int = Field(2, ge=2, le=10, description="Cross-fitting folds for the re-ranker")
    candidates: int = Field(50, ge=2, description="Negatives per training case (top scored)")
    unseen_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Share of diseases left out of each fold's profiles, so the re-ranker also "
        "learns how to rank diseases it has no cases of",
    )
    regularization: float = Field(1.0, gt=0, description="Inverse L2 strength (sklearn C)")
    case_prior: bool = Field(
        False,
        description="Let the re-ranker favour diseases with more training cases (a prior from "
        "the case mix: strong where deployment sees the same diseases, harmful for others)",
    )
    profiled_feature: bool = Field(
        False,
        description="Also give the re-ranker the learned score of profiled diseases only (0 "
        "for the others): a bonus for having a profile that sinks diseases absent from the "
        "training cases (decision 0011)",
    )
    seed: int = 0


@dataclass
class LearnedModel:
    """A fitted model: profiles, re-ranker weights, temperature and provenance."""

    options: LearnOptions
    profiles: CaseProfiles
    weights: FloatArray  # one per FEATURES
    intercept: float
    temperature: float
    provenance: Provenance
    training: dict[str, Any]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.profiles.save(directory)
        manifest = {
            "format": MODEL_FORMAT,
            "predictor": "learned",
            "options": self.options.model_dump(mode="json"),
            "reranker": {
                "kind": "logistic-regression",
                "features": list(FEATURES),
                "weights": [float(w) for w in self.weights],
                "intercept": self.intercept,
                "temperature": self.temperature,
            },
            "training": self.training,
            "provenance": self.provenance.model_dump(mode="json"),
        }
        path = directory / MODEL_FILE
        path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path, kb: KnowledgeBase) -> LearnedModel:
        path = Path(directory) / MODEL_FILE
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no learned model at {directory} ({MODEL_FILE} is missing)",
                hint=REFIT_HINT,
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}", hint=REFIT_HINT) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
            raise ConfigError(f"{path} is not an {MODEL_FORMAT} model", hint=REFIT_HINT)
        reranker = manifest["reranker"]
        try:
            weights = weights_by_name(reranker["features"], reranker["weights"])
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}", hint=REFIT_HINT) from exc
        return cls(
            options=LearnOptions(**manifest["options"]),
            profiles=CaseProfiles.load(Path(directory), kb),
            weights=weights,
            intercept=float(reranker["intercept"]),
            temperature=float(reranker["temperature"]),
            provenance=Provenance(**manifest["provenance"]),
            training=dict(manifest.get("training") or {}),
        )


# --- profiles → ranker ------------------------------------------------------------------------
def learned_annotations(
    kb: KnowledgeBase,
    base: Annotations,
    profiles: CaseProfiles,
    strength: float,
    min_share: float = 0.0,
) -> Annotations:
    """``base`` with the diseases of ``profiles`` re-estimated (known) or appended (new)."""
    row_of = {d: i for i, d in enumerate(base.disease_ids)}
    n_base, n_terms = len(base.disease_ids), len(kb.term_ids)
    new_ids = [d for d in profiles.disease_ids if d not in row_of]
    ids = list(base.disease_ids) + new_ids
    row_of.update({d: n_base + i for i, d in enumerate(new_ids)})
    target = np.asarray([row_of[d] for d in profiles.disease_ids], dtype=np.int64)
    # the knowledge base's frequencies of the profiled diseases, aligned with profile rows
    base_matrix = sp.csr_array(
        (base.frequency, (base.disease, base.term)), shape=(len(ids), n_terms)
    )
    base_matrix.sum_duplicates()
    prior = sp.csr_array(base_matrix[target])
    learned = profiles.frequencies(prior, strength, min_share).tocoo()
    replaced = np.zeros(len(ids), dtype=bool)
    replaced[target] = True
    keep = ~replaced[base.disease]
    names = dict(zip(profiles.disease_ids, profiles.disease_names, strict=True))
    return Annotations(
        disease_ids=ids,
        disease_names=list(base.disease_names) + [names[d] for d in new_ids],
        kb_rows=np.concatenate([base.kb_rows, np.full(len(new_ids), -1, dtype=np.int64)]),
        disease=np.concatenate([base.disease[keep], target[learned.row]]),
        term=np.concatenate([base.term[keep], learned.col.astype(np.int64)]),
        frequency=np.concatenate([base.frequency[keep], learned.data]),
        not_disease=base.not_disease,
        not_term=base.not_term,
        default_frequency=base.default_frequency,
    )


def learned_matrices(
    kb: KnowledgeBase, profiles: CaseProfiles, options: LearnOptions, namespaces: Sequence[str]
) -> DiseaseMatrices:
    base = knowledge_annotations(kb, namespaces)
    return compile_matrices(
        kb,
        learned_annotations(kb, base, profiles, options.prior_strength, options.min_share),
    )


# --- the predictor ----------------------------------------------------------------------------
class LearnedPredictor(PhenotypeRanker):
    """The phenotype ranker with profiles learned from cases and a learned re-ranker.

    Build it with ``model_dir`` (a directory written by :func:`fit` / ``ocais learn fit``) or
    ``model`` (a :class:`LearnedModel` in memory).
    """

    name: ClassVar[str] = "learned"

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        model_dir: str | Path | None = None,
        model: LearnedModel | None = None,
        **options: Any,
    ) -> None:
        if model is None:
            if model_dir is None:
                raise TypeError(
                    "the learned predictor needs a model: pass model_dir "
                    "(`--model MODEL_DIR`, from `ocais learn fit`)"
                )
            model = LearnedModel.load(Path(model_dir), knowledge)
        self.model = model
        namespaces = tuple(options.pop("namespaces", model.options.namespaces))
        options.setdefault("temperature", model.temperature)
        self.base = PhenotypeRanker(knowledge, namespaces=namespaces, **options)
        matrices = learned_matrices(knowledge, model.profiles, model.options, namespaces)
        super().__init__(knowledge, matrices=matrices, namespaces=namespaces, **options)
        self._features = feature_context(matrices, model.profiles, self.base.matrices.n_diseases)

    def learned_score(self, case: Case, terms: CaseTerms) -> FloatArray:
        """Score with the learned profiles alone (before re-ranking)."""
        return super().score(case, terms)

    def score(self, case: Case, terms: CaseTerms) -> FloatArray:
        learned = self.learned_score(case, terms)
        if not np.isfinite(learned).any():
            return learned
        features = feature_matrix(learned, self.base.score(case, terms), self._features)
        result: FloatArray = features @ self.model.weights + self.model.intercept
        return result

    def provenance(self) -> Provenance:
        base = super().provenance()
        base.source = "ocais.learn.model"
        base.parameters["model"] = {
            "format": MODEL_FORMAT,
            "fitted": self.model.provenance.model_dump(mode="json"),
            "training": self.model.training,
        }
        return base


# --- fitting ----------------------------------------------------------------------------------
def _folds(cases: Sequence[Case], folds: int, seed: int) -> npt.NDArray[np.int64]:
    """Fold of each case, assigned round-robin within each diagnosis in a seeded order."""
    rng = np.random.default_rng(seed)
    by_disease: dict[str, list[int]] = {}
    for i, case in enumerate(cases):
        by_disease.setdefault(truth_of(case) or "", []).append(i)
    fold = np.zeros(len(cases), dtype=np.int64)
    for members in by_disease.values():
        order = rng.permutation(len(members))
        start = int(rng.integers(folds))
        for position, index in enumerate(order):
            fold[members[index]] = (start + position) % folds
    return fold


def fit(
    cases: Sequence[Case],
    kb: KnowledgeBase,
    options: LearnOptions | None = None,
    *,
    source: str = "cases",
    progress: Progress | None = None,
) -> LearnedModel:
    """Fit a :class:`LearnedModel` on ``cases`` (those without a confirmed diagnosis are
    ignored). Raises ``ConfigError`` when there is nothing to learn from."""
    from sklearn.linear_model import LogisticRegression

    opts = options or LearnOptions()
    usable = [c for c in cases if truth_of(c) is not None and c.observed]
    if len(usable) < opts.folds:
        raise ConfigError(
            f"{len(usable)} usable cases: at least {opts.folds} with a confirmed diagnosis and "
            "an observed phenotype are needed",
        )
    fold = _folds(usable, opts.folds, opts.seed)
    rows: list[FloatArray] = []
    labels: list[FloatArray] = []
    groups: list[tuple[FloatArray, int]] = []  # per case: (features of all diseases, truth row)
    base_ranker = PhenotypeRanker(kb, namespaces=opts.namespaces)
    n_base = base_ranker.matrices.n_diseases
    done = 0
    diseases = sorted({truth_of(c) or "" for c in usable})
    rng = np.random.default_rng(opts.seed + 1)
    for k in range(opts.folds):
        hidden = set(rng.choice(diseases, round(opts.unseen_share * len(diseases)), replace=False))
        train = [
            c for c, f in zip(usable, fold, strict=True) if f != k and truth_of(c) not in hidden
        ]
        test = [c for c, f in zip(usable, fold, strict=True) if f == k]
        profiles = CaseProfiles.from_cases(train, kb, max_terms=opts.max_terms, seed=opts.seed)
        matrices = learned_matrices(kb, profiles, opts, opts.namespaces)
        ranker = PhenotypeRanker(kb, matrices=matrices, namespaces=opts.namespaces)
        context = feature_context(matrices, profiles, n_base)
        index = matrices.index_of()
        for case in test:
            terms = case_terms(kb, case)
            learned = ranker.score(case, terms)
            truth = index.get(truth_of(case) or "")
            done += 1
            if progress is not None and done % 50 == 0:
                progress("fit", done, len(usable))
            if truth is None or not np.isfinite(learned).any():
                continue  # a disease seen only in this fold: nothing to learn about its rank
            features = feature_matrix(learned, base_ranker.score(case, terms), context)
            features = np.nan_to_num(features, neginf=-1e3)
            top = matrices.top(learned, opts.candidates)
            chosen = np.unique(np.append(top, truth))
            rows.append(features[chosen])
            labels.append((chosen == truth).astype(np.float64))
            groups.append((features[chosen], int(np.searchsorted(chosen, truth))))
    if progress is not None:
        progress("fit", len(usable), len(usable))
    if not rows:
        raise ConfigError("no case's diagnosis was seen in another fold: too few cases to fit")
    x = np.concatenate(rows)
    y = np.concatenate(labels)
    # features an option turns off are kept at 0, so their weights stay 0
    mask = feature_mask(case_prior=opts.case_prior, profiled_feature=opts.profiled_feature)
    x = x * mask
    groups = [(f * mask, t) for f, t in groups]
    regression = LogisticRegression(C=opts.regularization, max_iter=1000)
    regression.fit(x, y)
    weights = np.asarray(regression.coef_[0], dtype=np.float64)
    intercept = float(regression.intercept_[0])
    temperature = fit_temperature(groups, weights)
    profiles = CaseProfiles.from_cases(usable, kb, max_terms=opts.max_terms, seed=opts.seed)
    training = {
        "n_cases": len(usable),
        "n_ignored": len(cases) - len(usable),
        "n_diseases": profiles.n_diseases,
        "n_new_diseases": sum(1 for d in profiles.disease_ids if not kb.has_disease(d)),
        "n_synthetic": sum(1 for c in usable if c.synthetic),
        "cases_sha256": profiles.sources.get("cases_sha256"),
        "cross_fitted_top1": top1(groups, weights),
        "n_reranker_rows": int(y.size),
    }
    provenance = Provenance(
        source=source,
        source_format="ocais-learn",
        created_at=dt.datetime.now(dt.UTC),
        created_by=f"ocais {__version__}",
        knowledge_version=kb.version,
        parameters={
            **opts.model_dump(mode="json"),
            "hpo_content_hash": kb.release["content_hash"],
        },
    )
    return LearnedModel(
        options=opts,
        profiles=profiles,
        weights=weights,
        intercept=intercept,
        temperature=temperature,
        provenance=provenance,
        training=training,
    )
