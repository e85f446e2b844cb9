"""Group commit of the per-request writes: predictions and audit entries.

Every prediction and every API request writes a row. One transaction per row would make the
workers queue for SQLite's write lock (and sleep in its busy handler); instead one writer thread
per worker commits whatever has queued up while the previous transaction ran, in one transaction.
A caller waits until its row is committed, so an acknowledged request is never lost; under low
load a batch is one row and nothing waits longer than its own commit.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from ocais.errors import StoreError
from ocais.store.service_models import PredictionRecord
from ocais.store.service_repo import ServiceRepository

MAX_BATCH = 500


@dataclass(eq=False)
class _Pending:
    prediction: PredictionRecord | None = None
    audit: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitWriter:
    def __init__(self, store: ServiceRepository, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ocais-group-commit", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def write_prediction(self, record: PredictionRecord) -> None:
        self._submit(_Pending(prediction=record))

    def write_audit(self, entry: dict[str, Any]) -> None:
        self._submit(_Pending(audit=entry))

    def _submit(self, pending: _Pending) -> None:
        if self._thread is None:  # not started, or stopping: write directly
            self._commit([pending])
        else:
            self._queue.put(pending)
            pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        error = self._try_write(batch)
        if error is not None and len(batch) > 1 and isinstance(error, StoreError):
            for pending in batch:  # one bad row must not fail the others: one by one
                self._commit([pending])
            return
        for pending in batch:
            pending.error = error
            pending.done.set()

    def _try_write(self, batch: list[_Pending]) -> Exception | None:
        predictions = [p.prediction for p in batch if p.prediction is not None]
        entries = [p.audit for p in batch if p.audit is not None]
        try:
            self.store.write_batch(predictions, entries)
        except Exception as exc:
            # handed to the waiting requests, which raise it: the writer thread must live on
            return exc
        return None
