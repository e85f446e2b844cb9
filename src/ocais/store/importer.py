"""Import a source into the store: read (any registered reader) → validate → upsert in batches.

Two modes, both recorded as an ingest run with its rejects:

* **strict** (default): all or nothing. Every batch is written inside one transaction; at the
  first invalid record it is rolled back, reading goes on only to list every reject, and
  :class:`~ocais.errors.ImportAbortedError` is raised. The store is as it was.
* **skip invalid**: one transaction per batch; invalid records are skipped and listed in the run's
  rejects report. An interrupted import keeps the committed batches (re-running is idempotent:
  the same source record maps to the same case) and marks the run ``interrupted``.

Files of a folder that no reader reads are not rejects: the report and the run list them as
``skipped``, each with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ocais.errors import ImportAbortedError, InvalidRecordError
from ocais.ingest import ReaderContext, detect_reader, get_reader
from ocais.ingest.base import Record
from ocais.ingest.folder import FolderReader
from ocais.schemas import Case
from ocais.store.repository import Repository, UpsertCounts

ProgressCallback = Callable[[int, int], None]  # (records read, records rejected)
#: Called with the cases of each batch once they are committed (skip-invalid: after each batch;
#: strict: once, after the one transaction) — e.g. to index them for search.
BatchCallback = Callable[[list[Case]], None]


@dataclass
class ImportReport:
    run_id: str
    source: str
    source_format: str
    status: str
    n_read: int = 0
    n_inserted: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    n_rejected: int = 0
    n_term_issues: int = 0
    seconds: float = 0.0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    #: Files of a folder that no reader read, as ``{"path", "reason"}`` (not rejects: a strict
    #: import succeeds with them); also stored under the run's ``settings["skipped"]``.
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def cases_per_second(self) -> float:
        return self.n_read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data["cases_per_second"] = round(self.cases_per_second, 1)
        return data


def reject_dict(error: InvalidRecordError) -> dict[str, Any]:
    return {
        "source": error.source,
        "record": error.record,
        "field": error.field,
        "message": error.message,
        "hint": error.hint,
    }


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_path(
    repo: Repository,
    path: Path,
    *,
    context: ReaderContext,
    source_format: str = "auto",
    skip_invalid: bool = False,
    batch_size: int = 500,
    on_progress: ProgressCallback | None = None,
    on_committed: BatchCallback | None = None,
    run_settings: dict[str, Any] | None = None,
    keep_genomics: bool = False,
) -> ImportReport:
    """Import every record of ``path`` into ``repo``; see the module docstring for the modes.

    A case's genomic evidence (variants, VCF references, candidate genes) is identifying: it is
    dropped before writing unless ``keep_genomics``."""
    reader = (
        detect_reader(path, context)
        if source_format == "auto"
        else get_reader(source_format, context)
    )
    skipped = reader.skipped if isinstance(reader, FolderReader) else []
    run_id = repo.start_run(
        str(path),
        reader.name,
        {
            "skip_invalid": skip_invalid,
            "batch_size": batch_size,
            "site": context.site,
            "keep_genomics": keep_genomics,
            **({"skipped": skipped} if skipped else {}),
            **(run_settings or {}),
        },
    )
    report = ImportReport(
        run_id=run_id,
        source=str(path),
        source_format=reader.name,
        status="running",
        skipped=skipped,
    )
    started = time.perf_counter()
    try:
        records = reader.read(path)
        if not keep_genomics:
            records = map(_without_genomics, records)
        if skip_invalid:
            _import_batches(
                repo, records, report, batch_size, on_progress, None, on_committed=on_committed
            )
        else:
            written: list[Case] = []
            with repo.transaction() as session:
                _import_batches(
                    repo, records, report, batch_size, on_progress, session, written.extend
                )
                _abort_on_rejects(report)
            if on_committed is not None and written:
                on_committed(written)
    except ImportAbortedError:
        report.status = "aborted"
        raise
    except KeyboardInterrupt:
        report.status = "interrupted"
        raise
    except Exception:
        report.status = "failed"
        raise
    else:
        report.status = "completed"
    finally:
        report.seconds = round(time.perf_counter() - started, 3)
        repo.finish_run(
            run_id,
            status=report.status,
            n_read=report.n_read,
            n_inserted=report.n_inserted,
            n_updated=report.n_updated,
            n_unchanged=report.n_unchanged,
            n_rejected=report.n_rejected,
            rejects=report.rejects,
        )
    return report


def _without_genomics(record: Record) -> Record:
    if isinstance(record, Case) and record.genomics is not None:
        return record.model_copy(update={"genomics": None})
    return record


def _split(batch: list[Record], report: ImportReport) -> list[Case]:
    cases: list[Case] = []
    for record in batch:
        report.n_read += 1
        if isinstance(record, Case):
            cases.append(record)
            report.n_term_issues += len(record.provenance.parameters.get("issues", []))
        else:
            report.n_rejected += 1
            report.rejects.append(reject_dict(record))
    return cases


def _count(report: ImportReport, counts: UpsertCounts) -> None:
    report.n_inserted += counts.inserted
    report.n_updated += counts.updated
    report.n_unchanged += counts.unchanged


def _import_batches(
    repo: Repository,
    records: Iterator[Record],
    report: ImportReport,
    batch_size: int,
    on_progress: ProgressCallback | None,
    session: Session | None,
    on_committed: BatchCallback | None = None,
) -> None:
    """Upsert batch by batch. Without ``session`` (skip invalid) each batch commits on its
    own; with it (strict) everything goes into that one transaction and writing stops at the
    first reject, while reading goes on to list every reject. ``on_committed`` gets each
    batch's cases after they were written (committed, without ``session``)."""
    for batch in _batches(records, batch_size):
        cases = _split(batch, report)
        if cases and (session is None or not report.rejects):
            _count(report, repo.upsert_cases(cases, run_id=report.run_id, session=session))
            if on_committed is not None:
                on_committed(cases)
        if on_progress:
            on_progress(report.n_read, report.n_rejected)


def _abort_on_rejects(report: ImportReport) -> None:
    if report.rejects:
        first = report.rejects[0]
        raise ImportAbortedError(
            f"{report.n_rejected} of {report.n_read} records are invalid; nothing was written. "
            f"First: {first['source']}"
            + (f" [{first['record']}]" if first["record"] else "")
            + (f", field '{first['field']}'" if first["field"] else "")
            + f": {first['message']}",
            rejects=report.rejects,
        )
