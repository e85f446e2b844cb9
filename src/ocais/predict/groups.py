"""One row per disease: a predictor's entries (OMIM, ORPHA, ...) grouped by MONDO disease.

A predictor scores entries; a clinician reads diseases. :class:`DiseaseGroups` maps the entries
a predictor ranks to their MONDO disease (``KnowledgeBase.disease_group``; an entry without an
exact MONDO match is a group of one) once, and every predictor forms its candidates through
:func:`group_candidates`. A group's score combines its members' (chosen by measurement,
docs/decisions/0010): for a probabilistic ranker, T·log Σ exp(s/T), so that a disease's
probability is the sum of its entries' (the softmax over groups equals the entries' softmax
summed per group); for a similarity (Resnik), the best member's score. The candidate's
``disease_id`` is the best-scoring member, and probabilities are over diseases, not entries.

Vectorized: the per-group maximum is one ``np.maximum.reduceat`` over the entries sorted by
group; only the ``k`` returned groups are looked at one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from ocais.knowledge import KnowledgeBase, disease_url
from ocais.knowledge.genes import GeneTable
from ocais.predict.matrices import top_rows
from ocais.schemas import Candidate, GeneSuggestion, GroupMember

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class DiseaseGroups:
    """The entries of one predictor (``disease_ids``, in its row order) grouped by disease."""

    disease_ids: Sequence[str]
    group_ids: list[str]  # per group: its MONDO id, or the entry's own id
    group_of: IntArray  # per entry row: its group
    order: IntArray  # entry rows sorted by group
    starts: IntArray  # where each group begins in ``order``
    mondo: list[bool] = field(repr=False)  # per group: is it a MONDO disease?
    temperature: float | None = None  # None: max rule; else T·log Σ exp(s/T)

    @classmethod
    def build(
        cls, kb: KnowledgeBase, disease_ids: Sequence[str], temperature: float | None = None
    ) -> DiseaseGroups:
        """Group ``disease_ids`` by MONDO disease. With a softmax ``temperature`` (a
        probabilistic predictor) a group scores T·log Σ exp(s/T) over its members, so its
        probability is the sum of theirs; without one (a similarity), the best member's score."""
        keys = [kb.disease_group(d) for d in disease_ids]
        group_ids = sorted(set(keys))
        index = {g: i for i, g in enumerate(group_ids)}
        group_of = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
        order = np.argsort(group_of, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(group_of[order]) != 0]).astype(np.int64)
        if not keys:
            starts = np.empty(0, dtype=np.int64)
        return cls(
            disease_ids=list(disease_ids),
            group_ids=group_ids,
            group_of=group_of,
            order=order.astype(np.int64),
            starts=starts,
            mondo=[g in kb.mondo for g in group_ids],
            temperature=temperature,
        )

    @property
    def n_groups(self) -> int:
        return len(self.group_ids)

    @cached_property
    def index(self) -> dict[str, int]:
        """Group position by group id."""
        return {g: i for i, g in enumerate(self.group_ids)}

    def members(self, group: int) -> IntArray:
        """Entry rows of one group, in row order."""
        end = self.starts[group + 1] if group + 1 < self.n_groups else self.order.size
        return self.order[self.starts[group] : end]

    def scores(self, entry_scores: npt.ArrayLike) -> FloatArray:
        """Group scores per row of a (…, n_entries) array: T·log Σ exp(s/T) over the members
        (``temperature`` set), else their maximum. A group of one keeps its member's score;
        ``-inf`` members add nothing."""
        values = np.asarray(entry_scores, dtype=np.float64)
        if self.n_groups == 0:
            return np.empty((*values.shape[:-1], 0))
        return self._combine(values[..., self.order], self.starts, self.sizes)

    def _combine(self, grouped: FloatArray, starts: IntArray, sizes: IntArray) -> FloatArray:
        """Reduce consecutive segments (``starts``, ``sizes``) of the last axis of ``grouped``
        to one score each: their maximum, or T·log Σ exp(s/T) with a temperature."""
        best: FloatArray = np.maximum.reduceat(grouped, starts, axis=-1)
        if self.temperature is None:
            return best
        finite = np.isfinite(best)
        shift = np.where(finite, best, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.exp((grouped - np.repeat(shift, sizes, axis=-1)) / self.temperature)
            total = np.add.reduceat(spread, starts, axis=-1)
            result: FloatArray = np.where(finite, shift + self.temperature * np.log(total), best)
        return result

    @cached_property
    def sizes(self) -> IntArray:
        """Members per group."""
        return np.diff(np.r_[self.starts, self.order.size]).astype(np.int64)

    def positions(self, disease_ids: Sequence[str], kb: KnowledgeBase) -> list[int]:
        """Group positions of the groups of ``disease_ids`` (those this predictor ranks)."""
        found = {self.index.get(kb.disease_group(d)) for d in disease_ids}
        return sorted(g for g in found if g is not None)

    @cached_property
    def id_rank(self) -> IntArray:
        """Position of each entry in id order: the deterministic tie-break."""
        rank = np.empty(len(self.disease_ids), dtype=np.int64)
        rank[np.argsort(np.asarray(self.disease_ids), kind="stable")] = np.arange(rank.size)
        return rank

    @cached_property
    def group_rank(self) -> IntArray:
        """Per group, the lowest ``id_rank`` of its members: groups tie-break like entries."""
        if self.n_groups == 0:
            return np.empty(0, dtype=np.int64)
        ranks: IntArray = np.minimum.reduceat(self.id_rank[self.order], self.starts)
        return ranks

    def top(self, group_scores: FloatArray, k: int) -> IntArray:
        """The ``k`` best groups with a finite score: score descending, then member id."""
        return top_rows(group_scores, k, self.group_rank)

    def top_of(self, entry_scores: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
        """The ``k`` best groups of one case and their scores, exactly as :meth:`top` over
        :meth:`scores` would give them, without scoring every group.

        A group scores at least its best member and at most that plus T·log(size) (log-sum-exp;
        the max rule: exactly its best member). So the groups of the best few entries give a
        k-th best score S, and only groups with a member scoring at least S − T·log(its group's
        size) can reach it: those few are scored exactly.
        """
        finite = np.isfinite(entry_scores)
        n_finite = int(np.count_nonzero(finite))
        if k <= 0 or n_finite == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        pool = min(n_finite, max(4 * k, 32))
        ranked = (
            entry_scores if n_finite == finite.size else np.where(finite, entry_scores, -np.inf)
        )
        best = np.argpartition(-ranked, pool - 1)[:pool]
        seed = np.unique(self.group_of[best])
        seed_scores = self._group_scores(entry_scores, seed)
        if seed.size >= k:
            kth = -np.partition(-seed_scores, k - 1)[k - 1]
            rows = np.flatnonzero(entry_scores + self.entry_slack >= kth)
            candidates = np.unique(self.group_of[rows])
        else:  # fewer groups than k have a finite member among the best: all of them
            candidates = np.unique(self.group_of[np.flatnonzero(finite)])
        scores = self._group_scores(entry_scores, candidates)
        order = top_rows(scores, k, self.group_rank[candidates])
        return candidates[order].astype(np.int64), scores[order]

    def _group_scores(self, entry_scores: FloatArray, chosen: IntArray) -> FloatArray:
        """Exact scores of the ``chosen`` groups of one case (vectorized over their members)."""
        if chosen.size == 0:
            return np.empty(0)
        sizes = self.sizes[chosen]
        seg_starts = np.r_[0, np.cumsum(sizes)[:-1]]
        positions = np.repeat(self.starts[chosen] - seg_starts, sizes) + np.arange(sizes.sum())
        return self._combine(entry_scores[self.order[positions]], seg_starts, sizes)

    @cached_property
    def entry_slack(self) -> FloatArray:
        """Per entry: the most its group's log-sum-exp can exceed it, T·log(group size)
        (0 for groups of one, and under the max rule)."""
        if self.temperature is None:
            return np.zeros(len(self.disease_ids))
        slack: FloatArray = self.temperature * np.log(self.sizes[self.group_of])
        return slack

    def ranked_members(self, group: int, entry_scores: FloatArray) -> IntArray:
        """The group's entry rows, best score first (ties: lower id)."""
        rows = self.members(group)
        return rows[np.lexsort((self.id_rank[rows], -entry_scores[rows]))]


@dataclass(frozen=True)
class GroupHit:
    """One returned disease: its group, its member rows (best first) and its probability."""

    group: int
    rows: IntArray
    score: float
    probability: float | None


def top_groups(
    groups: DiseaseGroups,
    entry_scores: FloatArray,
    k: int,
    probabilities: Callable[[FloatArray], FloatArray] | None = None,
    *,
    posterior: FloatArray | None = None,
) -> list[GroupHit]:
    """The ``k`` best diseases for one case's entry scores, with their members best first.

    A disease's probability is the sum of its entries' (``posterior``, the entries' softmax; or
    ``probabilities(entry_scores)``): with log-sum-exp group scores at the same temperature this
    is exactly the softmax over diseases, without computing it over ~10k groups.
    """
    chosen, group_scores = groups.top_of(np.asarray(entry_scores, dtype=np.float64), k)
    if posterior is None and probabilities is not None and chosen.size:
        posterior = np.ravel(probabilities(entry_scores))
    hits = []
    for g, score in zip(chosen.tolist(), group_scores.tolist(), strict=True):
        rows = groups.ranked_members(g, entry_scores)
        probability = None if posterior is None else float(posterior[rows].sum())
        hits.append(GroupHit(group=g, rows=rows, score=score, probability=probability))
    return hits


def group_candidates(
    groups: DiseaseGroups,
    hit: GroupHit,
    entry_scores: FloatArray,
    names: Sequence[str],
) -> dict[str, Any]:
    """The disease-identity fields of a :class:`~ocais.schemas.Candidate` for one hit:
    ``disease_id`` and ``name`` of the best member, ``mondo_id``, ``members`` (each with its
    page) and ``mondo_url``."""
    best = int(hit.rows[0])
    group_id = groups.group_ids[hit.group]
    mondo_id = group_id if groups.mondo[hit.group] else None
    # built without re-validation: ids come from the knowledge base, urls from its templates
    # (the serving hot path builds ~50 of these per prediction)
    members = [
        GroupMember.model_construct(
            id=groups.disease_ids[int(row)],
            name=names[int(row)],
            score=_finite(entry_scores[int(row)]),
            url=disease_url(groups.disease_ids[int(row)]),
        )
        for row in hit.rows
    ]
    return {
        "disease_id": groups.disease_ids[best],
        "name": names[best],
        "mondo_id": mondo_id,
        "members": members,
        "mondo_url": disease_url(mondo_id) if mondo_id else None,
    }


def _finite(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


#: "genes worth testing": the genes of the first candidates, at most this many
PANEL_CANDIDATES = 10
PANEL_MAX_GENES = 25


def gene_panel(table: GeneTable | None, candidates: Sequence[Candidate]) -> list[GeneSuggestion]:
    """The genes of the first candidates (every entry of each disease), in candidate order: a
    panel to test when the patient has no sequencing result yet."""
    if table is None:
        return []
    panel: dict[str, GeneSuggestion] = {}
    for candidate in candidates[:PANEL_CANDIDATES]:
        entries = [m.id for m in candidate.members] or [candidate.disease_id]
        for entry in entries:
            for gene in table.genes_of(entry):
                found = panel.get(gene.id)
                if found is None:
                    if len(panel) >= PANEL_MAX_GENES:
                        continue
                    found = panel[gene.id] = GeneSuggestion(symbol=gene.symbol, gene_id=gene.id)
                if candidate.disease_id not in found.candidates:
                    found.candidates.append(candidate.disease_id)
    return list(panel.values())
