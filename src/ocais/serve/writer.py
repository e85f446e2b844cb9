"""Group commit of the per-request writes: predictions and audit entries.

Every prediction and every API request writes a row. One transaction per row would make the
workers queue for SQLite's write lock (and sleep in its busy handler); instead one writer thread
per worker commits whatever has queued up while the previous transaction ran, in one transaction.
A caller waits until its rows are committed, so an acknowledged request is never lost; under low
load a batch is one request's rows and nothing waits longer than its own commit.

The API awaits :meth:`GroupCommitWriter.commit` (a request's prediction and its audit entry: one
unit, committed together): the event loop is told when the commit is done, and no thread is
blocked waiting for it. ``write_prediction`` and ``write_audit`` are the blocking equivalents.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ocais.errors import StoreError
from ocais.store.service_models import PredictionRecord
from ocais.store.service_repo import ServiceRepository

MAX_BATCH = 500


@dataclass(eq=False)
class _Pending:
    """One unit of rows: committed together, or failed together."""

    predictions: Sequence[PredictionRecord] = ()
    audit: dict[str, Any] | None = None
    done: threading.Event | None = None  # a blocked thread waits for it ...
    future: asyncio.Future[None] | None = None  # ... or a coroutine awaits this
    loop: asyncio.AbstractEventLoop | None = None
    error: BaseException | None = field(default=None)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # the waiting request may have been cancelled
            future.set_result(None)


class GroupCommitWriter:
    def __init__(self, store: ServiceRepository, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connection: Connection | None = None  # the writer thread's, kept between batches

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
        self._submit(_Pending(predictions=(record,)))

    def write_audit(self, entry: dict[str, Any]) -> None:
        self._submit(_Pending(audit=entry))

    async def commit(
        self, predictions: Sequence[PredictionRecord] = (), audit: dict[str, Any] | None = None
    ) -> None:
        """Commit ``predictions`` and ``audit`` in one transaction; return once committed."""
        pending = _Pending(predictions=predictions, audit=audit)
        if not predictions and audit is None:
            return
        if self._thread is None:  # not started, or stopping: write directly
            self._commit([pending])
        else:
            pending.loop = asyncio.get_running_loop()
            pending.future = pending.loop.create_future()
            self._queue.put(pending)
            await pending.future
        if pending.error is not None:
            raise pending.error

    def _submit(self, pending: _Pending) -> None:
        if self._thread is None:  # not started, or stopping: write directly
            self._commit([pending])
        else:
            pending.done = threading.Event()
            self._queue.put(pending)
            pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _run(self) -> None:
        stopping = False
        try:
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
                self._commit(batch, in_thread=True)
        finally:
            self._drop_connection()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _commit(self, batch: list[_Pending], *, in_thread: bool = False) -> None:
        error = self._try_write(batch, in_thread=in_thread)
        if error is not None and len(batch) > 1 and isinstance(error, StoreError):
            for pending in batch:  # one bad unit must not fail the others: one by one
                self._commit([pending], in_thread=in_thread)
            return
        waiting: defaultdict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]]
        waiting = defaultdict(list)
        for pending in batch:
            pending.error = error
            if pending.done is not None:
                pending.done.set()
            if pending.future is not None and pending.loop is not None:
                waiting[pending.loop].append(pending.future)
        for loop, futures in waiting.items():  # one wake-up per event loop and batch
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, futures)

    def _try_write(self, batch: list[_Pending], *, in_thread: bool) -> Exception | None:
        predictions = [p for pending in batch for p in pending.predictions]
        entries = [p.audit for p in batch if p.audit is not None]
        # the writer thread keeps its connection open; a kept one that fails (e.g. a database
        # server restarted meanwhile) is replaced and the batch tried once more on a fresh one
        attempts = (2 if self._connection is not None else 1) if in_thread else 1
        for attempt in range(attempts):
            try:
                connection = None
                if in_thread:
                    if self._connection is None:
                        self._connection = self.store.write_connection()
                    connection = self._connection
                self.store.write_batch(predictions, entries, connection=connection)
            except Exception as exc:
                if in_thread:
                    self._drop_connection()
                if attempt + 1 == attempts:
                    # handed to the waiting requests, which raise it: the thread must live on
                    return exc
            else:
                return None
        return None
