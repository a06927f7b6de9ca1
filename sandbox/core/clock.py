"""The sandbox clock: real time plus an offset that only moves forward.

Every timestamp the sandbox writes or sends comes from here. `advance` wakes every loop that sleeps on the clock
(notifier, expiry), so a test can jump over a 24-hour retry schedule in milliseconds.
"""
from __future__ import annotations

import asyncio
import time

# A sleeping loop re-checks at least this often (real seconds), so a missed wake-up costs at most this much.
MAX_SLEEP_S = 60.0


class Clock:
    def __init__(self, offset_s: float = 0.0):
        self.offset_s = float(offset_s)
        self._wakers: set[asyncio.Event] = set()

    def now(self) -> float:
        return time.time() + self.offset_s

    def from_client(self, wall_time: float) -> float:
        """A time a client stamped from its own wall clock (wechatpy's time_expire = its now + 2 h, an Alipay
        time_expire, a v3 time_expire) on the sandbox clock: the client's clock did not move when the sandbox's was
        advanced, so add the offset, and advancing the clock never turns an honest client's deadline into the past."""
        return wall_time + self.offset_s

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset_s += seconds
        self.wake_all()
        return self.now()

    def wake_all(self) -> None:
        for event in self._wakers:
            event.set()

    def register(self, event: asyncio.Event) -> None:
        self._wakers.add(event)

    def unregister(self, event: asyncio.Event) -> None:
        self._wakers.discard(event)

    async def sleep_until(self, at: float | None, wake: asyncio.Event) -> None:
        """Sleep until sandbox time `at` (None: until woken), or until `wake` is set (clock moved, new work)."""
        timeout = MAX_SLEEP_S if at is None else min(max(at - self.now(), 0.0), MAX_SLEEP_S)
        if timeout > 0 and not wake.is_set():
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that lands as the event is set, and the
            # notifier's loop then never stops (a hung shutdown). asyncio.timeout lets the cancel through.
            try:
                async with asyncio.timeout(timeout):
                    await wake.wait()
            except TimeoutError:
                pass
        wake.clear()
