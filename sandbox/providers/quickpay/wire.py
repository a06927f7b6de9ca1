"""QuickPay's wire format: the envelope, the optional MD5 sign, statuses and the result objects."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from ...core.models import CloseReason, Payment, PaymentStatus, Refund, RefundStatus
from ..wechat.v2_crypto import sign as v2_sign

PROVIDER = "quickpay"
CHINA = timezone(timedelta(hours=8))

# Error codes (sandbox convention, specs/quickpay.md)
FAIL, PARAM_ERROR, ORDER_EXISTS, ORDER_NOT_EXIST = "FAIL", "PARAM_ERROR", "ORDER_EXISTS", "ORDER_NOT_EXIST"
SIGN_ERROR, STORE_NOT_EXIST = "SIGN_ERROR", "STORE_NOT_EXIST"


def envelope(code: str, msg: str, data: dict | None = None) -> dict:
    return {"code": code, "msg": msg, "data": data}


def sign_value(value: Any) -> str:
    """How a field takes part in the MD5 sign: scalars as text, lists and objects as compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def sign(fields: dict[str, Any], key: str) -> str:
    """WeChat v2's MD5 sign over the fields rendered as sign_value; empty lists and objects take no part."""
    return v2_sign({k: sign_value(v) for k, v in fields.items() if v is not None and v != [] and v != {}}, key)


def china_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def transaction_no(now: float) -> str:
    """24 digits: the time in China, then 10 random digits."""
    return datetime.fromtimestamp(now, CHINA).strftime("%Y%m%d%H%M%S") + f"{random.randrange(10**10):010d}"


def pay_status(payment: Payment) -> str:
    if payment.status is PaymentStatus.PENDING:
        return "PAYING" if payment.trade_type == "BARCODE" else "CREATE"
    if payment.status is PaymentStatus.FAILED:
        return "FAILED"
    if payment.close_reason is CloseReason.CANCELED:
        return "CANCELED"
    if payment.status is PaymentStatus.CLOSED:
        return "CLOSED"
    return "SUCCESSED"


def refund_status(refund: Refund) -> str:
    return {RefundStatus.SUCCEEDED: "REFUNDED", RefundStatus.PROCESSING: "REFUNDING"}.get(refund.status,
                                                                                           "REFUNDFAILED")


def wallet_of(payment: Payment) -> str | None:
    """wechat | alipay: chosen at create (paytype, barcode), or by whoever paid an aggregated QR code."""
    wallet = payment.extra.get("wallet") or payment.payer.get("wallet")
    if wallet is None and payment.was_paid:
        wallet = "wechat"  # paid through the admin API, which names no wallet
    return wallet


def paytype_name(payment: Payment) -> str | None:
    wallet = wallet_of(payment)
    kind = {"JSAPI": "JSAPI", "NATIVE": "NATIVE", "BARCODE": "MICROPAY"}[payment.trade_type]
    if wallet is None:
        return None  # an aggregated QR code: the wallet is known once someone pays
    return f"{'WECHATPAY' if wallet == 'wechat' else 'ALIPAY'}_{kind}"


def pay_result(payment: Payment) -> dict[str, Any]:
    """PayResultInfo of seed 003."""
    paid = payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED) or (
        payment.close_reason is CloseReason.CANCELED and payment.paid_at is not None)
    wallet = wallet_of(payment)
    return {
        "transaction_status": pay_status(payment),
        "error": payment.fail_reason if payment.status is PaymentStatus.FAILED else None,
        "store_no": payment.extra.get("store_no"),
        "paytype": paytype_name(payment),
        "operator": payment.extra.get("operator"),
        "bank_type": ("CFT" if wallet == "wechat" else "ALIPAYACCOUNT") if paid else None,
        "total_amount": payment.amount,
        "cash_amount": payment.amount if paid else 0,
        "settlement_amount": payment.amount if paid else 0,
        "coupon_amount": 0,
        "order_no": payment.out_trade_no,
        "transaction_no": payment.provider_trade_no,
        "cloudpay_param": payment.provider_ids.get("cloudpay_param"),
        "transaction_time": china_time(payment.paid_at or payment.created_at),
        "message": _message(payment),
        "buyer": payment.payer.get("openid") or payment.payer.get("buyer_id"),
        "attach": payment.attach,
        "iteminfo": payment.description,
        "coupon_detail_list": [],
    }


def _message(payment: Payment) -> str:
    return {
        "CREATE": "订单已创建,等待支付", "PAYING": "用户支付中,请稍后查询", "SUCCESSED": "支付成功",
        "FAILED": "支付失败", "CLOSED": "订单已关闭", "CANCELED": "订单已撤销",
    }[pay_status(payment)]


def refund_result(payment: Payment, refund: Refund, operator: str | None = None) -> dict[str, Any]:
    """RefundResultInfo of specs/quickpay.md."""
    return {
        "transaction_status": refund_status(refund),
        "error": None,
        "store_no": payment.extra.get("store_no"),
        "paytype": paytype_name(payment),
        "total_amount": payment.amount,
        "refund_amount": refund.amount,
        "settlement_amount": refund.amount,
        "cash_amount": refund.amount,
        "coupon_amount": 0,
        "order_no": payment.out_trade_no,
        "refund_order_no": refund.out_refund_no,
        "operator": operator or refund.extra.get("operator"),
        "transaction_no": payment.provider_trade_no,
        "refund_transaction_no": refund.provider_refund_no,
        "refund_desc": refund.reason,
        "refund_transaction_time": china_time(refund.succeeded_at or refund.created_at),
        "transaction_message": {RefundStatus.SUCCEEDED: "退款成功", RefundStatus.PROCESSING: "退款处理中"}.get(
            refund.status, "退款失败"),
    }
