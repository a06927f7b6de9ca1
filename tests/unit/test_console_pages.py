"""The console's pages and forms over HTTP: every route renders, every action calls the engine and says so."""
from __future__ import annotations

import html
import json
import re
import threading
import time
from pathlib import Path

import pytest
import requests

from console_http import Browser, quickpay


@pytest.fixture
def browser(sandbox):
    return Browser(sandbox.url)


def flash_of(response) -> str:
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>([^<]*)</div>', response.text)
    return f"{found.group(1)}: {html.unescape(found.group(2))}" if found else ""


def test_every_page_renders(sandbox, browser):
    payment = quickpay(sandbox, "PAGES-1")
    for path in ["/_sandbox/", "/_sandbox/payments", f"/_sandbox/payments/{payment['id']}", "/_sandbox/merchants",
                 "/_sandbox/merchants/new", "/_sandbox/merchants/demo-quickpay", "/_sandbox/clock", "/_sandbox/rules",
                 "/_sandbox/reset"]:
        response = browser.page(path)
        assert response.status_code == 200, path
        assert "text/html" in response.headers["Content-Type"] and "Traceback" not in response.text
    assert requests.get(f"{sandbox.url}/_sandbox", allow_redirects=False).status_code == 308
    css = requests.get(f"{sandbox.url}/_sandbox/static/sandbox.css", timeout=5)
    assert css.status_code == 200 and "Set-Cookie" not in css.headers
    # without an admin token there is nothing to sign in to
    login = requests.get(f"{sandbox.url}/_sandbox/login?next=/_sandbox/clock", allow_redirects=False, timeout=5)
    assert login.status_code == 303 and login.headers["Location"] == "/_sandbox/clock"


def test_payments_list_filters_search_and_paging(sandbox, browser):
    for i in range(3):
        quickpay(sandbox, f"LIST-{i}", amount=100 + i)
    page = browser.page("/_sandbox/").text
    assert page.index("LIST-2") < page.index("LIST-1") < page.index("LIST-0")  # newest first
    assert "¥1.02" in page and "3 payments" in page
    assert "LIST-1" in browser.page("/_sandbox/?q=LIST-1").text
    assert "LIST-0" not in browser.page("/_sandbox/?q=LIST-1").text
    assert "No payments match" in browser.page("/_sandbox/?provider=quickpay&status=SUCCEEDED").text
    assert "LIST-0" in browser.page("/_sandbox/?merchant=demo-quickpay&status=pending").text
    assert "LIST-0" not in browser.page("/_sandbox/?merchant=demo-quickpay-signed").text
    # the live fragment is only the rows
    fragment = browser.page("/_sandbox/?q=LIST", headers={"X-Fragment": "1"}).text
    assert fragment.lstrip().startswith("<tbody") and "<html" not in fragment
    # paging: 25 a page
    for i in range(24):
        quickpay(sandbox, f"MORE-{i}")
    first, second = browser.page("/_sandbox/").text, browser.page("/_sandbox/?page=2").text
    assert "Page 1 of 2" in first and "LIST-0" not in first and "LIST-0" in second
    assert browser.page("/_sandbox/?page=x").status_code == 200


def test_last_notify_column_shows_the_newest_attempt(sandbox, browser, notify_receiver):
    notify_receiver.reply = (500, "nope")
    payment = quickpay(sandbox, "NOTIFY-COL", notify_receiver.url())
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    sandbox.admin.notifications(payment["id"])  # let the attempt be journaled
    for _ in range(50):
        if sandbox.admin.payment(payment["id"])["notifications"][0]["attempts"]:
            break
        time.sleep(0.1)
    row = browser.page("/_sandbox/?q=NOTIFY-COL").text
    assert "✗ 500" in row


