"""WeChat Pay's words for what core knows: id formats, trade states, times, and the APIv3 result objects.

Shared by both APIs and the notify channel; pure functions of a Payment / Refund.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from ...core.models import CloseReason, Payment, PaymentStatus, Refund, RefundStatus
from .credentials import random_string
from .v3_crypto import rfc3339

PROVIDER = "wechat"
CHINA = timezone(timedelta(hours=8))
ORDER_TTL_S = 2 * 3600  # WeChat closes an unpaid order after 2 h unless time_expire says otherwise

# core trade_type <-> WeChat trade_type (core keeps the project-wide names: H5, BARCODE)
TO_WECHAT = {"JSAPI": "JSAPI", "APP": "APP", "NATIVE": "NATIVE", "H5": "MWEB", "BARCODE": "MICROPAY"}
FROM_WECHAT = {v: k for k, v in TO_WECHAT.items()}

STATE_DESC = {
    "SUCCESS": "支付成功", "REFUND": "转入退款", "NOTPAY": "未支付", "CLOSED": "已关闭",
    "REVOKED": "已撤销（刷卡支付）", "USERPAYING": "用户支付中", "PAYERROR": "支付失败",
}


# --- ids -----------------------------------------------------------------------------------------------------------

def _digits(n: int) -> str:
    return f"{secrets.randbelow(10 ** n):0{n}d}"  # one draw, not one per digit (it showed in the create profile)


def is_auth_code(code: str) -> bool:
    """A WeChat payment code (付款码) as micropay and codepay accept it: 18 digits starting 10-15."""
    return len(code) == 18 and code.isdigit() and 10 <= int(code[:2]) <= 15


def china_now(now: float) -> datetime:
    return datetime.fromtimestamp(now, CHINA)


def transaction_id(now: float) -> str:
    """28 digits like 4200001234202611251234567890: 420000, 4 digits, the date in China, 10 digits."""
    return f"420000{_digits(4)}{china_now(now):%Y%m%d}{_digits(10)}"


def prepay_id(now: float) -> str:
    """36 chars like wx201410272009395522657a690389285100: wx, the time in China, 20 hex."""
    return f"wx{china_now(now):%Y%m%d%H%M%S}{secrets.token_hex(10)}"


def refund_id(now: float) -> str:
    """29 digits like 50300001234202611251234567890 (real ones are 29-32 digits starting 50)."""
    return f"503000{_digits(5)}{china_now(now):%Y%m%d}{_digits(10)}"


def code_url() -> dict:
    """A NATIVE order's QR link; the token is kept on its own too, for pages that resolve `pr=` links."""
    token = random_string(7)
    return {"code_url": f"weixin://wxpay/bizpayurl?pr={token}", "code_url_token": token}


def openid_of(payment: Payment) -> str:
    """The payer's openid: the one named at create (JSAPI) or by whoever paid, else a stable made-up one."""
    given = payment.payer.get("openid") or payment.payer.get("sub_openid") or payment.payer.get("sp_openid")
    if given:
        return given
    return "o" + hashlib.sha256(payment.id.encode()).hexdigest()[:27]


# --- states and times ----------------------------------------------------------------------------------------------

def trade_state(payment: Payment) -> str:
    if payment.close_reason is CloseReason.CANCELED:
        return "REVOKED"  # reversed (撤销), paid or not
    return {
        PaymentStatus.PENDING: "USERPAYING" if payment.trade_type == "BARCODE" else "NOTPAY",
        PaymentStatus.SUCCEEDED: "SUCCESS",
        PaymentStatus.REFUNDED: "REFUND",
        PaymentStatus.FAILED: "PAYERROR",
        PaymentStatus.CLOSED: "CLOSED",
    }[payment.status]


def refund_status(refund: Refund) -> str:
    """v3 words; v2 says REFUNDCLOSE for CLOSED and CHANGE for ABNORMAL (see v2_wire)."""
    return {RefundStatus.SUCCEEDED: "SUCCESS", RefundStatus.PROCESSING: "PROCESSING",
            RefundStatus.FAILED: "ABNORMAL", RefundStatus.CLOSED: "CLOSED"}[refund.status]


