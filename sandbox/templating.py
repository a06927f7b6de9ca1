"""Jinja2 for the console and the cashier: one environment, the filters both use, and the static files."""
from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from .money import fen_to_yuan
from .settings import data_path

TEMPLATES = data_path("templates")
STATIC = data_path("static")
STATIC_PREFIX = "/_sandbox/static"


DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # when a page has no display_zone in its context


def when(epoch: float | None, zone: tzinfo = timezone.utc) -> str:
    """Sandbox time as people read it, in `zone` (UTC unless told), to the second."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M:%S")


def zone_label(epoch: float, zone: tzinfo) -> str:
    """'UTC+08:00' (the zone's offset at that time), or 'UTC'."""
    offset = datetime.fromtimestamp(epoch, zone).strftime("%z")
    return "UTC" if offset in ("", "+0000") else f"UTC{offset[:3]}:{offset[3:]}"


@jinja2.pass_context
def when_filter(context, epoch: float | None) -> str:
    """A <time> in the page's display zone (the sandbox's --display-tz), with UTC on hover."""
    if epoch is None:
        return "—"
    utc = datetime.fromtimestamp(epoch, timezone.utc)
    shown = when(epoch, context.get("display_zone") or DEFAULT_ZONE)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"), utc.strftime("%Y-%m-%d %H:%M:%S"), shown)


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
    env.filters.update(when=when_filter, utc=when, yuan=yuan, pretty=pretty)
    env.globals["static"] = lambda path: f"{STATIC_PREFIX}/{path}"
    app.router.add_static(STATIC_PREFIX, STATIC, name="sandbox-static")