def test_succeed_from_the_console_notifies_and_says_so(sandbox, browser, notify_receiver):
    payment = quickpay(sandbox, "ACT-1", notify_receiver.url())
    response = browser.form(f"/_sandbox/payments/{payment['id']}/succeed")
    assert response.status_code == 200 and response.url.endswith(f"/_sandbox/payments/{payment['id']}")
    assert flash_of(response) == "ok: Payment succeeded; notify queued"
    notify_receiver.wait_for(1)
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "SUCCEEDED"
    assert any("succeeded by console" in e["summary"] for e in detail["events"])
    # the flash is shown once
    assert flash_of(browser.page(f"/_sandbox/payments/{payment['id']}")) == ""


def test_engine_errors_are_flashed_not_tracebacks(sandbox, browser):
    payment = quickpay(sandbox, "ACT-2")
    browser.form(f"/_sandbox/payments/{payment['id']}/close")
    again = browser.form(f"/_sandbox/payments/{payment['id']}/succeed")
    assert again.status_code == 200
    assert flash_of(again) == "error: payment is CLOSED; cannot become SUCCEEDED"
    refund = browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "0.10"})
    assert flash_of(refund).startswith("error: payment is CLOSED")
    missing = browser.form("/_sandbox/payments/pay_missing/succeed")
    assert flash_of(missing) == "error: no payment 'pay_missing'"


def test_fail_with_reason_close_and_delayed_notify(sandbox, browser, notify_receiver):
    failed = quickpay(sandbox, "ACT-3", notify_receiver.url())
    response = browser.form(f"/_sandbox/payments/{failed['id']}/fail", {"reason": "card declined"})
    assert flash_of(response) == "ok: Payment failed: card declined"
    assert sandbox.admin.payment(failed["id"])["fail_reason"] == "card declined"

    later = quickpay(sandbox, "ACT-4", notify_receiver.url())
    response = browser.form(f"/_sandbox/payments/{later['id']}/succeed",
                            {"notify_delay": "2", "notify_delay_unit": "h"})
    assert flash_of(response) == "ok: Payment succeeded; notify in 7200 s"
    (notification,) = sandbox.admin.payment(later["id"])["notifications"]
    assert notification["next_attempt_at"] - sandbox.admin.clock()["now"] > 7000

    bad = browser.form(f"/_sandbox/payments/{later['id']}/notify", {"delay": "soon"})
    assert flash_of(bad) == "error: delay must be a number, not 'soon'"


def test_refund_amounts_in_yuan(sandbox, browser):
    payment = quickpay(sandbox, "REF-1", amount=1000)
    browser.form(f"/_sandbox/payments/{payment['id']}/succeed")
    assert 'value="10.00"' in browser.page(f"/_sandbox/payments/{payment['id']}").text  # prefilled: all of it
    ok = browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "6.00"})
    assert flash_of(ok).startswith("ok: Refunded ¥6.00")
    too_much = browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "4.01"})
    assert flash_of(too_much) == "error: refund of 401 fen exceeds the 400 fen left to refund"
    for bad in ("abc", "1.234", "0", "-1"):
        assert flash_of(browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": bad})).startswith(
            "error: the amount must")
    detail = sandbox.admin.payment(payment["id"])
    assert detail["refunded_amount"] == 600 and len(detail["refunds"]) == 1


def test_notification_deliver_suppress_and_resend(sandbox, browser, notify_receiver):
    payment = quickpay(sandbox, "NTF-1", notify_receiver.url())
    browser.form(f"/_sandbox/payments/{payment['id']}/succeed", {"notify_delay": "1", "notify_delay_unit": "d"})
    (notification,) = sandbox.admin.payment(payment["id"])["notifications"]
    suppressed = browser.form(f"/_sandbox/notifications/{notification['id']}/suppress")
    assert flash_of(suppressed).startswith("ok: Notification suppressed")
    assert sandbox.admin.payment(payment["id"])["notifications"][0]["status"] == "suppressed"
    delivered = browser.form(f"/_sandbox/notifications/{notification['id']}/deliver")
    assert flash_of(delivered) == "ok: Delivery now requested"
    notify_receiver.wait_for(1)
    later = browser.form(f"/_sandbox/notifications/{notification['id']}/deliver", {"delay": "30"})
    assert flash_of(later) == "ok: Delivery in 30 s requested"
    resent = browser.form(f"/_sandbox/payments/{payment['id']}/notify")
    assert flash_of(resent).startswith("ok: New ") and "notification queued" in flash_of(resent)
    notify_receiver.wait_for(2)
    assert len(sandbox.admin.payment(payment["id"])["notifications"]) == 2
    page = browser.page(f"/_sandbox/payments/{payment['id']}").text
    assert "attempt" in page and "Request" in page and notification["id"] in page
    missing = browser.form("/_sandbox/notifications/ntf_missing/deliver")
    assert missing.status_code == 404


