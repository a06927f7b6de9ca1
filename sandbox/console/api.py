"""The admin JSON API under /_sandbox/api/: the same engine functions the console's buttons call."""
from __future__ import annotations

import math
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from .. import jsonbody
from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..cashier.urls import cashier_url
from ..core import errors
from ..core.ids import new_id
from ..core.models import PaymentStatus
from ..core.refunds import SETTLE_OUTCOMES
from ..core.rules import Rule
from ..event_loop import running_loop_name
from ..providers.base import InvalidOptions, fresh_credentials
from ..store.rows import Unstorable
from . import MAX_NOTIFY_DELAY_S, paging
from .apps_api import add_app_routes
from .journal_api import add_journal_routes
from .explorer import is_public
from .security import bearer_ok
from .sessions import THROTTLE, client_of, too_many
from .openapi import openapi_document
from .serialize import clock_json, merchant_json, notification_json, payment_detail_json, payment_json, rule_json

log = logging.getLogger(__name__)
API = "/_sandbox/api"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Outcome(BaseModel):
    reason: str | None = Field(default=None, max_length=256)
    notify_delay_s: float | None = Field(default=None, ge=0, le=MAX_NOTIFY_DELAY_S)


class RefundBody(BaseModel):
    amount: int | None = Field(default=None, gt=0, le=10**12)  # fen
    out_refund_no: str | None = Field(default=None, min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=256)
    hold: bool | None = None  # true: stays PROCESSING until POST /refunds/{id}/succeed|fail|close


class DeliverBody(BaseModel):
    delay_s: float = Field(default=0, ge=0, le=MAX_NOTIFY_DELAY_S)


class MoveBody(BaseModel):
    position: int = Field(ge=1, le=10**6)  # 1: tried first


class AdvanceBody(BaseModel):
    seconds: float = Field(ge=0, le=10 * 365 * 86400)
    wait: bool = False  # answer once everything due at the new time is done (payments closed, notifies attempted)
    wait_timeout_s: float = Field(default=300, gt=0, le=3600)


class MerchantBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # provider name -> options for its credentials (e.g. {"wechat": {"mode": "public-key"}, "quickpay": {}})
    providers: dict[str, dict[str, Any]] = Field(min_length=1)


