"""QuickPay request bodies (seed 003), validated as the real API documents them."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, StringConstraints

Text = Annotated[StrictStr, StringConstraints(strip_whitespace=False)]
StoreNo = Annotated[StrictStr, StringConstraints(min_length=1, max_length=32)]
OrderNo = Annotated[StrictStr, StringConstraints(min_length=1, max_length=32)]
Operator = Annotated[StrictStr, StringConstraints(min_length=1, max_length=16)]
Attach = Annotated[StrictStr, StringConstraints(max_length=127)]
Amount = Annotated[StrictInt, Field(ge=1, le=9_999_999_999)]
Url = Annotated[StrictStr, StringConstraints(max_length=512)]

WECHAT, ALIPAY = 11, 21


class _Body(BaseModel):
    # Unknown fields are ignored like the real .NET model binder does; `sign` is checked separately.
    model_config = ConfigDict(extra="ignore")
    sign: StrictStr | None = None


class ItemInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    item_id: StrictStr | None = None
    item_no: StrictStr | None = None
    item_name: StrictStr | None = None
    quantity: StrictInt | None = None
    price: StrictInt | None = None
    promotion_type: StrictInt | None = None


class JSAPIPay(_Body):
    store_no: StoreNo
    paytype: StrictInt = WECHAT
    operator: Operator = "WEB"
    appid: StrictStr | None = None
    openid: Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]
    amount: Amount
    order_no: OrderNo
    iteminfo: Text | None = None
    notify_url: Url | None = None
    goods_tag: StrictStr | None = None
    share_pay: StrictBool | None = None
    attach: Attach | None = None
    itemlist: list[ItemInfo] | None = None


class BarcodePay(_Body):
    store_no: StoreNo
    operator: Operator
    barcode: Annotated[StrictStr, StringConstraints(min_length=18, max_length=18)]
    pos_pay: StrictBool | None = None
    amount: Amount
    order_no: OrderNo
    iteminfo: Text | None = None
    attach: Attach | None = None
    goods_tag: StrictStr | None = None
    device_no: StrictStr | None = None
    share_pay: StrictBool | None = None
    itemlist: list[ItemInfo] | None = None
    notify_url: Url | None = None


class QRPay(_Body):
    store_no: StoreNo
    operator: Operator = "QRPAY"
    amount: Amount
    order_no: OrderNo
    iteminfo: Text | None = None
    notify_url: Url | None = None
    goods_tag: StrictStr | None = None
    attach: Attach | None = None
    itemlist: list[ItemInfo] | None = None
    qr_format: Annotated[StrictStr, StringConstraints(pattern=r"^(png|url)$")] = "png"


class OrderRef(_Body):
    store_no: StoreNo
    order_no: OrderNo


class Refund(_Body):
    store_no: StoreNo
    operator: Operator = "WEB"
    amount: Amount | None = None
    refund_amount: Amount
    order_no: OrderNo
    refund_no: OrderNo
    refund_desc: Annotated[StrictStr, StringConstraints(max_length=80)] | None = None
    itemlist: list[ItemInfo] | None = None


class RefundQuery(_Body):
    store_no: StoreNo
    order_no: OrderNo
    refund_order_no: OrderNo