def test_payment_page_shows_fields_timeline_and_attempts(sandbox, browser, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = quickpay(sandbox, "SHOW-1", notify_receiver.url(), attach="a=1")
    sandbox.admin.succeed(payment["id"])
    notify_receiver.wait_for(1)
    for _ in range(50):
        if sandbox.admin.payment(payment["id"])["notifications"][0]["attempts"]:
            break
        time.sleep(0.1)
    page = browser.page(f"/_sandbox/payments/{payment['id']}").text
    for text in (payment["provider_trade_no"], "SHOW-1", "a=1", "¥1.00", "succeeded by admin-api", "✓ 200",
                 "SUCCESS", "create request (raw)", notify_receiver.url()):
        assert text in page, text
    fragment = browser.page(f"/_sandbox/payments/{payment['id']}", headers={"X-Fragment": "1"}).text
    assert "<html" not in fragment and "SHOW-1" in fragment
    assert browser.page("/_sandbox/payments/pay_nope").status_code == 404


def test_merchant_create_detail_and_key_download(sandbox, browser):
    created = browser.form("/_sandbox/merchants", {"name": "Shop QA", "id": "shop-qa", "provider.quickpay": "1",
                                                   "quickpay.store_no": "QP55550001", "quickpay.key": "k" * 32})
    assert created.url.endswith("/_sandbox/merchants/shop-qa") and flash_of(created) == "ok: Merchant Shop QA created"
    assert sandbox.admin.merchant("shop-qa")["credentials"]["quickpay"]["store_no"] == "QP55550001"
    assert "QP55550001" in created.text and "curl" in created.text
    assert "Shop QA" in browser.page("/_sandbox/merchants").text

    # each refusal in plain words next to its field, and on top
    for fields, field, message in [
            ({"name": "", "provider.quickpay": "1"}, "name", "Give the merchant a name"),
            ({"name": "X"}, "providers", "Choose at least one provider"),
            ({"name": "X", "id": "bad id!", "provider.quickpay": "1"}, "id", "The id may hold"),
            ({"name": "X", "id": "shop-qa", "provider.quickpay": "1"}, "id", "There is a merchant 'shop-qa' already"),
            ({"name": "X", "provider.quickpay": "1", "quickpay.store_no": "QP55550001"}, "provider.quickpay",
             "QP55550001 is already used by merchant shop-qa")]:
        refused = browser.form("/_sandbox/merchants", fields)
        text = html.unescape(refused.text)
        assert refused.status_code == 400 and "Merchant not created." in flash_of(refused), message
        assert re.search(rf'data-field-error="{re.escape(field)}">{re.escape(message)}', text), (message, text)
        assert "Value error" not in text and "Traceback" not in text

    assert browser.page("/_sandbox/merchants/nobody").status_code == 404
    assert browser.page("/_sandbox/merchants/shop-qa/keys/quickpay/key").status_code == 404  # not a PEM


def test_pem_downloads(sandbox, browser):
    creds = json.loads(Path("fixtures/wechat/demo-cert.json").read_text())
    sandbox.call(sandbox.engine.create_merchant("PEM test", {"wechat": {**creds, "mchid": "1999999999"}}, [],
                                                merchant_id="pem-test"))
    page = browser.page("/_sandbox/merchants/pem-test").text
    assert "/_sandbox/merchants/pem-test/keys/wechat/merchant_private_key_pem" in page
    download = browser.page("/_sandbox/merchants/pem-test/keys/wechat/platform_certificate_pem")
    assert download.status_code == 200 and download.text == creds["platform_certificate_pem"]
    assert download.headers["Content-Disposition"] == \
        'attachment; filename="pem-test-wechat-platform_certificate.pem"'


def test_merchant_with_generated_keys_for_every_provider(sandbox, browser):
    providers = sorted(p.name for p in __import__("sandbox.providers", fromlist=["x"]).all_providers())
    fields = {"name": "All providers", "id": "all-providers", **{f"provider.{p}": "1" for p in providers}}
    if "wechat" in providers:
        fields["wechat.mode"] = "public-key"
    created = browser.form("/_sandbox/merchants", fields)
    assert created.status_code == 200, created.text
    merchant = sandbox.admin.merchant("all-providers")
    assert sorted(merchant["credentials"]) == providers
    if "wechat" in providers:
        assert merchant["credentials"]["wechat"]["mode"] == "public-key"
        assert "public_key_id=" in created.text


def test_clock_presets_any_amount_and_errors(sandbox, browser):
    before = sandbox.admin.clock()["offset_s"]
    response = browser.form("/_sandbox/clock/advance", {"amount": "3600"})
    assert flash_of(response).startswith("ok: Clock advanced by 1 h: now ")
    response = browser.form("/_sandbox/clock/advance", {"amount": "2", "unit": "d"})
    assert flash_of(response).startswith("ok: Clock advanced by 2 d")
    assert sandbox.admin.clock()["offset_s"] - before == pytest.approx(3600 + 2 * 86400, abs=0.01)
    for amount in ("", "-5", "x", "1e12"):
        assert flash_of(browser.form("/_sandbox/clock/advance", {"amount": amount})).startswith("error:"), amount


def test_reset_needs_the_confirmation(sandbox, browser):
    quickpay(sandbox, "RESET-1")
    assert "This deletes <strong>1 payment</strong>" in browser.page("/_sandbox/reset").text
    unconfirmed = browser.form("/_sandbox/reset")
    assert flash_of(unconfirmed) == "error: Tick the box to confirm the reset"
    assert sandbox.admin.payments()["total"] == 1
    done = browser.form("/_sandbox/reset", {"confirm": "yes"})
    assert flash_of(done).startswith("ok: Reset: 1 payment deleted")
    assert sandbox.admin.payments()["total"] == 0 and sandbox.admin.merchants()["merchants"]


def test_sse_stream_carries_engine_events(sandbox):
    received: list[dict] = []
    content_types: list[str] = []
    failures: list[BaseException] = []
    ready = threading.Event()

    def listen():  # only records: an assert in this thread would never fail the test
        try:
            with requests.get(f"{sandbox.url}/_sandbox/events", stream=True, timeout=10) as response:
                content_types.append(response.headers.get("Content-Type", ""))
                for line in response.iter_lines(decode_unicode=True):
                    if line.startswith(": connected"):
                        ready.set()
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
                        if received[-1]["type"] == "clock":
                            return
        except BaseException as exc:
            failures.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(5)
    assert not failures, failures
    payment = quickpay(sandbox, "SSE-1")
    sandbox.admin.advance(1)
    thread.join(10)
    assert not thread.is_alive(), f"the stream carried no clock event; got {received}"
    assert not failures, failures
    assert len(content_types) == 1 and content_types[0].startswith("text/event-stream"), content_types
    assert {"type": "payment", "payment_id": payment["id"], "status": "PENDING"} in received
    assert received[-1]["type"] == "clock"


def test_rules_page_lists_the_magic_amounts_in_plain_words(sandbox, browser):
    page = browser.page("/_sandbox/rules")
    assert page.status_code == 200 and 'href="/_sandbox/rules" aria-current="page"' in page.text
    text = html.unescape(page.text)
    for rule in sandbox.admin.rules()["rules"]:  # every rule, in order
        assert rule["id"] in text
    ids = [r["id"] for r in sandbox.admin.rules()["rules"]]
    assert [text.index(f'data-rule-id="{i}"') for i in ids] == sorted(text.index(f'data-rule-id="{i}"') for i in ids)
    for words in ("amount ¥4.04", "→ fail after 5 s: insufficient balance", "notify never sent", "notify sent twice",
                  "notify 10 min late", "refunds stay PROCESSING until settled"):
        assert words in text, words


def test_add_a_fault_rule_from_the_form_and_watch_its_hits(sandbox, browser):
    added = browser.form("/_sandbox/rules", {
        "name": "QuickPay busy twice", "provider": "quickpay", "operation": "create", "api_error": "yes",
        "api_delay_s": "0.2", "api_delay_s_unit": "s", "api_times": "2", "notify": "normal", "refund": "succeed"})
    assert flash_of(added) == ("ok: Rule QuickPay busy twice added: QuickPay, create calls → answer 0.2 s late and "
                               "answer the provider's system error, the first 2 calls (0 so far)")
    (rule,) = [r for r in sandbox.admin.rules()["rules"] if r["name"] == "QuickPay busy twice"]
    assert rule["match"]["operation"] == "create"
    assert rule["action"]["api_error"] is True and rule["action"]["api_delay_s"] == 0.2
    assert rule["action"]["api_times"] == 2
    assert requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", timeout=10, json={
        "store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
        "order_no": "BUSY-1"}).json()["code"] == "FAIL"
    page = html.unescape(browser.page("/_sandbox/rules").text)
    assert "the first 2 calls (1 so far)" in page
    refused = browser.form("/_sandbox/rules", {"name": "bad", "api_error": "yes", "api_times": "two",
                                               "notify": "normal", "refund": "succeed"})
    assert refused.status_code == 400 and "For the first N calls: must be a whole number" in flash_of(refused)


