"""The request journal (issue 12): every call to a provider or app path is kept with its answer and verdict,
bounded, off with --journal-keep 0; the console's Requests pages and the admin API show it."""
from __future__ import annotations

import base64
import json

import pytest

from sandbox.app import create_app
from sandbox.appkeys import ENGINE
from sandbox.cli import parse_args
from sandbox.console import journal_view
from sandbox.console.openapi import openapi_document
from sandbox.request_journal import BODY_CAP
from sandbox.settings import Settings

STORE = "QP10000001"
ORDER = {"store_no": STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
         "amount": 100, "iteminfo": "Gift pack"}


@pytest.fixture
async def make(aiohttp_client, tmp_path):
    async def start(**settings):
        app = create_app(Settings(db=str(tmp_path / "journal.db"), **settings))
        client = await aiohttp_client(app)
        client.engine = app[ENGINE]
        return client
    return start


@pytest.fixture
async def client(make):
    return await make()


async def entries(client, **filters) -> list[dict]:
    await client.engine.journal.flushed()
    rows, _ = await client.engine.list_requests(**filters)
    return rows


async def full(client, entry_id: str) -> dict:
    await client.engine.journal.flushed()
    return await client.engine.request_entry(entry_id)


async def test_an_accepted_call_is_kept_with_its_bytes_answer_merchant_and_payment(client):
    engine = client.engine
    body = json.dumps({**ORDER, "order_no": "J-1"}).encode()
    before = engine.clock.now()
    answer = await client.post("/QuickPay/JSAPIPay?trace=1", data=body, headers={"Content-Type": "application/json"})
    answer_bytes = await answer.read()
    after = engine.clock.now()
    payment = (await engine.find_payment("demo-quickpay", "quickpay", "J-1"))
    [row] = await entries(client)
    entry = await full(client, row["id"])
    assert {k: entry[k] for k in ("method", "path", "query", "provider", "status", "verdict", "code", "reason",
                                  "rule_id", "diagnosis", "suggestion", "merchant_id", "payment_id")} == {
        "method": "POST", "path": "/QuickPay/JSAPIPay", "query": "trace=1", "provider": "quickpay", "status": 200,
        "verdict": "accepted", "code": None, "reason": None, "rule_id": None, "diagnosis": None, "suggestion": None,
        "merchant_id": "demo-quickpay", "payment_id": payment.id}
    assert entry["request_body"] == body and entry["request_size"] == len(body)
    assert entry["response_body"] == answer_bytes and entry["response_size"] == len(answer_bytes)
    assert ["Content-Type", "application/json"] in entry["request_headers"]
    assert ["Content-Type", "application/json; charset=utf-8"] in entry["response_headers"]
    assert before <= entry["at"] <= after and entry["latency_ms"] > 0 and entry["real_at"] > 0
    assert entry["id"].startswith("req_")


async def test_a_refused_call_is_rejected_with_the_code_its_client_saw(client):
    await client.post("/QuickPay/JSAPIPay", json={**ORDER, "store_no": "QP404", "order_no": "J-2"})
    await client.get("/pay-orders")  # hmall: an error answer of its own (not logged in)
    await client.get("/pay-orders/1")  # hmall's path, not for GET: aiohttp's 405, noted by its status
    await client.get("/nowhere/at/all")   # nobody's path: aiohttp's 404, noted by its status
    nowhere, method, hmall, quickpay = await entries(client)
    assert (quickpay["verdict"], quickpay["code"], quickpay["reason"], quickpay["merchant_id"]) == \
        ("rejected", "STORE_NOT_EXIST", "门店不存在: store_no QP404", None)
    assert (hmall["verdict"], hmall["provider"], hmall["status"], hmall["code"], hmall["merchant_id"]) == \
        ("rejected", "hmall", 401, "401", "demo-hmall")
    assert (method["verdict"], method["provider"], method["status"], method["code"], method["reason"]) == \
        ("rejected", "hmall", 405, "405", "Method Not Allowed")
    assert (nowhere["verdict"], nowhere["code"], nowhere["reason"], nowhere["provider"], nowhere["status"]) == \
        ("rejected", "404", "Not Found", None, 404)


async def test_a_call_a_fault_rule_answers_is_faulted_by_that_rule(client):
    rule = await client.engine.add_rule(
        __import__("sandbox.core.rules", fromlist=["Rule"]).Rule.model_validate(
            {"id": "busy", "name": "busy", "match": {"provider": "quickpay", "operation": "create"},
             "action": {"api_error": True}}))
    answer = await client.post("/QuickPay/JSAPIPay", json={**ORDER, "order_no": "J-3"})
    assert (await answer.json())["code"] == "FAIL"
    [entry] = await entries(client)
    assert (entry["verdict"], entry["rule_id"], entry["reason"], entry["code"], entry["merchant_id"]) == \
        ("faulted", rule.id, "answered a system error", None, "demo-quickpay")


