"""Screenshots of the console and the cashier for the README, from a sandbox with varied payments.

Written to docs/screenshots/ when SANDBOX_SCREENSHOTS=1 (then commit them), to a temporary folder otherwise, so a
normal test run exercises the pages without touching the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from console_http import quickpay
from test_console_browser import goto_live, wait_live
from sandbox.providers import all_providers
from sandbox.testing.receiver import NotifyReceiver

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect
REGISTERED = {p.name for p in all_providers()}


# How a correct merchant acknowledges each provider's notify, one endpoint per integration.
ACKS = {
    "/notify/quickpay": (200, "SUCCESS"),
    "/notify/alipay": (200, "success"),
    "/notify/wechat-v2": (200, "<xml><return_code><![CDATA[SUCCESS]]></return_code>"
                               "<return_msg><![CDATA[OK]]></return_msg></xml>"),
    "/notify/wechat-v3": (204, ""),
}


class MerchantReceiver(NotifyReceiver):
    """The notify receiver, answering each provider on its own path the way that provider asks to be answered."""

    async def _handle(self, request):
        await request.read()  # first, so the base handler's read (cached now) does not yield in between
        self.reply = ACKS.get(request.path, (404, "no such endpoint"))  # what the base handler answers
        return await super()._handle(request)


@pytest.fixture
def merchant_receiver():
    with MerchantReceiver() as receiver:
        yield receiver


def wait_notified(sandbox, payment_id: str, count: int = 1) -> None:
    import time
    for _ in range(100):
        notes = sandbox.admin.payment(payment_id)["notifications"]
        if sum(n["attempts"] for n in notes) >= count:
            return
        time.sleep(0.05)


def varied_payments(sandbox, receiver) -> str:
    """A few payments in every state, through the providers' own APIs. Returns the one to show in detail."""
    quickpay(sandbox, "SO-20261125-0007", action="QRPay", amount=4900, iteminfo="Annual membership")
    refunded = quickpay(sandbox, "SO-20261125-0006", receiver.url("/notify/quickpay"), amount=15800, iteminfo="Headphones")
    sandbox.admin.succeed(refunded["id"])
    sandbox.admin.refund(refunded["id"], amount=5000)
    failed = quickpay(sandbox, "SO-20261125-0005", amount=399)
    sandbox.admin.fail(failed["id"], reason="insufficient balance")
    if "alipay" in REGISTERED:
        from alipay import AliPay
        creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
        client = AliPay(appid=creds["app_id"], app_private_key_string=creds["app_private_key_pem"],
                        alipay_public_key_string=creds["alipay_public_key_pem"], sign_type="RSA2",
                        app_notify_url=receiver.url("/notify/alipay"))
        client._gateway = f"{sandbox.url}/gateway.do"
        client.api_alipay_trade_precreate(subject="Coffee beans 1 kg", out_trade_no="SO-20261125-0004",
                                          total_amount="128.00")
    if "wechat" in REGISTERED:
        from wechatpy.pay import WeChatPay

        class SandboxPay(WeChatPay):
            API_BASE_URL = f"{sandbox.url}/"
        creds = sandbox.admin.merchant("demo-wechat")["credentials"]["wechat"]
        pay = SandboxPay(appid=creds["appids"][0], api_key=creds["v2_key"], mch_id=creds["mchid"])
        pay.order.create(trade_type="NATIVE", body="Gift card", total_fee=20000, notify_url=receiver.url("/notify/wechat-v2"),
                         out_trade_no="SO-20261125-0003", client_ip="127.0.0.1", product_id="gift-200")
        wechat = sandbox.admin.payments(out_trade_no="SO-20261125-0003")["payments"][0]
        sandbox.admin.succeed(wechat["id"])
        wait_notified(sandbox, wechat["id"])
    shown = quickpay(sandbox, "SO-20261125-0002", receiver.url("/notify/quickpay"), amount=2599, iteminfo="Gift pack",
                     attach="campaign=winter")
    sandbox.admin.succeed(shown["id"])
    import requests  # the shop asks for the order state: an API call on the timeline
    requests.post(f"{sandbox.url}/QuickPay/Query", json={"store_no": "QP10000001", "order_no": "SO-20261125-0002"},
                  timeout=10)
    quickpay(sandbox, "SO-20261125-0001", receiver.url("/notify/quickpay"), amount=6800, iteminfo="Tea sampler")
    wait_notified(sandbox, shown["id"])
    sandbox.admin.refund(shown["id"], amount=500, out_refund_no="RF-0002-1", hold=True)  # waits to be settled
    wait_notified(sandbox, refunded["id"], 2)
    return shown["id"]


