"""Alipay's wire words without a server: timeouts, ids, statuses, notify fields and acknowledgements."""
from __future__ import annotations

from datetime import datetime

import pytest

from sandbox.core.models import CloseReason, Notification, NotificationStatus, OutboundRequest, Payment, PaymentStatus, \
    Refund, RefundStatus
from sandbox.providers.alipay import wire
from sandbox.providers.alipay.channel import RETRY_DELAYS, AlipayChannel, notify_fields
from sandbox.providers.alipay.models import PayBiz

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=wire.CHINA).timestamp()
CREDS = {"app_id": "2021000000000001", "seller_id": "2088845352000410", "seller_email": "s@example.com"}


def payment(**changes) -> Payment:
    base = dict(id="pay_1", provider="alipay", merchant_id="demo-alipay", out_trade_no="O-1",
                provider_trade_no="2026112522001400001234567890", amount=1000, currency="CNY", trade_type="PRECREATE",
                status=PaymentStatus.PENDING, fingerprint="{}", created_at=NOW, updated_at=NOW, description="商品")
    return Payment(**{**base, **changes})


@pytest.mark.parametrize("express, seconds", [("1m", 60), ("90m", 5400), ("2h", 7200), ("1d", 86400),
                                               ("15d", 15 * 86400), (None, 15 * 86400), ("", 15 * 86400)])
def test_timeout_express(express, seconds):
    assert wire.expiry(NOW, express, None) == NOW + seconds


def test_one_c_closes_at_beijing_midnight_and_time_expire_wins():
    midnight = datetime(2026, 11, 26, 0, 0, tzinfo=wire.CHINA).timestamp()
    assert wire.expiry(NOW, "1c", None) == midnight
    at = datetime(2026, 11, 25, 12, 0, tzinfo=wire.CHINA).timestamp()
    assert wire.expiry(NOW, "1m", "2026-11-25 12:00:00") == at
    assert wire.expiry(NOW, None, "2026-11-25 12:00") == at


@pytest.mark.parametrize("express", ["1.5h", "0m", "16d", "2c", "1w", "m", "-1d", "1 h"])
def test_bad_timeout_express(express):
    with pytest.raises(wire.AlipayError) as caught:
        wire.expiry(NOW, express, None)
    assert caught.value.sub_code == "ACQ.INVALID_PARAMETER" and caught.value.code == "40004"


def test_trade_no_and_notify_id_shapes():
    trade_no = wire.trade_no(NOW)
    assert len(trade_no) == 28 and trade_no.isdigit() and trade_no.startswith("20261125")
    first = wire.notify_id("ntf_1", NOW)
    assert first == wire.notify_id("ntf_1", NOW) != wire.notify_id("ntf_2", NOW)
    assert len(first) == 34 and first.startswith("20261125")


def test_statuses():
    assert wire.trade_status(payment()) == "WAIT_BUYER_PAY"
    assert wire.trade_status(payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW)) == "TRADE_SUCCESS"
    assert wire.trade_status(payment(status=PaymentStatus.REFUNDED, paid_at=NOW, refunded_amount=1)) == \
        "TRADE_SUCCESS"
    assert wire.trade_status(payment(status=PaymentStatus.REFUNDED, paid_at=NOW, refunded_amount=1000)) == \
        "TRADE_CLOSED"
    assert wire.trade_status(payment(status=PaymentStatus.FAILED)) == "TRADE_CLOSED"
    assert wire.trade_status(payment(status=PaymentStatus.CLOSED, close_reason=CloseReason.EXPIRED)) == \
        "TRADE_CLOSED"


def test_query_of_an_unpaid_trade_reports_zero_amounts():
    result = wire.query_result(payment())
    assert result["trade_status"] == "WAIT_BUYER_PAY" and result["total_amount"] == "10.00"
    assert result["buyer_pay_amount"] == result["receipt_amount"] == "0.00" and "send_pay_date" not in result
    paid = wire.query_result(payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW + 60))
    assert paid["send_pay_date"] == "2026-11-25 10:31:00" and paid["receipt_amount"] == "10.00"
    assert paid["buyer_user_id"].startswith("2088") and paid["buyer_logon_id"].endswith("@sandbox.example.com")


