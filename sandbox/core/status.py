"""Which status may follow which: the one place that says so."""
from __future__ import annotations

from .models import PaymentStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.CLOSED}),
    S.SUCCEEDED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset({S.REFUNDED}),  # one more partial refund
    S.FAILED: frozenset(),
    S.CLOSED: frozenset(),
}


def can_move(current: S, target: S) -> bool:
    return target in ALLOWED[current]


def is_paid(status: S) -> bool:
    return status in (S.SUCCEEDED, S.REFUNDED)
