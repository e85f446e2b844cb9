"""Importing and indexing as one unit, and the repairs that keep store and index in step.

* :func:`import_and_index` imports a source batch by batch and indexes each batch right after it
  is committed. The run records which process runs it (host, pid, process start time) and
  ``index: pending`` until every batch is indexed.
* :func:`recover_runs` runs whenever a store is opened: a run still ``running`` whose process is
  gone (killed, machine restarted) is marked ``interrupted``.
* :func:`repair_index` runs whenever search is first used: the cases of runs whose indexing did
  not finish are indexed, and if the index still holds fewer cases than the store (an index of an
  earlier format, a crash between a store write and its index write) every case is re-indexed
  — only changed vectors are written. Each repair returns a one-line notice for the user.

So after any interruption — a SIGKILL at any moment included — the next command that opens the
store finds no ``running`` run of a dead process, and the next one that searches (or ``ocais
stats``, ``ocais reindex``) finds ``indexed_cases == cases``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocais.errors import OcaisError
from ocais.ingest import ReaderContext
from ocais.schemas import Case
from ocais.search.service import SearchService, legacy_collections
from ocais.store import CaseFilter, Repository
from ocais.store.importer import ImportReport, ProgressCallback, import_path

if TYPE_CHECKING:
    from ocais.workflows.services import Services

#: the installation key behind record-id pseudonyms when no OCAIS_DEID_SECRET is set
RECORD_ID_KEY = "record-id-hmac"
INDEX_PENDING = "pending"
INDEX_DONE = "done"


# -- which process owns a run -----------------------------------------------------------------
def _stat_field(pid: int, index: int) -> str | None:
    """Field ``index`` of ``/proc/PID/stat`` after "pid (comm)" (Linux; proc(5) numbers it
    ``index + 3``): 0 is the state, 19 the start time in clock ticks since boot, which tells a
    reused pid from the original process. ``None`` where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[index] if len(fields) > index else None


_STATE, _START_TIME = 0, 19


def owner_stamp() -> dict[str, Any]:
    """What a run records about the process running it."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _stat_field(pid, _START_TIME)}


def process_alive(settings: dict[str, Any]) -> bool | None:
    """Whether the process recorded in a run's ``settings`` still runs: ``None`` if unknown
    (another host, or a run recorded before processes were stamped)."""
    pid, host = settings.get("pid"), settings.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    if _stat_field(pid, _STATE) in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    started = settings.get("pid_start")
    return not (started is not None and _stat_field(pid, _START_TIME) not in (None, started))


# -- repairs ----------------------------------------------------------------------------------
def recover_runs(repo: Repository) -> list[str]:
    """Mark ``interrupted`` the runs left ``running`` by a process that is gone."""
    notices = []
    for run in repo.runs_with_status("running"):
        if process_alive(run.settings) is False:
            repo.update_run(run.id, status="interrupted")
            notices.append(
                f"import run {run.id[:8]} of {run.source} was interrupted (its process is gone); "
                "marked interrupted — cases it committed are kept"
            )
    return notices


def _live_imports(repo: Repository) -> bool:
    return any(process_alive(r.settings) is not False for r in repo.runs_with_status("running"))


def repair_index(repo: Repository, search: SearchService) -> list[str]:
    """Bring the search index in step with the store; one notice per repair done."""
    notices: list[str] = []
    for legacy in legacy_collections(search.embedder.name):
        if legacy != search.collection and legacy in search.index.list_collections():
            search.index.drop_collection(legacy)
            notices.append(f"removed the search index of an earlier format ({legacy})")
    for run in repo.runs_with_status("interrupted", "failed", "completed", "aborted"):
        if run.settings.get("index") != INDEX_PENDING:
            continue
        n = search.index_run(run.id)
        repo.update_run(run.id, settings={"index": INDEX_DONE})
        notices.append(
            f"indexed {n:,} cases of import run {run.id[:8]} whose indexing had not finished"
        )
    if _live_imports(repo):  # an import in progress indexes its own batches
        return notices
    stored, indexed = repo.count_matching(CaseFilter()), search.indexed_count()
    if indexed < stored:
        written = search.reindex()
        notices.append(
            f"the search index held {indexed:,} of {stored:,} cases: re-indexed them "
            f"({written:,} vectors written)"
        )
    return notices


# -- import and index -------------------------------------------------------------------------
@dataclass
class ImportOutcome:
    report: ImportReport
    indexed: int
    index_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = self.report.as_dict()
        data["indexed"] = self.indexed
        if self.index_error:
            data["index_error"] = self.index_error
        return data


def import_and_index(
    services: Services,
    path: Path,
    *,
    source_format: str = "auto",
    skip_invalid: bool = False,
    on_progress: ProgressCallback | None = None,
    on_indexed: Callable[[int], None] | None = None,
    shared: bool = False,
    run_settings: Mapping[str, Any] | None = None,
    keep_genomics: bool = False,
) -> ImportOutcome:
    """Import ``path`` and index every committed batch at once (see the module docstring).

    ``shared``: mark the imported cases shared reference cases, which every clinician may read
    (published case reports, released synthetic sets); see :mod:`ocais.workflows.access`.
    ``run_settings``: more to record in the run's settings (e.g. the FHIR server it came from).

    If indexing fails (the index is locked or unavailable) the import goes on, the run stays
    ``index: pending`` and the next command repairs it; the outcome says so.
    """
    settings = services.settings
    context = ReaderContext(
        site=settings.site,
        terms=services.knowledge,
        max_file_bytes=settings.max_file_bytes,
        workers=settings.workers,
        installation_key=services.owners.server_secret(
            RECORD_ID_KEY, secrets.token_urlsafe(32), now=datetime.now(UTC)
        ),
    )
    repo, search = services.repo, services.search_or_none()
    batch_size = settings.batch_size
    indexed = 0
    error: list[str] = []

    def index_batch(cases: Sequence[Case]) -> None:
        nonlocal indexed
        if shared:
            repo.set_shared([c.id for c in cases])
        if search is None or error:
            return
        try:
            search.index_cases(list(cases))
        except OcaisError as exc:
            error.append(f"{exc} ({exc.code})")
            return
        indexed += len(cases)
        if on_indexed is not None:
            on_indexed(indexed)

    stamp = {
        **(run_settings or {}),
        **owner_stamp(),
        "index": INDEX_PENDING if search is not None else "off",
        "shared": shared,
    }
    report = import_path(
        repo,
        path,
        context=context,
        source_format=source_format,
        skip_invalid=skip_invalid,
        batch_size=batch_size,
        on_progress=on_progress,
        on_committed=index_batch,
        run_settings=stamp,
        keep_genomics=keep_genomics,
    )
    if search is not None and not error:
        repo.update_run(report.run_id, settings={"index": INDEX_DONE})
    return ImportOutcome(report, indexed, error[0] if error else None)


def reindex(services: Services) -> int:
    """Index every stored case (unchanged vectors are not rewritten); returns how many cases."""
    search = services.search()
    search.reindex()
    return search.indexed_count()


def store_stats(services: Services) -> dict[str, Any]:
    """The store's counts with ``indexed_cases`` (cases in the search index; repaired first)."""
    search = services.search_or_none()
    data = services.repo.stats().model_dump(mode="json")
    data["indexed_cases"] = search.indexed_count() if search is not None else 0
    return data
