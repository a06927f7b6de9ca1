"""Console sessions and the slowing of repeated failures, for a sandbox started with --admin-token.

Sessions are server-side: the cookie holds a random id, the settings table holds the SHA-256 of each live id with
its expiry (so every worker process of one database sees the same sessions, and a leaked database reveals no usable
cookie). A session ends SESSION_TTL_S after sign-in, or at sign-out.

Failures (a wrong token at the login form, a wrong Bearer token at the admin API) are counted per client address:
after MAX_FAILURES within WINDOW_S, that client is answered 429 until the oldest counted failure is WINDOW_S old.
Both use a wall clock that tests replace (`clock`), never the sandbox clock, which only moves forward on request.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from typing import Callable

from aiohttp import web

from ..store import settings as settings_store

SESSION_TTL_S = 12 * 3600
SESSIONS_KEY = "console_sessions"  # settings table: {sha256(session id): expires_at (wall clock)}
MAX_FAILURES = 5
WINDOW_S = 60.0


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class Sessions:
    def __init__(self, db, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock

    async def start(self) -> str:
        """A new session; returns its id (for the cookie). Expired sessions are dropped on the way."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()

        def work(conn):
            live = {k: v for k, v in (settings_store.get(conn, SESSIONS_KEY, {}) or {}).items() if v > now}
            live[_digest(session_id)] = now + SESSION_TTL_S
            settings_store.put(conn, SESSIONS_KEY, live)
        await self.db.transaction(work)
        return session_id

    async def valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        sessions = await self.db.read(lambda conn: settings_store.get(conn, SESSIONS_KEY, {}) or {})
        expires_at = sessions.get(_digest(session_id))
        return expires_at is not None and expires_at > self.clock()

    async def end(self, session_id: str | None) -> None:
        if not session_id:
            return
        digest = _digest(session_id)

        def work(conn):
            sessions = settings_store.get(conn, SESSIONS_KEY, {}) or {}
            if sessions.pop(digest, None) is not None:
                settings_store.put(conn, SESSIONS_KEY, sessions)
        await self.db.transaction(work)


class Throttle:
    """Failures per client within a sliding window; `blocked` once MAX_FAILURES are in it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: int = MAX_FAILURES,
                 window_s: float = WINDOW_S):
        self.clock, self.limit, self.window_s = clock, limit, window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        cutoff = self.clock() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def blocked(self, client: str) -> float | None:
        """Seconds until this client may try again, or None when it may now."""
        failures = self._recent(client)
        if len(failures) < self.limit:
            return None
        return max(1.0, failures[0] + self.window_s - self.clock())

    def failed(self, client: str) -> None:
        self._recent(client)
        if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest rather than grow without end
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, deque()).append(self.clock())


SESSIONS = web.AppKey("console_sessions", Sessions)
THROTTLE = web.AppKey("auth_throttle", Throttle)


def client_of(request: web.Request) -> str:
    return request.remote or "?"


def too_many(retry_after: float) -> dict[str, str]:
    return {"Retry-After": str(int(retry_after + 0.999))}