def _error_json(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def api_errors(request: web.Request, handler):
    if not request.path.startswith(API):
        return await handler(request)
    token = request.app[SETTINGS].admin_token
    if token and not is_public(request.path):
        throttle, client = request.app[THROTTLE], client_of(request)
        wait = throttle.blocked(client)
        if wait is not None:
            response = _error_json(429, "TOO_MANY_FAILURES", f"too many wrong admin tokens from this client: try "
                                                             f"again in {int(wait + 0.999)} s")
            response.headers.update(too_many(wait))
            return response
        if not bearer_ok(request, token):
            if "Authorization" in request.headers:  # a wrong token is a guess; no header at all is not
                throttle.failed(client)
            return _error_json(401, "UNAUTHORIZED", "this sandbox needs its admin token: Authorization: Bearer <token>")
    try:
        return await handler(request)
    except ApiError as exc:
        return _error_json(exc.status, exc.code, exc.message)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _error_json(400, "INVALID_BODY", f"{where}: {first['msg']}")
    except errors.SandboxError as exc:
        return _error_json(exc.http_status, exc.code, exc.message)
    except Unstorable as exc:
        return _error_json(400, "INVALID_BODY", str(exc))
    except web.HTTPRequestEntityTooLarge:
        return _error_json(413, "BODY_TOO_LARGE", "request body too large")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error_json(exc.status, exc.reason.upper().replace(" ", "_"), exc.reason)
        raise


async def _body(request: web.Request, model: type[BaseModel]):
    raw = await request.read()
    if not raw.strip():
        return model.model_validate({})
    try:
        data = jsonbody.loads(raw)
    except jsonbody.BodyError as exc:
        raise ApiError(400, "INVALID_JSON", str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_JSON", "the body must be a JSON object")
    return model.model_validate(data)


def _engine(request: web.Request):
    return request.app[ENGINE]


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", f"{name} must be an integer") from None
    return max(low, min(high, value))


# ----- handlers ----------------------------------------------------------------------------------------------

async def health(request):
    engine = _engine(request)
    return web.json_response({"status": "ok", "now": engine.clock.now(), "merchants": len(engine.merchants()),
                              "event_loop": running_loop_name()})


async def openapi(request):
    return web.json_response(openapi_document())


async def list_merchants(request):
    return web.json_response({"merchants": [merchant_json(m) for m in _engine(request).merchants()]})


async def get_merchant(request):
    return web.json_response(merchant_json(_engine(request).merchant(request.match_info["id"])))


async def create_merchant(request):
    body = await _body(request, MerchantBody)
    providers = request.app[PROVIDERS]
    unknown = sorted(set(body.providers) - set(providers))
    if unknown:
        raise ApiError(400, "UNKNOWN_PROVIDER", f"unknown provider(s) {unknown}; known: {sorted(providers)}")
    try:
        credentials, keys = await fresh_credentials(providers, body.providers)
    except InvalidOptions as exc:
        raise ApiError(400, "INVALID_OPTIONS", str(exc)) from None
    merchant = await _engine(request).create_merchant(body.name, credentials, keys, merchant_id=body.id)
    return web.json_response(merchant_json(merchant), status=201)


async def list_payments(request):
    engine = _engine(request)
    status = request.query.get("status") or None
    if status and status.upper() not in PaymentStatus.__members__:
        raise ApiError(400, "INVALID_QUERY", f"unknown status {status!r}: status must be one of "
                                             f"{list(PaymentStatus.__members__)}")
    provider = request.query.get("provider") or None
    if provider and provider not in request.app[PROVIDERS]:
        raise ApiError(400, "INVALID_QUERY", f"unknown provider {provider!r}: provider must be one of "
                                             f"{sorted(request.app[PROVIDERS])}")
    limit = _int_query(request, "limit", 50, 1, 500)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    if offset > paging.MAX_OFFSET:
        raise ApiError(400, "INVALID_QUERY", f"offset is for the first {paging.MAX_OFFSET} payments; page deeper "
                                             f"with after= (the `next` of the previous page)")
    after = None
    if request.query.get("after"):
        try:
            after = paging.parse_cursor(request.query["after"])
        except ValueError as exc:
            raise ApiError(400, "INVALID_QUERY", str(exc)) from None
    since, until = _time_query(request, "since"), _time_query(request, "until")
    payments, total = await engine.list_payments(
        provider=provider, merchant_id=request.query.get("merchant") or None,
        status=status.upper() if status else None, out_trade_no=request.query.get("out_trade_no") or None,
        text=request.query.get("q") or None, since=since, until=until, after=after, limit=limit + 1,
        offset=offset, count_bound=paging.COUNT_BOUND)
    more = len(payments) > limit
    payments = payments[:limit]
    exact = total <= paging.COUNT_BOUND
    return web.json_response({"payments": [payment_json(p) for p in payments],
                              "total": total if exact else paging.COUNT_BOUND, "total_exact": exact,
                              "limit": limit, "offset": offset,
                              "next": paging.cursor(payments[-1]) if more else None})


def _time_query(request: web.Request, name: str) -> float | None:
    """since= / until=: seconds since the epoch on the sandbox clock (created_at)."""
    if not request.query.get(name):
        return None
    try:
        value = float(request.query[name])
        if not math.isfinite(value):
            raise ValueError(value)
        return value
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", f"{name} must be seconds since the epoch (sandbox clock)") from None


async def get_payment(request):
    detail = await _engine(request).payment_detail(request.match_info["id"])
    return web.json_response(payment_detail_json(detail))


async def change_payment(request):
    engine = _engine(request)
    action = request.match_info["action"]
    body = await _body(request, Outcome)
    payment_id = request.match_info["id"]
    if action == "succeed":
        await engine.succeed(payment_id, actor="admin-api", notify_delay_s=body.notify_delay_s, reason=body.reason)
    elif action == "fail":
        await engine.fail(payment_id, actor="admin-api", reason=body.reason, notify_delay_s=body.notify_delay_s)
    else:
        await engine.close(payment_id, actor="admin-api", reason=body.reason, notify_delay_s=body.notify_delay_s)
    return web.json_response(payment_detail_json(await engine.payment_detail(payment_id)))


async def refund_payment(request):
    engine = _engine(request)
    body = await _body(request, RefundBody)
    payment = await engine.get_payment(request.match_info["id"])
    refund, created = await engine.refund(
        payment.id, amount=body.amount or payment.refundable, out_refund_no=body.out_refund_no or new_id("refund"),
        provider_refund_no=new_id("rf"), reason=body.reason, actor="admin-api", hold=body.hold)
    return web.json_response(refund.model_dump(mode="json"), status=201 if created else 200)


async def get_refund(request):
    return web.json_response((await _engine(request).get_refund(request.match_info["id"])).model_dump(mode="json"))


async def settle_refund(request):
    body = await _body(request, Outcome)
    outcome = SETTLE_OUTCOMES[request.match_info["action"]]
    refund = await _engine(request).settle_refund(request.match_info["id"], outcome, actor="admin-api",
                                                  reason=body.reason)
    return web.json_response(refund.model_dump(mode="json"))


async def resend_notify(request):
    body = await _body(request, DeliverBody)
    notification = await _engine(request).resend(request.match_info["id"], delay_s=body.delay_s, actor="admin-api")
    return web.json_response(notification_json(notification), status=201)


async def list_notifications(request):
    notifications = await _engine(request).list_notifications(
        payment_id=request.query.get("payment") or None, status_=request.query.get("status") or None,
        limit=_int_query(request, "limit", 100, 1, 1000))
    return web.json_response({"notifications": [notification_json(n) for n in notifications]})


async def get_notification(request):
    return web.json_response(notification_json(await _engine(request).get_notification(request.match_info["id"])))


async def deliver_notification(request):
    body = await _body(request, DeliverBody)
    n = await _engine(request).deliver(request.match_info["id"], delay_s=body.delay_s, actor="admin-api")
    return web.json_response(notification_json(n))


async def suppress_notification(request):
    n = await _engine(request).suppress(request.match_info["id"], actor="admin-api")
    return web.json_response(notification_json(n))


async def list_rules(request):
    rules = _engine(request).rules()
    return web.json_response({"rules": [rule_json(r, rules) for r in rules]})


async def get_rule(request):
    engine = _engine(request)
    return web.json_response(rule_json(engine.rule(request.match_info["id"]), engine.rules()))


async def add_rule(request):
    engine = _engine(request)
    rule = await engine.add_rule(await _body(request, Rule))
    return web.json_response(rule_json(rule, engine.rules()), status=201)


async def update_rule(request):
    engine = _engine(request)
    rule = await engine.update_rule(request.match_info["id"], await _body(request, Rule))
    return web.json_response(rule_json(rule, engine.rules()))


async def move_rule(request):
    engine = _engine(request)
    body = await _body(request, MoveBody)
    await engine.move_rule(request.match_info["id"], body.position)
    rules = engine.rules()
    return web.json_response({**rule_json(engine.rule(request.match_info["id"]), rules),
                              "rules": [rule_json(r, rules) for r in rules]})


async def delete_rules(request):
    rule_id = request.match_info.get("id") or request.query.get("id")
    engine = _engine(request)
    if rule_id:
        await engine.delete_rule(rule_id)
        return web.json_response({"deleted": 1})
    return web.json_response({"deleted": await engine.delete_rules()})


async def get_clock(request):
    return web.json_response(clock_json(_engine(request).clock))


async def advance_clock(request):
    body = await _body(request, AdvanceBody)
    engine = _engine(request)
    await engine.advance_clock(body.seconds)
    if not body.wait:
        return web.json_response(clock_json(engine.clock))
    started = engine.clock.now()
    settled = await engine.settle_due(body.wait_timeout_s)
    if not settled:
        raise ApiError(504, "NOT_SETTLED", f"what fell due was not all done within {body.wait_timeout_s:g} s; "
                                           f"it goes on in the background")
    return web.json_response({**clock_json(engine.clock), "settled": True,
                              "settle_s": round(engine.clock.now() - started, 3)})


async def reset(request):
    return web.json_response({"deleted_payments": await _engine(request).reset()})


async def not_found(request):
    """The catch-all: 405 with Allow for a path the API has under another method (TRACE, say), else 404."""
    allowed: set[str] = set()
    catch_all = request.match_info.route.resource
    for resource in request.app.router.resources():
        if resource is not catch_all and resource.canonical.startswith(API):
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
    if allowed:
        response = _error_json(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}; "
                                                          f"allowed: {', '.join(sorted(allowed))}")
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response
    raise ApiError(404, "NOT_FOUND", f"no admin API resource at {request.method} {request.path}")


async def alipay_app_pay(request: web.Request) -> web.Response:
    """Open an app-pay order string as the Alipay app would, so a tester can pay it at the returned cashier_url."""
    alipay = request.app[PROVIDERS].get("alipay")
    if alipay is None:
        raise ApiError(404, "NOT_FOUND", "this sandbox runs no Alipay provider")
    try:
        body = jsonbody.loads(await request.read() or b"{}")
    except jsonbody.BodyError:
        body = None  # refused by open_app_order like any other malformed body
    payment = await alipay.open_app_order(body)
    return web.json_response({**payment_json(payment),
                              "cashier_url": cashier_url(request.app[SETTINGS].base_url, payment.id)})


def setup_admin_api(app: web.Application) -> None:
    app.middlewares.append(api_errors)
    r = app.router
    r.add_get(f"{API}/health", health)
    r.add_get(f"{API}/openapi.json", openapi)
    r.add_get(f"{API}/merchants", list_merchants)
    r.add_post(f"{API}/merchants", create_merchant)
    r.add_get(f"{API}/merchants/{{id}}", get_merchant)
    r.add_get(f"{API}/payments", list_payments)
    r.add_get(f"{API}/payments/{{id}}", get_payment)
    r.add_post(f"{API}/payments/{{id}}/{{action:succeed|fail|close}}", change_payment)
    r.add_post(f"{API}/payments/{{id}}/refunds", refund_payment)
    r.add_post(f"{API}/payments/{{id}}/notify", resend_notify)
    r.add_get(f"{API}/refunds/{{id}}", get_refund)
    r.add_post(f"{API}/refunds/{{id}}/{{action:succeed|fail|close}}", settle_refund)
    r.add_get(f"{API}/notifications", list_notifications)
    r.add_get(f"{API}/notifications/{{id}}", get_notification)
    r.add_post(f"{API}/notifications/{{id}}/deliver", deliver_notification)
    r.add_post(f"{API}/notifications/{{id}}/suppress", suppress_notification)
    r.add_get(f"{API}/rules", list_rules)
    r.add_post(f"{API}/rules", add_rule)
    r.add_delete(f"{API}/rules", delete_rules)
    r.add_get(f"{API}/rules/{{id}}", get_rule)
    r.add_put(f"{API}/rules/{{id}}", update_rule)
    r.add_delete(f"{API}/rules/{{id}}", delete_rules)
    r.add_post(f"{API}/rules/{{id}}/move", move_rule)
    r.add_get(f"{API}/clock", get_clock)
    r.add_post(f"{API}/clock/advance", advance_clock)
    r.add_post(f"{API}/reset", reset)
    r.add_post(f"{API}/alipay/app-pay", alipay_app_pay)
    add_app_routes(r)
    add_journal_routes(r)
    r.add_route("*", f"{API}/{{tail:.*}}", not_found)
