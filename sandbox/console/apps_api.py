"""The admin API of the merchant apps (hmall, partner, shop): their records (users, orders, gift packs, coupons,
addresses, tokens), their users' accounts (balances, points) with the ledger, and each app's own actions.

An app may shape its records itself: `admin_put(merchant, kind, id, data)` (validates, hashes a password, opens the
accounts of a new user) and `admin_action(merchant, action, body)` (issue a login token …)."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from .. import jsonbody
from ..appkeys import ENGINE, PROVIDERS
from ..core import errors
from ..core.app_data import AppRecord
from ..core.ledger import Account, LedgerEntry

API = "/_sandbox/api"


class PutBody(BaseModel):
    merchant_id: str | None = None
    data: dict[str, Any]


class PatchBody(BaseModel):
    merchant_id: str | None = None
    data: dict[str, Any] = Field(min_length=1)


class AdjustBody(BaseModel):
    amount: int = Field(ge=-10 ** 12, le=10 ** 12)
    memo: str | None = Field(default=None, max_length=256)


def _apps(request: web.Request) -> dict[str, Any]:
    return {name: p for name, p in request.app[PROVIDERS].items() if _is_app(p)}


def _is_app(provider) -> bool:
    return hasattr(provider, "load_demo_data")


def _app(request: web.Request):
    name = request.match_info["app"]
    app = _apps(request).get(name)
    if app is None:
        raise errors.NotFound(f"no app {name!r}; apps: {sorted(_apps(request))}")
    return app


def _merchant(request: web.Request, app, merchant_id: str | None = None):
    """The merchant named (?merchant= or the body's merchant_id), or the first one serving this app."""
    engine = request.app[ENGINE]
    merchant_id = merchant_id or request.query.get("merchant")
    if merchant_id:
        merchant = engine.merchant(merchant_id)
        if app.name not in merchant.credentials:
            raise errors.InvalidInput(f"merchant {merchant_id!r} has no {app.name} credentials")
        return merchant
    for merchant in engine.merchants():
        if app.name in merchant.credentials:
            return merchant
    raise errors.NotFound(f"no merchant serves {app.name}")


async def _json(request: web.Request, model: type[BaseModel]):
    raw = await request.read()
    try:
        data = jsonbody.loads(raw) if raw.strip() else {}
    except jsonbody.BodyError as exc:
        raise errors.InvalidInput(str(exc)) from None
    if not isinstance(data, dict):
        raise errors.InvalidInput("the body must be a JSON object")
    return model.model_validate(data)


def record_json(record: AppRecord) -> dict[str, Any]:
    return record.model_dump()


def account_json(account: Account) -> dict[str, Any]:
    return {**account.model_dump(), "available": account.available}


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return entry.model_dump()


# ----- handlers ----------------------------------------------------------------------------------------------

async def list_apps(request):
    engine = request.app[ENGINE]
    return web.json_response({"apps": [
        {"app": name, "title": app.title, "paths": getattr(app, "paths", ""),
         "merchants": [m.id for m in engine.merchants() if name in m.credentials]}
        for name, app in _apps(request).items()]})


async def list_records(request):
    app = _app(request)
    merchant = _merchant(request, app)
    records = await request.app[ENGINE].app_records(app.name, request.match_info["kind"], merchant.id)
    return web.json_response({"merchant_id": merchant.id, "records": [record_json(r) for r in records]})


async def get_record(request):
    app = _app(request)
    merchant = _merchant(request, app)
    engine, kind, record_id = request.app[ENGINE], request.match_info["kind"], request.match_info["id"]
    record = await engine.app_record(merchant.id, kind, record_id)
    if record is None:
        raise errors.NotFound(f"no {app.name} {kind} {record_id!r}")
    out = record_json(record)
    if kind == "user":
        out["accounts"] = [account_json(a) for a in await engine.accounts(merchant.id, owner=record_id)]
    return web.json_response(out)


async def put_record(request):
    """Create or replace a record: the app's admin_put when it shapes its records itself, else a plain put."""
    return await _write_record(request, PutBody, "admin_put", lambda engine, merchant, app, kind, record_id, data:
                               engine.put_app_record(merchant.id, app.name, kind, record_id, data))


async def patch_record(request):
    """Change some fields of a record: the app's admin_patch when it has one, else a plain update."""
    return await _write_record(request, PatchBody, "admin_patch", lambda engine, merchant, app, kind, record_id, data:
                               engine.update_app_record(merchant.id, kind, record_id, data))


async def _write_record(request, model: type[BaseModel], hook: str, plain):
    app = _app(request)
    body = await _json(request, model)
    merchant = _merchant(request, app, body.merchant_id)
    kind, record_id = request.match_info["kind"], request.match_info["id"]
    app_hook = getattr(app, hook, None)
    if app_hook is not None:
        record = await app_hook(merchant, kind, record_id, body.data)
    else:
        record = await plain(request.app[ENGINE], merchant, app, kind, record_id, body.data)
    return web.json_response(record_json(record))


async def app_action(request):
    app = _app(request)
    action = request.match_info["action"]
    admin_action = getattr(app, "admin_action", None)
    raw = await request.read()
    try:
        body = jsonbody.loads(raw) if raw.strip() else {}
    except jsonbody.BodyError as exc:
        raise errors.InvalidInput(str(exc)) from None
    if not isinstance(body, dict):
        raise errors.InvalidInput("the body must be a JSON object")
    if admin_action is None:
        raise errors.NotFound(f"{app.name} has no actions")
    merchant = _merchant(request, app, body.get("merchant_id"))
    return web.json_response(await admin_action(merchant, action, body))


async def list_accounts(request):
    engine = request.app[ENGINE]
    merchant_id = request.query.get("merchant")
    if not merchant_id:
        raise errors.InvalidInput("?merchant= is required")
    engine.merchant(merchant_id)
    accounts = await engine.accounts(merchant_id, owner=request.query.get("owner"))
    return web.json_response({"accounts": [account_json(a) for a in accounts]})


async def get_account(request):
    engine = request.app[ENGINE]
    account = await engine.get_account(request.match_info["id"])
    entries = await engine.account_entries(account.id)
    return web.json_response({**account_json(account), "entries": [entry_json(e) for e in entries]})


async def adjust_account(request):
    body = await _json(request, AdjustBody)
    account = await request.app[ENGINE].adjust_account(request.match_info["id"], body.amount, memo=body.memo,
                                                       actor="api")
    return web.json_response(account_json(account))


def add_app_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/apps", list_apps)
    router.add_post(f"{API}/apps/{{app}}/actions/{{action}}", app_action)
    router.add_get(f"{API}/apps/{{app}}/{{kind}}", list_records)
    router.add_get(f"{API}/apps/{{app}}/{{kind}}/{{id}}", get_record)
    router.add_put(f"{API}/apps/{{app}}/{{kind}}/{{id}}", put_record)
    router.add_patch(f"{API}/apps/{{app}}/{{kind}}/{{id}}", patch_record)
    router.add_get(f"{API}/accounts", list_accounts)
    router.add_get(f"{API}/accounts/{{id}}", get_account)
    router.add_post(f"{API}/accounts/{{id}}/adjust", adjust_account)
