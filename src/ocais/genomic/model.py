"""The genotype likelihood ratio: how much the patient's variants say for or against each disease.

In the spirit of LIRICAL's genotype likelihood ratio (Robinson et al., Am J Hum Genet 107:403,
2020); the formulas and every default are in docs/decisions/0017-genotype-likelihood-ratio.md,
with the alternatives measured.

**Qualifying alleles.** Each call gets a pathogenicity p: from its ACMG/ClinVar class when given
(pathogenic 1, likely pathogenic 0.9, uncertain 0.5, likely benign 0.05, benign 0), else from its
predicted impact (HIGH 0.95, MODERATE ``moderate_pathogenicity``, LOW 0.1, MODIFIER 0.02), else
(a bare gene annotation) ``unknown_pathogenicity``. Calls with p ≥ τ qualify; a gene's allele
count k = Σ p · copies (heterozygous 1, homozygous 2, hemizygous 1 — 2 for X-linked modes).

**Per gene and mode.** With λ_d the alleles the mode needs (1 dominant, 2 recessive) and λ_b
the background rate of qualifying alleles in a gene, one allele of a dominant disease is worth
L₁ = log[Pois(1; 1) / Pois(1; λ_b)] = log(1/λ_b) + λ_b − 1 (LIRICAL's ratio). The default
(``inheritance="consistency"``) gives a gene min(k/λ_d, 1) · L₁: a recessive disease with both
alleles is worth what a dominant one with its one allele is, one with a single allele half —
"down-weighted, not removed" (the second allele may be missed). ``"poisson"`` is LIRICAL's
ratio itself, (λ_d/λ_b)^k' · e^{λ_b − λ_d} with k' = min(k, λ_d), which also rewards two alleles
over one; ``"off"`` ignores zygosity. Diseases without an annotated mode take the better of
dominant and recessive. Measured in docs/decisions/0017.

**Per disease.** The best of its genes. No qualifying allele in any of its genes: ``miss`` =
ε (dominant) or ε² (recessive), as LIRICAL; a disease with no known gene: ``no_gene_log_lr``.
Genes come from the release (``ocais.knowledge.genes``); an entry without genes borrows those of
its MONDO disease's other entries (an Orphanet twin of an OMIM entry), as does its mode.

**Candidate genes without genotypes** (the genes a report found candidate variants in): a
disease with a listed gene gets ``gene_list_hit`` (a log LR), one without ``gene_list_miss``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from ocais.knowledge import KnowledgeBase
from ocais.knowledge.genes import Gene, GeneTable, Inheritance, modes_of_inheritance
from ocais.schemas import Classification, Impact, VariantCall, Zygosity

FloatArray = npt.NDArray[np.float64]

CLASS_PATHOGENICITY = {
    Classification.PATHOGENIC: 1.0,
    Classification.LIKELY_PATHOGENIC: 0.9,
    Classification.UNCERTAIN: 0.5,
    Classification.LIKELY_BENIGN: 0.05,
    Classification.BENIGN: 0.0,
}

DOMINANT = frozenset(
    {
        Inheritance.AUTOSOMAL_DOMINANT,
        Inheritance.X_LINKED_DOMINANT,
        Inheritance.X_LINKED,
        Inheritance.MITOCHONDRIAL,
        Inheritance.Y_LINKED,
    }
)
RECESSIVE = frozenset(
    {Inheritance.AUTOSOMAL_RECESSIVE, Inheritance.X_LINKED_RECESSIVE, Inheritance.X_LINKED}
)
X_LINKED = frozenset(
    {Inheritance.X_LINKED, Inheritance.X_LINKED_DOMINANT, Inheritance.X_LINKED_RECESSIVE}
)


class GenotypeOptions(BaseModel):
    """Parameters of the genotype likelihood ratio (docs/decisions/0017)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    genotype_weight: float = Field(1.5, ge=0, description="w: weight of the genotype log LR")
    threshold: float = Field(0.5, ge=0, le=1, description="τ: pathogenicity a call needs")
    moderate_pathogenicity: float = Field(0.8, ge=0, le=1, description="p of a MODERATE call")
    unknown_pathogenicity: float = Field(0.8, ge=0, le=1, description="p without impact/class")
    background_rate: float = Field(0.1, gt=0, description="λ_b: background qualifying alleles")
    miss_lr: float = Field(1e-5, gt=0, le=1, description="ε: LR when no gene has a variant")
    no_gene_log_lr: float = Field(
        -6.0, le=0, description="Log LR of a disease without a known gene, given genotypes"
    )
    gene_list_hit: float = Field(3.0, ge=0, description="Log LR of a listed gene's disease")
    gene_list_miss: float = Field(-10.0, le=0, description="Log LR of the others")
    inheritance: Literal["poisson", "consistency", "off"] = Field(
        "consistency",
        description="Zygosity against the mode: poisson (LIRICAL: λ_d alleles expected), "
        "consistency (the share of the alleles the mode needs), off",
    )
    mondo_genes: bool = Field(True, description="Entries borrow their MONDO twins' genes")
    phenotype_overrides: dict[str, float] = Field(
        default_factory=lambda: {
            "unreported_penalty": 0.4,
            "noise_floor": 0.03,
            "not_penalty": 1.0,
        },
        description="Phenotype ranker options used instead of its own when genomic evidence "
        "is given (the candidates are then few and similar; see decision 0017)",
    )


