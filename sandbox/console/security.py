"""Protection for shared deployments: the optional admin token (login page + HttpOnly cookie) and CSRF checks.

CSRF is a double submit: a random per-browser token lives in an HttpOnly, SameSite=Strict cookie and every form
carries it in a hidden field; an unsafe request whose field (or X-CSRF-Token header) does not match is refused
with 403. The admin token itself never goes in the cookie: the cookie holds an HMAC of it, so a leaked cookie
does not reveal the token, and changing the token logs everyone out.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse

from aiohttp import web

from ..appkeys import SETTINGS
from . import CONSOLE

SESSION_COOKIE = "sandbox_session"
CSRF_COOKIE = "sandbox_csrf"
CSRF_FIELD = "csrf_token"
# request[CSRF_KEY]: the token to put in forms (a typed key where aiohttp has them, 3.12+)
CSRF_KEY = web.RequestKey("csrf_token", str) if hasattr(web, "RequestKey") else "csrf_token"
# Paths under /_sandbox/ that are not console pages: the admin API checks its own Bearer token, the cashier is for
# payers, static files are public, and the login page is how one gets in.
PUBLIC_PREFIXES = (f"{CONSOLE}/api/", f"{CONSOLE}/static/", f"{CONSOLE}/pay/", f"{CONSOLE}/login")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"payment-sandbox console session", hashlib.sha256).hexdigest()


def is_logged_in(request: web.Request) -> bool:
    token = request.app[SETTINGS].admin_token
    if not token:
        return True
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip().encode(), token.encode()):
        return True
    return hmac.compare_digest(request.cookies.get(SESSION_COOKIE, "").encode(), session_value(token).encode())


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, **extra) -> None:
    response.set_cookie(name, value, path=f"{CONSOLE}/", httponly=True, samesite="Strict",
                        secure=request.secure, **extra)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_console(path: str) -> bool:
    return path == CONSOLE or path.startswith(f"{CONSOLE}/")


def _needs_login(path: str) -> bool:
    return _is_console(path) and not path.startswith(PUBLIC_PREFIXES)


def _csrf_checked(path: str) -> bool:
    # Console, cashier and login forms; not the admin API (Bearer token, JSON bodies, no cookies).
    return _is_console(path) and not path.startswith((f"{CONSOLE}/api/", f"{CONSOLE}/static/"))


async def _form_readable(request: web.Request) -> bool:
    """Parse a form body once, here, so no page handler meets a malformed one (a multipart without its boundary)."""
    if request.content_type in FORM_TYPES:
        try:
            await request.post()  # aiohttp keeps the result for the handler
        except (ValueError, LookupError):  # LookupError: a charset Python does not know
            return False
    return True


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in FORM_TYPES:
        given = (await request.post()).get(CSRF_FIELD)
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _refuse(request: web.Request, status: int, title: str, message: str) -> web.Response:
    from .render import error_page  # late: render imports this module
    return error_page(request, status, title, message)


@web.middleware
async def protect(request: web.Request, handler):
    path = request.path
    if not _is_console(path):
        return await handler(request)
    if _needs_login(path) and not is_logged_in(request):
        # A page is sent to the login form; live updates (fragments, the event stream) just get 401.
        if request.method == "GET" and not request.headers.get("X-Fragment") and path != f"{CONSOLE}/events":
            raise web.HTTPSeeOther(f"{CONSOLE}/login?next={urllib.parse.quote(request.rel_url.path)}")
        return _refuse(request, 401, "Sign in needed", "This sandbox asks for its admin token.")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if _csrf_checked(path) and request.method not in SAFE_METHODS:
        if not await _form_readable(request):
            return _refuse(request, 400, "Unreadable form", "The form's body could not be read.")
        if not await _csrf_ok(request, cookie):
            return _refuse(request, 403, "Form check failed",
                           "The form's security token did not match (CSRF). Reload the page and try again.")
    request[CSRF_KEY] = cookie or secrets.token_urlsafe(32)
    response = await handler(request)
    if not cookie and _csrf_checked(path) and not response.prepared:
        set_cookie(response, request, CSRF_COOKIE, request[CSRF_KEY])
    return response


def setup_security(app: web.Application) -> None:
    """Login and CSRF checks for every page under /_sandbox/ (console and cashier; the admin API has its own)."""
    app.middlewares.append(protect)
