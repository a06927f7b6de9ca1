"""The alipay.trade.* methods: each takes a verified Call and its validated biz_content, and asks the engine.

They return the inner object of the `…_response` (the gateway signs it) or, for page/wap pay, the browser's
redirect to the cashier. Business failures raise wire.AlipayError with the real ACQ.* sub_code.
"""
from __future__ import annotations

import json
from typing import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from ...access_log import note_payment
from ...cashier.urls import cashier_url
from ...core import errors
from ...core.engine import Engine
from ...core.app_data import AppOrderLink, AppRecord
from ...core.ledger import Funding
from ...core.models import NewPayment, Payment, PaymentStatus, RefundStatus
from ...settings import Settings
from ..notify_url import note_production
from . import models, wire
from .gateway import Call
from .wire import business

Handler = Callable[[Call, BaseModel], Awaitable[dict | web.StreamResponse]]
# method -> the operation fault rules match it by
METHOD_OPERATIONS = {
    "alipay.trade.page.pay": "create", "alipay.trade.wap.pay": "create", "alipay.trade.app.pay": "create",
    "alipay.trade.precreate": "create", "alipay.trade.create": "create", "alipay.trade.query": "query",
    "alipay.trade.close": "close", "alipay.trade.cancel": "cancel", "alipay.trade.refund": "refund",
    "alipay.trade.fastpay.refund.query": "refund_query",
}


