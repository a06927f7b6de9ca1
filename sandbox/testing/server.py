"""A sandbox running in a background thread on a free port: for tests, synchronous SDKs included."""
from __future__ import annotations

import asyncio
import faulthandler
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Coroutine

from aiohttp import web

from ..app import create_app
from ..appkeys import ENGINE
from ..settings import DEFAULT_FIXTURES, Settings
from .client import AdminClient, SyncAdminClient


class LoopThread:
    """An event loop of its own in a daemon thread; `run(coro)` waits for a result from any thread."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine, timeout: float | None = 60) -> Any:
        future: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            # Say where every thread stands, so a hang can be diagnosed from the test log alone.
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class SandboxServer:
    """Start with `SandboxServer().start()` (or as a context manager); `url`, `admin` and `engine` while running."""

    def __init__(self, db: str | Path | None = None, fixtures: str | None = str(DEFAULT_FIXTURES),
                 host: str = "127.0.0.1", port: int = 0, **settings: Any):
        self._tmp = None if db else tempfile.TemporaryDirectory(prefix="sandbox-")
        self.settings = Settings(host=host, port=port, db=str(db or Path(self._tmp.name) / "sandbox.db"),
                                 fixtures=fixtures, **settings)
        self._thread: LoopThread | None = None
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    def start(self) -> "SandboxServer":
        self._thread = LoopThread("sandbox-server")
        self._thread.run(self._start())
        return self

    async def _start(self) -> None:
        self.app = create_app(self.settings)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.settings.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            self._thread.run(self._runner.cleanup())
        self._thread.close()
        self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.settings.base_url

    @property
    def admin(self) -> SyncAdminClient:
        return SyncAdminClient(self.url, token=self.settings.admin_token)

    def async_admin(self) -> AdminClient:
        """An aiohttp-based client for async tests (use `async with`)."""
        return AdminClient(self.url, token=self.settings.admin_token)

    @property
    def engine(self):
        """The engine, for tests that look inside; call its coroutines through `call`."""
        return self.app[ENGINE]

    def call(self, coro: Coroutine, timeout: float = 60) -> Any:
        """Run a coroutine on the server's loop (e.g. `server.call(server.engine.get_payment(id))`)."""
        return self._thread.run(coro, timeout)
