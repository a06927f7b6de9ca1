"""The console and the cashier in headless Chromium: live updates, buttons, forms, CSRF, login, screenshots."""
from __future__ import annotations

import pytest

from console_http import quickpay
from sandbox.testing import SandboxServer

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect


def wait_live(page):
    """The page's event stream is open (nothing published from now on is missed) and its catch-up refresh is in
    (so the live part of the page is not replaced under a form the test is about to touch)."""
    expect(page.locator("#live-status.on.synced")).to_be_visible()


def goto_live(page, path):
    page.goto(path)
    wait_live(page)


def test_a_new_payment_appears_live_then_succeed_and_watch_the_notify(page, sandbox, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    page.goto("/_sandbox/")
    expect(page.locator("#payment-rows")).to_contain_text("No payments yet")
    wait_live(page)
    page.evaluate("window.__marker = 'no reload'")

    payment = quickpay(sandbox, "LIVE-1", notify_receiver.url(), amount=2599)
    row = page.locator(f"tr[data-id='{payment['id']}']")
    expect(row).to_contain_text("LIVE-1")
    expect(row).to_contain_text("¥25.99")
    expect(row).to_contain_text("PENDING")
    expect(page.locator("#payments-total")).to_have_text("1 payment")
    assert page.evaluate("window.__marker") == "no reload"

    row.get_by_role("link", name="LIVE-1").click()
    expect(page.locator("h1")).to_contain_text("LIVE-1")
    wait_live(page)
    page.locator("[data-action=succeed]").click()
    expect(page.locator("#flash")).to_have_text("Payment succeeded; notify queued")
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    # the attempt arrives after the page loaded: it shows up through the live update
    attempt = page.locator("details.attempt").first
    expect(attempt).to_contain_text("✓ 200")
    attempt.locator("summary").click()
    expect(attempt).to_contain_text('"transaction_status": "SUCCESSED"')
    expect(page.locator("#timeline")).to_contain_text("succeeded by console")
    assert len(notify_receiver.received) == 1

    page.goto("/_sandbox/")
    expect(page.locator(f"tr[data-id='{payment['id']}'] .last-notify")).to_contain_text("✓ 200")


def test_fail_with_reason_and_refund_from_the_payment_page(page, sandbox):
    failing = quickpay(sandbox, "PAGE-FAIL")
    goto_live(page, f"/_sandbox/payments/{failing['id']}")
    page.get_by_label("Failure reason").fill("insufficient balance")
    page.locator("[data-action=fail]").click()
    expect(page.locator("#flash")).to_have_text("Payment failed: insufficient balance")
    expect(page.locator("h1 .badge")).to_have_text("FAILED")
    expect(page.locator("[data-action=succeed]")).to_have_count(0)

    paid = quickpay(sandbox, "PAGE-REFUND", amount=1000)
    sandbox.admin.succeed(paid["id"])
    goto_live(page, f"/_sandbox/payments/{paid['id']}")
    page.get_by_label("Refund amount in yuan").fill("3.50")
    page.locator("[data-action=refund]").click()
    expect(page.locator("#flash")).to_contain_text("Refunded ¥3.50")
    wait_live(page)  # the answer is a new page: its catch-up refresh must not swallow the next form
    page.get_by_label("Refund amount in yuan").fill("99")
    page.locator("[data-action=refund]").click()
    expect(page.locator("#flash.flash-error")).to_have_text("refund of 9900 fen exceeds the 650 fen left to refund")


def test_pay_through_the_cashier_page(page, sandbox, notify_receiver):
    payment = quickpay(sandbox, "CASHIER-1", notify_receiver.url(), action="QRPay", amount=880)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"/_sandbox/pay/{payment['id']}")
    expect(page.locator(".pay-amount")).to_have_text("¥8.80")
    expect(page.locator(".qr svg")).to_be_visible()
    page.get_by_label("Alipay").check()
    page.locator("#pay-button").click()
    expect(page.locator("#pay-result")).to_contain_text("Paid")
    expect(page.locator("#pay-button")).to_have_count(0)
    notify_receiver.wait_for(1)
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "SUCCEEDED" and detail["payer"]["wallet"] == "alipay"


def test_create_a_merchant_and_copy_its_snippet(page, sandbox):
    page.goto("/_sandbox/merchants")
    page.get_by_role("link", name="New merchant").click()
    page.get_by_label("Name").fill("Browser shop")
    page.locator("input[name='provider.quickpay']").check()
    page.locator("input[name='quickpay.store_no']").fill("QP77770001")
    page.get_by_role("button", name="Create merchant").click()
    expect(page.locator("#flash")).to_have_text("Merchant Browser shop created")
    expect(page.locator("h1")).to_have_text("Browser shop")
    snippet = page.locator(".snippet[data-sdk=curl]")
    expect(snippet).to_contain_text(f"{sandbox.url}/QuickPay/QRPay")
    snippet.get_by_role("button", name="Copy").click()
    expect(snippet.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "QP77770001" in copied and copied.startswith("# QRPay")


def test_clock_advance_by_preset_and_by_any_amount(page, sandbox):
    before = sandbox.admin.clock()["offset_s"]
    page.goto("/_sandbox/clock")
    page.get_by_role("button", name="+1 day").click()
    expect(page.locator("#flash")).to_contain_text("Clock advanced by 1 d")
    page.get_by_label("Amount").fill("90")
    page.get_by_label("Unit").select_option("min")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Clock advanced by 90 min")
    assert sandbox.admin.clock()["offset_s"] - before == pytest.approx(86400 + 5400)
    # another tester moves the clock: the header follows without a reload
    wait_live(page)
    shown = page.locator("#sandbox-now").text_content()
    sandbox.admin.advance(10 * 86400)
    expect(page.locator("#sandbox-now")).not_to_have_text(shown)
    assert page.locator("#sandbox-now").text_content()[:10] > shown[:10]


def test_reset_asks_first(page, sandbox):
    quickpay(sandbox, "RESET-B")
    page.goto("/_sandbox/clock")
    page.get_by_role("link", name="Reset payments…").click()
    expect(page.locator("form")).to_contain_text("1 payment")
    page.get_by_label("Yes, delete every payment").check()
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("#flash")).to_contain_text("Reset: 1 payment deleted")
    assert sandbox.admin.payments()["total"] == 0


