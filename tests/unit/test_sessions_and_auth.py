"""Console and admin API details for a shared sandbox (issue 15, item 5): server-side sessions that expire after 12 h
and end at sign-out, Secure cookies behind TLS, the Bearer scheme required, repeated failures slowed per client
(counted, on a clock the test holds), QuickPay's sign compared in constant time, and the OpenAPI document in step
with the server (405 for methods a path does not take, limits and nullable fields from the models)."""
from __future__ import annotations

import hmac
import re

import pytest
import requests

from console_http import STORE, Browser
from sandbox.console.sessions import MAX_FAILURES, SESSION_TTL_S, SESSIONS, THROTTLE
from sandbox.providers.quickpay import wire as quickpay_wire
from sandbox.testing import SandboxServer

TOKEN = "s3cret-token-for-tests"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def guarded():
    with SandboxServer(admin_token=TOKEN) as server:
        yield server


def _login(server, url: str | None = None, token: str = TOKEN) -> tuple[Browser, requests.Response]:
    browser = Browser(url or server.url)
    browser.page("/_sandbox/login")
    return browser, browser.form("/_sandbox/login", {"token": token, "next": "/_sandbox/"}, follow=False)


def _with_cookie(server, value: str) -> requests.Response:
    return requests.get(f"{server.url}/_sandbox/", cookies={"sandbox_session": value}, allow_redirects=False,
                        timeout=10)


def test_sessions_are_random_server_side_and_end_at_sign_out(guarded):
    browser, answer = _login(guarded)
    assert answer.status_code == 303
    first = browser.cookies["sandbox_session"]
    assert f"Max-Age={SESSION_TTL_S}" in answer.headers["Set-Cookie"]
    other, _ = _login(guarded)
    assert other.cookies["sandbox_session"] != first  # not a fixed value derived from the token
    assert _with_cookie(guarded, first).status_code == 200
    assert browser.form("/_sandbox/logout", follow=False).status_code == 303
    assert _with_cookie(guarded, first).status_code == 303  # the cookie, kept by someone, is worth nothing now
    assert _with_cookie(guarded, other.cookies["sandbox_session"]).status_code == 200  # other sessions go on
    assert _with_cookie(guarded, "forged").status_code == 303


def test_sessions_expire_after_12_hours(guarded):
    clock = FakeClock()
    guarded.app[SESSIONS].clock = clock
    browser, _ = _login(guarded)
    cookie = browser.cookies["sandbox_session"]
    clock.now += SESSION_TTL_S - 1
    assert _with_cookie(guarded, cookie).status_code == 200
    clock.now += 1
    assert _with_cookie(guarded, cookie).status_code == 303


@pytest.mark.parametrize("public_url, secure", [("https://sandbox.example.com", True), (None, False)])
def test_cookies_are_secure_behind_tls(public_url, secure):
    with SandboxServer(admin_token=TOKEN, public_url=public_url) as server:
        local = f"http://127.0.0.1:{server.settings.port}"
        page = requests.get(f"{local}/_sandbox/login", timeout=10)
        csrf = re.search(r"sandbox_csrf=([^;]+)", page.headers["Set-Cookie"]).group(1)
        assert ("; Secure" in page.headers["Set-Cookie"]) is secure
        # sent by hand: a cookie jar keeps a Secure cookie off plain http, as a browser would
        answer = requests.post(f"{local}/_sandbox/login", data={"token": TOKEN, "csrf_token": csrf},
                               headers={"Cookie": f"sandbox_csrf={csrf}"}, allow_redirects=False, timeout=10)
        assert answer.status_code == 303
        cookie = answer.headers["Set-Cookie"]
        assert ("; Secure" in cookie or cookie.endswith("Secure")) is secure, cookie


