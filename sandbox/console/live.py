"""Server-sent events for live pages: every message the engine publishes on its bus, as one `data:` line each.

Pages decide what to refresh (the payments list on any payment change, a payment page on its own id). On shutdown
every open stream is ended, so stopping the server does not wait for browsers to go away.
"""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ..appkeys import ENGINE

STREAMS = web.AppKey("live_streams", set)
HEARTBEAT_S = 15.0
_STOP = {"type": "_stop"}


async def events(request: web.Request) -> web.StreamResponse:
    bus = request.app[ENGINE].bus
    queue = bus.subscribe()
    streams = request.app[STREAMS]
    streams.add(queue)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_S):  # not wait_for: on 3.11 it can swallow a shutdown's cancel
                    message = await queue.get()
            except TimeoutError:
                await response.write(b": ping\n\n")  # also how a closed connection is noticed
                continue
            if message is _STOP:
                break
            await response.write(f"data: {json.dumps(message, default=str)}\n\n".encode())
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        bus.unsubscribe(queue)
        streams.discard(queue)
    return response


async def _stop_streams(app: web.Application) -> None:
    for queue in list(app[STREAMS]):
        if queue.full():
            queue.get_nowait()  # make room: ending the stream matters more than one missed update
        queue.put_nowait(_STOP)


def setup_live(app: web.Application) -> None:
    app[STREAMS] = set()
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/_sandbox/events", events)
