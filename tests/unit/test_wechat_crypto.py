"""WeChat Pay crypto and wire format, checked against the real SDKs' own code (wechatpayv3, wechatpy).

The SDKs run unmodified: requests' transport (HTTPAdapter.send) is swapped for an in-process gateway built from the
functions under test, so each SDK signs, serialises, parses and verifies exactly as it does against the real API.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import xmltodict
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from requests.structures import CaseInsensitiveDict
from wechatpayv3 import WeChatPay as WeChatPayV3, WeChatPayType
from wechatpayv3.utils import aes_decrypt, build_authorization, load_certificate, load_private_key, rsa_verify
from wechatpy.crypto import RefundCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay as WeChatPayV2
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from sandbox.providers.wechat import v2_crypto as v2
from sandbox.providers.wechat import v3_crypto as v3
from sandbox.providers.wechat.credentials import lookup_keys, new_credentials, response_serial

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wechat"
NOTIFY_URL = "https://merchant.example/wechat/notify"


@pytest.fixture(scope="module")
def cert_creds():
    return new_credentials("certificate")


@pytest.fixture(scope="module")
def pubkey_creds():
    return new_credentials("public-key")


@pytest.fixture(scope="module")
def stranger_creds():
    """Another merchant: right format, wrong keys."""
    return new_credentials("certificate")


# --- an in-process gateway standing in for the sandbox's HTTP layer ------------------------------------------------

class FakeGateway:
    """Answers requests' PreparedRequests. `handle` returns (status, body bytes, extra headers)."""

    def __init__(self, monkeypatch):
        self.seen: list[requests.PreparedRequest] = []
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda adapter, request, **kw: self._send(request))

    def _send(self, request):
        self.seen.append(request)
        status, body, headers = self.handle(request)
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url, response.request, response.reason = request.url, request, "sandbox"
        return response

    def handle(self, request):
        raise NotImplementedError


class V3Gateway(FakeGateway):
    def __init__(self, monkeypatch, creds, sign_with=None, header_overrides=None):
        super().__init__(monkeypatch)
        self.creds, self.sign_with = creds, sign_with or creds
        self.header_overrides = header_overrides or {}
        self.verdicts: list[bool] = []

    def handle(self, request):
        body = request.body or b""
        auth = v3.parse_authorization(request.headers.get("Authorization"))
        ok = (auth.mchid in lookup_keys(self.creds) and auth.serial_no == self.creds["merchant_serial_no"]
              and v3.verify_request(self.creds, request.method, request.path_url, auth.timestamp, auth.nonce_str,
                                    body, auth.signature))
        self.verdicts.append(ok)
        status, payload = self.route(request) if ok else (401, {"code": "SIGN_ERROR", "message": "签名错误"})
        raw = b"" if payload is None else v3.json_bytes(payload)
        headers = v3.sign_response_headers(self.sign_with, raw, int(time.time()))
        headers.update(self.header_overrides)
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return status, raw, {k: v for k, v in headers.items() if v is not None}

    def route(self, request):
        path = request.path_url
        if path == "/v3/certificates":
            return 200, v3.certificates_payload(self.creds, datetime.now(timezone.utc))
        if path == "/v3/pay/transactions/native":
            return 200, {"code_url": "weixin://wxpay/bizpayurl?pr=sandbox1"}
        if path.endswith("/close"):
            return 204, None
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            return 200, {"out_trade_no": path.split("/")[-1].split("?")[0], "trade_state": "NOTPAY",
                         "trade_state_desc": "订单未支付", "mchid": self.creds["mchid"]}
        return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}


def v3_client(creds) -> WeChatPayV3:
    kwargs = {}
    if creds["mode"] == "public-key":
        kwargs = {"public_key": creds["platform_public_key_pem"], "public_key_id": creds["public_key_id"]}
    return WeChatPayV3(wechatpay_type=WeChatPayType.NATIVE, mchid=creds["mchid"],
                       private_key=creds["merchant_private_key_pem"], cert_serial_no=creds["merchant_serial_no"],
                       appid=creds["appids"][0], apiv3_key=creds["apiv3_key"], notify_url=NOTIFY_URL, **kwargs)


