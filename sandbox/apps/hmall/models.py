"""hmall's request bodies (LoginFormDTO, PayApplyDTO, PayOrderFormDTO) and its PayOrderVO."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from ...core.models import Payment, PaymentStatus
from .wire import TRADE_CLOSED, TRADE_SUCCESS, WAIT_BUYER_PAY, java_time

JAVA_LONG = 2 ** 63 - 1
JAVA_INT = 2 ** 31 - 1


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: StrictStr | None = Field(default=None, max_length=256)
    password: StrictStr | None = Field(default=None, max_length=256)
    rememberMe: StrictBool | None = None


class PayApply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # Jackson reads a Long / Integer from a number or a numeric string
    amount: StrictInt | None = Field(default=None, ge=-JAVA_INT - 1, le=JAVA_INT)
    bizOrderNo: StrictInt | None = Field(default=None, ge=-JAVA_LONG - 1, le=JAVA_LONG)
    orderInfo: StrictStr | None = Field(default=None, max_length=4096)
    payChannelCode: StrictStr | None = Field(default=None, max_length=64)
    payType: StrictInt | None = Field(default=None, ge=-JAVA_INT - 1, le=JAVA_INT)


class PayOrderForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictInt | None = Field(default=None, ge=-JAVA_LONG - 1, le=JAVA_LONG)
    pw: StrictStr | None = Field(default=None, max_length=256)


def numeric_strings(body: Any, fields: tuple[str, ...]) -> Any:
    """Jackson coerces "123" to a Long: do the same for the named fields of a JSON object."""
    if isinstance(body, dict):
        for name in fields:
            value = body.get(name)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                body[name] = int(value.strip())
    return body


def pay_status(payment: Payment) -> int:
    if payment.status is PaymentStatus.PENDING:
        return WAIT_BUYER_PAY
    if payment.was_paid:
        return TRADE_SUCCESS
    return TRADE_CLOSED


def pay_order_vo(payment: Payment) -> dict[str, Any]:
    """PayOrderVO: Longs as JSON strings (the original's JsonConfig), times as Spring writes LocalDateTime."""
    extra = payment.extra
    return {
        "id": payment.provider_trade_no,
        "bizOrderNo": payment.out_trade_no,
        "payOrderNo": str(extra.get("pay_order_no")),
        "bizUserId": str(extra.get("biz_user_id")),
        "payChannelCode": extra.get("pay_channel_code"),
        "amount": payment.amount,
        "payType": extra.get("pay_type"),
        "status": pay_status(payment),
        "expandJson": None,
        "resultCode": None,
        "resultMsg": payment.fail_reason,
        "paySuccessTime": java_time(payment.paid_at),
        "payOverTime": java_time(payment.expires_at),
        "qrCodeUrl": extra.get("qr_code_url") or "",
        "createTime": java_time(payment.created_at),
        "updateTime": java_time(payment.updated_at),
    }
