"""Correctly signed requests whose fields are mutated one at a time (missing, wrong type, empty, huge, control
characters, out-of-range numbers): every provider answers in its own error shape, never a 5xx or a traceback."""
from __future__ import annotations

import base64
import copy
import json
import logging

import pytest
import requests

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sandbox.providers import notify_url
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


# QuickPay (README: error codes): every answer is HTTP 200 with exactly {code, msg, data}; data is null on errors.
QUICKPAY_CODES = {"SUCCESS", "PARAM_ERROR", "STORE_NOT_EXIST", "SIGN_ERROR", "ORDER_EXISTS", "ORDER_NOT_EXIST", "FAIL"}
# Per action: field -> (JSON type, required, max length, null allowed) as QuickPay documents the request bodies.
QUICKPAY_FIELDS = {
    "JSAPIPay": {"store_no": (str, True, 32, False), "paytype": (int, False, None, False),
                 "appid": (str, True, None, False),  # required for a WeChat (paytype 11) JSAPI payment
                 "openid": (str, True, 128, False), "amount": (int, True, None, False),
                 "order_no": (str, True, 32, False), "notify_url": (str, False, 512, True)},
    "Query": {"store_no": (str, True, 32, False), "order_no": (str, True, 32, False)},
    "Refund": {"store_no": (str, True, 32, False), "amount": (int, False, None, True),
               "refund_amount": (int, True, None, False), "order_no": (str, True, 32, False),
               "refund_no": (str, True, 32, False)},
}


def _json_type_ok(value, kind) -> bool:
    if kind is int:
        return type(value) is int
    return type(value) is str


def quickpay_param_error(action: str, field: str, value) -> bool:
    """Whether QuickPay must refuse the mutation as PARAM_ERROR (it validates before anything else)."""
    spec = QUICKPAY_FIELDS[action].get(field)
    if spec is None:
        return False  # a field this action does not take: ignored
    kind, required, max_length, nullable = spec
    if value is MISSING:
        return required
    if value is None:
        return not nullable
    if not _json_type_ok(value, kind):
        return True
    if kind is int:
        if field == "paytype":
            return value not in (11, 21)  # WeChat or Alipay
        return field in ("amount", "refund_amount") and not 1 <= value <= 9_999_999_999
    if field == "notify_url" and value:  # an absolute http(s) URL of at most 256 characters (README: QuickPay)
        return notify_url.problem(value, max_length=notify_url.QUICKPAY_MAX) is not None
    return (required and value == "") or (max_length is not None and len(value) > max_length)


def test_quickpay(sandbox):
    valid = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
             "order_no": "MUT-QP", "refund_amount": 50, "refund_no": "R", "notify_url": "http://127.0.0.1:1/n"}
    for action in ("JSAPIPay", "Query", "Refund"):
        for path, value, body in mutations(valid, BAD_JSON_VALUES):
            answer = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body), timeout=10,
                                   headers={"Content-Type": "application/json"})
            where = (action, path, value, answer.text[:300])
            assert answer.status_code == 200, where
            envelope = answer.json()
            assert sorted(envelope) == ["code", "data", "msg"] and envelope["code"] in QUICKPAY_CODES, where
            assert isinstance(envelope["msg"], str) and envelope["msg"], where
            assert (envelope["data"] is None) == (envelope["code"] != "SUCCESS"), where
            field = path[-1]
            if quickpay_param_error(action, field, value):
                assert envelope["code"] == "PARAM_ERROR", where
            elif field == "store_no" and value is not MISSING:
                assert envelope["code"] == "STORE_NOT_EXIST", where  # a well-formed store_no that is not ours
            else:
                assert envelope["code"] != "PARAM_ERROR", where


def _v3_signed(creds: dict, answer: requests.Response) -> bool:
    key = serialization.load_pem_public_key(creds["platform_public_key_pem"].encode())
    message = (f"{answer.headers['Wechatpay-Timestamp']}\n{answer.headers['Wechatpay-Nonce']}\n".encode()
               + answer.content + b"\n")
    key.verify(base64.b64decode(answer.headers["Wechatpay-Signature"]), message, padding.PKCS1v15(), hashes.SHA256())
    return True


# field path -> (JSON type, required) of the JSAPI create body (WeChat Pay APIv3 JSAPI下单)
V3_FIELDS = {("appid",): (str, True), ("mchid",): (str, True), ("description",): (str, True),
             ("out_trade_no",): (str, True), ("notify_url",): (str, True), ("amount",): (dict, True),
             ("amount", "total"): (int, True), ("amount", "currency"): (str, False), ("payer",): (dict, True),
             ("payer", "openid"): (str, True), ("time_expire",): (str, False)}
V3_CODES = {"PARAM_ERROR", "APPID_MCHID_NOT_MATCH", "INVALID_REQUEST", "OUT_TRADE_NO_USED"}


