"""WeChat Pay v2 (XML) routes, also under the old simulation prefix sandboxnew/. State lives in core.

Transport failures answer return_code=FAIL (unsigned, as the real API); business failures return_code=SUCCESS,
result_code=FAIL with err_code, signed like successes with the request's own sign type and key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from pydantic import ValidationError

from ...access_log import note_merchant, note_payment, note_rejected
from ...cashier.urls import cashier_url
from ...core import errors
from ...core.models import Merchant, NewPayment, Payment, PaymentStatus
from ...core.rules import ApiCall
from ...doctor import refused
from ...doctor import wechat_v2 as doctor
from ..base import BodyTooLarge, injected_fault, logged_request, pay_by_code, read_body, validation_problems
from ..notify_url import WECHAT_V2_MAX, note_production
from ..notify_url import problem as notify_url_problem
from . import models, v2_crypto, v2_wire, wire
from .credentials import random_string
from .v2_wire import ERR_DES, RETURN_MSGS
from .wire import PROVIDER

MAX_BODY = v2_crypto.MAX_XML_BYTES
# secapi/pay/refund's answer to a total_fee that is not the order's, or an out_refund_no reused with another amount
REFUND_FEE_MISMATCH = "订单金额或退款金额与之前请求不一致,请核实后再试"


class ReturnFail(Exception):
    """return_code=FAIL: the request itself is bad (XML, signature, missing parameters)."""


class BusinessFail(Exception):
    def __init__(self, err_code: str, des: str | None = None):
        super().__init__(err_code)
        self.err_code, self.des = err_code, des or ERR_DES.get(err_code, err_code)


@dataclass
class Call:
    merchant: Merchant
    creds: dict
    key: str          # the v2 key, or the sandbox sign key under sandboxnew/
    sign_type: str
    appid: str
    sandbox: bool
    payment_id: str | None = None  # set once the call is about an existing payment: its timeline logs it


class V2Api:
    def __init__(self, engine, settings):
        self.engine, self.settings = engine, settings
        # path -> body model, handler, and the operation fault rules match it by
        self.actions = {
            "pay/unifiedorder": (models.UnifiedOrder, self.unifiedorder, "create"),
            "pay/micropay": (models.Micropay, self.micropay, "create"),
            "pay/orderquery": (models.OrderRef, self.orderquery, "query"),
            "pay/closeorder": (models.CloseOrder, self.closeorder, "close"),
            "secapi/pay/refund": (models.V2Refund, self.refund, "refund"),
            "pay/refund": (models.V2Refund, self.refund, "refund"),  # older docs' path; same call
            "pay/refundquery": (models.V2RefundQuery, self.refundquery, "refund_query"),
            "secapi/pay/reverse": (models.OrderRef, self.reverse, "cancel"),
        }

    def add_routes(self, app: web.Application) -> None:
        for path in self.actions:
            app.router.add_route("*", f"/{path}", self.handle)
            app.router.add_route("*", f"/sandboxnew/{path}", self.handle)
        app.router.add_route("*", "/sandboxnew/pay/getsignkey", self.getsignkey)

    # ----- the pipeline ------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        sandbox = request.path.startswith("/sandboxnew/")
        model, handler, operation = self.actions[request.path.removeprefix("/sandboxnew").lstrip("/")]
        call, params = None, {}
        try:
            params = await _params(request)
            merchant = self._merchant(params)
            creds = merchant.for_provider(PROVIDER)
            key = v2_wire.sandbox_signkey(creds["v2_key"], creds["mchid"]) if sandbox else creds["v2_key"]
            if not v2_crypto.verify(params, key):
                raise ReturnFail(RETURN_MSGS["SIGN"] + _doctored(params, creds, sandbox))
            body = model.model_validate(params)
            call = Call(merchant, creds, key, body.sign_type or "MD5", body.appid, sandbox)
            if body.appid not in creds["appids"]:
                raise BusinessFail("APPID_MCHID_NOT_MATCH")
            if await injected_fault(self.engine, request, lambda: ApiCall(
                    PROVIDER, merchant.id, operation, getattr(body, "out_trade_no", None),
                    int(body.total_fee) if operation == "create" else None)):  # digits, as validated
                raise BusinessFail("SYSTEMERROR", "系统错误 (fault injected by a sandbox rule)")
            answer = self._answer(call, await handler(body, call))
        except ReturnFail as exc:
            answer = {"return_code": "FAIL", "return_msg": str(exc)}
        except ValidationError as exc:
            problems = validation_problems(exc, "xml")
            answer = {"return_code": "FAIL", "return_msg": f"{RETURN_MSGS['PARAM']}: {problems}"}
        except BusinessFail as exc:
            answer = self._answer(call, {"err_code": exc.err_code, "err_code_des": exc.des}, ok=False)
        except errors.SandboxError as exc:
            code = "PARAM_ERROR" if isinstance(exc, errors.InvalidInput) else "SYSTEMERROR"
            answer = self._answer(call, {"err_code": code, "err_code_des": exc.message}, ok=False)
        if answer["return_code"] == "FAIL":
            note_rejected("FAIL", answer["return_msg"])
        elif answer.get("result_code") == "FAIL" and answer.get("err_code") != "USERPAYING":
            note_rejected(answer["err_code"], answer.get("err_code_des") or answer["err_code"])
        if call is not None and call.payment_id is not None:  # the payment's timeline shows every call about it
            note_payment(call.payment_id)
            await self.engine.log_api_call(call.payment_id, request.path.lstrip("/"), logged_request(params), answer)
        return _xml(answer)

    def _merchant(self, params: dict) -> Merchant:
        mch_id = params.get("mch_id")
        if not mch_id:
            raise ReturnFail(f"{RETURN_MSGS['PARAM']}: 缺少参数mch_id")
        merchant = self.engine.merchant_by_key(PROVIDER, mch_id)
        if merchant is None:
            raise BusinessFail("MCHID_NOT_EXIST")
        note_merchant(merchant.id)
        return merchant

    def _answer(self, call: Call | None, fields: dict, ok: bool = True) -> dict:
        out = {"return_code": "SUCCESS", "return_msg": "OK"}
        if call is not None:
            out.update(appid=call.appid, mch_id=call.creds["mchid"],
                       nonce_str=random_string(16))
        out["result_code"] = "SUCCESS" if ok else "FAIL"
        out.update(v2_wire.stringify(fields))
        if call is not None:  # an unknown merchant's answer has no key to sign with
            out["sign"] = v2_crypto.sign(out, call.key, call.sign_type)
        return out

    # ----- calls -------------------------------------------------------------------------------------------------

    async def unifiedorder(self, body: models.UnifiedOrder, call: Call) -> dict:
        if body.trade_type == "JSAPI" and not (body.openid or body.sub_openid):
            raise ReturnFail("JSAPI支付必须传openid")
        if body.trade_type == "NATIVE" and not body.product_id:
            raise ReturnFail("trade_type=NATIVE时，product_id必传")
        _check_notify_url(body.notify_url)
        now = self.engine.clock.now()
        expires_at = None
        if body.time_expire:
            try:
                expires_at = self.engine.clock.from_client(  # the client's wall time
                    datetime.strptime(body.time_expire, "%Y%m%d%H%M%S").replace(tzinfo=wire.CHINA).timestamp())
            except ValueError:
                raise ReturnFail("time_expire格式错误") from None
            if expires_at <= now:
                raise BusinessFail("PARAM_ERROR", "time_expire时间过短")
        trade_type = wire.FROM_WECHAT[body.trade_type]
        payer = {k: v for k, v in (("openid", body.openid), ("sub_openid", body.sub_openid)) if v}
        provider_ids = {"prepay_id": wire.prepay_id(now)}
        if trade_type == "NATIVE":
            provider_ids.update(wire.code_url())
        sub = {"sub_mch_id": body.sub_mch_id, "sub_appid": body.sub_appid} if body.sub_mch_id else None
        amount = int(body.total_fee)
        new = NewPayment(
            provider=PROVIDER, merchant_id=call.merchant.id, out_trade_no=body.out_trade_no,
            provider_trade_no=wire.transaction_id(now), amount=amount, trade_type=trade_type,
            description=body.body, attach=body.attach or None, notify_url=body.notify_url, payer=payer,
            provider_ids=provider_ids,
            extra={"api": "v2", "sign_type": call.sign_type, "sandboxnew": call.sandbox, "appid": body.appid,
                   "device_info": body.device_info, "product_id": body.product_id, "v2_partner": sub,
                   "spbill_create_ip": body.spbill_create_ip},
            # time_start / time_expire / nonce change on every retry of an SDK: not part of "the same order"
            fingerprint={"trade_type": trade_type, "amount": amount, "description": body.body, "appid": body.appid,
                         "payer": payer, "attach": body.attach or None, "sub_mchid": body.sub_mch_id},
            raw_request=body.model_dump_json(exclude_none=True), expires_at=expires_at,
            expires_in_s=wire.ORDER_TTL_S)
        try:
            payment, created = await self.engine.create_payment(new)
        except errors.DuplicateOrder as exc:
            call.payment_id = exc.existing.id
            raise BusinessFail("OUT_TRADE_NO_USED", "商户订单号重复: 同一out_trade_no的参数与原订单不一致") from None
        note_payment(payment.id)
        if not created:  # a fresh order is on its timeline already (the "created" event holds the request)
            call.payment_id = payment.id
            _check_open(payment)
        else:
            await note_production(self.engine, payment.id, body.notify_url, "WeChat Pay")
        result = {"trade_type": body.trade_type, "prepay_id": payment.provider_ids["prepay_id"],
                  "device_info": body.device_info}
        if trade_type == "NATIVE":
            result["code_url"] = payment.provider_ids["code_url"]
        if trade_type == "H5":
            result["mweb_url"] = cashier_url(self.settings.base_url, payment.id)
        return result

    async def micropay(self, body: models.Micropay, call: Call) -> dict:
        """付款码支付. Sandbox convention (as QuickPay's barcode): the code's last digits choose the outcome."""
        code = body.auth_code
        if not wire.is_auth_code(code):
            raise BusinessFail("AUTH_CODE_INVALID")
        now, amount = self.engine.clock.now(), int(body.total_fee)
        new = NewPayment(
            provider=PROVIDER, merchant_id=call.merchant.id, out_trade_no=body.out_trade_no,
            provider_trade_no=wire.transaction_id(now), amount=amount, trade_type="BARCODE", description=body.body,
            attach=body.attach or None, payer={"auth_code": code},
            extra={"api": "v2", "sign_type": call.sign_type, "sandboxnew": call.sandbox, "appid": body.appid,
                   "device_info": body.device_info, "spbill_create_ip": body.spbill_create_ip},
            fingerprint={"trade_type": "BARCODE", "amount": amount, "description": body.body, "appid": body.appid,
                         "auth_code": code, "attach": body.attach or None},
            raw_request=body.model_dump_json(exclude_none=True), expires_in_s=wire.ORDER_TTL_S)
        try:
            payment, created = await self.engine.create_payment(new)
        except errors.DuplicateOrder as exc:
            call.payment_id = exc.existing.id
            raise BusinessFail("OUT_TRADE_NO_USED") from None
        note_payment(payment.id)
        if not created:
            call.payment_id = payment.id
        if created:
            payment = await pay_by_code(self.engine, payment, code, actor="wechat", code_name="auth_code")
        if payment.status is PaymentStatus.PENDING:
            raise BusinessFail("USERPAYING")
        if not payment.was_paid:  # a code ending 4444 has just failed: NOTENOUGH
            raise BusinessFail("ORDERCLOSED" if payment.status is PaymentStatus.CLOSED else "NOTENOUGH")
        return v2_wire.paid_fields(payment)

    async def orderquery(self, body: models.OrderRef, call: Call) -> dict:
        return v2_wire.order_fields(await self._order(call, body.out_trade_no, body.transaction_id))

    async def closeorder(self, body: models.CloseOrder, call: Call) -> dict:
        payment = await self._order(call, body.out_trade_no)
        if payment.status is not PaymentStatus.PENDING:
            _check_open(payment)
        await self.engine.close(payment.id, actor="wechat", reason="closed by the merchant (v2 closeorder)")
        return {"result_msg": "OK"}

    async def reverse(self, body: models.OrderRef, call: Call) -> dict:
        payment = await self._order(call, body.out_trade_no, body.transaction_id)
        if wire.trade_state(payment) != "REVOKED":
            try:
                await self.engine.cancel(payment.id, actor="wechat",
                                         provider_refund_no=wire.refund_id(self.engine.clock.now()))
            except errors.InvalidState:
                raise BusinessFail("ORDERCLOSED", f"订单状态为{wire.trade_state(payment)}，不能撤销") from None
        return {"recall": "N"}

    async def refund(self, body: models.V2Refund, call: Call) -> dict:
        _check_notify_url(body.notify_url)
        payment = await self._order(call, body.out_trade_no, body.transaction_id)
        if int(body.total_fee) != payment.amount:
            raise BusinessFail("REFUND_FEE_MISMATCH", REFUND_FEE_MISMATCH)
        if not payment.was_paid or payment.close_reason is not None:
            raise BusinessFail("TRADE_STATE_ERROR", f"订单状态为{wire.trade_state(payment)}，不能退款")
        try:
            refund, _ = await self.engine.refund(
                payment.id, amount=int(body.refund_fee), out_refund_no=body.out_refund_no,
                provider_refund_no=wire.refund_id(self.engine.clock.now()), reason=body.refund_desc,
                notify_url=body.notify_url, actor="wechat", extra={"api": "v2"})
        except errors.RefundExceedsPayment as exc:
            # the real API's words: ERROR once nothing is left, INVALID_REQUEST for more than what is left
            if exc.payment.refundable <= 0:
                raise BusinessFail("ERROR", "订单已全额退款") from None
            raise BusinessFail("INVALID_REQUEST", "refund_fee大于可退金额") from None
        except errors.DuplicateRefund:
            raise BusinessFail("REFUND_FEE_MISMATCH", REFUND_FEE_MISMATCH) from None
        return v2_wire.refund_result(payment, refund)

    async def refundquery(self, body: models.V2RefundQuery, call: Call) -> dict:
        if body.refund_id or body.out_refund_no:
            by_id = {"provider_refund_no": body.refund_id} if body.refund_id else {"out_refund_no": body.out_refund_no}
            refund = await self.engine.find_merchant_refund(call.merchant.id, PROVIDER, **by_id)
            if refund is None:
                raise BusinessFail("REFUNDNOTEXIST")
            call.payment_id = refund.payment_id
            payment, refunds = await self.engine.get_payment(refund.payment_id), [refund]
        else:
            try:
                payment = await self._order(call, body.out_trade_no, body.transaction_id)
            except BusinessFail:
                raise BusinessFail("REFUNDNOTEXIST") from None
            refunds = await self.engine.refunds(payment.id)
            if not refunds:
                raise BusinessFail("REFUNDNOTEXIST")
        return v2_wire.refund_query_fields(payment, refunds)

    async def _order(self, call: Call, out_trade_no: str | None, transaction_id: str | None = None) -> Payment:
        """transaction_id wins when both are given, as the real API documents."""
        if transaction_id:
            payment = await self.engine.find_by_provider_trade_no(PROVIDER, transaction_id)
            if payment is not None and (payment.merchant_id != call.merchant.id or not payment.was_paid):
                payment = None
        else:
            payment = await self.engine.find_payment(call.merchant.id, PROVIDER, out_trade_no)
        if payment is None:
            raise BusinessFail("ORDERNOTEXIST")
        call.payment_id = payment.id
        return payment

    # ----- the old simulation system's key -----------------------------------------------------------------------

    async def getsignkey(self, request: web.Request) -> web.Response:
        """Signed with the real v2 key (MD5); answers the key every other sandboxnew/ call must be signed with."""
        try:
            params = await _params(request)
            merchant = self._merchant(params)
            creds = merchant.for_provider(PROVIDER)
            if not v2_crypto.verify(params, creds["v2_key"]):
                raise ReturnFail(RETURN_MSGS["SIGN"] + _doctored(params, creds, False))
            models.GetSignKey.model_validate(params)
        except ReturnFail as exc:
            return _xml({"return_code": "FAIL", "return_msg": str(exc)})
        except ValidationError:
            return _xml({"return_code": "FAIL", "return_msg": RETURN_MSGS["PARAM"]})
        except BusinessFail as exc:
            return _xml({"return_code": "FAIL", "return_msg": exc.des})
        return _xml({"return_code": "SUCCESS", "return_msg": "ok", "mch_id": creds["mchid"],
                     "sandbox_signkey": v2_wire.sandbox_signkey(creds["v2_key"], creds["mchid"])})


async def _params(request: web.Request) -> dict:
    if request.method != "POST":
        raise ReturnFail(RETURN_MSGS["POST"])
    try:
        raw = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise ReturnFail(f"{RETURN_MSGS['XML']}: 请求体超过{MAX_BODY}字节") from None
    try:
        return v2_crypto.parse_xml(raw)
    except v2_crypto.XmlError as exc:
        raise ReturnFail(f"{RETURN_MSGS['XML']}: {exc}") from None


def _doctored(params: dict, creds: dict, sandbox: bool) -> str:
    """The refused sign's diagnosis to the journal; answers the hint for return_msg. Only on refusal."""
    found = doctor.diagnose(params, creds, sandboxnew=sandbox)
    return refused("FAIL", f"{RETURN_MSGS['SIGN']}: the v2 sign does not verify", found)


def _check_notify_url(url: str | None) -> None:
    """v2 answers a bad notify_url with return_code FAIL, `invalid notify_url` (the sandbox also refuses
    credentials in it)."""
    if url is not None and (not url or notify_url_problem(url, max_length=WECHAT_V2_MAX)):
        raise ReturnFail("invalid notify_url")


def _check_open(payment: Payment) -> None:
    if payment.was_paid:
        raise BusinessFail("ORDERPAID")
    if payment.status is not PaymentStatus.PENDING:
        raise BusinessFail("ORDERCLOSED")


def _xml(fields: dict) -> web.Response:
    return web.Response(body=v2_crypto.to_xml(fields), content_type="text/xml", charset="utf-8")
