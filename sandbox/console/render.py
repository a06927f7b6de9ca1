"""Rendering helpers shared by the console and the cashier: page context, flash messages, error pages."""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from .. import jsonbody
from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..templating import zone_label
from .security import CSRF_KEY, set_cookie

FLASH_COOKIE = "sandbox_flash"


def context(request: web.Request, **values: Any) -> dict[str, Any]:
    engine, settings = request.app[ENGINE], request.app[SETTINGS]
    now = engine.clock.now()
    return {
        "request": request,
        "csrf_token": request.get(CSRF_KEY, ""),
        "flash": read_flash(request),
        "now": now,
        "display_tz": settings.display_tz,  # times are shown in this zone, UTC on hover
        "display_zone": settings.display_zone,
        "zone_label": zone_label(now, settings.display_zone),
        "base_url": request.app[SETTINGS].base_url,
        "token_required": bool(request.app[SETTINGS].admin_token),
        "provider_titles": provider_titles(request),
        **values,
    }


def provider_titles(request: web.Request) -> dict[str, str]:
    """How people call each provider ("WeChat Pay"), by its name."""
    return {name: getattr(p, "title", name) for name, p in request.app[PROVIDERS].items()}


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context(request, **values), status=status)
    response.headers["Cache-Control"] = "no-store"
    if request.cookies.get(FLASH_COOKIE):
        response.del_cookie(FLASH_COOKIE, path="/_sandbox/")
    return response


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    template = "cashier/error.html" if request.path.startswith("/_sandbox/pay/") else "console/error.html"
    return render(request, template, status=status, title=title, message=message)


def redirect(request: web.Request, location: str, message: str | None = None, level: str = "ok") -> web.Response:
    """Post/Redirect/Get with an optional one-time message for the next page."""
    response = web.Response(status=303, headers={"Location": location})
    if message:
        value = urllib.parse.quote(json.dumps({"level": level, "message": message[:500]}))
        set_cookie(response, request, FLASH_COOKIE, value, max_age=60)
    return response


def read_flash(request: web.Request) -> dict | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        flash = jsonbody.loads(urllib.parse.unquote(raw))  # a cookie: anybody's text, bounded like any body
        return {"level": str(flash.get("level", "ok")), "message": str(flash.get("message", ""))}
    except (ValueError, AttributeError):
        return None
