"""The admin API: shapes, errors, token, and that it drives the same engine as everything else."""
from __future__ import annotations

import json

import pytest
import requests

from sandbox.testing import AdminError, SandboxServer

QP = {"store_no": "QP10000001", "appid": "wx1", "openid": "o1", "amount": 100}


def create(sandbox, order_no: str, notify_url: str | None = None) -> dict:
    body = {**QP, "order_no": order_no, **({"notify_url": notify_url} if notify_url else {})}
    assert requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=body, timeout=10).json()["code"] == "SUCCESS"
    return sandbox.admin.payments(out_trade_no=order_no)["payments"][0]


def test_openapi_document_lists_every_resource(sandbox):
    doc = requests.get(f"{sandbox.url}/_sandbox/api/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/health", "/merchants", "/merchants/{id}", "/payments", "/payments/{id}",
                 "/payments/{id}/succeed", "/payments/{id}/fail", "/payments/{id}/close", "/payments/{id}/refunds",
                 "/notifications", "/notifications/{id}/deliver", "/notifications/{id}/suppress",
                 "/payments/{id}/notify", "/rules", "/clock", "/clock/advance", "/reset"):
        assert path in doc["paths"], path


def test_errors_have_one_shape(sandbox):
    base = f"{sandbox.url}/_sandbox/api"
    cases = [
        ("GET", "/payments/pay_missing", None, 404, "PAYMENT_NOT_FOUND"),
        ("POST", "/payments/pay_missing/succeed", None, 404, "PAYMENT_NOT_FOUND"),
        ("GET", "/merchants/nobody", None, 404, "MERCHANT_NOT_FOUND"),
        ("POST", "/clock/advance", "not json", 400, "INVALID_JSON"),
        ("POST", "/clock/advance", json.dumps({"seconds": -5}), 400, "INVALID_BODY"),
        ("POST", "/clock/advance", json.dumps([1]), 400, "INVALID_JSON"),
        ("GET", "/payments?status=WHATEVER", None, 400, "INVALID_QUERY"),
        ("GET", "/payments?limit=x", None, 400, "INVALID_QUERY"),
        ("POST", "/merchants", json.dumps({"name": "x", "providers": {"paypal": {}}}), 400, "UNKNOWN_PROVIDER"),
        ("POST", "/notifications/ntf_missing/deliver", None, 404, "NOTIFICATION_NOT_FOUND"),
        ("DELETE", "/rules/rule_missing", None, 404, "RULE_NOT_FOUND"),
        ("GET", "/nothing/here", None, 404, "NOT_FOUND"),
    ]
    for method, path, body, status, code in cases:
        response = requests.request(method, base + path, data=body, timeout=5)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["code"] == code, (path, response.text)
        assert response.json()["error"]["message"]


def test_outcomes_notifications_and_refunds(sandbox, notify_receiver):
    notify_receiver.reply = (200, "OK")
    payment = create(sandbox, "API-1", notify_receiver.url())
    with pytest.raises(AdminError) as refused:
        sandbox.admin.refund(payment["id"], amount=10)
    assert refused.value.status == 409 and refused.value.code == "INVALID_STATE"
    detail = sandbox.admin.succeed(payment["id"], reason="paid at the till")
    assert detail["status"] == "SUCCEEDED" and any("paid at the till" in e["summary"] for e in detail["events"])
    notify_receiver.wait_for(1)
    refund = sandbox.admin.refund(payment["id"], amount=30, out_refund_no="R-1")
    assert refund["amount"] == 30 and refund["status"] == "SUCCEEDED"
    with pytest.raises(AdminError) as over:
        sandbox.admin.refund(payment["id"], amount=71)
    assert over.value.code == "REFUND_EXCEEDS_PAYMENT"
    copy = sandbox.admin.resend(payment["id"])
    assert copy["status"] == "pending"
    notify_receiver.wait_for(2)
    (first, second) = sorted(sandbox.admin.notifications(payment["id"])["notifications"],
                             key=lambda n: n["created_at"])
    assert notify_receiver.received[0].body == notify_receiver.received[1].body  # a replay, byte for byte
    suppressed = sandbox.admin.suppress(first["id"])
    assert suppressed["status"] == "suppressed"
    redelivered = sandbox.admin.deliver(first["id"], delay_s=120)
    assert redelivered["status"] == "pending" and redelivered["next_attempt_at"] > sandbox.admin.clock()["now"] + 100
    sandbox.admin.advance(121)
    notify_receiver.wait_for(3)


