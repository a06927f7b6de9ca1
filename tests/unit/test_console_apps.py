"""The console page of each merchant app (/_sandbox/apps/{app}): users with their accounts, orders, other records,
and its buttons (top up / withdraw, freeze / unfreeze, set a password) through the engine and the app's hooks."""
from __future__ import annotations

import html
import re

import pytest
import requests

from console_http import Browser

HMALL = "/_sandbox/apps/hmall"
ACCOUNT = "demo-hmall:1:balance"


@pytest.fixture
def browser(sandbox):
    return Browser(sandbox.url)


def flash_of(response) -> str:
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>([^<]*)</div>', response.text)
    return f"{found.group(1)}: {html.unescape(found.group(2))}" if found else ""


def row(page: str, kind: str, record_id: str) -> str:
    found = re.search(rf'<tr id="{kind}-{re.escape(record_id)}".*?</tr>', page, re.S)
    assert found, f"no {kind} {record_id} row"
    return found.group(0)


def shown(row_html: str, field: str) -> str:
    return html.unescape(re.search(rf"<[^>]* {field}>([^<]*)<", row_html).group(1))


def login(sandbox, username: str, password: str) -> requests.Response:
    return requests.post(f"{sandbox.url}/users/login", json={"username": username, "password": password}, timeout=10)


def test_the_hmall_page_lists_the_users_with_their_balances_and_the_orders(sandbox, browser):
    response = browser.page(HMALL)
    assert response.status_code == 200 and "Traceback" not in response.text
    page = response.text
    for user_id, name, phone in (("1", "Jack", "13900112224"), ("2", "Rose", "13900112223"),
                                 ("3", "Hope", "13900112222"), ("4", "Thomas", "17701265258")):
        user = row(page, "user", user_id)
        assert f">{name}<" in user and f">{phone}<" in user
        assert (shown(user, "data-balance"), shown(user, "data-held"), shown(user, "data-available")) == \
            ("¥10,000.00", "¥0.00", "¥10,000.00")
        assert "已激活" in user and 'data-action="freeze"' in user
        assert "$2a$" not in user  # the password hash is never shown
    order = row(page, "order", "123865420")
    assert re.search(r'data-column="pay_state">\s*unpaid', order) and "未付款" in order
    assert 'data-column="user_id">2<' in order.replace("\n", "").replace(" ", "")
    # the nav leads to the apps
    assert '<a href="/_sandbox/apps"' in page
    assert browser.get(f"{sandbox.url}/_sandbox/apps", allow_redirects=False).headers["Location"] == HMALL


def test_a_paid_order_links_its_payment(sandbox, browser):
    token = login(sandbox, "jack", "123").json()["token"]
    headers = {"authorization": token}
    pay_order = requests.post(f"{sandbox.url}/pay-orders", headers=headers, timeout=10, json={
        "bizOrderNo": 1654779387523936258, "amount": 2599, "payChannelCode": "balance", "payType": 5,
        "orderInfo": "小米手机"}).text
    paid = requests.post(f"{sandbox.url}/pay-orders/{pay_order}", headers=headers, json={"pw": "123"}, timeout=10)
    assert paid.status_code == 200, paid.text
    payment = sandbox.admin.payments(out_trade_no="1654779387523936258")["payments"][0]
    page = browser.page(HMALL).text
    order = row(page, "order", "1654779387523936258")
    assert re.search(r'data-column="pay_state">\s*paid', order)
    assert f'href="/_sandbox/payments/{payment["id"]}"' in order
    assert shown(row(page, "user", "1"), "data-balance") == "¥9,974.01"


def test_top_up_and_withdraw_go_through_the_ledger(sandbox, browser):
    browser.page(HMALL)
    answer = browser.form(f"{HMALL}/accounts/{ACCOUNT}/adjust", {"amount": "12.34", "direction": "credit"})
    assert answer.status_code == 200
    assert flash_of(answer) == "ok: Topped up ¥12.34 to user 1 (Jack): balance now ¥10,012.34"
    assert shown(row(answer.text, "user", "1"), "data-balance") == "¥10,012.34"
    assert shown(row(answer.text, "user", "2"), "data-balance") == "¥10,000.00"
    ledger = requests.get(f"{sandbox.url}/_sandbox/api/accounts/{ACCOUNT}", timeout=10).json()
    assert ledger["balance"] == 1_001_234 and ledger["available"] == 1_001_234
    assert sorted((e["kind"], e["amount"], e["memo"], e["actor"], e["payment_id"]) for e in ledger["entries"]) == [
        ("credit", 1234, "top-up", "console", None), ("credit", 1_000_000, "opening balance", "fixtures", None)]

    withdrawn = browser.form(f"{HMALL}/accounts/{ACCOUNT}/adjust", {"amount": "0.34", "direction": "debit"})
    assert flash_of(withdrawn) == "ok: Withdrew ¥0.34 from user 1 (Jack): balance now ¥10,012.00"
    assert login(sandbox, "jack", "123").json()["balance"] == 1_001_200


@pytest.mark.parametrize("fields, message", [
    ({"amount": "20000.01", "direction": "debit"}, None),  # more than the balance: the engine refuses
    ({"amount": "1.234", "direction": "credit"},
     "the amount must be in yuan with at most two decimals (like 0.01), not '1.234'"),
    ({"amount": "0", "direction": "credit"}, "the amount must be more than 0.00"),
    ({"amount": "1", "direction": "sideways"}, "choose top up or withdraw"),
])
def test_bad_adjustments_are_a_flash_error_and_change_nothing(sandbox, browser, fields, message):
    browser.page(HMALL)
    answer = browser.form(f"{HMALL}/accounts/{ACCOUNT}/adjust", fields)
    assert answer.status_code == 200
    flash = flash_of(answer)
    assert flash.startswith("error: ") and (message is None or flash == f"error: {message}"), flash
    assert requests.get(f"{sandbox.url}/_sandbox/api/accounts/{ACCOUNT}", timeout=10).json()["balance"] == 1_000_000


