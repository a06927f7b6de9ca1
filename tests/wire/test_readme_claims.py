"""README claims that had no test which would fail if they broke (issue 13): the magic amounts' outcomes, rule
notify behaviours and matching, QuickPay details (text/json, Alipay paytype 21, paySign, the OK acknowledgement,
expiry at 2 h, Cancel of a paid order) and the admin API's offset, GET /refunds/{id}, DELETE /rules and the
refund amount that defaults to what is left."""
from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

STORE, SIGNED_STORE, SIGNED_KEY = "QP10000001", "QP10000002", "quickpay-demo-key-0123456789abcd"


def wait_until(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def qp(sandbox, action: str, body: dict, content_type: str = "application/json") -> dict:
    response = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body).encode(), timeout=10,
                             headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    return response.json()


def jsapi(sandbox, order_no: str, amount: int = 100, notify_url: str | None = None, **extra) -> dict:
    body = {"store_no": STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-readme",
            "amount": amount, "order_no": order_no, **extra}
    if notify_url:
        body["notify_url"] = notify_url
    answer = qp(sandbox, "JSAPIPay", body)
    assert answer["code"] == "SUCCESS", answer
    (payment,) = sandbox.admin.payments(out_trade_no=order_no)["payments"]
    return payment


def status_becomes(sandbox, payment_id: str, status: str) -> dict:
    def check():
        detail = sandbox.admin.payment(payment_id)
        return detail if detail["status"] == status else None
    return wait_until(check, f"payment {payment_id} {status}")


def notifications_of(sandbox, payment_id: str) -> list[dict]:
    return sandbox.admin.notifications(payment_id)["notifications"]


# ----- magic amounts ---------------------------------------------------------------------------------------------

