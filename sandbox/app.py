"""The app factory: one aiohttp application serving every provider, the console, the cashier and the admin API."""
from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from .access_log import setup_access_log
from .apps import all_apps
from .appkeys import ENGINE, NOTIFIER, PROVIDERS, SETTINGS
from .cashier.pages import setup as setup_cashier
from .console import CONSOLE
from .console.api import setup_admin_api
from .console.explorer import setup_explorer
from .console.pages import setup as setup_console
from .console.security import setup_security
from .core.bus import Bus
from .core.clock import Clock
from .core.engine import Engine
from .core.notifier import Notifier
from .core.retention import Retention
from .core.scheduler import Scheduler
from .core.targets import NotifyTargets
from .fixtures import load_fixtures
from .providers import all_providers
from .providers.base import Provider
from .request_journal import ROUTE_OWNERS, setup_journal
from .settings import Settings
from .store.db import Database
from .templating import setup_templates
from .worker import setup_workers, start_background, stop_background

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = web.Application(client_max_size=settings.max_body_bytes)
    providers: dict[str, Provider] = {p.name: p for p in [*all_providers(), *all_apps()]}
    database = Database(settings.db)
    engine = Engine(database, Clock(), {name: p.channel for name, p in providers.items() if p.channel}, Bus())
    app[SETTINGS], app[ENGINE], app[PROVIDERS] = settings, engine, providers

    engine.journal.keep = settings.journal_keep
    app[ROUTE_OWNERS] = {}
    for provider in providers.values():
        before = set(app.router.resources())
        provider.setup(app, engine, settings)
        app[ROUTE_OWNERS].update({r: provider.name for r in app.router.resources() if r not in before})
    setup_explorer(app)  # the API's index and explorer, before the admin API's catch-all
    setup_admin_api(app)
    setup_templates(app)
    setup_security(app)
    setup_console(app)
    setup_cashier(app)
    app.router.add_get("/", to_console)
    setup_access_log(app)
    setup_journal(app)
    setup_workers(app)  # --workers N only: state kept fresh across processes

    app.cleanup_ctx.append(_engine_ctx)
    return app


async def to_console(request: web.Request) -> web.Response:
    """The bare root: nothing of a provider's lives there, so a browser pointed at the sandbox lands on the console."""
    raise web.HTTPFound(f"{CONSOLE}/")


async def _engine_ctx(app: web.Application):
    settings, engine = app[SETTINGS], app[ENGINE]
    if settings.db != ":memory:":
        Path(settings.db).parent.mkdir(parents=True, exist_ok=True)
    await engine.db.open()
    await engine.load()
    created = await load_fixtures(engine, app[PROVIDERS], settings.fixtures)
    if created:
        log.info("loaded %d demo merchants from %s", created, settings.fixtures)
    notifier = Notifier(engine, attempt_timeout_s=settings.notify_timeout_s,
                        max_in_flight=settings.notify_max_in_flight,
                        targets=NotifyTargets(settings.own_endpoints, settings.notify_allow))
    scheduler = Scheduler(engine)
    app[NOTIFIER] = notifier
    await start_background(app, engine, notifier, scheduler)  # with --workers N, in the leader only (worker.py)
    await engine.journal.start()
    retention = Retention(engine, settings.keep_days) if settings.keep_days else None
    if retention:
        await retention.start()
    yield
    if retention:
        await retention.stop()
    await stop_background(app)
    await engine.journal.stop()
    await scheduler.stop()
    await notifier.stop()
    await engine.db.close()
