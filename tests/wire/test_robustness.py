"""Hostile input never reaches a 500 or a traceback (issue 15, item 2): deeply nested JSON, lone surrogates, integers
past 64 bits and page numbers past any list, at every door that reads a JSON body (each provider, each app, the admin
API), each answered in that door's own error shape. Then schemathesis against the admin API's OpenAPI document.

Every test captures the server's log (it runs in this process, in a thread) and asserts no traceback in it."""
from __future__ import annotations

import json
import logging

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from sandbox import jsonbody
from sandbox.console.openapi import openapi_document
from sandbox.core.rules import Rule, RuleAction, RuleMatch
from sandbox.providers.alipay import signing as alipay_signing
from sandbox.store.rows import Unstorable, dumps
from sandbox.testing import SandboxServer
from wechat_sdks import credentials, v3_request

DEEP = b"[" * 30_000
DEEP_OBJECT = b'{"a":' * 30_000
SURROGATE = '"x\\udfff"'  # a JSON string with a lone (low) surrogate escape
API = "/_sandbox/api"


@pytest.fixture(autouse=True)
def no_traceback(caplog):
    """The server's log (every logger, every level) holds no traceback once the test is done."""
    caplog.set_level(logging.INFO)
    yield
    problems = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not problems, [(r.name, r.getMessage(), r.exc_text) for r in problems]
    assert "Traceback" not in caplog.text


# ----- the decoder and the encoder themselves -------------------------------------------------------------------

@pytest.mark.parametrize("raw, reason", [
    (DEEP, "deeper than 32 levels"), (DEEP_OBJECT, "deeper than 32 levels"),
    (b'{"a": ' + SURROGATE.encode() + b"}", "lone surrogate"), (b'{"a": 123456789012345678901234567890}', "19 digits"),
    (b"\xff", "not JSON"), (b"{", "not JSON"), (b"x" * (jsonbody.MAX_BYTES + 1), "larger than"),
], ids=["deep", "deep-object", "surrogate", "huge-int", "not-utf8", "truncated", "too-large"])
def test_the_decoder_refuses_in_plain_words(raw, reason):
    with pytest.raises(jsonbody.BodyError, match=reason):
        jsonbody.loads(raw)


def test_the_decoder_keeps_what_is_fine():
    nested = b"[" * 32 + b"]" * 32  # at the limit
    assert jsonbody.loads(nested) is not None
    assert jsonbody.loads(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": "\\ud83d\\ude00"}') == {
        "a": "[" * 40, "b": "\U0001F600"}
    assert jsonbody.loads(b'{"n": 9223372036854775807, "f": 1.50000000000000000000001}', decimal=True) == {
        "n": 2**63 - 1, "f": __import__("decimal").Decimal("1.50000000000000000000001")}
    assert jsonbody.loads(b"\xef\xbb\xbf{}", bom=True) == {}


@pytest.mark.parametrize("value, reason", [({"name": "x\udfff"}, "lone surrogate"), ({"n": 10**30}, "64-bit")])
def test_the_store_encoder_refuses_what_it_cannot_keep(value, reason):
    with pytest.raises(Unstorable, match=reason):
        dumps(value)


def test_a_rule_the_store_cannot_keep_is_refused_not_a_crash(sandbox):
    """A rule built in process past its model's checks, with a lone surrogate: the store's write refuses it."""
    rule = Rule.model_construct(id=None, name="x\udfff", match=RuleMatch(amount=777), action=RuleAction(), hits=0,
                                shipped=False)
    with pytest.raises(Unstorable):
        sandbox.call(sandbox.engine.add_rule(rule))
    assert all(r["name"] != "x\udfff" for r in sandbox.admin.rules()["rules"])


# ----- providers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT,
                                  b'{"store_no": "QP10000001", "iteminfo": ' + SURROGATE.encode() + b"}"],
                         ids=["deep", "deep-object", "surrogate"])
def test_quickpay_answers_param_error(sandbox, body):
    answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", data=body, timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["code"] == "PARAM_ERROR" and answer.json()["data"] is None


def test_quickpay_create_with_a_lone_surrogate_in_a_valid_order(sandbox):
    body = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o", "amount": 100,
            "order_no": "SURR-1", "iteminfo": "x\udfff"}
    answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", data=json.dumps(body), timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["code"] == "PARAM_ERROR" and "surrogate" in answer.json()["msg"]
    assert sandbox.admin.payments(out_trade_no="SURR-1")["total"] == 0


@pytest.mark.parametrize("body", [DEEP, b'{"description": ' + SURROGATE.encode() + b"}",
                                  b'{"amount": {"total": 100000000000000000000000000000}}'],
                         ids=["deep", "surrogate", "huge-int"])
def test_wechat_v3_answers_param_error(sandbox, body):
    creds = credentials(sandbox, "demo-wechat-pubkey")
    answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "PARAM_ERROR"


