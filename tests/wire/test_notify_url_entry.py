"""notify_url is checked where it enters, as each real provider checks it, in its own error shape (issue 15, item 1);
what a provider would refuse only in production (http, a local host) is accepted with a note on the timeline."""
from __future__ import annotations

import json

import pytest
import requests

from sandbox.providers.alipay import signing
from wechat_sdks import credentials, v2_request, v3_request

LONG = "https://m.example/" + "n" * 240  # 258 characters
V3_PATTERN_MESSAGE = "输入源“/body/notify_url”映射到值字段“通知地址”字符串规则校验失败，字符串必须匹配正则表达式"


def v3_native(sandbox, creds, notify_url, order="NURL-0001"):
    body = {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "Gift", "out_trade_no": order,
            "notify_url": notify_url, "amount": {"total": 100}}
    return v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native", body)


def notes(sandbox, payment_id):
    return [e["summary"] for e in sandbox.admin.payment(payment_id)["events"] if e["kind"] == "note"]


@pytest.mark.parametrize("url, words", [
    ("https://m.example/notify?order=1", V3_PATTERN_MESSAGE),  # APIv3 refuses query parameters
    ("https://m.example/notify#x", V3_PATTERN_MESSAGE),
    ("ftp://m.example/notify", V3_PATTERN_MESSAGE),
    ("/notify", V3_PATTERN_MESSAGE),
    ("", V3_PATTERN_MESSAGE),
    (LONG[:256], "大于最大值 255"),
    ("https://user:secret@m.example/notify", "不能包含用户名或密码"),
])
def test_v3_refuses_a_bad_notify_url_as_param_error(sandbox, url, words):
    creds = credentials(sandbox, "demo-wechat")
    response = v3_native(sandbox, creds, url)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["code"] == "PARAM_ERROR" and words in payload["message"]
    assert payload["detail"] == {"location": "body", "value": url}
    assert sandbox.admin.payments()["total"] == 0


def test_v3_refund_notify_url_is_checked_too(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    assert v3_native(sandbox, creds, "https://m.example/n", "NURL-REFUND").status_code == 200
    (payment,) = sandbox.admin.payments(out_trade_no="NURL-REFUND")["payments"]
    sandbox.admin.succeed(payment["id"])
    response = v3_request(sandbox, creds, "POST", "/v3/refund/domestic/refunds", {
        "out_trade_no": "NURL-REFUND", "out_refund_no": "R-1", "notify_url": "https://m.example/r?x=1",
        "amount": {"refund": 10, "total": 100, "currency": "CNY"}})
    assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR"
    assert "退款结果回调url" in response.json()["message"]
    assert sandbox.admin.payment(payment["id"])["refunds"] == []


def test_v3_accepts_http_and_a_local_host_but_says_so_on_the_timeline(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    response = v3_native(sandbox, creds, "http://127.0.0.1:9/notify", "NURL-LOCAL")
    assert response.status_code == 200, response.text
    (payment,) = sandbox.admin.payments(out_trade_no="NURL-LOCAL")["payments"]
    said = notes(sandbox, payment["id"])
    assert len(said) == 2, said
    assert "accepts only https in production" in said[0] and "not reachable from the internet" in said[1]
    assert v3_native(sandbox, creds, "https://m.example/n", "NURL-PUBLIC").status_code == 200
    (public,) = sandbox.admin.payments(out_trade_no="NURL-PUBLIC")["payments"]
    assert notes(sandbox, public["id"]) == []


def v2_order(creds, notify_url, order="V2-NURL-1"):
    return {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "n0nce", "body": "Gift",
            "out_trade_no": order, "total_fee": "100", "spbill_create_ip": "127.0.0.1", "notify_url": notify_url,
            "trade_type": "NATIVE", "product_id": "P-1"}


@pytest.mark.parametrize("url", ["notify", "https://u:p@m.example/n", "ftp://m.example/n", LONG[:257] + "x", ""])
def test_v2_answers_invalid_notify_url(sandbox, url):
    creds = credentials(sandbox, "demo-wechat")
    answer = v2_request(sandbox, "pay/unifiedorder", v2_order(creds, url), key=creds["v2_key"])
    assert (answer["return_code"], answer["return_msg"]) == ("FAIL", "invalid notify_url")
    assert sandbox.admin.payments()["total"] == 0


def test_v2_accepts_a_local_notify_url_with_a_note(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    answer = v2_request(sandbox, "pay/unifiedorder", v2_order(creds, "http://localhost:9/n"), key=creds["v2_key"])
    assert answer["result_code"] == "SUCCESS", answer
    (payment,) = sandbox.admin.payments(out_trade_no="V2-NURL-1")["payments"]
    (said,) = notes(sandbox, payment["id"])  # v2 takes http: only the host is noted
    assert "localhost is not reachable from the internet" in said


def alipay_precreate(sandbox, notify_url, order):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    params = signing.build_request("alipay.trade.precreate", {"out_trade_no": order, "total_amount": "1.00",
                                                              "subject": "Gift"},
                                   app_id=creds["app_id"], notify_url=notify_url)
    params = signing.parse_order_string(signing.order_string(params, creds["app_private_key_pem"]))
    response = requests.get(f"{sandbox.url}/gateway.do", params=params, timeout=10)
    return json.loads(response.content)["alipay_trade_precreate_response"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://u:p@m.example/n", "https://m.example/" + "n" * 240])
def test_alipay_answers_invalid_parameter(sandbox, url):
    answer = alipay_precreate(sandbox, url, "ALI-NURL-1")
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-parameter"), answer
    assert "notify_url" in answer["sub_msg"]
    assert sandbox.admin.payments()["total"] == 0


def test_alipay_accepts_a_query_and_a_local_host_with_a_note(sandbox):
    answer = alipay_precreate(sandbox, "http://192.168.1.20/alipay/notify?shop=1", "ALI-NURL-2")
    assert answer["code"] == "10000", answer
    (payment,) = sandbox.admin.payments(out_trade_no="ALI-NURL-2")["payments"]
    (said,) = notes(sandbox, payment["id"])
    assert "192.168.1.20 is not reachable from the internet: Alipay" in said


def quickpay(sandbox, notify_url, order):
    body = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787",
            "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "amount": 100, "order_no": order, "notify_url": notify_url}
    return requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=body, timeout=10).json()


@pytest.mark.parametrize("url", ["notify.example/n", "http://u:p@m.example/n", "https://m.example/" + "n" * 240])
def test_quickpay_answers_param_error(sandbox, url):
    answer = quickpay(sandbox, url, "QP-NURL-1")
    assert answer["code"] == "PARAM_ERROR" and "notify_url" in answer["msg"], answer
    assert sandbox.admin.payments()["total"] == 0


def test_quickpay_accepts_a_docker_service_name_with_a_note(sandbox):
    assert quickpay(sandbox, "http://shop-backend:8000/quickpay/notify", "QP-NURL-2")["code"] == "SUCCESS"
    (payment,) = sandbox.admin.payments(out_trade_no="QP-NURL-2")["payments"]
    (said,) = notes(sandbox, payment["id"])
    assert "shop-backend is not reachable from the internet: QuickPay" in said
