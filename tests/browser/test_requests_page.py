"""The Requests page in headless Chromium: a call appears live, the filters, a request's page, copy as curl, and the
link from a payment to the requests that touched it."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from console_http import STORE, quickpay
from test_console_browser import goto_live, wait_live

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect


def refused_create(sandbox, order_no: str) -> dict:
    """A QuickPay create naming a store nobody has: refused with STORE_NOT_EXIST. Returns its journal entry."""
    body = json.dumps({"store_no": "QP99999999", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-1",
                       "amount": 100, "order_no": order_no, "iteminfo": "Gift pack"})
    answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", data=body,
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.json()["code"] == "STORE_NOT_EXIST"
    return sandbox.admin.requests(verdict="rejected", limit=1)["requests"][0]


def test_a_call_appears_live_and_the_filters_narrow_the_list(page, sandbox):
    page.goto("/_sandbox/requests")
    expect(page.locator("#request-rows")).to_contain_text("No requests yet")
    wait_live(page)
    page.evaluate("window.__marker = 'no reload'")

    payment = quickpay(sandbox, "REQ-LIVE-1")
    [entry] = sandbox.admin.requests(payment=payment["id"])["requests"]
    row = page.locator(f"tr[data-id='{entry['id']}']")
    expect(row).to_contain_text("POST /QuickPay/JSAPIPay")
    expect(row).to_contain_text("accepted")
    expect(row).to_contain_text("demo-quickpay")
    expect(page.locator("#requests-total")).to_have_text("1 request")
    assert page.evaluate("window.__marker") == "no reload"

    refused = refused_create(sandbox, "REQ-LIVE-2")
    refused_row = page.locator(f"tr[data-id='{refused['id']}']")
    expect(refused_row).to_contain_text("rejected")
    expect(refused_row).to_contain_text("STORE_NOT_EXIST")
    expect(page.locator("#requests-total")).to_have_text("2 requests")

    page.locator("#request-filters select[name=verdict]").select_option("rejected")
    page.locator("#request-filters button[type=submit]").click()
    expect(page).to_have_url(f"{sandbox.url}/_sandbox/requests?provider=&merchant=&verdict=rejected&since="
                             f"&path=&payment=")
    expect(page.locator("#request-rows tr[data-id]")).to_have_count(1)
    expect(page.locator(f"tr[data-id='{refused['id']}']")).to_be_visible()
    goto_live(page, "/_sandbox/requests?path=Query")
    expect(page.locator("#request-rows")).to_contain_text("No requests match these filters")


def test_a_requests_page_shows_everything_and_copies_as_curl(page, sandbox):
    refused = refused_create(sandbox, "REQ-CURL-1")
    goto_live(page, "/_sandbox/requests")
    page.locator(f"tr[data-id='{refused['id']}'] .request-line a").click()
    expect(page.locator("#request-line")).to_have_text("POST /QuickPay/JSAPIPay")
    expect(page.locator("#verdict")).to_have_text("rejected")
    expect(page.locator("#verdict-code")).to_have_text("STORE_NOT_EXIST")
    expect(page.locator("#verdict-reason")).to_have_text("门店不存在: store_no QP99999999")
    expect(page.locator("#request-body")).to_contain_text('"order_no": "REQ-CURL-1"')
    expect(page.locator("#response-body")).to_contain_text('"code":"STORE_NOT_EXIST"')
    expect(page.locator("#request-headers")).to_contain_text("application/json")

    page.locator("#copy-curl").click()
    expect(page.locator("#copy-curl")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"curl -X POST {sandbox.url}/QuickPay/JSAPIPay ")
    if shutil.which("curl"):  # the command sends the same request again: the same refusal
        again = subprocess.run(["sh", "-c", copied + " -s"], capture_output=True, text=True, timeout=30)
        assert json.loads(again.stdout)["code"] == "STORE_NOT_EXIST"
        assert sandbox.admin.requests(verdict="rejected")["total"] == 2

    raw = page.locator("#request-raw")
    assert raw.get_attribute("href") == f"/_sandbox/requests/{refused['id']}/request.bin"
    body = requests.get(f"{sandbox.url}{raw.get_attribute('href')}", timeout=10)
    assert json.loads(body.content)["order_no"] == "REQ-CURL-1"


def test_a_payment_links_to_the_requests_that_touched_it(page, sandbox):
    payment = quickpay(sandbox, "REQ-PAY-1")
    requests.post(f"{sandbox.url}/QuickPay/Query", json={"store_no": STORE, "order_no": "REQ-PAY-1"}, timeout=10)
    quickpay(sandbox, "REQ-PAY-2")
    touched = sandbox.admin.requests(payment=payment["id"])["requests"]
    goto_live(page, f"/_sandbox/payments/{payment['id']}")
    page.locator("#payment-requests").click()
    expect(page.locator("#request-rows tr[data-id]")).to_have_count(2)
    for entry in touched:
        expect(page.locator(f"tr[data-id='{entry['id']}']")).to_be_visible()
    expect(page.locator("input[name=payment]")).to_have_value(payment["id"])