def test_add_a_rule_from_the_form_and_it_applies(sandbox, browser):
    added = browser.form("/_sandbox/rules", {
        "name": "¥6.66 declined", "provider": "quickpay", "amount": "6.66", "out_trade_no_pattern": "^RULE-",
        "outcome": "fail", "after_s": "2", "after_s_unit": "min", "reason": "card declined",
        "notify": "delay", "notify_delay_s": "30", "notify_delay_s_unit": "s", "refund": "succeed"})
    assert added.url.endswith("/_sandbox/rules")
    assert flash_of(added) == ("ok: Rule ¥6.66 declined added: QuickPay, amount ¥6.66, out_trade_no matching /^RULE-/ "
                               "→ fail after 2 min: card declined; notify 30 s late")
    (rule,) = [r for r in sandbox.admin.rules()["rules"] if r["name"] == "¥6.66 declined"]
    assert rule["match"] == {"provider": "quickpay", "merchant_id": None, "amount": 666,
                             "out_trade_no_pattern": "^RULE-", "trade_type": None, "operation": None}
    assert rule["action"]["after_s"] == 120 and rule["action"]["notify_delay_s"] == 30
    rules = sandbox.admin.rules()["rules"]  # after the rules added before it, before the shipped magic amounts
    assert [r["shipped"] for r in rules] == [False] + [True] * (len(rules) - 1) and rules[0]["id"] == rule["id"]
    # the payment page says which rule matched and what is scheduled
    payment = quickpay(sandbox, "RULE-1", amount=666)
    page = html.unescape(browser.page(f"/_sandbox/payments/{payment['id']}").text)
    assert "¥6.66 declined" in page and "→ fail after 2 min: card declined" in page
    assert re.search(r'id="payment-auto-action">fail at <time [^>]+>\S+ \S+</time>\s*<span class="muted">\(in 120 s',
                     page)
    sandbox.admin.advance(121)
    for _ in range(50):
        if sandbox.admin.payment(payment["id"])["status"] == "FAILED":
            break
        time.sleep(0.1)
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "FAILED" and detail["fail_reason"] == "card declined"
    assert "payment-auto-action" not in browser.page(f"/_sandbox/payments/{payment['id']}").text


