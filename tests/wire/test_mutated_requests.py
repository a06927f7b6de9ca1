"""Correctly signed requests whose fields are mutated one at a time (missing, wrong type, empty, huge, control
characters, out-of-range numbers): every provider answers in its own error shape, never a 5xx or a traceback."""
from __future__ import annotations

import copy
import json

import pytest
import requests

from sandbox.providers.alipay import signing as alipay_signing
from sandbox.providers.wechat import v2_crypto
from wechat_sdks import credentials, v3_request

MISSING = object()
BAD_JSON_VALUES = [MISSING, None, "", "x" * 3000, -1, 0, 2**63, 1.5, [], {}, True, "\u0000", "💳"]
BAD_TEXT_VALUES = [MISSING, "", "x" * 3000, "-1", "0", str(2**63), "1.5", "abc", "]]>", "<b>&amp;</b>", "💳", "1e3"]


def mutations(valid: dict, bad_values: list):
    """(field path, value, mutated copy) for every leaf of `valid` and every bad value."""
    def leaves(d, path=()):
        for key, value in d.items():
            if isinstance(value, dict):
                yield from leaves(value, path + (key,))
            yield path + (key,)
    for path in leaves(valid):
        for value in bad_values:
            mutated = copy.deepcopy(valid)
            target = mutated
            for key in path[:-1]:
                target = target[key]
            if value is MISSING:
                del target[path[-1]]
            else:
                target[path[-1]] = value
            yield path, value, mutated


def test_quickpay(sandbox):
    valid = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
             "order_no": "MUT-QP", "refund_amount": 50, "refund_order_no": "R", "notify_url": "http://127.0.0.1:1/n"}
    for action in ("JSAPIPay", "Query", "Refund"):
        for path, value, body in mutations(valid, BAD_JSON_VALUES):
            answer = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body), timeout=10,
                                   headers={"Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.json()["code"], (action, path, value, answer.text)


def test_wechat_v3(sandbox):
    creds = credentials(sandbox, "demo-wechat-pubkey")
    valid = {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "d", "out_trade_no": "MUT-V3",
             "notify_url": "https://m.example/n", "amount": {"total": 100, "currency": "CNY"},
             "payer": {"openid": "o"}, "time_expire": "2030-01-01T00:00:00+08:00"}
    for path, value, body in mutations(valid, BAD_JSON_VALUES):
        answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/jsapi", json.dumps(body).encode())
        assert answer.status_code < 500 and (answer.status_code == 200 or answer.json()["code"]), \
            (path, value, answer.text)


def test_wechat_v2(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    valid = {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "n", "body": "b",
             "out_trade_no": "MUT-V2", "total_fee": "100", "spbill_create_ip": "1.2.3.4",
             "notify_url": "https://m.example/n", "trade_type": "NATIVE", "product_id": "p"}
    for path, value, params in mutations(valid, BAD_TEXT_VALUES):
        params["sign"] = v2_crypto.sign(params, creds["v2_key"])
        answer = requests.post(f"{sandbox.url}/pay/unifiedorder", data=v2_crypto.to_xml(params), timeout=10)
        assert answer.status_code == 200 and b"<return_code>" in answer.content, (path, value, answer.text)


@pytest.mark.parametrize("method", ["alipay.trade.precreate", "alipay.trade.refund"])
def test_alipay(sandbox, method):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    valid = {"out_trade_no": "MUT-ALI", "total_amount": "1.00", "subject": "s", "timeout_express": "90m",
             "refund_amount": "0.50", "out_request_no": "r1"}
    for path, value, biz in mutations(valid, BAD_JSON_VALUES + ["1.001", "0.00", "-1.00", "100000001.00", "NaN"]):
        params = alipay_signing.build_request(method, biz, app_id=creds["app_id"])
        params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params), creds["app_private_key_pem"])
        answer = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)
        assert answer.status_code == 200, (path, value, answer.text)
        assert answer.json()[method.replace(".", "_") + "_response"]["code"], (path, value, answer.text)
