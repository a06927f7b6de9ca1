"""Alipay's words on the wire: error codes, ids, times, trade statuses and the result objects of the trade methods.

Pure functions of the core's Payment / Refund (no I/O); the gateway signs what these build.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone

from ...core.models import CloseReason, Payment, PaymentStatus, Refund, RefundStatus
from ...money import fen_to_yuan

PROVIDER = "alipay"
CHINA = timezone(timedelta(hours=8))  # every time Alipay writes or reads is Beijing time, without a zone
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_FEN = 100_000_000 * 100  # total_amount range [0.01, 100000000]
DEFAULT_TTL_S = 15 * 86400  # timeout_express "若为空，则默认为15d"

PRODUCTS = {
    "alipay.trade.page.pay": ("PAGE", "FAST_INSTANT_TRADE_PAY"),
    "alipay.trade.wap.pay": ("WAP", "QUICK_WAP_PAY"),
    "alipay.trade.app.pay": ("APP", "QUICK_MSECURITY_PAY"),
    "alipay.trade.precreate": ("PRECREATE", "FACE_TO_FACE_PAYMENT"),
    "alipay.trade.create": ("JSAPI", "JSAPI_PAY"),
}

# --- errors ---------------------------------------------------------------------------------------------------

SUCCESS = ("10000", "Success")
UNAVAILABLE = ("20000", "Service Currently Unavailable")
MISSING = ("40001", "Missing Required Arguments")
INVALID = ("40002", "Invalid Arguments")
BUSINESS = ("40004", "Business Failed")


class AlipayError(Exception):
    """One failure answer: code/msg from the table above, sub_code/sub_msg, plus fields the real one carries."""

    def __init__(self, kind: tuple[str, str], sub_code: str, sub_msg: str, **extra):
        super().__init__(f"{sub_code}: {sub_msg}")
        self.code, self.msg = kind
        self.sub_code, self.sub_msg, self.extra = sub_code, sub_msg, extra

    def payload(self) -> dict:
        return {"code": self.code, "msg": self.msg, "sub_code": self.sub_code, "sub_msg": self.sub_msg,
                **self.extra}


def missing(what: str, sub_msg: str) -> AlipayError:
    return AlipayError(MISSING, f"isv.missing-{what}", sub_msg)


def invalid(what: str, sub_msg: str) -> AlipayError:
    return AlipayError(INVALID, f"isv.invalid-{what}", sub_msg)


def business(sub_code: str, sub_msg: str, **extra) -> AlipayError:
    return AlipayError(BUSINESS, f"ACQ.{sub_code}", sub_msg, **extra)


def invalid_parameter(detail: str) -> AlipayError:
    return business("INVALID_PARAMETER", f"参数无效: {detail}")


def system_error(detail: str = "系统繁忙") -> AlipayError:
    return AlipayError(UNAVAILABLE, "isp.unknow-error", detail)


# --- ids and times --------------------------------------------------------------------------------------------

def china_time(epoch: float | None, millis: bool = False) -> str | None:
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, CHINA)
    text = moment.strftime(TIME_FORMAT)
    return text + f".{moment.microsecond // 1000:03d}" if millis else text


def parse_china_time(text: str) -> float:
    """'2026-11-25 18:00:00' (or without seconds) in Beijing time → epoch. ValueError otherwise."""
    for fmt in (TIME_FORMAT, "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=CHINA).timestamp()
        except ValueError:
            continue
    raise ValueError(f"not a time like 2026-01-02 15:04:05: {text!r}")


def trade_no(now: float) -> str:
    """28 digits like the real ones: the Beijing date, 2200 (channel), 14, then 14 random digits."""
    return datetime.fromtimestamp(now, CHINA).strftime("%Y%m%d") + "220014" + f"{secrets.randbelow(10**14):014d}"


def notify_id(notification_id: str, created_at: float) -> str:
    """Stable per notification, so every retry carries the same notify_id (34 digits, date first)."""
    digest = int(hashlib.sha256(notification_id.encode()).hexdigest(), 16)
    return datetime.fromtimestamp(created_at, CHINA).strftime("%Y%m%d") + "00222" + f"{digest % 10**21:021d}"


def _digits(seed: str, n: int) -> str:
    return f"{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**n:0{n}d}"


def buyer_of(payment: Payment) -> dict[str, str]:
    """The payer as Alipay names them. Payments paid without a named buyer get one derived from their id."""
    payer = payment.payer
    buyer_id = payer.get("buyer_id") or ("2088" + _digits(payment.id, 12))
    return {
        "buyer_id": buyer_id,
        "buyer_open_id": payer.get("buyer_open_id"),
        "buyer_logon_id": payer.get("buyer_logon_id") or f"{buyer_id[-3:]}***@sandbox.example.com",
    }


# --- timeouts -------------------------------------------------------------------------------------------------

_EXPRESS = re.compile(r"^([1-9]\d*)([mhdc])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def expiry(now: float, timeout_express: str | None, time_expire: str | None, offset_s: float = 0.0) -> float:
    """When an unpaid trade closes: time_expire wins over timeout_express (1m–15d, or 1c = at Beijing midnight).

    time_expire is the client's wall time: offset_s (the sandbox clock's) puts it on the sandbox clock. A
    timeout_express counts from the sandbox's now, as Alipay counts from its own."""
    if time_expire:
        try:
            at = parse_china_time(time_expire) + offset_s
        except ValueError:
            raise invalid_parameter(f"time_expire {time_expire!r} is not yyyy-MM-dd HH:mm:ss") from None
        if at <= now:
            raise invalid_parameter("time_expire is already past")
        return at
    if not timeout_express:
        return now + DEFAULT_TTL_S
    match = _EXPRESS.match(timeout_express.strip())
    if not match:
        raise invalid_parameter(f"timeout_express {timeout_express!r}: 1m～15d, m/h/d or 1c, no decimals")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "c":
        if count != 1:
            raise invalid_parameter("timeout_express only takes 1c")
        today = datetime.fromtimestamp(now, CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
        return (today + timedelta(days=1)).timestamp()
    seconds = count * _UNIT_S[unit]
    if seconds > 15 * 86400:
        raise invalid_parameter("timeout_express is at most 15d")
    return now + seconds


# --- statuses and results -------------------------------------------------------------------------------------

def trade_status(payment: Payment) -> str:
    if payment.status is PaymentStatus.PENDING:
        return "WAIT_BUYER_PAY"
    if payment.status is PaymentStatus.SUCCEEDED:
        return "TRADE_SUCCESS"
    if payment.status is PaymentStatus.REFUNDED:
        return "TRADE_CLOSED" if payment.refundable <= 0 else "TRADE_SUCCESS"
    return "TRADE_CLOSED"  # CLOSED, and FAILED (Alipay has no failed trade: it can no longer be paid)


def yuan(fen: int) -> str:
    return fen_to_yuan(fen)


def fund_bill_list(payment: Payment) -> list[dict[str, str]]:
    return [{"fund_channel": "ALIPAYACCOUNT", "amount": yuan(payment.amount)}] if payment.was_paid else []


def query_result(payment: Payment) -> dict:
    """alipay.trade.query: the trade as it stands. Unpaid trades report "0.00" for what was not paid."""
    paid = payment.was_paid
    paid_amount = yuan(payment.amount) if paid else "0.00"
    result = {
        "code": SUCCESS[0], "msg": SUCCESS[1],
        "trade_no": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
        "trade_status": trade_status(payment), "total_amount": yuan(payment.amount),
        "buyer_pay_amount": paid_amount, "point_amount": "0.00", "invoice_amount": paid_amount,
        "receipt_amount": paid_amount,
    }
    if paid or payment.payer:
        buyer = buyer_of(payment)
        result.update(buyer_logon_id=buyer["buyer_logon_id"], buyer_user_id=buyer["buyer_id"])
        if buyer["buyer_open_id"]:
            result["buyer_open_id"] = buyer["buyer_open_id"]
    if paid:
        result.update(send_pay_date=china_time(payment.paid_at), fund_bill_list=fund_bill_list(payment),
                      buyer_user_type="PRIVATE")
    if payment.extra.get("body"):
        result["body"] = payment.extra["body"]
    if payment.description:
        result["subject"] = payment.description
    return result


def not_found_query(out_trade_no: str | None) -> dict:
    """What the real query answers for an unknown trade (it still carries the amounts)."""
    extra = {"buyer_pay_amount": "0.00", "invoice_amount": "0.00", "point_amount": "0.00", "receipt_amount": "0.00"}
    if out_trade_no:
        extra["out_trade_no"] = out_trade_no
    return business("TRADE_NOT_EXIST", "交易不存在", **extra).payload()


def refund_result(payment: Payment, refund: Refund, fund_change: bool, refunded: int | None = None) -> dict:
    """alipay.trade.refund: refund_fee is what has been refunded on the trade so far (`refunded` fen: held refunds
    not counted); fund_change=Y only when this call moved money: N on a retry, and N while the refund is held."""
    buyer = buyer_of(payment)
    moved = fund_change and refund.status is RefundStatus.SUCCEEDED
    return {
        "code": SUCCESS[0], "msg": SUCCESS[1],
        "trade_no": payment.provider_trade_no, "out_trade_no": payment.out_trade_no,
        "buyer_logon_id": buyer["buyer_logon_id"], "buyer_user_id": buyer["buyer_id"],
        "fund_change": "Y" if moved else "N",
        "refund_fee": yuan(payment.refunded_amount if refunded is None else refunded),
        "gmt_refund_pay": china_time(refund.succeeded_at or refund.created_at),
        "send_back_fee": yuan(refund.amount),
    }


def refund_query_result(payment: Payment, out_request_no: str, refund: Refund | None,
                        query_options: list[str]) -> dict:
    """alipay.trade.fastpay.refund.query: an unknown out_request_no is still 10000, without refund fields; a refund
    that has not succeeded (held, failed or closed) is answered without refund_status, which Alipay documents as
    "not refunded (yet)"."""
    result = {"code": SUCCESS[0], "msg": SUCCESS[1], "trade_no": payment.provider_trade_no,
              "out_trade_no": payment.out_trade_no, "out_request_no": out_request_no}
    if refund is None:
        return result
    result.update(total_amount=yuan(payment.amount), refund_amount=yuan(refund.amount))
    if refund.status is RefundStatus.SUCCEEDED:
        result["refund_status"] = "REFUND_SUCCESS"
    if refund.reason:
        result["refund_reason"] = refund.reason
    if "gmt_refund_pay" in query_options and refund.succeeded_at is not None:
        result["gmt_refund_pay"] = china_time(refund.succeeded_at)
    return result


def cancel_action(payment: Payment) -> str:
    return "refund" if payment.was_paid else "close"


def was_canceled(payment: Payment) -> bool:
    return payment.close_reason is CloseReason.CANCELED