def test_an_account_of_another_merchant_or_app_is_refused(sandbox, browser):
    browser.page(HMALL)
    answer = browser.form(f"{HMALL}/accounts/nobody:1:balance/adjust", {"amount": "1", "direction": "credit"})
    assert flash_of(answer) == "error: no account 'nobody:1:balance'"


def test_freeze_makes_login_answer_403_and_unfreeze_lets_the_user_in_again(sandbox, browser):
    assert login(sandbox, "rose", "123").status_code == 200
    browser.page(HMALL)
    frozen = browser.form(f"{HMALL}/users/2/freeze")
    assert flash_of(frozen) == "ok: User 2 frozen"
    assert 'data-action="unfreeze"' in row(frozen.text, "user", "2") and "禁止使用" in row(frozen.text, "user", "2")
    refused = login(sandbox, "rose", "123")
    assert refused.status_code == 403 and refused.json() == {"code": 403, "msg": "用户被冻结", "data": None}
    assert login(sandbox, "jack", "123").status_code == 200  # only Rose
    assert flash_of(browser.form(f"{HMALL}/users/2/unfreeze")) == "ok: User 2 unfrozen"
    assert login(sandbox, "rose", "123").status_code == 200


def test_set_password(sandbox, browser):
    browser.page(HMALL)
    assert flash_of(browser.form(f"{HMALL}/users/3/password", {"password": "s3cret"})) == \
        "ok: New password set for user 3"
    assert login(sandbox, "hope", "123").status_code == 400
    assert login(sandbox, "hope", "s3cret").status_code == 200
    assert flash_of(browser.form(f"{HMALL}/users/3/password", {"password": ""})) == "error: type the new password"
    assert flash_of(browser.form(f"{HMALL}/users/3/password", {"password": "x" * 73})) == \
        "error: password: 1-72 characters"
    assert flash_of(browser.form(f"{HMALL}/users/99/freeze")) == "error: no hmall user '99'"


def test_a_forged_csrf_token_is_refused(sandbox, browser):
    browser.page(HMALL)
    for path, fields in ((f"{HMALL}/accounts/{ACCOUNT}/adjust", {"amount": "1", "direction": "credit"}),
                         (f"{HMALL}/users/2/freeze", {}), (f"{HMALL}/users/2/password", {"password": "x"})):
        forged = browser.post(f"{sandbox.url}{path}", data={"csrf_token": "forged", **fields}, allow_redirects=False)
        assert forged.status_code == 403, path
        assert browser.form(path, fields, csrf=False, follow=False).status_code == 403, path
    assert requests.get(f"{sandbox.url}/_sandbox/api/accounts/{ACCOUNT}", timeout=10).json()["balance"] == 1_000_000
    assert login(sandbox, "rose", "123").status_code == 200


def test_every_app_has_its_page_and_points_are_plain_numbers(sandbox, browser):
    apps = requests.get(f"{sandbox.url}/_sandbox/api/apps", timeout=10).json()["apps"]
    assert "hmall" in [a["app"] for a in apps]
    for app in apps:
        response = browser.page(f"/_sandbox/apps/{app['app']}")
        assert response.status_code == 200 and "Traceback" not in response.text, app
        assert f'aria-current="page">{html.escape(app["title"])}</a>' in response.text
    if "shop" not in [a["app"] for a in apps]:
        return
    points = "demo-shop:1:points"
    before = requests.get(f"{sandbox.url}/_sandbox/api/accounts/{points}", timeout=10).json()["balance"]
    browser.page("/_sandbox/apps/shop")
    answer = browser.form(f"/_sandbox/apps/shop/accounts/{points}/adjust", {"amount": "1250", "direction": "credit"})
    assert shown(row(answer.text, "user", "1"), "data-balance") == f"{before + 1250:,}"
    assert flash_of(answer).endswith(f": points now {before + 1250:,}")
    assert flash_of(browser.form(f"/_sandbox/apps/shop/accounts/{points}/adjust",
                                 {"amount": "1.5", "direction": "credit"})) == \
        "error: the points must be a whole number more than 0, not '1.5'"
    # an account of another app is not adjusted from this one's page
    assert flash_of(browser.form(f"{HMALL}/accounts/{points}/adjust", {"amount": "1", "direction": "credit"})) == \
        "error: account demo-shop:1:points is not one of demo-hmall's hmall accounts"


def test_an_unknown_app_is_a_404_page(sandbox, browser):
    for response in (browser.page("/_sandbox/apps/nope"),
                     browser.form("/_sandbox/apps/nope/users/1/freeze", follow=False),
                     browser.form("/_sandbox/apps/nope/accounts/x/adjust", {"amount": "1"}, follow=False)):
        assert response.status_code == 404 and "text/html" in response.headers["Content-Type"]
        assert "No such app" in response.text and "Traceback" not in response.text
    nobody = browser.page("/_sandbox/apps/hmall?merchant=nobody")
    assert nobody.status_code == 404 and "no merchant &#39;nobody&#39;" in nobody.text
    other = browser.page("/_sandbox/apps/hmall?merchant=demo-quickpay")
    assert other.status_code == 400 and "merchant &#39;demo-quickpay&#39; has no hmall credentials" in other.text
