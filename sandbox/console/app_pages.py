"""The console page of each merchant app (hmall, partner, shop): its users with their accounts (balances, points),
its orders with the payments that pay them, and every other kind of record it keeps, for the app's merchant.

The buttons go through the same engine and app hooks as the admin API (sandbox/console/apps_api.py): a top-up or
withdrawal is engine.adjust_account, freezing a user or setting a password is the app's admin_patch.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

from aiohttp import web

from ..appkeys import ENGINE
from ..core import errors
from . import CONSOLE, forms
from .apps_api import _apps, _merchant
from .render import error_page, redirect, render

ACTOR = "console"
# The kinds of record looked for besides users and orders (an app may name more in `record_kinds`)
OTHER_KINDS = ("gift", "coupon", "address", "token", "pay")
FIRST_COLUMNS = {"user": ("username", "phone", "real_name", "level", "status"),
                 "order": ("pay_state", "payment_id", "paid_at")}
PLURALS = {"address": "Addresses", "pay": "Pay attempts"}
HIDDEN = frozenset({"id", "password"})  # the id has its own column; a password hash is never shown
# What the app's own status codes mean (hmall: UserStatus and trade-service's order status)
LABELS: dict[str, dict[str, dict[Any, str]]] = {
    "hmall": {"user.status": {0: "frozen · 禁止使用", 1: "active · 已激活"},
              "order.status": {1: "unpaid · 未付款", 2: "paid · 已付款", 3: "shipped · 已发货",
                               4: "received · 交易成功", 5: "cancelled · 已关闭", 6: "finished · 已评价"}},
}
# The user buttons an app's admin_patch takes: freeze/unfreeze ({"status": 0|1}) and set a password
USER_ACTIONS = {"hmall": ("status", "password")}
FROZEN, ACTIVE = 0, 1


def money(amount: int, asset: str) -> str:
    """¥10,000.00 for a balance in fen, 1,500 for points."""
    if asset != "balance":
        return f"{amount:,}"
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    return f"{sign}¥{amount // 100:,}.{amount % 100:02d}"


def _columns(kind: str, records) -> list[str]:
    seen = [c for c in FIRST_COLUMNS.get(kind, ()) if kind == "order" or any(c in r.data for r in records)]
    for record in records:
        seen += [k for k in record.data if k not in HIDDEN and k not in seen]
    return seen


def _cell(app: str, kind: str, column: str, value: Any) -> dict[str, Any]:
    """How one value is shown: a payment link, a time, a labelled code, JSON or text."""
    if value is None or value == "":
        return {"type": "none"}
    if column == "payment_id":
        return {"type": "payment", "value": value}
    if column.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"type": "time", "value": value}
    if isinstance(value, (dict, list, bool)):
        return {"type": "json", "value": json.dumps(value, ensure_ascii=False)}
    label = LABELS.get(app, {}).get(f"{kind}.{column}", {}).get(value)
    if label:
        return {"type": "label", "value": value, "label": label}
    return {"type": "text", "value": value}


def _back(app: str, merchant_id: str | None, anchor: str = "") -> str:
    query = f"?merchant={urllib.parse.quote(merchant_id)}" if merchant_id else ""
    return f"{CONSOLE}/apps/{urllib.parse.quote(app)}{query}{anchor}"


async def apps_index(request: web.Request) -> web.Response:
    apps = sorted(_apps(request))
    if not apps:
        return error_page(request, 404, "No apps", "This sandbox serves no merchant apps.")
    return web.Response(status=303, headers={"Location": f"{CONSOLE}/apps/{apps[0]}"})


async def app_page(request: web.Request) -> web.Response:
    engine, name = request.app[ENGINE], request.match_info["app"]
    apps = _apps(request)
    app = apps.get(name)
    if app is None:
        return error_page(request, 404, "No such app", f"There is no app {name!r}; the apps are "
                                                       f"{', '.join(sorted(apps)) or 'none'}.")
    try:
        merchant = _merchant(request, app)
    except errors.SandboxError as exc:
        return error_page(request, 404 if isinstance(exc, errors.NotFound) else 400, "No merchant", exc.message)
    accounts = [a for a in await engine.accounts(merchant.id) if a.app == app.name]
    by_owner: dict[str, list] = {}
    for account in accounts:
        by_owner.setdefault(account.owner, []).append(account)
    users = await engine.app_records(app.name, "user", merchant.id)
    user_ids = {u.id for u in users}
    sections = []
    kinds = ["user", "order"] + [k for k in (*OTHER_KINDS, *getattr(app, "record_kinds", ())) if k not in
                                 ("user", "order")]
    for kind in dict.fromkeys(kinds):
        records = users if kind == "user" else await engine.app_records(app.name, kind, merchant.id)
        if not records and kind not in ("user", "order"):
            continue
        columns = _columns(kind, records)
        rows = [{"id": r.id, "data": r.data, "cells": [_cell(app.name, kind, c, r.data.get(c)) for c in columns],
                 "accounts": by_owner.get(r.id, []) if kind == "user" else []} for r in records]
        sections.append({"kind": kind, "title": PLURALS.get(kind, f"{kind.capitalize()}s"), "columns": columns,
                         "rows": rows})
    merchants = [m for m in engine.merchants() if app.name in m.credentials]
    return render(request, "console/app.html", app=app, apps=sorted(apps), merchant=merchant, merchants=merchants,
                  chosen=request.query.get("merchant"), sections=sections, money=money,
                  other_accounts=[a for a in accounts if a.owner not in user_ids],
                  user_actions=USER_ACTIONS.get(app.name, getattr(app, "console_user_actions", ())),
                  frozen=FROZEN, active=ACTIVE)


async def adjust(request: web.Request) -> web.Response:
    """Top up (credit) or withdraw (debit) one account of the app's merchant: engine.adjust_account."""
    engine, name, ident = request.app[ENGINE], request.match_info["app"], request.match_info["id"]
    app = _apps(request).get(name)
    if app is None:
        return error_page(request, 404, "No such app", f"There is no app {name!r}.")
    chosen = request.query.get("merchant")
    back = _back(name, chosen)
    try:
        fields = await forms.form(request)
        account = await engine.get_account(ident)
        merchant = _merchant(request, app)
        if account.app != app.name or account.merchant_id != merchant.id:
            raise errors.InvalidInput(f"account {ident} is not one of {merchant.id}'s {app.name} accounts")
        back = _back(name, chosen, f"#user-{account.owner}")
        if account.asset == "balance":
            amount = forms.fen(fields, "amount")
        else:
            raw = fields.get("amount", "")
            if not raw.isdigit() or int(raw) <= 0:
                raise errors.InvalidInput(f"the {account.asset} must be a whole number more than 0, not {raw!r}")
            amount = int(raw)
        direction = fields.get("direction")
        if direction not in ("credit", "debit"):
            raise errors.InvalidInput("choose top up or withdraw")
        account = await engine.adjust_account(ident, amount if direction == "credit" else -amount,
                                              memo=forms.text(fields, "memo"), actor=ACTOR)
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")
    user = await engine.app_record(account.merchant_id, "user", account.owner)
    called = (user.data.get("username") or user.data.get("real_name") or user.data.get("phone")) if user else None
    whose = f"user {account.owner}" + (f" ({called})" if called else "")
    verb, to = ("Topped up", "to") if direction == "credit" else ("Withdrew", "from")
    return redirect(request, back, f"{verb} {money(amount, account.asset)} {to} {whose}: "
                                   f"{account.asset} now {money(account.balance, account.asset)}")


