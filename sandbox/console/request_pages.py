"""The console's Requests pages: the request journal, newest first and live, and one request with everything kept
of it (raw bytes, the answer, the verdict, the signature doctor's diagnosis, a curl command that sends it again)."""
from __future__ import annotations

from aiohttp import web

from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..core import errors
from ..core.journal import VERDICTS
from . import CONSOLE
from . import journal_view as view
from .render import error_page, render

PAGE_SIZE = 50
SINCE_CHOICES = (("", "Any time"), ("5m", "Last 5 minutes"), ("1h", "Last hour"), ("1d", "Last day"),
                 ("7d", "Last 7 days"))


async def requests_page(request: web.Request) -> web.Response:
    engine, settings = request.app[ENGINE], request.app[SETTINGS]
    query = request.query
    shown = {name: query.get(name, "").strip() for name in ("merchant", "provider", "verdict", "path", "payment",
                                                            "since")}
    problems = []
    try:
        filters = view.filters(query, sorted(request.app[PROVIDERS]), engine.clock.now(), settings.display_zone)
    except errors.SandboxError as exc:
        problems.append(f"{exc.message}; showing every request.")
        filters, shown = {}, dict.fromkeys(shown, "")
    before = None
    if query.get("before", "").isdigit():
        before = int(query["before"])
    rows, total = await engine.list_requests(**filters, before=before, limit=PAGE_SIZE + 1,
                                             count_bound=view.COUNT_BOUND)
    older = rows[PAGE_SIZE - 1]["seq"] if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    template = "console/_request_rows.html" if request.headers.get("X-Fragment") else "console/requests.html"
    return render(request, template, rows=[view.summary_json(r) for r in rows], total=total,
                  total_text=view.total_text(total), filters=shown, filter_problems=problems, older=older,
                  before=before, verdicts=VERDICTS, since_choices=SINCE_CHOICES, merchants=engine.merchants(),
                  providers=sorted(request.app[PROVIDERS]), journal=engine.journal)


async def request_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    row = await engine.request_entry(request.match_info["id"])
    if row is None:
        return error_page(request, 404, "No such request",
                          f"no request {request.match_info['id']!r} in the journal (it keeps the newest "
                          f"{engine.journal.keep:,})")
    entry = view.entry_json(row)
    return render(request, "console/request.html", section="requests", r=entry,
                  request_text=view.body_text(bytes(row["request_body"]), row["request_headers"]),
                  response_text=view.body_text(bytes(row["response_body"]), row["response_headers"]),
                  curl=view.curl(row, request.app[SETTINGS].base_url))


async def raw_body(request: web.Request) -> web.Response:
    """The exact bytes kept of a request's or an answer's body, as they were (Content-Type as declared)."""
    row = await request.app[ENGINE].request_entry(request.match_info["id"])
    if row is None:
        return error_page(request, 404, "No such request", f"no request {request.match_info['id']!r}")
    part = request.match_info["part"]
    declared = next((v for k, v in row[f"{part}_headers"] if k.lower() == "content-type"), None)
    headers = {"Content-Type": declared or "application/octet-stream", "Cache-Control": "no-store",
               "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f'inline; filename="{row["id"]}-{part}.bin"',
               "Content-Security-Policy": "sandbox"}  # a kept HTML answer never runs as the console's page
    return web.Response(body=bytes(row[f"{part}_body"]), headers=headers)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/requests", requests_page)
    r.add_get(f"{CONSOLE}/requests/{{id}}", request_page)
    r.add_get(f"{CONSOLE}/requests/{{id}}/{{part:request|response}}.bin", raw_body)