@pytest.mark.parametrize("amount", ["0.01", "1", "1.5", "100000000.00", 1, "9999999999.99"])
def test_amounts_in_yuan(amount):
    biz = PayBiz(out_trade_no="o", total_amount=amount, subject="s")
    assert biz.amount_fen == round(float(amount) * 100)


def notification(pay: Payment, refund: Refund | None = None) -> Notification:
    return Notification(id="ntf_1", payment_id=pay.id, provider="alipay", event="x", url="http://m/notify",
                        snapshot={"payment": pay.model_dump(mode="json"),
                                  "refund": refund.model_dump(mode="json") if refund else None},
                        status=NotificationStatus.PENDING, created_at=NOW, updated_at=NOW)


def test_notify_fields_of_an_expired_unpaid_trade():
    closed = payment(status=PaymentStatus.CLOSED, close_reason=CloseReason.EXPIRED, closed_at=NOW + 900)
    fields = {k: v for k, v in notify_fields(notification(closed), CREDS, NOW + 901).items() if v is not None}
    assert fields["trade_status"] == "TRADE_CLOSED" and fields["gmt_close"] == "2026-11-25 10:45:00"
    assert "gmt_payment" not in fields and "receipt_amount" not in fields and "buyer_id" not in fields
    assert fields["notify_time"] == "2026-11-25 10:45:01" and fields["total_amount"] == "10.00"


def test_notify_fields_of_a_partial_refund():
    paid = payment(status=PaymentStatus.REFUNDED, paid_at=NOW + 10, refunded_amount=300)
    refund = Refund(id="rfd_1", payment_id="pay_1", out_refund_no="R-1", provider_refund_no="x", amount=300,
                    status=RefundStatus.SUCCEEDED, created_at=NOW + 20.5, succeeded_at=NOW + 20.5)
    fields = notify_fields(notification(paid, refund), CREDS, NOW + 21)
    assert fields["trade_status"] == "TRADE_SUCCESS" and fields["refund_fee"] == "3.00"
    assert fields["out_biz_no"] == "R-1" and fields["gmt_refund"] == "2026-11-25 10:30:20.500"
    assert "gmt_close" not in fields
    channel = AlipayChannel()
    assert channel.refund_event(paid, refund) == "TRADE_SUCCESS"
    assert channel.payment_event(payment()) is None


def test_acknowledgement_and_schedule():
    channel, sent = AlipayChannel(), OutboundRequest(url="http://m", body=b"notify_type=trade_status_sync")
    assert channel.is_acknowledged(sent, 200, b"success") and channel.is_acknowledged(sent, 200, b"success\n")
    for status, body in ((200, b"SUCCESS"), (200, b"ok"), (200, b""), (500, b"success"), (200, b"success!")):
        assert not channel.is_acknowledged(sent, status, body)
    assert [d / 60 for d in RETRY_DELAYS] == [4, 10, 10, 60, 120, 360, 900]


async def test_a_gbk_trade_notifies_in_gbk():
    from urllib.parse import parse_qsl

    from sandbox.providers.alipay import signing
    from sandbox.providers.alipay.credentials import new_credentials
    creds = new_credentials()
    paid = payment(status=PaymentStatus.SUCCEEDED, paid_at=NOW, extra={"charset": "gbk"})
    merchant = type("M", (), {"for_provider": lambda self, name: creds})()
    request = await AlipayChannel().render(notification(paid), merchant, 1, NOW + 1)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=gbk"
    params = dict(parse_qsl(request.body.decode("ascii"), encoding="gbk"))
    assert params["subject"] == "商品" and params["charset"] == "gbk"
    assert signing.verify_notify(params, creds["alipay_public_key_pem"])