@pytest.mark.parametrize("body", [DEEP, b'{"description": ' + SURROGATE.encode() + b"}"], ids=["deep", "surrogate"])
def test_wechat_v3_badly_signed_hostile_bodies_are_sign_errors(sandbox, body):
    """The signature doctor looks into a refused call's body too: bounded like everything else."""
    creds = credentials(sandbox, "demo-wechat-pubkey")
    answer = v3_request(sandbox, creds, "POST", "/v3/pay/transactions/native", body, signed_body=b"other bytes")
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "SIGN_ERROR"


def test_alipay_biz_content_too_deep_is_invalid_parameter(sandbox):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    params = alipay_signing.build_request("alipay.trade.precreate", {"x": 1}, app_id=creds["app_id"])
    params["biz_content"] = DEEP.decode()
    params["sign"] = alipay_signing.sign(alipay_signing.signing_string(params), creds["app_private_key_pem"])
    answer = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["alipay_trade_precreate_response"]["sub_code"] == "ACQ.INVALID_PARAMETER"


# ----- merchant apps --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, headers", [
    ("/app/partner/order/pay", {"Content-Type": "application/json"}),
    ("/api/order/pay", {"Content-Type": "application/json"}),
    ("/users/login", {"Content-Type": "application/json"}),
])
@pytest.mark.parametrize("body", [DEEP_OBJECT, b'{"a": ' + SURROGATE.encode() + b"}"], ids=["deep", "surrogate"])
def test_apps_answer_in_their_envelope(sandbox, path, headers, body):
    answer = requests.post(f"{sandbox.url}{path}", data=body, headers=headers, timeout=10)
    assert answer.status_code < 500, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")


# ----- the admin API and the console -----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("POST", "/rules"), ("PUT", "/rules/magic-411-pays"), ("POST", "/merchants"), ("POST", "/clock/advance"),
    ("POST", "/alipay/app-pay"), ("POST", "/apps/shop/actions/settings"),
])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["deep", "deep-object"])
def test_admin_api_deep_bodies_are_400(sandbox, method, path, body):
    answer = requests.request(method, f"{sandbox.url}{API}{path}", data=body, timeout=10)
    assert answer.status_code == 400, answer.text
    if path != "/alipay/app-pay":  # app-pay says what it expects, as for any body that is not an order string
        assert "deeper than" in answer.json()["error"]["message"]


@pytest.mark.parametrize("rule, field", [
    ({"name": "x\udfff"}, "surrogate"),
    ({"match": {"amount": 10**30}}, "19 digits"),
    ({"action": {"api_error": True, "api_times": 10**30}}, "19 digits"),
    ({"match": {"amount": 10**12 + 1}}, "match.amount"),
    ({"action": {"api_error": True, "api_times": 2**63 - 1}}, "action.api_times"),
    ({"action": {"after_s": 1e300}}, "action.after_s"),
    ({"name": "n" * 201}, "name"),
])
def test_admin_api_rules_are_bounded(sandbox, rule, field):
    answer = requests.post(f"{sandbox.url}{API}/rules", data=json.dumps(rule), timeout=10)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]
    assert len(sandbox.admin.rules()["rules"]) == 6  # the shipped ones only


@pytest.mark.parametrize("cookie", ["%5B" * 2000, "%7B%22message%22%3A%22x%5Cudfff%22%7D"], ids=["deep", "surrogate"])
def test_a_hostile_flash_cookie_is_ignored(sandbox, cookie):
    answer = requests.get(f"{sandbox.url}/_sandbox/", cookies={"sandbox_flash": cookie}, timeout=10)
    assert answer.status_code == 200 and 'class="flash' not in answer.text


def test_console_page_numbers_are_clamped(sandbox):
    answer = requests.get(f"{sandbox.url}/_sandbox/payments", params={"page": "9" * 40}, timeout=10)
    assert answer.status_code == 200
    answer = requests.get(f"{sandbox.url}{API}/payments", params={"offset": "9" * 40}, timeout=10)
    assert answer.status_code < 500


# ----- schemathesis against the admin API's OpenAPI document ------------------------------------------------------

@pytest.fixture(scope="module")
def fuzzed_sandbox():
    """One sandbox for every generated case (a fresh one per case would cost more than the cases)."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def admin_schema(fuzzed_sandbox):
    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.config.update(base_url=f"{fuzzed_sandbox.url}{API}")
    return schema


admin_api = schemathesis.pytest.from_fixture("admin_schema")


@admin_api.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_admin_api_never_answers_5xx(case, fuzzed_sandbox):
    """Bounded, reproducible examples of every operation (positive and negative): never a 5xx, never a traceback."""
    response = case.call(base_url=f"{fuzzed_sandbox.url}{API}", timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:300])
