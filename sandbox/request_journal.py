"""Capture for the request journal (issue 12): a middleware that records every request to a provider or app path
(everything outside /_sandbox/), accepted or not, with the answer, the merchant and payment the adapter noted
(sandbox/access_log.py), and its verdict. Recording only queues the entry (core/journal.py writes in the background).

Bodies are kept up to BODY_CAP bytes each, with their real size. The request body is the bytes the adapter read:
aiohttp caches `request.read()`; a streamed read (chunked, multipart) goes through a tee that keeps a copy.

A request no provider serves (no route, a provider's catch-all, an unknown QuickPay action) still gets the
provider-shaped 404 it always got; its entry names the nearest real path (difflib over the registered routes).
"""
from __future__ import annotations

import asyncio
import difflib
import re
import time
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

from .access_log import JOURNAL_ID_KEY, MERCHANT_KEY, PAYMENT_KEY, VERDICT_KEY
from .appkeys import ENGINE, PROVIDERS

BODY_CAP = 64 * 1024
OWN_PREFIX = "/_sandbox/"
# resource -> the provider or app whose setup added it (filled by the app factory)
ROUTE_OWNERS = web.AppKey("journal_route_owners", dict)
_KNOWN = web.AppKey("journal_known_paths", list)
_RESOURCES = web.AppKey("journal_resources", dict)  # resource -> (owner, catch-all?, listed paths)
_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")
_WORDS = re.compile(r"[\w.-]+(\|[\w.-]+)*")


def journaled(path: str) -> bool:
    return not path.startswith(OWN_PREFIX) and path != "/"


class _Tee:
    """Stands in for the request's StreamReader and keeps (up to the cap) what a streaming read took from it."""

    def __init__(self, stream):
        self._stream = stream
        self.kept = bytearray()
        self.size = 0

    def _keep(self, data: bytes) -> bytes:
        self.size += len(data)
        room = BODY_CAP - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        return data

    async def read(self, n: int = -1) -> bytes:
        return self._keep(await self._stream.read(n))

    async def readany(self) -> bytes:
        return self._keep(await self._stream.readany())

    async def readline(self, *args, **kwargs) -> bytes:
        return self._keep(await self._stream.readline(*args, **kwargs))

    async def readuntil(self, *args, **kwargs) -> bytes:
        return self._keep(await self._stream.readuntil(*args, **kwargs))

    async def readexactly(self, n: int) -> bytes:
        return self._keep(await self._stream.readexactly(n))

    async def readchunk(self) -> tuple[bytes, bool]:
        data, end = await self._stream.readchunk()
        return self._keep(data), end

    def unread_data(self, data: bytes) -> None:  # the multipart reader gives back what it read too far
        self.size -= len(data)
        del self.kept[max(0, len(self.kept) - len(data)):]
        self._stream.unread_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@web.middleware
async def journal_middleware(request: web.Request, handler):
    journal = request.app[ENGINE].journal
    if not journal.enabled or not journaled(request.path):
        return await handler(request)
    engine = request.app[ENGINE]
    entry_id = journal.new_id()
    request[JOURNAL_ID_KEY] = entry_id
    at, real_at, started = engine.clock.now(), time.time(), time.perf_counter()
    tee = None
    if request.body_exists and (request.content_length is None or request.content_type.startswith("multipart/")):
        tee = request._payload = _Tee(request._payload)  # noqa: SLF001 - streamed reads are not cached by aiohttp
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    except web.HTTPException as exc:  # still a Response in aiohttp 3
        response = exc
        raise
    except asyncio.CancelledError:  # the client went away before the answer
        raise
    except Exception:
        response = web.Response(status=500, text="500 Internal Server Error")  # what aiohttp answers
        raise
    finally:
        journal.record(_entry(request, entry_id, at, real_at, (time.perf_counter() - started) * 1000, tee,
                              response))


def _entry(request: web.Request, entry_id: str, at: float, real_at: float, latency_ms: float, tee: _Tee | None,
           response: web.StreamResponse | None) -> dict[str, Any]:
    if request._read_bytes is not None:  # noqa: SLF001
        body, size = request._read_bytes, len(request._read_bytes)  # noqa: SLF001
    elif tee is not None:
        body, size = bytes(tee.kept), tee.size
    else:  # the adapter did not read it (refused before): its declared size
        body, size = b"", request.content_length or 0
    status = response.status if response is not None else None
    answer = response.body if isinstance(response, web.Response) else None
    answer = bytes(answer) if isinstance(answer, (bytes, bytearray, memoryview)) else b""
    response_headers = [[k, v] for k, v in response.headers.items()] if response is not None else []
    if answer and "Content-Length" not in response.headers:
        response_headers.append(["Content-Length", str(len(answer))])
    note = request.get(VERDICT_KEY)
    owner, suggestion = _owner_and_suggestion(request)
    if note is not None:
        verdict, code, reason, rule_id, diagnosis = (note["verdict"], note.get("code"), note.get("reason"),
                                                     note.get("rule_id"), note.get("diagnosis"))
    elif status is None:
        verdict, code, reason, rule_id, diagnosis = "rejected", None, "the client went away before the answer", \
            None, None
    elif status >= 400:
        verdict, code, rule_id, diagnosis = "rejected", str(status), None, None
        reason = response.reason if response is not None else None
    else:
        verdict, code, reason, rule_id, diagnosis = "accepted", None, None, None, None
    return {
        "id": entry_id, "at": at, "real_at": real_at, "method": request.method, "path": request.path,
        "query": request.query_string, "provider": owner,
        "request_headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
        "request_body": body[:BODY_CAP], "request_size": size,
        "status": status, "response_headers": response_headers,
        "response_body": answer[:BODY_CAP], "response_size": len(answer),
        "latency_ms": round(latency_ms, 3), "merchant_id": request.get(MERCHANT_KEY),
        "payment_id": request.get(PAYMENT_KEY), "verdict": verdict, "code": code, "reason": reason,
        "rule_id": rule_id, "diagnosis": diagnosis, "suggestion": suggestion,
    }


