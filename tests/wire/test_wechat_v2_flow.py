"""WeChat Pay v2 (XML) with the real wechatpy SDK: MD5, HMAC-SHA256, and the old sandboxnew/ simulation system."""
from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from sandbox.providers.wechat import v2_crypto
from wechat_sdks import OPENID, V2_ACK, payment_of, v2_client, v2_request, without_hint

IP = "127.0.0.1"


def create(pay, trade_type: str, out_trade_no: str, notify_url: str, **extra) -> dict:
    return pay.order.create(trade_type=trade_type, body="Gift pack", total_fee=100, notify_url=notify_url,
                            client_ip=IP, out_trade_no=out_trade_no, **extra)


def test_md5_full_flow(sandbox, notify_receiver):
    notify_receiver.reply = (200, V2_ACK)
    pay, creds = v2_client(sandbox)
    url = notify_receiver.url("/pay")

    native = create(pay, "NATIVE", "V2-NATIVE-1", url, product_id="P-1")
    assert native["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert native["sign"] == calculate_signature({k: v for k, v in native.items() if k != "sign"}, creds["v2_key"])
    jsapi = create(pay, "JSAPI", "V2-JSAPI-1", url, user_id=OPENID, attach="a=1")
    assert jsapi["prepay_id"].startswith("wx") and len(jsapi["prepay_id"]) == 36
    mweb = create(pay, "MWEB", "V2-MWEB-1", url)
    assert mweb["mweb_url"].startswith(f"{sandbox.url}/_sandbox/pay/pay_")
    app = create(pay, "APP", "V2-APP-1", url)
    # What a merchant backend hands its app: one function, identical to wechatpy's own.
    mine = v2_crypto.app_pay_params(creds["appids"][0], creds["mchid"], app["prepay_id"], creds["v2_key"],
                                    1764000000, nonce="n" * 32)
    assert mine == pay.order.get_appapi_params(app["prepay_id"], timestamp="1764000000", nonce_str="n" * 32)

    assert pay.order.query(out_trade_no="V2-JSAPI-1")["trade_state"] == "NOTPAY"

    sandbox.admin.succeed(payment_of(sandbox, "V2-JSAPI-1")["id"])
    (pushed,) = notify_receiver.wait_for(1)
    result = pay.parse_payment_result(pushed.body)
    assert result["result_code"] == "SUCCESS" and result["out_trade_no"] == "V2-JSAPI-1"
    assert result["total_fee"] == 100 and result["openid"] == OPENID and result["attach"] == "a=1"
    assert len(result["transaction_id"]) == 28
    queried = pay.order.query(transaction_id=result["transaction_id"])
    assert queried["trade_state"] == "SUCCESS" and queried["time_end"] == result["time_end"]

    refund = pay.refund.apply(total_fee=100, refund_fee=30, out_refund_no="V2-REFUND-1", out_trade_no="V2-JSAPI-1",
                              notify_url=notify_receiver.url("/refund"))
    assert refund["refund_fee"] == "30" and refund["refund_id"].startswith("50")
    pushed = notify_receiver.wait_for(2)[1]
    assert "sign" not in xmltodict.parse(pushed.body)["xml"]  # refund notifies are encrypted, not signed
    notice = pay.parse_refund_notify_result(pushed.body)
    assert notice["refund_status"] == "SUCCESS" and notice["refund_fee"] == 30
    assert notice["out_refund_no"] == "V2-REFUND-1" and notice["refund_id"] == refund["refund_id"]
    by_no = pay.refund.query(out_refund_no="V2-REFUND-1")
    assert by_no["refund_count"] == "1" and by_no["refund_status_0"] == "SUCCESS"
    assert pay.refund.query(refund_id=refund["refund_id"])["out_refund_no_0"] == "V2-REFUND-1"
    assert pay.order.query(out_trade_no="V2-JSAPI-1")["trade_state"] == "REFUND"

    assert pay.order.close("V2-NATIVE-1")["result_code"] == "SUCCESS"
    assert pay.order.query(out_trade_no="V2-NATIVE-1")["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as closed_twice:
        pay.order.close("V2-NATIVE-1")
    assert closed_twice.value.errcode == "ORDERCLOSED"

    assert pay.order.reverse(out_trade_no="V2-MWEB-1")["recall"] == "N"
    assert pay.order.query(out_trade_no="V2-MWEB-1")["trade_state"] == "REVOKED"

    # a request signed with another key
    params = {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "abc", "out_trade_no": "V2-APP-1"}
    answer = v2_request(sandbox, "pay/orderquery", params, key="not-the-key")
    assert answer["return_msg"] != "签名错误"  # the signature doctor's hint follows the provider's words
    assert {**answer, "return_msg": without_hint(answer["return_msg"])} == {"return_code": "FAIL",
                                                                           "return_msg": "签名错误"}


def test_hmac_sha256_orders_answer_and_notify_in_hmac(sandbox, notify_receiver):
    notify_receiver.reply = (200, V2_ACK)
    pay, creds = v2_client(sandbox)
    created = create(pay, "JSAPI", "V2-HMAC-1", notify_receiver.url(), user_id=OPENID, sign_type="HMAC-SHA256")
    unsigned = {k: v for k, v in created.items() if k != "sign"}
    assert created["sign"] == calculate_signature_hmac(unsigned, creds["v2_key"])

    sandbox.admin.succeed(payment_of(sandbox, "V2-HMAC-1")["id"])
    (pushed,) = notify_receiver.wait_for(1)
    fields = dict(xmltodict.parse(pushed.body)["xml"])
    sign = fields.pop("sign")
    # Like the real notify of an HMAC order (WxJava #1585): HMAC-signed, and no sign_type field to say so.
    assert "sign_type" not in fields and len(sign) == 64
    assert sign == calculate_signature_hmac(fields, creds["v2_key"])
    # wechatpy's parse_payment_result knows MD5 only: integrators with HMAC orders check with the function above.
    with pytest.raises(InvalidSignatureException):
        pay.parse_payment_result(pushed.body)


def test_sandboxnew_requests_are_signed_with_the_sandbox_key(sandbox, notify_receiver):
    notify_receiver.reply = (200, V2_ACK)
    pay, creds = v2_client(sandbox, simulation=True)
    created = create(pay, "NATIVE", "SIM-NATIVE-1", notify_receiver.url(), product_id="P-1")
    assert pay.sandbox_api_key and pay.sandbox_api_key != creds["v2_key"]
    assert created["sign"] == calculate_signature({k: v for k, v in created.items() if k != "sign"},
                                                  pay.sandbox_api_key)
    sandbox.admin.succeed(payment_of(sandbox, "SIM-NATIVE-1")["id"])
    (pushed,) = notify_receiver.wait_for(1)
    assert pay.parse_payment_result(pushed.body)["out_trade_no"] == "SIM-NATIVE-1"
    pay.refund.apply(total_fee=100, refund_fee=100, out_refund_no="SIM-REFUND-1", out_trade_no="SIM-NATIVE-1")
    assert pay.parse_refund_notify_result(notify_receiver.wait_for(2)[1].body)["refund_fee"] == 100

    # the real v2 key is not the key of sandboxnew/ (as in the real simulation system)
    params = {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "abc",
              "out_trade_no": "SIM-NATIVE-1"}
    refused = v2_request(sandbox, "sandboxnew/pay/orderquery", params, key=creds["v2_key"])["return_msg"]
    assert without_hint(refused) == "签名错误"
    assert v2_request(sandbox, "pay/orderquery", params, key=creds["v2_key"])["trade_state"] == "REFUND"


def test_a_v2_notify_is_acknowledged_only_by_the_success_xml(sandbox, notify_receiver):
    notify_receiver.replies = [(200, "success")]
    notify_receiver.reply = (200, V2_ACK)
    pay, _ = v2_client(sandbox)
    create(pay, "NATIVE", "V2-ACK-1", notify_receiver.url(), product_id="P-1")
    payment = payment_of(sandbox, "V2-ACK-1")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    sandbox.admin.advance(15)
    notify_receiver.wait_for(2)
    (notification,) = sandbox.admin.payment(payment["id"])["notifications"]
    for _ in range(100):  # the attempt is journalled just after the reply
        if notification["status"] == "delivered":
            break
        time.sleep(0.05)
        (notification,) = sandbox.admin.payment(payment["id"])["notifications"]
    assert notification["status"] == "delivered"
    assert [a["acknowledged"] for a in notification["attempt_log"]] == [False, True]


def test_micropay_outcomes_and_reverse(sandbox):
    pay, _ = v2_client(sandbox)
    paid = pay.micropay.create(body="Coffee", total_fee=12, auth_code="134567890123456789", client_ip=IP,
                               out_trade_no="V2-CODE-OK")
    assert paid["trade_type"] == "MICROPAY" and paid["cash_fee"] == "12"
    with pytest.raises(WeChatPayException) as waiting:
        pay.micropay.create(body="Coffee", total_fee=12, auth_code="134567890123451111", client_ip=IP,
                            out_trade_no="V2-CODE-WAIT")
    assert waiting.value.errcode == "USERPAYING"
    assert pay.micropay.query(out_trade_no="V2-CODE-WAIT")["trade_state"] == "USERPAYING"
    assert pay.order.reverse(out_trade_no="V2-CODE-WAIT")["recall"] == "N"
    assert pay.order.query(out_trade_no="V2-CODE-WAIT")["trade_state"] == "REVOKED"
    assert pay.order.reverse(out_trade_no="V2-CODE-OK")["recall"] == "N"  # paid: refunded in full
    assert pay.order.query(out_trade_no="V2-CODE-OK")["trade_state"] == "REVOKED"
    with pytest.raises(WeChatPayException) as poor:
        pay.micropay.create(body="Coffee", total_fee=12, auth_code="134567890123454444", client_ip=IP,
                            out_trade_no="V2-CODE-POOR")
    assert poor.value.errcode == "NOTENOUGH"


def test_calls_about_an_order_appear_on_its_timeline(sandbox):
    pay, creds = v2_client(sandbox)
    created = create(pay, "NATIVE", "V2-TL-1", "https://m.example/n", product_id="P-1")
    assert create(pay, "NATIVE", "V2-TL-1", "https://m.example/n", product_id="P-1")["code_url"] == \
        created["code_url"]  # a repeated create
    pay.order.query(out_trade_no="V2-TL-1")
    payment = payment_of(sandbox, "V2-TL-1")
    sandbox.admin.succeed(payment["id"])
    pay.refund.apply(total_fee=100, refund_fee=10, out_refund_no="V2-TL-R1", out_trade_no="V2-TL-1")
    pay.refund.query(out_refund_no="V2-TL-R1")
    with pytest.raises(WeChatPayException):
        pay.order.close("V2-TL-1")  # refused calls are on the timeline too
    pay.order.reverse(out_trade_no="V2-TL-1")

    api = [e for e in sandbox.admin.payment(payment["id"])["events"] if e["kind"] == "api"]
    assert [e["summary"] for e in api] == ["pay/unifiedorder", "pay/orderquery", "secapi/pay/refund",
                                          "pay/refundquery", "pay/closeorder", "secapi/pay/reverse"]
    for event in api:
        assert "sign" not in event["data"]["request"] and event["data"]["request"]["mch_id"] == creds["mchid"]
        assert event["data"]["response"]["return_code"] == "SUCCESS" and event["data"]["response"]["sign"]
    repeat, query, refund, refund_query, close, reverse = (e["data"] for e in api)
    assert repeat["request"]["out_trade_no"] == "V2-TL-1" and repeat["response"]["code_url"] == created["code_url"]
    assert query["response"]["trade_state"] == "NOTPAY"
    assert refund["request"]["refund_fee"] == "10" and refund["response"]["refund_id"]
    assert refund_query["response"]["refund_status_0"] == "SUCCESS"
    assert close["response"]["err_code"] == "ORDERPAID"
    assert reverse["response"]["recall"] == "N"


def test_held_refunds_are_processing_until_settled_then_notified(sandbox, notify_receiver):
    notify_receiver.reply = (200, V2_ACK)
    sandbox.admin.add_rule(match={"amount": 778}, action={"refund": "processing"})
    pay, _ = v2_client(sandbox)
    pay.order.create(trade_type="NATIVE", body="Held", total_fee=778, notify_url=notify_receiver.url("/pay"),
                     client_ip=IP, out_trade_no="V2-HOLD-1", product_id="P-1")
    payment = payment_of(sandbox, "V2-HOLD-1")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)

    def settle(no: str, action: str, count: int) -> dict:
        (held,) = [r for r in sandbox.admin.payment(payment["id"])["refunds"] if r["out_refund_no"] == no]
        sandbox.admin.refund_outcome(held["id"], action)
        return pay.parse_refund_notify_result(notify_receiver.wait_for(count)[-1].body)

    pay.refund.apply(total_fee=778, refund_fee=300, out_refund_no="V2-HOLD-R1", out_trade_no="V2-HOLD-1",
                     notify_url=notify_receiver.url("/refund"))
    queried = pay.refund.query(out_refund_no="V2-HOLD-R1")
    assert queried["refund_status_0"] == "PROCESSING" and "refund_success_time_0" not in queried
    assert len(sandbox.admin.notifications(payment["id"])["notifications"]) == 1  # nothing until settled
    failed = settle("V2-HOLD-R1", "fail", 2)
    assert failed["refund_status"] == "CHANGE" and failed["out_refund_no"] == "V2-HOLD-R1"
    assert "success_time" not in failed
    assert pay.refund.query(out_refund_no="V2-HOLD-R1")["refund_status_0"] == "CHANGE"

    pay.refund.apply(total_fee=778, refund_fee=200, out_refund_no="V2-HOLD-R2", out_trade_no="V2-HOLD-1")
    assert settle("V2-HOLD-R2", "close", 3)["refund_status"] == "REFUNDCLOSE"

    # held through the admin API this time; its notify goes to the order's notify_url
    sandbox.admin.refund(payment["id"], amount=778, out_refund_no="V2-HOLD-R3", hold=True)
    assert pay.refund.query(out_refund_no="V2-HOLD-R3")["refund_status_0"] == "PROCESSING"
    succeeded = settle("V2-HOLD-R3", "succeed", 4)
    assert succeeded["refund_status"] == "SUCCESS" and succeeded["refund_fee"] == 778 and succeeded["success_time"]
    every = pay.refund.query(out_trade_no="V2-HOLD-1")
    assert [every[f"refund_status_{n}"] for n in range(3)] == ["CHANGE", "REFUNDCLOSE", "SUCCESS"]


def test_reversing_a_paid_order_pushes_no_refund_notify(sandbox, notify_receiver):
    pay, _ = v2_client(sandbox)
    create(pay, "NATIVE", "V2-REV-1", notify_receiver.url(), product_id="P-1")
    payment = payment_of(sandbox, "V2-REV-1")
    sandbox.admin.succeed(payment["id"])
    assert pay.order.reverse(out_trade_no="V2-REV-1")["recall"] == "N"
    notifications = sandbox.admin.notifications(payment["id"])["notifications"]
    assert [n["event"] for n in notifications] == ["TRANSACTION.SUCCESS"]  # WeChat pushes nothing for a reverse
    assert pay.order.query(out_trade_no="V2-REV-1")["trade_state"] == "REVOKED"
