"""Parse records in worker processes, in order, with bounded read-ahead.

Parsing a phenopacket with the official protobuf schema costs ~0.6 ms in pure Python; on a
multi-core machine, worker processes parse while the main process writes to the store. Workers
start from a fork server with the reader modules preloaded, so they start in milliseconds and
never inherit the parent's threads (rich's progress bar) or open database connections.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from ocais.ingest.base import ReaderContext, Record


class ItemParser(Protocol):
    def parse_item(self, item: tuple[Any, ...]) -> Record: ...


_worker_parser: ItemParser | None = None  # one per worker process, set by _start_worker


def _start_worker(factory: Callable[[ReaderContext], ItemParser], context: ReaderContext) -> None:
    global _worker_parser
    _worker_parser = factory(context)


def _parse_chunk(items: list[tuple[Any, ...]]) -> list[Record]:
    if _worker_parser is None:
        raise RuntimeError("worker process was not initialised")
    return [_worker_parser.parse_item(item) for item in items]


def _chunks(items: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_in_workers(
    factory: Callable[[ReaderContext], ItemParser],
    context: ReaderContext,
    items: Iterable[tuple[Any, ...]],
    *,
    chunk_size: int = 128,
    preload: tuple[str, ...] = (),
) -> Iterator[Record]:
    """Yield ``factory(context).parse_item(item)`` for every item, in input order."""
    mp_context = multiprocessing.get_context("forkserver")
    mp_context.set_forkserver_preload(["ocais.ingest.parallel", *preload])
    pool = ProcessPoolExecutor(
        max_workers=context.workers,
        mp_context=mp_context,
        initializer=_start_worker,
        initargs=(factory, context),
    )
    pending: deque[Future[list[Record]]] = deque()
    try:
        for chunk in _chunks(items, chunk_size):
            pending.append(pool.submit(_parse_chunk, chunk))
            if len(pending) > 2 * context.workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