# ----- which provider, and the nearest real path ---------------------------------------------------------------

def _owner_and_suggestion(request: web.Request) -> tuple[str | None, str | None]:
    owners = request.app.get(ROUTE_OWNERS, {})
    match = request.match_info
    resource = match.route.resource if match.http_exception is None else None
    owner = None
    if resource is not None:
        described = request.app[_RESOURCES].get(resource)
        if described is None:  # once per route: the hot path only looks it up
            owner = owners.get(resource)
            described = request.app[_RESOURCES][resource] = (owner, _catch_all(resource),
                                                              _provider_paths(request, owner))
        owner, catch_all, known = described
        if not catch_all and (known is None or request.path.lower() in known):
            return owner, None  # a real path (its own 404s are about records, not paths)
    if match.http_exception is not None and match.http_exception.status == 405:
        # the path exists, the method does not (aiohttp's 405 lists the allowed ones): whose path it is
        return next((o for r, o in owners.items() if r._match(request.path) is not None), None), None  # noqa: SLF001
    return _suggest(request, owner)


def _provider_paths(request: web.Request, owner: str | None) -> set[str] | None:
    """The paths a provider with a catch-all action route lists (QuickPay's actions), lower case; None: no list."""
    provider = request.app[PROVIDERS].get(owner) if owner else None
    paths = getattr(provider, "known_paths", None)
    return {p.lower() for p in paths} if paths else None


def _suggest(request: web.Request, owner: str | None) -> tuple[str | None, str | None]:
    known = _known_paths(request.app)
    paths = list(dict.fromkeys(path for path, _, _ in known))
    best = difflib.get_close_matches(request.path, paths, n=1, cutoff=0.5) or \
        difflib.get_close_matches(request.path.lower(), paths, n=1, cutoff=0.5)
    if not best:
        return owner, None
    methods = sorted({m for path, m, _ in known if path == best[0] and m not in ("*", "HEAD")})
    best_owner = next((o for path, _, o in known if path == best[0]), None)
    if owner is None and best_owner and _first_segment(best[0]) == _first_segment(request.path).lower():
        owner = best_owner
    return owner, (" ".join(methods) + " " if methods else "") + best[0]


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0].lower()


def _known_paths(app: web.Application) -> list[tuple[str, str, str | None]]:
    """(path, method, owner) of every real provider or app path, variables with a fixed set of values expanded."""
    if app[_KNOWN]:
        return app[_KNOWN]
    owners = app.get(ROUTE_OWNERS, {})
    known: list[tuple[str, str, str | None]] = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or not journaled(resource.canonical) or _catch_all(resource):
            continue
        for path in _expanded(resource):
            known.append((path, route.method, owners.get(resource)))
    for name, provider in app[PROVIDERS].items():
        for path in getattr(provider, "known_paths", None) or ():
            known.append((path, "POST", name))
    known = [(p, m, o) for p, m, o in known if "{" not in p or not _provider_paths_listed(app, o)]
    app[_KNOWN].extend(known)  # routes are fixed once the app runs: computed once, on the first miss
    return known


def _provider_paths_listed(app: web.Application, owner: str | None) -> bool:
    return bool(owner and getattr(app[PROVIDERS].get(owner), "known_paths", None))


def _variables(resource: AbstractResource) -> dict[str, str]:
    """A dynamic resource's variables and their regular expressions ({} for a plain path)."""
    pattern = resource.get_info().get("pattern")
    return dict(_GROUP.findall(pattern.pattern)) if pattern is not None else {}


def _catch_all(resource: AbstractResource) -> bool:
    """A route that takes every path under a prefix (/v3/{tail:.*}): the provider's own not-found answer."""
    return ".*" in _variables(resource).values()


def _expanded(resource: AbstractResource) -> list[str]:
    """/v3/pay/transactions/{kind:jsapi|app} → both paths; other variables stay as {name}."""
    paths = [resource.canonical]
    for name, regex in _variables(resource).items():
        if _WORDS.fullmatch(regex):
            paths = [p.replace("{" + name + "}", choice) for p in paths for choice in regex.split("|")]
    return paths


def setup_journal(app: web.Application) -> None:
    """After the access log's middleware (which makes the request reachable from the adapters' notes)."""
    app[_KNOWN], app[_RESOURCES] = [], {}
    app.middlewares.insert(1, journal_middleware)
