"""Free-text clinical notes → de-identified cases with extracted phenotypes.

Inputs: a ``.txt``/``.md`` file (one note = one case), a folder of them, or JSON Lines
(``.jsonl``) with one note per line: ``{"id": ..., "text": ..., "sex": ..., "age_years": ...,
"names": [...], "identifiers": [...]}`` where ``names``/``identifiers`` are the patient's own,
from the structured record, removed wherever they occur.

Every note is de-identified *before* anything else (:mod:`ocais.ingest.deid`): only the scrubbed
text is kept, and phenotypes are extracted from it so their spans point into the stored note. A
note's ``id`` (often a record number), or for a file its path (file names can carry a patient's
name), is kept only as a keyed hash of the site secret; a structured ``age_years`` over 89 is
stored as 90, "90 or older" (:mod:`ocais.ingest.deid.ages`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from ocais.errors import InputTooLargeError, InvalidRecordError, UnsupportedFormatError
from ocais.ingest.base import (
    ReaderContext,
    Record,
    check_size,
    check_terms,
    pseudonymous_source,
    sha256_text,
)
from ocais.ingest.deid import DeidConfig, Deidentifier
from ocais.ingest.deid.ages import top_code_ages
from ocais.ingest.deid.keyed import pseudonymous_id, site_deid_config
from ocais.ingest.text import ConceptRecognizer, extract_phenotypes, to_observations
from ocais.schemas import Case, Note, Provenance, Sex, Subject

TEXT_SUFFIXES = (".txt", ".md", ".text")
LINES_SUFFIXES = (".jsonl", ".ndjson")
_AGE_SEX = re.compile(
    r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\s+(man|woman|male|female|boy|girl)\b", re.IGNORECASE
)
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_SEX_WORDS = {
    "man": Sex.MALE,
    "male": Sex.MALE,
    "boy": Sex.MALE,
    "woman": Sex.FEMALE,
    "female": Sex.FEMALE,
    "girl": Sex.FEMALE,
}


def demographics_from_text(text: str) -> tuple[float | None, Sex]:
    """Age and sex from a phrase like "a 7-year-old girl" (the first one), if any.

    Ages over 89 are already "90+" after de-identification and are not read.
    """
    match = _AGE_SEX.search(text)
    if not match:
        return None, Sex.UNKNOWN
    return float(match.group(1)), _SEX_WORDS[match.group(2).lower()]


class NotesReader:
    """Reader for free-text notes (see the module docstring)."""

    name: ClassVar[str] = "text"

    def __init__(self, context: ReaderContext, deid_config: DeidConfig | None = None) -> None:
        self.context = context
        self._deid_config = deid_config

    @cached_property
    def _config(self) -> DeidConfig:
        return site_deid_config(self._deid_config, "notes are de-identified with the site secret")

    @cached_property
    def _deidentifier(self) -> Deidentifier:
        return Deidentifier(self._config)

    @cached_property
    def _recognizer(self) -> ConceptRecognizer:
        if self.context.terms is None:
            raise UnsupportedFormatError(
                "reading notes needs the knowledge base (for phenotype extraction)"
            )
        return ConceptRecognizer(self.context.terms)  # type: ignore[arg-type]

    def prepare(self) -> None:
        """Build the de-identifier and recognizer now: a missing secret or knowledge base is an
        error of the whole import, not of each note."""
        _ = self._deidentifier
        _ = self._recognizer

    def _pseudonym(self, record_key: str) -> str:
        return pseudonymous_id(self._config.secret, record_key)

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(p.suffix.lower() in TEXT_SUFFIXES for p in path.rglob("*"))
        if path.suffix.lower() in TEXT_SUFFIXES:
            return True
        if path.suffix.lower() in LINES_SUFFIXES and path.is_file():
            with path.open("rb") as handle:
                head = handle.read(4096)
            return b'"text"' in head and b"phenotypicFeatures" not in head
        return False

    def read(self, path: Path) -> Iterator[Record]:
        if not path.exists():
            raise UnsupportedFormatError(f"{path} does not exist")
        self.prepare()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        root = path if path.is_dir() else path.parent
        for file in files:
            suffix = file.suffix.lower()
            if suffix in TEXT_SUFFIXES:
                check_size(file, self.context.max_file_bytes)
                key = self._pseudonym(f"file:{file.relative_to(root)}")
                yield self._note(file.read_text(encoding="utf-8", errors="replace"), key, str(file))
            elif suffix in LINES_SUFFIXES:
                check_size(file, self.context.max_file_bytes)
                yield from self._lines(file)

    def _lines(self, file: Path) -> Iterator[Record]:
        with file.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"line {number}"
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield InvalidRecordError(
                        f"malformed JSON: {exc.msg}", source=str(file), record=where
                    )
                    continue
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    yield InvalidRecordError(
                        "expected an object with a 'text' string",
                        source=str(file),
                        record=where,
                        field="text",
                    )
                    continue
                key = str(item["id"]) if item.get("id") else f"line:{file}:{number}"
                yield self._note(item["text"], self._pseudonym(key), str(file), item, where)

    def _note(
        self,
        text: str,
        record_id: str,
        source: str,
        item: dict[str, Any] | None = None,
        where: str | None = None,
    ) -> Record:
        item = item or {}
        if not text.strip():
            return InvalidRecordError(
                "the note is empty", source=source, record=where, field="text"
            )
        case_id = Case.stable_id(self.name, record_id)
        known: dict[str, list[str]] = {}
        if item.get("names"):
            known["NAME"] = [str(n) for n in item["names"]]
        if item.get("identifiers"):
            known["ID"] = [str(i) for i in item["identifiers"]]
        try:
            scrubbed = self._deidentifier.deidentify(
                text, patient_key=case_id, known_identifiers=known
            )
            # placeholders such as "[ID]" are blanked (same length: spans stay aligned)
            masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group()), scrubbed.text)
            mentions = extract_phenotypes(masked, self._recognizer)
            age, sex = demographics_from_text(scrubbed.text)
            checked = check_terms(to_observations(mentions), self.context.terms)
            case = Case(
                id=case_id,
                external_id=record_id,
                subject=Subject(
                    sex=Sex(item["sex"]) if item.get("sex") else sex,
                    age_years=item.get("age_years", age),
                ),
                phenotypes=checked.phenotypes,
                notes=[Note(text=scrubbed.text, kind=str(item.get("kind", "note")))],
                site=self.context.site,
                provenance=Provenance(
                    source=pseudonymous_source(source),
                    source_format=self.name,
                    record_id=record_id,
                    record_hash=sha256_text(text),
                    created_by=self.context.created_by,
                    knowledge_version=self.context.terms.version if self.context.terms else None,
                    parameters={
                        "deidentification": scrubbed.method,
                        "phi_replaced": {str(k): v for k, v in scrubbed.counts.items()},
                        "mentions": [m.model_dump(mode="json") for m in mentions],
                        **({"issues": checked.issues} if checked.issues else {}),
                    },
                ),
            )
            return top_code_ages(case)
        except InvalidRecordError as exc:
            return exc
        except InputTooLargeError as exc:
            return InvalidRecordError(
                exc.message, source=source, record=where or record_id, hint=exc.hint
            )
        except ValueError as exc:  # pydantic validation of sex/age
            return InvalidRecordError(str(exc), source=source, record=where or record_id)
