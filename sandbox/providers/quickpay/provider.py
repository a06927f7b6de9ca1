"""QuickPay (the Lianke aggregator, seed 003): routes, parsing, sign check and error mapping. State lives in core."""
from __future__ import annotations

import hmac
import json
import logging
import random
import secrets
from typing import Any, Awaitable, Callable

import segno
import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ... import jsonbody
from ...access_log import note_merchant, note_payment, note_rejected
from ...doctor import quickpay as doctor
from ...doctor import refused
from ...cashier.urls import cashier_url
from ...core import errors
from ..notify_url import QUICKPAY_MAX, note_production
from ..notify_url import problem as notify_url_problem
from ...core.engine import Engine
from ...core.models import Merchant, NewPayment, Payment
from ...core.rules import ApiCall
from ...settings import Settings
from ..base import BodyTooLarge, injected_fault, pay_by_code, read_body, validation_problems
from . import models, wire
from .channel import QuickPayChannel
from .wire import FAIL, ORDER_EXISTS, ORDER_NOT_EXIST, PARAM_ERROR, SIGN_ERROR, STORE_NOT_EXIST

log = logging.getLogger(__name__)
Answer = tuple[dict, str | None]  # (data, id of the payment whose timeline logs the call)
MAX_BODY = 64 * 1024
ORDER_TTL_S = 2 * 3600  # QuickPay convention: an unpaid order closes after 2 h