def test_wechat_v3(sandbox):
    creds = credentials(sandbox, "demo-wechat-pubkey")
    valid = {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "d", "out_trade_no": "MUT-V3",
             "notify_url": "https://m.example/n", "amount": {"total": 100, "currency": "CNY"},
             "payer": {"openid": "o"}, "time_expire": "2030-01-01T00:00:00+08:00"}
    for path, value, body in mutations(valid, BAD_JSON_VALUES):
        answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/jsapi", json.dumps(body).encode())
        where = (path, value, answer.status_code, answer.text[:300])
        assert _v3_signed(creds, answer), where  # every answer, errors included, is signed
        payload = answer.json()
        if answer.status_code == 200:
            assert sorted(payload) == ["prepay_id"] and payload["prepay_id"].startswith("wx"), where
            continue
        assert answer.status_code in (400, 403), where
        assert payload["code"] in V3_CODES and isinstance(payload["message"], str) and payload["message"], where
        assert set(payload) <= {"code", "message", "detail"}, where
        kind, required = V3_FIELDS[path]
        wrong_type = value is not MISSING and value is not None and not (
            isinstance(value, dict) if kind is dict else _json_type_ok(value, kind))
        if wrong_type or (required and (value is MISSING or value is None)):
            assert (answer.status_code, payload["code"]) == (400, "PARAM_ERROR"), where
            assert payload["detail"]["location"] == "body" and payload["detail"]["field"], where
        if payload["code"] == "OUT_TRADE_NO_USED":
            assert answer.status_code == 403, where


V2_REQUIRED = {"appid", "mch_id", "nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url",
               "trade_type"}


def test_wechat_v2(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    valid = {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "n", "body": "b",
             "out_trade_no": "MUT-V2", "total_fee": "100", "spbill_create_ip": "1.2.3.4",
             "notify_url": "https://m.example/n", "trade_type": "NATIVE", "product_id": "p"}
    for path, value, params in mutations(valid, BAD_TEXT_VALUES):
        params["sign"] = v2_crypto.sign(params, creds["v2_key"])
        answer = requests.post(f"{sandbox.url}/pay/unifiedorder", data=v2_crypto.to_xml(params), timeout=10)
        where = (path, value, answer.text[:300])
        assert answer.status_code == 200, where
        fields = v2_crypto.parse_xml(answer.content)
        assert fields["return_code"] in ("SUCCESS", "FAIL") and fields["return_msg"], where
        field = path[-1]
        if fields["return_code"] == "FAIL":  # the request itself is bad: no result_code, no sign
            assert set(fields) == {"return_code", "return_msg"}, where
            continue
        assert fields["result_code"] in ("SUCCESS", "FAIL"), where
        if fields["result_code"] == "FAIL":
            assert fields["err_code"] and fields["err_code_des"], where
        if fields.get("err_code") != "MCHID_NOT_EXIST":  # an unknown merchant's answer has no key to sign with
            assert fields["sign"] == v2_crypto.sign(fields, creds["v2_key"]), where
        assert not (value is MISSING or value == "") or field not in V2_REQUIRED, \
            f"{where}: a missing required field must be return_code=FAIL"
        assert field != "total_fee", f"{where}: every total_fee here (not a positive integer of fen) is refused"
        if field == "mch_id":
            assert fields["err_code"] == "MCHID_NOT_EXIST", where
        if field == "appid":
            assert fields["err_code"] == "APPID_MCHID_NOT_MATCH", where


ALIPAY_REQUIRED = {"alipay.trade.precreate": {"out_trade_no", "total_amount", "subject"},
                   "alipay.trade.refund": {"refund_amount"}}
ALIPAY_AMOUNTS = {"alipay.trade.precreate": "total_amount", "alipay.trade.refund": "refund_amount"}


@pytest.mark.parametrize("method", ["alipay.trade.precreate", "alipay.trade.refund"])
def test_alipay(sandbox, method):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    alipay_key = serialization.load_pem_public_key(creds["alipay_public_key_pem"].encode())
    valid = {"out_trade_no": "MUT-ALI", "total_amount": "1.00", "subject": "s", "timeout_express": "90m",
             "refund_amount": "0.50", "out_request_no": "r1"}
    key = method.replace(".", "_") + "_response"
    for path, value, biz in mutations(valid, BAD_JSON_VALUES + ["1.001", "0.00", "-1.00", "100000001.00", "NaN"]):
        params = alipay_signing.build_request(method, biz, app_id=creds["app_id"])
        params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params), creds["app_private_key_pem"])
        answer = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)
        where = (path, value, answer.text[:300])
        assert answer.status_code == 200, where
        payload = answer.json()
        assert sorted(payload) == [key, "sign"], where
        # the response object's exact bytes, signed with the Alipay key (RSA2)
        raw = answer.text[answer.text.index(f'"{key}":') + len(key) + 3:answer.text.rindex(',"sign"')]
        alipay_key.verify(base64.b64decode(payload["sign"]), raw.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        response = payload[key]
        assert (response["code"], response["msg"]) in (("10000", "Success"), ("40004", "Business Failed")), where
        field = path[-1]
        if response["code"] == "40004":
            assert response["sub_code"].startswith("ACQ.") and response["sub_msg"], where
        if field in ALIPAY_REQUIRED[method] and (value is MISSING or value in (None, "")):
            assert response["sub_code"] == "ACQ.INVALID_PARAMETER", where
        if field == ALIPAY_AMOUNTS[method] and value in ("1.001", "0.00", "-1.00", "NaN", "", "💳", -1, 0, True):
            assert response["sub_code"] == "ACQ.INVALID_PARAMETER", where


# ----- hostile values (issue 15): deep nesting, lone surrogates, integers past 64 bits --------------------------------

DEEP = "(30,000 nested arrays)"  # put in as raw text after encoding: no JSON encoder nests that deep
HOSTILE_JSON_VALUES = {"deep": DEEP, "surrogate": "x\udfff", "huge-int": 10**30, "neg-huge-int": -(10**25)}


@pytest.fixture
def server_log(caplog):
    """The in-process server's log: asserted free of tracebacks once the test is done."""
    caplog.set_level(logging.INFO)
    yield caplog
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text


def _hostile(valid: dict):
    for path, _, body in mutations(valid, [None]):
        for name, value in HOSTILE_JSON_VALUES.items():
            target = body
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            raw = json.dumps(body).encode()  # ASCII: the surrogate travels as its \\udfff escape
            yield path, name, raw.replace(json.dumps(DEEP).encode(), b"[" * 30_000 + b"]" * 30_000)


def test_quickpay_hostile_values(sandbox, server_log):
    valid = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
             "order_no": "HOSTILE-QP", "refund_amount": 50, "refund_no": "R"}
    for action in ("JSAPIPay", "Query", "Refund"):
        for path, name, raw in _hostile(valid):
            answer = requests.post(f"{sandbox.url}/QuickPay/{action}", data=raw, timeout=10,
                                   headers={"Content-Type": "application/json"})
            where = (action, path, name, answer.text[:200])
            assert answer.status_code == 200, where
            envelope = answer.json()
            assert sorted(envelope) == ["code", "data", "msg"] and envelope["data"] is None, where
            if name != "deep" or path[-1] in QUICKPAY_FIELDS[action]:
                assert envelope["code"] in ("PARAM_ERROR", "STORE_NOT_EXIST"), where


