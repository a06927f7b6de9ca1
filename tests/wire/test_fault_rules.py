"""Fault rules: a rule can make matching API calls answer the provider's own "system busy" error, or answer late, for
the first N calls or all of them, so a merchant's retry and timeout handling meets the real shapes. Driven with the
real SDKs; nothing is created by a faulted call."""
from __future__ import annotations

import time

import pytest
import requests
from alipay import AliPay
from wechatpayv3 import WeChatPayType
from wechatpy.exceptions import WeChatPayException

from sandbox.providers.alipay.credentials import python_sdk_config
from test_quickpay_flow import call, jsapi
from wechat_sdks import v2_client, v3_client


def fault(sandbox, provider: str, operation: str | None = None, times: int | None = None, delay_s: float = 0,
          error: bool = True, api_drop: bool = False, **match) -> dict:
    action = {"api_error": error, "api_drop": api_drop, "api_delay_s": delay_s}
    if times:
        action["api_times"] = times
    return sandbox.admin.add_rule(name=f"{provider} fault", match={"provider": provider, "operation": operation,
                                                                    **match}, action=action)


def hits(sandbox, rule_id: str) -> int:
    return next(r["hits"] for r in sandbox.admin.rules()["rules"] if r["id"] == rule_id)


def test_quickpay_create_fails_once_then_goes_through(sandbox):
    rule = fault(sandbox, "quickpay", "create", times=1)
    busy = call(sandbox, "JSAPIPay", jsapi("FAULT-QP-1"))
    assert busy["code"] == "FAIL" and "系统繁忙" in busy["msg"]
    assert sandbox.admin.payments(out_trade_no="FAULT-QP-1")["total"] == 0  # nothing was created
    retried = call(sandbox, "JSAPIPay", jsapi("FAULT-QP-1"))
    assert retried["code"] == "SUCCESS" and retried["data"]["transaction_status"] == "CREATE"
    assert hits(sandbox, rule["id"]) == 1
    # other operations were never matched: a query goes through
    assert call(sandbox, "Query", {"store_no": "QP10000001", "order_no": "FAULT-QP-1"})["code"] == "SUCCESS"


def test_a_late_answer_times_the_merchant_out_and_matches_by_out_trade_no(sandbox):
    rule = fault(sandbox, "quickpay", error=False, delay_s=2, out_trade_no_pattern="^SLOW-")
    with pytest.raises(requests.Timeout):  # the client's own timeout fires: no answer within its 0.5 s
        requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=jsapi("SLOW-1"), timeout=0.5)
    # the call itself goes through, late: the order exists once the delay has passed
    wait_until(lambda: sandbox.admin.payments(out_trade_no="SLOW-1")["total"] == 1, "SLOW-1 created late")
    # a patient client gets the answer
    answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=jsapi("SLOW-2"), timeout=30).json()
    assert answer["code"] == "SUCCESS" and answer["data"]["order_no"] == "SLOW-2"
    # an order the pattern does not match is not the rule's: it goes through and is not counted
    fast = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=jsapi("FAST-1"), timeout=30).json()
    assert fast["code"] == "SUCCESS"
    assert hits(sandbox, rule["id"]) == 2


def wait_until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def test_wechat_v3_query_answers_a_signed_500_system_error(sandbox, monkeypatch):
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat-pubkey", kind=WeChatPayType.NATIVE)
    code, _ = wx.pay(description="Fault", out_trade_no="FAULT-V3-1", amount={"total": 100},
                     notify_url="https://m.example/n")
    assert code == 200
    rule = fault(sandbox, "wechat", "query", times=2)
    for _ in range(2):
        # wechatpayv3 verifies only 2xx answers: the 500's signature is checked in test_planted_bugs_wire.py
        code, body = wx.query(out_trade_no="FAULT-V3-1")
        assert code == 500 and '"code":"SYSTEM_ERROR"' in body
    code, body = wx.query(out_trade_no="FAULT-V3-1")
    assert code == 200 and '"trade_state":"NOTPAY"' in body
    assert hits(sandbox, rule["id"]) == 2
    # the payment's timeline shows both faulted calls, then the query that went through
    (payment,) = sandbox.admin.payments(out_trade_no="FAULT-V3-1")["payments"]
    summaries = [e["summary"] for e in sandbox.admin.payment(payment["id"])["events"]]
    assert summaries.count("query call faulted by rule wechat fault: system error") == 2
    assert any(s.startswith("GET /v3/pay/transactions/out-trade-no/FAULT-V3-1") for s in summaries)


