"""What WeChat Pay refuses, in its own error shapes, and that a refused call changes nothing stored."""
from __future__ import annotations

import json

import pytest
import requests
from wechatpayv3 import WeChatPayType
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay.utils import calculate_signature

from wechat_sdks import (OPENID, credentials, payment_of, stored, v2_client, v2_request, v3_client, v3_request,
                         without_hint)

ORDER_PATH = "/v3/pay/transactions/native"


def native_body(creds: dict, out_trade_no: str = "NEG-ORDER-01", total: int = 100, **extra) -> dict:
    return {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "Gift",
            "out_trade_no": out_trade_no, "notify_url": "https://m.example/notify", "amount": {"total": total},
            **extra}


@pytest.fixture
def paid_v3(sandbox, monkeypatch):
    """A paid APIv3 order of 100 fen (NEG-PAID-001) and a pending one (NEG-ORDER-01)."""
    wx, creds = v3_client(sandbox, monkeypatch, "demo-wechat", kind=WeChatPayType.JSAPI,
                          notify_url="https://m.example/notify")
    assert wx.pay(description="Gift", out_trade_no="NEG-PAID-001", amount={"total": 100},
                  payer={"openid": OPENID})[0] == 200
    sandbox.admin.succeed(payment_of(sandbox, "NEG-PAID-001")["id"])
    assert v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds)).status_code == 200
    return wx, creds


def refused(sandbox, response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["code"] == code and payload["message"]
    assert set(payload) <= {"code", "message", "detail"}
    return payload


@pytest.mark.parametrize("case", ["bad signature", "wrong serial", "unknown merchant", "no authorization",
                                  "wrong platform serial", "appid of another merchant", "missing field",
                                  "malformed json", "oversize body", "duplicate out_trade_no",
                                  "refund over the paid amount", "refund of an unknown order", "paid order again"])
def test_v3_refusals_change_nothing(sandbox, paid_v3, case):
    wx, creds = paid_v3
    before = stored(sandbox)
    refund_body = {"out_trade_no": "NEG-PAID-001", "out_refund_no": "NEG-REFUND-1",
                   "amount": {"refund": 101, "total": 100, "currency": "CNY"}}
    if case == "bad signature":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "NEG-NEW-0001"),
                              signed_body=b"{}")
        detail = refused(sandbox, response, 401, "SIGN_ERROR")["detail"]
        assert detail["location"] == "authorization"
        assert wx._core._verify_signature(response.headers, response.text)
    elif case == "wrong serial":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "NEG-NEW-0001"),
                              serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
        refused(sandbox, response, 401, "SIGN_ERROR")
    elif case == "unknown merchant":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "NEG-NEW-0001"),
                              mchid="1230000109")
        refused(sandbox, response, 400, "MCH_NOT_EXISTS")
    elif case == "no authorization":
        response = requests.post(sandbox.url + ORDER_PATH, json=native_body(creds, "NEG-NEW-0001"), timeout=10)
        refused(sandbox, response, 401, "SIGN_ERROR")
    elif case == "wrong platform serial":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds, "NEG-NEW-0001"),
                              headers={"Wechatpay-Serial": "PUB_KEY_ID_0000000000000000000000000000000000"})
        refused(sandbox, response, 400, "PARAM_ERROR")
    elif case == "appid of another merchant":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH,
                              native_body(creds, "NEG-NEW-0001", appid="wxd678efh567hg6788"))
        refused(sandbox, response, 400, "APPID_MCHID_NOT_MATCH")
    elif case == "missing field":
        body = native_body(creds, "NEG-NEW-0001")
        del body["description"]
        payload = refused(sandbox, v3_request(sandbox, creds, "POST", ORDER_PATH, body), 400, "PARAM_ERROR")
        assert payload["detail"]["field"] == "description"
    elif case == "malformed json":
        refused(sandbox, v3_request(sandbox, creds, "POST", ORDER_PATH, b'{"appid": '), 400, "PARAM_ERROR")
    elif case == "oversize body":
        body = native_body(creds, "NEG-NEW-0001", attach="x" * 70_000)
        refused(sandbox, v3_request(sandbox, creds, "POST", ORDER_PATH, body), 400, "PARAM_ERROR")
    elif case == "duplicate out_trade_no":
        response = v3_request(sandbox, creds, "POST", ORDER_PATH, native_body(creds, total=999))
        refused(sandbox, response, 403, "OUT_TRADE_NO_USED")
    elif case == "refund over the paid amount":
        response = v3_request(sandbox, creds, "POST", "/v3/refund/domestic/refunds", refund_body)
        refused(sandbox, response, 400, "INVALID_REQUEST")
    elif case == "refund of an unknown order":
        response = v3_request(sandbox, creds, "POST", "/v3/refund/domestic/refunds",
                              {**refund_body, "out_trade_no": "NEG-NOWHERE-1"})
        refused(sandbox, response, 404, "RESOURCE_NOT_EXISTS")
    elif case == "paid order again":
        code, text = wx.pay(description="Gift", out_trade_no="NEG-PAID-001", amount={"total": 100},
                            payer={"openid": OPENID})
        assert code == 400 and json.loads(text)["code"] == "ORDERPAID"
    assert stored(sandbox) == before


def test_v3_unknown_paths_and_orders_answer_signed_404s(sandbox, paid_v3):
    wx, creds = paid_v3
    response = v3_request(sandbox, creds, "GET", "/v3/pay/transactions/out-trade-no/NEG-NOWHERE-1?mchid=1900000001")
    refused(sandbox, response, 404, "ORDER_NOT_EXIST")
    assert wx._core._verify_signature(response.headers, response.text)
    refused(sandbox, v3_request(sandbox, creds, "GET", "/v3/no/such/thing"), 404, "NOT_FOUND")
    refused(sandbox, v3_request(sandbox, creds, "GET", "/v3/refund/domestic/refunds/NOPE"), 404, "RESOURCE_NOT_EXISTS")