def test_bad_rules_are_shown_with_what_was_typed(sandbox, browser):
    before = sandbox.admin.rules()["rules"]
    # in plain words, next to the field (and on top); never pydantic's own text
    for fields, field, message in [
            ({"amount": "abc"}, "amount", "Must be in yuan with at most two decimals, like 4.04 (not 'abc')"),
            ({"amount": "0"}, "amount", "Must be more than ¥0.00"),
            ({"out_trade_no_pattern": "(unclosed"}, "out_trade_no_pattern", "Not a regular expression: missing )"),
            ({"outcome": "fail", "after_s": "-1"}, "after_s", "Cannot be negative"),
            ({"notify_delay_s": "soon"}, "notify_delay_s", "Must be a number"),
            ({"outcome": "explode"}, "outcome", "Must be one of succeed, fail, close or pending"),
            ({"notify": "sometimes"}, "notify", "Must be one of normal, delay, drop or duplicate"),
            ({"api_delay_s": "61", "api_error": "yes"}, "api_delay_s", "Must be at most 60 seconds"),
            ({"name": "x" * 201}, "name", "Is longer than 200 characters")]:
        refused = browser.form("/_sandbox/rules", {"name": "Typed", **fields})
        text = html.unescape(refused.text)
        assert refused.status_code == 400 and "Traceback" not in refused.text, fields
        assert flash_of(refused).startswith("error: Rule not added. "), (fields, flash_of(refused))
        assert re.search(rf'data-field-error="{field}">{re.escape(message)}', text), (fields, flash_of(refused))
        for raw in ("Value error", "Input should", "match.", "action."):
            assert raw not in text, (fields, raw)
        assert 'name="amount"' in refused.text and "Add rule" in refused.text  # the form again, as typed
    exists = browser.form("/_sandbox/rules", {"name": "Typed", "id": "magic-404-declined"})
    assert flash_of(exists) == "error: Rule not added: rule 'magic-404-declined' exists"
    kept = browser.form("/_sandbox/rules", {"name": "Typed", "amount": "7.77", "after_s": "-1", "outcome": "fail"})
    assert 'value="7.77"' in kept.text and 'value="Typed"' in kept.text
    assert sandbox.admin.rules()["rules"] == before