async def test_bodies_are_capped_with_their_real_size_and_a_streamed_body_is_kept_too(client):
    big = b"biz_content=" + b"x" * (BODY_CAP + 1000)
    await client.post("/gateway.do", data=big, headers={"Content-Type": "application/x-www-form-urlencoded"})

    async def chunks():
        yield json.dumps({**ORDER, "order_no": "J-4"}).encode()[:20]
        yield json.dumps({**ORDER, "order_no": "J-4"}).encode()[20:]
    streamed = await client.post("/QuickPay/JSAPIPay", data=chunks(), headers={"Content-Type": "application/json"})
    assert (await streamed.json())["code"] == "SUCCESS"
    chunked, capped = await entries(client)
    capped = await full(client, capped["id"])
    assert capped["request_size"] == len(big) and capped["request_body"] == big[:BODY_CAP]
    chunked = await full(client, chunked["id"])
    assert chunked["request_body"] == json.dumps({**ORDER, "order_no": "J-4"}).encode()
    assert chunked["verdict"] == "accepted" and chunked["payment_id"] is not None
    api = await (await client.get(f"/_sandbox/api/requests/{capped['id']}")).json()
    assert api["request"]["size"] == len(big) and api["request"]["kept"] == BODY_CAP
    assert api["request"]["truncated"] is True and base64.b64decode(api["request"]["body_base64"]) == big[:BODY_CAP]


async def test_retention_keeps_the_newest_n(make):
    client = await make(journal_keep=3)
    for n in range(5):
        await client.post("/QuickPay/Query", json={"store_no": STORE, "order_no": f"R-{n}"})
    rows = await entries(client)
    assert [json.loads((await full(client, r["id"]))["request_body"])["order_no"] for r in rows] == \
        ["R-4", "R-3", "R-2"]


async def test_keep_0_turns_the_journal_off(make):
    client = await make(journal_keep=0)
    answer = await client.post("/QuickPay/JSAPIPay", json={**ORDER, "order_no": "J-5"})
    assert (await answer.json())["code"] == "SUCCESS"
    assert await entries(client) == [] and client.engine.journal.enabled is False
    page = await (await client.get("/_sandbox/requests")).text()
    assert 'id="journal-off"' in page


def test_the_flag_and_the_variable(monkeypatch):
    assert parse_args([]).journal_keep == 100_000
    assert parse_args(["--journal-keep", "0"]).journal_keep == 0
    monkeypatch.setenv("SANDBOX_JOURNAL_KEEP", "250")
    assert parse_args([]).journal_keep == 250
    with pytest.raises(SystemExit):
        parse_args(["--journal-keep", "-1"])


async def test_a_full_queue_drops_and_counts_rather_than_waiting(client):
    journal = client.engine.journal
    journal.queue_max = 1
    entry = {"id": journal.new_id()}
    journal.record(entry)
    journal.record({"id": journal.new_id()})  # no await in between: the writer has not taken the first yet
    assert journal.dropped == 1


async def test_an_unserved_path_gets_the_providers_404_and_its_entry_names_the_nearest_real_path(client):
    quickpay = await client.post("/QuickPay/JSAPlPay", json={})
    assert quickpay.status == 404 and (await quickpay.json())["code"] == "FAIL"
    await client.post("/v3/pay/transactions/nativ", data=b"{}")
    await client.post("/pay/unifiedordr", data=b"<xml/>")
    await client.post("/QuickPay/Query", json={"store_no": STORE, "order_no": "none"})  # a real path: no hint
    real, v2, v3, qp = await entries(client)
    assert qp["suggestion"] == "POST /QuickPay/JSAPIPay" and qp["provider"] == "quickpay"
    assert v3["suggestion"] == "POST /v3/pay/transactions/native" and v3["provider"] == "wechat"
    assert v2["suggestion"] == "/pay/unifiedorder" and v2["provider"] == "wechat"
    assert real["suggestion"] is None and real["code"] == "ORDER_NOT_EXIST"
    page = await (await client.get(f"/_sandbox/requests/{v3['id']}")).text()
    assert 'id="suggestion">POST /v3/pay/transactions/native<' in page


async def test_a_payment_links_to_the_requests_that_touched_it(client):
    await client.post("/QuickPay/JSAPIPay", json={**ORDER, "order_no": "J-6"})
    await client.post("/QuickPay/Query", json={"store_no": STORE, "order_no": "J-6"})
    await client.post("/QuickPay/JSAPIPay", json={**ORDER, "order_no": "J-7"})
    payment = await client.engine.find_payment("demo-quickpay", "quickpay", "J-6")
    touched = await entries(client, payment_id=payment.id)
    assert [r["path"] for r in touched] == ["/QuickPay/Query", "/QuickPay/JSAPIPay"]
    page = await (await client.get(f"/_sandbox/payments/{payment.id}")).text()
    assert f'href="/_sandbox/requests?payment={payment.id}" id="payment-requests"' in page
    listed = await (await client.get(f"/_sandbox/requests?payment={payment.id}")).text()
    assert all(f'data-id="{r["id"]}"' in listed for r in touched) and listed.count('<tr data-id=') == 2


