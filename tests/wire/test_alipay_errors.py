"""Alipay refusals on the wire: each error shape, signed when the app is known, and nothing stored changes.

Requests are built with the same signing functions the SDK-fidelity tests pin to both SDKs.
"""
from __future__ import annotations

import json
import socket
from urllib.parse import urlencode

import pytest
import requests

from sandbox.providers.alipay import signing

MERCHANT = "demo-alipay"
QUERY = "alipay.trade.query"


@pytest.fixture
def creds(sandbox) -> dict:
    return sandbox.admin.merchant(MERCHANT)["credentials"]["alipay"]


def signed(creds: dict, method: str, biz: dict | str, **extra) -> dict:
    params = signing.build_request(method, {} if isinstance(biz, str) else biz, app_id=creds["app_id"], **extra)
    if isinstance(biz, str):
        params["biz_content"] = biz
    return signing.parse_order_string(signing.order_string(params, creds["app_private_key_pem"]))


def gateway(sandbox, params: dict) -> tuple[str, dict, bytes]:
    response = requests.get(f"{sandbox.url}/gateway.do", params=params, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(response.content)
    key = next(iter(body))
    return key, body, response.content


def inner_text(raw: bytes, key: str) -> str:
    text = raw.decode("utf-8")
    return text[len(f'{{"{key}":'):text.rindex(',"sign":"')]


def assert_error(sandbox, params, key, code, sub_code, *, signed_with: dict | None):
    got_key, body, raw = gateway(sandbox, params)
    assert got_key == key, body
    error = body[key]
    assert (error["code"], error["sub_code"]) == (code, sub_code), error
    assert error["msg"] and error["sub_msg"]
    if signed_with is None:
        assert "sign" not in body
    else:
        assert list(body) == [key, "sign"]
        assert signing.verify(inner_text(raw, key), body["sign"], signed_with["alipay_public_key_pem"])
    return error


def test_common_parameter_errors(sandbox, creds):
    good = signed(creds, QUERY, {"out_trade_no": "X"})
    without = lambda *names: {k: v for k, v in good.items() if k not in names}  # noqa: E731
    key = "alipay_trade_query_response"
    cases = [
        (without("method"), "error_response", "40001", "isv.missing-method", None),
        ({**good, "method": "alipay.trade.nope"}, "error_response", "40002", "isv.invalid-method", None),
        (without("app_id"), key, "40001", "isv.missing-app-id", None),
        ({**good, "app_id": "2021999999999999"}, key, "40002", "isv.invalid-app-id", None),
        ({**good, "format": "xml"}, key, "40002", "isv.invalid-format", None),
        ({**good, "charset": "latin-1"}, key, "40002", "isv.invalid-charset", creds),
        (without("sign_type"), key, "40001", "isv.missing-signature-type", creds),
        ({**good, "sign_type": "MD5"}, key, "40002", "isv.invalid-signature-type", creds),
        (without("sign"), key, "40001", "isv.missing-signature", creds),
        (without("timestamp"), key, "40001", "isv.missing-timestamp", creds),
        ({**good, "timestamp": "yesterday"}, key, "40002", "isv.invalid-timestamp", creds),
        (without("version"), key, "40001", "isv.missing-version", creds),
        ({**good, "biz_content": '{"out_trade_no":"Y"}'}, key, "40002", "isv.invalid-signature", creds),
        ({**good, "sign": good["sign"][:-8] + "AAAAAAA="}, key, "40002", "isv.invalid-signature", creds),
    ]
    for params, response_key, code, sub_code, signer in cases:
        assert_error(sandbox, params, response_key, code, sub_code, signed_with=signer)
    # the real gateway tells the merchant which text it verified
    error = assert_error(sandbox, {**good, "biz_content": '{"out_trade_no":"Y"}'}, key, "40002",
                         "isv.invalid-signature", signed_with=creds)
    assert 'biz_content={"out_trade_no":"Y"}' in error["sub_msg"]
    other_app_key = sandbox.admin.create_merchant("other", {"alipay": {}})["credentials"]["alipay"]
    foreign = signing.parse_order_string(signing.order_string(
        signing.build_request(QUERY, {"out_trade_no": "X"}, app_id=creds["app_id"]),
        other_app_key["app_private_key_pem"]))
    assert_error(sandbox, foreign, key, "40002", "isv.invalid-signature", signed_with=creds)
    assert sandbox.admin.payments()["total"] == 0


def test_business_errors_and_amount_validation(sandbox, creds):
    pre = "alipay.trade.precreate"
    key = "alipay_trade_precreate_response"
    order = {"out_trade_no": "E-1", "total_amount": "1.00", "subject": "s"}
    cases = [
        (signed(creds, pre, "not json"), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, "[1, 2]"), "ACQ.INVALID_PARAMETER"),
        ({k: v for k, v in signed(creds, pre, order).items() if k != "biz_content"}, "isv.invalid-signature"),
        (signed(creds, pre, {k: v for k, v in order.items() if k != "subject"}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "out_trade_no": "E" * 65}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "subject": ""}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "total_amount": "100000000.01"}), "ACQ.TOTAL_FEE_EXCEED"),
        (signed(creds, pre, {**order, "timeout_express": "16d"}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "time_expire": "2001-01-01 00:00:00"}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "time_expire": "soon"}), "ACQ.INVALID_PARAMETER"),
        (signed(creds, pre, {**order, "total_amount": ["1.00"]}), "ACQ.INVALID_PARAMETER"),
    ]
    for amount in ("0", "0.00", "0.001", "-1", "1e2", "abc", "", " 1.00x"):
        cases.append((signed(creds, pre, {**order, "total_amount": amount}), "ACQ.INVALID_PARAMETER"))
    for params, sub_code in cases:
        code = "40002" if sub_code.startswith("isv.") else "40004"
        assert_error(sandbox, params, key, code, sub_code, signed_with=creds)

    def call(method, biz):
        return gateway(sandbox, signed(creds, method, biz))[1][method.replace(".", "_") + "_response"]

    missing = call(QUERY, {"out_trade_no": "NOPE"})
    assert missing == {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                       "sub_msg": "交易不存在", "buyer_pay_amount": "0.00", "invoice_amount": "0.00",
                       "out_trade_no": "NOPE", "point_amount": "0.00", "receipt_amount": "0.00"}
    assert call(QUERY, {})["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert call(QUERY, {"trade_no": "2026112522001400001234567890"})["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    for method, biz in (("alipay.trade.close", {"out_trade_no": "NOPE"}),
                        ("alipay.trade.cancel", {"trade_no": "NOPE"}),
                        ("alipay.trade.refund", {"out_trade_no": "NOPE", "refund_amount": "1.00"}),
                        ("alipay.trade.fastpay.refund.query", {"out_trade_no": "NOPE", "out_request_no": "1"})):
        assert call(method, biz)["sub_code"] == "ACQ.TRADE_NOT_EXIST", method
    assert sandbox.admin.payments()["total"] == 0

    # an unpaid trade cannot be refunded; a bad refund amount is refused before anything is looked up
    assert call(pre, order)["code"] == "10000"
    before = sandbox.admin.payments()
    assert call("alipay.trade.refund", {"out_trade_no": "E-1", "refund_amount": "1.00"})["sub_code"] == \
        "ACQ.TRADE_STATUS_ERROR"
    assert call("alipay.trade.refund", {"out_trade_no": "E-1", "refund_amount": "0"})["sub_code"] == \
        "ACQ.INVALID_PARAMETER"
    assert call("alipay.trade.fastpay.refund.query", {"out_trade_no": "E-1"})["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert call("alipay.trade.create", {**order, "out_trade_no": "E-2"})["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert sandbox.admin.payments() == before


def test_page_pay_errors_are_an_error_page_and_store_nothing(sandbox, creds):
    params = signed(creds, "alipay.trade.page.pay", {"out_trade_no": "P-1", "total_amount": "abc", "subject": "s"})
    page = requests.get(f"{sandbox.url}/gateway.do", params=params, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "ACQ.INVALID_PARAMETER" in page.text
    tampered = {**params, "app_id": "2021999999999999"}
    assert "isv.invalid-app-id" in requests.get(f"{sandbox.url}/gateway.do", params=tampered, timeout=10).text
    assert sandbox.admin.payments()["total"] == 0


def test_absolute_form_request_lines_reach_the_gateway(sandbox, creds):
    params = signed(creds, "alipay.trade.precreate", {"out_trade_no": "ABS-1", "total_amount": "0.01",
                                                      "subject": "绝对"})
    biz = params.pop("biz_content")
    host, port = sandbox.url.removeprefix("http://").split(":")
    form = urlencode({"biz_content": biz}).encode()
    request = (f"POST http://{host}:{port}/gateway.do?{urlencode(params)} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\n"
               f"Content-Length: {len(form)}\r\nConnection: close\r\n\r\n").encode() + form
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    answer = json.loads(body)["alipay_trade_precreate_response"]
    assert answer["code"] == "10000" and answer["out_trade_no"] == "ABS-1"


def test_gbk_requests_get_gbk_answers(sandbox, creds):
    params = signing.build_request("alipay.trade.precreate", {"out_trade_no": "GBK-1", "total_amount": "0.01",
                                                              "subject": "中文商品"}, app_id=creds["app_id"])
    params["charset"] = "GBK"
    params["biz_content"] = json.dumps({"out_trade_no": "GBK-1", "total_amount": "0.01", "subject": "中文商品"},
                                       ensure_ascii=False)
    params["sign"] = signing.sign(signing.signing_string(params), creds["app_private_key_pem"], charset="gbk")
    response = requests.get(f"{sandbox.url}/gateway.do?" + urlencode(params, encoding="gbk"), timeout=10)
    assert response.headers["Content-Type"] == "application/json; charset=gbk"
    text = response.content.decode("gbk")
    body = json.loads(text)
    assert body["alipay_trade_precreate_response"]["code"] == "10000"
    inner = text[len('{"alipay_trade_precreate_response":'):text.rindex(',"sign":"')]
    assert signing.verify(inner, body["sign"], creds["alipay_public_key_pem"], charset="gbk")
    (payment,) = sandbox.admin.payments(out_trade_no="GBK-1")["payments"]
    assert payment["description"] == "中文商品"


def test_app_pay_endpoint_refusals(sandbox, creds):
    url = f"{sandbox.url}/_sandbox/api/alipay/app-pay"
    order = {"out_trade_no": "APP-1", "total_amount": "1.00", "subject": "s", "product_code": "QUICK_MSECURITY_PAY"}
    good = signing.order_string(signing.build_request("alipay.trade.app.pay", order, app_id=creds["app_id"]),
                                creds["app_private_key_pem"])
    cases = [
        ({}, 400, "INVALID_BODY"),
        ({"order_string": ""}, 400, "INVALID_BODY"),
        ({"order_string": good.replace("1.00", "0.01")}, 400, "isv.invalid-signature"),
        ({"order_string": signing.order_string(signing.build_request(QUERY, {}, app_id=creds["app_id"]),
                                               creds["app_private_key_pem"])}, 400, "isv.invalid-method"),
        ({"order_string": "garbage"}, 400, "isv.missing-method"),
    ]
    for body, status, code in cases:
        response = requests.post(url, json=body, timeout=10)
        assert response.status_code == status and response.json()["error"]["code"] == code, response.text
    not_json = requests.post(url, data=b"{{", timeout=10)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "INVALID_BODY"
    assert sandbox.admin.payments()["total"] == 0
    assert requests.post(url, json={"order_string": good}, timeout=10).json()["status"] == "PENDING"


def test_an_internal_failure_is_a_signed_20000_not_a_traceback(sandbox, creds):
    from sandbox.appkeys import PROVIDERS
    methods = sandbox.app[PROVIDERS]["alipay"].methods
    model, _ = methods.table[QUERY]

    async def broken(call, biz):
        raise RuntimeError("boom")
    methods.table[QUERY] = (model, broken)
    error = assert_error(sandbox, signed(creds, QUERY, {"out_trade_no": "X"}), "alipay_trade_query_response",
                         "20000", "isp.unknow-error", signed_with=creds)
    assert "boom" not in json.dumps(error, ensure_ascii=False)
