"""Alipay (OpenAPI gateway, RSA2): routes, the request pipeline, error mapping, the cashier's return redirect.

State lives in core; this adapter parses, verifies, asks the engine, and signs what goes back.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from ... import jsonbody
from ...access_log import note_payment, note_rejected
from ...core import errors
from ..notify_url import ALIPAY_MAX
from ..notify_url import problem as notify_url_problem
from ...core.engine import Engine
from ...core.models import Merchant, Payment
from ...core.rules import ApiCall
from ...settings import Settings
from ..base import injected_fault, logged_request, validation_problems
from . import credentials as alipay_credentials
from . import signing, wire
from .channel import AlipayChannel
from .gateway import PAGE_METHODS, Call, Rejected, api_response, biz_content, check, error_page, read_params, \
    rejected_response
from .methods import METHOD_OPERATIONS, TradeMethods, map_engine_error
from .models import PayBiz, fen

log = logging.getLogger(__name__)


class AppPayBody(BaseModel):
    order_string: str = Field(min_length=1, max_length=64 * 1024)


class AlipayProvider:
    name = wire.PROVIDER
    title = "Alipay"

    def __init__(self):
        self.channel = AlipayChannel()
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.methods: TradeMethods | None = None

    # ----- Provider protocol ---------------------------------------------------------------------------------

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.methods = TradeMethods(engine, settings)
        app.router.add_route("GET", "/gateway.do", self.handle)
        app.router.add_route("POST", "/gateway.do", self.handle)

    def new_credentials(self, app_id: str | None = None) -> dict[str, Any]:
        if app_id is not None and not (app_id.isdigit() and 8 <= len(app_id) <= 32):
            raise ValueError("app_id must be 8-32 digits (real ones are 16, starting 2021)")
        return alipay_credentials.new_credentials(app_id)

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        return alipay_credentials.lookup_keys(credentials)

    def after_payment_url(self, payment: Payment, merchant: Merchant) -> str | None:
        """The payer's browser after a paid page/wap trade: return_url with the signed synchronous parameters."""
        return_url = payment.extra.get("return_url")
        method = payment.extra.get("method")
        if not return_url or method not in PAGE_METHODS or not payment.was_paid:
            return None
        creds = merchant.for_provider(self.name)
        params = signing.return_url_params(
            pay_method=method, app_id=creds["app_id"], out_trade_no=payment.out_trade_no,
            trade_no=payment.provider_trade_no, total_amount=wire.yuan(payment.amount),
            seller_id=payment.extra.get("seller_id") or creds["seller_id"],
            timestamp=wire.china_time(self.engine.clock.now()),
            alipay_private_key_pem=creds["alipay_private_key_pem"], charset=payment.extra.get("charset") or "utf-8")
        return signing.return_redirect_url(return_url, params)

    # ----- /gateway.do ---------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            params = await read_params(request)
            # RSA verify and sign run on the loop: in threads they cost ~15% more CPU and doubled p99 (wrk, 2 cores)
            call = check(params, self.engine, self.methods.table)
        except Rejected as exc:
            note_rejected(exc.error.sub_code, exc.error.sub_msg)
            return rejected_response(exc)
        response = await self.answer(call, request)
        if call.payment_id is not None:  # the trade's timeline shows every call made about it
            note_payment(call.payment_id)
            await self.engine.log_api_call(call.payment_id, call.method, _logged_request(call.params),
                                           _logged_response(response, call.charset))
        return response

    async def answer(self, call: Call, request: web.Request) -> web.StreamResponse:
        """A verified call's signed answer (an error page for page/wap pay)."""
        error = await self.run(call, request)
        if isinstance(error, web.StreamResponse):
            return error
        note_rejected(error.sub_code, error.sub_msg)
        if call.method in PAGE_METHODS:
            return error_page(error)
        return api_response(call.method, error.payload(), call.merchant, call.charset)

    async def run(self, call: Call, request: web.Request) -> web.StreamResponse | wire.AlipayError:
        """Run a verified call: its response, or the error to answer with."""
        model, handler = self.methods.table[call.method]
        try:
            _check_notify_url(call)
            biz = _validated_biz(model, call)
            if await injected_fault(self.engine, request, lambda: _api_call(call, biz)):
                return wire.system_error("系统繁忙 (fault injected by a sandbox rule)")
            result = await handler(call, biz)
        except wire.AlipayError as exc:
            return exc
        except ValidationError as exc:
            return wire.invalid_parameter(validation_problems(exc, "biz_content"))
        except errors.SandboxError as exc:
            return map_engine_error(exc)
        except Exception:  # never a traceback on the wire: the real gateway's own "system busy"
            log.exception("alipay %s failed", call.method)
            return wire.system_error()
        if isinstance(result, web.StreamResponse):
            return result
        return api_response(call.method, result, call.merchant, call.charset)

    # ----- app pay: the order string an app would hand to the Alipay app ------------------------------------

    async def open_app_order(self, body: Any) -> Payment:
        """Open the trade of {"order_string": …} (what an app hands the Alipay app), for the admin API and the
        cashier's app-pay page; errors.Refused, in the gateway's own codes, for what the gateway would refuse."""
        try:
            order_string = AppPayBody.model_validate(body).order_string
        except ValidationError:
            raise errors.Refused('expected {"order_string": "<signed app pay order string>"}', "INVALID_BODY") \
                from None
        params = signing.parse_order_string(order_string)
        try:
            call = check(params, self.engine, ("alipay.trade.app.pay",))
            _check_notify_url(call)
            return await self.methods.open_trade(call, _validated_biz(PayBiz, call))
        except Rejected as exc:
            raise errors.Refused(exc.error.sub_msg, exc.error.sub_code) from None
        except wire.AlipayError as exc:
            raise errors.Refused(exc.sub_msg, exc.sub_code, 503 if exc.code == wire.UNAVAILABLE[0] else 400) \
                from None


