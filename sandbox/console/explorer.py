"""The admin API's front door: an index at /_sandbox/api/ and an API explorer (Swagger UI) at /_sandbox/api/docs.

Swagger UI comes from the swagger-ui-py package (its static files only, served from where pip put them: no CDN, works
offline). It reads /_sandbox/api/openapi.json. These pages describe the API and hold no data, so they need no admin
token (the calls made from the explorer do: its Authorize button takes the token)."""
from __future__ import annotations

import html
import importlib.util
from pathlib import Path

from aiohttp import web

from . import CONSOLE
from .openapi import openapi_document

API = f"{CONSOLE}/api"
DOCS = f"{API}/docs"
ASSETS = f"{DOCS}/assets"
OPENAPI = f"{API}/openapi.json"
PUBLIC_PATHS = frozenset({API, f"{API}/", f"{API}/health", OPENAPI, DOCS})


def is_public(path: str) -> bool:
    """Admin API paths that answer without the admin token."""
    return path in PUBLIC_PATHS or path.startswith(f"{ASSETS}/")


def swagger_ui_static() -> Path | None:
    """Swagger UI's dist folder inside the installed swagger-ui-py package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if (static / "swagger-ui-bundle.js").is_file() else None


async def index(request: web.Request) -> web.Response:
    """What is here: every resource of the admin API (from the OpenAPI document), and where to explore it."""
    document = openapi_document()
    resources = [{"path": f"{API}{path}", "methods": sorted(m.upper() for m in operations if m != "parameters"),
                  "summary": next((op.get("summary", "") for m, op in operations.items() if m != "parameters"), "")}
                 for path, operations in document["paths"].items()]
    return web.json_response({
        "name": document["info"]["title"],
        "explorer": DOCS,
        "openapi": OPENAPI,
        "console": f"{CONSOLE}/",
        "auth": "with --admin-token, every call needs Authorization: Bearer <token>, but for health and this "
                "description (this index, the explorer, openapi.json)",
        "resources": resources,
    })


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Admin API · Payment Sandbox</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <p style="font-family: sans-serif; margin: 1em 2em"><a href="{console}/">← Payment Sandbox console</a></p>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "{openapi}", dom_id: "#swagger-ui", deepLinking: true}});
  </script>
</body>
</html>
"""


async def docs(request: web.Request) -> web.Response:
    if swagger_ui_static() is None:
        return web.Response(status=503, content_type="text/html", text=(
            "<p>The API explorer needs the swagger-ui-py package (a dependency of payment-sandbox): "
            f"<code>pip install swagger-ui-py</code>. The OpenAPI document is at <a href=\"{OPENAPI}\">{OPENAPI}</a>.</p>"))
    page = PAGE.format(assets=ASSETS, console=CONSOLE, openapi=html.escape(OPENAPI))
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def setup_explorer(app: web.Application) -> None:
    """Before the admin API's routes: its catch-all answers NOT_FOUND for everything else under /_sandbox/api/."""
    r = app.router
    r.add_get(API, index)
    r.add_get(f"{API}/", index)
    r.add_get(DOCS, docs)
    static = swagger_ui_static()
    if static is not None:
        r.add_static(ASSETS, static, name="swagger-ui")
