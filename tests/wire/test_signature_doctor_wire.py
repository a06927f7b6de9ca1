"""The signature doctor on the wire: a real SDK or a hand-made client makes a known mistake against a running
sandbox; the call is refused with the provider's own code and words, the free-text field carries the hint and the
journal entry's id, and the journal entry holds the diagnosis. A correct call is never diagnosed."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from wechatpy.exceptions import WeChatPayException

from sandbox.providers.alipay import signing as alipay_signing
from sandbox.providers.quickpay import wire as quickpay_wire
from sandbox.providers.wechat import v2_crypto
from wechat_sdks import OPENID, credentials, v2_client, v3_client

HINTED = re.compile(r"^(?P<own>.*) \[sandbox hint: (?P<hint>.+); request (?P<id>req_[0-9a-f]+)\]$", re.S)
ORDER_PATH = "/v3/pay/transactions/native"


def hinted(text: str, own_words: str) -> tuple[str, str]:
    """The hint and the journal entry id of a free-text field that starts with the provider's own words."""
    match = HINTED.match(text)
    assert match, text
    assert match["own"] == own_words
    assert len(text) - len(own_words) <= 120
    return match["hint"], match["id"]


def journaled(sandbox, entry_id: str) -> dict:
    """The journal entry, from the admin API (GET /_sandbox/api/requests/{id}), as a contract test reads it."""
    entry = sandbox.admin.request(entry_id)
    assert entry["id"] == entry_id
    return entry


def diagnosis_of(sandbox, entry_id: str, code: str) -> dict:
    entry = journaled(sandbox, entry_id)
    assert (entry["verdict"], entry["code"]) == ("rejected", code)
    found = entry["diagnosis"]
    assert set(found) == {"algorithm", "expected_string", "key", "cause", "hint"}
    text = json.dumps(entry, ensure_ascii=False)
    assert "PRIVATE KEY" not in text
    return found


# --- APIv3 -----------------------------------------------------------------------------------------------------