def test_wechat_v3_create_fault_by_amount_creates_nothing(sandbox, monkeypatch):
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat-pubkey", kind=WeChatPayType.NATIVE)
    fault(sandbox, "wechat", "create", amount=503)
    code, body = wx.pay(description="Fault", out_trade_no="FAULT-V3-2", amount={"total": 503},
                        notify_url="https://m.example/n")
    assert code == 500 and "SYSTEM_ERROR" in body
    assert sandbox.admin.payments(out_trade_no="FAULT-V3-2")["total"] == 0
    code, _ = wx.pay(description="Other amount", out_trade_no="FAULT-V3-3", amount={"total": 100},
                     notify_url="https://m.example/n")
    assert code == 200


def test_wechat_v2_unifiedorder_answers_systemerror(sandbox):
    pay, _ = v2_client(sandbox)
    fault(sandbox, "wechat", "create", times=1)
    with pytest.raises(WeChatPayException) as busy:  # wechatpy checked the answer's signature first
        pay.order.create(trade_type="NATIVE", body="Fault", total_fee=100, notify_url="https://m.example/n",
                         client_ip="127.0.0.1", out_trade_no="FAULT-V2-1", product_id="P-1")
    assert busy.value.errcode == "SYSTEMERROR"
    assert sandbox.admin.payments(out_trade_no="FAULT-V2-1")["total"] == 0
    created = pay.order.create(trade_type="NATIVE", body="Fault", total_fee=100, notify_url="https://m.example/n",
                               client_ip="127.0.0.1", out_trade_no="FAULT-V2-1", product_id="P-1")
    assert created["result_code"] == "SUCCESS" and created["code_url"]


def test_alipay_precreate_answers_20000_then_the_refund_is_faulted_only(sandbox):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    sdk = AliPay(**python_sdk_config(creds))
    sdk._gateway = f"{sandbox.url}/gateway.do"
    fault(sandbox, "alipay", "create", times=1)
    busy = sdk.api_alipay_trade_precreate(subject="Fault", out_trade_no="FAULT-ALI-1", total_amount="1.00")
    assert busy["code"] == "20000" and busy["sub_code"] == "isp.unknow-error"  # the SDK verified its sign
    assert sandbox.admin.payments(out_trade_no="FAULT-ALI-1")["total"] == 0
    assert sdk.api_alipay_trade_precreate(subject="Fault", out_trade_no="FAULT-ALI-1",
                                          total_amount="1.00")["code"] == "10000"
    (payment,) = sandbox.admin.payments(out_trade_no="FAULT-ALI-1")["payments"]
    sandbox.admin.succeed(payment["id"])

    fault(sandbox, "alipay", "refund", merchant_id="demo-alipay")
    refused = sdk.api_alipay_trade_refund(out_trade_no="FAULT-ALI-1", refund_amount="0.50", out_request_no="R1")
    assert refused["code"] == "20000"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 0  # nothing was refunded
    assert sdk.api_alipay_trade_query(out_trade_no="FAULT-ALI-1")["trade_status"] == "TRADE_SUCCESS"


def test_fault_rules_do_not_touch_new_payments_and_are_validated(sandbox):
    fault(sandbox, "quickpay", "query")  # a fault rule first in line ...
    created = call(sandbox, "JSAPIPay", jsapi("FAULT-QP-9", amount=411))  # ... and the ¥4.11 magic amount
    assert created["code"] == "SUCCESS"
    (payment,) = sandbox.admin.payments(out_trade_no="FAULT-QP-9")["payments"]
    assert payment["auto_action"] == "succeed"  # the payment rule applied, not the fault rule
    for bad in ({"api_delay_s": 61}, {"api_times": 0}, {"api_delay_s": -1}):
        response = requests.post(f"{sandbox.url}/_sandbox/api/rules", json={"action": bad}, timeout=5)
        assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_BODY"
    for bad in ({"match": {"operation": "pay"}},  # not an operation
                {"match": {"trade_type": "NATIVE"}, "action": {"api_error": True}}):  # calls do not say their type
        response = requests.post(f"{sandbox.url}/_sandbox/api/rules", json=bad, timeout=5)
        assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_BODY", bad


def test_a_dropped_connection_gets_no_answer_and_changes_nothing(sandbox):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    sdk = AliPay(**python_sdk_config(creds))
    sdk._gateway = f"{sandbox.url}/gateway.do"
    fault(sandbox, "alipay", "create", times=1, error=False, api_drop=True)
    with pytest.raises(ConnectionError):  # the SDK's urllib: RemoteDisconnected, "closed without response"
        sdk.api_alipay_trade_precreate(subject="Dropped", out_trade_no="FAULT-DROP-1", total_amount="1.00")
    assert sandbox.admin.payments(out_trade_no="FAULT-DROP-1")["total"] == 0
    assert sdk.api_alipay_trade_precreate(subject="Dropped", out_trade_no="FAULT-DROP-1",
                                          total_amount="1.00")["code"] == "10000"