def impact_pathogenicity(impact: Impact | None, options: GenotypeOptions) -> float:
    """p of a call known by its predicted impact only (``None``: a bare gene annotation)."""
    if impact is None:
        return options.unknown_pathogenicity
    return {
        Impact.HIGH: 0.95,
        Impact.MODERATE: options.moderate_pathogenicity,
        Impact.LOW: 0.1,
        Impact.MODIFIER: 0.02,
    }[impact]


def qualifying_impacts(options: GenotypeOptions) -> frozenset[Impact]:
    """The impacts whose calls can qualify (p ≥ τ): what a VCF reader needs to keep."""
    return frozenset(i for i in Impact if impact_pathogenicity(i, options) >= options.threshold)


@dataclass
class GeneHit:
    """The qualifying calls of one gene, for one patient."""

    gene: Gene
    alleles: float = 0.0  # k: Σ p · copies of qualifying calls
    hemizygous: bool = False
    calls: list[VariantCall] = field(default_factory=list)

    def for_mode(self, mode: Inheritance) -> float:
        k = self.alleles
        if self.hemizygous and mode in X_LINKED:
            k *= 2  # one copy on a male's only X is all the mode needs
        return k


@dataclass
class GenotypeProfile:
    """A patient's genotype evidence, resolved against the release's genes."""

    hits: dict[str, GeneHit] = field(default_factory=dict)  # by NCBI gene id
    listed: set[str] = field(default_factory=set)  # candidate genes (no genotype), by id
    has_genotypes: bool = False  # calls were given (a VCF or variants), even if none qualify
    unknown_genes: set[str] = field(default_factory=set)  # not linked to any disease here
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.has_genotypes and not self.listed


@dataclass(frozen=True)
class GenotypeScore:
    """Per disease: the genotype log LR, and which gene and mode gave it (-1: none)."""

    log_lr: FloatArray
    gene: npt.NDArray[np.int64]  # index into GenotypeModel.genes, -1 for a miss
    mode: list[Inheritance | None]


