"""v2 result fields: order query, refund query, pay notify, refund notify (all flat string dicts)."""
from __future__ import annotations

import hashlib
import hmac

from ...core.models import Payment, Refund, RefundStatus
from . import wire

RETURN_MSGS = {
    "SIGN": "签名错误", "PARAM": "参数格式校验错误", "XML": "XML格式错误", "POST": "请使用post方法",
}
ERR_DES = {
    "ORDERPAID": "该订单已支付", "ORDERNOTEXIST": "此交易订单号不存在", "ORDERCLOSED": "订单已关闭",
    "OUT_TRADE_NO_USED": "商户订单号重复", "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "MCHID_NOT_EXIST": "MCHID不存在", "REFUNDNOTEXIST": "退款订单查询失败", "SYSTEMERROR": "系统错误",
    "PARAM_ERROR": "参数错误", "NOTENOUGH": "余额不足", "TRADE_OVERDUE": "订单已经超过退款期限",
    "USERPAYING": "需要用户输入支付密码", "AUTH_CODE_INVALID": "付款码无效，请重新刷新",
}


def sandbox_signkey(v2_key: str, mchid: str) -> str:
    """The key sandboxnew/ requests are signed with: derived, so it is stable without being stored (32 hex)."""
    return hmac.new(v2_key.encode(), f"sandboxnew:{mchid}".encode(), hashlib.sha256).hexdigest()[:32]


def order_fields(payment: Payment) -> dict:
    """pay/orderquery result fields (after the common ones)."""
    state = wire.trade_state(payment)
    fields = {"out_trade_no": payment.out_trade_no, "trade_state": state,
              "trade_state_desc": wire.STATE_DESC[state], "attach": payment.attach or None,
              "total_fee": payment.amount, "fee_type": payment.currency}
    if payment.extra.get("device_info"):
        fields["device_info"] = payment.extra["device_info"]
    if payment.was_paid:
        fields.update(paid_fields(payment))
    return fields


def paid_fields(payment: Payment) -> dict:
    """What a paid order reports: in orderquery and in the pay notify."""
    sp = payment.extra.get("v2_partner") or {}
    return {
        "openid": wire.openid_of(payment), "is_subscribe": "N",
        "trade_type": wire.TO_WECHAT.get(payment.trade_type, payment.trade_type),
        "bank_type": "OTHERS", "total_fee": payment.amount, "fee_type": payment.currency,
        "cash_fee": payment.amount, "cash_fee_type": payment.currency,
        "transaction_id": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
        "attach": payment.attach or None, "time_end": wire.compact_time(payment.paid_at),
        "sub_mch_id": sp.get("sub_mch_id"), "sub_appid": sp.get("sub_appid"),
    }


def refund_state(refund: Refund) -> str:
    return {RefundStatus.SUCCEEDED: "SUCCESS", RefundStatus.PROCESSING: "PROCESSING",
            RefundStatus.FAILED: "CHANGE", RefundStatus.CLOSED: "REFUNDCLOSE"}[refund.status]


def refund_result(payment: Payment, refund: Refund) -> dict:
    """secapi/pay/refund result fields."""
    return {"transaction_id": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
            "out_refund_no": refund.out_refund_no, "refund_id": refund.provider_refund_no,
            "refund_fee": refund.amount, "settlement_refund_fee": refund.amount, "total_fee": payment.amount,
            "settlement_total_fee": payment.amount, "fee_type": payment.currency, "cash_fee": payment.amount,
            "cash_refund_fee": refund.amount, "refund_channel": None}


def refund_query_fields(payment: Payment, refunds: list[Refund]) -> dict:
    """pay/refundquery: the order, then refund_count and the numbered _$n fields of each refund."""
    fields = {"transaction_id": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
              "total_fee": payment.amount, "settlement_total_fee": payment.amount, "fee_type": payment.currency,
              "cash_fee": payment.amount, "refund_count": len(refunds)}
    for n, refund in enumerate(refunds):
        fields.update({
            f"out_refund_no_{n}": refund.out_refund_no, f"refund_id_{n}": refund.provider_refund_no,
            f"refund_channel_{n}": "ORIGINAL", f"refund_fee_{n}": refund.amount,
            f"settlement_refund_fee_{n}": refund.amount, f"refund_status_{n}": refund_state(refund),
            f"refund_account_{n}": "REFUND_SOURCE_UNSETTLED_FUNDS",
            f"refund_recv_accout_{n}": "支付用户的零钱",
            f"refund_success_time_{n}": wire.dashed_time(refund.succeeded_at),
        })
    return fields


def refund_notice(payment: Payment, refund: Refund) -> dict:
    """The plaintext of a refund notify's req_info (`<root>…</root>`)."""
    return {
        "transaction_id": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
        "refund_id": refund.provider_refund_no, "out_refund_no": refund.out_refund_no,
        "total_fee": payment.amount, "settlement_total_fee": payment.amount, "refund_fee": refund.amount,
        "settlement_refund_fee": refund.amount, "refund_status": refund_state(refund),
        "success_time": wire.dashed_time(refund.succeeded_at), "refund_recv_accout": "支付用户的零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS", "refund_request_source": "API",
    }


def stringify(fields: dict) -> dict:
    """v2 carries strings: drop None, render numbers as text."""
    return {k: str(v) for k, v in fields.items() if v is not None and v != ""}
