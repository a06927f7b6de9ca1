"""Alipay over the wire with python-alipay-sdk, unmodified but for its gateway (`alipay._gateway`)."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from alipay import AliPay

from sandbox.appkeys import PROVIDERS
from sandbox.providers.alipay.credentials import python_sdk_config

MERCHANT = "demo-alipay"


@pytest.fixture
def creds(sandbox) -> dict:
    return sandbox.admin.merchant(MERCHANT)["credentials"]["alipay"]


@pytest.fixture
def sdk(sandbox, creds) -> AliPay:
    client = AliPay(**python_sdk_config(creds))
    client._gateway = f"{sandbox.url}/gateway.do"
    return client


def payment_of(sandbox, out_trade_no: str) -> dict:
    (payment,) = sandbox.admin.payments(out_trade_no=out_trade_no, provider="alipay")["payments"]
    return payment


def verified_form(sdk: AliPay, body: bytes) -> dict:
    """What a merchant does with a notify: parse the form, pop sign, verify (verify() drops sign_type itself)."""
    data = dict(parse_qsl(body.decode("utf-8")))
    signature = data.pop("sign")
    assert sdk.verify(dict(data), signature), data
    return data


def test_precreate_pay_notify_query_refund_and_refund_query(sandbox, sdk, notify_receiver):
    created = sdk.api_alipay_trade_precreate(subject="测试 order & co", out_trade_no="PY-1", total_amount="1.00",
                                            notify_url=notify_receiver.url())
    assert created["code"] == "10000" and created["out_trade_no"] == "PY-1"
    payment = payment_of(sandbox, "PY-1")
    assert created["qr_code"] == f"{sandbox.url}/_sandbox/pay/{payment['id']}"
    assert payment["amount"] == 100 and payment["trade_type"] == "PRECREATE"
    trade_no = payment["provider_trade_no"]
    assert len(trade_no) == 28 and trade_no.isdigit()

    # the same request again is the same trade and the same QR code
    assert sdk.api_alipay_trade_precreate(subject="测试 order & co", out_trade_no="PY-1", total_amount="1.00",
                                          notify_url=notify_receiver.url()) == created

    waiting = sdk.api_alipay_trade_query(out_trade_no="PY-1")
    assert waiting["trade_status"] == "WAIT_BUYER_PAY" and waiting["trade_no"] == trade_no
    assert waiting["total_amount"] == "1.00" and waiting["receipt_amount"] == "0.00"

    sandbox.admin.succeed(payment["id"])
    (notify,) = notify_receiver.wait_for(1)
    assert notify.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    data = verified_form(sdk, notify.body)
    assert data["trade_status"] == "TRADE_SUCCESS" and data["notify_type"] == "trade_status_sync"
    assert data["out_trade_no"] == "PY-1" and data["trade_no"] == trade_no and data["total_amount"] == "1.00"
    assert data["app_id"] == sdk._appid and data["subject"] == "测试 order & co"
    assert json.loads(data["fund_bill_list"]) == [{"amount": "1.00", "fundChannel": "ALIPAYACCOUNT"}]
    assert data["buyer_id"].startswith("2088") and len(data["buyer_id"]) == 16

    paid = sdk.api_alipay_trade_query(trade_no=trade_no)
    assert paid["trade_status"] == "TRADE_SUCCESS" and paid["buyer_pay_amount"] == "1.00"
    assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "1.00"}]

    first = sdk.api_alipay_trade_refund("0.40", out_trade_no="PY-1", out_request_no="R-1", refund_reason="坏了")
    assert first["code"] == "10000" and first["fund_change"] == "Y" and first["refund_fee"] == "0.40"
    again = sdk.api_alipay_trade_refund("0.40", out_trade_no="PY-1", out_request_no="R-1")
    assert again["fund_change"] == "N" and again["refund_fee"] == "0.40"
    other_amount = sdk.api_alipay_trade_refund("0.50", out_trade_no="PY-1", out_request_no="R-1")
    assert other_amount["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    too_much = sdk.api_alipay_trade_refund("0.61", out_trade_no="PY-1", out_request_no="R-2")
    assert too_much["code"] == "40004" and too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    rest = sdk.api_alipay_trade_refund("0.60", trade_no=trade_no, out_request_no="R-3")
    assert rest["fund_change"] == "Y" and rest["refund_fee"] == "1.00"

    partial, full = (verified_form(sdk, n.body) for n in notify_receiver.wait_for(3)[1:])
    assert partial["trade_status"] == "TRADE_SUCCESS" and partial["refund_fee"] == "0.40"
    assert partial["out_biz_no"] == "R-1" and len(partial["gmt_refund"]) == 23  # with milliseconds
    assert full["trade_status"] == "TRADE_CLOSED" and full["refund_fee"] == "1.00" and full["out_biz_no"] == "R-3"
    assert "gmt_close" in full

    found = sdk.api_alipay_trade_fastpay_refund_query("R-1", out_trade_no="PY-1")
    assert found["refund_amount"] == "0.40" and found["total_amount"] == "1.00"
    assert found["refund_status"] == "REFUND_SUCCESS"
    unknown = sdk.api_alipay_trade_fastpay_refund_query("R-404", out_trade_no="PY-1")
    assert unknown["code"] == "10000" and "refund_status" not in unknown and "refund_amount" not in unknown
    assert sdk.api_alipay_trade_query(out_trade_no="PY-1")["trade_status"] == "TRADE_CLOSED"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 100


def test_create_needs_a_buyer_then_close_notifies_trade_closed(sandbox, sdk, notify_receiver):
    no_buyer = sdk.api_alipay_trade_create(subject="JSAPI", out_trade_no="PY-2", total_amount="0.01")
    assert no_buyer["sub_code"] == "ACQ.INVALID_PARAMETER"
    created = sdk.api_alipay_trade_create(subject="JSAPI", out_trade_no="PY-2", total_amount="0.01",
                                          buyer_id="2088102177846880", notify_url=notify_receiver.url())
    assert created["code"] == "10000" and len(created["trade_no"]) == 28
    waiting = sdk.api_alipay_trade_query(out_trade_no="PY-2")
    assert waiting["buyer_user_id"] == "2088102177846880"

    closed = sdk.api_alipay_trade_close(out_trade_no="PY-2")
    assert closed == {"code": "10000", "msg": "Success", "trade_no": created["trade_no"], "out_trade_no": "PY-2"}
    assert sdk.api_alipay_trade_close(out_trade_no="PY-2")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert sdk.api_alipay_trade_query(out_trade_no="PY-2")["trade_status"] == "TRADE_CLOSED"
    (notify,) = notify_receiver.wait_for(1)
    data = verified_form(sdk, notify.body)
    assert data["trade_status"] == "TRADE_CLOSED" and "gmt_close" in data and "gmt_payment" not in data

    again = sdk.api_alipay_trade_create(subject="JSAPI", out_trade_no="PY-2", total_amount="0.01",
                                        buyer_id="2088102177846880")
    assert again["sub_code"] == "ACQ.TRADE_HAS_CLOSE"


def test_cancel_closes_an_unpaid_trade_and_refunds_a_paid_one(sandbox, sdk, notify_receiver):
    sdk.api_alipay_trade_precreate(subject="c", out_trade_no="PY-3", total_amount="2.00")
    assert sdk.api_alipay_trade_cancel(out_trade_no="PY-3")["action"] == "close"
    assert sdk.api_alipay_trade_query(out_trade_no="PY-3")["trade_status"] == "TRADE_CLOSED"

    sdk.api_alipay_trade_precreate(subject="c", out_trade_no="PY-4", total_amount="2.00",
                                   notify_url=notify_receiver.url())
    sandbox.admin.succeed(payment_of(sandbox, "PY-4")["id"])
    canceled = sdk.api_alipay_trade_cancel(out_trade_no="PY-4")
    assert canceled["action"] == "refund" and canceled["retry_flag"] == "N"
    assert sdk.api_alipay_trade_cancel(out_trade_no="PY-4")["action"] == "refund"  # a retry answers the same
    assert sandbox.admin.payment(payment_of(sandbox, "PY-4")["id"])["refunded_amount"] == 200
    paid_notify, refund_notify = notify_receiver.wait_for(2)
    assert verified_form(sdk, refund_notify.body)["trade_status"] == "TRADE_CLOSED"


def test_same_out_trade_no_with_other_parameters(sandbox, sdk):
    sdk.api_alipay_trade_precreate(subject="a", out_trade_no="PY-5", total_amount="1.00")
    changed = sdk.api_alipay_trade_precreate(subject="a", out_trade_no="PY-5", total_amount="2.00")
    assert changed["code"] == "40004" and changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    sandbox.admin.succeed(payment_of(sandbox, "PY-5")["id"])
    for amount in ("1.00", "2.00"):
        paid = sdk.api_alipay_trade_precreate(subject="a", out_trade_no="PY-5", total_amount=amount)
        assert paid["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"
    assert sandbox.admin.payments(out_trade_no="PY-5")["total"] == 1


def test_notify_retries_keep_the_notify_id_until_success(sandbox, sdk, notify_receiver):
    notify_receiver.replies = [(200, "fail"), (200, "SUCCESS"), (500, "success")]
    sdk.api_alipay_trade_precreate(subject="r", out_trade_no="PY-6", total_amount="0.01",
                                   notify_url=notify_receiver.url())
    payment = payment_of(sandbox, "PY-6")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    for step, gap in enumerate((240, 600, 600), start=2):  # 4m, 10m, 10m
        sandbox.admin.advance(gap)
        notify_receiver.wait_for(step)
    attempts = notify_receiver.wait_for(4)
    ids = {dict(parse_qsl(a.text))["notify_id"] for a in attempts}
    assert len(ids) == 1
    times = [dict(parse_qsl(a.text))["notify_time"] for a in attempts]
    assert times == sorted(times) and len(set(times)) == 4
    (notification,) = sandbox.admin.payment(payment["id"])["notifications"]
    assert notification["status"] == "delivered" and notification["attempts"] == 4


def test_page_and_wap_pay_redirect_to_the_cashier_then_return_url_is_signed(sandbox, sdk, creds):
    for method, call, trade_type in (("alipay.trade.page.pay", sdk.api_alipay_trade_page_pay, "PAGE"),
                                     ("alipay.trade.wap.pay", sdk.api_alipay_trade_wap_pay, "WAP")):
        out_trade_no = f"PY-{trade_type}"
        query = call(subject="页面", out_trade_no=out_trade_no, total_amount="8.88",
                     return_url="https://merchant.example.com/return?from=alipay",
                     notify_url="https://merchant.example.com/notify")
        opened = requests.get(f"{sandbox.url}/gateway.do?{query}", timeout=10)  # follows the redirect
        payment = payment_of(sandbox, out_trade_no)
        assert opened.history and opened.history[0].status_code == 302
        assert opened.history[0].headers["Location"] == f"{sandbox.url}/_sandbox/pay/{payment['id']}"
        assert payment["trade_type"] == trade_type and payment["amount"] == 888

        provider = sandbox.app[PROVIDERS]["alipay"]
        merchant = sandbox.engine.merchant(MERCHANT)
        unpaid = sandbox.call(sandbox.engine.get_payment(payment["id"]))
        assert provider.after_payment_url(unpaid, merchant) is None
        sandbox.admin.succeed(payment["id"])
        paid = sandbox.call(sandbox.engine.get_payment(payment["id"]))
        url = provider.after_payment_url(paid, merchant)
        assert url.startswith("https://merchant.example.com/return?from=alipay&")
        data = dict(parse_qsl(urlsplit(url).query))
        assert data.pop("from") == "alipay"
        signature = data.pop("sign")
        assert sdk.verify(dict(data), signature)
        assert data["method"] == method + ".return" and data["out_trade_no"] == out_trade_no
        assert data["total_amount"] == "8.88" and data["seller_id"] == creds["seller_id"]
        assert data["trade_no"] == payment["provider_trade_no"]


def test_a_browser_form_post_with_everything_in_the_body(sandbox, sdk):
    query = sdk.api_alipay_trade_page_pay(subject="form", out_trade_no="PY-FORM", total_amount="1.00")
    fields = dict(parse_qsl(query))
    posted = requests.post(f"{sandbox.url}/gateway.do", data=fields, allow_redirects=False, timeout=10)
    assert posted.status_code == 302
    assert posted.headers["Location"].endswith(payment_of(sandbox, "PY-FORM")["id"])
    tampered = requests.post(f"{sandbox.url}/gateway.do", data={**fields, "biz_content": fields["biz_content"]
                             .replace("1.00", "0.01")}, allow_redirects=False, timeout=10)
    assert tampered.status_code == 200 and "isv.invalid-signature" in tampered.text
    assert tampered.headers["Content-Type"].startswith("text/html")
    assert sandbox.admin.payments(out_trade_no="PY-FORM")["total"] == 1


def test_timeout_express_closes_the_trade_on_the_sandbox_clock(sandbox, sdk, notify_receiver):
    sdk.api_alipay_trade_precreate(subject="t", out_trade_no="PY-7", total_amount="0.01", timeout_express="90m",
                                   notify_url=notify_receiver.url())
    sdk.api_alipay_trade_precreate(subject="t", out_trade_no="PY-8", total_amount="0.01")  # default 15d
    sandbox.admin.advance(90 * 60 + 1)
    (notify,) = notify_receiver.wait_for(1)
    assert verified_form(sdk, notify.body)["trade_status"] == "TRADE_CLOSED"
    assert sdk.api_alipay_trade_query(out_trade_no="PY-7")["trade_status"] == "TRADE_CLOSED"
    assert sdk.api_alipay_trade_query(out_trade_no="PY-8")["trade_status"] == "WAIT_BUYER_PAY"
    bad = sdk.api_alipay_trade_precreate(subject="t", out_trade_no="PY-9", total_amount="0.01",
                                         timeout_express="1.5h")
    assert bad["sub_code"] == "ACQ.INVALID_PARAMETER"


def test_new_merchant_from_the_admin_api_works_with_the_sdk(sandbox):
    merchant = sandbox.admin.create_merchant("Fresh app", {"alipay": {}})
    creds = merchant["credentials"]["alipay"]
    assert creds["app_id"].startswith("2021") and "BEGIN" in creds["app_private_key_pem"]
    assert sandbox.admin.merchant(merchant["id"])["credentials"]["alipay"]["alipay_public_key_pem"]
    client = AliPay(**python_sdk_config(creds))
    client._gateway = f"{sandbox.url}/gateway.do"
    assert client.api_alipay_trade_precreate(subject="n", out_trade_no="N-1", total_amount="0.01")["code"] == "10000"
    # the demo app's trades are not this app's
    assert client.api_alipay_trade_query(out_trade_no="PY-1")["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    # a request signed with another app's key is refused, in a response the SDK still verifies
    impostor = AliPay(**{**python_sdk_config(creds), "app_private_key_string": sandbox.admin.merchant(
        MERCHANT)["credentials"]["alipay"]["app_private_key_pem"]})
    impostor._gateway = client._gateway
    refused = impostor.api_alipay_trade_precreate(subject="n", out_trade_no="N-2", total_amount="0.01")
    assert refused["code"] == "40002" and refused["sub_code"] == "isv.invalid-signature"
    assert sandbox.admin.payments(out_trade_no="N-2")["total"] == 0


def test_numbers_where_strings_are_expected_are_taken_as_text(sandbox, sdk):
    # merchants often pass total_amount=0.1 (a float): the SDK sends a JSON number and the real gateway accepts it
    created = sdk.api_alipay_trade_precreate(subject="f", out_trade_no=20261125001, total_amount=0.1)
    assert created["code"] == "10000" and created["out_trade_no"] == "20261125001"
    assert payment_of(sandbox, "20261125001")["amount"] == 10


def test_paying_on_the_cashier_page_sends_the_browser_to_the_signed_return_url(sandbox, sdk):
    browser = requests.Session()
    query = sdk.api_alipay_trade_page_pay(subject="收银台", out_trade_no="PY-CASHIER", total_amount="0.50",
                                          return_url="https://merchant.example.com/return")
    page = browser.get(f"{sandbox.url}/gateway.do?{query}", timeout=10)
    payment = payment_of(sandbox, "PY-CASHIER")
    assert page.status_code == 200 and page.url == f"{sandbox.url}/_sandbox/pay/{payment['id']}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    paid = browser.post(f"{page.url}/pay", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert paid.status_code == 303, paid.text[:500]
    target = paid.headers["Location"]
    assert target.startswith("https://merchant.example.com/return?")
    data = dict(parse_qsl(urlsplit(target).query))
    assert sdk.verify(data, data.pop("sign"))
    assert data["out_trade_no"] == "PY-CASHIER" and data["method"] == "alipay.trade.page.pay.return"
    assert sdk.api_alipay_trade_query(out_trade_no="PY-CASHIER")["trade_status"] == "TRADE_SUCCESS"


def test_calls_about_a_trade_appear_on_its_timeline(sandbox, sdk):
    created = sdk.api_alipay_trade_precreate(subject="tl", out_trade_no="PY-TL-1", total_amount="1.00")
    assert sdk.api_alipay_trade_precreate(subject="tl", out_trade_no="PY-TL-1", total_amount="1.00") == created
    sdk.api_alipay_trade_query(out_trade_no="PY-TL-1")
    payment = payment_of(sandbox, "PY-TL-1")
    sandbox.admin.succeed(payment["id"])
    assert sdk.api_alipay_trade_close(out_trade_no="PY-TL-1")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    sdk.api_alipay_trade_refund("0.10", out_trade_no="PY-TL-1", out_request_no="TL-R1")
    sdk.api_alipay_trade_fastpay_refund_query("TL-R1", out_trade_no="PY-TL-1")
    sdk.api_alipay_trade_cancel(out_trade_no="PY-TL-1")

    api = [e for e in sandbox.admin.payment(payment["id"])["events"] if e["kind"] == "api"]
    assert [e["summary"] for e in api] == [
        "alipay.trade.precreate", "alipay.trade.query", "alipay.trade.close", "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query", "alipay.trade.cancel"]
    for event in api:
        request = event["data"]["request"]
        assert "sign" not in request and request["app_id"] == sdk._appid
        assert request["biz_content"]["out_trade_no"] == "PY-TL-1"  # parsed, not a JSON string
        assert event["data"]["response"]["sign"]  # the answer as sent, signature included
    repeat, query, close, refund, refund_query, cancel = (e["data"]["response"] for e in api)
    assert repeat["alipay_trade_precreate_response"]["qr_code"] == created["qr_code"]
    assert query["alipay_trade_query_response"]["trade_status"] == "WAIT_BUYER_PAY"
    assert close["alipay_trade_close_response"]["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert refund["alipay_trade_refund_response"]["refund_fee"] == "0.10"
    assert refund_query["alipay_trade_fastpay_refund_query_response"]["refund_status"] == "REFUND_SUCCESS"
    assert cancel["alipay_trade_cancel_response"]["action"] == "refund"


def test_a_held_refund_moves_no_money_until_settled_and_notifies_only_when_it_succeeds(sandbox, sdk, notify_receiver):
    sandbox.admin.add_rule(match={"amount": 779}, action={"refund": "processing"})
    sdk.api_alipay_trade_precreate(subject="held", out_trade_no="PY-HOLD", total_amount="7.79",
                                   notify_url=notify_receiver.url())
    payment = payment_of(sandbox, "PY-HOLD")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)

    held = sdk.api_alipay_trade_refund("3.00", out_trade_no="PY-HOLD", out_request_no="H-1")
    assert held["code"] == "10000" and held["fund_change"] == "N" and held["refund_fee"] == "0.00"
    waiting = sdk.api_alipay_trade_fastpay_refund_query("H-1", out_trade_no="PY-HOLD")
    assert waiting["refund_amount"] == "3.00" and "refund_status" not in waiting

    (refund,) = sandbox.admin.payment(payment["id"])["refunds"]
    sandbox.admin.refund_outcome(refund["id"], "succeed")
    settled = verified_form(sdk, notify_receiver.wait_for(2)[1].body)
    assert settled["trade_status"] == "TRADE_SUCCESS" and settled["refund_fee"] == "3.00"
    assert settled["out_biz_no"] == "H-1"
    assert sdk.api_alipay_trade_fastpay_refund_query("H-1", out_trade_no="PY-HOLD")["refund_status"] == "REFUND_SUCCESS"
    retry = sdk.api_alipay_trade_refund("3.00", out_trade_no="PY-HOLD", out_request_no="H-1")
    assert retry["fund_change"] == "N" and retry["refund_fee"] == "3.00"

    # a held refund that fails: no notify; the query answers without refund_status; the money is refundable again
    sdk.api_alipay_trade_refund("4.79", out_trade_no="PY-HOLD", out_request_no="H-2")
    second = next(r for r in sandbox.admin.payment(payment["id"])["refunds"] if r["out_refund_no"] == "H-2")
    sandbox.admin.refund_outcome(second["id"], "fail")
    failed = sdk.api_alipay_trade_fastpay_refund_query("H-2", out_trade_no="PY-HOLD")
    assert failed["code"] == "10000" and "refund_status" not in failed
    assert sdk.api_alipay_trade_query(out_trade_no="PY-HOLD")["trade_status"] == "TRADE_SUCCESS"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 300
    assert [n["event"] for n in sandbox.admin.notifications(payment["id"])["notifications"]] == \
        ["TRADE_SUCCESS", "TRADE_SUCCESS"]
