"""The rules page: every rule in the order rules are tried (what it matches and what it does, in plain words, and a
warning when an earlier rule shadows it); add one, edit one, move one up or down, delete.

The form is read into the same Rule model the admin API validates (POST /_sandbox/api/rules, PUT …/rules/{id}) and
handed to the same engine functions; a model error is shown in plain words next to its field (and on top), with what
was typed kept in the form.
"""
from __future__ import annotations


from aiohttp import web
from pydantic import ValidationError

from ..appkeys import ENGINE, PROVIDERS
from ..core import errors
from ..core.rules import OPERATIONS, Rule
from ..money import fen_to_yuan, yuan_to_fen
from ..store.rows import Unstorable
from . import CONSOLE, forms
from .clock_pages import describe as duration
from .render import error_page, provider_titles, redirect, render
from .serialize import shadow_warning

OUTCOMES = ("succeed", "fail", "close", "pending")
NOTIFY = ("normal", "delay", "drop", "duplicate")
REFUND = ("succeed", "processing")
# What the form calls each field (for messages about it)
LABELS = {"name": "Name", "id": "id", "provider": "Provider", "merchant_id": "Merchant", "amount": "Amount",
          "trade_type": "Trade type", "out_trade_no_pattern": "out_trade_no pattern", "operation": "API call",
          "outcome": "Outcome", "after_s": "after", "reason": "Reason", "notify": "Notify",
          "notify_delay_s": "notify delay", "refund": "Refunds", "api_delay_s": "answer late by",
          "api_times": "for the first N calls"}


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


def _page(request: web.Request, status: int = 200, values: dict | None = None, error: str | None = None,
          field_errors: dict | None = None, editing: str | None = None):
    engine = request.app[ENGINE]
    titles = provider_titles(request)
    rules = engine.rules()
    listed = [{**described(r, titles), "position": i, "shipped": r.shipped, "warning": shadow_warning(r, rules)}
              for i, r in enumerate(rules, start=1)]
    extra = {"flash": {"level": "error", "message": error}} if error else {}
    return render(request, "console/rules.html", status=status, section="rules", rules=listed, values=values or {},
                  field_errors=field_errors or {}, editing=editing,
                  editing_position=next((r["position"] for r in listed if r["id"] == editing), None),
                  providers=sorted(request.app[PROVIDERS]), merchants=engine.merchants(), units=list(forms.UNITS),
                  outcomes=OUTCOMES, notify_modes=NOTIFY, refund_modes=REFUND, operations=OPERATIONS, **extra)


async def rules_page(request: web.Request) -> web.Response:
    return _page(request)


def _in_unit(seconds: float) -> tuple[str, str]:
    for unit in ("d", "h", "min"):
        if seconds >= forms.UNITS[unit] and seconds % forms.UNITS[unit] == 0:
            return f"{seconds / forms.UNITS[unit]:g}", unit
    return f"{seconds:g}", "s"


def form_values(rule: Rule) -> dict[str, str]:
    """The form's fields for an existing rule (the inverse of rule_from_form)."""
    m, a = rule.match, rule.action
    values = {"name": rule.name, "id": rule.id or "", "notify": a.notify, "refund": a.refund}
    for key in ("provider", "merchant_id", "out_trade_no_pattern", "trade_type", "operation"):
        if getattr(m, key) is not None:
            values[key] = getattr(m, key)
    if m.amount is not None:
        values["amount"] = fen_to_yuan(m.amount)
    for key in ("outcome", "reason"):
        if getattr(a, key) is not None:
            values[key] = getattr(a, key)
    for key in ("after_s", "notify_delay_s", "api_delay_s"):
        if getattr(a, key):
            values[key], values[f"{key}_unit"] = _in_unit(getattr(a, key))
    for key in ("api_error", "api_drop"):
        if getattr(a, key):
            values[key] = "yes"
    if a.api_times is not None:
        values["api_times"] = str(a.api_times)
    return values


async def edit_rule_page(request: web.Request) -> web.Response:
    rule_id = request.query.get("id", "")
    try:
        rule = request.app[ENGINE].rule(rule_id)
    except errors.NotFound as exc:
        return error_page(request, 404, "No such rule", exc.message)
    return _page(request, values=form_values(rule), editing=rule.id)


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
            raise forms.FieldError("amount", f"must be in yuan with at most two decimals, like 4.04 "
                                             f"(not {fields['amount']!r})", LABELS["amount"]) from None
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


async def _save(request: web.Request, editing: str | None) -> web.Response:
    """Add a rule (editing None) or replace rule `editing`; a refusal shows the form again, as typed."""
    engine = request.app[ENGINE]
    fields = await forms.form(request)
    what = "not saved" if editing else "not added"
    try:
        for name, length in (("name", 200), ("id", 64), ("reason", 256)):
            forms.text(fields, name, length)
        if editing:
            fields["id"] = editing
            rule = await engine.update_rule(editing, rule_from_form(fields))
        else:
            rule = await engine.add_rule(rule_from_form(fields))
    except ValidationError as exc:
        problem = forms.plain_error(exc, LABELS)
        return _page(request, 400, fields, f"Rule {what}. {problem.message}", {problem.field: problem.field_message},
                     editing)
    except forms.FieldError as exc:
        return _page(request, 400, fields, f"Rule {what}. {exc.message}", {exc.field: exc.field_message}, editing)
    except errors.NotFound as exc:
        return redirect(request, f"{CONSOLE}/rules", exc.message, "error")
    except errors.SandboxError as exc:
        return _page(request, 400, fields, f"Rule {what}: {exc.message}", editing=editing)
    except Unstorable as exc:
        return _page(request, 400, fields, f"Rule {what}: {exc}", editing=editing)
    described = f"{describe_match(rule, provider_titles(request))} → {describe_action(rule)}"
    message = f"Rule {rule.name or rule.id} {'saved' if editing else 'added'}: {described}"
    warning = shadow_warning(rule, engine.rules())
    if warning:
        return redirect(request, f"{CONSOLE}/rules", f"{message}. {warning}", "warn")
    return redirect(request, f"{CONSOLE}/rules", message)


async def add_rule(request: web.Request) -> web.Response:
    return await _save(request, None)


async def edit_rule(request: web.Request) -> web.Response:
    rule_id = request.query.get("id", "")
    if not any(r.id == rule_id for r in request.app[ENGINE].rules()):
        return redirect(request, f"{CONSOLE}/rules", f"no rule {rule_id!r}", "error")
    return await _save(request, rule_id)


async def move_rule(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    fields = await forms.form(request)
    rule_id = fields.get("id", "")
    try:
        position = int(fields.get("position", ""))
    except ValueError:
        return redirect(request, f"{CONSOLE}/rules", "Say which place to move the rule to (1 is tried first)",
                        "error")
    try:
        await engine.move_rule(rule_id, position)
    except errors.SandboxError as exc:
        return redirect(request, f"{CONSOLE}/rules", exc.message, "error")
    rule = engine.rule(rule_id)
    message = f"Rule {rule.name or rule.id} moved to #{position}"
    warning = shadow_warning(rule, engine.rules())
    return redirect(request, f"{CONSOLE}/rules", f"{message}. {warning}" if warning else message,
                    "warn" if warning else "ok")


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
    r.add_get(f"{CONSOLE}/rules/edit", edit_rule_page)
    r.add_post(f"{CONSOLE}/rules/edit", edit_rule)
    r.add_post(f"{CONSOLE}/rules/move", move_rule)
    r.add_post(f"{CONSOLE}/rules/delete", delete_rule)
    r.add_post(f"{CONSOLE}/rules/delete-all", delete_all_rules)
