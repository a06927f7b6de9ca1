"""Copy-ready code per SDK for one merchant: its ids and keys, with this sandbox's base URL filled in.

Each snippet is complete: paste it into a file and run it against a running sandbox. tests/unit/
test_console_snippets.py compiles every one and runs those whose SDK is installed.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..providers.alipay.credentials import bare_key  # the official SDK wants bare base64 keys
from ..providers.quickpay import wire as quickpay_wire


@dataclass(frozen=True)
class Snippet:
    sdk: str        # the PyPI name (or "curl")
    language: str   # python | shell
    code: str


def snippets_for(provider: str, credentials: dict, base_url: str) -> list[Snippet]:
    make = {"wechat": _wechat, "alipay": _alipay, "quickpay": _quickpay}.get(provider)
    return make(credentials, base_url.rstrip("/")) if make else []


def _literal(text: str) -> str:
    """A Python literal of a PEM (or any text): a triple-quoted block when that is exact, repr() otherwise."""
    if '"""' not in text and "\\" not in text and text.replace("\n", "").isprintable():
        return '"""' + text + '"""'
    return repr(text)


def _wechat(c: dict, base: str) -> list[Snippet]:
    appid = (c.get("appids") or ["wx0000000000000000"])[0]
    common = (f'    mchid="{c["mchid"]}",\n'
              f"    private_key=MERCHANT_PRIVATE_KEY,\n"
              f'    cert_serial_no="{c["merchant_serial_no"]}",\n'
              f'    appid="{appid}",\n'
              f'    apiv3_key="{c["apiv3_key"]}",\n'
              f'    notify_url="https://your-app.example.com/wechatpay/notify",\n')
    if c.get("mode") == "public-key":
        v3 = f'''# pip install wechatpayv3   (platform public-key mode)
from wechatpayv3 import WeChatPay, WeChatPayType

SANDBOX = "{base}"
MERCHANT_PRIVATE_KEY = {_literal(c["merchant_private_key_pem"])}
PLATFORM_PUBLIC_KEY = {_literal(c["platform_public_key_pem"])}

wxpay = WeChatPay(
    wechatpay_type=WeChatPayType.NATIVE,
{common}    public_key=PLATFORM_PUBLIC_KEY,
    public_key_id="{c["public_key_id"]}",
)
wxpay._core._gate_way = SANDBOX  # the SDK hard-codes https://api.mch.weixin.qq.com

code, message = wxpay.pay(description="Sandbox order", out_trade_no="SNIPPET-0001", amount={{"total": 1}})
print(code, message)
'''
    else:
        v3 = f'''# pip install wechatpayv3   (platform certificate mode)
import wechatpayv3.core
from wechatpayv3 import WeChatPay, WeChatPayType

SANDBOX = "{base}"
MERCHANT_PRIVATE_KEY = {_literal(c["merchant_private_key_pem"])}


class SandboxCore(wechatpayv3.core.Core):
    # The SDK hard-codes https://api.mch.weixin.qq.com and already calls GET /v3/certificates in its
    # constructor, so the gateway is pinned before construction (assignments to it are ignored).
    _gate_way = property(lambda self: SANDBOX, lambda self, value: None)


wechatpayv3.core.Core = SandboxCore  # WeChatPay looks Core up when it is built

wxpay = WeChatPay(
    wechatpay_type=WeChatPayType.NATIVE,
{common})

code, message = wxpay.pay(description="Sandbox order", out_trade_no="SNIPPET-0001", amount={{"total": 1}})
print(code, message)
'''
    v2 = f'''# pip install wechatpy   (API v2: XML + MD5 with the v2 key)
from wechatpy.pay import WeChatPay


class SandboxWeChatPay(WeChatPay):
    API_BASE_URL = "{base}/"  # the trailing slash matters


pay = SandboxWeChatPay(
    appid="{appid}",
    api_key="{c["v2_key"]}",
    mch_id="{c["mchid"]}",
    # refunds (secapi) also need the merchant certificate: mch_cert="apiclient_cert.pem", mch_key="apiclient_key.pem"
)
order = pay.order.create(
    trade_type="NATIVE", body="Sandbox order", total_fee=1, out_trade_no="SNIPPET-0002",
    notify_url="https://your-app.example.com/wechatpay/notify", client_ip="127.0.0.1", product_id="1",
)
print(order["code_url"])
'''
    return [Snippet("wechatpayv3", "python", v3), Snippet("wechatpy", "python", v2)]


def _alipay(c: dict, base: str) -> list[Snippet]:
    community = f'''# pip install python-alipay-sdk
from alipay import AliPay

APP_PRIVATE_KEY = {_literal(c["app_private_key_pem"])}
ALIPAY_PUBLIC_KEY = {_literal(c["alipay_public_key_pem"])}

alipay = AliPay(
    appid="{c["app_id"]}",
    app_notify_url="https://your-app.example.com/alipay/notify",
    app_private_key_string=APP_PRIVATE_KEY,
    alipay_public_key_string=ALIPAY_PUBLIC_KEY,
    sign_type="RSA2",
)
alipay._gateway = "{base}/gateway.do"  # instead of https://openapi.alipay.com/gateway.do

result = alipay.api_alipay_trade_precreate(subject="Sandbox order", out_trade_no="SNIPPET-0001", total_amount="0.01")
print(result["qr_code"])
'''
    official = f'''# pip install alipay-sdk-python   (the official SDK; keep it in its own virtualenv:
# it installs the same top-level `alipay` package as python-alipay-sdk)
import http.client
import urllib.parse

import alipay.aop.api.util.WebUtils as web_utils
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest


# The SDK only connects to port 80/443 and fails on a URL with a port; this keeps what it sends and honours
# the port. Not needed when the sandbox listens on 80 (or behind a proxy on 443).
def get_http_connection(url, query_string, timeout):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    return parts.scheme + "://" + parts.netloc + parts.path + "?" + query_string, connection


web_utils.get_http_connection = get_http_connection

config = AlipayClientConfig()
config.server_url = "{base}/gateway.do"
config.app_id = "{c["app_id"]}"
config.app_private_key = "{bare_key(c["app_private_key_pem"])}"
config.alipay_public_key = "{bare_key(c["alipay_public_key_pem"])}"
config.sign_type = "RSA2"
client = DefaultAlipayClient(alipay_client_config=config)

model = AlipayTradePrecreateModel()
model.out_trade_no = "SNIPPET-0002"
model.total_amount = "0.01"
model.subject = "Sandbox order"
request = AlipayTradePrecreateRequest(biz_model=model)
print(client.execute(request))
'''
    return [Snippet("python-alipay-sdk", "python", community), Snippet("alipay-sdk-python", "python", official)]


def _quickpay(c: dict, base: str) -> list[Snippet]:
    body = {"store_no": c["store_no"], "amount": 1, "order_no": "SNIPPET-0001", "iteminfo": "Sandbox order",
            "notify_url": "https://your-app.example.com/quickpay/notify", "qr_format": "url"}
    note = "# QRPay: an aggregated QR code (cloudpay_param is the payer's page)\n"
    if c.get("key"):
        body["sign"] = quickpay_wire.sign(body, c["key"])
        note += ("# This store signs: `sign` is MD5 over the sorted fields + &key=…, uppercase; it is computed for\n"
                 "# exactly this body, so compute it again if you change a field.\n")
    return [Snippet("curl", "shell", note + f"curl -sS -X POST {shlex.quote(base + '/QuickPay/QRPay')} \\\n"
                                           f"  -H 'Content-Type: application/json' \\\n"
                                           f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}\n")]
