"""One process of `--workers N` (started by group.py), and what the app does differently in one.

A worker builds its own app and engine on the group's database, listens on the shared port with SO_REUSEPORT, tells
the group's process it listens, and runs until SIGTERM (Ctrl-C is left to the group's process, which sends SIGTERM
to every worker) or until the group's process is gone. Every response carries `X-Sandbox-Worker: <pid>`.
"""
from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys

from aiohttp import web

from .access_log import ACCESS_LOG, AccessLogger
from .appkeys import SETTINGS
from .core.bus_relay import BusRelay
from .core.workers import Leadership, StateSync, open_write_lock
from .settings import Settings

STATE_SYNC = web.AppKey("state_sync", StateSync)
LEADERSHIP = web.AppKey("leadership", Leadership)
BUS_RELAY = web.AppKey("bus_relay", BusRelay)
PORT_IN_USE = 2
WORKER_HEADER = "X-Sandbox-Worker"


def setup_workers(app: web.Application) -> None:
    """With --workers N (N > 1): every request first brings this process's merchants, rules and clock up to date."""
    if app[SETTINGS].workers > 1:
        app.middlewares.insert(0, _worker_middleware)
        app.on_response_prepare.append(_worker_header)


@web.middleware
async def _worker_middleware(request: web.Request, handler):
    sync = request.app.get(STATE_SYNC)
    if sync is not None:
        await sync.fresh()
    return await handler(request)


async def _worker_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())


async def start_background(app: web.Application, engine, notifier, scheduler) -> None:
    """The notifier and the scheduler: started here in one process; with --workers N, by the leader only."""
    settings = app[SETTINGS]
    if settings.workers <= 1:
        await notifier.start()
        await scheduler.start()
        return
    engine.db.write_lock = open_write_lock(settings.db)
    app[STATE_SYNC] = sync = StateSync(engine, settings.db)
    await sync.fresh()
    app[LEADERSHIP] = leadership = Leadership(settings.db, [notifier.start, scheduler.start],
                                              [notifier.wake, scheduler.wake], sync.fresh)
    await leadership.start()
    app[BUS_RELAY] = relay = BusRelay(engine.bus, engine.db)  # the live stream sees every worker's changes
    await relay.start()


async def stop_background(app: web.Application) -> None:
    if BUS_RELAY in app:
        await app[BUS_RELAY].stop()
    if LEADERSHIP in app:
        await app[LEADERSHIP].stop()
    if STATE_SYNC in app:
        app[STATE_SYNC].close()


def serve_worker(settings: Settings, worker_of: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the group's process stops the workers
    parent, ready_fd = (int(part) for part in worker_of.split(","))
    from .app import create_app
    app = create_app(settings)
    try:
        asyncio.run(_serve(app, settings, parent, ready_fd))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"port {settings.port} is in use; pass --port", file=sys.stderr)
        raise SystemExit(PORT_IN_USE) from None


async def _serve(app: web.Application, settings: Settings, parent: int, ready_fd: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    runner = web.AppRunner(app, access_log=ACCESS_LOG, access_log_class=AccessLogger, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=True)
        await site.start()
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        while not stop.is_set() and os.getppid() == parent:  # the group's process gone: end (not on Linux)
            try:
                async with asyncio.timeout(1.0):
                    await stop.wait()
            except TimeoutError:
                pass
    finally:
        await runner.cleanup()
