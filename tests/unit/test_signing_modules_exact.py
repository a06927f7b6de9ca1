"""Exact outputs of QuickPay's wire.py and WeChat's v2_crypto.py / v3_crypto.py (issue 13, mutation testing).

Expected values come from specs/quickpay.md (PayResultInfo / RefundResultInfo field names, statuses), the README's
QuickPay conventions (sign rule, CLOSED / CANCELED / REFUNDING, times in China), specs/wechat-v2.md and
specs/wechat-v3.md (sign string, req_info = AES-256-ECB with the hex MD5 of the key, PKCS#7; AEAD_AES_256_GCM with the
APIv3 key; RFC 3339 times in +08:00). Signatures and ciphertexts are re-made here with hashlib / hmac / cryptography,
never with the module's own sign functions.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sandbox.core.models import CloseReason, Payment, PaymentStatus, Refund, RefundStatus
from sandbox.providers.quickpay import wire as qp
from sandbox.providers.wechat import v2_crypto as v2
from sandbox.providers.wechat import v3_crypto as v3

CREDS = json.loads((Path(__file__).resolve().parents[2] / "fixtures/wechat/demo-cert.json").read_text())
CHINA = timezone(timedelta(hours=8))

CREATED = 1_700_000_000.0   # 2023-11-15 06:13:20 in China (22:13:20 UTC the day before)
PAID = 1_700_003_600.0      # 2023-11-15 07:13:20 in China
REFUNDED_AT = 1_704_038_399.0  # 2023-12-31 23:59:59 in China (15:59:59 UTC)


@pytest.fixture
def host_in_new_york(monkeypatch):
    """The host's own time zone must not leak into wire times (the test machine usually runs in UTC)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- QuickPay: sign, times, ids --------------------------------------------------------------------------------------

QP_KEY = "quickpay-demo-key-0123456789abcd"


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def test_quickpay_sign_renders_lists_as_compact_unescaped_json_and_skips_empty_ones():
    fields = {"store_no": "QP10000002", "share_pay": True, "pos_pay": False, "amount": 321, "attach": None,
              "itemlist": [{"item_name": "礼盒", "quantity": 1}], "coupon_detail_list": [], "extra": {},
              "iteminfo": "茶"}
    # README: sorted non-empty fields, k=v joined by &, &key=KEY, MD5 upper; lists as compact JSON, bools as text
    text = ('amount=321&iteminfo=茶&itemlist=[{"item_name":"礼盒","quantity":1}]&pos_pay=false&share_pay=true'
            '&store_no=QP10000002&key=' + QP_KEY)
    assert qp.sign(fields, QP_KEY) == md5_upper(text)
    assert qp.sign_value({"b": ["中", 2]}) == '{"b":["中",2]}'
    assert qp.envelope("SUCCESS", "成功", {"a": 1}) == {"code": "SUCCESS", "msg": "成功", "data": {"a": 1}}


def test_quickpay_times_are_china_wall_clock():
    assert qp.china_time(None) is None
    assert qp.china_time(0) == "1970-01-01 08:00:00"
    assert qp.china_time(REFUNDED_AT) == "2023-12-31 23:59:59"
    assert qp.china_time(CREATED) == "2023-11-15 06:13:20"


def test_quickpay_transaction_no_is_china_time_then_ten_random_digits(monkeypatch):
    import random
    monkeypatch.setattr(random, "randrange", lambda n: n - 1)  # the highest draw must still be 10 digits
    assert qp.transaction_no(REFUNDED_AT) == "20231231235959" + "9999999999"
    monkeypatch.setattr(random, "randrange", lambda n: 7)
    assert qp.transaction_no(0) == "19700101080000" + "0000000007"


# --- QuickPay: PayResultInfo and RefundResultInfo ----------------------------------------------------------------

def qp_payment(**changes) -> Payment:
    base = dict(id="pay_q", provider="quickpay", merchant_id="demo-quickpay", out_trade_no="QP-ORDER-1",
                provider_trade_no="202311150613200000000042", amount=321, currency="CNY", trade_type="JSAPI",
                status=PaymentStatus.PENDING, description="礼盒", attach="a=1", fingerprint="{}",
                payer={"openid": "o-wx-1"}, extra={"store_no": "QP10000001", "operator": "WEB", "wallet": "wechat"},
                provider_ids={"cloudpay_param": '{"appId":"wx1"}'}, created_at=CREATED, updated_at=CREATED)
    return Payment(**{**base, **changes})


