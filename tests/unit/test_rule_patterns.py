"""A rule's out_trade_no_pattern cannot stall the server (issue 15, item 3): patterns are RE2 (linear-time matching),
and a pattern RE2 cannot compile is refused in plain words by the admin API and the console's rule form."""
from __future__ import annotations

import html
import json
import threading

import pytest
import requests

from console_http import STORE, Browser


CATASTROPHIC = "^(a+)+$"  # Python's re backtracks exponentially on a…a! (15 s for 28 a's, minutes for 31)


@pytest.fixture
def browser(sandbox):
    return Browser(sandbox.url)


def call(sandbox, action: str, body: dict) -> dict:
    response = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body), timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def jsapi(order_no: str) -> dict:
    return {"store_no": STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
            "order_no": order_no}


def test_a_catastrophic_pattern_neither_stalls_the_create_nor_the_server(sandbox):
    rule = sandbox.admin.add_rule(name="all a", match={"provider": "quickpay", "out_trade_no_pattern": CATASTROPHIC},
                                  action={"outcome": "fail", "reason": "only a"})
    health: list[int] = []

    def ask_health():
        health.append(requests.get(f"{sandbox.url}/_sandbox/api/health", timeout=10).status_code)

    asker = threading.Thread(target=ask_health)
    asker.start()
    near_miss = "a" * 31 + "!"  # 32 characters, QuickPay's longest order_no: the worst case for a backtracker
    created = call(sandbox, "JSAPIPay", jsapi(near_miss))  # the client's own 10 s timeout would fire on a stall
    asker.join(15)
    assert health == [200]
    assert requests.get(f"{sandbox.url}/_sandbox/api/health", timeout=10).status_code == 200
    assert created["code"] == "SUCCESS" and created["data"]["order_no"] == near_miss
    assert rule_of(sandbox, near_miss) is None  # not matched
    # the pattern still does its job on an order it matches
    call(sandbox, "JSAPIPay", jsapi("a" * 32))
    assert rule_of(sandbox, "a" * 32) == rule["id"]


def rule_of(sandbox, out_trade_no: str) -> str | None:
    """The id of the rule a payment matched when it was created (kept in its extra), or None."""
    payment_id = sandbox.admin.payments(out_trade_no=out_trade_no)["payments"][0]["id"]
    return (sandbox.call(sandbox.engine.get_payment(payment_id)).extra.get("rule") or {}).get("id")


def test_a_fault_rule_with_the_pattern_matches_calls_too(sandbox):
    sandbox.admin.add_rule(name="busy for a…", match={"provider": "quickpay", "operation": "create",
                                                      "out_trade_no_pattern": CATASTROPHIC},
                           action={"api_error": True})
    assert call(sandbox, "JSAPIPay", jsapi("a" * 31 + "!"))["code"] == "SUCCESS"
    assert "系统繁忙" in call(sandbox, "JSAPIPay", jsapi("a" * 30))["msg"]


def test_patterns_re2_cannot_compile_are_refused_in_plain_words(sandbox, browser):
    for pattern, reason in [("(a)\\1", "invalid escape sequence: \\1"), ("(?=a)b", "invalid perl operator: (?="),
                            ("a{1001}", "invalid repetition size: {1001}"), ("(", "missing ): (")]:
        answer = requests.post(f"{sandbox.url}/_sandbox/api/rules", timeout=10,
                               json={"match": {"out_trade_no_pattern": pattern}})
        assert answer.status_code == 400, pattern
        assert answer.json()["error"] == {
            "code": "INVALID_BODY",
            "message": f"match.out_trade_no_pattern: Value error, not a regular expression: {reason} (patterns are "
                       f"RE2 syntax: no backreferences or lookaround)"}
        refused = browser.form("/_sandbox/rules", {"name": "p", "out_trade_no_pattern": pattern})
        assert refused.status_code == 400
        assert (f'data-field-error="out_trade_no_pattern">Not a regular expression: {reason} (patterns are RE2 '
                f'syntax: no backreferences or lookaround)') in html.unescape(refused.text)
    assert len(sandbox.admin.rules()["rules"]) == 6  # the shipped ones only
    # what RE2 does take: named groups, classes, anchors
    added = sandbox.admin.add_rule(match={"out_trade_no_pattern": r"^(?P<shop>[A-Z]+)-\d{3,}$"})
    assert added["match"]["out_trade_no_pattern"] == r"^(?P<shop>[A-Z]+)-\d{3,}$"


def test_the_rule_form_states_the_bounds_in_plain_figures(sandbox, browser):
    for fields, field, message in [
            ({"api_times": "9" * 30, "api_error": "yes"}, "api_times", "Must be at most 1,000,000,000"),
            ({"after_s": "1e300"}, "after_s", "Must be at most 315,360,000 seconds"),
            ({"notify_delay_s": "inf"}, "notify_delay_s", "Must be a number")]:
        refused = browser.form("/_sandbox/rules", {"name": "bounded", **fields})
        assert refused.status_code == 400, fields
        assert f'data-field-error="{field}">{message}' in html.unescape(refused.text), fields
    assert len(sandbox.admin.rules()["rules"]) == 6
