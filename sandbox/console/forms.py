"""Reading the console's form fields: amounts in yuan, delays with units, short text; bad input says why."""
from __future__ import annotations

from aiohttp import web

from ..core import errors
from ..money import fen_to_yuan, yuan_to_fen

UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def text(fields: dict, name: str, max_length: int = 256) -> str | None:
    value = fields.get(name) or None
    if value is not None and len(value) > max_length:
        raise errors.InvalidInput(f"{name} is longer than {max_length} characters")
    return value


def seconds(fields: dict, name: str, unit_field: str | None = None, maximum: float = 10 * 365 * 86400) -> float:
    """A non-negative number of seconds (times the unit chosen beside it); empty means 0."""
    raw = fields.get(name) or "0"
    try:
        value = float(raw)
    except ValueError:
        raise errors.InvalidInput(f"{name} must be a number, not {raw!r}") from None
    value *= UNITS.get(fields.get(unit_field or "", "s"), 1) if unit_field else 1
    if not 0 <= value <= maximum or value != value:
        raise errors.InvalidInput(f"{name} must be between 0 and {maximum:g} seconds")
    return value


def fen(fields: dict, name: str) -> int:
    raw = fields.get(name, "")
    try:
        value = yuan_to_fen(raw)
    except ValueError:
        raise errors.InvalidInput(f"the amount must be in yuan with at most two decimals (like 0.01), "
                                  f"not {raw!r}") from None
    if value <= 0:
        raise errors.InvalidInput("the amount must be more than 0.00")
    return value


def page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", 1)))
    except ValueError:
        return 1


def fen_text(fen_amount: int) -> str:
    return f"¥{fen_to_yuan(fen_amount)}"
