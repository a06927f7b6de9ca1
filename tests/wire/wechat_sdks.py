"""The real WeChat SDKs pointed at a test sandbox, as specs/real-sdks.md says: unmodified but for the base URL.

Also raw signed requests, for what no SDK sends (tampered bodies, wrong serials, oversize bodies).
"""
from __future__ import annotations

import json
import re
import time
import uuid

import requests
import wechatpayv3.core
from wechatpayv3 import WeChatPay as WeChatPayV3, WeChatPayType
from wechatpayv3.utils import load_private_key, rsa_sign
from wechatpy.pay import WeChatPay as WeChatPayV2

from sandbox.providers.wechat import v2_crypto

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
SUB_MCHID = "1900000109"
V2_ACK = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


def credentials(sandbox, merchant_id: str) -> dict:
    """What GET /_sandbox/api/merchants/{id} hands an integrator."""
    return sandbox.admin.merchant(merchant_id)["credentials"]["wechat"]


def v3_client(sandbox, monkeypatch, merchant_id: str = "demo-wechat", kind=WeChatPayType.NATIVE,
              notify_url: str | None = None, partner: bool = False) -> tuple[WeChatPayV3, dict]:
    creds = credentials(sandbox, merchant_id)
    url = sandbox.url

    class SandboxCore(wechatpayv3.core.Core):
        # The certificate-mode constructor already calls GET /v3/certificates: the gateway must be ours by then.
        _gate_way = property(lambda self: url, lambda self, value: None)

    monkeypatch.setattr(wechatpayv3.core, "Core", SandboxCore)
    options = {}
    if creds["mode"] == "public-key":
        options = {"public_key": creds["platform_public_key_pem"], "public_key_id": creds["public_key_id"]}
    client = WeChatPayV3(wechatpay_type=kind, mchid=creds["mchid"], private_key=creds["merchant_private_key_pem"],
                         cert_serial_no=creds["merchant_serial_no"], appid=creds["appids"][0],
                         apiv3_key=creds["apiv3_key"], notify_url=notify_url, partner_mode=partner, **options)
    return client, creds


def v2_client(sandbox, merchant_id: str = "demo-wechat", simulation: bool = False) -> tuple[WeChatPayV2, dict]:
    creds = credentials(sandbox, merchant_id)

    class SandboxPay(WeChatPayV2):
        API_BASE_URL = sandbox.url + "/"

    return SandboxPay(appid=creds["appids"][0], api_key=creds["v2_key"], mch_id=creds["mchid"],
                      sandbox=simulation), creds


def v3_request(sandbox, creds: dict, method: str, path: str, body: bytes | dict | None = None, *,
               signed_body: bytes | None = None, mchid: str | None = None, serial_no: str | None = None,
               headers: dict | None = None) -> requests.Response:
    """A hand-made APIv3 call signed like the SDKs sign; `signed_body` signs other bytes than those sent."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex.upper()
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + (raw if signed_body is None else signed_body)
    signature = rsa_sign(load_private_key(creds["merchant_private_key_pem"]), message.decode() + "\n")
    authorization = (f'WECHATPAY2-SHA256-RSA2048 mchid="{mchid or creds["mchid"]}",nonce_str="{nonce}",'
                     f'signature="{signature}",timestamp="{timestamp}",'
                     f'serial_no="{serial_no or creds["merchant_serial_no"]}"')
    return requests.request(method, sandbox.url + path, data=raw, timeout=10,
                            headers={"Authorization": authorization, "Content-Type": "application/json",
                                     "Accept": "application/json", **(headers or {})})


def v2_request(sandbox, path: str, params: dict | None = None, key: str | None = None, sign_type: str = "MD5",
               raw: bytes | None = None) -> dict:
    """A hand-made v2 call; answers the parsed XML."""
    if raw is None:
        params = dict(params)
        if key is not None:
            params["sign"] = v2_crypto.sign(params, key, sign_type)
        raw = v2_crypto.to_xml(params)
    response = requests.post(f"{sandbox.url}/{path}", data=raw, timeout=10)
    assert response.status_code == 200, response.text
    return v2_crypto.parse_xml(response.content)


def without_hint(text: str) -> str:
    """The provider's own words of a free-text field, without the signature doctor's ` [sandbox hint: …]`."""
    return re.sub(r" \[sandbox hint: .*\]\Z", "", text, flags=re.S)


def payment_of(sandbox, out_trade_no: str) -> dict:
    (payment,) = sandbox.admin.payments(provider="wechat", out_trade_no=out_trade_no)["payments"]
    return payment


def stored(sandbox) -> list:
    """Everything stored about WeChat payments, to show that a refused call changed nothing."""
    payments = sandbox.admin.payments(provider="wechat")["payments"]
    return [(p, sandbox.admin.payment(p["id"])["refunds"]) for p in payments]
