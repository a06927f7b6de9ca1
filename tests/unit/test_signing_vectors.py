"""Signing checked against independent references, not the sandbox's own sign functions (issue 13): WeChat Pay's
documented v2 example (签名算法, pay.weixin.qq.com) and QuickPay's rule as the README states it, computed by hand."""
from __future__ import annotations

import hashlib
import json

import pytest
import requests

from sandbox.providers.wechat import v2_crypto

# The example of WeChat Pay's v2 signing page: these fields, this key, and the two signs it prints.
WECHAT_DOC_FIELDS = {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test",
                     "nonce_str": "ibuaiVcKdpRxkhJA"}
WECHAT_DOC_KEY = "192006250b4c09247ec02edce69f6a2d"


@pytest.mark.parametrize("sign_type, expected", [
    ("MD5", "9A0A8659F005D6984697E2CA0A9CF3B7"),
    ("HMAC-SHA256", "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"),
])
def test_v2_sign_reproduces_wechats_documented_example(sign_type, expected):
    assert v2_crypto.sign(WECHAT_DOC_FIELDS, WECHAT_DOC_KEY, sign_type) == expected
    # empty values and an existing sign take no part
    assert v2_crypto.sign({**WECHAT_DOC_FIELDS, "attach": "", "sign": "X"}, WECHAT_DOC_KEY, sign_type) == expected


SIGNED_STORE, SIGNED_KEY = "QP10000002", "quickpay-demo-key-0123456789abcd"


def quickpay_sign_by_hand(fields: dict, key: str) -> str:
    """README, QuickPay signing: every non-empty field but sign, sorted by name, k=v joined by &, then &key=KEY, MD5,
    upper-case hex; objects and lists as compact JSON, booleans as true/false."""
    def text(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)
    parts = [f"{k}={text(v)}" for k, v in sorted(fields.items())
             if k != "sign" and v is not None and v != "" and v != [] and v != {}]
    return hashlib.md5(("&".join(parts) + f"&key={key}").encode("utf-8")).hexdigest().upper()


def test_a_signed_stores_answers_carry_the_documented_sign(sandbox):
    body = {"store_no": SIGNED_STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-vec",
            "amount": 321, "order_no": "VEC-1", "iteminfo": "礼盒", "attach": "a=1&b=2",
            "itemlist": [{"item_name": "x", "quantity": 1, "price": 321}]}
    body["sign"] = quickpay_sign_by_hand(body, SIGNED_KEY)
    for action, payload in (("JSAPIPay", body), ("Query", None)):
        if payload is None:
            payload = {"store_no": SIGNED_STORE, "order_no": "VEC-1"}
            payload["sign"] = quickpay_sign_by_hand(payload, SIGNED_KEY)
        answer = requests.post(f"{sandbox.url}/QuickPay/{action}", json=payload, timeout=10).json()
        assert answer["code"] == "SUCCESS", answer
        data = answer["data"]
        assert data["sign"] == quickpay_sign_by_hand(data, SIGNED_KEY), action
        assert data["sign"] != quickpay_sign_by_hand({**data, "total_amount": 1}, SIGNED_KEY)