def pay_info(**values) -> dict:
    """A PayResultInfo with every field specs/quickpay.md names."""
    base = {"transaction_status": "CREATE", "error": None, "store_no": "QP10000001", "paytype": "WECHATPAY_JSAPI",
            "operator": "WEB", "bank_type": None, "total_amount": 321, "cash_amount": 0, "settlement_amount": 0,
            "coupon_amount": 0, "order_no": "QP-ORDER-1", "transaction_no": "202311150613200000000042",
            "cloudpay_param": '{"appId":"wx1"}', "transaction_time": "2023-11-15 06:13:20",
            "message": "订单已创建,等待支付", "buyer": "o-wx-1", "attach": "a=1", "iteminfo": "礼盒",
            "coupon_detail_list": []}
    return {**base, **values}


# The `message` texts are the sandbox's own wording (the public pages print only "sample string"); they are shown to
# merchants and kept stable, so a change should be deliberate.
PAY_CASES = {
    "jsapi created": ({}, {}),
    "barcode waiting for the payer": (
        dict(trade_type="BARCODE", provider_ids={}),
        dict(transaction_status="PAYING", paytype="WECHATPAY_MICROPAY", cloudpay_param=None,
             message="用户支付中,请稍后查询")),
    "wechat jsapi paid": (
        dict(status=PaymentStatus.SUCCEEDED, paid_at=PAID),
        dict(transaction_status="SUCCESSED", bank_type="CFT", cash_amount=321, settlement_amount=321,
             transaction_time="2023-11-15 07:13:20", message="支付成功")),
    "alipay barcode paid": (
        dict(trade_type="BARCODE", status=PaymentStatus.SUCCEEDED, paid_at=PAID, payer={"buyer_id": "2088000000000001"},
             extra={"store_no": "QP10000001", "operator": "POS-7", "wallet": "alipay"}, provider_ids={}),
        dict(transaction_status="SUCCESSED", paytype="ALIPAY_MICROPAY", operator="POS-7", bank_type="ALIPAYACCOUNT",
             cash_amount=321, settlement_amount=321, transaction_time="2023-11-15 07:13:20", message="支付成功",
             buyer="2088000000000001", cloudpay_param=None)),
    "paid then partly refunded": (
        dict(status=PaymentStatus.REFUNDED, refunded_amount=100, paid_at=PAID),
        dict(transaction_status="SUCCESSED", bank_type="CFT", cash_amount=321, settlement_amount=321,
             transaction_time="2023-11-15 07:13:20", message="支付成功")),
    "barcode failed": (
        dict(trade_type="BARCODE", status=PaymentStatus.FAILED, fail_reason="余额不足", provider_ids={}),
        dict(transaction_status="FAILED", error="余额不足", paytype="WECHATPAY_MICROPAY", cloudpay_param=None,
             message="支付失败")),
    "expired unpaid": (
        dict(status=PaymentStatus.CLOSED, close_reason=CloseReason.EXPIRED, fail_reason="stale"),
        dict(transaction_status="CLOSED", message="订单已关闭")),
    "closed from the console": (
        dict(status=PaymentStatus.CLOSED, close_reason=CloseReason.CLOSED),
        dict(transaction_status="CLOSED", message="订单已关闭")),
    "canceled unpaid": (
        dict(status=PaymentStatus.CLOSED, close_reason=CloseReason.CANCELED),
        dict(transaction_status="CANCELED", message="订单已撤销")),
    "canceled after payment (refunded in full)": (
        dict(status=PaymentStatus.REFUNDED, refunded_amount=321, close_reason=CloseReason.CANCELED, paid_at=PAID),
        dict(transaction_status="CANCELED", bank_type="CFT", cash_amount=321, settlement_amount=321,
             transaction_time="2023-11-15 07:13:20", message="订单已撤销")),
    "aggregated QR code not paid yet": (
        dict(trade_type="NATIVE", payer={}, extra={"store_no": "QP10000001", "operator": "QRPAY", "wallet": None}),
        dict(paytype=None, operator="QRPAY", buyer=None)),
    "aggregated QR code paid with alipay on the cashier page": (
        dict(trade_type="NATIVE", status=PaymentStatus.SUCCEEDED, paid_at=PAID,
             payer={"wallet": "alipay", "buyer_id": "2088000000000002"},
             extra={"store_no": "QP10000001", "operator": "QRPAY", "wallet": None}),
        dict(transaction_status="SUCCESSED", paytype="ALIPAY_NATIVE", operator="QRPAY", bank_type="ALIPAYACCOUNT",
             cash_amount=321, settlement_amount=321, transaction_time="2023-11-15 07:13:20", message="支付成功",
             buyer="2088000000000002")),
    "aggregated QR code paid through the admin API (counts as WeChat)": (
        dict(trade_type="NATIVE", status=PaymentStatus.SUCCEEDED, paid_at=PAID, payer={},
             extra={"store_no": "QP10000001", "operator": "QRPAY", "wallet": None}),
        dict(transaction_status="SUCCESSED", paytype="WECHATPAY_NATIVE", operator="QRPAY", bank_type="CFT",
             cash_amount=321, settlement_amount=321, transaction_time="2023-11-15 07:13:20", message="支付成功",
             buyer=None)),
}


