"""The partner app's wire facts (seed 001): the {"code","errors","msg","result"} envelope, its messages, the order
number and time formats, and the order_info keys in the seed's order (original spellings kept)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from aiohttp import web

APP = "partner"
CHINA = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

PAY_BALANCE, PAY_ALIPAY = 1, 2
PAY_TYPES = {PAY_BALANCE: "BALANCE", PAY_ALIPAY: "ALIPAY"}
ORDER_UNPAID, ORDER_PAID = 0, 1
ORDER_TYPE = 1          # the seed's only order type (buying a gift pack)
ORDER_NAME = "购买机器"  # the seed's order_name
ALIPAY_TIMEOUT = "30m"  # sandbox convention: an unpaid Alipay order closes after 30 minutes

OK_MSG = "操作成功"
# What each field is called in the seed's document, for the messages
LABELS = {"user_id": "用户id", "pay_type": "支付类型", "gift_pos_id": "礼包id", "coupon_id": "优惠券id",
          "address_id": "地址id", "sign": "签名"}
BAD_BODY = "请求参数格式错误"
BAD_SIGN = "签名错误"
NO_USER = "用户不存在"
NO_GIFT = "礼包不存在"
NO_COUPON = "优惠券不存在"
USED_COUPON = "优惠券已使用"
HELD_COUPON = "优惠券已被未支付的订单占用"
NO_ADDRESS = "地址不存在"
NO_MONEY = "余额不足"
NO_ALIPAY = "商户未开通支付宝支付"
BUSY = "系统繁忙，请稍后再试"

# order_info, in the seed's key order
ORDER_INFO_KEYS = (
    "order_no", "gift_pos_id", "order_express_time_stamp", "bill_no", "order_time", "order_name", "user_id_no",
    "gift_title", "order_status", "coupon_id", "order_express_number", "user_phone", "pay_type", "order_time_stamp",
    "id", "order_type", "user_level_id", "order_express_name", "order_express_time", "order_receieve_phone",
    "receive_time", "order_price", "order_desc", "order_express_address", "order_pay_time", "order_receieve_name",
    "platform_remark", "order_score", "deduct_price", "user_id", "user_real_name", "order_receieve_address",
    "third_order_no", "order_pay_time_stamp", "order_express_no",
)
# What the pay state decides; every other key is written when the order is placed
PAY_STATE_KEYS = ("order_status", "order_pay_time", "order_pay_time_stamp")


class PartnerError(Exception):
    """An answer with code 0: `errors` maps each bad field to its message; msg is the first of them."""

    def __init__(self, errors: dict[str, str], msg: str | None = None):
        super().__init__(msg or next(iter(errors.values()), ""))
        self.errors, self.msg = errors, msg or next(iter(errors.values()), "")

    @classmethod
    def field(cls, name: str, message: str) -> "PartnerError":
        return cls({name: message})

    def response(self) -> web.Response:
        return json_response({"code": 0, "errors": self.errors, "msg": self.msg, "result": {}})


def success(result: dict[str, Any]) -> web.Response:
    return json_response({"code": 1, "errors": {}, "msg": OK_MSG, "result": result})


def json_response(value: Any, status: int = 200) -> web.Response:
    # orjson writes an empty dict as {} (PHP-style backends answer "errors": {} too)
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")


def china_time(ms: int) -> str:
    """"2022-01-07 17:57:55": Beijing time of an epoch in milliseconds."""
    return datetime.fromtimestamp(ms / 1000, CHINA).strftime(TIME_FORMAT)


def epoch_ms(ts: float) -> int:
    return int(ts * 1000)


class OrderClock:
    """Order times in ms, strictly increasing within a process, so two orders never share an order_no."""

    def __init__(self):
        self.last_ms = 0
        self.lock = threading.Lock()

    def next_ms(self, now: float) -> int:
        with self.lock:
            self.last_ms = max(epoch_ms(now), self.last_ms + 1)
            return self.last_ms


def order_no(ms: int) -> str:
    """yyyyMMddHHmmss (Beijing) + the 13-digit ms timestamp: 202201071757551641549475668."""
    return datetime.fromtimestamp(ms / 1000, CHINA).strftime("%Y%m%d%H%M%S") + f"{ms:013d}"