@pytest.fixture
def v2(sandbox):
    """A v2 client with one paid order (V2-NEG-PAID, 100 fen)."""
    pay, creds = v2_client(sandbox)
    pay.order.create(trade_type="NATIVE", body="Gift", total_fee=100, notify_url="https://m.example/n",
                     client_ip="127.0.0.1", out_trade_no="V2-NEG-PAID", product_id="P-1")
    sandbox.admin.succeed(payment_of(sandbox, "V2-NEG-PAID")["id"])
    return pay, creds


def order_params(creds: dict, **extra) -> dict:
    return {"appid": creds["appids"][0], "mch_id": creds["mchid"], "nonce_str": "n0nce", "body": "Gift",
            "out_trade_no": "V2-NEG-NEW", "total_fee": "100", "spbill_create_ip": "127.0.0.1",
            "notify_url": "https://m.example/n", "trade_type": "NATIVE", "product_id": "P-1", **extra}


@pytest.mark.parametrize("case", ["bad sign", "unknown merchant", "appid of another merchant", "missing field",
                                  "jsapi without openid", "malformed xml", "dtd", "oversize body", "get",
                                  "unknown sign_type", "duplicate out_trade_no", "refund over the paid amount",
                                  "unknown order"])
def test_v2_refusals_change_nothing(sandbox, v2, case):
    pay, creds = v2
    key = creds["v2_key"]
    before = stored(sandbox)
    fail = None
    if case == "bad sign":
        fail = v2_request(sandbox, "pay/unifiedorder", order_params(creds), key="wrong")
    elif case == "unknown merchant":
        answer = v2_request(sandbox, "pay/unifiedorder", order_params(creds, mch_id="1230000109"), key=key)
        assert answer["result_code"] == "FAIL" and answer["err_code"] == "MCHID_NOT_EXIST"
    elif case == "appid of another merchant":
        answer = v2_request(sandbox, "pay/unifiedorder", order_params(creds, appid="wx0000000000000000"), key=key)
        assert answer["err_code"] == "APPID_MCHID_NOT_MATCH"
        assert answer["sign"] == calculate_signature(
            {k: v for k, v in answer.items() if k != "sign"}, key)
    elif case == "missing field":
        params = order_params(creds)
        del params["total_fee"]
        fail = v2_request(sandbox, "pay/unifiedorder", params, key=key)
        assert "total_fee" in fail["return_msg"]
    elif case == "jsapi without openid":
        fail = v2_request(sandbox, "pay/unifiedorder", order_params(creds, trade_type="JSAPI"), key=key)
    elif case == "malformed xml":
        fail = v2_request(sandbox, "pay/unifiedorder", raw=b"<xml><appid>wx</xml>")
        assert fail["return_msg"].startswith("XML格式错误")
    elif case == "dtd":
        raw = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "boom">]>'
               b"<xml><mch_id>1900000001</mch_id><body>&e;</body></xml>")
        fail = v2_request(sandbox, "pay/unifiedorder", raw=raw)
        assert fail["return_msg"].startswith("XML格式错误")
    elif case == "oversize body":
        fail = v2_request(sandbox, "pay/unifiedorder", order_params(creds, detail="x" * 70_000), key=key)
        assert fail["return_msg"].startswith("XML格式错误")
    elif case == "get":
        response = requests.get(f"{sandbox.url}/pay/orderquery", timeout=10)
        assert response.status_code == 200 and "<return_code><![CDATA[FAIL]]>" in response.text
    elif case == "unknown sign_type":
        fail = v2_request(sandbox, "pay/unifiedorder", order_params(creds, sign_type="SHA1"), key=key)
    elif case == "duplicate out_trade_no":
        with pytest.raises(WeChatPayException) as raised:
            pay.order.create(trade_type="NATIVE", body="Another", total_fee=999, notify_url="https://m.example/n",
                             client_ip="127.0.0.1", out_trade_no="V2-NEG-PAID", product_id="P-1")
        assert raised.value.errcode == "OUT_TRADE_NO_USED"
    elif case == "refund over the paid amount":
        with pytest.raises(WeChatPayException) as raised:
            pay.refund.apply(total_fee=100, refund_fee=101, out_refund_no="V2-NEG-R1", out_trade_no="V2-NEG-PAID")
        assert raised.value.errcode == "INVALID_REQUEST"  # as the real API words it (issue 15)
    elif case == "unknown order":
        with pytest.raises(WeChatPayException) as raised:
            pay.order.query(out_trade_no="V2-NOWHERE")
        assert raised.value.errcode == "ORDERNOTEXIST"
    if fail is not None:
        assert fail["return_code"] == "FAIL" and fail["return_msg"] and "sign" not in fail
    assert stored(sandbox) == before


def test_every_v2_path_is_also_under_sandboxnew(sandbox):
    creds = credentials(sandbox, "demo-wechat")
    for path in ("pay/unifiedorder", "pay/micropay", "pay/orderquery", "pay/closeorder", "secapi/pay/refund",
                 "pay/refund", "pay/refundquery", "secapi/pay/reverse", "sandboxnew/pay/getsignkey"):
        for prefix in ("", "sandboxnew/"):
            if path.startswith("sandboxnew/") and prefix:
                continue
            answer = v2_request(sandbox, prefix + path, {"mch_id": creds["mchid"], "nonce_str": "x"}, key="wrong")
            answer["return_msg"] = without_hint(answer["return_msg"])
            assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}, (prefix, path)
