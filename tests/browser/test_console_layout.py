"""The console in Chromium at a laptop's and a phone's width: nothing runs off the side, the whole menu is reachable;
and what the first hour meets there: partial refunds, times in the display zone, the rules' order and warnings."""
from __future__ import annotations

from datetime import datetime

import pytest

from console_http import quickpay
from test_console_browser import goto_live, wait_live

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect

# Elements wider than what holds them: the page itself, and any card whose content runs past its edge (a card shows
# what overflows it, so the page can look fine while a table sticks out of its card).
OVERFLOW = """() => {
  const root = document.documentElement;
  const out = [];
  if (root.scrollWidth > root.clientWidth) out.push(`page ${root.scrollWidth} > ${root.clientWidth}`);
  document.querySelectorAll('.card:not(.table-card)').forEach(card => {
    if (card.scrollWidth > card.clientWidth + 1)
      out.push(`${(card.querySelector('h2') || card).textContent.trim().slice(0, 30)} ${card.scrollWidth} > ${card.clientWidth}`);
  });
  return out;
}"""


def paid_with_refunds(sandbox) -> dict:
    payment = quickpay(sandbox, "LAYOUT-20261125-0001-LONGORDERNO", amount=1000)
    sandbox.admin.succeed(payment["id"])
    sandbox.admin.refund(payment["id"], amount=350, out_refund_no="REFUND-2026-11-25-000000001-PARTIAL")
    sandbox.admin.refund(payment["id"], amount=100, out_refund_no="RF-HELD-2", hold=True)
    return payment


def test_a_payment_with_refunds_fits_a_1280_px_screen(page, sandbox):
    payment = paid_with_refunds(sandbox)
    page.set_viewport_size({"width": 1280, "height": 860})
    goto_live(page, f"/_sandbox/payments/{payment['id']}")
    expect(page.locator("[data-action=refund-fail]")).to_be_visible()
    assert page.evaluate(OVERFLOW) == []
    # the partial refund, said as such
    expect(page.locator("h1 .payment-status")).to_have_text("PARTIALLY REFUNDED ¥4.50 of ¥10.00")
    expect(page.locator("#payment-refunded")).to_contain_text("partially refunded, ¥5.50 left")


def test_the_menu_and_pages_fit_a_phone(page, sandbox):
    payment = paid_with_refunds(sandbox)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/_sandbox/", f"/_sandbox/payments/{payment['id']}", "/_sandbox/rules", "/_sandbox/merchants/new",
                 "/_sandbox/clock"):
        goto_live(page, path)
        assert page.evaluate(OVERFLOW) == [], path
        links = page.locator(".topbar nav a")
        expect(links.first).to_be_visible()
        assert links.count() >= 5
        for i in range(links.count()):  # every menu entry on the screen, none cut off or scrolled away
            box = links.nth(i).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (path, i, box)
    page.locator(".topbar nav a", has_text="Rules").click()
    expect(page.locator("h1")).to_have_text("Rules")


def test_times_in_the_display_zone_with_utc_on_hover(page, sandbox):
    payment = quickpay(sandbox, "TZ-BROWSER")
    goto_live(page, f"/_sandbox/payments/{payment['id']}")
    # the ticking header clock: the time in Asia/Shanghai, UTC in its title (both set by the same tick)
    shown, title = page.evaluate("""() => [document.getElementById('sandbox-now').textContent,
                                           document.getElementById('clock-chip').title]""")
    assert title.startswith("Sandbox time in Asia/Shanghai; ") and title.endswith(" UTC")
    utc = datetime.fromisoformat(title.removeprefix("Sandbox time in Asia/Shanghai; ").removesuffix(" UTC"))
    assert (datetime.fromisoformat(shown) - utc).total_seconds() == 8 * 3600
    expect(page.locator(".clock-chip .zone-label")).to_have_text("UTC+08:00")
    created = page.locator("#timeline .event-time time").first
    hover = created.get_attribute("title").removesuffix(" UTC")
    assert (datetime.fromisoformat(created.text_content()) - datetime.fromisoformat(hover)).total_seconds() == 8 * 3600


def test_rules_page_warns_about_a_shadowed_rule_until_it_is_moved_up(page, sandbox):
    sandbox.admin.add_rule(id="all-quickpay", name="Every QuickPay payment", match={"provider": "quickpay"},
                           action={"outcome": "succeed", "after_s": 60})
    goto_live(page, "/_sandbox/rules")
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill("QuickPay ¥5 declined")
    form.get_by_label("Provider").select_option("quickpay")
    form.get_by_label("Amount").fill("5")
    form.get_by_label("Outcome").select_option("fail")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#flash.flash-warn")).to_contain_text(
        "Never applies: rule #1 (Every QuickPay payment) comes first")
    row = page.locator("#rules tbody tr").nth(1)
    expect(row).to_contain_text("QuickPay ¥5 declined")
    expect(row.locator(".rule-warning")).to_contain_text("Never applies")
    row.get_by_role("button", name="Move rule QuickPay ¥5 declined up").click()
    expect(page.locator("#flash")).to_have_text("Rule QuickPay ¥5 declined moved to #1")
    expect(page.locator("#rules tbody tr").first).to_contain_text("QuickPay ¥5 declined")
    expect(page.locator("#rules .rule-warning")).to_have_count(0)
    # edit it: a plain-words error beside the field, then saved in place
    page.get_by_role("link", name="Edit rule QuickPay ¥5 declined").click()
    expect(page.locator("#rule-form-title")).to_have_text("Edit rule #1")
    expect(form.get_by_label("Amount")).to_have_value("5.00")
    form.get_by_label("out_trade_no pattern").fill("([")
    form.get_by_role("button", name="Save rule").click()
    expect(form.locator("[data-field-error=out_trade_no_pattern]")).to_contain_text("Not a regular expression")
    form.get_by_label("out_trade_no pattern").fill("^DECLINE-")
    form.get_by_role("button", name="Save rule").click()
    expect(page.locator("#flash")).to_contain_text("Rule QuickPay ¥5 declined saved")
    expect(page.locator("#rules tbody tr").first).to_contain_text("out_trade_no matching /^DECLINE-/")
    assert sandbox.admin.rules()["rules"][0]["match"]["out_trade_no_pattern"] == "^DECLINE-"


def test_an_unknown_filter_value_is_called_out(page, sandbox):
    quickpay(sandbox, "FILTER-B")
    goto_live(page, "/_sandbox/?status=NOPE")
    expect(page.locator("#filter-problems")).to_contain_text("Unknown status 'NOPE', so this filter is not applied")
    expect(page.locator("#payment-rows")).to_contain_text("FILTER-B")