def _check_notify_url(call: Call) -> None:
    """The common parameter notify_url: an absolute http(s) URL of at most 256 characters, no credentials in it;
    otherwise 40002 isv.invalid-parameter (the gateway's "参数无效")."""
    url = call.params.get("notify_url")
    found = notify_url_problem(url, max_length=ALIPAY_MAX) if url else None
    if found is not None:
        raise wire.AlipayError(wire.INVALID, "isv.invalid-parameter", f"参数无效: notify_url {found}")


def _validated_biz(model: type[BaseModel], call: Call) -> BaseModel:
    """The call's biz_content as `model`, or the gateway's invalid-parameter answer naming what does not fit."""
    try:
        return model.model_validate(biz_content(call))
    except ValidationError as exc:
        raise wire.invalid_parameter(validation_problems(exc, "biz_content")) from None


def _api_call(call: Call, biz: BaseModel) -> ApiCall:
    """What fault rules match a gateway call by; an amount only for creates, and only when it parses."""
    operation = METHOD_OPERATIONS[call.method]
    amount = None
    if operation == "create":
        try:
            amount = fen(biz.total_amount, "total_amount")
        except ValueError:
            pass
    return ApiCall(wire.PROVIDER, call.merchant.id, operation, getattr(biz, "out_trade_no", None), amount)


def _logged_request(params: dict[str, str]) -> dict:
    """The request's parameters without `sign`, biz_content parsed when it is JSON."""
    logged = logged_request(params)
    try:
        logged["biz_content"] = jsonbody.loads(logged["biz_content"])
    except (KeyError, ValueError):
        pass
    return logged


def _logged_response(response: web.StreamResponse, charset: str) -> Any:
    """The JSON answered (with its sign), a redirect's Location, or a page's text."""
    if response.status in (301, 302):
        return {"status": response.status, "location": response.headers.get("Location")}
    body = getattr(response, "body", None) or b""
    text = body.decode(response.charset or charset, "replace") if isinstance(body, bytes) else str(body)
    if response.content_type == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


PROVIDER = AlipayProvider