def hmall_users(page, sandbox, target: Path) -> None:
    """The hmall users page with its seed users and orders: Rose is topped up and Thomas frozen on the page."""
    goto_live(page, "/_sandbox/apps/hmall")
    expect(page.locator("#user-1 [data-balance]")).to_have_text("¥10,000.00")
    expect(page.locator("#order-123865420")).to_contain_text("未付款")
    page.get_by_label("Amount for demo-hmall:2:balance").fill("88.80")
    page.locator("#user-2 [data-action=top-up]").click()
    expect(page.locator("#flash")).to_have_text("Topped up ¥88.80 to user 2 (Rose): balance now ¥10,088.80")
    wait_live(page)
    page.locator("#user-4 [data-action=freeze]").click()
    expect(page.locator("#flash")).to_have_text("User 4 frozen")
    expect(page.locator("#user-4 [data-column=status]")).to_contain_text("禁止使用")
    expect(page.locator("#user-4 [data-action=unfreeze]")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(target / "console-hmall.png"), full_page=True)


def merchant_app_pages(page, sandbox, target: Path) -> None:
    """The partner and shop apps' pages: users with balances / points, orders, gift packs, coupons, addresses."""
    goto_live(page, "/_sandbox/apps/partner")
    expect(page.locator("body")).to_contain_text("41840909af844632885424fbc20cae79")
    expect(page.locator("body")).to_contain_text("拉卡拉大POS 1台装礼包 升V5")
    page.screenshot(path=str(target / "console-partner.png"), full_page=True)
    goto_live(page, "/_sandbox/apps/shop")
    expect(page.locator("body")).to_contain_text("shop-demo-token-1")
    page.screenshot(path=str(target / "console-shop.png"), full_page=True)


def requests_journal(page, sandbox, target: Path) -> None:
    """The Requests page after the calls above, with a refused signature and a mistyped path among them."""
    import requests
    body = {"store_no": "QP10000002", "order_no": "SO-20261125-0008", "sign": "0" * 32}  # a signed store, bad sign
    requests.post(f"{sandbox.url}/QuickPay/Query", json=body, timeout=10)
    requests.post(f"{sandbox.url}/QuickPay/RefundQuerry", json={"store_no": "QP10000001"}, timeout=10)
    requests.post(f"{sandbox.url}/pay/unifiedordr", data="<xml></xml>", timeout=10)
    newest = sandbox.admin.requests(limit=1)["requests"][0]
    goto_live(page, "/_sandbox/requests")
    expect(page.locator(f"tr[data-id='{newest['id']}']")).to_contain_text("did you mean /pay/unifiedorder?")
    page.screenshot(path=str(target / "console-requests.png"), full_page=True)


def test_screenshots(page, sandbox, merchant_receiver, tmp_path):
    target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" \
        if os.environ.get("SANDBOX_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    shown = varied_payments(sandbox, merchant_receiver)
    sandbox.admin.add_rule(id="timeout-orders", name="Orders named TIMEOUT-…: closed after 30 min",
                           match={"out_trade_no_pattern": "^TIMEOUT-"}, action={"outcome": "close", "after_s": 1800})
    sandbox.admin.add_rule(id="alipay-busy", name="Alipay busy: the first 2 refunds fail",
                           match={"provider": "alipay", "operation": "refund"},
                           action={"api_error": True, "api_times": 2})

    page.goto("/_sandbox/")
    expect(page.locator("#live-status.on")).to_be_visible()
    rows = page.locator("#payment-rows .last-notify")
    expect(rows.filter(has_text="✗")).to_have_count(0)  # every merchant acknowledged: no failed notify
    if "wechat" in REGISTERED:
        expect(page.locator("tr", has_text="SO-20261125-0003").locator(".last-notify")).to_contain_text("✓ 200")
    page.screenshot(path=str(target / "console-payments.png"))

    page.goto(f"/_sandbox/payments/{shown}")
    expect(page.locator("details.attempt").first).to_contain_text("✓ 200")
    page.locator("details.attempt summary").first.click()
    expect(page.locator("[data-action=refund-fail]")).to_be_visible()
    page.screenshot(path=str(target / "console-payment.png"), full_page=True)

    page.goto("/_sandbox/rules")
    expect(page.locator("#rules")).to_contain_text("→ close after 30 min")
    page.screenshot(path=str(target / "console-rules.png"), full_page=True)

    hmall_users(page, sandbox, target)
    requests_journal(page, sandbox, target)
    merchant_app_pages(page, sandbox, target)

    pending = sandbox.admin.payments(out_trade_no="SO-20261125-0007")["payments"][0]  # aggregated QR: wallets
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/_sandbox/pay/{pending['id']}")
    expect(page.locator(".qr svg")).to_be_visible()
    page.screenshot(path=str(target / "cashier.png"), full_page=True)
    for name in ("console-payments.png", "console-payment.png", "console-rules.png", "console-hmall.png",
                 "cashier.png"):
        assert (target / name).stat().st_size > 10_000
