"""The request journal (issue 12): what every provider or app call looked like and how it was answered.

Recording never waits for the database: `journal.record(entry)` puts the entry on a bounded in-memory queue, and
one background task writes what has queued up in batches, each one unit of the store's group commit (so under load
a journal batch shares its COMMIT with the payments being created). When the queue is full an entry is dropped
and counted (`journal.dropped`), rather than slowing the answers down. Retention (`keep`, the newest N entries) is
trimmed by the same task, in the transaction of a batch, every so many entries. keep = 0 turns the journal off.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from ..store import journal as journal_store
from .ids import new_id

log = logging.getLogger(__name__)
DEFAULT_KEEP = 100_000
QUEUE_MAX = 10_000
BATCH_MAX = 500
LINGER_S = 0.05  # how long the writer lets entries gather after the first: fewer, larger batches under load
VERDICTS = ("accepted", "rejected", "faulted")


class RequestJournal:
    def __init__(self, engine, keep: int = DEFAULT_KEEP, queue_max: int = QUEUE_MAX):
        self.engine = engine
        self.keep = keep
        self.queue_max = queue_max
        self.linger_s = LINGER_S
        self.dropped = 0    # entries lost to a full queue
        self.written = 0    # entries written since start
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set after each batch
        self._queued = 0    # entries queued since start
        self._done = 0      # of those, written (or lost to a failed write)
        self._task: asyncio.Task | None = None
        self._since_trim = 1 << 30  # trim with the first batch: `keep` may be lower than last run's

    @property
    def enabled(self) -> bool:
        return self.keep > 0

    @property
    def trim_every(self) -> int:
        """How many new entries between two trims: a tenth of what is kept, at least 1, at most 1,000."""
        return max(1, min(1000, self.keep // 10))

    @staticmethod
    def new_id() -> str:
        return new_id("req")

    def record(self, entry: dict[str, Any]) -> None:
        """Queue one entry (a dict of store.journal.COLUMNS) for writing; never waits."""
        if not self.enabled:
            return
        if len(self._queue) >= self.queue_max:
            self.dropped += 1
            return
        self._queue.append(entry)
        self._queued += 1
        self._wake.set()

    async def start(self) -> None:
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._run(), name="request-journal")

    async def stop(self) -> None:
        """Write what is queued, then end the task."""
        if self._task is None:
            return
        await self.flushed()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def flushed(self) -> None:
        """Return once every entry recorded so far is written (the admin API, tests, shutdown); entries recorded
        meanwhile are not waited for."""
        target = self._queued
        while self._task is not None and self._done < target:
            self._progress.clear()
            await self._progress.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.linger_s and len(self._queue) < BATCH_MAX:
                await asyncio.sleep(self.linger_s)
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH_MAX, len(self._queue)))]
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a journal that cannot write must not take the sandbox down
                    log.exception("request journal: %d entries not written", len(batch))
                self._done += len(batch)
                self._progress.set()

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        rows = [journal_store.encode(entry) for entry in batch]
        self._since_trim += len(rows)
        keep = self.keep if self._since_trim >= self.trim_every else None
        if keep is not None:
            self._since_trim = 0

        def work(conn):
            journal_store.insert_many(conn, rows)
            if keep is not None:
                journal_store.trim(conn, keep)

        await self.engine.db.transaction(work)
        self.written += len(rows)
        self.engine.bus.publish({"type": "request", "ids": [entry["id"] for entry in batch]})


class JournalOperations:
    """The engine's side of the journal: the recorder and the queries the console and admin API read."""

    @property
    def journal(self) -> RequestJournal:
        journal = self.__dict__.get("_journal")
        if journal is None:
            journal = self.__dict__["_journal"] = RequestJournal(self)
        return journal

    async def list_requests(self, **filters) -> tuple[list[dict[str, Any]], int]:
        """Newest first (no bodies or headers), with how many match: store.journal.search's filters."""
        return await self.db.read(lambda conn: journal_store.search(conn, **filters))

    async def request_entry(self, request_id: str) -> dict[str, Any] | None:
        return await self.db.read(lambda conn: journal_store.get(conn, request_id))