async def user_action(request: web.Request) -> web.Response:
    """freeze | unfreeze | password: the app's admin_patch of the user, as PATCH /_sandbox/api/apps/… does."""
    engine, name = request.app[ENGINE], request.match_info["app"]
    user_id, action = request.match_info["id"], request.match_info["action"]
    app = _apps(request).get(name)
    if app is None:
        return error_page(request, 404, "No such app", f"There is no app {name!r}.")
    chosen = request.query.get("merchant")
    back = _back(name, chosen, f"#user-{user_id}")
    allowed = USER_ACTIONS.get(name, getattr(app, "console_user_actions", ()))
    try:
        fields = await forms.form(request)
        if ("password" if action == "password" else "status") not in allowed or \
                getattr(app, "admin_patch", None) is None:
            raise errors.InvalidInput(f"{name} users cannot be changed that way here")
        merchant = _merchant(request, app)
        if await engine.app_record(merchant.id, "user", user_id) is None:
            raise errors.NotFound(f"no {name} user {user_id!r}")
        if action == "password":
            password = fields.get("password", "")
            if not password:
                raise errors.InvalidInput("type the new password")
            await app.admin_patch(merchant, "user", user_id, {"password": password})
            message = f"New password set for user {user_id}"
        else:
            await app.admin_patch(merchant, "user", user_id, {"status": FROZEN if action == "freeze" else ACTIVE})
            message = f"User {user_id} {'frozen' if action == 'freeze' else 'unfrozen'}"
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")
    return redirect(request, back, message)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/apps", apps_index)
    r.add_get(f"{CONSOLE}/apps/{{app}}", app_page)
    r.add_post(f"{CONSOLE}/apps/{{app}}/accounts/{{id}}/adjust", adjust)
    r.add_post(f"{CONSOLE}/apps/{{app}}/users/{{id}}/{{action:freeze|unfreeze|password}}", user_action)
