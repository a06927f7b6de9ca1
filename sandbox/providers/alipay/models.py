"""biz_content of each trade method, validated as the real gateway documents it (unknown fields are ignored)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictStr, StringConstraints, model_validator

from ...money import yuan_to_fen


def _text(value: Any) -> Any:
    # The gateway is Java + fastjson: a number where a string is expected is taken as its text.
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return value


Str = Annotated[StrictStr, BeforeValidator(_text)]
OutTradeNo = Annotated[Str, StringConstraints(min_length=1, max_length=64)]
TradeNo = Annotated[Str, StringConstraints(min_length=1, max_length=64)]
Subject = Annotated[Str, StringConstraints(min_length=1, max_length=256)]
Amount = Annotated[Str, StringConstraints(min_length=1, max_length=16)]
UserId = Annotated[Str, StringConstraints(min_length=1, max_length=128)]


def fen(text: str, field: str) -> int:
    """'0.01' → 1; ValueError (→ ACQ.INVALID_PARAMETER) for anything but a positive amount with ≤ 2 decimals."""
    try:
        value = yuan_to_fen(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not an amount in yuan with at most two decimals") from None
    if value <= 0:
        raise ValueError(f"{field} must be at least 0.01")
    return value


class _Biz(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _TradeRef(_Biz):
    """Methods that name an existing trade: trade_no wins over out_trade_no when both are given."""
    out_trade_no: OutTradeNo | None = None
    trade_no: TradeNo | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if not self.out_trade_no and not self.trade_no:
            raise ValueError("out_trade_no and trade_no cannot both be empty")
        return self


class PayBiz(_Biz):
    """page.pay, wap.pay, app.pay, precreate, create."""
    out_trade_no: OutTradeNo
    total_amount: Amount
    subject: Subject
    product_code: Str | None = None
    body: Annotated[Str, StringConstraints(max_length=128)] | None = None
    timeout_express: Str | None = None
    time_expire: Str | None = None
    passback_params: Annotated[Str, StringConstraints(max_length=512)] | None = None
    seller_id: Annotated[Str, StringConstraints(max_length=28)] | None = None
    buyer_id: Annotated[Str, StringConstraints(max_length=28)] | None = None
    buyer_open_id: UserId | None = None
    buyer_logon_id: Annotated[Str, StringConstraints(max_length=100)] | None = None
    store_id: Annotated[Str, StringConstraints(max_length=32)] | None = None
    operator_id: Annotated[Str, StringConstraints(max_length=28)] | None = None
    terminal_id: Annotated[Str, StringConstraints(max_length=32)] | None = None
    quit_url: Annotated[Str, StringConstraints(max_length=400)] | None = None
    goods_detail: list[dict[str, Any]] | None = None

    @property
    def amount_fen(self) -> int:
        return fen(self.total_amount, "total_amount")


class QueryBiz(_TradeRef):
    query_options: list[Str] | None = None


class CloseBiz(_TradeRef):
    operator_id: Str | None = None


class CancelBiz(_TradeRef):
    pass


class RefundBiz(_TradeRef):
    refund_amount: Amount
    out_request_no: Annotated[Str, StringConstraints(min_length=1, max_length=64)] | None = None
    refund_reason: Annotated[Str, StringConstraints(max_length=256)] | None = None
    operator_id: Str | None = None

    @property
    def amount_fen(self) -> int:
        return fen(self.refund_amount, "refund_amount")


class RefundQueryBiz(_TradeRef):
    out_request_no: Annotated[Str, StringConstraints(min_length=1, max_length=64)]
    query_options: list[Str] | None = None
