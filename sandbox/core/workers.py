"""What makes the N processes of `--workers N` on one SQLite file behave as one sandbox.

Leadership: exactly one process at a time runs the notifier and the scheduler, the one holding `<db>.leader.lock`
(an flock, released by the OS when its holder dies, even by kill -9). The others try again every second, so one of
them takes over within about a second. The leader also looks for due work every 250 ms, besides its in-process
wake-ups, so notifications queued and deadlines set by the other processes are noticed (and the clock moved by
another process is read first: the leader may serve no request at all).

StateSync: merchants, rules and the clock offset live in each engine's memory. Every change of them bumps
`state_version` (settings table) in its own transaction; `fresh()` (called before each request) reads
`PRAGMA data_version` on a private connection (microseconds: it changes whenever another connection committed) and
only then `state_version`, and reloads the engine when that moved. A change committed by one worker is therefore
seen by the next request any other worker starts.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3

from ..locks import lock_path, try_lock
from .engine import STATE_VERSION_KEY, Engine

log = logging.getLogger(__name__)

LEADER_RETRY_S = 1.0
LEADER_POLL_S = 0.25


class Leadership:
    def __init__(self, db: str, starts: list, wakes: list[asyncio.Event], refresh=None):
        self.db = db
        self.refresh = refresh  # coroutine function run before each poll: the clock moved elsewhere is seen here
        self.starts = starts  # coroutine functions run once this process leads (notifier.start, scheduler.start)
        self.wakes = wakes  # set every LEADER_POLL_S while leading
        self.leading = False
        self._fd: int | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        """Stop polling; the lock stays held until the process ends, so nobody else delivers while this process's
        notifier finishes the attempts in flight."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        path = lock_path(self.db, ".leader.lock")
        while path is not None:
            self._fd = try_lock(path)
            if self._fd is not None:
                break
            await asyncio.sleep(LEADER_RETRY_S)
        self.leading = True
        log.info("worker pid %d leads: it runs the notifier and the scheduler", os.getpid())
        for start in self.starts:
            await start()
        while True:
            await asyncio.sleep(LEADER_POLL_S)
            if self.refresh is not None:
                try:
                    await self.refresh()
                except Exception:  # a failed reload is tried again on the next poll
                    log.exception("reloading merchants, rules and clock failed")
            for wake in self.wakes:
                wake.set()


def open_write_lock(db: str) -> int | None:
    """The open `<db>.write.lock` whose flock the workers take around each write transaction (store/db.py)."""
    path = lock_path(db, ".write.lock")
    return None if path is None else os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


class StateSync:
    def __init__(self, engine: Engine, db: str):
        self.engine = engine
        self._conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=0")  # never wait on the event loop: busy is asked on the db thread
        self._data_version: int | None = None
        self._seen = 0  # the newest state_version read
        self._loaded = -1  # the state_version the engine's memory holds (at least)
        self._lock = asyncio.Lock()

    def close(self) -> None:
        self._conn.close()

    def _peek(self) -> int:
        """The newest state_version: two cheap statements on the event loop (WAL readers never wait on writers)."""
        data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version:
            self._seen = max(self._seen, _state_version(self._conn))
            self._data_version = data_version
        return self._seen

    async def fresh(self) -> None:
        """Make the engine's memory at least as new as the database's state_version now."""
        try:
            seen = self._peek()
        except sqlite3.OperationalError:  # busy (a WAL reset in progress): read it on the database thread instead
            self._seen = seen = max(self._seen, await self.engine.db.read(_state_version))
        if seen <= self._loaded:
            return
        async with self._lock:
            if seen <= self._loaded:
                return
            await self.engine.load()  # read after `seen` was: holds every change up to it
            self._loaded = seen


def _state_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (STATE_VERSION_KEY,)).fetchone()
    return int(row[0]) if row else 0
