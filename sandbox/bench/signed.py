"""Signed creates (WeChat APIv3 JSAPI, Alipay precreate), measured against this machine's RSA-2048 signing rate.

Requests are signed by the load generator ahead of the timed run, as the issue asks, so the figures are the
sandbox's own cost: verifying the merchant's signature, creating the payment, signing the answer.
"""
from __future__ import annotations

import base64
import json
import random
import re
import subprocess
import time
import urllib.parse

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ..providers.alipay import signing as alipay_signing
from ..settings import DEFAULT_FIXTURES
from .load import measured

FIXTURES = DEFAULT_FIXTURES


def openssl_rsa2048_sign_rate(seconds: int = 3) -> float | None:
    """Signatures per second of one core, from `openssl speed` (None when openssl is missing)."""
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                             text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)", out, re.MULTILINE)
    return float(match.group(1)) if match else None


def python_rsa2048_sign_rate(seconds: float = 2.0) -> float:
    """The same operation through `cryptography`, as the sandbox does it."""
    creds = json.loads((FIXTURES / "wechat" / "demo-pubkey.json").read_text())
    key = serialization.load_pem_private_key(creds["platform_private_key_pem"].encode(), None)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.sign(b"1700000000\nnonce\n{}\n", padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - started)


def wechat_jsapi_requests(base_url: str, total: int) -> list[tuple[str, bytes, dict]]:
    """Pre-signed APIv3 JSAPI creates for the public-key-mode demo merchant, signed as wechatpayv3 signs them."""
    creds = json.loads((FIXTURES / "wechat" / "demo-pubkey.json").read_text())
    key = serialization.load_pem_private_key(creds["merchant_private_key_pem"].encode(), None)
    path = "/v3/pay/transactions/jsapi"
    prepared = []
    for i in range(total):
        body = json.dumps({"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "bench",
                           "out_trade_no": f"WX{i:08d}{random.getrandbits(24):06x}",
                           "notify_url": "https://example.com/notify", "amount": {"total": 100, "currency": "CNY"},
                           "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}).encode()
        timestamp, nonce = str(int(time.time())), f"{random.getrandbits(128):032X}"
        message = f"POST\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        auth = (f'WECHATPAY2-SHA256-RSA2048 mchid="{creds["mchid"]}",nonce_str="{nonce}",signature="{signature}",'
                f'timestamp="{timestamp}",serial_no="{creds["merchant_serial_no"]}"')
        headers = {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json",
                   "Wechatpay-Serial": creds["public_key_id"]}
        prepared.append((f"{base_url}{path}", body, headers))
    return prepared


def alipay_precreate_requests(base_url: str, total: int) -> list[tuple[str, bytes, dict]]:
    """Pre-signed alipay.trade.precreate calls, common parameters in the query and biz_content in the form body."""
    creds = json.loads((FIXTURES / "alipay" / "demo.json").read_text())
    prepared = []
    for i in range(total):
        params = alipay_signing.build_request(
            "alipay.trade.precreate", {"out_trade_no": f"AP{i:08d}{random.getrandbits(24):06x}",
                                       "total_amount": "1.00", "subject": "bench"}, app_id=creds["app_id"])
        params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params), creds["app_private_key_pem"])
        biz = {"biz_content": params.pop("biz_content")}
        prepared.append((f"{base_url}/gateway.do?{urllib.parse.urlencode(params)}",
                         urllib.parse.urlencode(biz).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}))
    return prepared


def replay(prepared: list[tuple[str, bytes, dict]], ok_marker: bytes):
    async def request(session: aiohttp.ClientSession, i: int) -> bool:
        url, body, headers = prepared[i]
        async with session.post(url, data=body, headers=headers) as response:
            return response.status == 200 and ok_marker in await response.read()
    return request


async def signed_scenarios(sandbox, sandbox_url: str, bare, bare_url: str, args) -> list[str]:
    openssl_rate = openssl_rsa2048_sign_rate()
    python_rate = python_rsa2048_sign_rate()
    lines = [f"RSA-2048 sign, one core: openssl speed {openssl_rate or 0:.0f}/s, "
             f"python cryptography {python_rate:.0f}/s"]
    warmup = 200
    scenarios = (
        # The ceiling: a bare handler that only parses the body and signs a WeChat-style answer.
        ("bare aiohttp handler, signed answer", bare, lambda total: wechat_jsapi_requests(f"{bare_url}/signed", total),
         b"prepay_id"),
        ("WeChat v3 JSAPI create (signed)", sandbox, lambda total: wechat_jsapi_requests(sandbox_url, total),
         b"prepay_id"),
        ("Alipay trade.precreate (signed)", sandbox, lambda total: alipay_precreate_requests(sandbox_url, total),
         b"qr_code"),
    )
    for name, process, build, marker in scenarios:
        prepared = build(args.requests + warmup)
        timed, warm = prepared[warmup:], prepared[:warmup]
        request = replay(timed, marker)
        warm_request = replay(warm, marker)

        async def either(session, i, request=request, warm_request=warm_request):
            return await (warm_request(session, -i - 1) if i < 0 else request(session, i))
        result = await measured(process, name, either, len(timed), args.concurrency)
        ratio = f"{result.per_second / openssl_rate:.2f}" if openssl_rate else "n/a"
        lines += [result.line(),
                  f"  / openssl one-core sign rate: {ratio} (target >= 0.80); "
                  f"/ python sign rate: {result.per_second / python_rate:.2f}"]
    return lines
