"""The payer's cashier pages over HTTP: pay, fail, cancel; wallet choice; finished and expired orders."""
from __future__ import annotations

import pytest
import requests

from console_http import Browser, quickpay


@pytest.fixture
def payer(sandbox):
    return Browser(sandbox.url)


def test_page_shows_the_order_a_qr_code_of_itself_and_buttons(sandbox, payer):
    payment = quickpay(sandbox, "CASH-1", amount=12345)
    page = payer.page(f"/_sandbox/pay/{payment['id']}")
    assert page.status_code == 200
    text = page.text
    for expected in ("Demo QuickPay store (no signing)", "123.45", "Gift pack", "QuickPay", "CASH-1", "<svg",
                     'id="pay-button"', 'id="fail-button"', 'id="cancel-button"', 'name="viewport"'):
        assert expected in text, expected
    assert 'name="wallet"' not in text  # a JSAPI payment already has its wallet


def test_qr_code_encodes_the_absolute_page_url():
    from sandbox.cashier.pages import qr_svg
    import segno
    svg = qr_svg("http://pay.example:8080/_sandbox/pay/pay_123")
    assert svg.startswith("<svg") and segno.make("http://pay.example:8080/_sandbox/pay/pay_123", error="m").svg_inline(
        scale=4, border=2, dark="#1f2933", light="#ffffff") == svg


def test_pay_succeeds_as_the_cashier_and_shows_the_result(sandbox, payer, notify_receiver):
    payment = quickpay(sandbox, "CASH-2", notify_receiver.url())
    payer.page(f"/_sandbox/pay/{payment['id']}")
    result = payer.form(f"/_sandbox/pay/{payment['id']}/pay")
    assert result.url.endswith(f"/_sandbox/pay/{payment['id']}") and "Paid" in result.text
    assert 'id="pay-button"' not in result.text
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "SUCCEEDED" and any("by cashier" in e["summary"] for e in detail["events"])
    notify_receiver.wait_for(1)
    again = payer.form(f"/_sandbox/pay/{payment['id']}/pay")
    assert "cannot become SUCCEEDED" in again.text.replace("&#39;", "'")


def test_aggregated_qr_lets_the_payer_choose_the_wallet(sandbox, payer):
    payment = quickpay(sandbox, "CASH-3", action="QRPay")
    page = payer.page(f"/_sandbox/pay/{payment['id']}").text
    assert 'name="wallet" value="wechat"' in page and 'name="wallet" value="alipay"' in page
    refused = payer.form(f"/_sandbox/pay/{payment['id']}/pay", {"wallet": "paypal"})
    assert "choose WeChat Pay or Alipay" in refused.text
    payer.form(f"/_sandbox/pay/{payment['id']}/pay", {"wallet": "alipay"})
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "SUCCEEDED" and detail["payer"]["wallet"] == "alipay"
    query = requests.post(f"{sandbox.url}/QuickPay/Query", json={"store_no": "QP10000001", "order_no": "CASH-3"})
    assert query.json()["data"]["paytype"] == "ALIPAY_NATIVE"


def test_fail_and_cancel(sandbox, payer):
    failed = quickpay(sandbox, "CASH-4")
    page = payer.form(f"/_sandbox/pay/{failed['id']}/fail")
    assert "Payment failed" in page.text and 'id="pay-button"' not in page.text
    assert sandbox.admin.payment(failed["id"])["status"] == "FAILED"
    canceled = quickpay(sandbox, "CASH-5")
    page = payer.form(f"/_sandbox/pay/{canceled['id']}/cancel")
    assert "It was canceled" in page.text
    detail = sandbox.admin.payment(canceled["id"])
    assert detail["status"] == "CLOSED" and detail["close_reason"] == "canceled"


def test_expired_and_refunded_orders_say_so_without_buttons(sandbox, payer):
    payment = quickpay(sandbox, "CASH-6")
    sandbox.admin.advance(3 * 3600)  # QuickPay orders close after 2 h
    page = payer.page(f"/_sandbox/pay/{payment['id']}").text
    assert "This order has expired" in page and 'id="pay-button"' not in page
    assert "expired" in payer.form(f"/_sandbox/pay/{payment['id']}/pay").text

    paid = quickpay(sandbox, "CASH-7")
    sandbox.admin.succeed(paid["id"])
    sandbox.admin.refund(paid["id"], amount=40)
    page = payer.page(f"/_sandbox/pay/{paid['id']}").text
    assert "Paid and refunded" in page and "0.40" in page


