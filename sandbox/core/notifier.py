"""The notifier: delivers due notifications from the outbox, on the sandbox clock.

It sleeps until the next attempt falls due (or the clock moves, or new work arrives), delivers with a bounded number
in flight, asks the provider's channel to render and sign each attempt and to judge the reply, and has the engine
journal the attempt and reschedule it. What was pending when the process died is simply due on restart.

Fair delivery: besides the global bound, at most `per_host` attempts (max(2, max_in_flight // 8)) are in flight to
one host:port (the key is the URL's host and port, so two receivers on one machine are two hosts): receivers that
hang hold only their own host's slots, and every other merchant's notifies go on. A notification whose host is full
stays due and is started when one of that host's attempts ends.

Targets: `targets` (core/targets.py) refuses the sandbox itself and, with an allow-list, every host outside it; a
refused attempt is journaled with the reason and the notification fails at once, without retries.

Stopping (SIGTERM, Ctrl-C): no new attempt starts; those in flight get `grace_s` to be answered and journaled, so an
acknowledged notify is not sent again after the restart. Only what is still unanswered then is cancelled (and, not
journaled, is due again on the next start: at least once).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, deque
from typing import Any

import aiohttp
from yarl import URL

from .engine import Engine
from .models import Notification
from .targets import GuardedResolver, NotifyTargets, TargetRefused

log = logging.getLogger(__name__)

RESPONSE_BODY_LIMIT = 64 * 1024
WINDOW_EVERY_S = 0.1  # how often the due window is read whole while full hosts' backlogs are being worked off


class Notifier:
    def __init__(self, engine: Engine, *, max_in_flight: int = 64, attempt_timeout_s: float = 5.0,
                 batch: int = 500, per_host: int | None = None, grace_s: float = 2.0,
                 targets: NotifyTargets | None = None):
        self.engine = engine
        self.max_in_flight = max_in_flight
        self.per_host = per_host or max(2, max_in_flight // 8)
        self.attempt_timeout_s = attempt_timeout_s
        self.grace_s = grace_s
        self.targets = targets or NotifyTargets()
        self.batch = batch
        self.wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._per_host: Counter[str] = Counter()  # host:port -> attempts in flight there
        self._skipped = 0  # due notifications the last pass left for their full hosts: the next pass reads past them
        # What the last full pass left behind, per full host, in due order: as that host's attempts end, its next ones
        # start from here, and the whole window is read again only every WINDOW_EVERY_S (or when these run out), so a
        # backlog of thousands to one host is not re-read after every attempt.
        self._behind: dict[str, deque[str]] = {}
        self._window_read_at = 0.0
        self._window_every = WINDOW_EVERY_S
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.attempt_timeout_s),
            connector=aiohttp.TCPConnector(limit=self.max_in_flight, force_close=False,
                                           resolver=GuardedResolver(self.targets)),
            auto_decompress=True,
        )
        self.engine.notifications_changed = self.wake
        self.engine.clock.register(self.wake)
        self._runner = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        self._stopping = True  # ends the loop even if a cancel is lost
        self.engine.clock.unregister(self.wake)
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._tasks and self.grace_s > 0:  # let attempts in flight be answered and journaled
            await asyncio.wait(list(self._tasks), timeout=self.grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session:
            await self._session.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                started = await self._start_due()
                if started:
                    continue
                next_at = await self.engine.next_notification_time()
                if next_at is not None and next_at <= self.engine.clock.now():
                    next_at = None  # all that is due is in flight: wait for one to finish
                await self.engine.clock.sleep_until(next_at, self.wake)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad row must not stop every other delivery
                log.exception("notifier loop failed; retrying in 1 s")
                await asyncio.sleep(1)

    async def _start_due(self) -> int:
        """Start what is due and has room (globally and on its host); > 0 when the loop should look again at once."""
        if time.monotonic() < self._window_read_at + self._window_every:
            chosen = {}
            for host, waiting in self._behind.items():
                while waiting and self._per_host[host] < self.per_host \
                        and len(self._in_flight) + len(chosen) < self.max_in_flight:
                    notification_id = waiting.popleft()
                    if notification_id not in self._in_flight:
                        chosen[notification_id] = host
                        self._per_host[host] += 1
            if chosen:
                return await self._start(chosen)
            if any(self._behind.values()):
                return 0  # those hosts are still full: one of their attempts ending wakes the loop
        self._window_read_at = time.monotonic()
        self._behind = {}
        limit = self.batch + len(self._in_flight) + self._skipped
        due = await self.engine.due_notification_urls(limit)
        # Only ids and URLs are read for the window (the loop looks again after every attempt): whole rows are read
        # for the notifications that start, so a long queue to one busy host costs little per look.
        chosen: dict[str, str] = {}
        skipped = 0
        for notification_id, url in due:
            if len(self._in_flight) + len(chosen) >= self.max_in_flight:
                break  # a finishing attempt wakes the loop
            if notification_id in self._in_flight:
                continue
            host = host_key(url)
            if self._per_host[host] >= self.per_host:
                skipped += 1  # its host is full: it stays due, and one of the host's attempts ending wakes the loop
                self._behind.setdefault(host, deque()).append(notification_id)
                continue
            chosen[notification_id] = host
            self._per_host[host] += 1
        # reading and sorting a long window takes a while: read it again only after ten times that (or WINDOW_EVERY_S)
        self._window_every = max(WINDOW_EVERY_S, 10 * (time.monotonic() - self._window_read_at))
        started = await self._start(chosen)
        self._skipped = skipped
        if not started and skipped and len(due) == limit and len(self._in_flight) < self.max_in_flight:
            return 1  # the whole window was full hosts' notifications: read further (the window grows by `batch`)
        return started

    async def _start(self, chosen: dict[str, str]) -> int:
        """Start these notifications (id -> host, already counted on their hosts) that are still pending and due."""
        self._in_flight.update(chosen)
        started = 0
        for notification in await self.engine.pending_notifications(list(chosen)) if chosen else []:
            task = asyncio.create_task(self._deliver(notification, chosen.pop(notification.id)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        for notification_id, host in chosen.items():  # no longer pending (suppressed, delivered, reset) meanwhile
            self._release(notification_id, host)
        return started

    async def _deliver(self, notification: Notification, host: str) -> None:
        try:
            attempt = await self.attempt(notification)
            await self.engine.record_attempt(notification, attempt)
        except Exception:
            log.exception("delivering notification %s failed", notification.id)
        finally:
            self._release(notification.id, host)
            self.wake.set()

    def _release(self, notification_id: str, host: str) -> None:
        self._in_flight.discard(notification_id)
        self._per_host[host] -= 1
        if self._per_host[host] <= 0:
            del self._per_host[host]

    async def attempt(self, notification: Notification) -> dict[str, Any]:
        """Render, send and judge one attempt; never raises for the merchant's failures."""
        channel = self.engine.channels[notification.provider]
        merchant = self.engine.merchant(notification.snapshot["payment"]["merchant_id"])
        now = self.engine.clock.now()
        request = await channel.render(notification, merchant, notification.attempts + 1, now)
        record: dict[str, Any] = {
            "at": now, "due_at": notification.next_attempt_at, "request_url": request.url, "request_headers": request.headers,
            "request_body": request.body.decode("utf-8", "replace"), "acknowledged": False,
        }
        started = time.perf_counter()
        try:
            refused = await asyncio.wait_for(self.targets.refusal(request.url), self.attempt_timeout_s)
        except asyncio.TimeoutError:  # the name did not resolve in time: an unreachable host, tried again later
            record.update(error=f"timed out after {self.attempt_timeout_s:g} s resolving the notify host",
                          latency_ms=round((time.perf_counter() - started) * 1000, 2))
            return record
        if refused is not None:
            log.warning("notification %s: %s", notification.id, refused)
            record.update(error=refused, refused=True, latency_ms=0.0)
            return record
        try:
            async with self._session.request(request.method, request.url, data=request.body,
                                             headers=request.headers, allow_redirects=False) as response:
                body = await response.content.read(RESPONSE_BODY_LIMIT)
                acknowledged = channel.is_acknowledged(request, response.status, body)
                record.update(response_status=response.status, response_body=body.decode("utf-8", "replace"),
                              acknowledged=acknowledged)
        except asyncio.TimeoutError:
            record["error"] = f"timed out after {self.attempt_timeout_s:g} s"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):  # the name resolved to the sandbox on connecting
                record.update(error=str(exc.os_error), refused=True)
            else:
                record["error"] = f"{type(exc).__name__}: {exc}"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return record


@functools.lru_cache(maxsize=4096)
def host_key(url: str) -> str:
    """host:port of a notify URL (the port explicit or the scheme's): what per-host fairness counts by."""
    try:
        parsed = URL(url)
        return f"{(parsed.host or '').lower()}:{parsed.port}"
    except (ValueError, TypeError):
        return url