# --- credentials ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["certificate", "public-key"])
def test_credentials_are_complete_and_consistent(mode, cert_creds, pubkey_creds):
    creds = cert_creds if mode == "certificate" else pubkey_creds
    assert json.loads(json.dumps(creds)) == creds
    assert creds["mode"] == mode and re.fullmatch(r"\d{10}", creds["mchid"])
    assert re.fullmatch(r"wx[0-9a-f]{16}", creds["appids"][0])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", creds["apiv3_key"]) and re.fullmatch(r"[A-Za-z0-9]{32}", creds["v2_key"])
    assert re.fullmatch(r"PUB_KEY_ID_\d{32}", creds["public_key_id"])
    now = datetime.now(timezone.utc)
    for who in ("merchant", "platform"):
        cert = load_certificate(creds[f"{who}_certificate_pem"])
        serial = creds[f"{who}_serial_no"]
        assert re.fullmatch(r"[0-9A-F]{40}", serial)
        assert int("0x" + serial, 16) == cert.serial_number  # how wechatpayv3 matches Wechatpay-Serial
        assert hex(cert.serial_number)[2:].upper() == serial  # how wechatpayv3 writes it
        assert cert.not_valid_before_utc < now - timedelta(hours=23) and cert.not_valid_after_utc > now + timedelta(days=1800)
        key = load_private_key(creds[f"{who}_private_key_pem"])
        assert key.key_size == 2048 and key.public_key() == cert.public_key()
    platform_pub = load_certificate(creds["platform_certificate_pem"]).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert platform_pub == creds["platform_public_key_pem"]
    assert lookup_keys(creds) == [creds["mchid"]]
    expected = creds["platform_serial_no"] if mode == "certificate" else creds["public_key_id"]
    assert response_serial(creds) == expected


def test_credentials_take_given_ids_and_reject_unknown_mode():
    with pytest.raises(ValueError):
        new_credentials("password")
    creds = new_credentials("public-key", mchid="1900000009", appid="wxd678efh567hg6799")
    assert creds["mchid"] == "1900000009" and creds["appids"] == ["wxd678efh567hg6799"]


@pytest.mark.parametrize("name, mode, mchid, appid", [
    ("demo-cert.json", "certificate", "1900000001", "wxd678efh567hg6787"),
    ("demo-pubkey.json", "public-key", "1900000002", "wxd678efh567hg6788"),
])
def test_demo_fixtures(name, mode, mchid, appid):
    creds = json.loads((FIXTURES / name).read_text())
    assert (creds["mode"], creds["mchid"], creds["appids"]) == (mode, mchid, [appid])
    for who in ("merchant", "platform"):
        cert = x509.load_pem_x509_certificate(creds[f"{who}_certificate_pem"].encode())
        assert format(cert.serial_number, "X") == creds[f"{who}_serial_no"]
        assert load_private_key(creds[f"{who}_private_key_pem"]).public_key() == cert.public_key()


# --- APIv3 through wechatpayv3 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["certificate", "public-key"])
def test_wechatpayv3_accepts_signed_responses(mode, cert_creds, pubkey_creds, monkeypatch):
    creds = cert_creds if mode == "certificate" else pubkey_creds
    gateway = V3Gateway(monkeypatch, creds)
    wx = v3_client(creds)  # certificate mode: the constructor loads /v3/certificates through _update_certificates
    code, message = wx.pay(description="沙箱商品", out_trade_no="T1", amount={"total": 1})
    assert code == 200 and json.loads(message)["code_url"].startswith("weixin://")
    code, message = wx.query(out_trade_no="T1")  # GET with a query string, a UTF-8 body with Chinese text
    assert code == 200 and json.loads(message)["trade_state_desc"] == "订单未支付"
    code, _ = wx.close(out_trade_no="T1")  # 204, signed over the empty body
    assert code == 204
    paths = [r.path_url for r in gateway.seen]
    assert paths[-1] == "/v3/pay/transactions/out-trade-no/T1/close"
    assert (paths[0] == "/v3/certificates") == (mode == "certificate")
    assert all(gateway.verdicts)  # the SDK's own Authorization passed verify_request every time
    if mode == "public-key":  # public-key mode SDKs announce the key they expect on every request
        assert all(r.headers["Wechatpay-Serial"] == creds["public_key_id"] for r in gateway.seen)