@pytest.mark.parametrize("changes, expected", PAY_CASES.values(), ids=PAY_CASES.keys())
def test_pay_result_is_exactly_the_documented_object(changes, expected):
    assert qp.pay_result(qp_payment(**changes)) == pay_info(**expected)


def test_wallet_follows_the_payer_when_the_order_names_none():
    assert qp.wallet_of(qp_payment(extra={"wallet": None}, payer={"wallet": "alipay"})) == "alipay"
    assert qp.wallet_of(qp_payment(extra={"wallet": "alipay"}, payer={"wallet": "wechat"}, paid_at=PAID)) == "alipay"
    assert qp.wallet_of(qp_payment(extra={}, payer={})) is None
    assert qp.wallet_of(qp_payment(extra={}, payer={}, paid_at=PAID)) == "wechat"


def qp_refund(**changes) -> Refund:
    base = dict(id="ref_q", payment_id="pay_q", out_refund_no="QP-REFUND-1", provider_refund_no="R2023000000000001",
                amount=120, status=RefundStatus.SUCCEEDED, reason="缺货", extra={"operator": "op-from-create"},
                created_at=PAID, succeeded_at=REFUNDED_AT)
    return Refund(**{**base, **changes})


def refund_info(**values) -> dict:
    """A RefundResultInfo with every field specs/quickpay.md names."""
    base = {"transaction_status": "REFUNDED", "error": None, "store_no": "QP10000001",
            "paytype": "WECHATPAY_JSAPI", "total_amount": 321, "refund_amount": 120, "settlement_amount": 120,
            "cash_amount": 120, "coupon_amount": 0, "order_no": "QP-ORDER-1", "refund_order_no": "QP-REFUND-1",
            "operator": "op-from-create", "transaction_no": "202311150613200000000042",
            "refund_transaction_no": "R2023000000000001", "refund_desc": "缺货",
            "refund_transaction_time": "2023-12-31 23:59:59", "transaction_message": "退款成功"}
    return {**base, **values}


REFUND_CASES = {
    "settled": ({}, None, {}),
    "settled, operator named by the call": ({}, "op-now", dict(operator="op-now")),
    "held (README: REFUNDING, 退款处理中)": (
        dict(status=RefundStatus.PROCESSING, succeeded_at=None), None,
        dict(transaction_status="REFUNDING", transaction_message="退款处理中",
             refund_transaction_time="2023-11-15 07:13:20")),
    "failed": (dict(status=RefundStatus.FAILED, succeeded_at=None, extra={}), None,
               dict(transaction_status="REFUNDFAILED", transaction_message="退款失败", operator=None,
                    refund_transaction_time="2023-11-15 07:13:20")),
    "closed": (dict(status=RefundStatus.CLOSED, succeeded_at=None), None,
               dict(transaction_status="REFUNDFAILED", transaction_message="退款失败",
                    refund_transaction_time="2023-11-15 07:13:20")),
}


