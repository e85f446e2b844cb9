"""Turn a :class:`~ocais.schemas.Case` into plain row dicts for bulk inserts (the hot path).

Every dict of one table has the same keys, as ``executemany`` requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocais.errors import InvalidRecordError
from ocais.schemas import Case

Row = dict[str, Any]


@dataclass
class ChildRows:
    """Rows of the child tables for a set of cases, by table name."""

    observations: list[Row] = field(default_factory=list)
    diagnoses: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)
    documents: list[Row] = field(default_factory=list)

    def by_table(self) -> dict[str, list[Row]]:
        return {
            "observations": self.observations,
            "diagnoses": self.diagnoses,
            "findings": self.findings,
            "documents": self.documents,
        }

    def add(self, case: Case) -> None:
        """Append the child rows of ``case``."""
        case_id = case.id
        self.observations.extend(
            {
                "case_id": case_id,
                "hpo_id": p.id,
                "excluded": p.excluded,
                "onset_age_years": p.onset_age_years,
            }
            for p in case.phenotypes
        )
        self.diagnoses.extend(
            {"case_id": case_id, "disease_id": d.disease_id, "label": d.label, "status": d.status}
            for d in case.diagnoses
        )
        for f in case.findings:
            value = f.value
            self.findings.append(
                {
                    "case_id": case_id,
                    "category": f.category.value,
                    "system": f.system,
                    "code": f.code,
                    "display": f.display,
                    "value_num": value if isinstance(value, float | int) else None,
                    "value_text": value if isinstance(value, str) else None,
                    "unit": f.unit,
                    "date": f.date,
                }
            )
        self.documents.extend(
            {"case_id": case_id, "kind": n.kind, "text": n.text, "date": n.date} for n in case.notes
        )


def case_row(case: Case, content_hash: str, *, now: datetime, run_id: str | None) -> Row:
    """The ``cases`` row of ``case`` (``created_at`` and ``updated_at`` both ``now``)."""
    subject = case.subject
    provenance = case.provenance
    row: Row = {
        "id": case.id,
        "source_key": case.source_key,
        "external_id": case.external_id,
        "source_format": provenance.source_format,
        "source": provenance.source,
        "site": case.site,
        "cohort": case.cohort,
        "synthetic": case.synthetic,
        "sex": subject.sex.value,
        "age_years": subject.age_years,
        "birth_year": subject.birth_year,
        "content_hash": content_hash,
        "knowledge_version": provenance.knowledge_version,
        "payload": case.model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
    }
    if run_id is not None:
        row["ingest_run_id"] = run_id
    return row


def reject_dict(reject: Mapping[str, Any] | InvalidRecordError) -> Row:
    """A reject as stored on an ingest run: ``{source, record, field, message}``."""
    if isinstance(reject, InvalidRecordError):
        return {
            "source": reject.source,
            "record": reject.record,
            "field": reject.field,
            "message": reject.message,
        }
    return {str(k): v for k, v in reject.items()}
