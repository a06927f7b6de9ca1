"""Protection for shared deployments: the optional admin token (login page + HttpOnly cookie) and CSRF checks.

CSRF is a double submit: a random per-browser token lives in an HttpOnly, SameSite=Strict cookie and every form
carries it in a hidden field; an unsafe request whose field (or X-CSRF-Token header) does not match is refused
with 403. The admin token itself never goes in the cookie: signing in starts a server-side session
(sessions.py: a random id in the cookie, its hash and expiry in the settings table) that ends after 12 hours or at
sign-out. The cookie is Secure when the request came over TLS or --public-url is https (a TLS proxy in front).
"""
from __future__ import annotations

import hmac
import secrets
import urllib.parse

from aiohttp import web

from ..appkeys import ENGINE, SETTINGS
from . import CONSOLE
from .sessions import SESSION_TTL_S, SESSIONS, THROTTLE, Sessions, Throttle

SESSION_COOKIE = "sandbox_session"
CSRF_COOKIE = "sandbox_csrf"
CSRF_FIELD = "csrf_token"
# request[CSRF_KEY]: the token to put in forms (a typed key where aiohttp has them, 3.12+)
CSRF_KEY = web.RequestKey("csrf_token", str) if hasattr(web, "RequestKey") else "csrf_token"
# Paths under /_sandbox/ that are not console pages: the admin API checks its own Bearer token, the cashier is for
# payers, static files are public, and the login page is how one gets in.
PUBLIC_PREFIXES = (f"{CONSOLE}/api/", f"{CONSOLE}/static/", f"{CONSOLE}/pay/", f"{CONSOLE}/login")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_ok(request: web.Request, token: str) -> bool:
    """`Authorization: Bearer <token>`, the scheme required (a bare token is refused), compared in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def is_logged_in(request: web.Request) -> bool:
    token = request.app[SETTINGS].admin_token
    if not token:
        return True
    if bearer_ok(request, token):
        return True
    return await request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE))


def secure_cookies(request: web.Request) -> bool:
    """TLS to us, or a public URL that is https (TLS ends at a proxy in front of the sandbox)."""
    public_url = request.app[SETTINGS].public_url or ""
    return request.secure or public_url.lower().startswith("https://")


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, **extra) -> None:
    response.set_cookie(name, value, path=f"{CONSOLE}/", httponly=True, samesite="Strict",
                        secure=secure_cookies(request), **extra)


def set_session_cookie(response: web.StreamResponse, request: web.Request, session_id: str) -> None:
    set_cookie(response, request, SESSION_COOKIE, session_id, max_age=SESSION_TTL_S)


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
    if _needs_login(path) and not await is_logged_in(request):
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
    app[SESSIONS] = Sessions(app[ENGINE].db)
    app[THROTTLE] = Throttle()
    app.middlewares.append(protect)
