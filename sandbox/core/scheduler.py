"""Carries out time-driven changes on the sandbox clock: order expiry and rule outcomes ("succeed after 5 s")."""
from __future__ import annotations

import asyncio
import logging

from .engine import Engine

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.wake = asyncio.Event()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._sleeping_until: float | None = None

    async def start(self) -> None:
        self.engine.on_deadline = self._deadline
        self.engine.clock.register(self.wake)
        self._runner = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        self._stopping = True  # ends the loop even if a cancel is lost
        self.engine.clock.unregister(self.wake)
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if await self.engine.run_due_actions():
                    continue
                self._sleeping_until = await self.engine.next_action_time()
                await self.engine.clock.sleep_until(self._sleeping_until, self.wake)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler loop failed; retrying in 1 s")
                await asyncio.sleep(1)

    def _deadline(self, at: float) -> None:
        """A new payment has a deadline: wake up only if it comes before the one being slept towards."""
        if self._sleeping_until is None or at < self._sleeping_until:
            self._sleeping_until = at
            self.wake.set()
