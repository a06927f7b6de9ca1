"""A local HTTP endpoint that records the notifies it receives and answers as told: the merchant's side in tests."""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from .server import LoopThread


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class NotifyReceiver:
    """Every path accepts a request. Answers `reply` (status, body) unless `replies` holds queued answers."""

    def __init__(self, status: int = 200, body: str = "success", delay_s: float = 0):
        self.reply = (status, body)
        self.replies: list[tuple[int, str]] = []
        self.delay_s = delay_s
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._thread: LoopThread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "NotifyReceiver":
        self._thread = LoopThread("notify-receiver")
        self._thread.run(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._changed:
            self.received.append(Received(request.method, request.path_qs, dict(request.headers), body))
            status, text = self.replies.pop(0) if self.replies else self.reply
            self._changed.notify_all()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=status, text=text)

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[Received]:
        """Block until `count` requests have arrived; raises TimeoutError with what did arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} notifies, got {len(self.received)}")
                self._changed.wait(left)
            return list(self.received)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.run(self._runner.cleanup())
            self._thread.close()
            self._thread = None

    def __enter__(self) -> "NotifyReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
