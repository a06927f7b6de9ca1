"""The live event stream across the processes of --workers N, through the database.

While a browser watches any worker's live stream, that worker says so in the settings table (`bus_watched_until`, a
few seconds ahead, renewed while it has subscribers); every worker that sees it writes what it publishes into
`bus_events` (a batch every 250 ms) and the watching worker reads what the others wrote (every 250 ms) and hands it
to its own subscribers. Nobody watching: no rows written, nothing read. The newest KEEP rows are kept.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time

from ..store import settings as settings_store
from .bus import Bus

log = logging.getLogger(__name__)

POLL_S = 0.25
WATCHED_KEY = "bus_watched_until"
WATCH_RENEW_S = 2.0
WATCH_HOLD_S = 6.0
KEEP = 5000


class BusRelay:
    def __init__(self, bus: Bus, db, origin: int | None = None):
        self.bus = bus
        self.db = db
        self.origin = origin or os.getpid()
        self._out: list[dict] = []
        self._others_watch_until = 0.0  # a worker watches until then (read from the database every second)
        self._last_id: int | None = None  # the newest bus_events row handed to this process's subscribers
        self._renewed = self._checked = 0.0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.bus.relay = self
        self._task = asyncio.create_task(self._run(), name="bus relay")

    async def stop(self) -> None:
        self.bus.relay = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def outgoing(self, message: dict) -> None:
        if self._others_watch_until > time.time():
            self._out.append(message)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a locked or busy database: the next step tries again; the stream is best effort
                log.warning("live event relay step failed", exc_info=True)

    async def _step(self) -> None:
        now = time.time()
        if self._out:
            batch, self._out = self._out, []
            rows = [(self.origin, json.dumps(message, default=str)) for message in batch]
            await self.db.transaction(lambda conn: _write(conn, rows))
        if self.bus.watched:
            if now - self._renewed >= WATCH_RENEW_S:
                self._renewed = now
                await self.db.transaction(lambda conn: settings_store.put(conn, WATCHED_KEY, now + WATCH_HOLD_S))
            if self._last_id is None:  # a browser just connected: from now on, not the backlog
                self._last_id = await self.db.read(_newest)
            rows = await self.db.read(lambda conn: _read(conn, self._last_id))
            for row_id, origin, message in rows:
                self._last_id = row_id
                if origin != self.origin:
                    self.bus.deliver(json.loads(message))
        else:
            self._last_id = None  # a browser that connects later starts from then, not from the backlog
        if now - self._checked >= 1.0:
            self._checked = now
            self._others_watch_until = float(await self.db.read(lambda conn: settings_store.get(conn, WATCHED_KEY,
                                                                                                  0.0)))


def _write(conn, rows: list[tuple[int, str]]) -> None:
    conn.executemany("INSERT INTO bus_events (origin, message) VALUES (?, ?)", rows)
    newest = conn.execute("SELECT MAX(id) FROM bus_events").fetchone()[0]
    conn.execute("DELETE FROM bus_events WHERE id <= ?", (newest - KEEP,))


def _newest(conn) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM bus_events").fetchone()[0]


def _read(conn, after: int) -> list[tuple[int, int, str]]:
    return [tuple(row) for row in conn.execute(
        "SELECT id, origin, message FROM bus_events WHERE id > ? ORDER BY id LIMIT 1000", (after,))]