class QuickPayError(Exception):
    def __init__(self, code: str, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


class QuickPayProvider:
    name = wire.PROVIDER
    title = "QuickPay"
    # its paths as documented (any case is served): the request journal's "did you mean" picks from these
    known_paths = [f"/QuickPay/{action}" for action in
                   ("JSAPIPay", "Pay", "QRPay", "Query", "Refund", "RefundQuery", "Cancel")]

    def __init__(self):
        self.channel = QuickPayChannel()
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        # action (lower case) -> body model, handler, and the operation fault rules match it by
        self._actions: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[Answer]], str]] = {
            "jsapipay": (models.JSAPIPay, self.jsapi_pay, "create"),
            "pay": (models.BarcodePay, self.barcode_pay, "create"),
            "qrpay": (models.QRPay, self.qr_pay, "create"),
            "query": (models.OrderRef, self.query, "query"),
            "refund": (models.Refund, self.refund, "refund"),
            "refundquery": (models.RefundQuery, self.refund_query, "refund_query"),
            "cancel": (models.OrderRef, self.cancel, "cancel"),
        }

    # ----- Provider protocol ---------------------------------------------------------------------------------

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        app.router.add_route("*", "/QuickPay/{action}", self.handle)

    def new_credentials(self, store_no: str | None = None, key: str | None = None, **_: Any) -> dict[str, Any]:
        return {"store_no": store_no or f"QP{secrets.randbelow(10**8):08d}", "key": key}

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        return [credentials["store_no"]]

    # ----- wire ----------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        # The real service is ASP.NET Web API: action names match whatever their case.
        action = self._actions.get(request.match_info["action"].lower())
        if action is None:
            note_rejected(FAIL, f"no QuickPay action {request.match_info['action']!r}")
            return _reply(wire.envelope(FAIL, f"No HTTP resource was found that matches the request URI "
                                              f"'{request.path}'."), status=404)
        if request.method != "POST":
            note_rejected(FAIL, f"{request.method} instead of POST")
            return _reply(wire.envelope(FAIL, f"The requested resource does not support http method "
                                              f"'{request.method}'."), status=405)
        model, handler, operation = action
        try:
            fields = _parse_json(await read_body(request, MAX_BODY))
            body = model.model_validate(fields)
            merchant = self._merchant(body.store_no)
            self._check_sign(merchant, fields)
            if await injected_fault(self.engine, request, lambda: ApiCall(
                    self.name, merchant.id, operation, body.order_no,
                    getattr(body, "amount", None) if operation == "create" else None)):
                raise QuickPayError(FAIL, "系统繁忙，请稍后再试 (fault injected by a sandbox rule)")
            data, payment_id = await handler(body, merchant)
            answer = wire.envelope("SUCCESS", "成功", data)
            reply = _reply(answer, merchant)  # signs answer["data"] in place when the store has a key
            if payment_id is not None:  # the payment's timeline shows every call made about it, as answered
                await self.engine.log_api_call(payment_id, f"QuickPay/{request.match_info['action']}", fields, answer)
            return reply
        except QuickPayError as exc:
            return _rejected(exc.code, exc.msg)
        except BodyTooLarge as exc:
            return _rejected(PARAM_ERROR, str(exc))
        except ValidationError as exc:
            return _rejected(PARAM_ERROR, "参数错误: " + validation_problems(exc, "body"))
        except errors.SandboxError as exc:
            return _rejected(*_map_engine_error(exc))

    def _merchant(self, store_no: str) -> Merchant:
        merchant = self.engine.merchant_by_key(self.name, store_no)
        if merchant is None:
            raise QuickPayError(STORE_NOT_EXIST, f"门店不存在: store_no {store_no}")
        note_merchant(merchant.id)
        return merchant

    def _check_sign(self, merchant: Merchant, fields: dict) -> None:
        creds = merchant.for_provider(self.name)
        key = creds.get("key")
        if not key:
            return  # signing is optional per store (sandbox convention)
        given = fields.get("sign")
        if not isinstance(given, str) or not given:
            raise QuickPayError(SIGN_ERROR, "缺少签名: this store requires an MD5 sign field"
                                + refused(SIGN_ERROR, "no sign field", doctor.diagnose(fields, creds)))
        if not hmac.compare_digest(str(given).upper().encode(), wire.sign(fields, key).encode()):  # constant time
            raise QuickPayError(SIGN_ERROR, "签名错误: sign does not match"
                                + refused(SIGN_ERROR, "the MD5 sign does not match", doctor.diagnose(fields, creds)))

    # ----- calls ---------------------------------------------------------------------------------------------

    async def jsapi_pay(self, body: models.JSAPIPay, merchant: Merchant) -> Answer:
        if body.paytype not in (models.WECHAT, models.ALIPAY):
            raise QuickPayError(PARAM_ERROR, f"paytype {body.paytype} is not supported (11 WeChat, 21 Alipay)")
        wallet = "wechat" if body.paytype == models.WECHAT else "alipay"
        if wallet == "wechat" and not body.appid:
            raise QuickPayError(PARAM_ERROR, "appid is required for WeChat JSAPI")
        if wallet == "alipay" and not (body.openid.isdigit() and len(body.openid) == 16 and
                                       body.openid.startswith("2088")):
            raise QuickPayError(PARAM_ERROR, "openid must be an Alipay user id: 16 digits starting with 2088")
        now = self.engine.clock.now()
        trade_no = wire.transaction_no(now)
        cloudpay = self._cloudpay_param(wallet, body, trade_no, merchant, now)
        payment, created = await self._create(body, merchant, trade_type="JSAPI", trade_no=trade_no, wallet=wallet,
                                     payer={"openid": body.openid},
                                     provider_ids={"cloudpay_param": cloudpay},
                                     identity={"paytype": body.paytype, "appid": body.appid, "openid": body.openid})
        return wire.pay_result(payment), _logged_unless(created, payment)

    async def barcode_pay(self, body: models.BarcodePay, merchant: Merchant) -> Answer:
        wallet = _barcode_wallet(body.barcode)
        now = self.engine.clock.now()
        payment, created = await self._create(body, merchant, trade_type="BARCODE",
                                              trade_no=wire.transaction_no(now), wallet=wallet,
                                              payer={"barcode": body.barcode}, identity={"barcode": body.barcode})
        if not created:
            return wire.pay_result(payment), payment.id  # a retry of the same barcode pay: where it stands
        payment = await pay_by_code(self.engine, payment, body.barcode, actor="quickpay", code_name="barcode")
        return wire.pay_result(payment), None

    async def qr_pay(self, body: models.QRPay, merchant: Merchant) -> Answer:
        now = self.engine.clock.now()
        payment, created = await self._create(body, merchant, trade_type="NATIVE", trade_no=wire.transaction_no(now),
                                     wallet=None, payer={}, identity={})
        url = cashier_url(self.settings.base_url, payment.id)
        result = wire.pay_result(payment)
        result["cloudpay_param"] = segno.make(url, error="m").png_data_uri(scale=4) \
            if body.qr_format == "png" else url
        return result, _logged_unless(created, payment)

    async def query(self, body: models.OrderRef, merchant: Merchant) -> Answer:
        payment = await self._order(merchant, body.order_no)
        return wire.pay_result(payment), payment.id

    async def cancel(self, body: models.OrderRef, merchant: Merchant) -> Answer:
        payment = await self._order(merchant, body.order_no)
        payment = await self.engine.cancel(payment.id, actor="quickpay",
                                           provider_refund_no=wire.transaction_no(self.engine.clock.now()))
        return wire.pay_result(payment), payment.id

    async def refund(self, body: models.Refund, merchant: Merchant) -> Answer:
        payment = await self._order(merchant, body.order_no)
        if body.amount is not None and body.amount != payment.amount:
            raise QuickPayError(PARAM_ERROR, f"amount {body.amount} is not the order's amount {payment.amount}")
        refund, _ = await self.engine.refund(
            payment.id, amount=body.refund_amount, out_refund_no=body.refund_no,
            provider_refund_no=wire.transaction_no(self.engine.clock.now()), reason=body.refund_desc,
            actor="quickpay", extra={"operator": body.operator})
        payment = await self.engine.get_payment(payment.id)
        return wire.refund_result(payment, refund, body.operator), payment.id

    async def refund_query(self, body: models.RefundQuery, merchant: Merchant) -> Answer:
        payment = await self._order(merchant, body.order_no)
        refund = await self.engine.find_refund(payment.id, body.refund_order_no)
        if refund is None:
            raise QuickPayError(ORDER_NOT_EXIST, f"退款单不存在: refund_order_no {body.refund_order_no}")
        return wire.refund_result(payment, refund), payment.id

    # ----- helpers -------------------------------------------------------------------------------------------

    async def _create(self, body, merchant: Merchant, *, trade_type: str, trade_no: str, wallet: str | None,
                      payer: dict, identity: dict, provider_ids: dict | None = None) -> tuple[Payment, bool]:
        found = notify_url_problem(body.notify_url, max_length=QUICKPAY_MAX) if body.notify_url else None
        if found is not None:  # 256 characters: the sandbox's choice, QuickPay documents no limit
            raise QuickPayError(PARAM_ERROR, f"参数错误: notify_url {found}")
        common = {"amount": body.amount, "trade_type": trade_type, "iteminfo": body.iteminfo,
                  "notify_url": body.notify_url, "attach": body.attach}
        new = NewPayment(
            provider=self.name, merchant_id=merchant.id, out_trade_no=body.order_no, provider_trade_no=trade_no,
            amount=body.amount, trade_type=trade_type, description=body.iteminfo, attach=body.attach,
            notify_url=body.notify_url or None, payer=payer, provider_ids=provider_ids or {},
            extra={"store_no": body.store_no, "operator": body.operator, "wallet": wallet,
                   "goods_tag": body.goods_tag,
                   "itemlist": [i.model_dump() for i in body.itemlist] if body.itemlist else None},
            fingerprint={**common, **identity},
            raw_request=body.model_dump_json(exclude_none=True), expires_in_s=ORDER_TTL_S)
        try:
            payment, created = await self.engine.create_payment(new)
            note_payment(payment.id)
            if created:
                await note_production(self.engine, payment.id, payment.notify_url, "QuickPay")
            return payment, created
        except errors.DuplicateOrder as exc:
            note_payment(exc.existing.id)
            raise QuickPayError(ORDER_EXISTS, f"订单号重复: order_no {body.order_no} exists with other "
                                              f"parameters (status {wire.pay_status(exc.existing)})") from None

    async def _order(self, merchant: Merchant, order_no: str) -> Payment:
        payment = await self.engine.find_payment(merchant.id, self.name, order_no)
        if payment is None:
            raise QuickPayError(ORDER_NOT_EXIST, f"订单不存在: order_no {order_no}")
        note_payment(payment.id)
        return payment

    def _cloudpay_param(self, wallet: str, body: models.JSAPIPay, trade_no: str, merchant: Merchant,
                        now: float) -> str:
        """What the payer's page hands to WeixinJSBridge (getBrandWCPayRequest) or AlipayJSBridge (tradePay)."""
        if wallet == "alipay":
            return json.dumps({"tradeNO": "2088" + trade_no[:24]}, separators=(",", ":"))
        params = {"appId": body.appid, "timeStamp": str(int(now)), "nonceStr": f"{random.getrandbits(128):032x}",
                  "package": f"prepay_id=wx{trade_no[:14]}{random.getrandbits(64):016x}", "signType": "MD5"}
        params["paySign"] = wire.sign(params, merchant.for_provider(self.name).get("key") or body.store_no)
        return json.dumps(params, separators=(",", ":"))