@pytest.mark.parametrize("changes, operator, expected", REFUND_CASES.values(), ids=REFUND_CASES.keys())
def test_refund_result_is_exactly_the_documented_object(changes, operator, expected):
    assert qp.refund_result(qp_payment(status=PaymentStatus.REFUNDED, paid_at=PAID), qp_refund(**changes),
                            operator) == refund_info(**expected)


# --- WeChat APIv3 -------------------------------------------------------------------------------------------------

def test_parse_authorization_errors_read_exactly():
    """These texts reach the merchant (401 SIGN_ERROR detail, signature doctor)."""
    cases = [
        (None, "missing Authorization header"),
        ("   ", "missing Authorization header"),
        ('WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",signature="s",timestamp="1",serial_no="A"',
         "malformed Authorization parameters near 'mchid=1,nonce_str=\"n'"),
        ('WECHATPAY2-SHA256-RSA2048 mchid="1",timestamp="1"', "Authorization lacks nonce_str, signature, serial_no"),
        ('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1.5",serial_no="A"',
         "Authorization timestamp is not unix seconds"),
    ]
    for header, message in cases:
        with pytest.raises(v3.AuthorizationError) as caught:
            v3.parse_authorization(header)
        assert str(caught.value) == message, header


def merchant_signature(message: bytes) -> str:
    key = serialization.load_pem_private_key(CREDS["merchant_private_key_pem"].encode(), password=None)
    return base64.b64encode(key.sign(message, rsa_padding.PKCS1v15(), hashes.SHA256())).decode()


def test_verify_request_wants_strict_base64():
    body = '{"description":"礼盒"}'.encode()
    signature = merchant_signature(b"POST\n/v3/pay/transactions/jsapi\n1700000000\nNONCE\n" + body + b"\n")
    args = (CREDS, "POST", "/v3/pay/transactions/jsapi", "1700000000", "NONCE", body)
    assert v3.verify_request(*args, signature) is True
    assert v3.verify_request(*args, signature[:40] + "*" + signature[40:]) is False  # not base64: refused, not skipped
    assert v3.verify_request(*args, signature[:40] + "\n" + signature[40:]) is False


def platform_verifies(message: bytes, signature_b64: str) -> bool:
    public_key = x509.load_pem_x509_certificate(CREDS["platform_certificate_pem"].encode()).public_key()
    try:
        public_key.verify(base64.b64decode(signature_b64), message, rsa_padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def test_response_headers_exactly():
    body = '{"code":"SIGN_ERROR","message":"签名错误"}'.encode()
    headers = v3.sign_response_headers(CREDS, body, 1700000000, nonce="c5ac7061fccab6bf3e254dcf98995b8c",
                                       request_id="08F78BB5AF0610D302A2A4A8B40118")
    signature = headers.pop("Wechatpay-Signature")
    assert headers == {"Wechatpay-Nonce": "c5ac7061fccab6bf3e254dcf98995b8c", "Wechatpay-Timestamp": "1700000000",
                       "Wechatpay-Serial": CREDS["platform_serial_no"],
                       "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                       "Request-ID": "08F78BB5AF0610D302A2A4A8B40118"}
    assert platform_verifies(b"1700000000\nc5ac7061fccab6bf3e254dcf98995b8c\n" + body + b"\n", signature)


def test_response_headers_make_their_own_nonce_and_request_id():
    headers = v3.sign_response_headers(CREDS, b"", 1700000000.9)
    # 32 lowercase hex like WeChat's own nonces; the request id 36 uppercase hex characters
    assert re.fullmatch(r"[0-9a-f]{32}", headers["Wechatpay-Nonce"]), headers
    assert re.fullmatch(r"[0-9A-F]{36}", headers["Request-ID"]), headers
    assert headers["Wechatpay-Timestamp"] == "1700000000"
    assert platform_verifies(f"1700000000\n{headers['Wechatpay-Nonce']}\n\n".encode(), headers["Wechatpay-Signature"])


def test_json_bytes_are_compact_utf8():
    assert v3.json_bytes({"a": "礼盒", "b": [1, {"c": None}]}) == '{"a":"礼盒","b":[1,{"c":null}]}'.encode()


APIV3_KEY = CREDS["apiv3_key"]


def gcm_open(resource: dict, aad: bytes) -> bytes:
    return AESGCM(APIV3_KEY.encode()).decrypt(resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]),
                                              aad)


