"""Parsers for an HPO release: ``hp.obo`` (OBO 1.4 flat file) or ``hp.json`` (OBO Graphs JSON).

Both produce the same plain :class:`OntologyData`: terms with names, synonyms, is-a parents,
alternative ids, obsolete terms with their replacements, and cross-references (SNOMED CT, UMLS).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ocais.errors import KnowledgeError

HPO_PREFIX = "HP:"
_OBO_PURL = "http://purl.obolibrary.org/obo/"
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"')


@dataclass
class TermRecord:
    id: str
    name: str = ""
    definition: str = ""
    synonyms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: str | None = None
    consider: list[str] = field(default_factory=list)
    raw: dict[str, list[str]] = field(default_factory=dict)  # tag → values as written (OBO)


@dataclass
class OntologyData:
    version: str
    terms: dict[str, TermRecord]
    header: dict[str, list[str]] = field(default_factory=dict)  # OBO header tags, as written


def parse_obo(path: Path) -> OntologyData:
    """Parse an ``hp.obo`` file. Raises ``KnowledgeError`` if it holds no HPO terms."""
    terms: dict[str, TermRecord] = {}
    header: dict[str, list[str]] = {}
    version = "unknown"
    current: TermRecord | None = None
    in_term, in_header = False, True
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if line.startswith("["):
                in_header = False
                if current is not None:
                    terms[current.id] = current
                current = None
                in_term = line.strip() == "[Term]"
                continue
            if not line or ": " not in line:
                continue
            tag, value = line.split(": ", 1)
            if in_header:
                header.setdefault(tag, []).append(value.strip())
                if tag == "data-version":
                    version = value.strip().rsplit("/", 1)[-1]
                continue
            if not in_term:
                continue
            if tag == "id":
                current = TermRecord(id=value.strip())
                continue
            if current is None:
                continue
            current.raw.setdefault(tag, []).append(value.strip())
            if tag == "name":
                current.name = value.strip()
            elif tag == "def":
                match = _QUOTED.match(value)
                current.definition = match.group(1) if match else value
            elif tag == "synonym":
                match = _QUOTED.match(value)
                if match:
                    current.synonyms.append(match.group(1).replace('\\"', '"'))
            elif tag == "is_a":
                current.parents.append(value.split("!", 1)[0].split("{", 1)[0].strip())
            elif tag == "alt_id":
                current.alt_ids.append(value.strip())
            elif tag == "xref":
                current.xrefs.append(value.split(" ", 1)[0].strip())
            elif tag == "is_obsolete":
                current.obsolete = value.strip() == "true"
            elif tag == "replaced_by":
                current.replaced_by = value.strip()
            elif tag == "consider":
                current.consider.append(value.strip())
    if current is not None:
        terms[current.id] = current
    terms = {k: v for k, v in terms.items() if k.startswith(HPO_PREFIX)}
    if not terms:
        raise KnowledgeError(f"{path}: no HPO terms found", hint="is this an hp.obo file?")
    return OntologyData(version=version, terms=terms, header=header)


def _curie(iri: str) -> str:
    if iri.startswith(_OBO_PURL):
        local = iri[len(_OBO_PURL) :]
        prefix, _, number = local.partition("_")
        return f"{prefix}:{number}"
    return iri


def parse_obographs_json(path: Path) -> OntologyData:
    """Parse an ``hp.json`` (OBO Graphs) file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        graph = document["graphs"][0]
    except (json.JSONDecodeError, KeyError, IndexError) as exc:
        raise KnowledgeError(f"{path}: not an OBO Graphs JSON file ({exc})") from exc
    meta = graph.get("meta", {})
    version = str(meta.get("version", "unknown")).rstrip("/").split("/")[-2:]
    version_text = version[0] if len(version) == 2 and version[1].endswith(".json") else version[-1]
    terms: dict[str, TermRecord] = {}
    for node in graph.get("nodes", []):
        term_id = _curie(node.get("id", ""))
        if not term_id.startswith(HPO_PREFIX) or node.get("type", "CLASS") != "CLASS":
            continue
        node_meta = node.get("meta", {})
        record = TermRecord(id=term_id, name=node.get("lbl", ""))
        record.definition = node_meta.get("definition", {}).get("val", "")
        record.synonyms = [s["val"] for s in node_meta.get("synonyms", []) if "val" in s]
        record.xrefs = [x["val"] for x in node_meta.get("xrefs", []) if "val" in x]
        record.obsolete = bool(node_meta.get("deprecated", False))
        for prop in node_meta.get("basicPropertyValues", []):
            pred, val = prop.get("pred", ""), prop.get("val", "")
            if pred.endswith("hasAlternativeId"):
                record.alt_ids.append(val)
            elif pred.endswith("IAO_0100001"):  # term replaced by
                record.replaced_by = _curie(val)
            elif pred.endswith("consider"):
                record.consider.append(_curie(val))
        terms[term_id] = record
    for edge in graph.get("edges", []):
        if edge.get("pred") == "is_a":
            child, parent = _curie(edge["sub"]), _curie(edge["obj"])
            if child in terms and parent.startswith(HPO_PREFIX):
                terms[child].parents.append(parent)
    if not terms:
        raise KnowledgeError(f"{path}: no HPO terms found", hint="is this an hp.json file?")
    return OntologyData(version=version_text, terms=terms)


def parse_ontology(path: Path) -> OntologyData:
    """Parse ``hp.obo`` or ``hp.json`` by file extension."""
    if path.suffix == ".json":
        return parse_obographs_json(path)
    return parse_obo(path)
