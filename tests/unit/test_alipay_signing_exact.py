"""Exact outputs of sandbox.providers.alipay.signing, checked with `cryptography` directly over the bytes the rules
name (not with the module's own verify). Written for the mutants of sandbox/providers/alipay/signing.py that the
SDK round trips let through (mutmut, README "Development"): the return redirect's exact fields, charsets other than
UTF-8, values order_string must drop, RSA (SHA-1) requests, notifies without sign_type."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sandbox.providers.alipay import signing

DEMO = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "alipay" / "demo.json").read_text())


def rsa_ok(public_key_pem: str, message: bytes, signature: str, digest=hashes.SHA256) -> bool:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), digest())
        return True
    except InvalidSignature:
        return False


def test_return_url_params_are_exactly_the_redirects_fields():
    params = signing.return_url_params(
        pay_method="alipay.trade.wap.pay", app_id="2021000000000001", out_trade_no="R-1", trade_no="2024T1",
        total_amount="9.90", seller_id="2088000000000001", timestamp="2024-05-20 13:15:01",
        alipay_private_key_pem=DEMO["alipay_private_key_pem"])
    signature = params.pop("sign")
    assert params == {"charset": "utf-8", "out_trade_no": "R-1", "method": "alipay.trade.wap.pay.return",
                      "total_amount": "9.90", "trade_no": "2024T1", "auth_app_id": "2021000000000001",
                      "version": "1.0", "app_id": "2021000000000001", "seller_id": "2088000000000001",
                      "timestamp": "2024-05-20 13:15:01", "sign_type": "RSA2"}
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign_type")
    assert rsa_ok(DEMO["alipay_public_key_pem"], text.encode(), signature)


def test_return_redirect_url_starts_or_extends_the_query():
    assert signing.return_redirect_url("https://m.example/r", {"a": "1 2"}) == "https://m.example/r?a=1+2"
    assert signing.return_redirect_url("https://m.example/r?x=1", {"a": "b"}) == "https://m.example/r?x=1&a=b"


def test_order_string_drops_sign_and_empty_values_and_renders_objects_as_ascii_json():
    params = {"b": {"subject": "中"}, "a": "1", "c": None, "d": "", "sign": "stale", "e": 2}
    order = signing.order_string(params, DEMO["app_private_key_pem"])
    biz = '{"subject":"\\u4e2d"}'  # python-alipay-sdk keeps ensure_ascii=True for dict values
    text = f"a=1&b={biz}&e=2"
    prefix = f"a=1&b={quote_plus(biz)}&e=2&sign="
    assert order.startswith(prefix), order
    signature = order[len(prefix):]
    assert rsa_ok(DEMO["app_public_key_pem"], text.encode(), unquote_plus(signature))


def test_order_string_signs_in_the_charset_it_names():
    params = {"charset": "gbk", "subject": "商品", "app_id": "1"}
    parsed = signing.parse_order_string(signing.order_string(params, DEMO["app_private_key_pem"]))
    text = "app_id=1&charset=gbk&subject=商品"
    assert rsa_ok(DEMO["app_public_key_pem"], text.encode("gbk"), parsed["sign"])
    assert not rsa_ok(DEMO["app_public_key_pem"], text.encode("utf-8"), parsed["sign"])


def test_parse_order_string_takes_a_leading_question_mark_and_equals_signs_in_values():
    assert signing.parse_order_string(" ?a=1&b=x=y&c=%E4%B8%AD+z&&d= ") == {"a": "1", "b": "x=y", "c": "中 z", "d": ""}
    assert signing.parse_order_string("X-Id=7&?q=1") == {"X-Id": "7", "?q": "1"}  # only a leading ? goes


def test_notify_params_render_lists_as_utf8_json_and_sign_in_the_notifys_charset():
    params = signing.notify_params({"charset": "gbk", "fund_bill_list": [{"fundChannel": "余额", "amount": "1.00"}],
                                    "subject": "商品", "empty": "", "none": None}, DEMO["alipay_private_key_pem"])
    assert params["fund_bill_list"] == '[{"fundChannel":"余额","amount":"1.00"}]'
    assert sorted(params) == ["charset", "fund_bill_list", "sign", "sign_type", "subject"]
    text = f"charset=gbk&fund_bill_list={params['fund_bill_list']}&subject=商品"
    assert rsa_ok(DEMO["alipay_public_key_pem"], text.encode("gbk"), params["sign"])


def test_a_notify_without_sign_type_verifies_as_rsa2():
    params = signing.notify_params({"out_trade_no": "N-1", "trade_status": "TRADE_SUCCESS"},
                                   DEMO["alipay_private_key_pem"])
    del params["sign_type"]
    assert signing.verify_notify(params, DEMO["alipay_public_key_pem"]) is True


def test_a_request_signed_with_rsa_sha1_verifies_by_its_sign_type():
    params = {"app_id": "1", "method": "alipay.trade.query", "sign_type": "RSA", "charset": "utf-8"}
    params["sign"] = signing.sign(signing.signing_string(params), DEMO["app_private_key_pem"], sign_type="RSA")
    assert rsa_ok(DEMO["app_public_key_pem"], signing.signing_string(params).encode(), params["sign"], hashes.SHA1)
    assert signing.verify_request(params, DEMO["app_public_key_pem"]) is True
    assert signing.verify_request({**params, "sign_type": "RSA2"}, DEMO["app_public_key_pem"]) is False


def test_an_unknown_charset_signs_as_utf8():
    signature = signing.sign("商品", DEMO["app_private_key_pem"], charset="no-such-charset")
    assert rsa_ok(DEMO["app_public_key_pem"], "商品".encode("utf-8"), signature)


@pytest.mark.parametrize("charset", ["gbk", "utf-8"])
def test_response_body_is_encoded_and_signed_in_the_requests_charset(charset):
    body = signing.response_body("alipay.trade.query", {"code": "10000", "msg": "Success", "subject": "商品"},
                                 DEMO["alipay_private_key_pem"], charset=charset)
    inner = '{"code":"10000","msg":"Success","subject":"商品"}'
    text = body.decode(charset)
    assert text.startswith('{"alipay_trade_query_response":' + inner + ',"sign":"')
    signature = json.loads(text)["sign"]
    assert rsa_ok(DEMO["alipay_public_key_pem"], inner.encode(charset), signature)
