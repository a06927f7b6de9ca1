"""Inbound bodies: APIv3 JSON (typed) and v2 XML (every value a string), with the real APIs' lengths and formats."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, StringConstraints, model_validator


def _s(min_length: int = 1, max_length: int | None = None, pattern: str | None = None):
    return Annotated[StrictStr, StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern)]


OutTradeNo = _s(6, 32, r"^[0-9A-Za-z_\-|*@]+$")  # APIv3: 6-32
V2OutTradeNo = _s(1, 32, r"^[0-9A-Za-z_\-|*@]+$")  # v2: up to 32
OutRefundNo = _s(1, 64, r"^[0-9A-Za-z_\-|*@]+$")
AppId = _s(1, 32)
MchId = _s(1, 32)
Url = _s(0, 4096)  # notify_url: checked by the API in WeChat's own words (providers/notify_url.py)
Fen = Annotated[StrictInt, Field(ge=1, le=100_000_000_000)]


class _V3(BaseModel):
    # Unknown fields are ignored like the real gateway does (goods details, promotion fields ...).
    model_config = ConfigDict(extra="ignore")


class Amount(_V3):
    total: Fen
    currency: Literal["CNY"] = "CNY"


class Payer(_V3):
    openid: _s(1, 128) | None = None
    sp_openid: _s(1, 128) | None = None
    sub_openid: _s(1, 128) | None = None
    auth_code: _s(1, 128) | None = None


class H5Info(_V3):
    type: _s(1, 32)
    app_name: StrictStr | None = None
    app_url: StrictStr | None = None


class SceneInfo(_V3):
    payer_client_ip: _s(1, 45) | None = None
    device_id: StrictStr | None = None
    device_ip: StrictStr | None = None
    h5_info: H5Info | None = None
    store_info: dict[str, Any] | None = None


class _Order(_V3):
    description: _s(1, 127)
    out_trade_no: OutTradeNo
    time_expire: _s(1, 64) | None = None
    attach: _s(0, 128) | None = None
    notify_url: Url | None = None
    goods_tag: StrictStr | None = None
    support_fapiao: StrictBool | None = None
    amount: Amount
    payer: Payer | None = None
    scene_info: SceneInfo | None = None


class DirectOrder(_Order):
    appid: AppId
    mchid: MchId


class PartnerOrder(_Order):
    sp_appid: AppId
    sp_mchid: MchId
    sub_appid: AppId | None = None
    sub_mchid: MchId


class DirectClose(_V3):
    mchid: MchId


class PartnerClose(_V3):
    sp_mchid: MchId
    sub_mchid: MchId


class RefundAmount(_V3):
    refund: Fen
    total: Fen
    currency: Literal["CNY"]


class RefundRequest(_V3):
    sub_mchid: MchId | None = None
    transaction_id: _s(1, 32) | None = None
    out_trade_no: OutTradeNo | None = None
    out_refund_no: OutRefundNo
    reason: _s(0, 80) | None = None
    notify_url: Url | None = None
    funds_account: StrictStr | None = None
    amount: RefundAmount

    @model_validator(mode="after")
    def _names_an_order(self):
        if not (self.transaction_id or self.out_trade_no):
            raise ValueError("transaction_id or out_trade_no is required")
        return self


# --- v2: flat XML, strings only --------------------------------------------------------------------------------------

Digits = _s(1, 12, r"^[1-9][0-9]*$")  # fen, positive


class _V2(BaseModel):
    model_config = ConfigDict(extra="ignore")
    appid: AppId
    mch_id: MchId
    nonce_str: _s(1, 32)
    sign: _s(1, 64)
    sign_type: Literal["MD5", "HMAC-SHA256"] | None = None
    sub_mch_id: MchId | None = None
    sub_appid: AppId | None = None


class UnifiedOrder(_V2):
    body: _s(1, 128)
    out_trade_no: V2OutTradeNo
    total_fee: Digits
    fee_type: Literal["CNY"] | None = None
    spbill_create_ip: _s(1, 64)
    notify_url: Url
    trade_type: Literal["JSAPI", "NATIVE", "APP", "MWEB"]
    openid: _s(1, 128) | None = None
    sub_openid: _s(1, 128) | None = None
    product_id: _s(1, 32) | None = None
    attach: _s(0, 127) | None = None
    detail: StrictStr | None = None
    device_info: _s(0, 32) | None = None
    time_start: _s(14, 14, r"^[0-9]+$") | None = None
    time_expire: _s(14, 14, r"^[0-9]+$") | None = None
    scene_info: StrictStr | None = None


class Micropay(_V2):
    body: _s(1, 128)
    out_trade_no: V2OutTradeNo
    total_fee: Digits
    fee_type: Literal["CNY"] | None = None
    spbill_create_ip: _s(1, 64)
    auth_code: _s(1, 128)
    attach: _s(0, 127) | None = None
    detail: StrictStr | None = None
    device_info: _s(0, 32) | None = None
    goods_tag: StrictStr | None = None


class OrderRef(_V2):
    transaction_id: _s(1, 32) | None = None
    out_trade_no: V2OutTradeNo | None = None

    @model_validator(mode="after")
    def _names_an_order(self):
        if not (self.transaction_id or self.out_trade_no):
            raise ValueError("transaction_id or out_trade_no is required")
        return self


class CloseOrder(_V2):
    out_trade_no: V2OutTradeNo


class V2Refund(OrderRef):
    out_refund_no: OutRefundNo
    total_fee: Digits
    refund_fee: Digits
    refund_fee_type: Literal["CNY"] | None = None
    refund_desc: _s(0, 80) | None = None
    notify_url: Url | None = None


class V2RefundQuery(_V2):
    transaction_id: _s(1, 32) | None = None
    out_trade_no: V2OutTradeNo | None = None
    out_refund_no: OutRefundNo | None = None
    refund_id: _s(1, 32) | None = None

    @model_validator(mode="after")
    def _names_something(self):
        if not (self.transaction_id or self.out_trade_no or self.out_refund_no or self.refund_id):
            raise ValueError("one of refund_id, out_refund_no, transaction_id, out_trade_no is required")
        return self


class GetSignKey(BaseModel):
    model_config = ConfigDict(extra="ignore")
    mch_id: MchId
    nonce_str: _s(1, 32)
    sign: _s(1, 64)
