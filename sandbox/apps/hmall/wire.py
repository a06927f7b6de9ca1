"""hmall's wire facts: the {"code","msg","data"} error envelope (HTTP status = code), its enums, snowflake ids, and
how Spring writes times and Longs."""
from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta, timezone

import orjson
from aiohttp import web

APP = "hmall"
CHINA = timezone(timedelta(hours=8))
PAY_ORDER_TTL_S = 120 * 60  # pay_over_time = now + 120 min

# PayStatus
NOT_COMMIT, WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_SUCCESS = 0, 1, 2, 3
# PayType
PAY_TYPES = {1: "JSAPI", 2: "MINI_APP", 3: "APP", 4: "NATIVE", 5: "BALANCE"}
BALANCE = 5
# Order status of trade-service
ORDER_UNPAID, ORDER_PAID = 1, 2
# UserStatus
USER_FROZEN, USER_NORMAL = 0, 1

# The messages of the original, word for word
NOT_LOGGED_IN = "未登录"
BAD_TOKEN = "无效的token"
TOKEN_EXPIRED = "token已经过期"
BAD_LOGIN = "用户名或密码错误"
FROZEN = "用户被冻结"
ONLY_BALANCE = "抱歉，目前只支持余额支付"
ALREADY_PAID = "订单已经支付！"
CLOSED = "订单已关闭"
PAID_OR_CLOSED = "交易已支付或关闭！"
WRONG_PASSWORD = "用户密码错误"
NO_MONEY = "扣款失败，可能是余额不足！"
BAD_REQUEST = "请求参数格式错误"
SERVER_ERROR = "服务器内部异常"


class HmallError(Exception):
    """What the original's CommonExceptionAdvice answers: HTTP status = code, {"code","msg","data":null}."""

    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg

    def response(self) -> web.Response:
        return json_response({"code": self.code, "msg": self.msg, "data": None}, status=self.code)


def json_response(value, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")


def java_time(ts: float | None) -> str | None:
    """A LocalDateTime as Spring's Jackson writes it (ISO, no zone), in Beijing time like the original's servers."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, CHINA).replace(tzinfo=None).isoformat(timespec="seconds")


class Snowflake:
    """19-digit ids shaped like MyBatis-Plus IdWorker: ms since its 2010 epoch, a worker id, a sequence."""
    EPOCH_MS = 1288834974657

    def __init__(self, worker: int | None = None):
        self.worker = random.getrandbits(10) if worker is None else worker
        self.last_ms, self.sequence = 0, 0
        self.lock = threading.Lock()

    def next(self, now: float | None = None) -> int:
        with self.lock:
            ms = max(int((now if now is not None else time.time()) * 1000), self.last_ms)
            if ms == self.last_ms:
                self.sequence = (self.sequence + 1) & 0xFFF
                if self.sequence == 0:
                    ms += 1
            else:
                self.sequence = 0
            self.last_ms = ms
            return ((ms - self.EPOCH_MS) << 22) | (self.worker << 12) | self.sequence
