"""Rules a user adds win over the shipped defaults; rules are reordered and edited (admin API and console); an earlier
rule that matches everything a rule matches is reported as shadowing it; old databases are migrated to that order."""
from __future__ import annotations

import html
import re
import sqlite3

import pytest
import requests

from console_http import Browser, quickpay
from sandbox.core.rules import Rule, shadows
from sandbox.testing import AdminError, SandboxServer

README_RULE = {"name": "declined card", "match": {"amount": 404},
               "action": {"outcome": "fail", "after_s": 2, "reason": "insufficient funds", "notify": "duplicate"}}


def ids(sandbox) -> list[str]:
    return [r["id"] for r in sandbox.admin.rules()["rules"]]


def test_the_readme_rule_example_takes_effect_over_the_shipped_404(sandbox, notify_receiver):
    added = sandbox.admin.add_rule(**README_RULE)
    assert added["position"] == 1 and added["shipped"] is False and added["warning"] is None
    rules = sandbox.admin.rules()["rules"]
    assert rules[0]["id"] == added["id"]
    shipped = next(r for r in rules if r["id"] == "magic-404-declined")
    assert shipped["shipped"] is True and shipped["shadowed_by"] == [added["id"]]  # it never applies now
    payment = quickpay(sandbox, "README-404", notify_receiver.url(), amount=404)
    assert payment["extra"]["rule"]["id"] == added["id"]
    assert payment["auto_action"] == "fail" and payment["auto_action_at"] == pytest.approx(payment["created_at"] + 2)
    sandbox.admin.advance(2)
    notify_receiver.wait_for(2)  # the duplicate notify of the README's rule
    detail = sandbox.admin.payment(payment["id"])
    assert detail["status"] == "FAILED" and detail["fail_reason"] == "insufficient funds"


def test_new_rules_go_after_earlier_user_rules_and_before_the_defaults(sandbox):
    shipped = ids(sandbox)
    first = sandbox.admin.add_rule(id="mine-1", match={"amount": 1001})
    second = sandbox.admin.add_rule(id="mine-2", match={"amount": 1002})
    assert (first["position"], second["position"]) == (1, 2)
    assert ids(sandbox) == ["mine-1", "mine-2", *shipped]
    extra_default = sandbox.admin.add_rule(id="shipped-too", match={"amount": 1003}, shipped=True)
    assert extra_default["position"] == len(shipped) + 3 and ids(sandbox)[-1] == "shipped-too"
    third = sandbox.admin.add_rule(id="mine-3", match={"amount": 1004})
    assert third["position"] == 3
    positions = [r["position"] for r in sandbox.admin.rules()["rules"]]
    assert positions == list(range(1, len(positions) + 1))


def test_move_a_rule_by_position_and_the_order_survives_a_restart(tmp_path):
    with SandboxServer(db=tmp_path / "rules.db") as first:
        first.admin.add_rule(id="mine", match={"amount": 1001})
        moved = first.admin.move_rule("mine", 3)
        assert moved["position"] == 3 and [r["id"] for r in moved["rules"]][2] == "mine"
        moved = first.admin.move_rule("magic-410-late", 1)
        order = [r["id"] for r in moved["rules"]]
        assert order[0] == "magic-410-late" and order.index("mine") == 3
        for position, problem in ((0, 400), (len(order) + 1, 400)):
            with pytest.raises(AdminError) as refused:
                first.admin.move_rule("mine", position)
            assert refused.value.status == problem
        with pytest.raises(AdminError) as missing:
            first.admin.move_rule("nobody", 1)
        assert missing.value.status == 404 and missing.value.code == "RULE_NOT_FOUND"
        bad = requests.post(f"{first.url}/_sandbox/api/rules/mine/move", json={"position": "top"}, timeout=5)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_BODY"
    with sqlite3.connect(tmp_path / "rules.db") as conn:  # the position column says the same order
        assert [row[0] for row in conn.execute("SELECT id FROM rules ORDER BY position")] == order
    with SandboxServer(db=tmp_path / "rules.db") as again:
        assert [r["id"] for r in again.admin.rules()["rules"]] == order
        # and the order is what a new payment meets: magic-410 comes before everything now
        payment = quickpay(again, "MOVED-410", amount=410)
        assert payment["extra"]["rule"]["id"] == "magic-410-late"


