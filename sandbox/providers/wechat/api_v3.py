"""WeChat Pay APIv3 routes (direct and partner mode): create, query, close, refund, certificates. State lives in core."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from aiohttp import web
from pydantic import ValidationError

from ... import jsonbody
from ...access_log import note_payment, note_rejected
from ...cashier.urls import cashier_url
from ...core import errors
from ...core.models import NewPayment, Payment, PaymentStatus
from ...core.rules import ApiCall, Operation
from ..base import injected_fault, logged_request, pay_by_code
from ..notify_url import WECHAT_V3_MAX, WECHAT_V3_PATTERN, note_production, wechat_v3_problem
from . import models, v3_crypto, wire
from .v3_http import Authenticated, V3Error, authenticate, param_error, respond
from .wire import PROVIDER

TRADE_TYPES = {"jsapi": "JSAPI", "app": "APP", "h5": "H5", "native": "NATIVE", "codepay": "BARCODE"}
_KINDS = "{kind:jsapi|app|h5|native|codepay}"


def endpoint(operation: Operation | None = None):
    """Authenticate, run, and answer signed; every failure becomes the real error shape. `operation` is what fault
    rules match the call by (None: never faulted)."""
    return functools.partial(_endpoint, operation)


def _endpoint(operation: Operation | None, fn):
    @functools.wraps(fn)
    async def handler(self: "V3Api", request: web.Request) -> web.Response:
        merchant = who = None
        try:
            who = await authenticate(request, self.engine)
            merchant = who.merchant
            if operation and await injected_fault(self.engine, request, lambda: _api_call(operation, request, who)):
                raise V3Error(500, "SYSTEM_ERROR", "系统错误 (fault injected by a sandbox rule)")
            status, payload = await fn(self, request, who)
        except V3Error as exc:
            merchant = getattr(exc, "merchant", merchant)
            status, payload = exc.status, exc.body()
        except ValidationError as exc:
            error = param_error(exc)
            status, payload = error.status, error.body()
        except errors.SandboxError as exc:
            error = _engine_error(exc)
            status, payload = error.status, error.body()
        if status >= 400:
            note_rejected(payload["code"], payload["message"])
        response = respond(merchant, status, payload)
        if who is not None and who.payment_id is not None:  # the payment's timeline shows every call about it
            note_payment(who.payment_id)
            await self.engine.log_api_call(who.payment_id, f"{request.method} {request.path} → {status}",
                                           _logged_request(request, who), payload)
        return response
    return handler


class V3Api:
    def __init__(self, engine, settings):
        self.engine, self.settings = engine, settings

    def add_routes(self, app: web.Application) -> None:
        add = app.router.add_route
        for base in ("/v3/pay/transactions", "/v3/pay/partner/transactions"):
            add("POST", f"{base}/{_KINDS}", self.create)
            add("GET", f"{base}/out-trade-no/{{no}}", self.query_by_out_trade_no)
            add("GET", f"{base}/id/{{transaction_id}}", self.query_by_transaction_id)
            add("POST", f"{base}/out-trade-no/{{no}}/close", self.close)
        add("POST", "/v3/refund/domestic/refunds", self.refund)
        add("GET", "/v3/refund/domestic/refunds/{out_refund_no}", self.refund_query)
        add("GET", "/v3/certificates", self.certificates)
        add("*", "/v3/{tail:.*}", self.not_found)

    # ----- create ------------------------------------------------------------------------------------------------

    @endpoint("create")
    async def create(self, request: web.Request, who: Authenticated):
        kind, partner = request.match_info["kind"], _is_partner(request)
        body = (models.PartnerOrder if partner else models.DirectOrder).model_validate(who.json())
        creds = who.creds
        mchid, appid = (body.sp_mchid, body.sp_appid) if partner else (body.mchid, body.appid)
        _check_mchid(creds, mchid)
        if appid not in creds["appids"]:
            raise V3Error(400, "APPID_MCHID_NOT_MATCH")
        payer = _check_kind(kind, body, partner)
        now = self.engine.clock.now()
        trade_type = TRADE_TYPES[kind]
        provider_ids = {"prepay_id": wire.prepay_id(now)} if kind != "codepay" else {}
        if kind == "native":
            provider_ids.update(wire.code_url())
        sp = {"sp_appid": body.sp_appid, "sp_mchid": body.sp_mchid, "sub_mchid": body.sub_mchid,
              "sub_appid": body.sub_appid} if partner else None
        new = NewPayment(
            provider=PROVIDER, merchant_id=who.merchant.id, out_trade_no=body.out_trade_no,
            provider_trade_no=wire.transaction_id(now), amount=body.amount.total, currency=body.amount.currency,
            trade_type=trade_type, description=body.description, attach=body.attach, notify_url=body.notify_url,
            payer=payer, provider_ids=provider_ids,
            extra={"api": "v3", "appid": appid, "partner": sp, "goods_tag": body.goods_tag,
                   "scene_info": body.scene_info.model_dump(exclude_none=True) if body.scene_info else None},
            fingerprint={"trade_type": trade_type, "amount": body.amount.total, "description": body.description,
                         "appid": appid, "payer": payer, "attach": body.attach, "sub_mchid": sp and sp["sub_mchid"]},
            raw_request=who.raw.decode("utf-8"), expires_at=_expiry(body.time_expire, now, self.engine.clock),
            expires_in_s=wire.ORDER_TTL_S)
        try:
            payment, created = await self.engine.create_payment(new)
        except errors.DuplicateOrder as exc:
            who.payment_id = exc.existing.id
            raise V3Error(403, "OUT_TRADE_NO_USED", "商户订单号重复: 同一out_trade_no的参数与原订单不一致") from None
        note_payment(payment.id)
        if not created:  # a fresh order is on its timeline already (the "created" event holds the request)
            who.payment_id = payment.id
            _check_reusable(payment)
        else:
            await note_production(self.engine, payment.id, body.notify_url, "WeChat Pay", https_required=True)
        if kind == "codepay":
            return await self._codepay(payment, body.payer.auth_code, created, creds)
        if kind == "native":
            return 200, {"code_url": payment.provider_ids["code_url"]}
        if kind == "h5":
            return 200, {"h5_url": cashier_url(self.settings.base_url, payment.id)}
        return 200, {"prepay_id": payment.provider_ids["prepay_id"]}

    async def _codepay(self, payment: Payment, auth_code: str, created: bool, creds: dict):
        """Sandbox convention (as QuickPay's barcode): the code's last digits choose the outcome."""
        if created:
            payment = await pay_by_code(self.engine, payment, auth_code, actor="wechat", code_name="auth_code")
            if payment.status is PaymentStatus.FAILED:
                raise V3Error(403, "NOTENOUGH", "用户账户余额不足")
        if payment.status is PaymentStatus.PENDING:
            raise V3Error(202, "USERPAYING", "用户支付中，需要输入密码")
        return 200, wire.v3_transaction(payment, creds["mchid"])

    # ----- query and close ---------------------------------------------------------------------------------------

    @endpoint("query")
    async def query_by_out_trade_no(self, request: web.Request, who: Authenticated):
        payment = await self._order(request, who, request.match_info["no"], dict(request.query))
        return 200, wire.v3_transaction(payment, who.creds["mchid"])

    @endpoint("query")
    async def query_by_transaction_id(self, request: web.Request, who: Authenticated):
        payment = await self._order(request, who, None, dict(request.query),
                                    transaction_id=request.match_info["transaction_id"])
        return 200, wire.v3_transaction(payment, who.creds["mchid"])

    @endpoint("close")
    async def close(self, request: web.Request, who: Authenticated):
        partner = _is_partner(request)
        body = (models.PartnerClose if partner else models.DirectClose).model_validate(who.json())
        payment = await self._order(request, who, request.match_info["no"], body.model_dump())
        if payment.status is PaymentStatus.PENDING:
            await self.engine.close(payment.id, actor="wechat", reason="closed by the merchant (APIv3)")
            return 204, None
        _check_reusable(payment)
        raise V3Error(400, "ORDER_CLOSED")

    async def _order(self, request, who: Authenticated, out_trade_no: str | None, names: dict,
                     transaction_id: str | None = None) -> Payment:
        """The merchant's order, as named by the query string or body (mchid, or sp_mchid + sub_mchid)."""
        partner = _is_partner(request)
        mchid = names.get("sp_mchid" if partner else "mchid")
        if not mchid or (partner and not names.get("sub_mchid")):
            missing = "sp_mchid, sub_mchid" if partner else "mchid"
            raise V3Error(400, "PARAM_ERROR", f"缺少参数: {missing}", {"field": missing, "location": "query"})
        _check_mchid(who.creds, mchid)
        payment = await self._find(who, out_trade_no, transaction_id)
        sp = wire.partner(payment) if payment else None
        if payment is None or bool(sp) != partner or (sp and sp["sub_mchid"] != names.get("sub_mchid")):
            raise V3Error(404, "ORDER_NOT_EXIST")
        who.payment_id = payment.id
        return payment

    async def _find(self, who: Authenticated, out_trade_no: str | None, transaction_id: str | None):
        if out_trade_no is not None:
            return await self.engine.find_payment(who.merchant.id, PROVIDER, out_trade_no)
        payment = await self.engine.find_by_provider_trade_no(PROVIDER, transaction_id)
        # transaction ids exist once paid; another merchant's is simply not found
        if payment is None or payment.merchant_id != who.merchant.id or not payment.was_paid:
            return None
        return payment

    # ----- refunds -----------------------------------------------------------------------------------------------

    @endpoint("refund")
    async def refund(self, request: web.Request, who: Authenticated):
        body = models.RefundRequest.model_validate(who.json())
        _check_notify_url(body.notify_url, "退款结果回调url")
        payment = await self._find(who, body.out_trade_no if not body.transaction_id else None, body.transaction_id)
        sp = wire.partner(payment) if payment else None
        if payment is None or (sp["sub_mchid"] if sp else None) != body.sub_mchid:
            raise V3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        who.payment_id = payment.id
        if body.amount.total != payment.amount:
            raise V3Error(400, "PARAM_ERROR", "订单金额total与原订单金额不一致",
                          {"field": "amount.total", "location": "body"})
        if not payment.was_paid or payment.close_reason is not None:
            raise V3Error(403, "TRADE_ERROR", f"订单状态为{wire.trade_state(payment)}，不能退款")
        try:
            refund, _ = await self.engine.refund(
                payment.id, amount=body.amount.refund, out_refund_no=body.out_refund_no,
                provider_refund_no=wire.refund_id(self.engine.clock.now()), reason=body.reason,
                notify_url=body.notify_url, actor="wechat", extra={"api": "v3"})
        except errors.RefundExceedsPayment:
            raise V3Error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额") from None
        except errors.DuplicateRefund:
            raise V3Error(400, "INVALID_REQUEST", "out_refund_no已用于另一笔退款金额不同的退款") from None
        return 200, wire.v3_refund(await self.engine.get_payment(payment.id), refund)

    @endpoint("refund_query")
    async def refund_query(self, request: web.Request, who: Authenticated):
        refund = await self.engine.find_merchant_refund(who.merchant.id, PROVIDER,
                                                        out_refund_no=request.match_info["out_refund_no"])
        payment = await self.engine.get_payment(refund.payment_id) if refund else None
        sp = wire.partner(payment) if payment else None
        if refund is None or (sp["sub_mchid"] if sp else None) != request.query.get("sub_mchid"):
            raise V3Error(404, "RESOURCE_NOT_EXISTS")
        who.payment_id = payment.id
        return 200, wire.v3_refund(payment, refund)

    # ----- platform certificates, unknown paths ------------------------------------------------------------------

    @endpoint()
    async def certificates(self, request: web.Request, who: Authenticated):
        now = datetime.fromtimestamp(self.engine.clock.now(), timezone.utc)
        return 200, v3_crypto.certificates_payload(who.creds, now)

    @endpoint()
    async def not_found(self, request: web.Request, who: Authenticated):
        raise V3Error(404, "NOT_FOUND", f"请求的资源不存在: {request.method} {request.path}")


def _logged_request(request: web.Request, who: Authenticated):
    """What the timeline keeps of a request: its JSON body, or (GET) its query parameters."""
    if not who.raw:
        return dict(request.query)
    try:
        return logged_request(who.json())
    except V3Error:
        return who.raw.decode("utf-8", "replace")


def _is_partner(request: web.Request) -> bool:
    return request.path.startswith("/v3/pay/partner/")


def _check_mchid(creds: dict, mchid: str) -> None:
    if mchid != creds["mchid"]:
        raise V3Error(400, "INVALID_REQUEST", f"请求中的商户号{mchid}与Authorization中的商户号不一致")


def _check_kind(kind: str, body: models._Order, partner: bool) -> dict:
    """What each trade type requires beyond the common fields; returns the payer as stored."""
    payer = body.payer.model_dump(exclude_none=True, exclude={"auth_code"}) if body.payer else {}
    if kind == "jsapi" and not (payer.get("sp_openid") or payer.get("sub_openid") if partner else payer.get("openid")):
        field = "payer.sp_openid" if partner else "payer.openid"
        raise V3Error(400, "PARAM_ERROR", f"JSAPI下单缺少参数: {field}", {"field": field, "location": "body"})
    if kind == "h5" and not (body.scene_info and body.scene_info.payer_client_ip and body.scene_info.h5_info):
        raise V3Error(400, "PARAM_ERROR", "H5下单缺少参数: scene_info.payer_client_ip, scene_info.h5_info",
                      {"field": "scene_info", "location": "body"})
    if kind == "codepay":
        code = body.payer.auth_code if body.payer else None
        if not code or not wire.is_auth_code(code):
            raise V3Error(400, "PARAM_ERROR", "付款码无效: payer.auth_code须为10-15开头的18位数字",
                          {"field": "payer.auth_code", "location": "body"})
    elif body.notify_url is None:
        raise V3Error(400, "PARAM_ERROR", "缺少参数: notify_url", {"field": "notify_url", "location": "body"})
    _check_notify_url(body.notify_url, "通知地址")
    return payer


def _check_notify_url(url: str | None, name: str) -> None:
    """APIv3's own check of notify_url (its pattern refuses query parameters), in its own words; the sandbox also
    refuses a user name or password in it."""
    problem = None if url is None else wechat_v3_problem(url)
    if problem is None:
        return
    source = f"输入源“/body/notify_url”映射到值字段“{name}”"
    if problem.startswith("longer"):
        message = f"{source}字符串规则校验失败，字节数 {len(url.encode())}，大于最大值 {WECHAT_V3_MAX}"
    elif problem.startswith("must not carry a user"):
        message = f"{source}不能包含用户名或密码 (sandbox: a notify_url must not carry credentials)"
    else:
        message = f"{source}字符串规则校验失败，字符串必须匹配正则表达式“{WECHAT_V3_PATTERN}”"
    raise V3Error(400, "PARAM_ERROR", message, {"location": "body", "value": url})


def _expiry(time_expire: str | None, now: float, clock) -> float | None:
    """time_expire is the client's wall time: on the sandbox clock it is that plus the clock's offset."""
    if time_expire is None:
        return None
    try:
        when = datetime.fromisoformat(time_expire)
    except ValueError:
        raise V3Error(400, "PARAM_ERROR", "time_expire须为RFC3339格式, 如2018-06-08T10:34:56+08:00",
                      {"field": "time_expire", "location": "body"}) from None
    if when.tzinfo is None:
        raise V3Error(400, "PARAM_ERROR", "time_expire须带时区", {"field": "time_expire", "location": "body"})
    expires_at = clock.from_client(when.timestamp())
    if expires_at <= now:
        raise V3Error(400, "PARAM_ERROR", "time_expire已过期", {"field": "time_expire", "location": "body"})
    return expires_at


def _check_reusable(payment: Payment) -> None:
    """An identical create again returns the same prepay, unless the order is paid or closed by now."""
    if payment.was_paid:
        raise V3Error(400, "ORDERPAID")
    if payment.status is not PaymentStatus.PENDING:
        raise V3Error(400, "ORDER_CLOSED")


def _api_call(operation: Operation, request: web.Request, who: Authenticated) -> ApiCall:
    """What fault rules match a call by: out_trade_no from the path or body, the amount of a create."""
    body = {}
    if request.method == "POST":
        try:
            body = jsonbody.loads(who.raw)
        except ValueError:
            pass  # refused as PARAM_ERROR by the call itself
        body = body if isinstance(body, dict) else {}
    out_trade_no = request.match_info.get("no") or body.get("out_trade_no")
    amount = body.get("amount", {}).get("total") if operation == "create" and isinstance(body.get("amount"), dict) \
        else None
    return ApiCall(PROVIDER, who.merchant.id, operation, out_trade_no if isinstance(out_trade_no, str) else None,
                   amount if isinstance(amount, int) else None)


def _engine_error(exc: errors.SandboxError) -> V3Error:
    if isinstance(exc, errors.NotFound):
        return V3Error(404, "ORDER_NOT_EXIST")
    if isinstance(exc, errors.InvalidInput):
        return V3Error(400, "PARAM_ERROR", f"参数错误: {exc.message}")
    if isinstance(exc, errors.InvalidState):
        return V3Error(400, "INVALID_REQUEST", f"订单状态不允许此操作: {exc.message}")
    return V3Error(500, "SYSTEM_ERROR", "系统错误")
