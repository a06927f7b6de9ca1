"""What a newcomer meets first: the bare root, the admin API's index and explorer, the access log, the command's
--help, and no warnings leaking from the sandbox into the user's own test run."""
from __future__ import annotations

import asyncio
import logging
import re
import warnings

import pytest
import requests
from aiohttp.test_utils import TestServer

from sandbox.access_log import ACCESS_LOG, AccessLogger
from sandbox.app import create_app
from sandbox.cli import parse_args
from sandbox.console.explorer import swagger_ui_static
from sandbox.settings import DEFAULT_FIXTURES, Settings
from sandbox.testing import SandboxServer


def test_the_root_redirects_to_the_console(sandbox):
    answer = requests.get(f"{sandbox.url}/", allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"] == "/_sandbox/"


@pytest.mark.parametrize("path", ["/_sandbox/api/", "/_sandbox/api"])
def test_the_api_root_is_an_index_of_resources_with_the_explorer(sandbox, path):
    index = requests.get(f"{sandbox.url}{path}", timeout=5)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("application/json")
    body = index.json()
    assert body["explorer"] == "/_sandbox/api/docs" and body["openapi"] == "/_sandbox/api/openapi.json"
    paths = {r["path"]: r for r in body["resources"]}
    assert paths["/_sandbox/api/payments"]["methods"] == ["GET"]
    assert {"GET", "POST"} <= set(paths["/_sandbox/api/merchants"]["methods"])
    assert all(r["summary"] for r in body["resources"])
    # anything else under the API root is still the API's own 404
    missing = requests.get(f"{sandbox.url}/_sandbox/api/nope", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_the_explorer_page_and_every_asset_it_loads_answer_200(sandbox):
    assert swagger_ui_static() is not None, "swagger-ui-py (a dependency) is not installed"
    page = requests.get(f"{sandbox.url}/_sandbox/api/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '"/_sandbox/api/openapi.json"' in page.text
    assets = re.findall(r'(?:src|href)="(/_sandbox/api/docs/assets/[^"]+)"', page.text)
    assert {a.rsplit("/", 1)[1] for a in assets} == {"swagger-ui.css", "swagger-ui-bundle.js"}
    for asset in assets:
        answer = requests.get(f"{sandbox.url}{asset}", timeout=10)
        assert answer.status_code == 200 and len(answer.content) > 10_000, asset
    assert requests.get(f"{sandbox.url}/_sandbox/api/openapi.json", timeout=5).json()["openapi"].startswith("3.1")


def test_the_consoles_api_menu_opens_the_explorer(sandbox):
    console = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).text
    assert re.search(r'<a href="/_sandbox/api/docs"[^>]*>API</a>', console)


def test_with_a_token_the_api_description_is_public_and_the_data_is_not():
    with SandboxServer(admin_token="s3cret") as server:
        for path in ("/_sandbox/api/", "/_sandbox/api/docs", "/_sandbox/api/openapi.json",
                     "/_sandbox/api/docs/assets/swagger-ui.css"):
            assert requests.get(f"{server.url}{path}", timeout=5).status_code == 200, path
        assert requests.get(f"{server.url}/_sandbox/api/payments", timeout=5).status_code == 401
        assert requests.get(f"{server.url}/_sandbox/api/docs/../payments", timeout=5).status_code == 401


def test_pages_raise_no_warnings_in_the_users_test_run(sandbox):
    """aiohttp_jinja2's context-processor middleware used a plain-string request key: NotAppKeyWarning on every page."""
    payment_page = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in ("/_sandbox/", "/_sandbox/merchants", "/_sandbox/rules", "/_sandbox/clock",
                     "/_sandbox/pay/no-such-payment"):
            payment_page = requests.get(f"{sandbox.url}{path}", timeout=10)
            assert payment_page.status_code in (200, 404), path
    assert [str(w.message) for w in caught] == []


class Collect(logging.Handler):
    """The access log's lines; `wait(n)` returns once n have been written (aiohttp writes each line after it sent
    the answer, so a client can have its answer before the line exists)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.changed.set()

    async def wait(self, n: int) -> list[str]:
        async with asyncio.timeout(10):
            while len(self.lines) < n:
                self.changed.clear()
                await self.changed.wait()
        return self.lines


async def test_one_access_log_line_per_request_with_the_merchant(aiohttp_client, tmp_path):
    app = create_app(Settings(db=str(tmp_path / "sandbox.db"), fixtures=str(DEFAULT_FIXTURES)))
    server = TestServer(app)
    await server.start_server(access_log=ACCESS_LOG, access_log_class=AccessLogger)  # as the command runs it
    collect, level = Collect(), ACCESS_LOG.level
    ACCESS_LOG.addHandler(collect)
    ACCESS_LOG.setLevel(logging.INFO)
    try:
        client = await aiohttp_client(server)
        await client.get("/", allow_redirects=False)
        await client.post("/QuickPay/Query", json={"store_no": "QP10000001", "order_no": "NOPE"})
        await client.post("/QuickPay/Query", json={"store_no": "QP99999999", "order_no": "NOPE"})
        await client.get("/_sandbox/api/health?secret=1")
        lines = await collect.wait(4)
    finally:
        ACCESS_LOG.removeHandler(collect)
        ACCESS_LOG.setLevel(level)
    assert len(lines) == 4, lines
    assert re.fullmatch(r"GET / 302 \d+\.\d ms", lines[0])
    assert re.fullmatch(r"POST /QuickPay/Query 200 \d+\.\d ms merchant=demo-quickpay", lines[1])
    assert re.fullmatch(r"POST /QuickPay/Query 200 \d+\.\d ms", lines[2])  # an unknown store names no merchant
    assert re.fullmatch(r"GET /_sandbox/api/health 200 \d+\.\d ms", lines[3])  # no query string: it may hold secrets


def test_access_log_is_off_above_info():
    logger = logging.getLogger("sandbox.access.test")
    logger.setLevel(logging.WARNING)
    assert not AccessLogger(logger, "").enabled
    logger.setLevel(logging.INFO)
    assert AccessLogger(logger, "").enabled


def test_log_level_flag_and_variable(monkeypatch):
    assert parse_args([]).log_level == "INFO"
    assert parse_args(["--log-level", "warning"]).log_level == "WARNING"
    monkeypatch.setenv("SANDBOX_LOG_LEVEL", "debug")
    assert parse_args([]).log_level == "DEBUG"
    with pytest.raises(SystemExit):
        parse_args(["--log-level", "LOUD"])


def test_help_lists_every_flag_and_promises_nothing_unbuilt(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--help"], prog="payment-sandbox")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: payment-sandbox")
    for flag, env in (("--host", "SANDBOX_HOST"), ("--port", "SANDBOX_PORT"), ("--db", "SANDBOX_DB"),
                      ("--fixtures", "SANDBOX_FIXTURES"), ("--public-url", "SANDBOX_PUBLIC_URL"),
                      ("--admin-token", "SANDBOX_ADMIN_TOKEN"), ("--notify-timeout", "SANDBOX_NOTIFY_TIMEOUT_S"),
                      ("--log-level", "SANDBOX_LOG_LEVEL")):
        assert flag in out and env in out, flag
    assert "merchant pay APIs" not in out and "repository" not in out
