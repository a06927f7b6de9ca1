"""The signature doctor's pure functions: each known mistake, made by a hand-made client, is named; a correct
signature is never diagnosed; no key's secret ever appears in a diagnosis."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote, quote_plus

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sandbox.apps.partner import signing as partner_signing
from sandbox.doctor import alipay as d_alipay
from sandbox.doctor import partner as d_partner
from sandbox.doctor import quickpay as d_quickpay
from sandbox.doctor import wechat_v2 as d_v2
from sandbox.doctor import wechat_v3 as d_v3
from sandbox.doctor import public_fingerprint, secret_fingerprint, show, wire_hint
from sandbox.providers.alipay import credentials as alipay_credentials
from sandbox.providers.alipay import signing as alipay_signing
from sandbox.providers.quickpay import wire as quickpay_wire
from sandbox.providers.wechat import credentials as wechat_credentials
from sandbox.providers.wechat import v2_crypto
from sandbox.providers.wechat.v2_wire import sandbox_signkey

TS, NONCE = "1764000000", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
HOST = "127.0.0.1:8080"
QUERY_PATH = "/v3/pay/transactions/out-trade-no/ORDER-1?mchid=1900000001"
ORDER_PATH = "/v3/pay/transactions/native"
BODY = json.dumps({"appid": "wxd678efh567hg6787", "mchid": "1900000001", "description": "礼包",
                   "out_trade_no": "ORDER-1", "amount": {"total": 100}}, ensure_ascii=False,
                  separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def wx():
    # fixed symmetric keys: every v2 sign below is the same on every run
    return {**wechat_credentials.new_credentials("certificate", mchid="1900000001"),
            "v2_key": "8934e7d15453e97507ef794cf7b0519d", "apiv3_key": "5ad8a1ee9e2af7c0ec5b1a3c4d5e6f70"}


@pytest.fixture(scope="module")
def wx_other():
    return wechat_credentials.new_credentials("certificate", mchid="1900000002")


def rsa(pem: str, data: bytes, digest=hashes.SHA256) -> str:
    key = serialization.load_pem_private_key(pem.encode(), None)
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), digest())).decode()


def authorization(signature: str, serial: str, timestamp: str = TS) -> str:
    return (f'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="{NONCE}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial}"')


def v3(wx, wx_other, method: str, path: str, body: bytes, signed: bytes, *, key: str | None = None,
       serial: str | None = None, now: int = int(TS)) -> dict:
    """The diagnosis of a call that sends `body` to `path` with a signature over `signed`."""
    header = authorization(rsa(key or wx["merchant_private_key_pem"], signed), serial or wx["merchant_serial_no"])
    return d_v3.diagnose(method, path, header, body, wx, host=HOST, others=d_v3.known_keys([wx, wx_other], "1900000001"),
                         now=now)


def no_secret(found: dict, *secrets: str) -> None:
    text = json.dumps(found, ensure_ascii=False)
    assert "PRIVATE KEY" not in text
    for secret in secrets:
        assert secret not in text


# --- APIv3 -----------------------------------------------------------------------------------------------------

def test_v3_correct_signature_is_not_diagnosed(wx, wx_other):
    found = v3(wx, wx_other, "POST", ORDER_PATH, BODY, d_v3.message("POST", ORDER_PATH, TS, NONCE, BODY))
    assert found["cause"] is None and found["hint"] == "the signature verifies"
    assert found["algorithm"] == "SHA256withRSA (WECHATPAY2-SHA256-RSA2048, PKCS#1 v1.5, base64)"
    assert found["expected_string"] == f"POST\\n{ORDER_PATH}\\n{TS}\\n{NONCE}\\n{BODY.decode()}\\n"
    assert found["key"] == {"merchant": "1900000001", "serial_no": wx["merchant_serial_no"],
                            "fingerprint": public_fingerprint(wx["merchant_certificate_pem"])}
    assert found["key"]["fingerprint"].startswith("SHA256:") and len(found["key"]["fingerprint"]) == 71
    no_secret(found, wx["apiv3_key"], wx["v2_key"])


@pytest.mark.parametrize("mistake, path, body, signed_path, signed_body, cause, hint", [
    ("no query", QUERY_PATH, b"", ORDER_PATH.replace("native", "out-trade-no/ORDER-1"), b"",
     "the path was signed without its query string (/v3/pay/transactions/out-trade-no/ORDER-1); "
     f"sign {QUERY_PATH}", "path signed without its query string"),
    ("real host", QUERY_PATH, b"", "https://api.mch.weixin.qq.com" + QUERY_PATH, b"",
     f"the URL was signed with its scheme and host (https://api.mch.weixin.qq.com{QUERY_PATH}); sign only the path "
     "and query", "URL signed with its host; sign only the path and query"),
    ("sandbox host", QUERY_PATH, b"", f"http://{HOST}{QUERY_PATH}", b"",
     f"the URL was signed with its scheme and host (http://{HOST}{QUERY_PATH}); sign only the path and query",
     "URL signed with its host; sign only the path and query"),
    ("url-encoded", QUERY_PATH, b"", quote(QUERY_PATH, safe=""), b"",
     f"the path was signed URL-encoded ({quote(QUERY_PATH, safe='')}); sign it exactly as sent",
     "path signed URL-encoded; sign it as sent"),
    ("url-decoded", "/v3/refund/domestic/refunds/R%201", b"", "/v3/refund/domestic/refunds/R 1", b"",
     "the path was signed URL-decoded (/v3/refund/domestic/refunds/R 1) but sent encoded; sign it exactly as sent",
     "path signed URL-decoded; sign it as sent"),
    ("body lost its newline", ORDER_PATH, BODY + b"\n", ORDER_PATH, BODY,
     "the body was signed without its trailing newline (the bytes sent end with \\n)",
     "body signed without its trailing newline"),
    ("body gained a newline", ORDER_PATH, BODY, ORDER_PATH, BODY + b"\n",
     "the body was signed with a trailing newline that the bytes sent do not have",
     "body signed with a trailing newline it does not have"),
    ("re-serialised", ORDER_PATH, BODY, ORDER_PATH, json.dumps(json.loads(BODY)).encode(),
     "the body was re-serialised: the signature is over json.dumps(body, separators=(', ', ': '), "
     "ensure_ascii=True), but other bytes were sent; sign exactly the bytes you send",
     "body re-serialised after signing; sign the bytes you send"),
    ("re-serialised sorted", ORDER_PATH, BODY, ORDER_PATH,
     json.dumps(json.loads(BODY), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(),
     "the body was re-serialised: the signature is over json.dumps(body, separators=(',', ':'), "
     "ensure_ascii=False, sort_keys=True), but other bytes were sent; sign exactly the bytes you send",
     "body re-serialised after signing; sign the bytes you send"),
])
def test_v3_each_message_mistake_is_named(wx, wx_other, mistake, path, body, signed_path, signed_body, cause, hint):
    method = "POST" if body else "GET"
    found = v3(wx, wx_other, method, path, body, d_v3.message(method, signed_path, TS, NONCE, signed_body))
    assert (found["cause"], found["hint"]) == (cause, hint), mistake


def test_v3_missing_final_newline(wx, wx_other):
    found = v3(wx, wx_other, "POST", ORDER_PATH, BODY, d_v3.message("POST", ORDER_PATH, TS, NONCE, BODY)[:-1])
    assert found["cause"] == ("the signed string lacks the final \\n after the body (every line ends with \\n, "
                              "the body's too)")


def test_v3_foreign_keys(wx, wx_other):
    signed = d_v3.message("POST", ORDER_PATH, TS, NONCE, BODY)
    other = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, key=wx_other["merchant_private_key_pem"])
    assert other["cause"] == (f"the request was signed with merchant 1900000002's API key "
                              f"({public_fingerprint(wx_other['merchant_certificate_pem'])}), not with merchant "
                              "1900000001's API private key (apiclient_key.pem)")
    assert other["hint"] == "signed with merchant 1900000002's API key, not yours"
    platform = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, key=wx["platform_private_key_pem"])
    assert platform["cause"] == (f"the request was signed with the platform key "
                                 f"({public_fingerprint(wx['platform_certificate_pem'])}), not with merchant "
                                 "1900000001's API private key (apiclient_key.pem)")
    no_secret(platform, wx["apiv3_key"])


def test_v3_serial_numbers(wx, wx_other):
    signed = d_v3.message("POST", ORDER_PATH, TS, NONCE, BODY)
    mine = wx["merchant_serial_no"]
    platform = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, serial=wx["platform_serial_no"])
    assert platform["cause"] == (f"the signature itself is right, but serial_no {wx['platform_serial_no']} is the "
                                 f"platform certificate's serial, not the merchant API certificate's ({mine})")
    assert platform["hint"] == "serial_no is the platform cert's; use your API cert's"
    decimal = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, serial=str(int(mine, 16)))
    assert decimal["cause"] == (f"the signature itself is right, but serial_no {int(mine, 16)} is the certificate "
                                f"serial in decimal; send it as uppercase hex ({mine})")
    foreign = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, key=wx_other["merchant_private_key_pem"],
                 serial=wx_other["merchant_serial_no"])
    assert foreign["cause"].startswith("the request was signed with merchant 1900000002's API key")
    assert foreign["cause"].endswith(f"; also, serial_no {wx_other['merchant_serial_no']} is the serial of merchant "
                                     f"1900000002's API key, not merchant 1900000001's API certificate ({mine})")


def test_v3_timestamp_skew(wx, wx_other):
    signed = d_v3.message("POST", ORDER_PATH, TS, NONCE, BODY)
    late = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, now=int(TS) + 3725)
    assert late["cause"] == (f"the signature itself is right, but timestamp {TS} is 1 h 2 min 5 s behind the "
                             "sandbox's clock (allowed: 5 min); sign with the current unix time")
    assert late["hint"] == "timestamp 1 h 2 min 5 s behind the sandbox's clock"
    early = v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, now=int(TS) - 600)
    assert early["hint"] == "timestamp 10 min ahead of the sandbox's clock"
    assert v3(wx, wx_other, "POST", ORDER_PATH, BODY, signed, now=int(TS) + 299)["cause"] is None


def test_v3_unusable_headers(wx):
    found = d_v3.diagnose("GET", QUERY_PATH, 'WECHATPAY2-SHA256-RSA2048 mchid="1900000001"', b"", None)
    assert found["cause"] == ("the Authorization header is not usable: Authorization lacks nonce_str, signature, "
                              "timestamp, serial_no")
    assert found["expected_string"] == f"GET\\n{QUERY_PATH}\\n<timestamp>\\n<nonce_str>\\n\\n"
    short = d_v3.diagnose("GET", QUERY_PATH, authorization("c2lnbmF0dXJl", wx["merchant_serial_no"]), b"", wx)
    assert short["cause"] == ("the signature is 9 bytes; an RSA-2048 signature is 256 bytes (truncated, "
                              "hex-encoded, or made with another key size?)")


# --- v2 ----------------------------------------------------------------------------------------------------------

V2_PARAMS = {"appid": "wxd678efh567hg6787", "mch_id": "1900000001", "nonce_str": "ibuaiVcKdpRxkhJA",
             "body": "礼包", "out_trade_no": "ORDER-1", "total_fee": "100", "spbill_create_ip": "203.0.113.7",
             "notify_url": "https://m.example/notify", "trade_type": "NATIVE", "product_id": "P1"}


def v2_with(sign: str, **extra) -> dict:
    return {**V2_PARAMS, **extra, "sign": sign}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


def test_v2_correct_sign_is_not_diagnosed(wx):
    params = {**V2_PARAMS, "sign": v2_crypto.sign(V2_PARAMS, wx["v2_key"])}
    found = d_v2.diagnose(params, wx)
    assert found["cause"] is None and found["algorithm"] == "MD5, uppercase hex"
    assert found["expected_string"] == d_v2.signed_text(V2_PARAMS, None) + "&key=<the v2 API key>"
    assert found["key"] == {"merchant": "1900000001", "key": "the v2 API key",
                            "fingerprint": secret_fingerprint(wx["v2_key"])}
    no_secret(found, wx["v2_key"], wx["apiv3_key"])


def test_v2_each_mistake_is_named(wx):
    key, box = wx["v2_key"], sandbox_signkey(wx["v2_key"], wx["mchid"])
    text = d_v2.signed_text(V2_PARAMS, key)
    hmac_sign = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    cases = [
        (v2_with(md5(text).lower()), False, "the sign is lower-case hex; send it in upper case"),
        (v2_with(hmac_sign), False, "signed with HMAC-SHA256 while sign_type is not sent (MD5 is the default); "
                                    "send sign_type=HMAC-SHA256 or sign with MD5"),
        (v2_with(v2_crypto.sign({**V2_PARAMS, "sign_type": "HMAC-SHA256"}, key, "MD5"), sign_type="HMAC-SHA256"),
         False, "signed with MD5 while sign_type is HMAC-SHA256; send sign_type=MD5 or sign with HMAC-SHA256"),
        (v2_with(v2_crypto.sign(V2_PARAMS, wx["apiv3_key"])), False,
         "signed with the APIv3 key instead of the v2 API key, which signs outside /sandboxnew/"),
        (v2_with(v2_crypto.sign(V2_PARAMS, key)), True,
         "signed with the v2 API key instead of the sandboxnew sign key (getsignkey), which signs under /sandboxnew/"),
        (v2_with(v2_crypto.sign(V2_PARAMS, box)), False,
         "signed with the sandboxnew sign key (getsignkey) instead of the v2 API key, which signs outside /sandboxnew/"),
        (v2_with(md5(d_v2.signed_text({**V2_PARAMS, "attach": "", "device_info": ""}, key, empty=True)), attach="",
                 device_info=""), False,
         "empty fields (attach, device_info) were signed; leave out fields with empty values"),
        (v2_with(v2_crypto.sign(V2_PARAMS, key), sign_type="MD5"), False,
         "sign_type was left out of the signed string; every field but sign is signed, sign_type too"),
        (v2_with(v2_crypto.sign({**V2_PARAMS, "sign_type": "MD5"}, key)), False,
         "the signed string included sign_type=MD5, but the request does not send sign_type"),
        (v2_with(md5(d_v2.signed_text(V2_PARAMS, None))), False,
         "the key was not appended: the string must end with &key=<API key>"),
        (v2_with("F" * 32), False, None),
    ]
    for params, sandboxnew, cause in cases:
        found = d_v2.diagnose(params, wx, sandboxnew=sandboxnew)
        assert found["cause"] == cause, params
        no_secret(found, key, box, wx["apiv3_key"])


# --- Alipay -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ali():
    return alipay_credentials.new_credentials(app_id="2021000000000001")


@pytest.fixture(scope="module")
def ali_other():
    return alipay_credentials.new_credentials(app_id="2021000000000002")


def ali_params(ali, **extra) -> dict:
    params = alipay_signing.build_request("alipay.trade.precreate", {}, app_id=ali["app_id"],
                                          timestamp="2026-12-02 10:00:00", **extra)
    # as the official SDK sends it: non-ASCII left as is, so the charset matters
    return {**params, "biz_content": '{"out_trade_no":"ORDER-1","total_amount":"1.00","subject":"礼包"}'}


def ali_diagnose(ali, ali_other, params: dict, text: str | bytes, *, key: str | None = None, digest=hashes.SHA256):
    data = text.encode() if isinstance(text, str) else text
    signed = {**params, "sign": rsa(key or ali["app_private_key_pem"], data, digest)}
    return d_alipay.diagnose(signed, ali, others=d_alipay.known_keys([ali, ali_other], ali["app_id"]))


def test_alipay_correct_sign_is_not_diagnosed(ali, ali_other):
    params = ali_params(ali)
    found = ali_diagnose(ali, ali_other, params, alipay_signing.signing_string(params))
    assert found["cause"] is None
    assert found["algorithm"] == "RSA2 (SHA256withRSA, PKCS#1 v1.5, base64), text in utf-8"
    assert found["expected_string"] == alipay_signing.signing_string(params)
    assert found["key"] == {"app_id": "2021000000000001", "key": "the app public key",
                            "fingerprint": public_fingerprint(ali["app_public_key_pem"])}
    no_secret(found)


def test_alipay_each_mistake_is_named(ali, ali_other):
    params = ali_params(ali)
    text = alipay_signing.signing_string(params)
    encoded = "&".join(f"{k}={quote_plus(v)}" for k, v in sorted(params.items()))
    with_empty = ali_params(ali, app_auth_token="")
    cases = [
        (params, alipay_signing.signing_string(params, ("sign", "sign_type")), {},
         "sign_type was left out of the signed string; a request signs every parameter but sign (only notifies "
         "leave sign_type out)"),
        (params, encoded, {}, "the values were URL-encoded before signing; sign the raw values, then encode the request"),
        (params, text.encode("gbk"), {},
         "the text was signed as GBK bytes while charset=utf-8; sign the bytes of the declared charset"),
        ({**params, "charset": "GBK"}, alipay_signing.signing_string({**params, "charset": "GBK"}).encode(), {},
         "the text was signed as UTF-8 bytes while charset=GBK; sign the bytes of the declared charset"),
        (params, text, {"digest": hashes.SHA1}, "signed with RSA (SHA1withRSA while sign_type says RSA2"),
        (with_empty, "&".join(f"{k}={v}" for k, v in sorted(with_empty.items())), {},
         "empty parameters (app_auth_token) were signed; leave out empty values"),
        (params, text, {"key": ali_other["app_private_key_pem"]},
         f"signed with app 2021000000000002's key ({public_fingerprint(ali_other['app_public_key_pem'])}), not with "
         f"app 2021000000000001's private key (the app public key is {public_fingerprint(ali['app_public_key_pem'])})"),
        (params, text, {"key": ali["alipay_private_key_pem"]},
         "signed with the Alipay key pair (whose public half you hold as the Alipay public key) "
         f"({public_fingerprint(ali['alipay_public_key_pem'])}), not with app 2021000000000001's private key (the app "
         f"public key is {public_fingerprint(ali['app_public_key_pem'])})"),
    ]
    for signed_params, signed, options, cause in cases:
        found = ali_diagnose(ali, ali_other, signed_params, signed, **options)
        assert found["cause"] == cause, cause
        no_secret(found)


def test_alipay_unknown_key_reports_the_fingerprint(ali, ali_other):
    stranger = alipay_credentials.new_credentials()
    params = ali_params(ali)
    found = ali_diagnose(ali, ali_other, params, alipay_signing.signing_string(params),
                         key=stranger["app_private_key_pem"])
    fingerprint = public_fingerprint(ali["app_public_key_pem"])
    assert found["cause"] == (f"no known mistake verifies: check that the app private key is the pair of the app "
                              f"public key {fingerprint}, and the signed text against the expected string")
    assert found["hint"] == f"no known mistake; is your key the pair of {fingerprint[:19]}…?"


# --- QuickPay and the partner app ---------------------------------------------------------------------------------

QP_KEY = "qp-store-key-0123456789abcdef"
QP_CREDS = {"store_no": "QP10000002", "key": QP_KEY}
QP_FIELDS = {"store_no": "QP10000002", "order_no": "ORDER-1", "amount": 100, "iteminfo": "礼包", "attach": "",
             "share_pay": True, "itemlist": [{"item_id": "1", "item_name": "礼包", "quantity": 1, "price": 100}]}


def qp_text(fields: dict, **options) -> str:
    from sandbox.doctor import md5sign
    return md5sign.text_of(fields, options.pop("key", QP_KEY), options.pop("render", quickpay_wire.sign_value),
                           options.pop("keep", d_quickpay.keep), **options)


def lower_md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_quickpay_correct_sign_is_not_diagnosed():
    for case in (str.upper, str.lower):
        found = d_quickpay.diagnose({**QP_FIELDS, "sign": case(quickpay_wire.sign(QP_FIELDS, QP_KEY))}, QP_CREDS)
        assert found["cause"] is None
    assert found["expected_string"] == qp_text(QP_FIELDS, key="<the store's sign key>")
    assert found["key"] == {"store_no": "QP10000002", "key": "the store's sign key",
                            "fingerprint": secret_fingerprint(QP_KEY)}
    no_secret(found, QP_KEY)


def test_quickpay_each_mistake_is_named():
    from sandbox.doctor import md5sign
    cases = [
        (qp_text(QP_FIELDS, key=None), "the key was not appended: the string must end with &key=<key>"),
        (qp_text(QP_FIELDS, keep=lambda v: True, render=lambda v: "" if v is None else quickpay_wire.sign_value(v)),
         "empty fields (attach) were signed; leave out fields with empty values"),
        (qp_text(QP_FIELDS, order="sent"), "the fields were signed in the order sent, not sorted by name"),
        (qp_text(QP_FIELDS, with_sign=True), "sign itself was in the signed string (as sign=); leave sign out"),
        (qp_text(QP_FIELDS, render=md5sign.python_text),
         "values were written as str() of Python values (True, {'a': 1}); write true/false and compact JSON"),
    ]
    for text, cause in cases:
        found = d_quickpay.diagnose({**QP_FIELDS, "sign": lower_md5(text).upper()}, QP_CREDS)
        assert found["cause"] == cause
        no_secret(found, QP_KEY)
    missing = d_quickpay.diagnose(QP_FIELDS, QP_CREDS)
    assert (missing["cause"], missing["hint"]) == ("the request has no sign field", "no sign field")


PARTNER_KEY = "0123456789abcdef0123456789abcdef"
PARTNER_FIELDS = {"user_id": "41840b6f0cbd4a4a8c8b2f9c6b3b3a11", "pay_type": 1, "gift_pos_id": "55fca",
                  "address_id": 1, "coupon_id": ""}


def test_partner_sign_mistakes():
    creds = {"key": PARTNER_KEY, "check_sign": True}
    good = partner_signing.sign(PARTNER_FIELDS, PARTNER_KEY)
    assert d_partner.diagnose({**PARTNER_FIELDS, "sign": good}, creds, "demo-partner")["cause"] is None
    upper = d_partner.diagnose({**PARTNER_FIELDS, "sign": good.upper()}, creds, "demo-partner")
    assert (upper["cause"], upper["hint"]) == ("the sign is upper-case hex; send it in lower case",
                                               "sign in upper-case hex; use lower case")
    assert upper["key"] == {"merchant": "demo-partner", "key": "the partner key",
                            "fingerprint": secret_fingerprint(PARTNER_KEY)}
    assert upper["expected_string"] == ("address_id=1&gift_pos_id=55fca&pay_type=1&"
                                        "user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11&key=<the partner key>")
    plain = "address_id=1&gift_pos_id=55fca&pay_type=1&user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11"
    for text, cause in [
        (plain, "the key was not appended: the string must end with &key=<key>"),
        ("address_id=1&coupon_id=&gift_pos_id=55fca&pay_type=1&user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11"
         f"&key={PARTNER_KEY}", "empty fields (coupon_id) were signed; leave out fields with empty values"),
        (f"user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11&pay_type=1&gift_pos_id=55fca&address_id=1&key={PARTNER_KEY}",
         "the fields were signed in the order sent, not sorted by name"),
    ]:
        found = d_partner.diagnose({**PARTNER_FIELDS, "sign": lower_md5(text)}, creds)
        assert found["cause"] == cause
        no_secret(found, PARTNER_KEY)
    json_fields = {**PARTNER_FIELDS, "pay_type": 1, "address_id": 1, "agree": True}
    python_text = ("address_id=1&agree=True&gift_pos_id=55fca&pay_type=1&user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11"
                   f"&key={PARTNER_KEY}")
    rendered = d_partner.diagnose({**json_fields, "sign": lower_md5(python_text)}, creds)
    assert rendered["cause"] == ("values were written as str() of Python values (True, {'a': 1}); write true/false "
                                 "and compact JSON")
    assert rendered["expected_string"].startswith("address_id=1&agree=true&")
    with_sign = d_partner.diagnose({**PARTNER_FIELDS, "sign": lower_md5(
        "address_id=1&gift_pos_id=55fca&pay_type=1&sign=&user_id=41840b6f0cbd4a4a8c8b2f9c6b3b3a11"
        f"&key={PARTNER_KEY}")}, creds)
    assert with_sign["cause"] == "sign itself was in the signed string (as sign=); leave sign out"
    both = d_partner.diagnose({**PARTNER_FIELDS, "sign": lower_md5(plain).upper()}, creds)
    assert both["cause"] == "the key was not appended: the string must end with &key=<key>; also, the hex is upper case"


# --- the wire hint ------------------------------------------------------------------------------------------------

def test_show_and_wire_hint():
    assert show("GET\n/\r\n\t\x01é") == "GET\\n/\\r\\n\\t\\x01é"
    assert wire_hint(None) == ""
    assert wire_hint({"hint": "body signed without its trailing newline"}) == \
        " [sandbox hint: body signed without its trailing newline; see /_sandbox/requests]"
    long = wire_hint({"hint": "x" * 300})
    assert len(long) == 120 and long.endswith("…; see /_sandbox/requests]")