def test_decrypt_resource_without_associated_data_uses_none():
    sealed = AESGCM(APIV3_KEY.encode()).encrypt(b"0123456789ab", "证书".encode(), b"")
    resource = {"algorithm": "AEAD_AES_256_GCM", "nonce": "0123456789ab", "ciphertext": base64.b64encode(sealed).decode()}
    assert v3.decrypt_resource(APIV3_KEY, resource) == "证书"
    assert v3.decrypt_resource(APIV3_KEY, {**resource, "associated_data": None}) == "证书"


def test_decrypt_resource_and_key_errors_read_exactly():
    resource = v3.encrypt_resource(APIV3_KEY, "x", "transaction")
    with pytest.raises(ValueError) as caught:
        v3.decrypt_resource("K" * 32, resource)
    assert str(caught.value) == "resource does not decrypt with this APIv3 key"
    for bad_key in ("K" * 31, "礼" * 32):  # 32 characters but 96 bytes
        with pytest.raises(ValueError) as caught:
            v3.encrypt_resource(bad_key, "x", "transaction")
        assert str(caught.value) == "the APIv3 key must be 32 bytes"


def test_certificates_payload_includes_both_ends_of_validity():
    certificate = x509.load_pem_x509_certificate(CREDS["platform_certificate_pem"].encode())
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    for now in (start, end, start.replace(tzinfo=None), end.astimezone(CHINA)):
        (entry,) = v3.certificates_payload(CREDS, now)["data"]
        assert entry["serial_no"] == CREDS["platform_serial_no"]
        assert entry["effective_time"] == start.astimezone(CHINA).isoformat(timespec="seconds")
    for now in (start - timedelta(seconds=1), end + timedelta(seconds=1)):
        assert v3.certificates_payload(CREDS, now) == {"data": []}


def test_notify_body_exactly():
    resource = {"out_trade_no": "N-1", "trade_state_desc": "支付成功", "amount": {"total": 1}}
    body = v3.notify_body(APIV3_KEY, resource, "TRANSACTION.SUCCESS", 1700000000.0,
                          notify_id="EV-018A", nonce="fd8a2f3b1c4e")
    encrypted = body.pop("resource")
    assert body == {"id": "EV-018A", "create_time": "2023-11-15T06:13:20+08:00", "resource_type": "encrypt-resource",
                    "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功"}
    plaintext = '{"out_trade_no":"N-1","trade_state_desc":"支付成功","amount":{"total":1}}'.encode()
    sealed = AESGCM(APIV3_KEY.encode()).encrypt(b"fd8a2f3b1c4e", plaintext, b"transaction")
    assert encrypted == {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(sealed).decode(), "associated_data": "transaction",
                         "nonce": "fd8a2f3b1c4e"}


def test_notify_body_defaults_and_overrides():
    body = v3.notify_body(APIV3_KEY, {"a": 1}, "REFUND.ABNORMAL", 0)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["id"]), body
    assert body["summary"] == "退款异常" and body["resource"]["original_type"] == "refund"
    assert re.fullmatch(r"[A-Za-z0-9]{12}", body["resource"]["nonce"])
    odd = v3.notify_body(APIV3_KEY, {"a": 1}, "PROFITSHARING.RETURN.FINISHED", 0, associated_data="custom")
    # an event the sandbox has no summary for keeps its own name; the first dotted part names the resource
    assert odd["summary"] == "PROFITSHARING.RETURN.FINISHED"
    assert odd["resource"]["original_type"] == "profitsharing"
    assert odd["resource"]["associated_data"] == "custom"
    assert gcm_open(odd["resource"], b"custom") == b'{"a":1}'


def test_rfc3339_is_china_time_whatever_the_host_zone(host_in_new_york):
    assert v3.rfc3339(1700000000) == "2023-11-15T06:13:20+08:00"
    assert v3.rfc3339(datetime(2023, 11, 14, 22, 13, 20)) == "2023-11-15T06:13:20+08:00"  # naive = UTC
    eastern = timezone(timedelta(hours=-5))
    assert v3.rfc3339(datetime(2023, 11, 14, 17, 13, 20, tzinfo=eastern)) == "2023-11-15T06:13:20+08:00"
    assert qp.china_time(CREATED) == "2023-11-15 06:13:20"
    assert qp.transaction_no(CREATED)[:14] == "20231115061320"