async def test_the_admin_api_lists_filters_and_shows_an_entry(client):
    await client.post("/QuickPay/JSAPIPay", json={**ORDER, "order_no": "J-8"})
    await client.post("/QuickPay/JSAPIPay", json={**ORDER, "store_no": "QP404", "order_no": "J-9"})
    listed = await (await client.get("/_sandbox/api/requests?verdict=rejected&path=/QuickPay/")).json()
    assert [(r["verdict"], r["code"]) for r in listed["requests"]] == [("rejected", "STORE_NOT_EXIST")]
    assert listed["total"] == 1 and listed["journal"] == {"enabled": True, "keep": 100_000, "dropped": 0}
    mine = await (await client.get("/_sandbox/api/requests?merchant=demo-quickpay&since=1h")).json()
    assert [r["merchant_id"] for r in mine["requests"]] == ["demo-quickpay"]
    one = await (await client.get(f"/_sandbox/api/requests/{mine['requests'][0]['id']}")).json()
    assert json.loads(one["request"]["body"])["order_no"] == "J-8" and one["response"]["truncated"] is False
    assert one["curl"].startswith("curl -X POST http://127.0.0.1:8080/QuickPay/JSAPIPay -H 'Accept: */*'")
    bad = await client.get("/_sandbox/api/requests?verdict=maybe")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "INVALID_QUERY"
    missing = await client.get("/_sandbox/api/requests/req_nope")
    assert missing.status == 404
    paths = openapi_document()["paths"]
    assert "/requests" in paths and "/requests/{id}" in paths


async def test_the_console_pages_show_the_journal_and_the_diagnosis(client):
    journal = client.engine.journal
    entry_id = journal.new_id()
    journal.record({
        "id": entry_id, "at": 1.0, "real_at": 1.0, "method": "POST", "path": "/v3/pay/transactions/native",
        "query": "", "provider": "wechat", "request_headers": [["Content-Type", "application/json"]],
        "request_body": b'{"a":1}', "request_size": 7, "status": 401, "response_headers": [],
        "response_body": b"", "response_size": 0, "latency_ms": 1.5, "merchant_id": "demo-wechat",
        "payment_id": None, "verdict": "rejected", "code": "SIGN_ERROR", "reason": "签名错误",
        "rule_id": None, "diagnosis": {"algorithm": "SHA256-RSA2048", "expected_string": "POST\n/v3\n",
                                       "key": {"serial": "ABC"}, "cause": "signed with the platform key",
                                       "hint": "platform key"},
        "suggestion": None})
    await journal.flushed()
    listing = await (await client.get("/_sandbox/requests?verdict=rejected&provider=wechat")).text()
    assert f'<tr data-id="{entry_id}"' in listing and "SIGN_ERROR" in listing
    page = await (await client.get(f"/_sandbox/requests/{entry_id}")).text()
    assert "signed with the platform key" in page and 'id="expected-string"><code>POST\n/v3\n</code>' in page
    assert 'data-copy-target="curl"' in page
    assert "curl -X POST http://127.0.0.1:8080/v3/pay/transactions/native -H" in page
    raw = await client.get(f"/_sandbox/requests/{entry_id}/request.bin")
    assert await raw.read() == b'{"a":1}' and raw.headers["Content-Type"] == "application/json"
    fragment = await (await client.get("/_sandbox/requests", headers={"X-Fragment": "1"})).text()
    assert fragment.lstrip().startswith('<tbody id="request-rows"')
    nav = await (await client.get("/_sandbox/")).text()
    assert '<a href="/_sandbox/requests" >Requests</a>' in nav


def test_curl_sends_the_same_request_again():
    row = {"method": "POST", "path": "/pay/unifiedorder", "query": "a=1",
           "request_headers": [["Host", "x"], ["Content-Length", "9"], ["Content-Type", "text/xml"]],
           "request_body": b"<xml>'</xml>", "request_size": 12}
    assert journal_view.curl(row, "http://127.0.0.1:8080") == (
        "curl -X POST 'http://127.0.0.1:8080/pay/unifiedorder?a=1' -H 'Content-Type: text/xml' "
        "--data-binary '<xml>'\"'\"'</xml>'")
    gbk = {**row, "request_body": "中".encode("gbk"), "request_size": 2, "request_headers": []}
    assert journal_view.curl(gbk, "http://h") == \
        "printf %s 1tA= | base64 -d | curl -X POST 'http://h/pay/unifiedorder?a=1' --data-binary @-"


async def test_with_an_admin_token_the_journal_is_behind_it_and_the_token_is_never_journaled(make):
    client = await make(admin_token="s3cret")
    page = await client.get("/_sandbox/requests", allow_redirects=False)
    assert page.status in (302, 303) and "/_sandbox/login" in page.headers["Location"]
    assert (await client.get("/_sandbox/api/requests")).status == 401
    api = await client.get("/_sandbox/api/requests", headers={"Authorization": "Bearer s3cret"})
    assert api.status == 200 and (await api.json())["requests"] == []  # the admin API's own calls are not journaled