def test_edit_a_rule_keeps_its_id_place_hits_and_shipped_flag(sandbox):
    sandbox.admin.add_rule(id="busy", name="busy", match={"provider": "quickpay", "operation": "query"},
                           action={"api_error": True, "api_times": 5})
    requests.post(f"{sandbox.url}/QuickPay/Query", json={"store_no": "QP10000001", "order_no": "X"}, timeout=10)
    assert sandbox.admin.rules()["rules"][0]["hits"] == 1
    edited = sandbox.admin.update_rule("busy", name="busy twice", match={"provider": "quickpay", "operation": "query"},
                                       action={"api_error": True, "api_times": 2}, hits=0, shipped=True)
    assert edited["id"] == "busy" and edited["name"] == "busy twice" and edited["action"]["api_times"] == 2
    assert edited["hits"] == 1 and edited["shipped"] is False and edited["position"] == 1
    assert sandbox.admin.rules()["rules"][0] == edited | {"warning": None}
    shipped = sandbox.admin.update_rule("magic-404-declined", match={"amount": 404},
                                        action={"outcome": "fail", "after_s": 1, "reason": "declined"})
    assert shipped["shipped"] is True and shipped["position"] == ids(sandbox).index("magic-404-declined") + 1
    payment = quickpay(sandbox, "EDITED-404", amount=404)
    assert payment["auto_action_at"] == pytest.approx(payment["created_at"] + 1)
    for body, status, code in [({"id": "other", "match": {}}, 400, "INVALID_INPUT"),
                               ({"match": {"amount": 0}}, 400, "INVALID_BODY")]:
        with pytest.raises(AdminError) as refused:
            sandbox.admin.update_rule("busy", **body)
        assert (refused.value.status, refused.value.code) == (status, code)
    with pytest.raises(AdminError) as missing:
        sandbox.admin.update_rule("nobody", match={})
    assert missing.value.status == 404
    assert sandbox.admin.rules()["rules"][0]["name"] == "busy twice"  # a refused edit changed nothing


def test_a_shadowed_rule_is_reported_by_the_api(sandbox):
    every = sandbox.admin.add_rule(id="all-quickpay", name="all QuickPay", match={"provider": "quickpay"},
                                   action={"outcome": "succeed"})
    assert every["shadowed_by"] == [] and every["warning"] is None
    narrower = sandbox.admin.add_rule(id="qp-500", match={"provider": "quickpay", "amount": 500},
                                      action={"outcome": "fail"})
    assert narrower["shadowed_by"] == ["all-quickpay"]
    assert narrower["warning"] == ("Never applies: rule #1 (all QuickPay) comes first and matches every payment this "
                                   "one matches. Move this rule above it, or narrow that rule.")
    assert sandbox.admin.move_rule("qp-500", 1)["warning"] is None  # moved above: it applies again
    fine = sandbox.admin.add_rule(id="alipay-500", match={"provider": "alipay", "amount": 500})
    assert fine["shadowed_by"] == [] and fine["warning"] is None
    edited = sandbox.admin.update_rule("all-quickpay", match={"provider": "quickpay", "amount": 500})
    assert edited["shadowed_by"] == ["qp-500"]  # the edit made it the shadowed one
    got = requests.get(f"{sandbox.url}/_sandbox/api/rules/all-quickpay", timeout=5).json()
    assert got["shadowed_by"] == ["qp-500"] and got["position"] == 2


@pytest.mark.parametrize("earlier, later, expected", [
    ({}, {"match": {"amount": 5}}, True),
    ({"match": {"provider": "wechat"}}, {"match": {"provider": "wechat", "trade_type": "NATIVE"}}, True),
    ({"match": {"provider": "wechat"}}, {"match": {"amount": 5}}, False),
    ({"match": {"out_trade_no_pattern": "^A"}}, {"match": {"out_trade_no_pattern": "^A"}}, True),
    # patterns are never compared beyond equality (^A matches all ^AB, but we do not claim it)
    ({"match": {"out_trade_no_pattern": "^A"}}, {"match": {"out_trade_no_pattern": "^AB"}}, False),
    ({"match": {"amount": 5}}, {"match": {"amount": 6}}, False),
    # a fault rule and a payment rule never shadow each other
    ({"action": {"api_error": True}}, {"match": {"amount": 5}}, False),
    ({"match": {"amount": 5}}, {"match": {"amount": 5}, "action": {"api_error": True}}, False),
    ({"action": {"api_error": True}}, {"match": {"operation": "query"}, "action": {"api_drop": True}}, True),
    ({"match": {"operation": "query"}, "action": {"api_error": True}}, {"action": {"api_drop": True}}, False),
    # one limited to its first N calls stops matching after them
    ({"action": {"api_error": True, "api_times": 2}}, {"action": {"api_drop": True}}, False),
    # a payment rule for another call than create never applies at all: not reported as shadowed
    ({}, {"match": {"operation": "query"}}, False),
])
def test_shadowing_is_conservative(earlier, later, expected):
    assert shadows(Rule.model_validate(earlier), Rule.model_validate(later)) is expected


