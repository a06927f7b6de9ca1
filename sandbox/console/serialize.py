"""The JSON shapes of the admin API (the console's pages render the same dicts)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..core.clock import Clock
from ..core.models import Merchant, Notification, Payment, PaymentStatus
from ..core.rules import Rule, shadowed_by
from ..money import fen_to_yuan


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds") if epoch else None


def payment_json(payment: Payment, last_attempt: dict | None = None) -> dict[str, Any]:
    data = payment.model_dump(mode="json", exclude={"fingerprint"})
    data["amount_yuan"] = fen_to_yuan(payment.amount)
    data["created_iso"] = iso(payment.created_at)
    # REFUNDED covers partial refunds too (the provider still says TRADE_SUCCESS / SUCCESS for those): say which
    refunded = payment.status is PaymentStatus.REFUNDED
    data["refund_state"] = ("full" if payment.refunded_amount >= payment.amount else "partial") if refunded else "none"
    data["display_status"] = "PARTIALLY REFUNDED" if data["refund_state"] == "partial" else payment.status.value
    data["refunded_yuan"] = fen_to_yuan(payment.refunded_amount)
    if last_attempt is not None:
        data["last_notify"] = last_attempt
    return data


def shadow_warning(rule: Rule, rules: list[Rule]) -> str | None:
    """Plain words when an earlier rule matches everything `rule` matches (so `rule` never applies), else None."""
    earlier = shadowed_by(rules, rule)
    if not earlier:
        return None
    first = earlier[0]
    position = next(i for i, r in enumerate(rules, start=1) if r.id == first.id)
    what = "call" if rule.action.injects_fault else "payment"
    return (f"Never applies: rule #{position} ({first.name or first.id}) comes first and matches every {what} this "
            f"one matches. Move this rule above it, or narrow that rule.")


def rule_json(rule: Rule, rules: list[Rule]) -> dict[str, Any]:
    """A rule with its place in the order rules are tried (1: first) and the earlier rules that shadow it."""
    position = next((i for i, r in enumerate(rules, start=1) if r.id == rule.id), None)
    return {**rule.model_dump(), "position": position, "shadowed_by": [r.id for r in shadowed_by(rules, rule)],
            "warning": shadow_warning(rule, rules)}


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