def v3_call(sandbox, creds: dict, method: str, path: str, body: bytes, signed: bytes | None = None, *,
            key_pem: str | None = None, timestamp: int | None = None) -> requests.Response:
    """A hand-made APIv3 call whose signature is over `signed` (default: the right string)."""
    ts, nonce = str(timestamp or int(time.time())), uuid.uuid4().hex.upper()
    if signed is None:
        signed = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body + b"\n"
    else:
        signed = signed.replace(b"{ts}", ts.encode()).replace(b"{nonce}", nonce.encode())
    key = serialization.load_pem_private_key((key_pem or creds["merchant_private_key_pem"]).encode(), None)
    signature = base64.b64encode(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()
    header = (f'WECHATPAY2-SHA256-RSA2048 mchid="{creds["mchid"]}",nonce_str="{nonce}",signature="{signature}",'
              f'timestamp="{ts}",serial_no="{creds["merchant_serial_no"]}"')
    return requests.request(method, sandbox.url + path, data=body, timeout=10,
                            headers={"Authorization": header, "Content-Type": "application/json"})


def v3_refused(sandbox, response: requests.Response) -> tuple[str, dict]:
    assert response.status_code == 401, response.text
    payload = response.json()
    assert payload["code"] == "SIGN_ERROR"
    hint, entry_id = hinted(payload["message"], "签名错误,请检查后再试")
    return hint, diagnosis_of(sandbox, entry_id, "SIGN_ERROR")


def native_body(creds: dict, out_trade_no: str) -> bytes:
    return json.dumps({"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "Gift",
                       "out_trade_no": out_trade_no, "notify_url": "https://m.example/notify",
                       "amount": {"total": 100}}, separators=(",", ":")).encode()


def test_v3_path_signed_without_its_query(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    path = f"/v3/pay/transactions/out-trade-no/DOC-1?mchid={creds['mchid']}"
    signed = b"GET\n/v3/pay/transactions/out-trade-no/DOC-1\n{ts}\n{nonce}\n\n"
    hint, found = v3_refused(sandbox, v3_call(sandbox, creds, "GET", path, b"", signed))
    assert hint == "path signed without its query string"
    assert found["cause"] == ("the path was signed without its query string (/v3/pay/transactions/out-trade-no/DOC-1)"
                              f"; sign {path}")
    assert found["expected_string"].startswith(f"GET\\n{path}\\n")
    assert found["key"]["merchant"] == creds["mchid"] and found["key"]["serial_no"] == creds["merchant_serial_no"]


def test_v3_body_signed_without_its_trailing_newline(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    body = native_body(creds, "DOC-NEWLINE-1")
    signed = b"POST\n" + ORDER_PATH.encode() + b"\n{ts}\n{nonce}\n" + body + b"\n"
    hint, found = v3_refused(sandbox, v3_call(sandbox, creds, "POST", ORDER_PATH, body + b"\n", signed))
    assert hint == "body signed without its trailing newline"
    assert found["cause"] == "the body was signed without its trailing newline (the bytes sent end with \\n)"
    assert sandbox.admin.payments(out_trade_no="DOC-NEWLINE-1")["payments"] == []


def test_v3_body_re_serialised(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    body = native_body(creds, "DOC-JSON-1")
    signed = b"POST\n" + ORDER_PATH.encode() + b"\n{ts}\n{nonce}\n" + json.dumps(json.loads(body)).encode() + b"\n"
    hint, found = v3_refused(sandbox, v3_call(sandbox, creds, "POST", ORDER_PATH, body, signed))
    assert hint == "body re-serialised after signing; sign the bytes you send"
    assert found["cause"].startswith("the body was re-serialised: the signature is over json.dumps(body, "
                                     "separators=(', ', ': '), ensure_ascii=True)")


def test_v3_timestamp_far_from_the_clock(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    body = native_body(creds, "DOC-LATE-1")
    hint, found = v3_refused(sandbox, v3_call(sandbox, creds, "POST", ORDER_PATH, body,
                                              timestamp=int(time.time()) - 3600))
    assert re.fullmatch(r"timestamp 1 h (\d s )?behind the sandbox's clock", hint), hint
    assert found["cause"].startswith("the signature itself is right, but timestamp ")
    # the sandbox clock moved on: a client on the sandbox clock, and one on the wall clock, both pass
    sandbox.admin.advance(86400)
    assert v3_call(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "DOC-NOW-1")).status_code == 200
    assert v3_call(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "DOC-NOW-2"),
                   timestamp=int(time.time()) + 86400).status_code == 200


def test_v3_sdk_with_another_merchants_key(sandbox, monkeypatch):
    """wechatpayv3 (public-key mode) configured with demo-wechat's private key instead of its own."""
    mine = credentials(sandbox, "demo-wechat-pubkey")
    other = credentials(sandbox, "demo-wechat")
    monkeypatch.setitem(mine, "merchant_private_key_pem", other["merchant_private_key_pem"])
    monkeypatch.setattr("wechat_sdks.credentials", lambda sandbox, merchant_id: mine)
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat-pubkey", notify_url="https://m.example/notify")
    status, text = wx.pay(description="Gift", out_trade_no="DOC-KEY-1", amount={"total": 100})
    assert status == 401
    payload = json.loads(text)
    hint, entry_id = hinted(payload["message"], "签名错误,请检查后再试")
    assert hint == f"signed with merchant {other['mchid']}'s API key, not yours"
    found = diagnosis_of(sandbox, entry_id, "SIGN_ERROR")
    assert found["cause"].startswith(f"the request was signed with merchant {other['mchid']}'s API key (SHA256:")


def test_v3_correct_calls_are_not_diagnosed(sandbox, monkeypatch):
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url="https://m.example/notify")
    response = requests.post(sandbox.url + ORDER_PATH, data=b"{}", timeout=10)  # journals something first
    assert response.status_code == 401
    status, text = wx.pay(description="Gift", out_trade_no="DOC-OK-1", amount={"total": 100})
    assert status == 200, text
    listed = sandbox.admin.requests(path=ORDER_PATH)
    accepted = [entry for entry in listed["requests"] if entry["verdict"] == "accepted"]
    assert len(accepted) == 1
    assert journaled(sandbox, accepted[0]["id"])["diagnosis"] is None


# --- v2 ----------------------------------------------------------------------------------------------------------

def test_v2_sdk_with_the_apiv3_key(sandbox):
    pay, creds = v2_client(sandbox, "demo-wechat")
    pay.api_key = creds["apiv3_key"]
    with pytest.raises(WeChatPayException) as refused:
        pay.order.query(out_trade_no="DOC-V2-1")
    assert refused.value.return_code == "FAIL"
    hint, entry_id = hinted(refused.value.return_msg, "签名错误")
    assert hint == "signed with the APIv3 key, not the API key"
    found = diagnosis_of(sandbox, entry_id, "FAIL")
    assert found["cause"] == "signed with the APIv3 key instead of the v2 API key, which signs outside /sandboxnew/"
    assert found["expected_string"].endswith("&key=<the v2 API key>")
    assert creds["apiv3_key"] not in json.dumps(found) and creds["v2_key"] not in json.dumps(found)


def test_v2_hmac_sign_without_sign_type(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    params = {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "abc", "out_trade_no": "DOC-V2-2"}
    params["sign"] = v2_crypto.sign(params, creds["v2_key"], "HMAC-SHA256")
    answer = v2_crypto.parse_xml(requests.post(f"{sandbox.url}/pay/orderquery", data=v2_crypto.to_xml(params),
                                               timeout=10).content)
    assert answer["return_code"] == "FAIL"
    hint, entry_id = hinted(answer["return_msg"], "签名错误")
    assert hint == "signed with HMAC-SHA256 but sign_type is not sent"
    assert diagnosis_of(sandbox, entry_id, "FAIL")["algorithm"] == "MD5, uppercase hex"


# --- Alipay -------------------------------------------------------------------------------------------------------

def test_alipay_sign_type_left_out_of_the_signed_string(sandbox):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    params = alipay_signing.build_request("alipay.trade.query", {"out_trade_no": "DOC-ALI-1"}, app_id=creds["app_id"])
    params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params, ("sign", "sign_type")),
                                         creds["app_private_key_pem"])
    body = requests.get(f"{sandbox.url}/gateway.do", params=params, timeout=10).json()
    error = body["alipay_trade_query_response"]
    assert (error["code"], error["sub_code"]) == ("40002", "isv.invalid-signature")
    own = ("验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
           + alipay_signing.signing_string(params))
    hint, entry_id = hinted(error["sub_msg"], own)
    assert hint == "sign_type left out of the signed string"
    found = diagnosis_of(sandbox, entry_id, "isv.invalid-signature")
    assert found["cause"] == ("sign_type was left out of the signed string; a request signs every parameter but "
                              "sign (only notifies leave sign_type out)")
    assert found["key"]["app_id"] == creds["app_id"] and found["key"]["fingerprint"].startswith("SHA256:")


def test_alipay_sdk_with_another_apps_key(sandbox):
    from alipay import AliPay
    from sandbox.providers.alipay.credentials import python_sdk_config
    other = sandbox.admin.create_merchant("Other app", {"alipay": {}})["credentials"]["alipay"]
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    config = {**python_sdk_config(creds), "app_private_key_string": other["app_private_key_pem"]}
    client = AliPay(**config)
    client._gateway = f"{sandbox.url}/gateway.do"
    answer = client.api_alipay_trade_precreate(out_trade_no="DOC-ALI-2", total_amount="1.00", subject="Gift")
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")
    hint, entry_id = hinted(answer["sub_msg"], answer["sub_msg"].split(" [sandbox hint: ")[0])
    assert hint == f"signed with app {other['app_id']}'s key, not your app key"
    assert diagnosis_of(sandbox, entry_id, "isv.invalid-signature")["cause"].startswith(
        f"signed with app {other['app_id']}'s key (SHA256:")


# --- QuickPay and the partner app ---------------------------------------------------------------------------------

def test_quickpay_sign_without_the_key(sandbox):
    store = sandbox.admin.merchant("demo-quickpay-signed")["credentials"]["quickpay"]
    body = {"store_no": store["store_no"], "paytype": 11, "appid": "wxd678efh567hg6787", "openid": OPENID,
            "amount": 100, "order_no": "DOC-QP-1", "iteminfo": "Gift"}
    text = "&".join(f"{k}={quickpay_wire.sign_value(v)}" for k, v in sorted(body.items()))
    body["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=body, timeout=10).json()
    assert answer["code"] == "SIGN_ERROR" and answer["data"] is None
    hint, entry_id = hinted(answer["msg"], "签名错误: sign does not match")
    assert hint == "&key=… not appended"
    found = diagnosis_of(sandbox, entry_id, "SIGN_ERROR")
    assert found["expected_string"] == text + "&key=<the store's sign key>"
    assert store["key"] not in json.dumps(found)


def test_partner_sign_in_upper_case(sandbox):
    key = sandbox.admin.merchant("demo-partner")["credentials"]["partner"]["key"]
    fields = {"user_id": "41840909af844632885424fbc20cae79", "pay_type": "1",
              "gift_pos_id": "55fca782f55f406d94e2cecb23d0140b", "address_id": "1"}
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items())) + f"&key={key}"
    fields["sign"] = hashlib.md5(text.encode()).hexdigest().upper()
    answer = requests.post(f"{sandbox.url}/app/partner/order/pay", data=fields, timeout=10).json()
    assert (answer["code"], answer["errors"], answer["result"]) == (0, {"sign": "签名错误"}, {})
    hint, entry_id = hinted(answer["msg"], "签名错误")
    assert hint == "sign in upper-case hex; use lower case"
    found = diagnosis_of(sandbox, entry_id, "0")
    assert found["cause"] == "the sign is upper-case hex; send it in lower case"
    assert key not in json.dumps(found)