def test_magic_411_pays_5_s_after_creation_on_the_sandbox_clock(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = jsapi(sandbox, "MAGIC-411", 411, notify_receiver.url())
    assert payment["status"] == "PENDING" and payment["auto_action"] == "succeed"
    assert payment["auto_action_at"] == payment["created_at"] + 5
    sandbox.admin.advance(5)
    paid = status_becomes(sandbox, payment["id"], "SUCCEEDED")
    assert paid["paid_at"] >= payment["created_at"] + 5
    (notify,) = notify_receiver.wait_for(1)
    assert json.loads(notify.body)["transaction_status"] == "SUCCESSED"


def test_magic_404_fails_after_5_s_with_insufficient_balance(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = jsapi(sandbox, "MAGIC-404", 404, notify_receiver.url())
    assert payment["auto_action"] == "fail" and payment["auto_action_at"] == payment["created_at"] + 5
    sandbox.admin.advance(5)
    failed = status_becomes(sandbox, payment["id"], "FAILED")
    assert failed["fail_reason"] == "insufficient balance"
    (notify,) = notify_receiver.wait_for(1)  # QuickPay notifies a failure too
    pushed = json.loads(notify.body)
    assert pushed["transaction_status"] == "FAILED" and pushed["error"] == "insufficient balance"


def test_magic_408_pays_but_its_notify_is_queued_suppressed_until_delivered(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = jsapi(sandbox, "MAGIC-408", 408, notify_receiver.url())
    sandbox.admin.advance(5)
    status_becomes(sandbox, payment["id"], "SUCCEEDED")
    (notification,) = notifications_of(sandbox, payment["id"])
    assert notification["status"] == "suppressed" and notification["next_attempt_at"] is None
    assert notification["attempts"] == 0
    sandbox.admin.deliver(notification["id"])  # "deliver it from the console"
    (notify,) = notify_receiver.wait_for(1)
    assert json.loads(notify.body)["order_no"] == "MAGIC-408"


def test_magic_410_notify_is_due_10_minutes_after_payment(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = jsapi(sandbox, "MAGIC-410", 410, notify_receiver.url())
    sandbox.admin.advance(5)
    paid = status_becomes(sandbox, payment["id"], "SUCCEEDED")
    (notification,) = notifications_of(sandbox, payment["id"])
    assert notification["status"] == "pending" and notification["attempts"] == 0
    assert notification["next_attempt_at"] == pytest.approx(paid["paid_at"] + 600, abs=0.01)
    sandbox.admin.advance(600)
    (notify,) = notify_receiver.wait_for(1)
    assert json.loads(notify.body)["order_no"] == "MAGIC-410"


# ----- rules -----------------------------------------------------------------------------------------------------

def add_rule(sandbox, name: str, match: dict, **action) -> dict:
    return sandbox.admin.add_rule(name=name, match=match, action=action)


def test_rule_notify_drop_queues_the_notify_suppressed(sandbox, notify_receiver):
    add_rule(sandbox, "drop", {"amount": 701}, outcome="succeed", after_s=0, notify="drop")
    payment = jsapi(sandbox, "RULE-DROP", 701, notify_receiver.url())
    status_becomes(sandbox, payment["id"], "SUCCEEDED")
    (notification,) = notifications_of(sandbox, payment["id"])
    assert (notification["status"], notification["next_attempt_at"], notification["attempts"]) == \
        ("suppressed", None, 0)


def test_rule_notify_delay_holds_the_notify_for_notify_delay_s(sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    add_rule(sandbox, "delay", {"amount": 702}, outcome="succeed", after_s=0, notify="delay", notify_delay_s=90)
    payment = jsapi(sandbox, "RULE-DELAY", 702, notify_receiver.url())
    paid = status_becomes(sandbox, payment["id"], "SUCCEEDED")
    (notification,) = notifications_of(sandbox, payment["id"])
    assert notification["status"] == "pending" and notification["attempts"] == 0
    assert notification["next_attempt_at"] == pytest.approx(paid["paid_at"] + 90, abs=0.01)
    sandbox.admin.advance(90)
    notify_receiver.wait_for(1)


def test_rule_matches_by_trade_type(sandbox):
    rule = add_rule(sandbox, "native only", {"provider": "quickpay", "trade_type": "NATIVE"}, outcome="close",
                    after_s=30)
    assert qp(sandbox, "QRPay", {"store_no": STORE, "amount": 100, "order_no": "RULE-QR", "qr_format": "url"}
              )["code"] == "SUCCESS"
    (native,) = sandbox.admin.payments(out_trade_no="RULE-QR")["payments"]
    jsapi_payment = jsapi(sandbox, "RULE-JSAPI", 100)
    assert native["trade_type"] == "NATIVE" and native["extra"]["rule"]["id"] == rule["id"]
    assert native["auto_action"] == "close"
    assert jsapi_payment["trade_type"] == "JSAPI" and jsapi_payment["extra"].get("rule") is None
    assert jsapi_payment["auto_action"] is None


def test_the_first_matching_rule_wins(sandbox):
    first = add_rule(sandbox, "first", {"amount": 703}, outcome="fail", after_s=10, reason="first")
    add_rule(sandbox, "second", {"amount": 703, "provider": "quickpay"}, outcome="succeed", after_s=20)
    payment = jsapi(sandbox, "RULE-FIRST", 703)
    assert payment["extra"]["rule"]["id"] == first["id"]
    assert payment["auto_action"] == "fail" and payment["auto_action_at"] == payment["created_at"] + 10
    sandbox.admin.advance(10)
    assert status_becomes(sandbox, payment["id"], "FAILED")["fail_reason"] == "first"


def test_delete_rules_removes_all_then_magic_amounts_stay_pending(sandbox):
    assert len(sandbox.admin.rules()["rules"]) > 0
    response = requests.delete(f"{sandbox.url}/_sandbox/api/rules", timeout=10)
    assert response.status_code == 200, response.text
    assert sandbox.admin.rules()["rules"] == []
    payment = jsapi(sandbox, "NO-RULES-411", 411)
    assert payment["auto_action"] is None and payment["extra"].get("rule") is None


def test_delete_one_rule_by_id(sandbox):
    rules = sandbox.admin.rules()["rules"]
    response = requests.delete(f"{sandbox.url}/_sandbox/api/rules/{rules[0]['id']}", timeout=10)
    assert response.status_code == 200, response.text
    assert [r["id"] for r in sandbox.admin.rules()["rules"]] == [r["id"] for r in rules[1:]]


# ----- QuickPay --------------------------------------------------------------------------------------------------

def test_quickpay_accepts_text_json(sandbox):
    body = {"store_no": STORE, "paytype": 11, "appid": "wx1", "openid": "o", "amount": 100, "order_no": "TEXT-JSON"}
    answer = qp(sandbox, "JSAPIPay", body, content_type="text/json")
    assert answer["code"] == "SUCCESS" and answer["data"]["order_no"] == "TEXT-JSON"
    assert qp(sandbox, "Query", {"store_no": STORE, "order_no": "TEXT-JSON"}, "text/json; charset=utf-8"
              )["data"]["transaction_status"] == "CREATE"


def test_quickpay_alipay_paytype_21_hands_back_a_trade_no_for_alipayjsbridge(sandbox):
    answer = qp(sandbox, "JSAPIPay", {"store_no": STORE, "paytype": 21, "openid": "2088102146225135",
                                      "amount": 100, "order_no": "ALI-21"})
    assert answer["code"] == "SUCCESS", answer
    data = answer["data"]
    assert data["paytype"] == "ALIPAY_JSAPI"
    param = json.loads(data["cloudpay_param"])
    assert sorted(param) == ["tradeNO"] and param["tradeNO"]


def _pay_sign(param: dict, key: str) -> str:
    """WeChat's JSAPI paySign (MD5): appId, nonceStr, package, signType, timeStamp sorted, &key=KEY, upper hex."""
    text = "&".join(f"{k}={param[k]}" for k in ("appId", "nonceStr", "package", "signType", "timeStamp"))
    return hashlib.md5(f"{text}&key={key}".encode()).hexdigest().upper()


@pytest.mark.parametrize("store, key", [(STORE, STORE), (SIGNED_STORE, SIGNED_KEY)])
def test_quickpay_paysign_is_md5_with_the_store_key_or_store_no(sandbox, store, key):
    body = {"store_no": store, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
            "order_no": f"PAYSIGN-{store}"}
    if store == SIGNED_STORE:
        text = "&".join(f"{k}={v}" for k, v in sorted(body.items()))
        body["sign"] = hashlib.md5(f"{text}&key={SIGNED_KEY}".encode()).hexdigest().upper()
    answer = qp(sandbox, "JSAPIPay", body)
    assert answer["code"] == "SUCCESS", answer
    param = json.loads(answer["data"]["cloudpay_param"])
    assert param["appId"] == "wxd678efh567hg6787" and param["signType"] == "MD5"
    assert param["package"].startswith("prepay_id=wx") and param["timeStamp"].isdigit()
    assert param["paySign"] == _pay_sign(param, key)


@pytest.mark.parametrize("reply, acknowledged", [("OK", True), ("SUCCESS", True), ("FAIL", False)])
def test_quickpay_notify_is_acknowledged_by_ok_or_success(sandbox, notify_receiver, reply, acknowledged):
    notify_receiver.reply = (200, reply)
    payment = jsapi(sandbox, f"ACK-{reply}", 100, notify_receiver.url())
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)

    def journaled():
        (notification,) = notifications_of(sandbox, payment["id"])
        return notification if notification["attempts"] == 1 else None
    notification = wait_until(journaled, "first attempt journaled")
    assert notification["attempt_log"][0]["acknowledged"] is acknowledged
    assert notification["status"] == ("delivered" if acknowledged else "pending")


def test_quickpay_unpaid_order_closes_exactly_2_h_after_creation(sandbox):
    payment = jsapi(sandbox, "EXPIRE-2H", 100)
    assert payment["expires_at"] == payment["created_at"] + 7200
    sandbox.admin.advance(7200 - 60)  # a minute before: still open
    assert qp(sandbox, "Query", {"store_no": STORE, "order_no": "EXPIRE-2H"})["data"]["transaction_status"] == "CREATE"
    sandbox.admin.advance(60)
    closed = status_becomes(sandbox, payment["id"], "CLOSED")
    assert closed["closed_at"] >= payment["created_at"] + 7200
    assert qp(sandbox, "Query", {"store_no": STORE, "order_no": "EXPIRE-2H"})["data"]["transaction_status"] == "CLOSED"


def test_quickpay_cancel_of_a_paid_order_refunds_it_in_full(sandbox):
    payment = jsapi(sandbox, "CANCEL-PAID", 250)
    sandbox.admin.succeed(payment["id"])
    answer = qp(sandbox, "Cancel", {"store_no": STORE, "order_no": "CANCEL-PAID"})
    assert answer["code"] == "SUCCESS" and answer["data"]["transaction_status"] == "CANCELED", answer
    detail = sandbox.admin.payment(payment["id"])
    assert detail["refunded_amount"] == 250
    assert [(r["amount"], r["status"]) for r in detail["refunds"]] == [(250, "SUCCEEDED")]
    assert qp(sandbox, "Query", {"store_no": STORE, "order_no": "CANCEL-PAID"}
              )["data"]["transaction_status"] == "CANCELED"


# ----- admin API -------------------------------------------------------------------------------------------------

def test_admin_payments_offset_pages_newest_first(sandbox):
    for i in range(3):
        jsapi(sandbox, f"PAGE-{i}", 100)
    page = lambda **q: [p["out_trade_no"] for p in sandbox.admin.payments(**q)["payments"]]  # noqa: E731
    assert page(limit=10) == ["PAGE-2", "PAGE-1", "PAGE-0"]
    assert page(limit=1, offset=1) == ["PAGE-1"]
    assert page(limit=2, offset=2) == ["PAGE-0"]
    assert page(limit=2, offset=3) == []
    assert sandbox.admin.payments(limit=1, offset=1)["total"] == 3


def test_admin_get_refund_by_id(sandbox):
    payment = jsapi(sandbox, "GET-REFUND", 100)
    sandbox.admin.succeed(payment["id"])
    refund = sandbox.admin.refund(payment["id"], amount=40, out_refund_no="R-GET", hold=True)
    response = requests.get(f"{sandbox.url}/_sandbox/api/refunds/{refund['id']}", timeout=10)
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["id"], got["payment_id"], got["amount"], got["out_refund_no"], got["status"]) == \
        (refund["id"], payment["id"], 40, "R-GET", "PROCESSING")
    missing = requests.get(f"{sandbox.url}/_sandbox/api/refunds/rfd_nope", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"]


def test_admin_refund_amount_defaults_to_what_is_left(sandbox):
    payment = jsapi(sandbox, "REFUND-LEFT", 1000)
    sandbox.admin.succeed(payment["id"])
    assert sandbox.admin.refund(payment["id"], amount=300)["amount"] == 300
    rest = sandbox.admin.refund(payment["id"])
    assert rest["amount"] == 700 and rest["status"] == "SUCCEEDED"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 1000
