"""WeChat Pay adapter pieces without a server: ids, trade states, the notify channel's rendering and ack rules."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from wechatpy.pay import WeChatPay as WeChatPayV2
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from sandbox.core.models import (
    CloseReason, Merchant, Notification, NotificationStatus, OutboundRequest, Payment, PaymentStatus, Refund,
    RefundStatus,
)
from sandbox.providers.wechat import v2_crypto, v2_wire, v3_crypto, wire
from sandbox.providers.wechat.channel import RETRY_DELAYS, WeChatChannel, notify_id
from sandbox.providers.wechat.provider import WeChatProvider

CREDS = json.loads((Path(__file__).resolve().parents[2] / "fixtures/wechat/demo-cert.json").read_text())
MERCHANT = Merchant(id="demo-wechat", name="demo", credentials={"wechat": CREDS}, created_at=0)
NOW = 1_764_000_000.0


def payment(**changes) -> Payment:
    base = dict(id="pay_1", provider="wechat", merchant_id="demo-wechat", out_trade_no="ORDER-0001",
                provider_trade_no=wire.transaction_id(NOW), amount=100, currency="CNY", trade_type="JSAPI",
                status=PaymentStatus.PENDING, payer={"openid": "o-1"}, fingerprint="{}", created_at=NOW,
                updated_at=NOW, extra={"api": "v3", "appid": CREDS["appids"][0]})
    return Payment(**{**base, **changes})


def notification(p: Payment, refund: Refund | None = None, event: str = "TRANSACTION.SUCCESS") -> Notification:
    return Notification(id="ntf_1", payment_id=p.id, provider="wechat", event=event, url="http://m/n",
                        snapshot={"payment": p.model_dump(mode="json"),
                                  "refund": refund.model_dump(mode="json") if refund else None},
                        status=NotificationStatus.PENDING, created_at=NOW, updated_at=NOW)


def test_ids_look_like_real_ones():
    assert re.fullmatch(r"4200\d{24}", wire.transaction_id(NOW))
    assert re.fullmatch(r"wx\d{14}[0-9a-f]{20}", wire.prepay_id(NOW))
    assert re.fullmatch(r"50\d{27}", wire.refund_id(NOW))


@pytest.mark.parametrize("changes, state", [
    ({}, "NOTPAY"),
    ({"trade_type": "BARCODE"}, "USERPAYING"),
    ({"status": PaymentStatus.SUCCEEDED, "paid_at": NOW}, "SUCCESS"),
    ({"status": PaymentStatus.REFUNDED, "paid_at": NOW}, "REFUND"),
    ({"status": PaymentStatus.FAILED}, "PAYERROR"),
    ({"status": PaymentStatus.CLOSED, "close_reason": CloseReason.EXPIRED}, "CLOSED"),
    ({"status": PaymentStatus.CLOSED, "close_reason": CloseReason.CANCELED}, "REVOKED"),
    ({"status": PaymentStatus.REFUNDED, "paid_at": NOW, "close_reason": CloseReason.CANCELED}, "REVOKED"),
])
def test_trade_states(changes, state):
    assert wire.trade_state(payment(**changes)) == state


def test_retry_schedule_is_wechats():
    assert len(RETRY_DELAYS) == 15 and sum(RETRY_DELAYS) == 24 * 3600 + 4 * 60
    # the documented order, delay by delay (15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h)
    assert list(RETRY_DELAYS) == [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600,
                                  21600]


def test_only_paid_orders_and_refunds_outside_a_reverse_are_notified():
    channel = WeChatChannel()
    assert channel.payment_event(payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW)) == "TRANSACTION.SUCCESS"
    for status in (PaymentStatus.CLOSED, PaymentStatus.FAILED):
        assert channel.payment_event(payment(status=status)) is None
    refund = Refund(id="rfd_1", payment_id="pay_1", out_refund_no="R1", provider_refund_no=wire.refund_id(NOW),
                    amount=100, status=RefundStatus.SUCCEEDED, created_at=NOW, succeeded_at=NOW)
    paid = payment(status=PaymentStatus.REFUNDED, paid_at=NOW)
    assert channel.refund_event(paid, refund) == "REFUND.SUCCESS"
    assert channel.refund_event(paid, refund.model_copy(update={"status": RefundStatus.CLOSED})) == "REFUND.CLOSED"
    reversed_ = paid.model_copy(update={"close_reason": CloseReason.CANCELED})
    assert channel.refund_event(reversed_, refund.model_copy(update={"reason": "canceled"})) is None


def test_acknowledgements():
    channel = WeChatChannel()
    v3 = OutboundRequest(url="http://m", body=b'{"id":"x"}')
    v2 = OutboundRequest(url="http://m", body=b"<xml><a>1</a></xml>")
    ack = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    assert channel.is_acknowledged(v3, 200, b"") and channel.is_acknowledged(v3, 204, b"")
    assert not channel.is_acknowledged(v3, 500, b"")
    assert channel.is_acknowledged(v2, 200, ack)
    assert not channel.is_acknowledged(v2, 200, b"success")
    assert not channel.is_acknowledged(v2, 200, ack.replace(b"SUCCESS", b"FAIL"))
    assert not channel.is_acknowledged(v2, 500, ack)


async def test_v3_notify_id_is_stable_and_the_resource_opens():
    channel = WeChatChannel()
    paid = payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW)
    first = await channel.render(notification(paid), MERCHANT, 1, NOW)
    again = await channel.render(notification(paid), MERCHANT, 2, NOW + 15)
    one, two = json.loads(first.body), json.loads(again.body)
    assert one["id"] == two["id"] == notify_id(notification(paid))
    assert one["resource"]["nonce"] != two["resource"]["nonce"]
    plain = json.loads(v3_crypto.decrypt_resource(CREDS["apiv3_key"], one["resource"]))
    assert plain["trade_state"] == "SUCCESS" and plain["transaction_id"] == paid.provider_trade_no
    assert first.headers["Wechatpay-Serial"] == CREDS["platform_serial_no"]


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_v2_pay_notify_is_signed_with_the_orders_sign_type(sign_type):
    paid = payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW,
                   extra={"api": "v2", "appid": CREDS["appids"][0], "sign_type": sign_type})
    request = await WeChatChannel().render(notification(paid), MERCHANT, 1, NOW)
    fields = v2_crypto.parse_xml(request.body)
    unsigned = {k: v for k, v in fields.items() if k != "sign"}
    wechatpy_sign = calculate_signature if sign_type == "MD5" else calculate_signature_hmac  # not our own signer
    assert fields["sign"] == wechatpy_sign(unsigned, CREDS["v2_key"])
    if sign_type == "MD5":
        client = WeChatPayV2(appid=CREDS["appids"][0], api_key=CREDS["v2_key"], mch_id=CREDS["mchid"])
        assert client.parse_payment_result(request.body)["total_fee"] == 100


def test_sandbox_signkey_is_stable_and_not_the_key():
    key = v2_wire.sandbox_signkey(CREDS["v2_key"], CREDS["mchid"])
    assert re.fullmatch(r"[0-9a-f]{32}", key) and key != CREDS["v2_key"]
    assert key == v2_wire.sandbox_signkey(CREDS["v2_key"], CREDS["mchid"])


def test_new_credentials_options():
    provider = WeChatProvider()
    made = provider.new_credentials(mode="public-key", mchid="1900009999")
    assert made["mode"] == "public-key" and provider.lookup_keys(made) == ["1900009999"]
    with pytest.raises(ValueError):
        provider.new_credentials(mode="nope")
    with pytest.raises(TypeError):
        provider.new_credentials(colour="blue")
