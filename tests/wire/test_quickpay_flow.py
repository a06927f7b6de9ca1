"""QuickPay over HTTP, as a merchant backend calls it (plain requests: QuickPay has no SDK)."""
from __future__ import annotations

import json

import requests

from sandbox.providers.quickpay import wire

STORE = "QP10000001"
SIGNED_STORE, SIGNED_KEY = "QP10000002", "quickpay-demo-key-0123456789abcd"


def call(sandbox, action: str, body: dict | str) -> dict:
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.post(f"{sandbox.url}/QuickPay/{action}", data=data,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def jsapi(order_no: str, notify_url: str | None = None, amount: int = 100, **extra) -> dict:
    body = {"store_no": STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "amount": amount, "order_no": order_no, "iteminfo": "Gift pack", "attach": "a=1", **extra}
    if notify_url:
        body["notify_url"] = notify_url
    return body


def test_jsapi_create_succeed_notify_and_query(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    created = call(sandbox, "JSAPIPay", jsapi("ORDER-1", notify_receiver.url()))
    assert created["code"] == "SUCCESS"
    data = created["data"]
    assert data["transaction_status"] == "CREATE" and data["paytype"] == "WECHATPAY_JSAPI"
    assert len(data["transaction_no"]) == 24 and data["transaction_no"].isdigit()
    assert json.loads(data["cloudpay_param"])["package"].startswith("prepay_id=wx")

    payment = sandbox.admin.payments(out_trade_no="ORDER-1")["payments"][0]
    sandbox.admin.succeed(payment["id"])
    (notify,) = notify_receiver.wait_for(1)
    pushed = json.loads(notify.body)
    assert pushed["transaction_status"] == "SUCCESSED" and pushed["order_no"] == "ORDER-1"
    assert pushed["total_amount"] == 100 and pushed["attach"] == "a=1"

    queried = call(sandbox, "Query", {"store_no": STORE, "order_no": "ORDER-1"})["data"]
    assert queried["transaction_status"] == "SUCCESSED" and queried["cash_amount"] == 100
    detail = sandbox.admin.payment(payment["id"])
    assert detail["notifications"][0]["status"] == "delivered"
    assert detail["notifications"][0]["attempt_log"][0]["response_body"] == "SUCCESS"


def test_same_order_twice_is_one_payment_other_parameters_are_refused(sandbox):
    first = call(sandbox, "JSAPIPay", jsapi("ORDER-2"))["data"]
    again = call(sandbox, "JSAPIPay", jsapi("ORDER-2"))["data"]
    assert again["transaction_no"] == first["transaction_no"]
    other = call(sandbox, "JSAPIPay", jsapi("ORDER-2", amount=999))
    assert other["code"] == "ORDER_EXISTS" and other["data"] is None
    assert sandbox.admin.payments(out_trade_no="ORDER-2")["total"] == 1


def test_barcode_outcomes_follow_the_last_digits(sandbox):
    base = {"store_no": STORE, "operator": "POS1", "amount": 500}
    ok = call(sandbox, "Pay", {**base, "order_no": "B-OK", "barcode": "134567890123456789"})["data"]
    assert ok["transaction_status"] == "SUCCESSED" and ok["paytype"] == "WECHATPAY_MICROPAY"
    paying = call(sandbox, "Pay", {**base, "order_no": "B-WAIT", "barcode": "284567890123451111"})["data"]
    assert paying["transaction_status"] == "PAYING" and paying["paytype"] == "ALIPAY_MICROPAY"
    failed = call(sandbox, "Pay", {**base, "order_no": "B-FAIL", "barcode": "134567890123454444"})["data"]
    assert failed["transaction_status"] == "FAILED"
    canceled = call(sandbox, "Cancel", {"store_no": STORE, "order_no": "B-WAIT"})["data"]
    assert canceled["transaction_status"] == "CANCELED"
    short = call(sandbox, "Pay", {**base, "order_no": "B-SHORT", "barcode": "1345678901"})
    assert short["code"] == "PARAM_ERROR" and "barcode" in short["msg"]


def test_qrpay_hands_out_a_cashier_link(sandbox):
    as_url = call(sandbox, "QRPay", {"store_no": STORE, "amount": 1, "order_no": "Q-1", "qr_format": "url"})["data"]
    assert as_url["cloudpay_param"].startswith(f"{sandbox.url}/_sandbox/pay/pay_")
    as_png = call(sandbox, "QRPay", {"store_no": STORE, "amount": 1, "order_no": "Q-2"})["data"]
    assert as_png["cloudpay_param"].startswith("data:image/png;base64,")


def test_partial_refunds_never_exceed_the_payment_and_refund_no_is_idempotent(sandbox):
    call(sandbox, "Pay", {"store_no": STORE, "operator": "POS1", "amount": 1000, "order_no": "R-1",
                          "barcode": "134567890123456789"})
    refund = {"store_no": STORE, "order_no": "R-1", "refund_no": "RF-1", "refund_amount": 600}
    first = call(sandbox, "Refund", refund)["data"]
    assert first["transaction_status"] == "REFUNDED" and first["refund_amount"] == 600
    again = call(sandbox, "Refund", refund)["data"]
    assert again["refund_transaction_no"] == first["refund_transaction_no"]
    too_much = call(sandbox, "Refund", {**refund, "refund_no": "RF-2", "refund_amount": 401})
    assert too_much["code"] == "PARAM_ERROR"
    rest = call(sandbox, "Refund", {**refund, "refund_no": "RF-3", "refund_amount": 400})["data"]
    assert rest["refund_amount"] == 400
    queried = call(sandbox, "RefundQuery", {"store_no": STORE, "order_no": "R-1", "refund_order_no": "RF-1"})
    assert queried["data"]["refund_amount"] == 600
    payment = sandbox.admin.payments(out_trade_no="R-1")["payments"][0]
    assert payment["refunded_amount"] == 1000 and payment["status"] == "REFUNDED"


def test_signed_store_requires_a_valid_md5_sign_and_signs_its_answers(sandbox):
    body = {**jsapi("S-1"), "store_no": SIGNED_STORE}
    unsigned = call(sandbox, "JSAPIPay", body)
    assert unsigned["code"] == "SIGN_ERROR"
    wrong = call(sandbox, "JSAPIPay", {**body, "sign": "0" * 32})
    assert wrong["code"] == "SIGN_ERROR"
    signed = call(sandbox, "JSAPIPay", {**body, "sign": wire.sign(body, SIGNED_KEY)})
    assert signed["code"] == "SUCCESS"
    data = dict(signed["data"])
    assert data.pop("sign") == wire.sign(data, SIGNED_KEY)
    assert sandbox.admin.payments(out_trade_no="S-1")["total"] == 1


def test_bad_input_gets_the_envelope_and_stores_nothing(sandbox):
    cases = {
        "not json": "{{{",
        "array": "[1, 2]",
        "missing order_no": json.dumps({k: v for k, v in jsapi("X").items() if k != "order_no"}),
        "amount as text": json.dumps(jsapi("X", amount="100")),
        "amount zero": json.dumps(jsapi("X", amount=0)),
        "amount too big": json.dumps(jsapi("X", amount=10_000_000_000)),
        "order_no too long": json.dumps(jsapi("X" * 33)),
        "attach too long": json.dumps(jsapi("X", attach="a" * 128)),
        "unknown paytype": json.dumps(jsapi("X", paytype=99)),
        "huge body": json.dumps(jsapi("X", iteminfo="x" * 200_000)),
    }
    for name, body in cases.items():
        answer = call(sandbox, "JSAPIPay", body)
        assert answer["code"] == "PARAM_ERROR", (name, answer)
        assert answer["data"] is None
    unknown = call(sandbox, "JSAPIPay", {**jsapi("X"), "store_no": "NOPE"})
    assert unknown["code"] == "STORE_NOT_EXIST"
    missing = call(sandbox, "Query", {"store_no": STORE, "order_no": "NOPE"})
    assert missing["code"] == "ORDER_NOT_EXIST"
    assert sandbox.admin.payments()["total"] == 0
    wrong_method = requests.get(f"{sandbox.url}/QuickPay/JSAPIPay", timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "FAIL"


def test_calls_about_a_payment_appear_on_its_timeline(sandbox):
    call(sandbox, "JSAPIPay", jsapi("T-1"))
    call(sandbox, "JSAPIPay", jsapi("T-1"))
    call(sandbox, "Query", {"store_no": STORE, "order_no": "T-1"})
    payment = sandbox.admin.payments(out_trade_no="T-1")["payments"][0]
    events = sandbox.admin.payment(payment["id"])["events"]
    assert [e["kind"] for e in events] == ["state", "api", "api"]
    assert json.loads(events[0]["data"]["request"])["order_no"] == "T-1"
    query = events[2]
    assert query["summary"] == "QuickPay/Query" and query["data"]["request"]["order_no"] == "T-1"
    assert query["data"]["response"]["data"]["transaction_status"] == "CREATE"


def test_held_refunds_are_refunding_until_settled(sandbox, notify_receiver):
    sandbox.admin.add_rule(match={"amount": 780}, action={"refund": "processing"})
    notify_receiver.reply = (200, "SUCCESS")
    call(sandbox, "JSAPIPay", jsapi("HOLD-1", notify_receiver.url(), amount=780))
    payment = sandbox.admin.payments(out_trade_no="HOLD-1")["payments"][0]
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    refund = {"store_no": STORE, "order_no": "HOLD-1", "refund_no": "HOLD-R1", "refund_amount": 300}
    held = call(sandbox, "Refund", refund)["data"]
    assert held["transaction_status"] == "REFUNDING" and held["transaction_message"] == "退款处理中"
    query = {"store_no": STORE, "order_no": "HOLD-1", "refund_order_no": "HOLD-R1"}
    assert call(sandbox, "RefundQuery", query)["data"]["transaction_status"] == "REFUNDING"

    (core_refund,) = sandbox.admin.payment(payment["id"])["refunds"]
    sandbox.admin.refund_outcome(core_refund["id"], "succeed")
    assert call(sandbox, "RefundQuery", query)["data"]["transaction_status"] == "REFUNDED"

    failing = call(sandbox, "Refund", {**refund, "refund_no": "HOLD-R2", "refund_amount": 100})["data"]
    assert failing["transaction_status"] == "REFUNDING"
    second = next(r for r in sandbox.admin.payment(payment["id"])["refunds"] if r["out_refund_no"] == "HOLD-R2")
    sandbox.admin.refund_outcome(second["id"], "fail")
    failed = call(sandbox, "RefundQuery", {**query, "refund_order_no": "HOLD-R2"})["data"]
    assert failed["transaction_status"] == "REFUNDFAILED" and failed["transaction_message"] == "退款失败"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 300
    assert len(sandbox.admin.notifications(payment["id"])["notifications"]) == 1  # QuickPay pushes no refunds
