"""The shop app's "order immediate pay" over HTTP (seed 002, ../shared/specs/merchant-apps.md): every documented
answer, the points rules, concurrent pays, and full loops through the sandbox's WeChat and Alipay.

Demo data (fixtures/shop): user 1 (token shop-demo-token-1, 500 points, address 1, orders 1001 ¥99.00 and 1003
¥3.00), user 2 (shop-demo-token-2, 100000 points, address 2, order 1004 ¥20.00), user 3 (shop-demo-token-3, no points,
address 3, order 1002 ¥0.01). 100 points = 1 yuan."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

import pytest
import requests
from alipay import AliPay
from wechatpy.pay.utils import calculate_signature

from sandbox.providers.alipay.credentials import python_sdk_config
from wechat_sdks import V2_ACK, v2_client

MERCHANT = "demo-shop"
T1, T2, T3 = "shop-demo-token-1", "shop-demo-token-2", "shop-demo-token-3"
WECHAT_1001 = {"order_id": 1001, "pay_method": 1, "pay_price": "99.00", "pay_integral": 0, "address_id": 1,
               "freight_mode": 1}
MIXED_1001 = {**WECHAT_1001, "pay_method": 4, "pay_price": "94.00", "pay_integral": 500}
POINTS_1004 = {"order_id": 1004, "pay_method": 3, "pay_price": 0, "pay_integral": 2000, "address_id": 2,
               "freight_mode": 2, "freight_json_arr_key": 2}


def call(sandbox, fields: dict | None = None, token: str | None = T1, json_body=None, **extra) -> dict:
    headers = {} if token is None else {"token": token}
    url = f"{sandbox.url}/api/order/pay"
    if json_body is not None:
        answer = requests.post(url, headers=headers, json=json_body, timeout=20)
    else:
        answer = requests.post(url, headers=headers, data={**(fields or {}), **extra}, timeout=20)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json"), answer.text
    return answer.json()


def error(msg: str) -> dict:
    return {"status": 0, "msg": msg, "data": []}


def pay_param(answer: dict):
    assert (answer["status"], answer["msg"]) == (200, "下单成功"), answer
    assert list(answer["data"]) == ["pay_param"]
    return answer["data"]["pay_param"]


def admin(sandbox, method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
    answer = requests.request(method, f"{sandbox.url}/_sandbox/api{path}", json=body, timeout=10)
    assert answer.status_code == expect, answer.text
    return answer.json()


def points(sandbox, user: int = 1) -> tuple[int, int]:
    account = admin(sandbox, "GET", f"/accounts/{MERCHANT}:{user}:points")
    return account["balance"], account["held"]


def order(sandbox, order_id: int) -> dict:
    return admin(sandbox, "GET", f"/apps/shop/order/{order_id}?merchant={MERCHANT}")["data"]


def payments(sandbox, **filters) -> list[dict]:
    return sandbox.admin.payments(merchant=MERCHANT, **filters)["payments"]


def the_payment(sandbox, order_id: int) -> dict:
    return sandbox.admin.payment(order(sandbox, order_id)["payment_id"])


def creds(sandbox, provider: str) -> dict:
    return sandbox.admin.merchant(MERCHANT)["credentials"][provider]


def order_string_params(order_string: str) -> dict[str, str]:
    return dict(parse_qsl(order_string, keep_blank_values=True))


def expire_due(sandbox, seconds: float) -> None:
    sandbox.admin.advance(seconds)
    sandbox.call(sandbox.engine.run_due_actions())  # what the scheduler does when it wakes


# ----- tokens and bodies -----------------------------------------------------------------------------------------

def test_missing_unknown_expired_and_revoked_tokens_answer_token_expired(sandbox):
    assert call(sandbox, WECHAT_1001, token=None) == error("token过期")
    assert call(sandbox, WECHAT_1001, token="no-such-token") == error("token过期")
    assert call(sandbox, WECHAT_1001, token="shop-demo-token-expired") == error("token过期")
    issued = admin(sandbox, "POST", "/apps/shop/actions/issue-token", {"user_id": 1, "ttl_s": 60})
    assert re.fullmatch(r"[0-9a-f]{32}", issued["token"]) and issued["user_id"] == 1
    assert issued["expires_at"] - issued["issued_at"] == 60
    assert pay_param(call(sandbox, WECHAT_1001, token=issued["token"]))["package"] == "Sign=WXPay"
    sandbox.admin.advance(60)  # the TTL runs on the sandbox clock
    assert call(sandbox, WECHAT_1001, token=issued["token"]) == error("token过期")
    # the default TTL is the shop's token_ttl_s (7 days); a revoked token is expired at once
    weekly = admin(sandbox, "POST", "/apps/shop/actions/issue-token", {"user_id": 1})
    assert weekly["expires_at"] - weekly["issued_at"] == 7 * 86400
    admin(sandbox, "POST", "/apps/shop/actions/revoke-token", {"token": weekly["token"]})
    assert call(sandbox, WECHAT_1001, token=weekly["token"]) == error("token过期")
    assert call(sandbox, WECHAT_1001, token=T1)["status"] == 200  # demo tokens never expire


@pytest.mark.parametrize("fields, msg", [
    ({k: v for k, v in WECHAT_1001.items() if k != "order_id"}, "order_id不能为空"),
    ({**WECHAT_1001, "order_id": ""}, "order_id不能为空"),
    ({**WECHAT_1001, "order_id": "abc"}, "order_id格式错误"),
    ({k: v for k, v in WECHAT_1001.items() if k != "pay_method"}, "pay_method不能为空"),
    ({**WECHAT_1001, "pay_method": 6}, "支付方式错误"),
    ({**WECHAT_1001, "pay_method": 0}, "支付方式错误"),
    ({**WECHAT_1001, "pay_price": "99.001"}, "pay_price格式错误"),
    ({**WECHAT_1001, "pay_price": "-1"}, "pay_price格式错误"),
    ({**WECHAT_1001, "pay_price": "NaN"}, "pay_price格式错误"),
    ({**WECHAT_1001, "pay_integral": "1.5"}, "pay_integral格式错误"),
    ({**WECHAT_1001, "pay_integral": "-3"}, "pay_integral格式错误"),
    ({k: v for k, v in WECHAT_1001.items() if k != "address_id"}, "address_id不能为空"),
    ({k: v for k, v in WECHAT_1001.items() if k != "freight_mode"}, "freight_mode不能为空"),
    ({**WECHAT_1001, "freight_mode": 3}, "freight_mode格式错误"),
    ({**WECHAT_1001, "freight_mode": 2}, "freight_mode=2时freight_json_arr_key必填(1=到付 2=商家自选)"),
    ({**WECHAT_1001, "freight_mode": 2, "freight_json_arr_key": 0},
     "freight_mode=2时freight_json_arr_key必填(1=到付 2=商家自选)"),
    ({**WECHAT_1001, "freight_json_arr_key": 3}, "freight_json_arr_key格式错误"),
    ({**WECHAT_1001, "order_id": 99999}, "订单不存在"),
    ({**WECHAT_1001, "order_id": 1004}, "订单不存在"),  # user 2's order
    ({**WECHAT_1001, "address_id": 77}, "收货地址不存在"),
    ({**WECHAT_1001, "address_id": 2}, "收货地址不存在"),  # user 2's address
])
def test_bad_fields_answer_the_envelope_with_a_clear_msg_and_write_nothing(sandbox, fields, msg):
    assert call(sandbox, fields) == error(msg)
    assert payments(sandbox) == []
    assert points(sandbox) == (500, 0)


def test_json_bodies_and_bodies_that_are_not_fields(sandbox):
    body = {**MIXED_1001, "pay_price": 94, "order_id": "1001"}  # numbers or numeric strings, as PHP takes them
    assert pay_param(call(sandbox, json_body=body))["partnerid"] == "1523813651"
    bad_json = requests.post(f"{sandbox.url}/api/order/pay", headers={"token": T1, "Content-Type": "application/json"},
                             data=b"{not json", timeout=10)
    assert (bad_json.status_code, bad_json.json()) == (200, error("参数错误"))
    assert call(sandbox, json_body=[1, 2]) == error("参数错误")
    assert call(sandbox, json_body={**MIXED_1001, "pay_integral": [500]}) == error("pay_integral格式错误")
    assert call(sandbox, json_body={**MIXED_1001, "pay_price": True}) == error("pay_price格式错误")
    for number in (b"1e400", b"Infinity", b"NaN", b"1001.5"):
        raw = requests.post(f"{sandbox.url}/api/order/pay", headers={"token": T1, "Content-Type": "application/json"},
                            data=b'{"order_id": ' + number + b', "pay_method": 1}', timeout=10)
        assert raw.json() == error("order_id格式错误"), number
    huge = requests.post(f"{sandbox.url}/api/order/pay", headers={"token": T1}, data={"x": "y" * 70_000}, timeout=10)
    assert (huge.status_code, huge.json()) == (200, error("参数错误"))
    as_get = requests.get(f"{sandbox.url}/api/order/pay", headers={"token": T1}, timeout=10)
    assert (as_get.status_code, as_get.json()) == (200, error("参数错误"))
    multipart = requests.post(f"{sandbox.url}/api/order/pay", headers={"token": T1}, timeout=10,
                              files={k: (None, str(v)) for k, v in MIXED_1001.items()})
    assert multipart.json()["status"] == 200


# ----- the points rules ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token, fields, msg", [
    # user 1 has 500 points: they cover order 1003 (¥3.00 = 300 points) → points only
    (T1, {"order_id": 1003, "pay_method": 1, "pay_price": "3.00"}, "积分足够支付, 请选择积分支付"),
    (T1, {"order_id": 1003, "pay_method": 2, "pay_price": "3.00"}, "积分足够支付, 请选择积分支付"),
    (T1, {"order_id": 1003, "pay_method": 4, "pay_price": "1.00", "pay_integral": 200}, "积分足够支付, 请选择积分支付"),
    (T1, {"order_id": 1003, "pay_method": 5, "pay_price": "1.00", "pay_integral": 200}, "积分足够支付, 请选择积分支付"),
    (T1, {"order_id": 1003, "pay_method": 3, "pay_integral": 299}, "支付金额与订单金额不符"),
    (T1, {"order_id": 1003, "pay_method": 3, "pay_price": "1.00", "pay_integral": 200}, "积分支付时支付金额须为0"),
    # they do not cover order 1001 (¥99.00) → an API method
    (T1, {"order_id": 1001, "pay_method": 3, "pay_integral": 9900}, "积分不足, 请选择微信或支付宝支付"),
    (T1, {"order_id": 1001, "pay_method": 1, "pay_price": "94.00", "pay_integral": 500},
     "微信支付、支付宝支付不使用积分, 使用积分请选择4或5"),
    (T1, {"order_id": 1001, "pay_method": 4, "pay_price": "99.00"}, "请填写支付积分"),
    (T1, {"order_id": 1001, "pay_method": 1, "pay_price": "98.99"}, "支付金额与订单金额不符"),
    (T1, {"order_id": 1001, "pay_method": 5, "pay_price": "94.00", "pay_integral": 400}, "支付金额与订单金额不符"),
    (T1, {"order_id": 1001, "pay_method": 4, "pay_price": "93.00", "pay_integral": 600}, "积分不足"),
    (T2, {"order_id": 1004, "pay_method": 2, "pay_price": "20.00", "address_id": 2}, "积分足够支付, 请选择积分支付"),
])
def test_points_rules_refuse_with_the_reason_and_write_nothing(sandbox, token, fields, msg):
    base = {"pay_price": 0, "pay_integral": 0, "address_id": 1, "freight_mode": 1}
    assert call(sandbox, {**base, **fields}, token=token) == error(msg)
    assert payments(sandbox) == []
    assert points(sandbox, 1) == (500, 0) and points(sandbox, 2) == (100000, 0)


def test_points_only_pays_at_once_and_an_order_paid_is_refused(sandbox):
    assert pay_param(call(sandbox, POINTS_1004, token=T2)) == ""  # sandbox convention: nothing to open
    assert points(sandbox, 2) == (98000, 0)
    (payment,) = payments(sandbox)
    assert (payment["provider"], payment["trade_type"], payment["status"], payment["amount"]) == \
        ("shop", "POINTS", "SUCCEEDED", 2000)
    data = order(sandbox, 1004)
    assert (data["status"], data["pay_state"], data["payment_id"]) == ("paid", "paid", payment["id"])
    assert call(sandbox, POINTS_1004, token=T2) == error("订单已支付")
    assert call(sandbox, {**POINTS_1004, "pay_method": 2, "pay_price": "20.00", "pay_integral": 0},
                token=T2) == error("订单已支付")
    entries = admin(sandbox, "GET", f"/accounts/{MERCHANT}:2:points")["entries"]
    assert [(e["kind"], e["amount"], e["payment_id"]) for e in entries][:3] == \
        [("debit", 2000, payment["id"]), ("release", 2000, payment["id"]), ("hold", 2000, payment["id"])]


def test_points_are_held_on_order_and_released_when_the_payment_closes_fails_or_expires(sandbox):
    # close (the console's or the admin API's Close button)
    pay_param(call(sandbox, MIXED_1001))
    assert points(sandbox) == (500, 500)
    assert order(sandbox, 1001)["pay_state"] == "paying"
    sandbox.admin.close(the_payment(sandbox, 1001)["id"])
    assert points(sandbox) == (500, 0)
    assert (order(sandbox, 1001)["pay_state"], order(sandbox, 1001)["status"]) == ("unpaid", "unpaid")
    # fail
    pay_param(call(sandbox, {**MIXED_1001, "pay_method": 5}))
    assert points(sandbox) == (500, 500)
    sandbox.admin.fail(the_payment(sandbox, 1001)["id"], reason="余额不足")
    assert points(sandbox) == (500, 0)
    assert order(sandbox, 1001)["pay_state"] == "unpaid"
    # expire: Alipay's timeout_express 60m
    pay_param(call(sandbox, {**MIXED_1001, "pay_method": 5}))
    payment = the_payment(sandbox, 1001)
    assert abs(payment["expires_at"] - payment["created_at"] - 3600) < 0.01  # Alipay reads the clock just before
    expire_due(sandbox, 3600)
    assert sandbox.admin.payment(payment["id"])["status"] == "CLOSED"
    assert points(sandbox) == (500, 0)
    # WeChat's 2 h
    pay_param(call(sandbox, MIXED_1001))
    payment = the_payment(sandbox, 1001)
    assert payment["expires_at"] - payment["created_at"] == 7200
    expire_due(sandbox, 7200)
    assert points(sandbox) == (500, 0) and order(sandbox, 1001)["pay_state"] == "unpaid"
    assert len(payments(sandbox)) == 4 and {p["status"] for p in payments(sandbox)} == {"CLOSED", "FAILED"}


def test_refunds_give_points_back_in_proportion_to_what_is_refunded(sandbox):
    pay_param(call(sandbox, MIXED_1001))
    payment = the_payment(sandbox, 1001)
    sandbox.admin.succeed(payment["id"])
    assert points(sandbox) == (0, 0)
    sandbox.admin.refund(payment["id"], amount=4700)  # half the WeChat money: half the points
    assert points(sandbox) == (250, 0)
    sandbox.admin.refund(payment["id"], amount=4700)
    assert points(sandbox) == (500, 0)  # never the WeChat money itself
    pay_param(call(sandbox, POINTS_1004, token=T2))
    points_payment = the_payment(sandbox, 1004)
    sandbox.admin.refund(points_payment["id"], amount=1999)
    assert points(sandbox, 2) == (98000 + 1999, 0)
    sandbox.admin.refund(points_payment["id"], amount=1)
    assert points(sandbox, 2) == (100000, 0)


def test_a_payment_past_its_time_is_not_handed_back(sandbox):
    first = pay_param(call(sandbox, MIXED_1001))
    old = the_payment(sandbox, 1001)
    sandbox.admin.advance(7200)  # whether the scheduler or the call closes it first, it is closed as expired
    again = pay_param(call(sandbox, MIXED_1001))
    assert again["prepayid"] != first["prepayid"]
    expired = sandbox.admin.payment(old["id"])
    assert (expired["status"], expired["close_reason"]) == ("CLOSED", "expired")
    assert points(sandbox) == (500, 500) and len(payments(sandbox, status="PENDING")) == 1


def test_asking_again_hands_back_the_same_payment_and_another_method_supersedes_it(sandbox):
    first = pay_param(call(sandbox, MIXED_1001))
    again = pay_param(call(sandbox, MIXED_1001))
    assert again["prepayid"] == first["prepayid"] and len(payments(sandbox)) == 1
    assert points(sandbox) == (500, 500)  # held once
    # the app switches to Alipay with points: the WeChat payment gives way, its hold goes back, a new one is held
    string = pay_param(call(sandbox, {**MIXED_1001, "pay_method": 5}))
    assert "method=alipay.trade.app.pay" in string
    wechat, alipay = sorted(payments(sandbox), key=lambda p: p["provider"], reverse=True)
    assert (wechat["provider"], wechat["status"]) == ("wechat", "CLOSED")
    assert (alipay["provider"], alipay["status"]) == ("alipay", "PENDING")
    assert points(sandbox) == (500, 500)
    # and without points: the hold is released
    pay_param(call(sandbox, WECHAT_1001))
    assert points(sandbox) == (500, 0)
    assert sorted(p["status"] for p in payments(sandbox)) == ["CLOSED", "CLOSED", "PENDING"]
    # the same Alipay call twice: one trade, the same order string terms
    pay_param(call(sandbox, {**WECHAT_1001, "pay_method": 2}))
    one = order_string_params(pay_param(call(sandbox, {**WECHAT_1001, "pay_method": 2})))
    two = order_string_params(pay_param(call(sandbox, {**WECHAT_1001, "pay_method": 2})))
    assert one["biz_content"] == two["biz_content"] and len(payments(sandbox, provider="alipay")) == 2


# ----- WeChat ----------------------------------------------------------------------------------------------------

def test_wechat_pay_param_is_the_app_object_of_a_real_sandbox_payment(sandbox):
    before = int(sandbox.admin.clock()["now"])
    param = pay_param(call(sandbox, WECHAT_1001))
    after = int(sandbox.admin.clock()["now"])
    wechat = creds(sandbox, "wechat")
    assert list(param) == ["appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"]
    assert (param["appid"], param["partnerid"], param["package"]) == ("wxd65a13300ecaae03", "1523813651",
                                                                      "Sign=WXPay")
    assert re.fullmatch(r"[0-9A-Za-z]{32}", param["noncestr"])
    assert re.fullmatch(r"\d{10}", param["timestamp"]) and before <= int(param["timestamp"]) <= after
    # wechatpy's own v2 signature over the six fields, with the merchant's v2 key
    assert param["sign"] == calculate_signature({k: v for k, v in param.items() if k != "sign"}, wechat["v2_key"])
    assert re.fullmatch(r"[0-9A-F]{32}", param["sign"])
    payment = the_payment(sandbox, 1001)
    assert (payment["provider"], payment["trade_type"], payment["amount"], payment["status"]) == \
        ("wechat", "APP", 9900, "PENDING")
    assert payment["provider_ids"]["prepay_id"] == param["prepayid"]
    assert re.fullmatch(r"\d{18}", payment["out_trade_no"])
    # the WeChat API knows it: wechatpy's orderquery finds it NOTPAY
    pay, _ = v2_client(sandbox, MERCHANT)
    assert pay.order.query(out_trade_no=payment["out_trade_no"])["trade_state"] == "NOTPAY"
    assert payment["events"][-1]["summary"] == "shop /api/order/pay (pay_method 1)"


def test_wechat_loop_pay_succeed_order_paid_points_taken_notify_received(sandbox, notify_receiver):
    notify_receiver.reply = (200, V2_ACK)
    settings = admin(sandbox, "POST", "/apps/shop/actions/settings", {"notify_url": notify_receiver.url("/wx")})
    assert (settings["notify_url"], settings["points_per_yuan"]) == (notify_receiver.url("/wx"), 100)
    param = pay_param(call(sandbox, MIXED_1001))
    payment = the_payment(sandbox, 1001)
    assert payment["amount"] == 9400 and points(sandbox) == (500, 500)
    sandbox.admin.succeed(payment["id"])
    data = order(sandbox, 1001)
    assert (data["status"], data["pay_state"], data["payment_id"]) == ("paid", "paid", payment["id"])
    assert points(sandbox) == (0, 0)
    (received,) = notify_receiver.wait_for(1)
    assert received.path == "/wx"
    pay, _ = v2_client(sandbox, MERCHANT)
    result = pay.parse_payment_result(received.body)  # checks the MD5 sign with the v2 key
    assert (result["out_trade_no"], result["total_fee"], result["trade_type"], result["appid"]) == \
        (payment["out_trade_no"], 9400, "APP", param["appid"])
    assert call(sandbox, MIXED_1001) == error("订单已支付")


def test_the_wechat_app_payment_can_be_paid_on_the_cashier_page(sandbox):
    pay_param(call(sandbox, WECHAT_1001))
    payment = the_payment(sandbox, 1001)
    browser = requests.Session()
    page = browser.get(f"{sandbox.url}/_sandbox/pay/{payment['id']}", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    paid = browser.post(f"{page.url}/pay", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert paid.status_code == 303, paid.text[:300]
    assert order(sandbox, 1001)["pay_state"] == "paid"


# ----- Alipay ----------------------------------------------------------------------------------------------------

def test_alipay_pay_param_is_an_app_pay_order_string_the_app_public_key_verifies(sandbox):
    order_string = pay_param(call(sandbox, {**WECHAT_1001, "order_id": 1002, "pay_method": 2, "pay_price": "0.01",
                                            "address_id": 3}, token=T3))
    alipay = creds(sandbox, "alipay")
    params = order_string_params(order_string)
    signature = params.pop("sign")
    assert list(params) == ["alipay_sdk", "app_id", "biz_content", "charset", "format", "method", "sign_type",
                            "timestamp", "version"]  # no notify_url: none configured
    assert {k: params[k] for k in ("app_id", "method", "charset", "format", "sign_type", "version")} == \
        {"app_id": "2019121169879357", "method": "alipay.trade.app.pay", "charset": "UTF-8", "format": "json",
         "sign_type": "RSA2", "version": "1.0"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", params["timestamp"])
    payment = the_payment(sandbox, 1002)
    assert __import__("json").loads(params["biz_content"]) == {
        "body": "在线支付", "subject": "在线支付", "out_trade_no": payment["out_trade_no"], "timeout_express": "60m",
        "total_amount": "0.01", "product_code": "QUICK_MSECURITY_PAY"}
    assert (payment["provider"], payment["trade_type"], payment["amount"]) == ("alipay", "APP", 1)
    # python-alipay-sdk, with the app's PUBLIC key where it expects Alipay's: a request's signature covers
    # sign_type (its public verify() drops sign_type, as notifies need), so the SDK's own ordered string is checked
    sdk = AliPay(**{**python_sdk_config(alipay), "alipay_public_key_string": alipay["app_public_key_pem"]})
    message = "&".join(f"{k}={v}" for k, v in sdk._ordered_data(dict(params)))
    assert sdk._verify(message, signature)
    assert not sdk._verify(message.replace("0.01", "0.02"), signature)
    # and the SDK, holding the app's private key, renders the very same string (RSA PKCS#1 v1.5 is deterministic)
    assert sdk.sign_data(dict(params)) == order_string


def test_the_order_string_pasted_at_the_cashier_opens_the_same_trade(sandbox):
    order_string = pay_param(call(sandbox, {**MIXED_1001, "pay_method": 5}))
    payment = the_payment(sandbox, 1001)
    browser = requests.Session()
    page = browser.get(f"{sandbox.url}/_sandbox/pay/alipay-app", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    opened = browser.post(f"{sandbox.url}/_sandbox/pay/alipay-app", allow_redirects=False, timeout=10,
                          data={"csrf_token": token, "order_string": order_string})
    assert opened.status_code == 303, opened.text[:500]
    assert opened.headers["Location"] == f"/_sandbox/pay/{payment['id']}"
    assert len(payments(sandbox)) == 1 and points(sandbox) == (500, 500)


def test_alipay_loop_order_string_succeed_order_paid_notify_received(sandbox, notify_receiver):
    admin(sandbox, "POST", "/apps/shop/actions/settings", {"notify_url": notify_receiver.url("/ali")})
    order_string = pay_param(call(sandbox, {**MIXED_1001, "pay_method": 5}))
    assert order_string_params(order_string)["notify_url"] == notify_receiver.url("/ali")
    opened = admin(sandbox, "POST", "/alipay/app-pay", {"order_string": order_string})
    payment = the_payment(sandbox, 1001)
    assert opened["id"] == payment["id"] and payment["amount"] == 9400
    sandbox.admin.succeed(payment["id"])
    assert order(sandbox, 1001)["pay_state"] == "paid"
    assert points(sandbox) == (0, 0)
    (received,) = notify_receiver.wait_for(1)
    sdk = AliPay(**python_sdk_config(creds(sandbox, "alipay")))
    data = dict(parse_qsl(received.text))
    signature = data.pop("sign")
    assert sdk.verify(dict(data), signature)
    assert (data["out_trade_no"], data["total_amount"], data["trade_status"]) == \
        (payment["out_trade_no"], "94.00", "TRADE_SUCCESS")


# ----- concurrency -----------------------------------------------------------------------------------------------

def concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        return work(i)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_identical_wechat_pays_make_one_payment_holding_points_once(sandbox):
    answers = concurrently(8, lambda i: call(sandbox, MIXED_1001))
    assert {pay_param(a)["prepayid"] for a in answers} == {the_payment(sandbox, 1001)["provider_ids"]["prepay_id"]}
    assert len(payments(sandbox)) == 1 and points(sandbox) == (500, 500)


def test_concurrent_points_pays_pay_once(sandbox):
    answers = concurrently(8, lambda i: call(sandbox, POINTS_1004, token=T2))
    assert sorted(a["msg"] for a in answers) == ["下单成功"] + ["订单已支付"] * 7
    assert points(sandbox, 2) == (98000, 0)
    assert [p["status"] for p in payments(sandbox)] == ["SUCCEEDED"]


def test_concurrent_pays_by_every_api_method_leave_one_open_payment_and_pay_once(sandbox):
    ways = [WECHAT_1001, MIXED_1001, {**WECHAT_1001, "pay_method": 2}, {**MIXED_1001, "pay_method": 5}] * 3
    answers = concurrently(len(ways), lambda i: call(sandbox, ways[i]))
    assert all(a["status"] == 200 for a in answers), answers
    pending = payments(sandbox, status="PENDING")
    assert len(pending) == 1 and pending[0]["id"] == order(sandbox, 1001)["payment_id"]
    held = points(sandbox)[1]
    assert held == (500 if pending[0]["amount"] == 9400 else 0)
    for payment in payments(sandbox):  # try to pay every one of them: only the open one can be
        try:
            sandbox.admin.succeed(payment["id"])
        except Exception:  # noqa: BLE001 - a closed payment is refused by the admin API
            pass
    assert [p["status"] for p in payments(sandbox) if p["status"] == "SUCCEEDED"] == ["SUCCEEDED"]
    assert order(sandbox, 1001)["pay_state"] == "paid"
    assert points(sandbox) == ((0, 0) if held else (500, 0))


# ----- admin -----------------------------------------------------------------------------------------------------

def test_users_orders_addresses_and_points_through_the_admin_api(sandbox):
    admin(sandbox, "PUT", "/apps/shop/user/7", {"merchant_id": MERCHANT, "data": {"nickname": "neo", "points": 50}})
    admin(sandbox, "PUT", "/apps/shop/address/70", {"data": {"user_id": 7, "name": "neo", "detail": "Zion"}})
    admin(sandbox, "PUT", "/apps/shop/order/7001", {"data": {"user_id": 7, "price": 120, "title": "测试商品"}})
    assert admin(sandbox, "PUT", "/apps/shop/order/7002", {"data": {"user_id": 8, "price": 1}}, expect=400)
    assert admin(sandbox, "PUT", "/apps/shop/order/7003", {"data": {"user_id": 7, "price": 0}}, expect=400)
    token = admin(sandbox, "POST", "/apps/shop/actions/issue-token", {"user_id": 7, "token": "neo-token-0001"})
    assert token["token"] == "neo-token-0001"
    fields = {"order_id": 7001, "pay_method": 3, "pay_integral": 120, "address_id": 70, "freight_mode": 1}
    assert call(sandbox, fields, token="neo-token-0001") == error("积分不足, 请选择微信或支付宝支付")
    account = admin(sandbox, "POST", "/apps/shop/actions/set-points", {"user_id": 7, "points": 120})
    assert (account["balance"], account["available"]) == (120, 120)
    assert pay_param(call(sandbox, fields, token="neo-token-0001")) == ""
    assert points(sandbox, 7) == (0, 0)
    user = admin(sandbox, "GET", f"/apps/shop/user/7?merchant={MERCHANT}")
    assert user["data"]["nickname"] == "neo" and user["accounts"][0]["asset"] == "points"
    # a top-up through the accounts API; a paid order stays as it is
    assert admin(sandbox, "POST", f"/accounts/{MERCHANT}:7:points/adjust", {"amount": 30})["balance"] == 30
    assert admin(sandbox, "PUT", "/apps/shop/order/7001", {"data": {"user_id": 7, "price": 5}}, expect=400)
    assert admin(sandbox, "PATCH", "/apps/shop/order/7001", {"data": {"price": 5}}, expect=400)
    assert admin(sandbox, "PATCH", "/apps/shop/order/1001", {"data": {"price": 100}})["data"]["price"] == 100
    # an order paid elsewhere
    admin(sandbox, "PUT", "/apps/shop/order/7004", {"data": {"user_id": 7, "price": 9, "status": "paid"}})
    assert call(sandbox, {**fields, "order_id": 7004, "pay_integral": 9}, token="neo-token-0001") == error("订单已支付")
    assert admin(sandbox, "PUT", "/apps/shop/order/7005", {"data": {"user_id": 7, "price": 9, "status": 2}},
                 expect=400)["error"]["message"] == "status is unpaid or paid"
    assert admin(sandbox, "POST", "/apps/shop/actions/nope", {}, expect=404)["error"]["code"] == "NOT_FOUND"


def test_another_points_rate_and_a_shop_without_wechat_or_alipay(sandbox):
    admin(sandbox, "POST", "/apps/shop/actions/settings", {"points_per_yuan": 10})  # 10 points = 1 yuan
    fields = {"order_id": 1003, "pay_method": 3, "pay_integral": 30, "address_id": 1, "freight_mode": 1}
    assert pay_param(call(sandbox, fields)) == ""
    assert points(sandbox) == (470, 0)
    assert admin(sandbox, "POST", "/apps/shop/actions/settings", {"points_per_yuan": 0}, expect=400)

    shop = sandbox.admin.create_merchant("Shop without wallets", {"shop": {}})
    assert shop["credentials"]["shop"] == {"token_ttl_s": 604800, "notify_url": None, "points_per_yuan": 100}
    mine = {"merchant_id": shop["id"]}
    admin(sandbox, "PUT", "/apps/shop/user/1", {**mine, "data": {"nickname": "solo"}})
    admin(sandbox, "PUT", "/apps/shop/address/1", {**mine, "data": {"user_id": 1}})
    admin(sandbox, "PUT", "/apps/shop/order/1", {**mine, "data": {"user_id": 1, "price": 500}})
    token = admin(sandbox, "POST", "/apps/shop/actions/issue-token", {**mine, "user_id": 1})["token"]
    fields = {"order_id": 1, "pay_price": "5.00", "address_id": 1, "freight_mode": 1}
    assert call(sandbox, {**fields, "pay_method": 1}, token=token) == error("商户未开通微信支付")
    assert call(sandbox, {**fields, "pay_method": 2}, token=token) == error("商户未开通支付宝支付")
    assert sandbox.admin.payments(merchant=shop["id"])["payments"] == []


def test_a_fault_rule_makes_a_pay_call_busy_and_writes_nothing(sandbox):
    sandbox.admin.add_rule(name="shop busy once", match={"provider": "shop", "operation": "create",
                                                          "out_trade_no_pattern": "1001"},
                           action={"api_error": True, "api_times": 1})
    assert call(sandbox, MIXED_1001) == error("系统繁忙, 请稍后再试")
    assert payments(sandbox) == [] and points(sandbox) == (500, 0)
    assert pay_param(call(sandbox, MIXED_1001))["package"] == "Sign=WXPay"
