"""The shop's pay call body (form or JSON, values as PHP would take them) and its records (users, orders, addresses)
as the admin API and the fixtures give them."""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ...core import errors
from . import wire

MAX_ID = 2 ** 63 - 1
MAX_FEN = 10 ** 12


def _int(value: Any) -> Any:
    """An int, a digit string ("12", " 12 ") or a whole JSON number (12.0); anything else stays and fails."""
    if isinstance(value, bool):
        raise ValueError("not a whole number")
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 19:
            return int(text)
        raise ValueError("not a whole number")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and abs(value) <= MAX_ID and value == value.to_integral_value():
        return int(value)
    return value


def _fen(value: Any) -> Any:
    """pay_price in yuan (a JSON number or a numeric string, at most two decimals) → whole fen."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValueError("not an amount")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError("not an amount") from None
    if not amount.is_finite() or amount < 0 or amount * 100 > MAX_FEN or amount * 100 != int(amount * 100):
        raise ValueError("not an amount in yuan with at most two decimals")
    return int(amount * 100)


Int = Annotated[int, BeforeValidator(_int), Field(ge=0, le=MAX_ID, strict=True)]
Fen = Annotated[int, BeforeValidator(_fen)]


class PayForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    order_id: Int
    pay_method: Int
    pay_price: Fen = 0  # fen (the wire says yuan)
    pay_integral: Int = 0
    address_id: Int
    freight_mode: Int
    freight_json_arr_key: Int = 0


def pay_form(raw: dict[str, Any]) -> PayForm:
    """The body as PayForm, or ShopError naming the first field that is missing or malformed. An empty value of an
    optional field is its default (PHP's forms send "" for an untouched input)."""
    fields = PayForm.model_fields
    values = {k: v for k, v in raw.items()
              if k in fields and v is not None and not (v == "" and not fields[k].is_required())}
    try:
        return PayForm.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "body"
        if first["type"] == "missing" or values.get(field) == "":
            raise wire.ShopError(wire.missing(field)) from None
        raise wire.ShopError(wire.malformed(field)) from None


# ----- records (admin API, fixtures) --------------------------------------------------------------------------

def record_id(value: Any, what: str) -> int:
    try:
        number = _int(value)
    except ValueError:
        number = None
    if not isinstance(number, int) or not 1 <= number <= MAX_ID:
        raise errors.InvalidInput(f"a shop {what} id is a positive whole number")
    return number


def _text(data: dict, key: str, default: str = "", limit: int = 256) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str) or len(value) > limit:
        raise errors.InvalidInput(f"{key}: text of at most {limit} characters")
    return value


def _count(data: dict, key: str, what: str, default: int | None = None, minimum: int = 0) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_FEN:
        raise errors.InvalidInput(f"{key}: {what}, a whole number from {minimum}")
    return value


def user(ident: Any, data: dict) -> dict:
    """{nickname, phone, points (the opening points of a new user)}."""
    return {"id": record_id(ident, "user"), "nickname": _text(data, "nickname", limit=64),
            "phone": _text(data, "phone", limit=32), "points": _count(data, "points", "points", 0)}


def order(ident: Any, data: dict) -> dict:
    """{user_id, price (fen, > 0), title, status (unpaid, or paid: an order paid elsewhere)}."""
    status = data.get("status", wire.UNPAID)
    if status not in (wire.UNPAID, wire.PAID_STATUS):
        raise errors.InvalidInput(f"status is {wire.UNPAID} or {wire.PAID_STATUS}")
    return {"id": record_id(ident, "order"), "user_id": record_id(data.get("user_id"), "user"),
            "title": _text(data, "title", wire.SUBJECT, limit=128) or wire.SUBJECT,
            "price": _count(data, "price", "fen", minimum=1), "status": status}


def address(ident: Any, data: dict) -> dict:
    """{user_id, name, phone, detail}."""
    return {"id": record_id(ident, "address"), "user_id": record_id(data.get("user_id"), "user"),
            "name": _text(data, "name", limit=64), "phone": _text(data, "phone", limit=32),
            "detail": _text(data, "detail", limit=512)}
