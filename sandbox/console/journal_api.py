"""The admin API's request journal: GET /_sandbox/api/requests?… and GET /_sandbox/api/requests/{id}, so a contract
test can assert exactly what its client sent and how the sandbox answered."""
from __future__ import annotations

from aiohttp import web

from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..core import errors
from . import journal_view as view

API = "/_sandbox/api"
MAX_LIMIT = 500


def _int(query, name: str, default: int | None, low: int, high: int) -> int | None:
    if not query.get(name):
        return default
    try:
        return max(low, min(high, int(query[name])))
    except ValueError:
        raise view.bad_query(f"{name} must be an integer") from None


async def list_requests(request: web.Request) -> web.Response:
    """Newest first, without headers and bodies: merchant, provider, verdict (accepted|rejected|faulted), path (a
    part of it), payment, since / until (epoch seconds, 15m / 2h / 1d ago, ISO 8601), limit (1-500, default 50),
    before (a `seq` from the previous page: the next older page)."""
    engine, settings = request.app[ENGINE], request.app[SETTINGS]
    filters = view.filters(request.query, sorted(request.app[PROVIDERS]), engine.clock.now(), settings.display_zone)
    limit = _int(request.query, "limit", 50, 1, MAX_LIMIT)
    before = _int(request.query, "before", None, 0, 2**62)
    await engine.journal.flushed()  # what was answered before this call is in the list
    rows, total = await engine.list_requests(**filters, before=before, limit=limit + 1, count_bound=view.COUNT_BOUND)
    older = rows[limit - 1]["seq"] if len(rows) > limit else None
    return web.json_response({
        "requests": [{**view.summary_json(r), "seq": r["seq"]} for r in rows[:limit]],
        "total": total, "total_capped": total > view.COUNT_BOUND, "limit": limit, "next_before": older,
        "journal": {"enabled": engine.journal.enabled, "keep": engine.journal.keep,
                    "dropped": engine.journal.dropped}})


async def get_request(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.journal.flushed()
    row = await engine.request_entry(request.match_info["id"])
    if row is None:
        raise errors.NotFound(f"no request {request.match_info['id']!r} in the journal")
    return web.json_response({**view.entry_json(row), "curl": view.curl(row, request.app[SETTINGS].base_url)})


def add_journal_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/requests", list_requests)
    router.add_get(f"{API}/requests/{{id}}", get_request)