def compact_time(epoch: float | None) -> str | None:
    """v2's yyyyMMddHHmmss in China time."""
    return None if epoch is None else f"{china_now(epoch):%Y%m%d%H%M%S}"


def dashed_time(epoch: float | None) -> str | None:
    """v2 refund times: yyyy-MM-dd HH:mm:ss in China time."""
    return None if epoch is None else f"{china_now(epoch):%Y-%m-%d %H:%M:%S}"


def partner(payment: Payment) -> dict | None:
    """{sp_appid, sp_mchid, sub_mchid, sub_appid?} when a service provider created the order."""
    return payment.extra.get("partner")


# --- APIv3 objects -------------------------------------------------------------------------------------------------

def v3_transaction(payment: Payment, mchid: str) -> dict:
    """The query object (also the plaintext of TRANSACTION.* notifies); partner orders in partner words."""
    state = trade_state(payment)
    sp = partner(payment)
    if sp:
        obj = {"sp_appid": sp["sp_appid"], "sp_mchid": sp["sp_mchid"], "sub_mchid": sp["sub_mchid"]}
        if sp.get("sub_appid"):
            obj["sub_appid"] = sp["sub_appid"]
    else:
        obj = {"appid": payment.extra.get("appid"), "mchid": mchid}
    obj.update(out_trade_no=payment.out_trade_no, trade_state=state, trade_state_desc=STATE_DESC[state],
               attach=payment.attach or "")
    amount = {"total": payment.amount, "currency": payment.currency}
    if payment.was_paid:  # like the real one, an unpaid order has no transaction_id nor trade_type yet
        obj.update(transaction_id=payment.provider_trade_no, bank_type="OTHERS",
                   trade_type=TO_WECHAT.get(payment.trade_type, payment.trade_type),
                   success_time=rfc3339(payment.paid_at))
        amount.update(payer_total=payment.amount, payer_currency=payment.currency)
        obj["payer"] = {"sub_openid" if sp and sp.get("sub_appid") else ("sp_openid" if sp else "openid"):
                        openid_of(payment)}
    elif payment.payer.get("openid") or payment.payer.get("sp_openid") or payment.payer.get("sub_openid"):
        obj["payer"] = {k: v for k, v in payment.payer.items() if k in ("openid", "sp_openid", "sub_openid")}
    obj["amount"] = amount
    if payment.trade_type == "BARCODE" and payment.extra.get("scene_info"):
        obj["scene_info"] = payment.extra["scene_info"]
    return obj


def v3_refund(payment: Payment, refund: Refund) -> dict:
    """The refund object of create / query."""
    obj = {
        "refund_id": refund.provider_refund_no,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": payment.provider_trade_no,
        "out_trade_no": payment.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.created_at),
        "status": refund_status(refund),
        "funds_account": "AVAILABLE",
        "amount": {
            "total": payment.amount, "refund": refund.amount, "payer_total": payment.amount,
            "payer_refund": refund.amount, "settlement_total": payment.amount, "settlement_refund": refund.amount,
            "discount_refund": 0, "currency": payment.currency, "from": [],
        },
        "promotion_detail": [],
    }
    if refund.succeeded_at is not None:
        obj["success_time"] = rfc3339(refund.succeeded_at)
    return obj


def v3_refund_notice(payment: Payment, refund: Refund, mchid: str) -> dict:
    """The plaintext of REFUND.* notifies."""
    sp = partner(payment)
    obj = {"sp_mchid": sp["sp_mchid"], "sub_mchid": sp["sub_mchid"]} if sp else {"mchid": mchid}
    obj.update(out_trade_no=payment.out_trade_no, transaction_id=payment.provider_trade_no,
               out_refund_no=refund.out_refund_no, refund_id=refund.provider_refund_no,
               refund_status=refund_status(refund), user_received_account="支付用户零钱",
               amount={"total": payment.amount, "refund": refund.amount, "payer_total": payment.amount,
                       "payer_refund": refund.amount})
    if refund.succeeded_at is not None:
        obj["success_time"] = rfc3339(refund.succeeded_at)
    return obj
