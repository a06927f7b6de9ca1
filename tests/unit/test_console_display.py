"""What the console shows a newcomer: partial refunds said as such, times in the display zone (UTC on hover), and
filters with unknown values called out instead of silently ignored."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from console_http import Browser, quickpay
from sandbox.cli import parse_args
from sandbox.settings import Settings
from sandbox.testing import SandboxServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(response.text)))


def test_a_partial_refund_is_shown_as_partially_refunded(sandbox):
    browser = Browser(sandbox.url)
    partial = quickpay(sandbox, "PART-1", amount=1000)
    sandbox.admin.succeed(partial["id"])
    sandbox.admin.refund(partial["id"], amount=350)
    full = quickpay(sandbox, "FULL-1", amount=800)
    sandbox.admin.succeed(full["id"])
    sandbox.admin.refund(full["id"])

    detail = sandbox.admin.payment(partial["id"])
    assert detail["status"] == "REFUNDED"  # the core status is unchanged
    assert (detail["refund_state"], detail["display_status"]) == ("partial", "PARTIALLY REFUNDED")
    assert detail["refunded_yuan"] == "3.50"
    full_detail = sandbox.admin.payment(full["id"])
    assert (full_detail["refund_state"], full_detail["display_status"]) == ("full", "REFUNDED")
    pending = quickpay(sandbox, "NONE-1")
    assert (pending["refund_state"], pending["display_status"]) == ("none", "PENDING")

    listed = browser.page("/_sandbox/")
    rows = {m.group(1): text_of(type("R", (), {"text": m.group(2)})) for m in
            re.finditer(r'<tr data-id="([^"]+)">(.*?)</tr>', listed.text, re.S)}
    assert "PARTIALLY REFUNDED ¥3.50 of ¥10.00" in rows[partial["id"]]
    assert "REFUNDED" in rows[full["id"]] and "PARTIALLY" not in rows[full["id"]]
    assert 'class="badge badge-refunded">REFUNDED' in listed.text

    page = browser.page(f"/_sandbox/payments/{partial['id']}")
    head = text_of(type("R", (), {"text": re.search(r"<h1>.*?</h1>", page.text, re.S).group(0)}))
    assert "PARTIALLY REFUNDED ¥3.50 of ¥10.00" in head
    refunded = re.search(r'id="payment-refunded">(.*?)</dd>', html.unescape(page.text), re.S).group(1)
    assert "¥3.50" in refunded and "of ¥10.00: partially refunded, ¥6.50 left" in refunded
    full_page = browser.page(f"/_sandbox/payments/{full['id']}")
    assert "PARTIALLY" not in full_page.text and 'class="badge badge-refunded">REFUNDED' in full_page.text
    assert "in full" in re.search(r'id="payment-refunded">(.*?)</dd>', full_page.text, re.S).group(1)


def _shown_times(page_text: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+)</time>', page_text)


def test_times_are_shown_in_the_display_zone_with_utc_on_hover(sandbox):
    browser = Browser(sandbox.url)
    payment = quickpay(sandbox, "TZ-1")
    created = datetime.fromtimestamp(payment["created_at"], timezone.utc)
    page = browser.page(f"/_sandbox/payments/{payment['id']}").text
    times = _shown_times(page)
    assert times, "no <time> on the payment page"
    expected = (created.isoformat(timespec="seconds").replace("+00:00", "Z"), created.strftime("%Y-%m-%d %H:%M:%S"),
                created.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"))
    assert expected in times
    for iso, utc, shown in times:  # every time on the page: eight hours ahead of the UTC on hover
        assert (datetime.fromisoformat(shown) - datetime.fromisoformat(utc)).total_seconds() == 8 * 3600
    listed = browser.page("/_sandbox/").text
    assert expected in _shown_times(listed) and "UTC+08:00" in listed and "Created (UTC)" not in listed
    header = browser.page("/_sandbox/clock").text
    assert 'data-tz="Asia/Shanghai"' in header and "UTC+08:00" in header
    assert 'id="clock-utc"' in header and "Times are shown in Asia/Shanghai" in header
    advanced = browser.form("/_sandbox/clock/advance", {"amount": "1", "unit": "h"})
    assert re.search(r"now \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+08:00 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)",
                     html.unescape(advanced.text))


def test_the_display_zone_is_a_setting():
    with SandboxServer(display_tz="UTC") as utc:
        payment = quickpay(utc, "TZ-UTC")
        page = Browser(utc.url).page(f"/_sandbox/payments/{payment['id']}").text
        for _, hover, shown in _shown_times(page):
            assert hover == shown
        assert 'data-tz="UTC"' in page
    assert Settings().display_tz == "Asia/Shanghai"
    assert Settings.from_env({"SANDBOX_DISPLAY_TZ": "Europe/Berlin"}).display_tz == "Europe/Berlin"
    assert parse_args(["--display-tz", "America/New_York"]).display_tz == "America/New_York"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Settings.from_env({"SANDBOX_DISPLAY_TZ": "Mars/Olympus"})


def test_an_unknown_display_zone_flag_is_refused_in_words(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["--display-tz", "Mars/Olympus"])
    assert exited.value.code == 2
    assert "argument --display-tz: invalid time zone value: 'Mars/Olympus'" in capsys.readouterr().err


def test_unknown_filter_values_are_called_out(sandbox):
    browser = Browser(sandbox.url)
    quickpay(sandbox, "FILTER-1")
    for query, message in [
            ("status=NOPE", "Unknown status 'NOPE', so this filter is not applied; the statuses are PENDING, "
                            "SUCCEEDED, FAILED, CLOSED, REFUNDED."),
            ("provider=paypal", "Unknown provider 'paypal', so this filter is not applied; the providers are "),
            ("merchant=nobody", "Unknown merchant 'nobody', so this filter is not applied; the merchants are ")]:
        page = browser.page(f"/_sandbox/?{query}")
        assert page.status_code == 200
        problems = re.search(r'<div class="flash flash-error" role="alert" id="filter-problems">(.*?)</div>\s*<form',
                             html.unescape(page.text), re.S)
        assert problems and message in problems.group(1), (query, page.text[:3000])
        assert "FILTER-1" in page.text  # the list is shown without the unknown filter
    assert 'id="filter-problems"' not in browser.page("/_sandbox/?status=pending&provider=quickpay").text
    # the admin API refuses them with the allowed values
    for query, allowed in [("status=NOPE", "'PENDING', 'SUCCEEDED'"), ("provider=paypal", "'alipay'")]:
        answer = requests.get(f"{sandbox.url}/_sandbox/api/payments?{query}", timeout=5)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "INVALID_QUERY"
        assert "unknown" in answer.json()["error"]["message"] and allowed in answer.json()["error"]["message"]
    assert requests.get(f"{sandbox.url}/_sandbox/api/payments?provider=quickpay", timeout=5).json()["total"] == 1