def test_delete_one_rule_and_all_with_confirmation(sandbox, browser):
    total = len(sandbox.admin.rules()["rules"])
    deleted = browser.form("/_sandbox/rules/delete", {"id": "magic-404-declined"})
    assert flash_of(deleted) == "ok: Rule ¥4.04: the payment fails after 5 s (insufficient balance) deleted"
    assert "magic-404-declined" not in deleted.text
    assert [r["id"] for r in sandbox.admin.rules()["rules"]].count("magic-404-declined") == 0
    assert flash_of(browser.form("/_sandbox/rules/delete", {"id": "magic-404-declined"})) == \
        "error: no rule 'magic-404-declined'"
    unconfirmed = browser.form("/_sandbox/rules/delete-all")
    assert flash_of(unconfirmed) == "error: Tick the box to confirm deleting every rule"
    assert len(sandbox.admin.rules()["rules"]) == total - 1
    done = browser.form("/_sandbox/rules/delete-all", {"confirm": "yes"})
    assert flash_of(done) == f"ok: {total - 1} rules deleted" and "No rules:" in done.text
    assert sandbox.admin.rules()["rules"] == []
    # a payment keeps the rule it matched, shown even after the rule is gone
    sandbox.admin.add_rule(id="r1", name="Held refunds", match={"amount": 321}, action={"refund": "processing"})
    payment = quickpay(sandbox, "RULE-KEPT", amount=321)
    browser.form("/_sandbox/rules/delete", {"id": "r1"})
    page = html.unescape(browser.page(f"/_sandbox/payments/{payment['id']}").text)
    assert "Held refunds" in page and "amount ¥3.21 → refunds stay PROCESSING until settled" in page


