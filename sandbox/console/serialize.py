"""The JSON shapes of the admin API (the console's pages render the same dicts)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..core.clock import Clock
from ..core.models import Merchant, Notification, Payment
from ..money import fen_to_yuan


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds") if epoch else None


def payment_json(payment: Payment, last_attempt: dict | None = None) -> dict[str, Any]:
    data = payment.model_dump(mode="json", exclude={"fingerprint"})
    data["amount_yuan"] = fen_to_yuan(payment.amount)
    data["created_iso"] = iso(payment.created_at)
    if last_attempt is not None:
        data["last_notify"] = last_attempt
    return data


def notification_json(notification: Notification) -> dict[str, Any]:
    return notification.model_dump(mode="json", exclude={"snapshot"})


def payment_detail_json(detail: dict) -> dict[str, Any]:
    return {
        **payment_json(detail["payment"]),
        "refunds": [r.model_dump(mode="json") for r in detail["refunds"]],
        "notifications": [notification_json(n) for n in detail["notifications"]],
        "events": [e.model_dump(mode="json") for e in detail["events"]],
    }


def merchant_json(merchant: Merchant) -> dict[str, Any]:
    return merchant.model_dump(mode="json")


def clock_json(clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {"now": now, "iso": iso(now), "offset_s": clock.offset_s}
