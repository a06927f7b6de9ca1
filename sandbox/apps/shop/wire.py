"""The shop app's wire facts (seed 002, ../shared/specs/merchant-apps.md): the {"status","msg","data"} envelope
(always HTTP 200, as the PHP original answers), its messages, the pay methods, order numbers and times."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import orjson
from aiohttp import web

APP = "shop"
CHINA = timezone(timedelta(hours=8))
ALIPAY_TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # the order string's timestamp, Beijing time like the original's server

# pay_method
WECHAT, ALIPAY, POINTS, WECHAT_POINTS, ALIPAY_POINTS = 1, 2, 3, 4, 5
METHODS = {WECHAT: "wechat", ALIPAY: "alipay", POINTS: "points", WECHAT_POINTS: "wechat", ALIPAY_POINTS: "alipay"}
WITH_POINTS = (WECHAT_POINTS, ALIPAY_POINTS)
# freight_mode: 1 free shipping, 2 not free (then freight_json_arr_key 1 pay on delivery, 2 merchant's choice)
FREE_SHIPPING, NOT_FREE = 1, 2
FREIGHT_KEYS = (1, 2)

# an order's status; pay_state (core/app_data.py) says more: unpaid, paying (a payment is open) or paid
UNPAID, PAID_STATUS = "unpaid", "paid"

# Defaults of the shop's credentials (sandbox convention, see README "Shop app")
POINTS_PER_YUAN = 100  # 100 points = 1 yuan: 1 point is worth 1 fen
TOKEN_TTL_S = 7 * 86400
SUBJECT = "在线支付"
POINTS_TTL_S = 300  # a points payment is paid at once; should that ever not happen, its hold goes back after this

OK = "下单成功"
TOKEN_EXPIRED = "token过期"
BAD_BODY = "参数错误"
BAD_METHOD = "支付方式错误"
FREIGHT_KEY_REQUIRED = "freight_mode=2时freight_json_arr_key必填(1=到付 2=商家自选)"
NO_ORDER = "订单不存在"
PAID = "订单已支付"
NO_ADDRESS = "收货地址不存在"
USE_POINTS = "积分足够支付, 请选择积分支付"
NOT_ENOUGH_FOR_POINTS = "积分不足, 请选择微信或支付宝支付"
NO_POINTS_WITH_API = "微信支付、支付宝支付不使用积分, 使用积分请选择4或5"
POINTS_REQUIRED = "请填写支付积分"
PRICE_MISMATCH = "支付金额与订单金额不符"
POINTS_ONLY_PRICE = "积分支付时支付金额须为0"
NOT_ENOUGH_POINTS = "积分不足"
NO_WECHAT = "商户未开通微信支付"
NO_ALIPAY = "商户未开通支付宝支付"
BUSY = "系统繁忙, 请稍后再试"


def missing(field: str) -> str:
    return f"{field}不能为空"


def malformed(field: str) -> str:
    return f"{field}格式错误"


class ShopError(Exception):
    """An error answer: {"status":0,"msg":…,"data":[]} (an empty PHP array), HTTP 200."""

    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg = msg

    def response(self) -> web.Response:
        return json_response({"status": 0, "msg": self.msg, "data": []})


def success(pay_param) -> web.Response:
    return json_response({"status": 200, "msg": OK, "data": {"pay_param": pay_param}})


def json_response(value) -> web.Response:
    return web.Response(status=200, body=orjson.dumps(value), content_type="application/json")


def out_trade_no(now: float) -> str:
    """18 digits like the seed's 157615203168914672: the 10-digit unix time, then 8 random digits."""
    return f"{int(now)}{secrets.randbelow(10 ** 8):08d}"


def new_token() -> str:
    """32 lowercase hex characters, like the md5 tokens PHP shops hand out."""
    return secrets.token_hex(16)


def alipay_timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, CHINA).strftime(ALIPAY_TIMESTAMP)
