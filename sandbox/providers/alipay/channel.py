"""How Alipay notifies: a signed trade_status_sync form POSTed to notify_url, acknowledged by the body `success`."""
from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from ...core.models import Merchant, Notification, OutboundRequest, Payment, PaymentStatus, Refund, RefundStatus
from . import signing, wire

# 4m, 10m, 10m, 1h, 2h, 6h, 15h: eight notifies in about 25 h
RETRY_DELAYS: tuple[float, ...] = (240.0, 600.0, 600.0, 3600.0, 7200.0, 21600.0, 54000.0)


class AlipayChannel:
    provider = wire.PROVIDER
    retry_delays = RETRY_DELAYS

    def payment_event(self, payment: Payment) -> str | None:
        # TRADE_SUCCESS and TRADE_CLOSED notify by default; WAIT_BUYER_PAY does not.
        if payment.status is PaymentStatus.PENDING:
            return None
        return wire.trade_status(payment)

    def refund_event(self, payment: Payment, refund: Refund) -> str | None:
        # A refund notifies once it has succeeded (a held one when it is settled so): TRADE_SUCCESS while money is
        # left on the trade, TRADE_CLOSED once it is all back. A refund that fails or is closed moves no money and
        # leaves the trade as it was, so trade_status_sync has nothing to say: fastpay.refund.query tells.
        if refund.status is not RefundStatus.SUCCEEDED:
            return None
        return wire.trade_status(payment)

    async def render(self, notification: Notification, merchant: Merchant, attempt: int, now: float) -> OutboundRequest:
        credentials = merchant.for_provider(wire.PROVIDER)
        fields = notify_fields(notification, credentials, now)
        params = await asyncio.to_thread(signing.notify_params, fields, credentials["alipay_private_key_pem"])  # RSA
        charset = params.get("charset", "utf-8")
        body = urlencode(params, encoding="gbk" if charset == "gbk" else "utf-8").encode("ascii")
        return OutboundRequest(url=notification.url, body=body, headers={
            "Content-Type": f"application/x-www-form-urlencoded; charset={charset}"})

    def is_acknowledged(self, request: OutboundRequest, status: int, body: bytes) -> bool:
        # Anything but the seven characters `success` (surrounding whitespace aside) means "send it again".
        return status == 200 and body.strip() == b"success"


def notify_fields(notification: Notification, credentials: dict, now: float) -> dict:
    """The unsigned trade_status_sync fields of one notify (empty ones are dropped when signing)."""
    payment, refund = notification.payment, notification.refund
    paid = payment.was_paid
    status = wire.trade_status(payment)
    buyer = wire.buyer_of(payment) if paid or payment.payer else {}
    paid_amount = wire.yuan(payment.amount) if paid else None
    fields = {
        "notify_time": wire.china_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": wire.notify_id(notification.id, notification.created_at),
        "app_id": credentials["app_id"],
        "auth_app_id": credentials["app_id"],
        "charset": payment.extra.get("charset") or "utf-8",
        "version": "1.0",
        "trade_no": payment.provider_trade_no,
        "out_trade_no": payment.out_trade_no,
        "buyer_id": buyer.get("buyer_id"),
        "buyer_open_id": buyer.get("buyer_open_id"),
        "buyer_logon_id": buyer.get("buyer_logon_id"),
        "seller_id": credentials.get("seller_id"),
        "seller_email": credentials.get("seller_email"),
        "trade_status": status,
        "total_amount": wire.yuan(payment.amount),
        "receipt_amount": paid_amount,
        "invoice_amount": paid_amount,
        "buyer_pay_amount": paid_amount,
        "point_amount": "0.00" if paid else None,
        "fund_bill_list": [{"amount": paid_amount, "fundChannel": "ALIPAYACCOUNT"}] if paid else None,
        "subject": payment.description,
        "body": payment.extra.get("body"),
        "passback_params": payment.attach,
        "gmt_create": wire.china_time(payment.created_at),
        "gmt_payment": wire.china_time(payment.paid_at),
    }
    if refund is not None:
        fields.update(refund_fee=wire.yuan(payment.refunded_amount), out_biz_no=refund.out_refund_no,
                      gmt_refund=wire.china_time(refund.succeeded_at or refund.created_at, millis=True))
    if status == "TRADE_CLOSED":
        closed_at = payment.closed_at or (refund.succeeded_at if refund is not None else None) or payment.updated_at
        fields["gmt_close"] = wire.china_time(closed_at)
    return fields