def test_the_doctor_never_runs_on_an_accepted_call(sandbox, monkeypatch):
    """Every adapter's accepted path, with each diagnose() made to blow up: nothing notices."""
    from alipay import AliPay
    from sandbox.doctor import alipay, partner, quickpay, wechat_v2, wechat_v3
    from sandbox.providers.alipay.credentials import python_sdk_config

    def boom(*args, **kwargs):
        raise AssertionError("diagnosed an accepted call")

    for module in (alipay, partner, quickpay, wechat_v2, wechat_v3):
        monkeypatch.setattr(module, "diagnose", boom)
    wx, _ = v3_client(sandbox, monkeypatch, "demo-wechat", notify_url="https://m.example/notify")
    assert wx.pay(description="Gift", out_trade_no="DOC-FINE-1", amount={"total": 100})[0] == 200
    pay, _ = v2_client(sandbox, "demo-wechat")
    assert pay.order.query(out_trade_no="DOC-FINE-1")["trade_state"] == "NOTPAY"
    client = AliPay(**python_sdk_config(sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]))
    client._gateway = f"{sandbox.url}/gateway.do"
    assert client.api_alipay_trade_precreate(out_trade_no="DOC-FINE-2", total_amount="1.00",
                                             subject="Gift")["code"] == "10000"
    store = sandbox.admin.merchant("demo-quickpay-signed")["credentials"]["quickpay"]
    body = {"store_no": store["store_no"], "paytype": 11, "appid": "wxd678efh567hg6787", "openid": OPENID,
            "amount": 100, "order_no": "DOC-FINE-3", "iteminfo": "Gift"}
    body["sign"] = quickpay_wire.sign(body, store["key"])
    assert requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=body, timeout=10).json()["code"] == "SUCCESS"
    key = sandbox.admin.merchant("demo-partner")["credentials"]["partner"]["key"]
    fields = {"user_id": "41840909af844632885424fbc20cae79", "pay_type": "1",
              "gift_pos_id": "55fca782f55f406d94e2cecb23d0140b", "address_id": "1"}
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items())) + f"&key={key}"
    fields["sign"] = hashlib.md5(text.encode()).hexdigest()
    assert requests.post(f"{sandbox.url}/app/partner/order/pay", data=fields, timeout=10).json()["code"] == 1
    assert sandbox.admin.requests(verdict="rejected")["requests"] == []