@pytest.mark.parametrize("mode", ["certificate", "public-key"])
def test_wechatpayv3_rejects_response_signed_by_another_key(mode, cert_creds, pubkey_creds, stranger_creds,
                                                           monkeypatch):
    creds = cert_creds if mode == "certificate" else pubkey_creds
    V3Gateway(monkeypatch, creds)
    wx = v3_client(creds)
    # Right serial, wrong private key.
    impostor = dict(creds, platform_private_key_pem=stranger_creds["platform_private_key_pem"])
    V3Gateway(monkeypatch, creds, sign_with=impostor)
    with pytest.raises(Exception, match="failed to verify the signature"):
        wx.pay(description="x", out_trade_no="T2", amount={"total": 1})


def test_wechatpayv3_needs_the_serial_of_the_merchants_mode(cert_creds, monkeypatch):
    V3Gateway(monkeypatch, cert_creds)
    wx = v3_client(cert_creds)
    # An unknown hex serial makes a certificate-mode client re-fetch /v3/certificates, then give up.
    gateway = V3Gateway(monkeypatch, cert_creds, header_overrides={"Wechatpay-Serial": "7" * 40})
    with pytest.raises(Exception, match="failed to verify the signature"):
        wx.pay(description="x", out_trade_no="T3", amount={"total": 1})
    assert [r.path_url for r in gateway.seen] == ["/v3/pay/transactions/native", "/v3/certificates"]
    # A PUB_KEY_ID serial is not even hex to it: int(serial, 16) blows up.
    V3Gateway(monkeypatch, cert_creds, header_overrides={"Wechatpay-Serial": cert_creds["public_key_id"]})
    with pytest.raises(ValueError, match="invalid literal"):
        wx.pay(description="x", out_trade_no="T3", amount={"total": 1})


def test_wechatpayv3_raises_without_signature_type(pubkey_creds, monkeypatch):
    V3Gateway(monkeypatch, pubkey_creds, header_overrides={"Wechatpay-Signature-Type": None})
    with pytest.raises(Exception, match="does not support this algorithm"):
        v3_client(pubkey_creds).pay(description="x", out_trade_no="T4", amount={"total": 1})


