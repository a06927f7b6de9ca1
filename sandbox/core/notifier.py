"""The notifier: delivers due notifications from the outbox, on the sandbox clock.

It sleeps until the next attempt falls due (or the clock moves, or new work arrives), delivers with a bounded number
in flight, asks the provider's channel to render and sign each attempt and to judge the reply, and has the engine
journal the attempt and reschedule it. What was pending when the process died is simply due on restart.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from .engine import Engine
from .models import Notification

log = logging.getLogger(__name__)

RESPONSE_BODY_LIMIT = 64 * 1024


class Notifier:
    def __init__(self, engine: Engine, *, max_in_flight: int = 64, attempt_timeout_s: float = 5.0,
                 batch: int = 500):
        self.engine = engine
        self.max_in_flight = max_in_flight
        self.attempt_timeout_s = attempt_timeout_s
        self.batch = batch
        self.wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.attempt_timeout_s),
            connector=aiohttp.TCPConnector(limit=self.max_in_flight, force_close=False),
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
        started = 0
        for notification in await self.engine.due_notifications(self.batch + len(self._in_flight)):
            if notification.id in self._in_flight:
                continue
            await self._slots.acquire()
            self._in_flight.add(notification.id)
            task = asyncio.create_task(self._deliver(notification))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _deliver(self, notification: Notification) -> None:
        try:
            attempt = await self.attempt(notification)
            await self.engine.record_attempt(notification, attempt)
        except Exception:
            log.exception("delivering notification %s failed", notification.id)
        finally:
            self._in_flight.discard(notification.id)
            self._slots.release()
            self.wake.set()

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
            async with self._session.request(request.method, request.url, data=request.body,
                                             headers=request.headers, allow_redirects=False) as response:
                body = await response.content.read(RESPONSE_BODY_LIMIT)
                acknowledged = channel.is_acknowledged(request, response.status, body)
                record.update(response_status=response.status, response_body=body.decode("utf-8", "replace"),
                              acknowledged=acknowledged)
        except asyncio.TimeoutError:
            record["error"] = f"timed out after {self.attempt_timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return record
