"""Issue 13's planted bugs that only show on the wire: WeChat's retry schedule, delay by delay and in order, and the
APIv3 5xx answers signed with the platform key (checked with `cryptography` directly, as WeChat documents the
message: wechatpayv3 itself verifies only 2xx answers)."""
from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from wechat_sdks import credentials, v3_request

# WeChat Pay's documented notify retry intervals, in order (pay.weixin.qq.com, 支付通知): 15s/15s/30s/3m/10m/20m/
# 30m/30m/30m/60m/3h/3h/3h/6h/6h
WECHAT_RETRIES = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met in {timeout} s")
        time.sleep(0.02)


def native_order(creds: dict, out_trade_no: str, notify_url: str, total: int = 100) -> dict:
    return {"appid": creds["appids"][0], "mchid": creds["mchid"], "description": "Retry schedule",
            "out_trade_no": out_trade_no, "notify_url": notify_url, "amount": {"total": total}}


def test_wechat_retries_a_refused_notify_after_each_documented_delay_in_order(sandbox, notify_receiver):
    notify_receiver.reply = (500, "refused")
    creds = credentials(sandbox, "demo-wechat")
    created = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native",
                         native_order(creds, "RETRY-1", notify_receiver.url()))
    assert created.status_code == 200, created.text
    (payment,) = sandbox.admin.payments(out_trade_no="RETRY-1")["payments"]
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    sandbox.admin.advance(2 * 86400)  # past the whole 24 h 4 min schedule: every retry falls due at once
    notify_receiver.wait_for(1 + len(WECHAT_RETRIES))

    def failed():
        (notification,) = sandbox.admin.notifications(payment["id"])["notifications"]
        return notification if notification["status"] == "failed" else None
    notification = wait_until(failed, what="the notification gave up")
    dues = [attempt["due_at"] for attempt in notification["attempt_log"]]
    assert len(dues) == 1 + len(WECHAT_RETRIES)
    delays = [round(later - earlier, 2) for earlier, later in zip(dues, dues[1:])]
    assert delays == WECHAT_RETRIES, f"retry delays in order: {delays}"
    assert len(notify_receiver.received) == 1 + len(WECHAT_RETRIES)


def _verify(public_key_pem: str, headers, body: bytes) -> None:
    """WeChat's answer signature: SHA256withRSA over 'timestamp\\nnonce\\nbody\\n' (签名验证, APIv3)."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    key.verify(base64.b64decode(headers["Wechatpay-Signature"]), message, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("merchant_id, serial_field", [("demo-wechat", "platform_serial_no"),
                                                        ("demo-wechat-pubkey", "public_key_id")])
def test_an_injected_apiv3_500_is_signed_with_the_platform_key(sandbox, merchant_id, serial_field):
    creds = credentials(sandbox, merchant_id)
    sandbox.admin.add_rule(name="v3 busy", match={"provider": "wechat", "operation": "create"},
                           action={"api_error": True})
    answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native",
                        native_order(creds, f"SIGNED-500-{merchant_id}", "https://m.example/n"))
    assert answer.status_code == 500 and answer.json()["code"] == "SYSTEM_ERROR", answer.text
    missing = [h for h in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial")
               if h not in answer.headers]
    assert not missing, f"the 500 answer lacks {missing}"
    assert answer.headers["Wechatpay-Serial"] == creds[serial_field]
    _verify(creds["platform_public_key_pem"], answer.headers, answer.content)
    with pytest.raises(InvalidSignature):  # the check is real: other bytes do not verify
        _verify(creds["platform_public_key_pem"], answer.headers, answer.content + b" ")