def test_hold_a_refund_and_settle_it_from_the_console(sandbox, browser, notify_receiver):
    notify_receiver.reply = (200, "SUCCESS")
    payment = quickpay(sandbox, "HOLD-1", notify_receiver.url(), amount=1000)
    browser.form(f"/_sandbox/payments/{payment['id']}/succeed")
    notify_receiver.wait_for(1)
    page = browser.page(f"/_sandbox/payments/{payment['id']}").text
    assert 'name="hold"' in page and "hold as PROCESSING" in page
    held = browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "4.00", "hold": "1",
                                                                       "out_refund_no": "RF-HOLD-1"})
    assert flash_of(held) == ("ok: Refund of ¥4.00 (RF-HOLD-1) held as PROCESSING: "
                              "settle it in the Refunds panel")
    (refund,) = sandbox.admin.payment(payment["id"])["refunds"]
    assert refund["status"] == "PROCESSING"
    assert 'class="badge badge-processing">PROCESSING' in held.text
    for action in ("succeed", "fail", "close"):
        assert f'action="/_sandbox/refunds/{refund["id"]}/{action}"' in held.text
    failed = browser.form(f"/_sandbox/refunds/{refund['id']}/fail", {"reason": "account frozen"})
    assert failed.url.endswith(f"/_sandbox/payments/{payment['id']}")
    assert flash_of(failed) == "ok: Refund RF-HOLD-1 (¥4.00) failed: account frozen"
    detail = sandbox.admin.payment(payment["id"])
    assert detail["refunds"][0]["status"] == "FAILED" and detail["refunded_amount"] == 0
    assert detail["status"] == "SUCCEEDED"
    assert any(e["summary"] == "refund RF-HOLD-1 failed by console: account frozen" for e in detail["events"])
    assert 'class="badge badge-failed">FAILED' in failed.text and "account frozen" in failed.text
    assert f'/_sandbox/refunds/{refund["id"]}/' not in failed.text  # settled: no more buttons
    again = browser.form(f"/_sandbox/refunds/{refund['id']}/succeed")
    assert flash_of(again) == "error: refund is FAILED; only a PROCESSING refund settles"

    # unticked, a refund follows the payment's rule (none here): it succeeds at once; held ones succeed and close
    assert flash_of(browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "1.00"})).startswith(
        "ok: Refunded ¥1.00")
    browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "2.00", "hold": "1",
                                                                "out_refund_no": "RF-HOLD-2"})
    browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "3.00", "hold": "1",
                                                                "out_refund_no": "RF-HOLD-3"})
    refunds = {r["out_refund_no"]: r for r in sandbox.admin.payment(payment["id"])["refunds"]}
    ok = browser.form(f"/_sandbox/refunds/{refunds['RF-HOLD-2']['id']}/succeed")
    assert flash_of(ok) == "ok: Refund RF-HOLD-2 (¥2.00) succeeded"
    closed = browser.form(f"/_sandbox/refunds/{refunds['RF-HOLD-3']['id']}/close")
    assert flash_of(closed) == "ok: Refund RF-HOLD-3 (¥3.00) closed"
    refunds = {r["out_refund_no"]: r["status"] for r in sandbox.admin.payment(payment["id"])["refunds"]}
    assert refunds == {"RF-HOLD-1": "FAILED", "RF-HOLD-2": "SUCCEEDED", "RF-HOLD-3": "CLOSED",
                       next(k for k in refunds if not k.startswith("RF-")): "SUCCEEDED"}
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 300
    page = browser.page(f"/_sandbox/payments/{payment['id']}").text
    assert 'badge-succeeded">SUCCEEDED' in page and 'badge-closed">CLOSED' in page

    assert browser.form("/_sandbox/refunds/rfd_missing/succeed").status_code == 404
    too_long = browser.form(f"/_sandbox/refunds/{refund['id']}/fail", {"reason": "x" * 300})
    assert flash_of(too_long) == "error: reason is longer than 256 characters"


def test_the_magic_amount_holds_refunds_without_the_box(sandbox, browser):
    payment = quickpay(sandbox, "HOLD-412", amount=412)
    browser.form(f"/_sandbox/payments/{payment['id']}/succeed")
    held = browser.form(f"/_sandbox/payments/{payment['id']}/refund", {"amount": "4.12"})
    assert "held as PROCESSING" in flash_of(held)
    assert "refunds stay PROCESSING until settled" in html.unescape(held.text)