def test_wechat_v3_hostile_values(sandbox, server_log):
    creds = credentials(sandbox, "demo-wechat-pubkey")
    valid = {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "d", "out_trade_no": "HOSTILE-V3",
             "notify_url": "https://m.example/n", "amount": {"total": 100, "currency": "CNY"},
             "payer": {"openid": "o"}}
    for path, name, raw in _hostile(valid):
        answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/jsapi", raw)
        where = (path, name, answer.status_code, answer.text[:200])
        assert _v3_signed(creds, answer), where
        assert answer.status_code == 400 and answer.json()["code"] in V3_CODES, where


def test_alipay_hostile_values(sandbox, server_log):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    valid = {"out_trade_no": "HOSTILE-ALI", "total_amount": "1.00", "subject": "s"}
    for path, name, raw in _hostile(valid):
        params = alipay_signing.build_request("alipay.trade.precreate", {}, app_id=creds["app_id"])
        params["biz_content"] = raw.decode()
        params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params), creds["app_private_key_pem"])
        answer = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)
        where = (path, name, answer.text[:200])
        assert answer.status_code == 200, where
        response = answer.json()["alipay_trade_precreate_response"]
        assert response["code"] == "40004" and response["sub_code"] == "ACQ.INVALID_PARAMETER", where


@pytest.mark.parametrize("path, body", [
    ("/_sandbox/api/rules", {"name": "r", "match": {"amount": 1}, "action": {"outcome": "pending"}}),
    ("/_sandbox/api/merchants", {"name": "m", "providers": {"quickpay": {}}}),
    ("/_sandbox/api/clock/advance", {"seconds": 1}),
    ("/_sandbox/api/alipay/app-pay", {"order_string": "x"}),
    ("/app/partner/order/pay", {"order_id": 1, "pay_type": 1}),
    ("/api/order/pay", {"order_id": 1001, "pay_method": 1}),
    ("/users/login", {"username": "u", "password": "p"}),
])
def test_admin_api_and_apps_hostile_values(sandbox, server_log, path, body):
    for leaf, name, raw in _hostile(body):
        answer = requests.post(f"{sandbox.url}{path}", data=raw, headers={"Content-Type": "application/json"},
                               timeout=10)
        assert answer.status_code < 500, (path, leaf, name, answer.text[:200])
