"""Keyset paging of the payment list, shared by the console and the admin API.

A page ends with a cursor naming its last payment, (created_at, id); the next page starts right after it, read off
the index however deep it is. `offset` stays for small values. Counting stops at COUNT_BOUND ("more than N")."""
from __future__ import annotations

import base64
import binascii

from ..store.payments import COUNT_BOUND

MAX_OFFSET = 1000


def cursor(payment) -> str:
    """The opaque `after=` value that continues the list after this payment."""
    return base64.urlsafe_b64encode(f"{payment.created_at!r} {payment.id}".encode()).decode().rstrip("=")


def parse_cursor(text: str) -> tuple[float, str]:
    """(created_at, id) from a cursor; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        created_at, payment_id = raw.split(" ", 1)
        return float(created_at), payment_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"after={text!r} is not a cursor this list gave (use the `next` of the previous page)") \
            from None


def total_text(total: int) -> str:
    """'3 payments', '1 payment', or 'more than 10,000 payments' past the bound."""
    if total > COUNT_BOUND:
        return f"more than {COUNT_BOUND:,} payments"
    return f"{total:,} payment{'s' if total != 1 else ''}"
