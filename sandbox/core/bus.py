"""In-process publish/subscribe of changes, for live pages (server-sent events)."""
from __future__ import annotations

import asyncio
from typing import Any


class Bus:
    def __init__(self, queue_size: int = 1000):
        self._subscribers: set[asyncio.Queue] = set()
        self._queue_size = queue_size

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in self._subscribers:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                pass  # a stalled page misses updates; it reloads on reconnect rather than slowing payments