def test_rules_page_warns_moves_and_edits(sandbox):
    browser = Browser(sandbox.url)
    sandbox.admin.add_rule(id="all-quickpay", name="all QuickPay", match={"provider": "quickpay"})
    browser.page("/_sandbox/rules")
    added = browser.form("/_sandbox/rules", {"name": "QuickPay ¥5", "id": "qp-500", "provider": "quickpay",
                                             "amount": "5.00", "outcome": "fail", "notify": "normal",
                                             "refund": "succeed"})
    flash = html.unescape(re.search(r'<div class="flash flash-(\w+)"[^>]*>([^<]*)</div>', added.text).group(0))
    assert 'flash-warn' in flash and "Rule QuickPay ¥5 added" in flash and "Never applies: rule #1 (all QuickPay)" in flash
    page = html.unescape(added.text)
    row = re.search(r'<tr data-rule-id="qp-500" class="shadowed">.*?</tr>', page, re.S).group(0)
    assert "⚠ Never applies: rule #1 (all QuickPay)" in row and '<td class="num muted">2</td>' in row
    # move it up: the warning is gone
    moved = browser.form("/_sandbox/rules/move", {"id": "qp-500", "position": "1"})
    assert "Rule QuickPay ¥5 moved to #1" in html.unescape(moved.text)
    assert ids(sandbox)[:2] == ["qp-500", "all-quickpay"]
    assert 'data-rule-id="qp-500" class="shadowed"' not in moved.text
    bad = browser.form("/_sandbox/rules/move", {"id": "qp-500", "position": "99"})
    assert "position must be between 1 and" in html.unescape(bad.text)
    # edit: the form comes filled in, and saving keeps the id and place
    form = html.unescape(browser.page("/_sandbox/rules/edit?id=qp-500").text)
    assert "Edit rule #1" in form and 'action="/_sandbox/rules/edit?id=qp-500"' in form
    assert 'value="5.00"' in form and 'value="qp-500" class="mono" readonly' in form
    assert '<option selected>fail</option>' in form
    saved = browser.form("/_sandbox/rules/edit?id=qp-500", {
        "name": "QuickPay ¥5 slow", "id": "qp-500", "provider": "quickpay", "amount": "5.00", "outcome": "fail",
        "after_s": "2", "after_s_unit": "min", "notify": "normal", "refund": "succeed"})
    assert "Rule QuickPay ¥5 slow saved: QuickPay, amount ¥5.00 → fail after 2 min" in html.unescape(saved.text)
    rule = sandbox.admin.rules()["rules"][0]
    assert rule["id"] == "qp-500" and rule["action"]["after_s"] == 120 and rule["name"] == "QuickPay ¥5 slow"
    assert 'value="2"' in browser.page("/_sandbox/rules/edit?id=qp-500").text  # 120 s shown as 2 min
    refused = browser.form("/_sandbox/rules/edit?id=qp-500", {"name": "x", "amount": "-1", "notify": "normal",
                                                             "refund": "succeed"})
    assert refused.status_code == 400 and "Edit rule #1" in refused.text
    assert "Rule not saved. Amount:" in html.unescape(refused.text)
    assert browser.page("/_sandbox/rules/edit?id=nobody").status_code == 404


def _unmigrate(path) -> None:
    """Make a database look as if it was made before 003_rules_order.sql: no shipped flags, rules in the order
    they were added (the magic amounts first, then the user's rule)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE name = '003_rules_order.sql'")
        conn.execute("UPDATE rules SET rule = json_remove(rule, '$.shipped')")
        conn.execute("UPDATE rules SET position = position + 100 WHERE id = 'mine'")


def test_an_old_database_gets_the_users_rules_before_the_defaults(tmp_path):
    db = tmp_path / "old.db"
    with SandboxServer(db=db) as first:
        first.admin.add_rule(id="mine", **{k: v for k, v in README_RULE.items()})
        defaults = [r["id"] for r in first.admin.rules()["rules"] if r["shipped"]]
    _unmigrate(db)
    with sqlite3.connect(db) as conn:
        assert [row[0] for row in conn.execute("SELECT id FROM rules ORDER BY position")][-1] == "mine"
    with SandboxServer(db=db) as again:
        rules = again.admin.rules()["rules"]
        assert [r["id"] for r in rules] == ["mine", *defaults]
        assert [r["shipped"] for r in rules] == [False] + [True] * len(defaults)
        assert quickpay(again, "OLD-404", amount=404)["extra"]["rule"]["id"] == "mine"
    with sqlite3.connect(db) as conn:
        assert [row[0] for row in conn.execute("SELECT position FROM rules ORDER BY position")] == \
            list(range(1, len(defaults) + 2))


def test_openapi_lists_the_rule_edit_and_move(sandbox):
    doc = requests.get(f"{sandbox.url}/_sandbox/api/openapi.json", timeout=5).json()
    assert set(doc["paths"]["/rules/{id}"]) == {"get", "put", "delete"}
    assert doc["paths"]["/rules/{id}/move"]["post"]["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Move"}
    assert "shipped" in doc["components"]["schemas"]["Rule"]["properties"]
