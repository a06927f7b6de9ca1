"""How QuickPay notifies: the PayResultInfo JSON POSTed to notify_url, acknowledged by a body of OK or SUCCESS."""
from __future__ import annotations

import json

from ...core.models import Merchant, Notification, OutboundRequest, Payment, PaymentStatus, Refund
from . import wire

# Ten pushes 20 s apart, then every 30 min while 24 h have not passed since the first (seed 003).
RETRY_DELAYS: tuple[float, ...] = (20.0,) * 9 + (1800.0,) * ((86400 - 9 * 20) // 1800)


class QuickPayChannel:
    provider = wire.PROVIDER
    retry_delays = RETRY_DELAYS

    def payment_event(self, payment: Payment) -> str | None:
        # "once the payment ends": paid or failed; an order closed unpaid is not pushed.
        return {PaymentStatus.SUCCEEDED: "PAY_SUCCESS", PaymentStatus.FAILED: "PAY_FAILED"}.get(payment.status)

    def refund_event(self, payment: Payment, refund: Refund) -> str | None:
        return None  # QuickPay answers refunds synchronously and does not push them

    async def render(self, notification: Notification, merchant: Merchant, attempt: int, now: float) -> OutboundRequest:
        data = wire.pay_result(notification.payment)
        key = merchant.for_provider(wire.PROVIDER).get("key")
        if key:
            data["sign"] = wire.sign(data, key)
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return OutboundRequest(url=notification.url, headers={"Content-Type": "application/json; charset=utf-8"},
                               body=body)

    def is_acknowledged(self, request: OutboundRequest, status: int, body: bytes) -> bool:
        return 200 <= status < 300 and body.strip().strip(b'"').upper() in (b"OK", b"SUCCESS")
