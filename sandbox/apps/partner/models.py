"""The pay call's body, the partner's records (users, gift packs, coupons, addresses) and the order_info answered."""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, \
    StringConstraints, ValidationError

from . import wire

HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
RECORD_ID = r"^[A-Za-z0-9_-]{1,64}$"
MAX_FEN = 10 ** 12


def _int_text(value: Any) -> Any:
    """A form sends "1"; a JSON body may send 1 or "1" (PHP-style backends take both)."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        return int(value)
    return value


IntField = Annotated[StrictInt, BeforeValidator(_int_text)]
Text64 = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PayBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: Annotated[StrictStr, StringConstraints(strip_whitespace=True, pattern=HEX32.pattern)]
    pay_type: Annotated[IntField, Field(ge=1, le=2)]
    gift_pos_id: Text64
    coupon_id: Text64 | None = None
    address_id: Annotated[IntField, Field(ge=1, le=2 ** 63 - 1)]
    sign: Text64


class UnsignedPayBody(PayBody):
    """The body of a partner that turned sign checking off: `sign` may be left out."""
    sign: Text64 | None = None


BAD_FIELD = {
    "user_id": "用户id格式错误，应为32位十六进制字符串",
    "pay_type": "支付类型只能是1(余额)或2(支付宝)",
    "gift_pos_id": "礼包id格式错误",
    "coupon_id": "优惠券id格式错误",
    "address_id": "地址id必须是正整数",
    "sign": "签名格式错误",
}


def pay_body(fields: dict[str, Any], signed: bool = True) -> PayBody:
    """The validated body; wire.PartnerError naming every bad field (a missing or empty one: 「…不能为空」).
    signed=False: `sign` may be missing (a partner that turned checking off)."""
    present = {k: v for k, v in fields.items() if v is not None and v != ""}
    try:
        return (PayBody if signed else UnsignedPayBody).model_validate(present)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "body"
            if name in problems:
                continue
            problems[name] = f"{wire.LABELS[name]}不能为空" if error["type"] == "missing" else \
                BAD_FIELD.get(name, wire.BAD_BODY)
        ordered = {name: problems[name] for name in wire.LABELS if name in problems}
        raise wire.PartnerError(ordered or {"body": wire.BAD_BODY}) from None


# ----- records (fixtures and the admin API) -------------------------------------------------------------------

class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class User(_Record):
    """A partner user; `balance` (fen) opens the user's ledger account and is not kept in the record."""
    phone: Annotated[StrictStr, StringConstraints(max_length=32)] = ""
    real_name: Annotated[StrictStr, StringConstraints(max_length=64)] = ""
    level: StrictInt = Field(default=0, ge=0, le=100)  # V0 … V100
    level_id: Annotated[StrictStr, StringConstraints(max_length=64)] = ""
    id_no: Annotated[StrictStr, StringConstraints(max_length=32)] = ""
    balance: StrictInt = Field(default=0, ge=0, le=MAX_FEN)


class Gift(_Record):
    title: Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]
    price: StrictInt = Field(ge=1, le=MAX_FEN)  # fen
    score: StrictInt = Field(default=0, ge=0, le=MAX_FEN)


class Coupon(_Record):
    amount: StrictInt = Field(ge=1, le=MAX_FEN)  # fen off the price
    used: StrictBool = False
    user_id: Annotated[StrictStr, StringConstraints(pattern=HEX32.pattern)] | None = None  # None: anyone's
    title: Annotated[StrictStr, StringConstraints(max_length=64)] = ""


class Address(_Record):
    name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]
    phone: Annotated[StrictStr, StringConstraints(max_length=32)] = ""
    address: Annotated[StrictStr, StringConstraints(min_length=1, max_length=256)]
    user_id: Annotated[StrictStr, StringConstraints(pattern=HEX32.pattern)] | None = None  # None: anyone's


RECORD_MODELS: dict[str, type[_Record]] = {"user": User, "gift": Gift, "coupon": Coupon, "address": Address}


def valid_record_id(kind: str, record_id: str) -> str:
    if kind == "user":
        if not HEX32.match(record_id):
            raise ValueError("a partner user id is 32 hex characters")
        return record_id.lower()
    if kind == "address":
        if not record_id.isdigit() or not 1 <= int(record_id) < 2 ** 63:
            raise ValueError("an address id is a positive whole number")
        return str(int(record_id))
    if not re.match(RECORD_ID, record_id):
        raise ValueError(f"a {kind} id is 1-64 letters, digits, _ or -")
    return record_id


# ----- the answer -------------------------------------------------------------------------------------------

def order_info(data: dict[str, Any]) -> dict[str, Any]:
    """The seed's order_info from an order record: the fields written when it was placed, and those its pay state
    decides (order_status 1 paid / 0 unpaid, the pay time once paid)."""
    paid = data.get("pay_state") == "paid"
    paid_ms = wire.epoch_ms(data["paid_at"]) if paid and data.get("paid_at") is not None else None
    state = {"order_status": wire.ORDER_PAID if paid else wire.ORDER_UNPAID,
             "order_pay_time": wire.china_time(paid_ms) if paid_ms is not None else "",
             "order_pay_time_stamp": paid_ms or 0}
    return {key: state[key] if key in state else data[key] for key in wire.ORDER_INFO_KEYS}