def test_the_bearer_scheme_is_required(guarded):
    api = f"{guarded.url}/_sandbox/api/merchants"
    assert requests.get(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200
    assert requests.get(api, headers={"Authorization": f"bearer {TOKEN}"}, timeout=10).status_code == 200
    for header in (TOKEN, f"Token {TOKEN}", f"Basic {TOKEN}", f"Bearer{TOKEN}"):
        answer = requests.get(api, headers={"Authorization": header}, timeout=10)
        assert answer.status_code == 401, header
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    page = requests.get(f"{guarded.url}/_sandbox/", headers={"Authorization": TOKEN}, allow_redirects=False,
                        timeout=10)
    assert page.status_code == 303


def test_wrong_logins_are_slowed_per_client(guarded):
    clock = FakeClock()
    guarded.app[THROTTLE].clock = clock
    for _ in range(MAX_FAILURES):
        assert _login(guarded, token="wrong")[1].status_code == 401
    refused = _login(guarded)[1]  # even the right token, until the window has passed
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "Too many wrong tokens" in refused.text
    clock.now += 59
    assert _login(guarded)[1].status_code == 429
    clock.now += 1
    assert _login(guarded)[1].status_code == 303


def test_wrong_bearer_tokens_are_slowed_per_client(guarded):
    clock = FakeClock()
    guarded.app[THROTTLE].clock = clock
    api = f"{guarded.url}/_sandbox/api/merchants"
    for _ in range(10):  # no Authorization at all is not a guess: never slowed
        assert requests.get(api, timeout=10).status_code == 401
    for _ in range(MAX_FAILURES):
        assert requests.get(api, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    slowed = requests.get(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert slowed.status_code == 429 and slowed.json()["error"]["code"] == "TOO_MANY_FAILURES"
    assert slowed.headers["Retry-After"] == "60"
    assert requests.get(f"{guarded.url}/_sandbox/api/health", timeout=10).status_code == 200  # public stays open
    clock.now += 60
    assert requests.get(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200


def test_quickpay_compares_the_sign_in_constant_time(sandbox, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    key = sandbox.admin.merchant("demo-quickpay-signed")["credentials"]["quickpay"]["key"]
    body = {"store_no": "QP10000002", "order_no": "CT-1"}
    good = quickpay_wire.sign(body, key)
    for sign, code in ((good, "ORDER_NOT_EXIST"), ("0" * 32, "SIGN_ERROR")):
        answer = requests.post(f"{sandbox.url}/QuickPay/Query", json={**body, "sign": sign}, timeout=10).json()
        assert answer["code"] == code
    assert (good.encode(), good.encode()) in calls and (b"0" * 32, good.encode()) in calls
    assert STORE  # the unsigned store (QP10000001) is not asked for a sign at all


def test_the_openapi_document_matches_the_server(sandbox):
    api = f"{sandbox.url}/_sandbox/api"
    for method, path in (("TRACE", "/rules"), ("TRACE", "/health"), ("PATCH", "/clock"), ("DELETE", "/merchants")):
        answer = requests.request(method, api + path, timeout=10)
        assert answer.status_code == 405, (method, path)
        assert answer.json()["error"]["code"] == "METHOD_NOT_ALLOWED" and answer.headers["Allow"]
    assert requests.request("TRACE", f"{api}/nowhere", timeout=10).status_code == 404
    schemas = requests.get(f"{api}/openapi.json", timeout=10).json()["components"]["schemas"]
    amount = schemas["RuleMatch"]["properties"]["amount"]
    assert {"exclusiveMinimum": 0, "maximum": 10**12, "type": "integer"} in amount["anyOf"]
    assert {"type": "null"} in amount["anyOf"]  # null is declared, and the server takes it
    assert requests.post(f"{api}/rules", json={"match": {"amount": None}, "action": {"outcome": "pending"}},
                         timeout=10).status_code == 201
    times = schemas["RuleAction"]["properties"]["api_times"]
    assert {"maximum": 10**9, "minimum": 1, "type": "integer"} in times["anyOf"]
    assert schemas["Rule"]["properties"]["name"]["maxLength"] == 200
    assert schemas["Refund"]["properties"]["amount"]["description"] == "fen; default: all that is left"
    assert re.match(r"Answered with position", schemas["Rule"]["description"])
