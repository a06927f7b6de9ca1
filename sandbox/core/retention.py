"""Retention (`--keep-days`): deletes whole payments created more than N days ago on the sandbox clock, in the
background: at start, then every minute and whenever the clock moves."""
from __future__ import annotations

import asyncio
import logging

from .engine import Engine

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, engine: Engine, keep_days: float):
        self.engine = engine
        self.keep_days = keep_days
        self.wake = asyncio.Event()
        self.deleted = 0  # so far, by this process
        self._runner: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        self.engine.clock.register(self.wake)
        self._runner = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        self._stopping = True
        self.engine.clock.unregister(self.wake)
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                deleted = await self.engine.trim_older_than(self.keep_days)
                if deleted:
                    self.deleted += deleted
                    log.info("retention: deleted %d payments older than %g days", deleted, self.keep_days)
                await self.engine.clock.sleep_until(None, self.wake)  # a minute at most, or until the clock moves
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention failed; retrying in 60 s")
                await asyncio.sleep(60)
