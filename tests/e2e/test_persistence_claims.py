"""README claims about run.py that had no test (issue 13): every SANDBOX_* variable and its flag reach the server
(--public-url into QR codes and cashier links, --fixtures '' for an empty database, --notify-timeout into the
notifier), and refunds and the total clock offset survive kill -9."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.testing import NotifyReceiver, SyncAdminClient

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args: list[str], env: dict[str, str], port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.admin = SyncAdminClient(self.url)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
        self.proc = subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT,
                                     env={**clean, "PYTHONUNBUFFERED": "1", **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.url}/_sandbox/api/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"run.py exited: {self.proc.stdout.read()}")
            assert time.monotonic() < deadline, "run.py did not come up in 30 s"
            time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start():
    servers: list[Server] = []

    def run(*args: str, env: dict[str, str] | None = None, port: int | None = None) -> Server:
        port = port or free_port()
        server = Server(list(args), env or {}, port)
        servers.append(server)
        return server
    yield run
    for server in servers:
        server.stop()


def wait_until(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def qr_and_notify_timeout(server: Server, public_url: str) -> None:
    """An empty database (no fixtures), a store made through the admin API; the QR code carries the public URL and
    a notify the merchant answers too late is journaled as timed out after the configured 1 s."""
    assert server.admin.merchants()["merchants"] == []
    assert server.admin.payments()["total"] == 0
    server.admin.create_merchant("Shop", {"quickpay": {"store_no": "QP77770001"}}, merchant_id="shop")
    with NotifyReceiver(status=200, body="OK", delay_s=3) as receiver:
        answer = requests.post(f"{server.url}/QuickPay/QRPay", timeout=10, json={
            "store_no": "QP77770001", "amount": 100, "order_no": "PUB-1", "qr_format": "url",
            "notify_url": receiver.url()}).json()
        assert answer["code"] == "SUCCESS", answer
        (payment,) = server.admin.payments(out_trade_no="PUB-1")["payments"]
        assert answer["data"]["cloudpay_param"] == f"{public_url}/_sandbox/pay/{payment['id']}"
        server.admin.succeed(payment["id"])
        receiver.wait_for(1)

        def attempted():
            (notification,) = server.admin.notifications(payment["id"])["notifications"]
            return notification["attempt_log"] or None
        (attempt,) = wait_until(attempted, "the late notify journaled", timeout=30)
        assert attempt["error"] == "timed out after 1 s" and attempt["acknowledged"] is False


def test_sandbox_environment_variables_reach_the_server(start, tmp_path):
    port, db = free_port(), tmp_path / "from-env.db"
    server = start(env={"SANDBOX_HOST": "127.0.0.1", "SANDBOX_PORT": str(port), "SANDBOX_DB": str(db),
                        "SANDBOX_FIXTURES": "", "SANDBOX_PUBLIC_URL": "http://phone.example:9999",
                        "SANDBOX_NOTIFY_TIMEOUT_S": "1"}, port=port)
    assert db.exists()  # SANDBOX_DB
    qr_and_notify_timeout(server, "http://phone.example:9999")
    token_port = free_port()
    guarded = start(env={"SANDBOX_PORT": str(token_port), "SANDBOX_DB": str(tmp_path / "token.db"),
                         "SANDBOX_ADMIN_TOKEN": "env-token"}, port=token_port)
    assert requests.get(f"{guarded.url}/_sandbox/api/merchants", timeout=5).status_code == 401
    assert requests.get(f"{guarded.url}/_sandbox/api/merchants", timeout=5,
                        headers={"Authorization": "Bearer env-token"}).status_code == 200


def test_flags_public_url_empty_fixtures_and_notify_timeout(start, tmp_path):
    port = free_port()
    server = start("--port", str(port), "--db", str(tmp_path / "flags.db"), "--fixtures", "",
                   "--public-url", "https://sandbox.example/", "--notify-timeout", "1", port=port)
    qr_and_notify_timeout(server, "https://sandbox.example")


def test_refunds_and_the_total_clock_offset_survive_kill_minus_9(start, tmp_path):
    db, port = tmp_path / "durable.db", free_port()
    server = start("--port", str(port), "--db", str(db), port=port)
    answer = requests.post(f"{server.url}/QuickPay/JSAPIPay", timeout=10, json={
        "store_no": "QP10000001", "appid": "wxd678efh567hg6787", "openid": "o", "amount": 1000, "order_no": "K9-R"}
    ).json()
    assert answer["code"] == "SUCCESS", answer
    (payment,) = server.admin.payments(out_trade_no="K9-R")["payments"]
    server.admin.succeed(payment["id"])
    done = server.admin.refund(payment["id"], amount=300, out_refund_no="R-DONE")
    held = server.admin.refund(payment["id"], amount=200, out_refund_no="R-HELD", hold=True)
    before = server.admin.clock()["offset_s"]
    server.admin.advance(100)
    server.admin.advance(100)
    server.kill9()

    server = start("--port", str(port), "--db", str(db), port=port)
    assert server.admin.clock()["offset_s"] == before + 200  # the total, not the last advance
    detail = server.admin.payment(payment["id"])
    assert detail["refunded_amount"] == 500  # a held refund counts against what is left
    refunds = {r["out_refund_no"]: (r["id"], r["amount"], r["status"]) for r in detail["refunds"]}
    assert refunds == {"R-DONE": (done["id"], 300, "SUCCEEDED"), "R-HELD": (held["id"], 200, "PROCESSING")}
    settled = server.admin.refund_outcome(held["id"], "succeed")
    assert settled["status"] == "SUCCEEDED"
    assert server.admin.refund(payment["id"])["amount"] == 500  # what is left, after the restart
    assert json.loads(requests.post(f"{server.url}/QuickPay/Query", timeout=10, json={
        "store_no": "QP10000001", "order_no": "K9-R"}).text)["data"]["transaction_status"] == "SUCCESSED"