class TradeMethods:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        self.table: dict[str, tuple[type[BaseModel], Handler]] = {
            "alipay.trade.page.pay": (models.PayBiz, self.page_pay),
            "alipay.trade.wap.pay": (models.PayBiz, self.page_pay),
            "alipay.trade.precreate": (models.PayBiz, self.precreate),
            "alipay.trade.create": (models.PayBiz, self.create),
            "alipay.trade.query": (models.QueryBiz, self.query),
            "alipay.trade.close": (models.CloseBiz, self.close),
            "alipay.trade.cancel": (models.CancelBiz, self.cancel),
            "alipay.trade.refund": (models.RefundBiz, self.refund),
            "alipay.trade.fastpay.refund.query": (models.RefundQueryBiz, self.refund_query),
        }

    # ----- creating trades -----------------------------------------------------------------------------------

    async def page_pay(self, call: Call, biz: models.PayBiz) -> web.StreamResponse:
        payment = await self.open_trade(call, biz)
        return web.Response(status=302, headers={"Location": cashier_url(self.settings.base_url, payment.id)})

    async def precreate(self, call: Call, biz: models.PayBiz) -> dict:
        payment = await self.open_trade(call, biz)
        return {**_ok(), "out_trade_no": payment.out_trade_no,
                "qr_code": cashier_url(self.settings.base_url, payment.id)}

    async def create(self, call: Call, biz: models.PayBiz) -> dict:
        if not biz.buyer_id and not biz.buyer_open_id:
            raise wire.invalid_parameter("buyer_id和buyer_open_id不能同时为空")
        payment = await self.open_trade(call, biz)
        return {**_ok(), "out_trade_no": payment.out_trade_no, "trade_no": payment.provider_trade_no}

    async def open_trade(self, call: Call, biz: models.PayBiz, *, funding: Funding | None = None,
                         app_order: AppOrderLink | None = None, records: list[AppRecord] | None = None) -> Payment:
        """Create the trade, or hand back the one an identical earlier request made (still unpaid).

        An app that plays a merchant backend (sandbox/apps) opens its trade here, with what the engine keeps beside
        it: the accounts it holds money on, the app order that follows it, the app records written with it."""
        try:
            amount = biz.amount_fen
        except ValueError as exc:
            raise wire.invalid_parameter(str(exc)) from None
        if amount > wire.MAX_FEN:
            raise business("TOTAL_FEE_EXCEED", "订单金额超过限额")
        now = self.engine.clock.now()
        trade_type, product_code = wire.PRODUCTS[call.method]
        payer = {k: v for k, v in (("buyer_id", biz.buyer_id), ("buyer_open_id", biz.buyer_open_id),
                                   ("buyer_logon_id", biz.buyer_logon_id)) if v}
        credentials = call.credentials
        new = NewPayment(
            provider=wire.PROVIDER, merchant_id=call.merchant.id, out_trade_no=biz.out_trade_no,
            provider_trade_no=wire.trade_no(now), amount=amount, trade_type=trade_type,
            description=biz.subject, attach=biz.passback_params, notify_url=call.params.get("notify_url") or None,
            payer=payer,
            extra={"method": call.method, "product_code": biz.product_code or product_code, "body": biz.body,
                   "return_url": call.params.get("return_url") or None, "quit_url": biz.quit_url,
                   "charset": call.charset, "store_id": biz.store_id, "operator_id": biz.operator_id,
                   "seller_id": biz.seller_id or credentials.get("seller_id")},
            # "the same order" to Alipay: amount, subject, buyer and seller (CONTEXT_INCONSISTENT otherwise)
            fingerprint={"amount": amount, "subject": biz.subject, "buyer_id": biz.buyer_id,
                         "buyer_open_id": biz.buyer_open_id, "seller_id": biz.seller_id},
            raw_request=json.dumps({k: v for k, v in call.params.items() if k != "sign"}, ensure_ascii=False),
            expires_at=wire.expiry(now, biz.timeout_express, biz.time_expire, self.engine.clock.offset_s),
            funding=funding, app_order=app_order, records=records or [])
        try:
            payment, created = await self.engine.create_payment(new)
        except errors.DuplicateOrder as exc:
            call.payment_id = exc.existing.id
            _refuse_reuse(exc.existing)
            raise business("CONTEXT_INCONSISTENT", "交易信息被篡改") from None
        note_payment(payment.id)
        if not created:  # a fresh trade is on its timeline already (the "created" event holds the request)
            call.payment_id = payment.id
            _refuse_reuse(payment)
        else:
            await note_production(self.engine, payment.id, payment.notify_url, "Alipay")
        return payment

    # ----- existing trades -----------------------------------------------------------------------------------

    async def query(self, call: Call, biz: models.QueryBiz) -> dict:
        payment = await self.find_trade(call, biz)
        if payment is None:
            raise wire.AlipayError(wire.BUSINESS, "ACQ.TRADE_NOT_EXIST", "交易不存在",
                                   **{k: v for k, v in wire.not_found_query(biz.out_trade_no).items()
                                      if k not in ("code", "msg", "sub_code", "sub_msg")})
        return wire.query_result(payment)

    async def close(self, call: Call, biz: models.CloseBiz) -> dict:
        payment = await self.trade(call, biz)
        if payment.status is not PaymentStatus.PENDING:
            raise business("TRADE_STATUS_ERROR", "交易状态不合法")
        payment = await self.engine.close(payment.id, actor="alipay.trade.close")
        return {**_ok(), "trade_no": payment.provider_trade_no, "out_trade_no": payment.out_trade_no}

    async def cancel(self, call: Call, biz: models.CancelBiz) -> dict:
        payment = await self.trade(call, biz)
        if not wire.was_canceled(payment):
            if payment.status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED) or (
                    payment.status is PaymentStatus.REFUNDED and payment.refundable > 0):
                payment = await self.engine.cancel(
                    payment.id, actor="alipay.trade.cancel", out_refund_no=f"cancel-{payment.out_trade_no}",
                    provider_refund_no=wire.trade_no(self.engine.clock.now()))
            elif payment.status is PaymentStatus.REFUNDED:
                raise business("TRADE_STATUS_ERROR", "交易状态不合法")
            # closed or failed unpaid trades: nothing to undo, answer as a close
        return {**_ok(), "trade_no": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
                "retry_flag": "N", "action": wire.cancel_action(payment)}

    async def refund(self, call: Call, biz: models.RefundBiz) -> dict:
        try:
            amount = biz.amount_fen
        except ValueError as exc:
            raise wire.invalid_parameter(str(exc)) from None
        payment = await self.trade(call, biz)
        # Without out_request_no a refund is named by the trade's out_trade_no (the real gateway's rule).
        out_request_no = biz.out_request_no or payment.out_trade_no
        existing = await self.engine.find_refund(payment.id, out_request_no)
        if existing is None and not payment.was_paid:
            if payment.status is PaymentStatus.PENDING:
                raise business("TRADE_STATUS_ERROR", "交易状态不合法")
            raise business("TRADE_HAS_CLOSE", "交易已经关闭")
        try:
            refund, created = await self.engine.refund(
                payment.id, amount=amount, out_refund_no=out_request_no,
                provider_refund_no=wire.trade_no(self.engine.clock.now()), reason=biz.refund_reason,
                actor="alipay.trade.refund", extra={"operator_id": biz.operator_id})
        except errors.DuplicateRefund:
            raise business("DISCORDANT_REPEAT_REQUEST", "不一致的请求") from None
        except errors.RefundExceedsPayment:
            raise business("REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限") from None
        payment = await self.engine.get_payment(payment.id)
        held = sum(r.amount for r in await self.engine.refunds(payment.id) if r.status is RefundStatus.PROCESSING)
        return wire.refund_result(payment, refund, fund_change=created, refunded=payment.refunded_amount - held)

    async def refund_query(self, call: Call, biz: models.RefundQueryBiz) -> dict:
        payment = await self.trade(call, biz)
        refund = await self.engine.find_refund(payment.id, biz.out_request_no)
        return wire.refund_query_result(payment, biz.out_request_no, refund, biz.query_options or [])

    # ----- helpers -------------------------------------------------------------------------------------------

    async def find_trade(self, call: Call, biz) -> Payment | None:
        """By trade_no (wins) or out_trade_no, only among this app's trades; the call is then about it."""
        payment = await self._find_trade(call, biz)
        if payment is not None:
            call.payment_id = payment.id
        return payment

    async def _find_trade(self, call: Call, biz) -> Payment | None:
        if biz.trade_no:
            payment = await self.engine.find_by_provider_trade_no(wire.PROVIDER, biz.trade_no)
            if payment is None or payment.merchant_id != call.merchant.id:
                return None
            if biz.out_trade_no and biz.out_trade_no != payment.out_trade_no:
                return None
            return payment
        return await self.engine.find_payment(call.merchant.id, wire.PROVIDER, biz.out_trade_no)

    async def trade(self, call: Call, biz) -> Payment:
        payment = await self.find_trade(call, biz)
        if payment is None:
            raise business("TRADE_NOT_EXIST", "交易不存在")
        return payment


def _ok() -> dict:
    return {"code": wire.SUCCESS[0], "msg": wire.SUCCESS[1]}


def _refuse_reuse(existing: Payment) -> None:
    """A paid or closed trade cannot be opened again under the same out_trade_no."""
    if existing.was_paid:
        raise business("TRADE_HAS_SUCCESS", "交易已被支付")
    if existing.status is not PaymentStatus.PENDING:
        raise business("TRADE_HAS_CLOSE", "交易已经关闭")


def map_engine_error(exc: errors.SandboxError) -> wire.AlipayError:
    if isinstance(exc, errors.NotFound):
        return business("TRADE_NOT_EXIST", "交易不存在")
    if isinstance(exc, errors.InvalidState):
        return business("TRADE_STATUS_ERROR", "交易状态不合法")
    if isinstance(exc, errors.RefundExceedsPayment):
        return business("REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    if isinstance(exc, errors.InvalidInput):
        return wire.invalid_parameter(exc.message)
    return business("SYSTEM_ERROR", "系统错误")
