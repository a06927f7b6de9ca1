"""The one SQLite connection of the process, and how work reaches it.

aiosqlite runs every call on one worker thread, in order. `transaction(fn)` hands that thread a whole unit of work
(a plain function over the sqlite3 connection) so it runs with no other coroutine's statements in between, and
costs one thread hop instead of one per statement.

Group commit: units of work that arrive while the thread is busy are run together in one transaction, each inside
its own SAVEPOINT, so one unit that raises is rolled back alone. Each caller resumes only after the COMMIT that
holds its work, so nothing is acknowledged before it is durable; under load one COMMIT serves many requests.
"""
from __future__ import annotations

import asyncio
import fcntl
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Callable, TypeVar

import aiosqlite

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class Database:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._aconn: aiosqlite.Connection | None = None
        self._pending: list[tuple[Work, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        # --workers N: an open file whose flock the processes take in turn around each write transaction, so a writer
        # waits in the kernel and starts the moment the other commits (SQLite's own busy wait sleeps up to 100 ms)
        self.write_lock: int | None = None

    async def open(self) -> None:
        self._aconn = await aiosqlite.connect(self.path, isolation_level=None)
        await self._run(_configure)
        await self.transaction(_migrate)

    async def close(self) -> None:
        if self._aconn is not None:
            await self._aconn.close()
            self._aconn = None

    async def transaction(self, fn: Work[T]) -> T:
        """Run fn(conn) atomically on the database thread and return once it is committed; if fn raises, none of
        its writes are kept and the exception reaches the caller."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((fn, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    outcomes = await self._run(_in_transaction, [fn for fn, _ in batch], self.write_lock)
                except BaseException as exc:  # BEGIN or COMMIT itself failed: nothing of the batch was kept
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes):
                    if future.done():
                        continue
                    future.set_result(value) if ok else future.set_exception(value)
        finally:
            self._flusher = None

    async def read(self, fn: Work[T]) -> T:
        """Run fn(conn) on the database thread, outside any write transaction."""
        return await self._run(fn)

    async def _run(self, fn, *args):
        if self._aconn is None:
            raise RuntimeError("database is not open")
        aconn = self._aconn
        # aiosqlite's queue is the serialisation point; _execute is its one way to run our own function there.
        return await aconn._execute(lambda: fn(aconn._conn, *args))


def _in_transaction(conn: sqlite3.Connection, units: list[Work], write_lock: int | None = None
                    ) -> list[tuple[bool, object]]:
    """Run every unit in one transaction, each in a savepoint; returns (ok, result or exception) per unit."""
    if write_lock is not None:
        fcntl.flock(write_lock, fcntl.LOCK_EX)  # on the database thread: waiting here stalls no coroutine
        try:
            return _in_transaction(conn, units)
        finally:
            fcntl.flock(write_lock, fcntl.LOCK_UN)
    outcomes: list[tuple[bool, object]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn in units:
            conn.execute("SAVEPOINT unit")
            try:
                outcomes.append((True, fn(conn)))
            except Exception as exc:
                conn.execute("ROLLBACK TO unit")
                outcomes.append((False, exc))
            conn.execute("RELEASE unit")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return outcomes


def each_in_savepoint(conn: sqlite3.Connection, items, fn, expected: tuple[type[BaseException], ...]) -> list:
    """Inside a transaction: fn(conn, item) for each item in a savepoint of its own, so one that raises one of the
    `expected` exceptions is rolled back alone. Returns (item, ok, result or exception) for each."""
    outcomes = []
    for item in items:
        conn.execute("SAVEPOINT item")
        try:
            outcomes.append((item, True, fn(conn, item)))
        except expected as exc:
            conn.execute("ROLLBACK TO item")
            outcomes.append((item, False, exc))
        conn.execute("RELEASE item")
    return outcomes


def incremental_vacuum(conn: sqlite3.Connection, pages: int = 0) -> int:
    """Give free pages back to the file system (a database made with auto_vacuum=INCREMENTAL); 0: all of them.
    Returns the pages now free (0 unless auto_vacuum is off for this file)."""
    # Each step of the PRAGMA frees one page, and sqlite3's execute() steps a statement that has no result columns
    # only once (fetchall() does not go on; executescript would, but it COMMITs the caller's transaction first):
    # so one execute per page.
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # INCREMENTAL
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        for _ in range(free if pages <= 0 else min(int(pages), free)):
            conn.execute("PRAGMA incremental_vacuum(1)")
    return conn.execute("PRAGMA freelist_count").fetchone()[0]


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        # A new database: space freed by deletes (retention, reset) can be handed back without a VACUUM.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed write survives a process crash
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    folder = resources.files("sandbox.store") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql") and entry.name not in done:
            for statement in _statements(entry.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (entry.name,))


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction half-way)."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current))
            current = []
    return [s for s in statements if s.strip()]
