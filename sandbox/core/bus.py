"""In-process publish/subscribe of changes, for live pages (server-sent events)."""
from __future__ import annotations

import asyncio
from typing import Any


class Bus:
    def __init__(self, queue_size: int = 1000):
        self._subscribers: set[asyncio.Queue] = set()
        self._queue_size = queue_size
        self.relay = None  # a BusRelay with --workers N

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    @property
    def watched(self) -> bool:
        return bool(self._subscribers)

    def publish(self, message: dict[str, Any]) -> None:
        if self.relay is not None:  # --workers N: the other processes' pages see it too (core/bus_relay.py)
            self.relay.outgoing(message)
        self.deliver(message)

    def deliver(self, message: dict[str, Any]) -> None:
        """To this process's subscribers only."""
        for queue in self._subscribers:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                pass  # a stalled page misses updates; it reloads on reconnect rather than slowing payments
