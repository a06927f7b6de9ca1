"""Jinja2 for the console and the cashier: one environment, the filters both use, and the static files."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from .money import fen_to_yuan
from .settings import data_path

TEMPLATES = data_path("templates")
STATIC = data_path("static")
STATIC_PREFIX = "/_sandbox/static"


def when(epoch: float | None) -> str:
    """Sandbox time as people read it (UTC, to the second)."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def yuan(fen: int | None) -> str:
    return "—" if fen is None else fen_to_yuan(int(fen))


def pretty(value: Any) -> str:
    """JSON (or a JSON string) indented for a <pre>; other text unchanged."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if not isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def setup_templates(app: web.Application) -> None:
    """Called once by the app factory, before the console and cashier add their routes."""
    # The environment sits under aiohttp_jinja2's typed AppKey. No context_processors: aiohttp_jinja2 1.6 runs them
    # through a middleware that keeps its data under a plain-string request key, which makes aiohttp warn
    # (NotAppKeyWarning) on every page, into every user's test run. The one processor we had only added `request`
    # to the context, which sandbox.console.render.context now does itself.
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape(default=True),
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, yuan=yuan, pretty=pretty)
    env.globals["static"] = lambda path: f"{STATIC_PREFIX}/{path}"
    app.router.add_static(STATIC_PREFIX, STATIC, name="sandbox-static")
