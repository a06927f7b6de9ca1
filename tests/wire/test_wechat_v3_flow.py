"""WeChat Pay APIv3 with the real wechatpayv3 SDK, in certificate mode, public-key mode and partner mode."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from wechatpayv3 import WeChatPayType

from sandbox.providers.wechat import v2_crypto
from wechat_sdks import OPENID, SUB_MCHID, payment_of, v3_client, v3_request

H5_SCENE = {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}


def ok(result) -> dict:
    code, text = result
    assert code == 200, text
    return json.loads(text)


def full_flow(sandbox, monkeypatch, notify_receiver, merchant_id: str) -> None:
    wx, creds = v3_client(sandbox, monkeypatch, merchant_id, notify_url=notify_receiver.url("/pay"))
    amount = {"total": 100, "currency": "CNY"}

    # every trade type
    native = ok(wx.pay(description="Gift pack", out_trade_no="V3-NATIVE-01", amount=amount))
    assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=\w{7}", native["code_url"])
    jsapi = ok(wx.pay(description="Gift pack", out_trade_no="V3-JSAPI-01", amount=amount, attach="a=1",
                      pay_type=WeChatPayType.JSAPI, payer={"openid": OPENID}))
    assert re.fullmatch(r"wx\d{14}[0-9a-f]{20}", jsapi["prepay_id"])
    app = ok(wx.pay(description="Gift pack", out_trade_no="V3-APP-0001", amount=amount, pay_type=WeChatPayType.APP))
    params = v2_crypto.app_pay_params(creds["appids"][0], creds["mchid"], app["prepay_id"], creds["v2_key"],
                                      1764000000)
    assert params["prepayid"] == app["prepay_id"] and params["package"] == "Sign=WXPay"
    h5 = ok(wx.pay(description="Gift pack", out_trade_no="V3-H5-00001", amount=amount, pay_type=WeChatPayType.H5,
                   scene_info=H5_SCENE))
    assert h5["h5_url"].startswith(f"{sandbox.url}/_sandbox/pay/pay_")

    # the same request again is the same order
    assert ok(wx.pay(description="Gift pack", out_trade_no="V3-JSAPI-01", amount=amount, attach="a=1",
                     pay_type=WeChatPayType.JSAPI, payer={"openid": OPENID})) == jsapi

    queried = ok(wx.query(out_trade_no="V3-JSAPI-01"))
    assert queried["trade_state"] == "NOTPAY" and "transaction_id" not in queried
    assert queried["mchid"] == creds["mchid"] and queried["amount"]["total"] == 100

    # pay, then the notify as the SDK reads it
    sandbox.admin.succeed(payment_of(sandbox, "V3-JSAPI-01")["id"])
    (pushed,) = notify_receiver.wait_for(1)
    notice = wx.callback(pushed.headers, pushed.body)
    assert notice["event_type"] == "TRANSACTION.SUCCESS" and notice["resource_type"] == "encrypt-resource"
    transaction = notice["resource"]
    assert transaction["trade_state"] == "SUCCESS" and transaction["out_trade_no"] == "V3-JSAPI-01"
    assert transaction["payer"]["openid"] == OPENID and transaction["attach"] == "a=1"
    assert re.fullmatch(r"4200\d{24}", transaction["transaction_id"])

    by_id = ok(wx.query(transaction_id=transaction["transaction_id"]))
    assert by_id["trade_state"] == "SUCCESS" and by_id["amount"]["payer_total"] == 100
    assert by_id["success_time"].endswith("+08:00")

    # refund part of it, with its own notify
    refund = ok(wx.refund(out_refund_no="V3-REFUND-01", amount={"refund": 40, "total": 100, "currency": "CNY"},
                          out_trade_no="V3-JSAPI-01", reason="size", notify_url=notify_receiver.url("/refund")))
    assert refund["status"] == "SUCCESS" and re.fullmatch(r"50\d{27,30}", refund["refund_id"])
    assert refund["amount"]["refund"] == 40
    pushed = notify_receiver.wait_for(2)[1]
    assert pushed.path == "/refund"
    notice = wx.callback(pushed.headers, pushed.body)
    assert notice["event_type"] == "REFUND.SUCCESS"
    assert notice["resource"]["refund_status"] == "SUCCESS" and notice["resource"]["amount"]["refund"] == 40
    assert ok(wx.query_refund(out_refund_no="V3-REFUND-01"))["refund_id"] == refund["refund_id"]
    assert ok(wx.query(out_trade_no="V3-JSAPI-01"))["trade_state"] == "REFUND"

    # close another order: 204, signed over the empty body
    code, body = wx.close(out_trade_no="V3-NATIVE-01")
    assert code == 204 and body == b""
    assert ok(wx.query(out_trade_no="V3-NATIVE-01"))["trade_state"] == "CLOSED"
    # a paid order is not closed
    assert wx.close(out_trade_no="V3-JSAPI-01")[0] == 400

    # a request whose body was changed after signing
    tampered = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native",
                          {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "x",
                           "out_trade_no": "V3-TAMPER-1", "notify_url": "https://m.example/n",
                           "amount": {"total": 1}}, signed_body=b'{"amount": {"total": 100}}')
    assert tampered.status_code == 401 and tampered.json()["code"] == "SIGN_ERROR"
    assert wx._core._verify_signature(tampered.headers, tampered.text)  # errors are signed too
    assert sandbox.admin.payments(out_trade_no="V3-TAMPER-1")["total"] == 0


def test_certificate_mode_full_flow(sandbox, monkeypatch, notify_receiver):
    full_flow(sandbox, monkeypatch, notify_receiver, "demo-wechat")


def test_public_key_mode_full_flow(sandbox, monkeypatch, notify_receiver):
    full_flow(sandbox, monkeypatch, notify_receiver, "demo-wechat-pubkey")


def test_public_key_mode_answers_carry_the_public_key_id(sandbox, monkeypatch):
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat-pubkey", notify_url="https://m.example/n")
    response = v3_request(sandbox, creds, "GET", f"/v3/pay/transactions/out-trade-no/NOPE-0001?mchid={creds['mchid']}",
                          headers={"Wechatpay-Serial": creds["public_key_id"]})
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST"
    assert response.headers["Wechatpay-Serial"] == creds["public_key_id"]
    assert response.headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"


def test_a_merchant_made_through_the_admin_api_works_at_once(sandbox, monkeypatch):
    made = sandbox.admin.create_merchant("New shop", {"wechat": {"mode": "public-key"}})
    assert made["credentials"]["wechat"]["public_key_id"].startswith("PUB_KEY_ID_")
    wx, _ = v3_client(sandbox, monkeypatch, made["id"], notify_url="https://m.example/n")
    ok(wx.pay(description="Tea", out_trade_no="NEW-SHOP-01", amount={"total": 5}))
    assert ok(wx.query(out_trade_no="NEW-SHOP-01"))["trade_state"] == "NOTPAY"


def test_partner_mode_flow(sandbox, monkeypatch, notify_receiver):
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat", kind=WeChatPayType.JSAPI,
                          notify_url=notify_receiver.url(), partner=True)
    ok(wx.pay(description="Sub-merchant gift", out_trade_no="SP-JSAPI-01", amount={"total": 300},
              payer={"sp_openid": OPENID}, sub_mchid=SUB_MCHID))
    queried = ok(wx.query(out_trade_no="SP-JSAPI-01", sub_mchid=SUB_MCHID))
    assert queried["sp_mchid"] == creds["mchid"] and queried["sub_mchid"] == SUB_MCHID
    assert wx.query(out_trade_no="SP-JSAPI-01", sub_mchid="1900000999")[0] == 404  # another sub-merchant's

    sandbox.admin.succeed(payment_of(sandbox, "SP-JSAPI-01")["id"])
    (pushed,) = notify_receiver.wait_for(1)
    resource = wx.callback(pushed.headers, pushed.body)["resource"]
    assert resource["sub_mchid"] == SUB_MCHID and resource["payer"]["sp_openid"] == OPENID

    refund = ok(wx.refund(out_refund_no="SP-REFUND-1", amount={"refund": 300, "total": 300, "currency": "CNY"},
                          out_trade_no="SP-JSAPI-01", sub_mchid=SUB_MCHID))
    assert ok(wx.query_refund(out_refund_no="SP-REFUND-1", sub_mchid=SUB_MCHID))["refund_id"] == refund["refund_id"]

    ok(wx.pay(description="Sub-merchant gift", out_trade_no="SP-JSAPI-02", amount={"total": 300},
              payer={"sp_openid": OPENID}, sub_mchid=SUB_MCHID))
    assert wx.close(out_trade_no="SP-JSAPI-02", sub_mchid=SUB_MCHID)[0] == 204


def test_codepay_outcomes_follow_the_auth_code(sandbox, monkeypatch):
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat", kind=WeChatPayType.CODEPAY)
    scene = {"store_info": {"out_id": "STORE-1"}}
    paid = ok(wx.pay(description="Coffee", out_trade_no="CODE-OK-001", amount={"total": 12},
                     payer={"auth_code": "134567890123456789"}, scene_info=scene,
                     pay_type=WeChatPayType.CODEPAY))
    assert paid["trade_state"] == "SUCCESS" and paid["trade_type"] == "MICROPAY"
    code, text = wx.pay(description="Coffee", out_trade_no="CODE-WAIT-01", amount={"total": 12},
                        payer={"auth_code": "134567890123451111"}, scene_info=scene,
                     pay_type=WeChatPayType.CODEPAY)
    assert code == 202 and json.loads(text)["code"] == "USERPAYING"
    assert ok(wx.query(out_trade_no="CODE-WAIT-01"))["trade_state"] == "USERPAYING"
    code, text = wx.pay(description="Coffee", out_trade_no="CODE-POOR-01", amount={"total": 12},
                        payer={"auth_code": "134567890123454444"}, scene_info=scene,
                     pay_type=WeChatPayType.CODEPAY)
    assert code == 403 and json.loads(text)["code"] == "NOTENOUGH"
    assert ok(wx.query(out_trade_no="CODE-POOR-01"))["trade_state"] == "PAYERROR"


def test_time_expire_closes_the_order_on_the_sandbox_clock(sandbox, monkeypatch):
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url="https://m.example/n")
    clock_now = sandbox.admin.clock()["now"]
    expire = datetime.fromtimestamp(clock_now + 600, timezone(timedelta(hours=8))).isoformat(timespec="seconds")
    ok(wx.pay(description="Soon gone", out_trade_no="V3-EXPIRE-1", amount={"total": 1}, time_expire=expire))
    assert payment_of(sandbox, "V3-EXPIRE-1")["expires_at"] == pytest.approx(clock_now + 600, abs=1)
    sandbox.admin.advance(601)
    sandbox.call(sandbox.engine.run_due_actions())
    assert ok(wx.query(out_trade_no="V3-EXPIRE-1"))["trade_state"] == "CLOSED"


def test_failed_notifies_are_retried_with_the_same_id(sandbox, monkeypatch, notify_receiver):
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url=notify_receiver.url())
    notify_receiver.replies = [(500, "FAIL")]
    ok(wx.pay(description="Retry me", out_trade_no="V3-RETRY-01", amount={"total": 1}))
    payment = payment_of(sandbox, "V3-RETRY-01")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    sandbox.admin.advance(15)  # the first retry is due 15 s after the failure
    first, second = notify_receiver.wait_for(2)
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]
    assert first.headers["Wechatpay-Nonce"] != second.headers["Wechatpay-Nonce"]
    assert wx.callback(second.headers, second.body)["resource"]["trade_state"] == "SUCCESS"


def test_calls_about_an_order_appear_on_its_timeline(sandbox, monkeypatch):
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url="https://m.example/n")
    amount = {"total": 100, "currency": "CNY"}
    created = ok(wx.pay(description="Tea", out_trade_no="V3-TL-1", amount=amount))
    assert ok(wx.pay(description="Tea", out_trade_no="V3-TL-1", amount=amount)) == created  # a repeated create
    ok(wx.query(out_trade_no="V3-TL-1"))
    payment = payment_of(sandbox, "V3-TL-1")
    sandbox.admin.succeed(payment["id"])
    ok(wx.refund(out_refund_no="V3-TL-R1", amount={"refund": 10, "total": 100, "currency": "CNY"},
                 out_trade_no="V3-TL-1"))
    ok(wx.query_refund(out_refund_no="V3-TL-R1"))
    assert wx.close(out_trade_no="V3-TL-1")[0] == 400  # refused calls are on the timeline too
    ok(wx.pay(description="Tea", out_trade_no="V3-TL-2", amount=amount))
    assert wx.close(out_trade_no="V3-TL-2")[0] == 204

    events = sandbox.admin.payment(payment["id"])["events"]
    assert events[0]["kind"] == "state" and json.loads(events[0]["data"]["request"])["out_trade_no"] == "V3-TL-1"
    api = [e for e in events if e["kind"] == "api"]
    assert [e["summary"] for e in api] == [
        "POST /v3/pay/transactions/native → 200",
        "GET /v3/pay/transactions/out-trade-no/V3-TL-1 → 200",
        "POST /v3/refund/domestic/refunds → 200",
        "GET /v3/refund/domestic/refunds/V3-TL-R1 → 200",
        "POST /v3/pay/transactions/out-trade-no/V3-TL-1/close → 400",
    ]
    repeat, query, refund, refund_query, close = (e["data"] for e in api)
    assert repeat["request"]["out_trade_no"] == "V3-TL-1" and repeat["response"] == created
    assert query["request"] == {"mchid": creds["mchid"]} and query["response"]["trade_state"] == "NOTPAY"
    assert refund["request"]["out_refund_no"] == "V3-TL-R1" and refund["response"]["status"] == "SUCCESS"
    assert refund_query["request"] == {} and refund_query["response"]["out_refund_no"] == "V3-TL-R1"
    assert close["request"] == {"mchid": creds["mchid"]} and close["response"]["code"] == "ORDERPAID"
    (closed,) = [e for e in sandbox.admin.payment(payment_of(sandbox, "V3-TL-2")["id"])["events"]
                 if e["kind"] == "api"]
    assert closed["summary"] == "POST /v3/pay/transactions/out-trade-no/V3-TL-2/close → 204"
    assert closed["data"] == {"request": {"mchid": creds["mchid"]}, "response": None}


def test_held_refunds_are_processing_until_settled_then_notified(sandbox, monkeypatch, notify_receiver):
    sandbox.admin.add_rule(match={"amount": 777}, action={"refund": "processing"})
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url=notify_receiver.url("/pay"))
    ok(wx.pay(description="Held", out_trade_no="V3-HOLD-1", amount={"total": 777}))
    payment = payment_of(sandbox, "V3-HOLD-1")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)

    def refund(no: str, amount: int) -> dict:
        return ok(wx.refund(out_refund_no=no, amount={"refund": amount, "total": 777, "currency": "CNY"},
                            out_trade_no="V3-HOLD-1", notify_url=notify_receiver.url("/refund")))

    def settle(no: str, action: str, count: int) -> dict:
        (held,) = [r for r in sandbox.admin.payment(payment["id"])["refunds"] if r["out_refund_no"] == no]
        sandbox.admin.refund_outcome(held["id"], action)
        pushed = notify_receiver.wait_for(count)[-1]
        assert pushed.path == "/refund"
        return wx.callback(pushed.headers, pushed.body)

    held = refund("V3-HOLD-R1", 300)
    assert held["status"] == "PROCESSING" and "success_time" not in held
    queried = ok(wx.query_refund(out_refund_no="V3-HOLD-R1"))
    assert queried["status"] == "PROCESSING" and "success_time" not in queried
    assert len(sandbox.admin.notifications(payment["id"])["notifications"]) == 1  # nothing until settled

    failed = settle("V3-HOLD-R1", "fail", 2)
    assert failed["event_type"] == "REFUND.ABNORMAL" and failed["resource_type"] == "encrypt-resource"
    assert failed["resource"]["refund_status"] == "ABNORMAL" and failed["resource"]["out_refund_no"] == "V3-HOLD-R1"
    assert "success_time" not in failed["resource"]
    assert ok(wx.query_refund(out_refund_no="V3-HOLD-R1"))["status"] == "ABNORMAL"

    assert refund("V3-HOLD-R2", 200)["status"] == "PROCESSING"
    closed = settle("V3-HOLD-R2", "close", 3)
    assert closed["event_type"] == "REFUND.CLOSED" and closed["resource"]["refund_status"] == "CLOSED"
    assert ok(wx.query_refund(out_refund_no="V3-HOLD-R2"))["status"] == "CLOSED"

    assert refund("V3-HOLD-R3", 777)["status"] == "PROCESSING"  # the failed and closed ones gave the money back
    succeeded = settle("V3-HOLD-R3", "succeed", 4)
    assert succeeded["event_type"] == "REFUND.SUCCESS" and succeeded["resource"]["refund_status"] == "SUCCESS"
    assert succeeded["resource"]["success_time"].endswith("+08:00")
    assert ok(wx.query_refund(out_refund_no="V3-HOLD-R3"))["status"] == "SUCCESS"
