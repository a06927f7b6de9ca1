"""Protection for shared deployments: the admin token login, the session cookie, CSRF on every form."""
from __future__ import annotations

import pytest
import requests

from console_http import Browser, quickpay
from sandbox.testing import SandboxServer

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def guarded():
    with SandboxServer(admin_token=TOKEN) as server:
        yield server


def test_without_a_token_the_console_is_open_but_forms_need_the_csrf_field(sandbox):
    browser = Browser(sandbox.url)
    page = browser.page("/_sandbox/")
    cookie = next(c for c in browser.cookies if c.name == "sandbox_csrf")
    assert cookie.path == "/_sandbox/" and cookie.has_nonstandard_attr("HttpOnly")
    assert "SameSite=Strict" in page.headers["Set-Cookie"]
    payment = quickpay(sandbox, "CSRF-1")
    missing = browser.form(f"/_sandbox/payments/{payment['id']}/succeed", csrf=False)
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = browser.post(f"{sandbox.url}/_sandbox/payments/{payment['id']}/succeed", data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    no_cookie = requests.post(f"{sandbox.url}/_sandbox/payments/{payment['id']}/succeed",
                              data={"csrf_token": browser.csrf})
    assert no_cookie.status_code == 403
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING"
    header = browser.post(f"{sandbox.url}/_sandbox/payments/{payment['id']}/succeed",
                          headers={"X-CSRF-Token": browser.csrf}, allow_redirects=False)
    assert header.status_code == 303
    assert sandbox.admin.payment(payment["id"])["status"] == "SUCCEEDED"


def test_every_console_and_cashier_form_checks_csrf(sandbox):
    payment = quickpay(sandbox, "CSRF-2")
    paths = [f"/_sandbox/payments/{payment['id']}/{a}" for a in ("succeed", "fail", "close", "refund", "notify")]
    paths += ["/_sandbox/notifications/x/deliver", "/_sandbox/notifications/x/suppress", "/_sandbox/merchants",
              "/_sandbox/clock/advance", "/_sandbox/reset", "/_sandbox/login", "/_sandbox/logout",
              "/_sandbox/rules", "/_sandbox/rules/delete", "/_sandbox/rules/delete-all",
              "/_sandbox/refunds/x/succeed", "/_sandbox/refunds/x/fail", "/_sandbox/refunds/x/close",
              f"/_sandbox/pay/{payment['id']}/pay", f"/_sandbox/pay/{payment['id']}/fail",
              f"/_sandbox/pay/{payment['id']}/cancel", "/_sandbox/pay/alipay-app"]
    browser = Browser(sandbox.url)
    browser.page("/_sandbox/")
    rules = sandbox.admin.rules()["rules"]
    for path in paths:
        fields = {"reason": "x", "id": "magic-404-declined", "confirm": "yes", "amount": "1.00"}
        assert browser.form(path, fields, csrf=False).status_code == 403, path
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING"
    assert sandbox.admin.rules()["rules"] == rules
    # the admin API is not cookie-based and takes no CSRF field
    assert requests.post(f"{sandbox.url}/_sandbox/api/payments/{payment['id']}/succeed", timeout=5).status_code == 200



def test_an_unreadable_form_body_is_refused_not_a_server_error(sandbox):
    payment = quickpay(sandbox, "CSRF-3")
    browser = Browser(sandbox.url)
    browser.page("/_sandbox/")
    for path in (f"/_sandbox/payments/{payment['id']}/succeed", f"/_sandbox/pay/{payment['id']}/pay",
                 "/_sandbox/pay/alipay-app", "/_sandbox/clock/advance"):
        for content_type, body in (("multipart/form-data; boundary=x", b"no boundary here"),
                                   ("multipart/form-data", b"--x\r\n"),
                                   ("application/x-www-form-urlencoded; charset=no-such-charset", b"a=1")):
            answer = browser.post(f"{sandbox.url}{path}", data=body, allow_redirects=False,
                                  headers={"Content-Type": content_type, "X-CSRF-Token": browser.csrf})
            assert answer.status_code == 400 and "could not be read" in answer.text, (path, content_type)
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING"

def test_with_a_token_pages_redirect_to_login_and_the_token_signs_in(guarded):
    browser = Browser(guarded.url)
    first = browser.page("/_sandbox/merchants?x=1", allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/_sandbox/login?next=/_sandbox/merchants"
    login = browser.page("/_sandbox/login?next=/_sandbox/merchants")
    assert login.status_code == 200 and 'type="password"' in login.text and TOKEN not in login.text

    wrong = browser.form("/_sandbox/login", {"token": "guess", "next": "/_sandbox/merchants"})
    assert wrong.status_code == 401 and "not this sandbox" in wrong.text
    assert "sandbox_session" not in browser.cookies

    signed_in = browser.form("/_sandbox/login", {"token": TOKEN, "next": "/_sandbox/merchants"}, follow=False)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/_sandbox/merchants"
    set_cookie = signed_in.headers["Set-Cookie"]
    assert "sandbox_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert TOKEN not in set_cookie and TOKEN not in signed_in.headers["Location"]
    assert browser.page("/_sandbox/merchants").status_code == 200
    assert browser.page("/_sandbox/clock").status_code == 200
    added = browser.form("/_sandbox/rules", {"id": "signed-in", "amount": "5.55", "outcome": "close"})
    assert added.status_code == 200 and "signed-in" in added.text
    assert guarded.admin.rules()["rules"][0]["id"] == "signed-in"  # before the shipped defaults

    logout = browser.form("/_sandbox/logout")
    assert logout.url.endswith("/_sandbox/login")
    assert browser.page("/_sandbox/", allow_redirects=False).status_code == 303


def test_with_a_token_nothing_leaks_without_it(guarded):
    payment = quickpay(guarded, "TOKEN-1")
    anonymous = Browser(guarded.url)
    anonymous.page("/_sandbox/login")
    for path in (f"/_sandbox/payments/{payment['id']}", "/_sandbox/merchants/demo-quickpay",
                 "/_sandbox/merchants/demo-quickpay/keys/quickpay/key"):
        assert anonymous.page(path, allow_redirects=False).status_code == 303
    assert anonymous.page("/_sandbox/events", headers={"Accept": "text/event-stream"}).status_code == 401
    assert anonymous.page("/_sandbox/", headers={"X-Fragment": "1"}).status_code == 401
    forged = anonymous.form(f"/_sandbox/payments/{payment['id']}/succeed")
    assert forged.status_code == 401
    assert anonymous.page("/_sandbox/rules", allow_redirects=False).status_code == 303
    rules = guarded.admin.rules()["rules"]
    for path, fields in [("/_sandbox/rules", {"name": "sneaky", "outcome": "succeed"}),
                         ("/_sandbox/rules/delete", {"id": "magic-404-declined"}),
                         ("/_sandbox/rules/delete-all", {"confirm": "yes"})]:
        assert anonymous.form(path, fields).status_code == 401, path
    assert guarded.admin.rules()["rules"] == rules
    paid = quickpay(guarded, "TOKEN-REFUND")
    guarded.admin.succeed(paid["id"])
    refund = guarded.admin.refund(paid["id"], amount=50, hold=True)
    for action in ("succeed", "fail", "close"):
        assert anonymous.form(f"/_sandbox/refunds/{refund['id']}/{action}").status_code == 401, action
    assert guarded.admin.payment(paid["id"])["refunds"][0]["status"] == "PROCESSING"
    assert guarded.admin.payment(payment["id"])["status"] == "PENDING"
    # a forged session cookie is refused too
    anonymous.cookies.set("sandbox_session", "0" * 64, path="/_sandbox/")
    assert anonymous.page("/_sandbox/", allow_redirects=False).status_code == 303
    # Bearer works for scripts, as on the admin API
    assert requests.get(f"{guarded.url}/_sandbox/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_with_a_token_the_cashier_needs_none(guarded):
    payment = quickpay(guarded, "TOKEN-2")
    payer = Browser(guarded.url)
    page = payer.page(f"/_sandbox/pay/{payment['id']}")
    assert page.status_code == 200 and "Pay ¥1.00" in page.text
    paid = payer.form(f"/_sandbox/pay/{payment['id']}/pay")
    assert paid.status_code == 200 and "Paid" in paid.text
    assert guarded.admin.payment(payment["id"])["status"] == "SUCCEEDED"


def test_login_only_redirects_into_the_console(guarded):
    browser = Browser(guarded.url)
    browser.page("/_sandbox/login")
    for target in ("https://evil.example/", "//evil.example/", "/elsewhere", "/_sandbox/\\evil"):
        response = browser.form("/_sandbox/login", {"token": TOKEN, "next": target}, follow=False)
        assert response.headers["Location"] == "/_sandbox/", target