def _logged_unless(created: bool, payment: Payment) -> str | None:
    """A fresh create is on the timeline already (its "created" event holds the request); a repeat is logged."""
    return None if created else payment.id


def _barcode_wallet(barcode: str) -> str:
    """WeChat payment codes start 10-15, Alipay's 25-30 (both 18 digits here)."""
    if not barcode.isdigit():
        raise QuickPayError(PARAM_ERROR, "barcode must be 18 digits")
    if 10 <= int(barcode[:2]) <= 15:
        return "wechat"
    if 25 <= int(barcode[:2]) <= 30:
        return "alipay"
    raise QuickPayError(PARAM_ERROR, "barcode is neither a WeChat (10-15…) nor an Alipay (25-30…) payment code")


def _parse_json(raw: bytes) -> dict:
    try:
        fields = jsonbody.loads(raw, bom=True)
    except jsonbody.BodyError as exc:
        raise QuickPayError(PARAM_ERROR, f"请求格式错误: {exc}") from None
    if not isinstance(fields, dict):
        raise QuickPayError(PARAM_ERROR, "请求格式错误: the body must be a JSON object")
    return fields


def _map_engine_error(exc: errors.SandboxError) -> tuple[str, str]:
    if isinstance(exc, errors.DuplicateRefund):
        return ORDER_EXISTS, f"退款单号重复: {exc.message}"
    if isinstance(exc, errors.RefundExceedsPayment):
        return PARAM_ERROR, f"退款金额超限: {exc.message}"
    if isinstance(exc, errors.InvalidState):
        return FAIL, f"订单状态错误: {exc.message}"
    if isinstance(exc, errors.NotFound):
        return ORDER_NOT_EXIST, exc.message
    return FAIL, exc.message


def _rejected(code: str, msg: str) -> web.Response:
    """The error envelope, noted for the request journal."""
    note_rejected(code, msg)
    return _reply(wire.envelope(code, msg))


def _reply(payload: dict, merchant: Merchant | None = None, status: int = 200) -> web.Response:
    key = merchant.for_provider(wire.PROVIDER).get("key") if merchant else None
    if key and payload.get("data"):
        payload["data"]["sign"] = wire.sign(payload["data"], key)
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json", charset="utf-8")


PROVIDER = QuickPayProvider