# --- WeChat v2 ------------------------------------------------------------------------------------------------------

def test_sign_names_an_unknown_sign_type():
    with pytest.raises(ValueError, match=r"unsupported sign_type 'SHA1'"):
        v2.sign({"a": "1"}, "k", "SHA1")


def test_verify_refuses_signs_that_are_not_text_it_can_encode():
    params = {"appid": "wx1", "mch_id": "1900000001", "nonce_str": "n"}
    good = md5_upper("appid=wx1&mch_id=1900000001&nonce_str=n&key=k")
    assert v2.verify({**params, "sign": good}, "k") is True
    assert v2.verify({**params, "sign": "\udcff" + good[1:]}, "k") is False  # a lone surrogate from the wire
    assert v2.verify({**params, "sign": "签名"}, "k") is False


def test_xml_error_texts_read_exactly():
    """They follow `XML格式错误: ` in the v2 return_msg."""
    for body in (b"", b"  \n "):
        with pytest.raises(v2.XmlError) as caught:
            v2.parse_xml(body)
        assert str(caught.value) == "empty XML body"


def test_to_xml_names_what_it_cannot_write():
    with pytest.raises(ValueError, match=re.escape("'1bad' is not a valid XML element name")):
        v2.to_xml({"1bad": "x"})
    with pytest.raises(ValueError, match=re.escape("value of 'note' holds a character XML cannot carry")):
        v2.to_xml({"note": "a\x00b"})


V2_KEY = CREDS["v2_key"]


def seal_req_info(plain: bytes) -> str:
    """specs/wechat-v2.md: AES-256-ECB, key = lowercase hex MD5 of the API key as 32 ASCII bytes (plain is padded)."""
    key = hashlib.md5(V2_KEY.encode()).hexdigest().encode()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def root_of_length(n: int) -> bytes:
    """A `<root>` document of exactly n bytes (n >= 20)."""
    doc = b"<root><a>" + b"x" * (n - 20) + b"</a></root>"
    assert len(doc) == n
    return doc


@pytest.mark.parametrize("length, pad", [(31, 1), (32, 16), (32, 32)])
def test_decrypt_req_info_accepts_pkcs7_pads_of_1_to_32(length, pad):
    doc = root_of_length(length)
    assert v2.decrypt_req_info(V2_KEY, seal_req_info(doc + bytes([pad]) * pad)) == {"a": "x" * (length - 20)}


def req_info_error(req_info: str) -> str:
    with pytest.raises(ValueError) as caught:
        v2.decrypt_req_info(V2_KEY, req_info)
    return str(caught.value)


def test_decrypt_req_info_refusals_read_exactly():
    good = seal_req_info(root_of_length(32) + bytes([16]) * 16)
    assert req_info_error(good[:10] + "!" + good[10:]) == "req_info is not base64"
    assert req_info_error("") == "req_info is not whole AES blocks"
    assert req_info_error(base64.b64encode(b"\x00" * 17).decode()) == "req_info is not whole AES blocks"
    wrong_pad = "req_info padding is wrong (another API key?)"
    assert req_info_error(seal_req_info(root_of_length(31) + b"\x21" * 33)) == wrong_pad  # pad 33 > 32
    assert req_info_error(seal_req_info(root_of_length(32) + b"\x00" * 16)) == wrong_pad  # pad 0
    assert req_info_error(seal_req_info(root_of_length(45) + b"\x01\x02\x03")) == wrong_pad  # bytes before differ
    # all padding, nothing inside: the pad itself is fine, the document is empty
    with pytest.raises(v2.XmlError, match="^empty XML body$"):
        v2.decrypt_req_info(V2_KEY, seal_req_info(b"\x10" * 16))


def test_app_pay_params_refuse_a_timestamp_in_milliseconds():
    with pytest.raises(ValueError, match=re.escape("timestamp 1700000000000 is not 10-digit unix seconds")):
        v2.app_pay_params("wx1", "1900000001", "wx201410272009395522657a690389285100", V2_KEY, 1700000000000)
