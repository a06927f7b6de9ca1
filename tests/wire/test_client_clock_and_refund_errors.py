"""Fidelity slips found by real clients (issue 15, item 6).

- WeChat v2 refund errors in the real API's codes and words: more than what is left is INVALID_REQUEST, a fully
  refunded order is ERROR 订单已全额退款, a reused out_refund_no with another amount and a total_fee that is not the
  order's are REFUND_FEE_MISMATCH.
- A time a client stamps from its own wall clock (wechatpy's time_expire = its now + 2 h, a v3 time_expire, an Alipay
  time_expire) is on the sandbox clock once the clock's offset is added: advancing the clock breaks no honest client.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from alipay import AliPay
from wechatpy.exceptions import WeChatPayException

from sandbox.providers.alipay.credentials import python_sdk_config
from wechat_sdks import OPENID, payment_of, v2_client, v3_client

CHINA = timezone(timedelta(hours=8))
MISMATCH = "订单金额或退款金额与之前请求不一致,请核实后再试"


def _refund_error(pay, **kwargs) -> tuple[str, str]:
    with pytest.raises(WeChatPayException) as raised:
        pay.refund.apply(out_trade_no="V2-RF-1", **kwargs)
    return raised.value.errcode, raised.value.errmsg


def test_wechat_v2_refund_errors_in_the_real_words(sandbox, notify_receiver):
    pay, _ = v2_client(sandbox)
    pay.order.create(trade_type="JSAPI", body="Gift pack", total_fee=100, notify_url=notify_receiver.url("/pay"),
                     client_ip="127.0.0.1", out_trade_no="V2-RF-1", user_id=OPENID)
    sandbox.admin.succeed(payment_of(sandbox, "V2-RF-1")["id"])
    assert pay.refund.apply(out_trade_no="V2-RF-1", total_fee=100, refund_fee=60,
                            out_refund_no="R1")["refund_fee"] == "60"
    assert _refund_error(pay, total_fee=100, refund_fee=50, out_refund_no="R2") == (
        "INVALID_REQUEST", "refund_fee大于可退金额")
    assert _refund_error(pay, total_fee=100, refund_fee=70, out_refund_no="R1") == ("REFUND_FEE_MISMATCH", MISMATCH)
    assert _refund_error(pay, total_fee=99, refund_fee=10, out_refund_no="R3") == ("REFUND_FEE_MISMATCH", MISMATCH)
    assert pay.refund.apply(out_trade_no="V2-RF-1", total_fee=100, refund_fee=40,
                            out_refund_no="R4")["refund_fee"] == "40"
    assert _refund_error(pay, total_fee=100, refund_fee=1, out_refund_no="R5") == ("ERROR", "订单已全额退款")
    # the same refund asked again is the same refund, even once the order is fully refunded
    assert pay.refund.apply(out_trade_no="V2-RF-1", total_fee=100, refund_fee=60,
                            out_refund_no="R1")["refund_fee"] == "60"
    assert [r["amount"] for r in sandbox.admin.payment(payment_of(sandbox, "V2-RF-1")["id"])["refunds"]] in (
        [60, 40], [40, 60])


def _expires_at(sandbox, provider: str, out_trade_no: str) -> float:
    (payment,) = sandbox.admin.payments(provider=provider, out_trade_no=out_trade_no)["payments"]
    return sandbox.admin.payment(payment["id"])["expires_at"]


def test_wechatpy_orders_after_the_clock_moved_3_hours(sandbox, notify_receiver):
    sandbox.admin.advance(3 * 3600)
    offset = sandbox.call(_offset(sandbox))
    pay, _ = v2_client(sandbox)
    # wechatpy stamps time_expire = its own wall clock + 2 h: 1 h behind the sandbox clock now
    before = datetime.now(CHINA)
    order = pay.order.create(trade_type="NATIVE", body="Tea", total_fee=100, notify_url=notify_receiver.url("/p"),
                             client_ip="127.0.0.1", out_trade_no="V2-LATE-1", product_id="P")
    assert order["result_code"] == "SUCCESS"
    stamped = _v2_time_expire(sandbox, "V2-LATE-1")
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= stamped <= datetime.now(CHINA) + timedelta(hours=2)
    assert _expires_at(sandbox, "wechat", "V2-LATE-1") == stamped.timestamp() + offset
    assert pay.order.query(out_trade_no="V2-LATE-1")["trade_state"] == "NOTPAY"


def test_v3_and_alipay_time_expire_are_the_clients_wall_time(sandbox, monkeypatch):
    sandbox.admin.advance(3 * 3600)
    offset = sandbox.call(_offset(sandbox))
    wall_in_an_hour = datetime.now(CHINA).replace(microsecond=0) + timedelta(hours=1)
    wx, _ = v3_client(sandbox, monkeypatch, notify_url="https://m.example/n")
    code, text = wx.pay(description="Tea", out_trade_no="V3-LATE-1", amount={"total": 100},
                        time_expire=wall_in_an_hour.isoformat())
    assert code == 200, text
    assert _expires_at(sandbox, "wechat", "V3-LATE-1") == wall_in_an_hour.timestamp() + offset

    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    alipay = AliPay(**python_sdk_config(creds))
    alipay._gateway = f"{sandbox.url}/gateway.do"
    answer = alipay.api_alipay_trade_precreate(subject="Tea", out_trade_no="ALI-LATE-1", total_amount="1.00",
                                               time_expire=wall_in_an_hour.strftime("%Y-%m-%d %H:%M:%S"))
    assert answer["code"] == "10000", answer
    assert _expires_at(sandbox, "alipay", "ALI-LATE-1") == wall_in_an_hour.timestamp() + offset
    # a relative timeout_express counts from the sandbox's own now, as before
    answer = alipay.api_alipay_trade_precreate(subject="Tea", out_trade_no="ALI-LATE-2", total_amount="1.00",
                                               timeout_express="90m")
    assert answer["code"] == "10000", answer


async def _offset(sandbox) -> float:
    return sandbox.engine.clock.offset_s


def _v2_time_expire(sandbox, out_trade_no: str) -> datetime:
    """The time_expire wechatpy sent, from the create request the sandbox kept."""
    detail = sandbox.admin.payment(payment_of(sandbox, out_trade_no)["id"])
    value = json.loads(detail["raw_request"])["time_expire"]
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
