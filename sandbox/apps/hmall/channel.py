"""How hmall's pay-service tells trade-service: message `pay.success` (the bizOrderNo) to exchange `pay.direct`.

Sandbox convention: the message is POSTed to the hmall merchant's `trade_notify_url` as the JSON body Spring AMQP's
Jackson converter would carry (the bare bizOrderNo), with the exchange and routing key in headers; any 2xx is the
ack. Retries follow hmall's listener retry settings (3 attempts, 1 s apart)."""
from __future__ import annotations

from ...core.models import Merchant, Notification, OutboundRequest, Payment, PaymentStatus, Refund
from .wire import APP

EXCHANGE, ROUTING_KEY = "pay.direct", "pay.success"


class TradeNotifyChannel:
    provider = APP
    retry_delays = (1.0, 1.0)

    def payment_event(self, payment: Payment) -> str | None:
        return ROUTING_KEY if payment.status is PaymentStatus.SUCCEEDED else None

    def refund_event(self, payment: Payment, refund: Refund) -> str | None:
        return None

    async def render(self, notification: Notification, merchant: Merchant, attempt: int, now: float) -> OutboundRequest:
        body = notification.payment.out_trade_no.encode()  # the bizOrderNo, a JSON number
        return OutboundRequest(url=notification.url, body=body, headers={
            "Content-Type": "application/json", "X-Sandbox-Exchange": EXCHANGE,
            "X-Sandbox-Routing-Key": ROUTING_KEY, "X-Sandbox-Attempt": str(attempt)})

    def is_acknowledged(self, request: OutboundRequest, status: int, body: bytes) -> bool:
        return 200 <= status < 300