def test_unknown_payment_is_a_404_page(payer):
    page = payer.page("/_sandbox/pay/pay_unknown")
    assert page.status_code == 404 and "Payment not found" in page.text
    assert payer.form("/_sandbox/pay/pay_unknown/pay").status_code == 404


def test_after_payment_url_redirects_the_browser(sandbox, payer, monkeypatch):
    provider = sandbox.app[__import__("sandbox.appkeys", fromlist=["x"]).PROVIDERS]["quickpay"]
    monkeypatch.setattr(provider, "after_payment_url",
                        lambda payment, merchant: f"https://shop.example/return?out_trade_no={payment.out_trade_no}",
                        raising=False)
    payment = quickpay(sandbox, "CASH-8")
    payer.page(f"/_sandbox/pay/{payment['id']}")
    response = payer.form(f"/_sandbox/pay/{payment['id']}/pay", follow=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://shop.example/return?out_trade_no=CASH-8"


def test_alipay_app_pay_page(sandbox, payer):
    page = payer.page("/_sandbox/pay/alipay-app")
    assert page.status_code == 200 and "<textarea" in page.text
    empty = payer.form("/_sandbox/pay/alipay-app", {"order_string": " "})
    assert empty.status_code == 400 and "Paste the order string" in empty.text
    probe = requests.post(f"{sandbox.url}/_sandbox/api/alipay/app-pay", json={"order_string": "x=1"}, timeout=10)
    assert probe.status_code == 400 and probe.json()["error"]["code"], probe.text  # there, and refusing junk
    bad = payer.form("/_sandbox/pay/alipay-app", {"order_string": "app_id=1&sign=nope"})
    assert bad.status_code == 400 and 'id="app-pay-error"' in bad.text

    from alipay import AliPay
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    client = AliPay(appid=creds["app_id"], app_private_key_string=creds["app_private_key_pem"],
                    alipay_public_key_string=creds["alipay_public_key_pem"], sign_type="RSA2")
    order_string = client.api_alipay_trade_app_pay(subject="App order", out_trade_no="APP-1", total_amount="2.50")
    opened = payer.form("/_sandbox/pay/alipay-app", {"order_string": order_string}, follow=False)
    assert opened.status_code == 303, opened.text
    payment = sandbox.admin.payments(out_trade_no="APP-1")["payments"][0]
    assert opened.headers["Location"] == f"/_sandbox/pay/{payment['id']}"
    assert "2.50" in payer.page(opened.headers["Location"]).text


def test_alipay_page_pay_returns_the_payer_to_the_signed_return_url(sandbox, payer):
    """Alipay page pay end to end: gateway → cashier → pay → the shop's return_url with a verifiable sign."""
    import urllib.parse
    from alipay import AliPay
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    client = AliPay(appid=creds["app_id"], app_private_key_string=creds["app_private_key_pem"],
                    alipay_public_key_string=creds["alipay_public_key_pem"], sign_type="RSA2")
    order = client.api_alipay_trade_page_pay(subject="Page order", out_trade_no="PAGE-1", total_amount="9.90",
                                             return_url="https://shop.example/return")
    cashier = payer.get(f"{sandbox.url}/gateway.do?{order}", allow_redirects=False, timeout=10)
    assert cashier.status_code in (302, 303) and "/_sandbox/pay/pay_" in cashier.headers["Location"]
    page = payer.page(urllib.parse.urlsplit(cashier.headers["Location"]).path)
    assert "9.90" in page.text and "Alipay" in page.text
    paid = payer.form(urllib.parse.urlsplit(cashier.headers["Location"]).path + "/pay", follow=False)
    assert paid.status_code == 303
    back = urllib.parse.urlsplit(paid.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "https://shop.example/return"
    params = dict(urllib.parse.parse_qsl(back.query))
    assert params["out_trade_no"] == "PAGE-1" and params["total_amount"] == "9.90"
    sign = params.pop("sign")
    params.pop("sign_type", None)
    assert client.verify(params, sign)