class GenotypeModel:
    """Scores every disease of a release (``disease_ids`` order) for a patient's genotype."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        genes: GeneTable,
        disease_ids: Sequence[str],
        options: GenotypeOptions | None = None,
    ) -> None:
        self.options = opts = options or GenotypeOptions()
        self.table = genes
        self.disease_ids = list(disease_ids)
        all_modes = modes_of_inheritance(knowledge)
        kb_modes = {d: all_modes[i] for d, i in knowledge.disease_index.items()}
        self.genes: list[Gene] = genes.genes
        gene_index = {g.id: i for i, g in enumerate(self.genes)}
        self.gene_index = gene_index
        disease_genes: list[list[int]] = []
        self.modes: list[frozenset[Inheritance]] = []
        for disease in self.disease_ids:
            own = [gene_index[g.id] for g in genes.genes_of(disease) if g.id in gene_index]
            modes = kb_modes.get(disease, frozenset())
            if opts.mondo_genes and (not own or not modes):
                twins = _twins(knowledge, disease)
                if not own:
                    own = sorted({gene_index[g.id] for t in twins for g in genes.genes_of(t)})
                if not modes:
                    modes = frozenset().union(*(kb_modes.get(t, frozenset()) for t in twins))
            disease_genes.append(sorted(set(own)))
            self.modes.append(modes)
        self.has_gene = np.array([bool(g) for g in disease_genes])
        self.diseases_of_gene: list[list[int]] = [[] for _ in self.genes]
        for row, gene_rows in enumerate(disease_genes):
            for g in gene_rows:
                self.diseases_of_gene[g].append(row)
        self.disease_genes = disease_genes
        recessive_only = np.array([bool(m) and not (m & DOMINANT) for m in self.modes], dtype=bool)
        log_miss = math.log(opts.miss_lr)
        # no qualifying allele in any gene: ε, or ε² when both alleles were missed (recessive)
        self._miss = np.where(recessive_only, 2 * log_miss, log_miss)
        self._miss[~self.has_gene] = opts.no_gene_log_lr

    # --- a patient's genotype ----------------------------------------------------------------
    def pathogenicity(self, call: VariantCall) -> float:
        if call.classification is not None:
            return CLASS_PATHOGENICITY[call.classification]
        return impact_pathogenicity(call.impact, self.options)

    def profile(
        self, variants: Sequence[VariantCall], genes: Sequence[str], *, has_genotypes: bool
    ) -> GenotypeProfile:
        """Resolve calls and candidate genes against the release's genes."""
        profile = GenotypeProfile(has_genotypes=has_genotypes or bool(variants))
        for call in variants:
            gene = (self.table.resolve(call.gene_id) if call.gene_id else None) or (
                self.table.resolve(call.gene)
            )
            if gene is None:
                profile.unknown_genes.add(call.gene)
                continue
            p = self.pathogenicity(call)
            if p < self.options.threshold:
                continue
            hit = profile.hits.setdefault(gene.id, GeneHit(gene))
            copies = 2 if call.zygosity is Zygosity.HOMOZYGOUS else 1
            hit.alleles += p * copies
            hit.hemizygous = hit.hemizygous or call.zygosity is Zygosity.HEMIZYGOUS
            hit.calls.append(call)
        unresolved = []
        for text in genes:
            gene = self.table.resolve(text)
            if gene is None:
                unresolved.append(text)
            else:
                profile.listed.add(gene.id)
        if unresolved:
            hgnc = [t for t in unresolved if self.table.is_hgnc_without_symbol(t)]
            profile.warnings.append(
                f"{len(unresolved)} candidate gene(s) not linked to any disease in this "
                f"release: {', '.join(sorted(unresolved)[:10])}"
                + (" (give HGNC ids with their symbol: HGNC:3603|FBN1)" if hgnc else "")
            )
        return profile

    # --- scoring -----------------------------------------------------------------------------
    def _gene_log_lr(self, hit: GeneHit, modes: frozenset[Inheritance]) -> tuple[float, Any]:
        opts = self.options
        lam_b = opts.background_rate
        model = opts.inheritance
        candidates = (
            modes
            if (modes and model != "off")
            else frozenset({Inheritance.AUTOSOMAL_DOMINANT, Inheritance.AUTOSOMAL_RECESSIVE})
        )
        one_allele = math.log(1.0 / lam_b) + lam_b - 1.0  # Pois(1; 1) / Pois(1; λ_b)
        best, best_mode = -math.inf, None
        for mode in candidates:
            lam_d = 2.0 if mode in RECESSIVE and mode not in DOMINANT else 1.0
            if model == "off":
                value = min(hit.alleles, 1.0) * one_allele
            elif model == "consistency":  # the share of the alleles the mode needs
                value = min(hit.for_mode(mode) / lam_d, 1.0) * one_allele
            else:  # poisson, as LIRICAL
                k = min(hit.for_mode(mode), lam_d)
                value = k * math.log(lam_d / lam_b) + lam_b - lam_d
            if value > best:
                best, best_mode = value, mode
        return best, (best_mode if modes else None)

    def score(self, profile: GenotypeProfile) -> GenotypeScore:
        """The genotype log LR of every disease (0 everywhere for an empty profile)."""
        n = len(self.disease_ids)
        gene_of = np.full(n, -1, dtype=np.int64)
        modes: list[Inheritance | None] = [None] * n
        if profile.empty:
            return GenotypeScore(np.zeros(n), gene_of, modes)
        opts = self.options
        if profile.has_genotypes:
            log_lr = self._miss.copy()
            for gene_id, hit in profile.hits.items():
                g = self.gene_index[gene_id]
                for row in self.diseases_of_gene[g]:
                    value, mode = self._gene_log_lr(hit, self.modes[row])
                    if value > log_lr[row] or gene_of[row] < 0:
                        log_lr[row], gene_of[row], modes[row] = value, g, mode
        else:
            log_lr = np.full(n, opts.gene_list_miss)
        for gene_id in sorted(profile.listed):
            g = self.gene_index[gene_id]
            for row in self.diseases_of_gene[g]:
                if opts.gene_list_hit > log_lr[row]:
                    log_lr[row], gene_of[row] = opts.gene_list_hit, g
        return GenotypeScore(opts.genotype_weight * log_lr, gene_of, modes)

    def genes_of_row(self, row: int) -> list[Gene]:
        return [self.genes[g] for g in self.disease_genes[row]]


def _twins(knowledge: KnowledgeBase, disease_id: str) -> list[str]:
    try:
        return [d for d in knowledge.group_members(disease_id) if d != disease_id]
    except LookupError:
        return []
