"""Reading the console's form fields: amounts in yuan, delays with units, short text; bad input says why."""
from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from ..core import errors
from ..money import fen_to_yuan, yuan_to_fen

UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


class FieldError(errors.InvalidInput):
    """Bad input in one form field: the page shows `message` next to that field (and `text` on top)."""

    def __init__(self, field: str, message: str, label: str | None = None):
        super().__init__(f"{label[:1].upper()}{label[1:]}: {message}" if label else
                         f"{field} {message}" if field else message)
        self.field, self.field_message = field, message


def text(fields: dict, name: str, max_length: int = 256) -> str | None:
    value = fields.get(name) or None
    if value is not None and len(value) > max_length:
        raise FieldError(name, f"is longer than {max_length} characters")
    return value


def _choices(expected: str) -> str:
    return expected.replace("'", "")


def plain_error(exc: ValidationError, labels: dict[str, str] | None = None) -> FieldError:
    """A model's first complaint in plain words, for the form field it is about (the last part of its location:
    ("match", "amount") is the form's "amount"). A complaint about the whole model is the form's "" field."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    field = loc[-1] if loc else ""
    kind, ctx, msg = first["type"], first.get("ctx") or {}, first["msg"]
    seconds = field.endswith("_s")
    if kind == "greater_than":
        message = "must be more than ¥0.00" if field == "amount" else f"must be more than {ctx.get('gt'):g}"
    elif kind == "greater_than_equal":
        message = "cannot be negative" if ctx.get("ge") == 0 else f"must be at least {ctx.get('ge'):g}"
    elif kind == "less_than_equal":
        message = f"must be at most {_limit(ctx.get('le'), field)}" + (" seconds" if seconds else "")
    elif kind in ("float_parsing", "float_type", "finite_number"):
        message = "must be a number"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        message = "must be a whole number"
    elif kind == "literal_error":
        message = f"must be one of {_choices(str(ctx.get('expected', '')))}"
    elif kind in ("string_too_long", "too_long"):
        message = f"is too long (at most {ctx.get('max_length')} characters)"
    elif kind == "value_error":
        message = msg.removeprefix("Value error, ")
    else:
        message = msg[:1].lower() + msg[1:]
    label = (labels or {}).get(field, field.replace("_", " ")) if field else "This rule"
    return FieldError(field, message, label)


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


def _limit(value, field: str) -> str:
    """A bound in plain figures: ¥ for amounts (fen), whole numbers with separators, never 1e+09."""
    if field == "amount":
        return fen_text(int(value))
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


MAX_PAGE = 10**6  # past any list the console shows; a larger ?page= is clamped, never an overflow in SQL


def page_number(request: web.Request) -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.query.get("page", 1))))
    except ValueError:
        return 1


def fen_text(fen_amount: int) -> str:
    return f"¥{fen_to_yuan(fen_amount)}"
