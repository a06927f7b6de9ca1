"""The yardsticks: bare aiohttp handlers with no work behind them.

`/signed/...` answers like a WeChat APIv3 create and signs that answer with RSA-2048, as the sandbox must: the most
a signed create can reach in one aiohttp process on this machine, whatever the sandbox does besides.
"""
from __future__ import annotations

import base64
import json
import secrets
import signal
import subprocess
import sys
import time

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ..event_loop import install
from ..settings import DEFAULT_FIXTURES

FIXTURES = DEFAULT_FIXTURES
PLATFORM_KEY = serialization.load_pem_private_key(
    json.loads((FIXTURES / "wechat" / "demo-pubkey.json").read_text())["platform_private_key_pem"].encode(), None)

ANSWER = json.dumps({"code": "SUCCESS", "msg": "成功", "data": {
    "transaction_status": "CREATE", "error": None, "store_no": "QP10000001", "paytype": "WECHATPAY_JSAPI",
    "operator": "WEB", "bank_type": None, "total_amount": 100, "cash_amount": 0, "settlement_amount": 0,
    "coupon_amount": 0, "order_no": "B-1", "transaction_no": "202611251200001234567890",
    "cloudpay_param": "{\"appId\":\"wx\",\"package\":\"prepay_id=wx2026\"}", "transaction_time": "2026-11-25 12:00:00",
    "message": "订单已创建,等待支付", "buyer": "o", "attach": None, "iteminfo": None, "coupon_detail_list": []}},
    ensure_ascii=False)


async def handle(request: web.Request) -> web.Response:
    json.loads(await request.read())  # parse the body like any real handler must
    return web.Response(text=ANSWER, content_type="application/json")


async def handle_signed(request: web.Request) -> web.Response:
    json.loads(await request.read())
    body = json.dumps({"prepay_id": f"wx{secrets.token_hex(16)}"})
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = PLATFORM_KEY.sign(f"{timestamp}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256())
    return web.Response(text=body, content_type="application/json", headers={
        "Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": base64.b64encode(signature).decode()})


def main() -> None:
    """python -m sandbox.bench.bare PORT [WORKERS]: with WORKERS > 1, that many processes share the port
    (SO_REUSEPORT), as the sandbox's --workers do; this one only waits for them."""
    port, workers = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers > 1:
        children = [subprocess.Popen([sys.executable, "-m", "sandbox.bench.bare", str(port), "1", "reuse"])
                    for _ in range(workers)]
        signal.signal(signal.SIGTERM, lambda *_: [c.terminate() for c in children])
        for child in children:
            child.wait()
        return
    install("auto")  # the sandbox's own default loop, so the ratio compares like with like
    app = web.Application()
    app.router.add_route("*", "/signed/{tail:.*}", handle_signed)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, reuse_port=len(sys.argv) > 3)


if __name__ == "__main__":
    main()