def test_merchant_creation_generates_credentials_for_each_provider(sandbox):
    created = sandbox.admin.create_merchant("Shop", {"quickpay": {"key": "k-123"}, "wechat": {"mode": "public-key"},
                                                     "alipay": {}}, merchant_id="shop-1")
    assert created["id"] == "shop-1"
    assert created["credentials"]["quickpay"]["key"] == "k-123"
    assert created["credentials"]["wechat"]["mode"] == "public-key"
    assert "BEGIN" in created["credentials"]["alipay"]["alipay_public_key_pem"]
    assert sandbox.admin.merchant("shop-1") == created
    with pytest.raises(AdminError) as duplicate:
        sandbox.admin.create_merchant("Again", {"quickpay": {"store_no": created["credentials"]["quickpay"]["store_no"]}})
    assert duplicate.value.status == 400


def test_reset_keeps_merchants_and_rules(sandbox):
    create(sandbox, "RESET-1")
    sandbox.admin.add_rule(name="slow", match={"amount": 999}, action={"outcome": "succeed", "after_s": 5})
    assert sandbox.admin.reset() == {"deleted_payments": 1}
    assert sandbox.admin.payments()["total"] == 0
    assert "slow" in [r["name"] for r in sandbox.admin.rules()["rules"]] and sandbox.admin.merchant("demo-quickpay")


def test_admin_token_guards_everything_but_health():
    with SandboxServer(admin_token="s3cret") as server:
        assert requests.get(f"{server.url}/_sandbox/api/health", timeout=5).ok
        denied = requests.get(f"{server.url}/_sandbox/api/payments", timeout=5)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "UNAUTHORIZED"
        wrong = requests.get(f"{server.url}/_sandbox/api/payments", headers={"Authorization": "Bearer nope"},
                             timeout=5)
        assert wrong.status_code == 401
        assert server.admin.payments()["total"] == 0  # the client sends the token


async def test_async_admin_client(sandbox):
    async with sandbox.async_admin() as admin:
        assert (await admin.health())["status"] == "ok"
        with pytest.raises(AdminError):
            await admin.payment("pay_missing")


def test_held_refunds_are_settled_through_the_api(sandbox):
    payment = create(sandbox, "HOLD-1")
    sandbox.admin.succeed(payment["id"])
    held = sandbox.admin.refund(payment["id"], amount=40, hold=True)
    assert held["status"] == "PROCESSING"
    closed = sandbox.admin.refund_outcome(held["id"], "close", reason="merchant withdrew it")
    assert closed["status"] == "CLOSED"
    with pytest.raises(AdminError) as again:
        sandbox.admin.refund_outcome(held["id"], "succeed")
    assert again.value.status == 409
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 0


def test_magic_amounts_ship_as_default_rules(sandbox, notify_receiver):
    rules = {r["id"]: r for r in sandbox.admin.rules()["rules"]}
    assert rules["magic-404-declined"]["match"]["amount"] == 404
    requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json={**QP, "amount": 409, "order_no": "MAGIC-409",
                                                            "notify_url": notify_receiver.url()}, timeout=10)
    payment = sandbox.admin.payments(out_trade_no="MAGIC-409")["payments"][0]
    assert payment["auto_action"] == "succeed"
    sandbox.admin.advance(5)
    notify_receiver.wait_for(2)  # paid by the rule, and the notify sent twice
    assert sandbox.admin.payment(payment["id"])["status"] == "SUCCEEDED"


def test_a_rule_with_a_broken_pattern_is_refused_not_a_500(sandbox):
    with pytest.raises(AdminError) as refused:
        sandbox.admin.add_rule(name="bad", match={"out_trade_no_pattern": "("})
    assert refused.value.status == 400 and "regular expression" in refused.value.message
