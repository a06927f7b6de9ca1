"""What the core asks of a provider about notifications, without importing any provider.

The app hands the engine one NotifyChannel per provider name. The engine asks it which event (if any) a change
produces; the notifier asks it to render each attempt exactly as the provider would send it, and to judge the reply.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from .models import Merchant, Notification, OutboundRequest, Payment, Refund


class NotifyChannel(Protocol):
    provider: str
    # Gaps (seconds) after each failed attempt: len(retry_delays) retries, then the notification has failed.
    retry_delays: Sequence[float]

    def payment_event(self, payment: Payment) -> str | None:
        """The provider's event name for the payment's new status, or None when it sends nothing."""

    def refund_event(self, payment: Payment, refund: Refund) -> str | None:
        """The provider's event name for a refund, or None when it sends nothing."""

    async def render(self, notification: Notification, merchant: Merchant, attempt: int, now: float) -> OutboundRequest:
        """The exact request of one attempt (signed; timestamps from `now`, the sandbox clock)."""

    def is_acknowledged(self, request: OutboundRequest, status: int, body: bytes) -> bool:
        """Did the merchant's reply to `request` (the attempt as rendered) acknowledge the notify?"""
