"""Money on the wire (yuan strings) versus inside (integer fen)."""
from __future__ import annotations

import re
from decimal import Decimal

_YUAN = re.compile(r"^(0|[1-9]\d{0,9})(\.\d{1,2})?$")


def yuan_to_fen(text: str) -> int:
    """'0.01' -> 1. Raises ValueError for anything but a plain non-negative amount with at most two decimals."""
    if not isinstance(text, str) or not _YUAN.match(text.strip()):
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(Decimal(text.strip()) * 100)


def fen_to_yuan(fen: int) -> str:
    """1 -> '0.01'."""
    return f"{fen // 100}.{fen % 100:02d}"
