"""The rules page: every rule in order (what it matches and what it does, in plain words), add one, delete.

The form is read into the same Rule model the admin API validates (POST /_sandbox/api/rules) and handed to the same
engine functions; a model error is shown as the page's flash message, with what was typed kept in the form.
"""
from __future__ import annotations


from aiohttp import web
from pydantic import ValidationError

from ..appkeys import ENGINE, PROVIDERS
from ..core import errors
from ..core.rules import OPERATIONS, Rule
from ..money import fen_to_yuan, yuan_to_fen
from . import CONSOLE, forms
from .clock_pages import describe as duration
from .render import provider_titles, redirect, render

OUTCOMES = ("succeed", "fail", "close", "pending")
NOTIFY = ("normal", "delay", "drop", "duplicate")
REFUND = ("succeed", "processing")


def describe_match(rule: Rule, provider_titles: dict[str, str] | None = None) -> str:
    """'amount ¥4.04', 'WeChat Pay, merchant demo-wechat, trade type NATIVE' … or 'every payment'."""
    m, titles = rule.match, provider_titles or {}
    parts = []
    if m.provider is not None:
        parts.append(titles.get(m.provider, m.provider))
    if m.merchant_id is not None:
        parts.append(f"merchant {m.merchant_id}")
    if m.amount is not None:
        parts.append(f"amount ¥{fen_to_yuan(m.amount)}")
    if m.trade_type is not None:
        parts.append(f"trade type {m.trade_type}")
    if m.out_trade_no_pattern is not None:
        parts.append(f"out_trade_no matching /{m.out_trade_no_pattern}/")
    if m.operation is not None:
        parts.append(f"{m.operation} calls")
    elif rule.action.injects_fault:
        parts.append("every call")
    return ", ".join(parts) or "every payment"


def describe_action(rule: Rule) -> str:
    """'fail after 5 s: insufficient balance; notify 10 min late; refunds stay PROCESSING' … or 'nothing special'."""
    a = rule.action
    parts = []
    if a.outcome is not None:
        if a.outcome == "pending":
            text = "stay pending"
        else:
            text = a.outcome + (f" after {duration(a.after_s)}" if a.after_s else " at once")
        if a.reason:
            text += f": {a.reason}"
        parts.append(text)
    if a.notify == "drop":
        parts.append("notify never sent")
    elif a.notify == "duplicate":
        parts.append("notify sent twice")
    elif a.notify == "delay":
        parts.append(f"notify {duration(a.notify_delay_s)} late")
    if a.refund == "processing":
        parts.append("refunds stay PROCESSING until settled")
    if a.injects_fault:
        fault = " and ".join(([f"answer {duration(a.api_delay_s)} late"] if a.api_delay_s else [])
                             + (["drop the connection"] if a.api_drop else
                                ["answer the provider's system error"] if a.api_error else []))
        times = f"the first {a.api_times} call{'s' * (a.api_times != 1)}" if a.api_times else "every call"
        parts.append(f"{fault}, {times} ({rule.hits} so far)")
    return "; ".join(parts) or "nothing special (as without a rule)"


def described(rule: Rule, provider_titles: dict[str, str] | None = None) -> dict:
    return {"id": rule.id, "name": rule.name, "match": describe_match(rule, provider_titles),
            "action": describe_action(rule), "rule": rule.model_dump()}


def described_dump(dump, provider_titles: dict[str, str] | None = None) -> dict | None:
    """A rule as stored on a payment (payment.extra["rule"]), described; None when there is none or it is unreadable."""
    if not isinstance(dump, dict):
        return None
    try:
        return described(Rule.model_validate(dump), provider_titles)
    except ValidationError:
        return None


def _page(request: web.Request, status: int = 200, values: dict | None = None, error: str | None = None):
    engine = request.app[ENGINE]
    titles = provider_titles(request)
    extra = {"flash": {"level": "error", "message": error}} if error else {}
    return render(request, "console/rules.html", status=status, section="rules",
                  rules=[described(r, titles) for r in engine.rules()], values=values or {},
                  providers=sorted(request.app[PROVIDERS]), merchants=engine.merchants(), units=list(forms.UNITS),
                  outcomes=OUTCOMES, notify_modes=NOTIFY, refund_modes=REFUND, operations=OPERATIONS, **extra)


async def rules_page(request: web.Request) -> web.Response:
    return _page(request)


def _seconds(fields: dict, name: str):
    """The number times its unit; what does not parse goes to the model as typed, so that the model says why."""
    raw = fields.get(name)
    if not raw:
        return None
    try:
        return float(raw) * forms.UNITS.get(fields.get(f"{name}_unit", "s"), 1)
    except ValueError:
        return raw


def rule_from_form(fields: dict) -> Rule:
    """The Rule the form describes (empty fields are left out). Raises InvalidInput or ValidationError."""
    match: dict = {key: fields[key] for key in ("provider", "merchant_id", "out_trade_no_pattern", "trade_type",
                                                "operation") if fields.get(key)}
    if fields.get("amount"):
        try:
            match["amount"] = yuan_to_fen(fields["amount"])
        except ValueError:
            raise errors.InvalidInput(f"match.amount must be in yuan with at most two decimals (like 4.04), "
                                      f"not {fields['amount']!r}") from None
    action: dict = {key: fields[key] for key in ("outcome", "reason", "notify", "refund") if fields.get(key)}
    for key in ("after_s", "notify_delay_s", "api_delay_s"):
        value = _seconds(fields, key)
        if value is not None:
            action[key] = value
    for key in ("api_error", "api_drop"):
        if fields.get(key) == "yes":
            action[key] = True
    if fields.get("api_times"):
        action["api_times"] = fields["api_times"]  # the model says why when it is not a whole number
    rule = {"name": fields.get("name", ""), "match": match, "action": action}
    if fields.get("id"):
        rule["id"] = fields["id"]
    return Rule.model_validate(rule)


async def add_rule(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    fields = await forms.form(request)
    try:
        forms.text(fields, "name", 200)
        forms.text(fields, "id", 64)
        forms.text(fields, "reason", 256)
        rule = await engine.add_rule(rule_from_form(fields))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rule"
        return _page(request, 400, fields, f"{where}: {first['msg']}")
    except errors.SandboxError as exc:
        return _page(request, 400, fields, exc.message)
    described = f"{describe_match(rule, provider_titles(request))} → {describe_action(rule)}"
    return redirect(request, f"{CONSOLE}/rules", f"Rule {rule.name or rule.id} added: {described}")


async def delete_rule(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    fields = await forms.form(request)
    rule_id = fields.get("id", "")
    rule = next((r for r in engine.rules() if r.id == rule_id), None)
    try:
        await engine.delete_rule(rule_id)
    except errors.SandboxError as exc:
        return redirect(request, f"{CONSOLE}/rules", exc.message, "error")
    return redirect(request, f"{CONSOLE}/rules", f"Rule {(rule.name if rule else '') or rule_id} deleted")


async def delete_all_rules(request: web.Request) -> web.Response:
    fields = await forms.form(request)
    if fields.get("confirm") != "yes":
        return redirect(request, f"{CONSOLE}/rules", "Tick the box to confirm deleting every rule", "error")
    deleted = await request.app[ENGINE].delete_rules()
    return redirect(request, f"{CONSOLE}/rules", f"{deleted} rule{'s' * (deleted != 1)} deleted")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/rules", rules_page)
    r.add_post(f"{CONSOLE}/rules", add_rule)
    r.add_post(f"{CONSOLE}/rules/delete", delete_rule)
    r.add_post(f"{CONSOLE}/rules/delete-all", delete_all_rules)