def test_certificates_payload_shape(cert_creds):
    now = datetime.now(timezone.utc)
    payload = v3.certificates_payload(cert_creds, now)
    (entry,) = payload["data"]
    assert entry["serial_no"] == cert_creds["platform_serial_no"]
    for field in ("effective_time", "expire_time"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", entry[field])
    enc = entry["encrypt_certificate"]
    assert enc["algorithm"] == "AEAD_AES_256_GCM" and enc["associated_data"] == "certificate"
    assert len(enc["nonce"]) == 12
    pem = aes_decrypt(enc["nonce"], enc["ciphertext"], enc["associated_data"], cert_creds["apiv3_key"])
    assert pem == cert_creds["platform_certificate_pem"]
    assert v3.certificates_payload(cert_creds, now + timedelta(days=6 * 365)) == {"data": []}


@pytest.mark.parametrize("mode", ["certificate", "public-key"])
@pytest.mark.parametrize("lowercase_headers", [False, True])  # Flask-style and FastAPI-style header dicts
def test_wechatpayv3_callback_opens_notify(mode, lowercase_headers, cert_creds, pubkey_creds, monkeypatch):
    creds = cert_creds if mode == "certificate" else pubkey_creds
    V3Gateway(monkeypatch, creds)
    wx = v3_client(creds)
    transaction = {"mchid": creds["mchid"], "appid": creds["appids"][0], "out_trade_no": "T5",
                   "transaction_id": "4200000000202401010000000001", "trade_type": "NATIVE",
                   "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "amount": {"total": 1, "currency": "CNY"}}
    body = v3.json_bytes(v3.notify_body(creds["apiv3_key"], transaction, "TRANSACTION.SUCCESS", time.time()))
    headers = v3.sign_response_headers(creds, body, int(time.time()))
    if lowercase_headers:
        headers = {k.lower(): v for k, v in headers.items()}
    result = wx.callback(headers, body)
    assert result["resource"] == transaction
    assert result["event_type"] == "TRANSACTION.SUCCESS" and result["resource_type"] == "encrypt-resource"
    assert result["summary"] == "支付成功"
    tampered = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.FAILURE"')
    assert wx.callback(headers, tampered) is None


def test_notify_envelope_and_resource_round_trip(cert_creds):
    refund = {"out_refund_no": "R1", "refund_status": "SUCCESS"}
    body = v3.notify_body(cert_creds["apiv3_key"], refund, "REFUND.SUCCESS",
                          datetime(2024, 1, 1, tzinfo=timezone.utc), notify_id="EV-1")
    assert body["id"] == "EV-1" and body["create_time"] == "2024-01-01T08:00:00+08:00"
    assert body["summary"] == "退款成功"
    resource = body["resource"]
    assert resource["original_type"] == "refund" == resource["associated_data"] and len(resource["nonce"]) == 12
    assert json.loads(v3.decrypt_resource(cert_creds["apiv3_key"], resource)) == refund
    assert json.loads(aes_decrypt(resource["nonce"], resource["ciphertext"], "refund", cert_creds["apiv3_key"])) == refund
    with pytest.raises(ValueError):
        v3.decrypt_resource("k" * 32, resource)


def test_response_signature_matches_wechatpayv3_rsa_verify(cert_creds):
    body = v3.json_bytes({"message": "支付成功"})
    headers = v3.sign_response_headers(cert_creds, body, 1700000000, nonce="N" * 32, request_id="RID")
    assert headers["Wechatpay-Timestamp"] == "1700000000" and headers["Request-ID"] == "RID"
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    public_key = load_certificate(cert_creds["platform_certificate_pem"]).public_key()
    assert rsa_verify("1700000000", "N" * 32, body.decode(), headers["Wechatpay-Signature"], public_key)
    assert not rsa_verify("1700000001", "N" * 32, body.decode(), headers["Wechatpay-Signature"], public_key)
    empty = v3.sign_response_headers(cert_creds, b"", 1700000000)
    assert rsa_verify("1700000000", empty["Wechatpay-Nonce"], "", empty["Wechatpay-Signature"], public_key)


# --- APIv3 request authentication ----------------------------------------------------------------------------------

def _signed(creds, method, path, data):
    header = build_authorization(path, method, creds["mchid"], creds["merchant_serial_no"],
                                 load_private_key(creds["merchant_private_key_pem"]), data=data)
    body = json.dumps(data).encode() if data else b""  # what wechatpayv3 signs and requests sends
    return v3.parse_authorization(header), body


def test_verify_request_accepts_sdk_signature_and_rejects_tampering(cert_creds, stranger_creds):
    path = "/v3/pay/transactions/native"
    auth, body = _signed(cert_creds, "POST", path, {"description": "商品", "amount": {"total": 1}})
    assert auth.mchid == cert_creds["mchid"] and auth.serial_no == cert_creds["merchant_serial_no"]

    def check(creds=cert_creds, method="POST", p=path, b=body, sig=auth.signature):
        return v3.verify_request(creds, method, p, auth.timestamp, auth.nonce_str, b, sig)

    assert check()
    assert not check(b=body.replace(b'"total": 1', b'"total": 2'))
    assert not check(creds=stranger_creds)
    assert not check(method="GET")
    assert not check(p=path + "?x=1")
    assert not check(b=b"\xff\xfe\x00garbage")
    assert not check(sig="not base64!!")
    assert not check(sig="")


def test_verify_request_get_with_query_and_empty_body(cert_creds):
    path = f"/v3/pay/transactions/out-trade-no/T1?mchid={cert_creds['mchid']}"
    auth, body = _signed(cert_creds, "GET", path, None)
    assert body == b""
    assert v3.verify_request(cert_creds, "GET", path, int(auth.timestamp), auth.nonce_str, body, auth.signature)


@pytest.mark.parametrize("header, problem", [
    (None, "missing"),
    ("", "missing"),
    ('Bearer mchid="1"', "scheme"),
    ('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1"', "serial_no"),
    ('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no=""', "serial_no"),
    ('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="soon",serial_no="A"', "timestamp"),
    ('WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2",nonce_str="n",signature="s",timestamp="1",serial_no="A"',
     "duplicate"),
    ('WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n"', "malformed"),
    ('WECHATPAY2-SHA256-RSA2048 mchid="1" nonce_str="n"', "malformed"),
])
def test_parse_authorization_rejects_malformed(header, problem):
    with pytest.raises(v3.AuthorizationError, match=problem):
        v3.parse_authorization(header)
    assert issubclass(v3.AuthorizationError, ValueError)


def test_parse_authorization_ignores_field_order():
    auth = v3.parse_authorization('WECHATPAY2-SHA256-RSA2048 serial_no="AB", timestamp="1700000000",'
                                  'signature="c2ln+/=",nonce_str="NONCE",mchid="1900000001"')
    assert auth == v3.Authorization(mchid="1900000001", nonce_str="NONCE", signature="c2ln+/=",
                                    timestamp="1700000000", serial_no="AB")


# --- v2: signatures, XML, wechatpy ---------------------------------------------------------------------------------

V2_PARAMS = {"appid": "wxd678efh567hg6787", "mch_id": "1900000001", "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
             "body": "沙箱 商品&x=y", "total_fee": 1, "attach": "", "detail": None, "out_trade_no": "T1"}


def test_v2_sign_matches_wechatpy():
    key = "192006250b4c09247ec02edce69f6a2d"
    assert v2.sign(V2_PARAMS, key) == calculate_signature(V2_PARAMS, key)
    hmac_params = dict(V2_PARAMS, sign_type="HMAC-SHA256")
    assert v2.sign(hmac_params, key, "HMAC-SHA256") == calculate_signature_hmac(hmac_params, key)
    assert v2.sign(dict(V2_PARAMS, sign="IGNORED"), key) == calculate_signature(V2_PARAMS, key)
    with pytest.raises(ValueError):
        v2.sign(V2_PARAMS, key, "SHA1")


def test_v2_verify_wechatpy_request_bodies():
    key = "192006250b4c09247ec02edce69f6a2d"
    for sign_type, calc in (("MD5", calculate_signature), ("HMAC-SHA256", calculate_signature_hmac)):
        data = dict(V2_PARAMS, sign_type=sign_type)
        params = v2.parse_xml(dict_to_xml(data, calc(data, key)).encode())  # wechatpy's exact request body
        assert params["total_fee"] == "1" and params["body"] == "沙箱 商品&x=y"
        assert v2.verify(params, key)
        assert not v2.verify(params, key.upper())
        assert not v2.verify(dict(params, total_fee="2"), key)
    assert not v2.verify({"a": "1"}, key)  # no sign at all
    assert not v2.verify({"a": "1", "sign": "签名", "sign_type": "MD5"}, key)
    assert not v2.verify({"a": "1", "sign": "X", "sign_type": "RSA"}, key)


class V2Gateway(FakeGateway):
    def __init__(self, monkeypatch, key):
        super().__init__(monkeypatch)
        self.key, self.sign_types = key, []

    def handle(self, request):
        params = v2.parse_xml(request.body)
        self.sign_types.append(params.get("sign_type", "MD5"))
        if not v2.verify(params, self.key):
            answer = {"return_code": "FAIL", "return_msg": "签名错误"}
        else:
            answer = {"return_code": "SUCCESS", "return_msg": "OK", "appid": params["appid"],
                      "mch_id": params["mch_id"], "nonce_str": "abc", "result_code": "SUCCESS",
                      "trade_type": params["trade_type"], "prepay_id": "wx201410272009395522657a690389285100",
                      "code_url": "weixin://wxpay/bizpayurl?pr=sandbox2"}
            answer["sign"] = v2.sign(answer, self.key, params.get("sign_type", "MD5"))
        return 200, v2.to_xml(answer), {}


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_wechatpy_unifiedorder_round_trip(sign_type, cert_creds, monkeypatch):
    gateway = V2Gateway(monkeypatch, cert_creds["v2_key"])
    wx = WeChatPayV2(appid=cert_creds["appids"][0], api_key=cert_creds["v2_key"], mch_id=cert_creds["mchid"])
    result = wx.order.create(trade_type="NATIVE", body="沙箱商品", total_fee=1, notify_url=NOTIFY_URL,
                             client_ip="127.0.0.1", product_id="P1", sign_type=sign_type)
    assert result["code_url"] == "weixin://wxpay/bizpayurl?pr=sandbox2"
    assert gateway.sign_types == [sign_type]
    assert gateway.seen[0].path_url == "/pay/unifiedorder"
    wrong = WeChatPayV2(appid=cert_creds["appids"][0], api_key="x" * 32, mch_id=cert_creds["mchid"])
    with pytest.raises(WeChatPayException, match="签名错误"):
        wrong.order.create(trade_type="NATIVE", body="x", total_fee=1, notify_url=NOTIFY_URL, client_ip="127.0.0.1")


def _pay_notify(creds, sign_type="MD5"):
    params = {"return_code": "SUCCESS", "appid": creds["appids"][0], "mch_id": creds["mchid"],
              "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c", "result_code": "SUCCESS", "openid": "oUpF8uMEb4qRXf22",
              "trade_type": "NATIVE", "bank_type": "OTHERS", "total_fee": "1", "cash_fee": "1", "fee_type": "CNY",
              "transaction_id": "4200000000202401010000000001", "out_trade_no": "T1", "attach": "a]]>b <&>",
              "time_end": "20240101120000", "is_subscribe": "N"}
    if sign_type != "MD5":
        params["sign_type"] = sign_type
    params["sign"] = v2.sign(params, creds["v2_key"], sign_type)
    return v2.to_xml(params)


def test_wechatpy_verifies_pay_notify(cert_creds):
    wx = WeChatPayV2(appid=cert_creds["appids"][0], api_key=cert_creds["v2_key"], mch_id=cert_creds["mchid"])
    data = wx.parse_payment_result(_pay_notify(cert_creds))
    assert data["total_fee"] == 1 and data["attach"] == "a]]>b <&>"  # CDATA escape survives xmltodict
    with pytest.raises(InvalidSignatureException):
        WeChatPayV2(appid="wx", api_key="y" * 32, mch_id="1").parse_payment_result(_pay_notify(cert_creds))
    # wechatpy checks notifies with MD5 only: an HMAC-SHA256 notify (real behaviour for HMAC orders) fails there.
    with pytest.raises(InvalidSignatureException):
        wx.parse_payment_result(_pay_notify(cert_creds, "HMAC-SHA256"))
    assert v2.verify(v2.parse_xml(_pay_notify(cert_creds, "HMAC-SHA256")), cert_creds["v2_key"])


def test_wechatpy_decrypts_refund_notify(cert_creds):
    inner = {"out_refund_no": "R1", "out_trade_no": "T1", "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
             "refund_fee": "1", "refund_id": "50000000002024010100000000001", "refund_recv_accout": "支付用户零钱",
             "refund_request_source": "API", "refund_status": "SUCCESS", "settlement_refund_fee": "1",
             "settlement_total_fee": "1", "success_time": "2024-01-01 12:00:00", "total_fee": "1",
             "transaction_id": "4200000000202401010000000001"}
    req_info = v2.encrypt_req_info(cert_creds["v2_key"], inner)
    outer = v2.to_xml({"return_code": "SUCCESS", "appid": cert_creds["appids"][0], "mch_id": cert_creds["mchid"],
                       "nonce_str": "abc", "req_info": req_info})
    wx = WeChatPayV2(appid=cert_creds["appids"][0], api_key=cert_creds["v2_key"], mch_id=cert_creds["mchid"])
    data = wx.parse_refund_notify_result(outer)
    fee_keys = ("total_fee", "settlement_total_fee", "refund_fee", "settlement_refund_fee")
    assert dict(data) == {k: int(v) if k in fee_keys else v for k, v in inner.items()}
    assert v2.decrypt_req_info(cert_creds["v2_key"], req_info) == inner
    # and the other way: wechatpy's own encryptor (it pads to 32-byte blocks)
    key = hashlib.md5(cert_creds["v2_key"].encode()).hexdigest().encode()
    theirs = RefundCrypto(key).encrypt("<root><refund_id><![CDATA[5]]></refund_id></root>").decode()
    assert v2.decrypt_req_info(cert_creds["v2_key"], theirs) == {"refund_id": "5"}
    with pytest.raises(ValueError):
        v2.decrypt_req_info("z" * 32, req_info)


def test_app_pay_params_match_wechatpy(cert_creds):
    ts = 1700000000
    ours = v2.app_pay_params(cert_creds["appids"][0], cert_creds["mchid"], "wx2016", cert_creds["v2_key"], ts,
                             nonce="N" * 32)
    wx = WeChatPayV2(appid=cert_creds["appids"][0], api_key=cert_creds["v2_key"], mch_id=cert_creds["mchid"])
    assert ours == wx.order.get_appapi_params("wx2016", timestamp=str(ts), nonce_str="N" * 32)
    fresh = v2.app_pay_params("wx1", "1900000001", "wx2016", "k" * 32, ts)
    assert set(fresh) == {"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"}
    assert len(fresh["noncestr"]) == 32 and fresh["timestamp"] == "1700000000" and fresh["package"] == "Sign=WXPay"
    assert re.fullmatch(r"[0-9A-F]{32}", fresh["sign"])
    with pytest.raises(ValueError):
        v2.app_pay_params("wx1", "1", "wx2016", "k" * 32, int(time.time() * 1000))  # milliseconds


def test_to_xml_round_trips_through_both_parsers():
    params = {"return_code": "SUCCESS", "msg": "a]]>b]]>", "cn": "签名错误", "amp": "<&>", "empty": "", "skip": None,
              "n": 5}
    raw = v2.to_xml(params)
    expected = {k: str(v) for k, v in params.items() if v is not None}
    assert v2.parse_xml(raw) == expected
    assert {k: v or "" for k, v in xmltodict.parse(raw)["xml"].items()} == expected
    with pytest.raises(ValueError):
        v2.to_xml({"bad key": "x"})
    with pytest.raises(ValueError):
        v2.to_xml({"k": "bell\x07"})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><a>&lol4;</a></xml>"""


@pytest.mark.parametrize("body, problem", [
    (BILLION_LAUGHS, "forbidden"),
    (b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>', "forbidden"),
    (b'<!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><a>1</a></xml>', "forbidden"),
    (b"<!DOCTYPE xml><xml><a>1</a></xml>", "forbidden"),
    (b"<xml><a>&undefined;</a></xml>", "malformed"),
    (b"<xml><a>" + b"x" * (64 * 1024) + b"</a></xml>", "larger"),
    (b"<xml><a>1</xml>", "malformed"),
    (b"\xff\xfe<\x00x\x00", "malformed"),
    (b"", "empty"),
    (b"  \n", "empty"),
    (b"<root><a>1</a></root>", "root"),
    (b"<xml><a><b>1</b></a></xml>", "must hold text"),
    (b"<xml><a>1</a><a>2</a></xml>", "twice"),
    (b"<xml>loose<a>1</a></xml>", "text directly"),
    (b"<xml><a>1</a>loose</xml>", "text after"),
])
def test_parse_xml_rejects_hostile_or_broken_bodies(body, problem):
    with pytest.raises(v2.XmlError, match=problem):
        v2.parse_xml(body)


def test_parse_xml_accepts_plain_and_cdata_values():
    body = "<xml>\n<a>1</a>\n<b><![CDATA[<x> & 中文]]></b><c/></xml>".encode()
    assert v2.parse_xml(body) == {"a": "1", "b": "<x> & 中文", "c": ""}
    assert v2.parse_xml(b"<xml><a>1</a></xml>", max_bytes=19) == {"a": "1"}
    with pytest.raises(v2.XmlError):
        v2.parse_xml(b"<xml><a>1</a></xml>", max_bytes=18)
