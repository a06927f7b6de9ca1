"""Signing in to a sandbox started with an admin token: a form, then an HttpOnly session cookie."""
from __future__ import annotations

import hmac

from aiohttp import web

from ..appkeys import SETTINGS
from . import CONSOLE, forms
from .render import redirect, render
from .security import SESSION_COOKIE, set_session_cookie
from .sessions import SESSIONS, THROTTLE, client_of, too_many


def _next(value: str | None) -> str:
    # Only back into the console: never an open redirect to another site.
    if value and value.startswith(f"{CONSOLE}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{CONSOLE}/"


async def login_page(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].admin_token:
        return redirect(request, _next(request.query.get("next")))
    return render(request, "console/login.html", next=_next(request.query.get("next")))


async def login(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].admin_token
    fields = await forms.form(request)
    target = _next(fields.get("next"))
    if not token:
        return redirect(request, target)
    throttle, client = request.app[THROTTLE], client_of(request)
    wait = throttle.blocked(client)
    if wait is not None:
        response = render(request, "console/login.html", status=429, next=target,
                          error=f"Too many wrong tokens: try again in {int(wait + 0.999)} s.")
        response.headers.update(too_many(wait))
        return response
    if not hmac.compare_digest(str(fields.get("token", "")).encode(), token.encode()):
        throttle.failed(client)
        return render(request, "console/login.html", status=401, next=target,
                      error="That is not this sandbox's admin token.")
    response = redirect(request, target)
    set_session_cookie(response, request, await request.app[SESSIONS].start())
    return response


async def logout(request: web.Request) -> web.Response:
    if request.app[SETTINGS].admin_token:
        await request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))  # the cookie is worth nothing now
    response = redirect(request, f"{CONSOLE}/login", "Signed out")
    response.del_cookie(SESSION_COOKIE, path=f"{CONSOLE}/")
    return response


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/login", login_page)
    r.add_post(f"{CONSOLE}/login", login)
    r.add_post(f"{CONSOLE}/logout", logout)