def test_a_forged_form_is_rejected_with_403(page, sandbox):
    payment = quickpay(sandbox, "CSRF-B")
    goto_live(page, f"/_sandbox/payments/{payment['id']}")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("[data-action=succeed]").click()
    assert answer.value.status == 403
    expect(page.locator("h1")).to_have_text("Form check failed")
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING"


def test_admin_token_login(chromium):
    with SandboxServer(admin_token="browser-token") as guarded:
        context = chromium.new_context(base_url=guarded.url)
        page = context.new_page()
        page.goto("/_sandbox/merchants")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.get_by_label("Admin token").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".flash-error")).to_contain_text("not this sandbox's admin token")
        page.get_by_label("Admin token").fill("browser-token")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{guarded.url}/_sandbox/merchants")
        expect(page.locator("h1")).to_have_text("Merchants")
        cookie = next(c for c in context.cookies() if c["name"] == "sandbox_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and "browser-token" not in cookie["value"]
        assert "browser-token" not in page.url
        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("h1")).to_have_text("Sign in")
        context.close()


def test_add_a_rule_in_the_form_and_see_it_listed(page, sandbox):
    page.goto("/_sandbox/")
    page.get_by_role("link", name="Rules").click()
    expect(page.locator("#rules")).to_contain_text("amount ¥4.04")
    expect(page.locator("#rules")).to_contain_text("→ fail after 5 s: insufficient balance")
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill("Slow QR payers")
    form.get_by_label("Provider").select_option("quickpay")
    form.get_by_label("Amount").fill("12.34")
    form.get_by_label("Outcome").select_option("succeed")
    form.locator("input[name=after_s]").fill("90")
    form.locator("select[name=after_s_unit]").select_option("s")
    form.locator("select[name=notify]").select_option("duplicate")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#flash")).to_have_text(
        "Rule Slow QR payers added: QuickPay, amount ¥12.34 → succeed after 90 s; notify sent twice")
    first = page.locator("#rules tbody tr").first  # a rule added goes before the shipped magic amounts
    expect(first).to_contain_text("Slow QR payers")
    expect(first).to_contain_text("QuickPay, amount ¥12.34")
    expect(first).to_contain_text("→ succeed after 90 s; notify sent twice")
    expect(page.locator("#rules-total")).to_have_text("7 rules")
    # a model error is the flash message, and the form keeps what was typed
    form.get_by_label("Name").fill("Broken")
    form.get_by_label("out_trade_no pattern").fill("([")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#flash.flash-error")).to_contain_text("not a regular expression")
    expect(form.get_by_label("out_trade_no pattern")).to_have_value("([")
    # delete it again
    page.get_by_role("button", name="Delete rule Slow QR payers").click()
    expect(page.locator("#flash")).to_have_text("Rule Slow QR payers deleted")
    expect(page.locator("#rules")).not_to_contain_text("Slow QR payers")


def test_hold_a_refund_then_settle_it_as_failed_with_a_click(page, sandbox):
    paid = quickpay(sandbox, "PAGE-HOLD", amount=2000)
    sandbox.admin.succeed(paid["id"])
    goto_live(page, f"/_sandbox/payments/{paid['id']}")
    page.get_by_label("Refund amount in yuan").fill("5.00")
    page.get_by_label("hold as PROCESSING").check()
    page.locator("[data-action=refund]").click()
    expect(page.locator("#flash")).to_contain_text("held as PROCESSING")
    row = page.locator("tr[data-refund-id]")
    expect(row.locator(".badge")).to_have_text("PROCESSING")
    wait_live(page)
    page.get_by_label("Refund failure reason").fill("card account closed")
    page.locator("[data-action=refund-fail]").click()
    expect(page.locator("#flash")).to_contain_text("failed: card account closed")
    expect(row.locator(".badge")).to_have_text("FAILED")
    expect(row).to_contain_text("card account closed")
    expect(page.locator("[data-action=refund-fail]")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("failed by console: card account closed")
    detail = sandbox.admin.payment(paid["id"])
    assert detail["refunds"][0]["status"] == "FAILED" and detail["refunded_amount"] == 0
    # held by the admin API while the page is open: the buttons appear live
    refund = sandbox.admin.refund(paid["id"], amount=300, hold=True)
    settle = page.locator(f"tr[data-settle-refund='{refund['id']}']")
    settle.get_by_role("button", name="Close").click()
    expect(page.locator("#flash")).to_contain_text("(¥3.00) closed")
    expect(page.locator(f"tr[data-refund-id='{refund['id']}'] .badge")).to_have_text("CLOSED")
