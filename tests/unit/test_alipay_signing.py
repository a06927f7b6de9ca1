"""Fidelity of sandbox.providers.alipay.signing against the real SDKs' own code.

python-alipay-sdk runs in-process (its HTTP call replaced by a fake); the official alipay-sdk-python runs in its
own virtualenv (tests/wire/alipay_official_venv.py) against a tiny stdlib HTTP server in this process.
"""
from __future__ import annotations

import importlib.util
import io
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import alipay as python_alipay_sdk
import pytest
from alipay import AliPay, AliPayException, AliPayValidationError

from sandbox.providers.alipay import signing
from sandbox.providers.alipay.credentials import (
    bare_key, lookup_keys, new_credentials, official_sdk_config, python_sdk_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((REPO_ROOT / "fixtures" / "alipay" / "demo.json").read_text())
FIXED_NOW = datetime(2024, 5, 20, 13, 14, 15)
PRECREATE_OK = {
    "code": "10000", "msg": "Success", "out_trade_no": "T20240520-0001",
    "qr_code": "http://127.0.0.1:8080/_sandbox/pay/alipay/abc", "sub_msg": "中文 \"quoted\" {braces}",
}


def _load_official_venv():
    spec = importlib.util.spec_from_file_location(
        "alipay_official_venv", REPO_ROOT / "tests" / "wire" / "alipay_official_venv.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sdk() -> AliPay:
    return AliPay(**python_sdk_config(DEMO))


@pytest.fixture
def gateway(monkeypatch):
    """Replace python-alipay-sdk's urlopen: record the request URL, answer with `gateway.body`."""
    class FakeGateway:
        def __init__(self):
            self.urls: list[str] = []
            self.body = b""

        def __call__(self, url, timeout=None):
            self.urls.append(url)
            return io.BytesIO(self.body)

        def last_params(self) -> dict:
            return dict(parse_qsl(urlsplit(self.urls[-1]).query, keep_blank_values=True))

    fake = FakeGateway()
    monkeypatch.setattr(python_alipay_sdk, "urlopen", fake)
    return fake


@pytest.fixture
def frozen_sdk_clock(monkeypatch):
    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return FIXED_NOW
    monkeypatch.setattr(python_alipay_sdk, "datetime", FrozenDatetime)
    return FIXED_NOW.strftime(signing.TIMESTAMP_FORMAT)


# --- signing string and primitives --------------------------------------------------------------------------

def test_signing_string_sorts_skips_empty_and_excludes():
    params = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": "", "none": None, "c": "a=b&c"}
    assert signing.signing_string(params) == "a=1&b=2&c=a=b&c&sign_type=RSA2"
    assert signing.signing_string(params, signing.NOTIFY_EXCLUDE) == "a=1&b=2&c=a=b&c"


def test_verify_request_never_raises_on_garbage():
    params = signing.parse_order_string(signing.order_string(
        signing.build_request("alipay.trade.query", {"out_trade_no": "1"}, app_id=DEMO["app_id"]),
        DEMO["app_private_key_pem"],
    ))
    assert signing.verify_request(params, DEMO["app_public_key_pem"])
    for broken in ({**params, "sign": ""}, {**params, "sign": "%%%not base64"}, {**params, "sign": "QUJD"},
                   {**params, "sign_type": "MD5"}, {**params, "sign_type": ""}, {**params, "sign": None},
                   {**params, "timestamp": "2000-01-01 00:00:00"}, {k: v for k, v in params.items() if k != "sign"}):
        assert signing.verify_request(broken, DEMO["app_public_key_pem"]) is False
    assert signing.verify_request(params, DEMO["alipay_public_key_pem"]) is False  # wrong key
    assert signing.verify_request(params, "not a key") is False
    assert signing.verify_request(params, "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----") is False
    assert signing.verify_request(params, bare_key(DEMO["app_public_key_pem"]))  # bare base64 keys work too


def test_response_body_is_exact_and_signed_over_inner_bytes():
    body = signing.response_body("alipay.trade.precreate", PRECREATE_OK, DEMO["alipay_private_key_pem"])
    inner = json.dumps(PRECREATE_OK, ensure_ascii=False, separators=(",", ":")).encode()
    prefix = b'{"alipay_trade_precreate_response":' + inner + b',"sign":"'
    assert body.startswith(prefix) and body.endswith(b'"}')
    assert "中文".encode() in body  # raw UTF-8, not \u escapes
    sig = json.loads(body)["sign"]
    assert signing.verify(inner.decode(), sig, DEMO["alipay_public_key_pem"])
    assert json.loads(body)["alipay_trade_precreate_response"] == PRECREATE_OK


def test_error_response_and_unsigned_shapes():
    err = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"}
    body = json.loads(signing.response_body(None, err, DEMO["alipay_private_key_pem"]))
    assert list(body) == ["error_response", "sign"] and body["error_response"] == err
    unsigned = signing.response_body("alipay.trade.query", err, None)
    assert list(json.loads(unsigned)) == ["alipay_trade_query_response"]


# --- python-alipay-sdk ----------------------------------------------------------------------------------------

def test_python_sdk_request_verifies_and_accepts_our_response(sdk, gateway):
    gateway.body = signing.response_body("alipay.trade.precreate", PRECREATE_OK, DEMO["alipay_private_key_pem"])
    result = sdk.api_alipay_trade_precreate(
        subject="测试 order & co/1+1", out_trade_no="T20240520-0001", total_amount="0.01",
        notify_url="http://127.0.0.1:9000/notify?a=1&b=2",
    )
    assert result == PRECREATE_OK
    params = gateway.last_params()
    assert params["sign_type"] == "RSA2" and params["charset"] == "utf-8"
    datetime.strptime(params["timestamp"], signing.TIMESTAMP_FORMAT)
    assert signing.verify_request(params, DEMO["app_public_key_pem"])
    assert not signing.verify_request({**params, "notify_url": "http://evil/"}, DEMO["app_public_key_pem"])
    assert not signing.verify_request({**params, "sign_type": "RSA"}, DEMO["app_public_key_pem"])


def test_python_sdk_sign_data_verifies(sdk):
    data = sdk.build_body("alipay.trade.query", {"out_trade_no": "订单-1"})
    params = signing.parse_order_string(sdk.sign_data(data))
    assert signing.verify_request(params, DEMO["app_public_key_pem"])


def test_python_sdk_rejects_tampered_or_foreign_response(sdk, gateway):
    good = signing.response_body("alipay.trade.query", PRECREATE_OK, DEMO["alipay_private_key_pem"])
    gateway.body = good.replace(b"-0001", b"-0002")
    with pytest.raises(AliPayValidationError):
        sdk.api_alipay_trade_query(out_trade_no="T20240520-0001")
    gateway.body = signing.response_body("alipay.trade.query", PRECREATE_OK, DEMO["app_private_key_pem"])
    with pytest.raises(AliPayValidationError):
        sdk.api_alipay_trade_query(out_trade_no="T20240520-0001")


def test_python_sdk_business_failure_returns_and_gateway_errors_raise(sdk, gateway):
    failed = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
              "sub_msg": "交易不存在", "buyer_pay_amount": "0.00", "invoice_amount": "0.00",
              "point_amount": "0.00", "receipt_amount": "0.00"}
    gateway.body = signing.response_body("alipay.trade.query", failed, DEMO["alipay_private_key_pem"])
    assert sdk.api_alipay_trade_query(out_trade_no="nope") == failed

    error = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method", "sub_msg": "x"}
    gateway.body = signing.response_body(None, error, DEMO["alipay_private_key_pem"])
    with pytest.raises(AliPayException, match="40002"):
        sdk.api_alipay_trade_query(out_trade_no="nope")
    gateway.body = signing.response_body("alipay.trade.query", {**error, "sub_code": "isv.invalid-app-id"}, None)
    with pytest.raises(AliPayException, match="isv.invalid-app-id"):
        sdk.api_alipay_trade_query(out_trade_no="nope")


def _notify_fields() -> dict:
    return {
        "notify_time": "2024-05-20 13:15:00", "notify_type": "trade_status_sync", "notify_id": "2024052000222131500012345",
        "app_id": DEMO["app_id"], "auth_app_id": DEMO["app_id"], "charset": "utf-8", "version": "1.0",
        "trade_no": "2024052022001400001234567890", "out_trade_no": "T20240520-0001",
        "buyer_id": "2088102100000001", "buyer_logon_id": "abc***@sandbox.example.com",
        "seller_id": DEMO["seller_id"], "seller_email": DEMO["seller_email"], "trade_status": "TRADE_SUCCESS",
        "total_amount": "0.01", "receipt_amount": "0.01", "invoice_amount": "0.01", "buyer_pay_amount": "0.01",
        "point_amount": "0.00", "fund_bill_list": [{"amount": "0.01", "fundChannel": "ALIPAYACCOUNT"}],
        "subject": "测试 order & co", "gmt_create": "2024-05-20 13:14:15", "gmt_payment": "2024-05-20 13:15:00",
        "body": "", "passback_params": None,
    }


def test_notify_params_pass_python_sdk_verify(sdk):
    params = signing.notify_params(_notify_fields(), DEMO["alipay_private_key_pem"])
    assert "body" not in params and "passback_params" not in params
    assert params["sign_type"] == "RSA2"
    assert params["fund_bill_list"] == '[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]'
    data = dict(params)
    signature = data.pop("sign")
    assert sdk.verify(dict(data), signature)  # verify() pops sign_type itself
    assert signing.verify_notify(params, DEMO["alipay_public_key_pem"])
    assert not sdk.verify({**data, "total_amount": "100.00"}, signature)
    assert not signing.verify_notify({**params, "trade_status": "TRADE_CLOSED"}, DEMO["alipay_public_key_pem"])


def test_return_url_params_pass_python_sdk_verify(sdk):
    params = signing.return_url_params(
        pay_method="alipay.trade.page.pay", app_id=DEMO["app_id"], out_trade_no="T20240520-0001",
        trade_no="2024052022001400001234567890", total_amount="0.01", seller_id=DEMO["seller_id"],
        timestamp="2024-05-20 13:15:01", alipay_private_key_pem=DEMO["alipay_private_key_pem"],
    )
    assert params["method"] == "alipay.trade.page.pay.return"
    url = signing.return_redirect_url("https://merchant.example.com/return?from=alipay", params)
    data = dict(parse_qsl(urlsplit(url).query))
    assert data.pop("from") == "alipay"
    signature = data.pop("sign")
    assert sdk.verify(data, signature)
    assert not sdk.verify({**data, "sign_type": "RSA2", "total_amount": "0.02"}, signature)


def test_order_string_equals_python_sdk_app_pay(sdk, frozen_sdk_clock):
    order = {"subject": "测试商品 A&B/C+D=E", "out_trade_no": "T 2024/05:20", "total_amount": "88.88"}
    notify_url = "https://merchant.example.com/alipay/notify?x=1&y=~"
    expected = sdk.api_alipay_trade_app_pay(notify_url=notify_url, **order)
    ours = signing.order_string(signing.build_request(
        "alipay.trade.app.pay", {**order, "product_code": "QUICK_MSECURITY_PAY"}, app_id=DEMO["app_id"],
        timestamp=frozen_sdk_clock, notify_url=notify_url,
    ), DEMO["app_private_key_pem"])
    assert ours == expected
    parsed = signing.parse_order_string(ours)
    assert parsed["notify_url"] == notify_url and json.loads(parsed["biz_content"])["subject"] == order["subject"]
    assert signing.verify_request(parsed, DEMO["app_public_key_pem"])


def test_pay_url_equals_python_sdk_page_and_wap_pay(sdk, frozen_sdk_clock):
    order = {"subject": "页面 pay", "out_trade_no": "P-1", "total_amount": "0.01"}
    for method, product, sdk_call in (
        ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY", sdk.api_alipay_trade_page_pay),
        ("alipay.trade.wap.pay", "QUICK_WAP_PAY", sdk.api_alipay_trade_wap_pay),
    ):
        expected = "http://127.0.0.1:8080/gateway.do?" + sdk_call(
            return_url="https://m.example.com/return", notify_url="https://m.example.com/notify", **order)
        params = signing.build_request(
            method, {**order, "product_code": product}, app_id=DEMO["app_id"], timestamp=frozen_sdk_clock,
            notify_url="https://m.example.com/notify", return_url="https://m.example.com/return",
        )
        assert signing.pay_url("http://127.0.0.1:8080/gateway.do", params, DEMO["app_private_key_pem"]) == expected


# --- credentials --------------------------------------------------------------------------------------------

def test_new_credentials_shape_and_key_pairs():
    creds = new_credentials()
    assert json.loads(json.dumps(creds)) == creds
    assert len(creds["app_id"]) == 16 and creds["app_id"].startswith("2021") and creds["app_id"].isdigit()
    assert len(creds["seller_id"]) == 16 and creds["seller_id"].startswith("2088") and creds["seller_id"].isdigit()
    assert "@" in creds["seller_email"] and lookup_keys(creds) == [creds["app_id"]]
    for private, public in (("app_private_key_pem", "app_public_key_pem"),
                            ("alipay_private_key_pem", "alipay_public_key_pem")):
        assert signing.verify("x", signing.sign("x", creds[private]), creds[public])
    assert not signing.verify("x", signing.sign("x", creds["app_private_key_pem"]), creds["alipay_public_key_pem"])
    assert new_credentials("2021000000000009")["app_id"] == "2021000000000009"


def test_bare_keys_for_official_sdk():
    config = official_sdk_config(DEMO)
    assert "-----" not in config["app_private_key"] and "\n" not in config["app_private_key"]
    wrapped = "-----BEGIN PUBLIC KEY-----\n" + config["alipay_public_key"] + "\n-----END PUBLIC KEY-----"
    assert signing.verify("x", signing.sign("x", DEMO["alipay_private_key_pem"]), wrapped)
    wrapped_private = "-----BEGIN RSA PRIVATE KEY-----\n" + config["app_private_key"] + "\n-----END RSA PRIVATE KEY-----"
    assert signing.verify("x", signing.sign("x", wrapped_private), DEMO["app_public_key_pem"])


# --- the official SDK (alipay-sdk-python), in its own venv ----------------------------------------------------

OFFICIAL_PROBE = r'''
import json, sys
payload = json.load(sys.stdin)
import alipay.aop.api.util.WebUtils as web_utils
original_get_http_connection = web_utils.get_http_connection
''' + "{PORT_PATCH}" + r'''
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.constant.CommonConstants import THREAD_LOCAL
from alipay.aop.api.domain.AlipayTradeAppPayModel import AlipayTradeAppPayModel
from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.request.AlipayTradeAppPayRequest import AlipayTradeAppPayRequest
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa

out = {}
try:
    original_get_http_connection("http://127.0.0.1:8080/gateway.do", "a=b", 5)
except TypeError as e:
    out["unpatched_port_error"] = str(e)

config = AlipayClientConfig()
config.server_url = payload["server_url"]
for key, value in payload["config"].items():
    setattr(config, key, value)
client = DefaultAlipayClient(config)

model = AlipayTradePrecreateModel()
model.out_trade_no, model.total_amount, model.subject = "T20240520-0001", "0.01", "测试 order & co/1+1"
request = AlipayTradePrecreateRequest(biz_model=model)
request.notify_url = "http://127.0.0.1:9000/notify?a=1&b=2"
out["response"] = client.execute(request)

parse = client._DefaultAlipayClient__parse_response
for name, body in (("tampered", payload["tampered_body"]), ("foreign", payload["foreign_body"])):
    try:
        parse(body.encode("utf-8"))
        out[name] = "accepted"
    except Exception as e:
        out[name] = type(e).__name__

page = AlipayTradePagePayModel()
page.out_trade_no, page.total_amount, page.subject = "P-1", "0.01", "页面 pay"
page.product_code = "FAST_INSTANT_TRADE_PAY"
page_request = AlipayTradePagePayRequest(biz_model=page)
page_request.return_url = "https://m.example.com/return"
out["page_url"] = client.page_execute(page_request, http_method="GET")

app = AlipayTradeAppPayModel()
app.out_trade_no, app.total_amount, app.subject = "A-1", "9.99", "应用 pay"
app.product_code = "QUICK_MSECURITY_PAY"
out["order_string"] = client.sdk_execute(AlipayTradeAppPayRequest(biz_model=app))

# the documented way to check a notify with this SDK: drop sign and sign_type, rebuild, verify
alipay_public_key = payload["config"]["alipay_public_key"]
for name, notify in (("notify", payload["notify"]), ("notify_tampered", payload["notify_tampered"])):
    notify = dict(notify)
    sign = notify.pop("sign")
    notify.pop("sign_type")
    try:
        out[name] = verify_with_rsa(alipay_public_key, get_sign_content(notify).encode("utf-8"), sign)
    except Exception as e:
        out[name] = type(e).__name__
print(json.dumps(out, ensure_ascii=False))
'''


class _GatewayHandler(BaseHTTPRequestHandler):
    """Records each request and answers with a signed precreate response."""
    requests: list[dict] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode("utf-8")
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        self.requests.append({"target": self.path, "query": query,
                              "form": dict(parse_qsl(form, keep_blank_values=True))})
        body = signing.response_body(query.get("method"), PRECREATE_OK, DEMO["alipay_private_key_pem"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stdlib_gateway():
    _GatewayHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GatewayHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/gateway.do", _GatewayHandler.requests
    server.shutdown()
    server.server_close()


def test_official_sdk_round_trip(stdlib_gateway):
    server_url, requests = stdlib_gateway
    official_venv = _load_official_venv()
    good = signing.response_body("alipay.trade.query", PRECREATE_OK, DEMO["alipay_private_key_pem"])
    notify = signing.notify_params(_notify_fields(), DEMO["alipay_private_key_pem"])
    out = official_venv.run_script(OFFICIAL_PROBE.replace("{PORT_PATCH}", official_venv.PORT_PATCH), {
        "server_url": server_url,
        "config": official_sdk_config(DEMO),
        "tampered_body": good.decode().replace("-0001", "-0002"),
        "foreign_body": signing.response_body("alipay.trade.query", PRECREATE_OK, DEMO["app_private_key_pem"]).decode(),
        "notify": notify,
        "notify_tampered": {**notify, "total_amount": "100.00"},
    })

    # without the patch the SDK cannot reach a port other than 80/443
    assert "concatenate str" in out["unpatched_port_error"]

    # its request: absolute-form target, common params in the query, biz_content in the form body, our verify accepts it
    (request,) = requests
    assert request["target"].startswith(server_url + "?")
    assert set(request["form"]) == {"biz_content"} and request["query"]["format"] == "json"
    params = {**request["query"], **request["form"]}
    assert signing.verify_request(params, DEMO["app_public_key_pem"])
    assert not signing.verify_request({**params, "biz_content": params["biz_content"] + " "}, DEMO["app_public_key_pem"])

    # its response verification accepts our body and rejects tampered / foreign-signed ones
    assert json.loads(out["response"]) == PRECREATE_OK
    assert out["tampered"] == "ResponseException" and out["foreign"] == "ResponseException"

    # page pay URL and app pay order string it builds verify with our gateway code
    page = dict(parse_qsl(urlsplit(out["page_url"]).query, keep_blank_values=True))
    assert page["method"] == "alipay.trade.page.pay" and signing.verify_request(page, DEMO["app_public_key_pem"])
    order = signing.parse_order_string(out["order_string"])
    assert order["method"] == "alipay.trade.app.pay" and signing.verify_request(order, DEMO["app_public_key_pem"])

    # our notifies verify with its signature utils (rsa.verify raises on a mismatch rather than returning False)
    assert out["notify"] is True and out["notify_tampered"] == "VerificationError"
