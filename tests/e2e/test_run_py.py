"""The sandbox as a user starts it: `python run.py` in a subprocess, killed with -9 and restarted."""
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

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunPy:
    def __init__(self, db: Path, port: int):
        self.db, self.port = db, port
        self.url = f"http://127.0.0.1:{port}"
        self.admin = SyncAdminClient(self.url)
        self.proc: subprocess.Popen | None = None
        self.output = ""

    def start(self) -> "RunPy":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Its own process group (session), so teardown ends it and anything it started, whatever state it is in.
        self.proc = subprocess.Popen([sys.executable, "run.py", "--port", str(self.port), "--db", str(self.db)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sandbox/api/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                raise AssertionError(f"run.py exited: {self.proc.stdout.read()}")
        raise AssertionError("run.py did not come up in 30 s")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(15)
        self.output = self.proc.stdout.read()
        return code

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group's id is the leader's pid (start_new_session)
        except ProcessLookupError:
            pass  # the whole group has exited already
        self.proc.wait(10)


@pytest.fixture
def server(tmp_path):
    runs: list[RunPy] = []

    def start(db: Path | None = None, port: int | None = None) -> RunPy:
        run = RunPy(db or tmp_path / "sandbox.db", port or free_port())
        runs.append(run)  # before it starts: a start that fails or times out is still stopped at teardown
        return run.start()
    yield start
    for run in runs:
        run.stop()


def jsapi(sandbox_url: str, order_no: str, notify_url: str) -> dict:
    body = {"store_no": "QP10000001", "appid": "wxd678efh567hg6787", "openid": "o-e2e", "amount": 100,
            "order_no": order_no, "notify_url": notify_url}
    answer = requests.post(f"{sandbox_url}/QuickPay/JSAPIPay", json=body, timeout=10).json()
    assert answer["code"] == "SUCCESS", answer
    return answer["data"]


def test_help_documents_every_flag_and_its_environment_variable():
    out = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for flag, env in (("--host", "SANDBOX_HOST"), ("--port", "SANDBOX_PORT"), ("--db", "SANDBOX_DB"),
                      ("--fixtures", "SANDBOX_FIXTURES"), ("--public-url", "SANDBOX_PUBLIC_URL")):
        assert flag in out.stdout and env in out.stdout


def test_banner_then_clean_shutdown_on_ctrl_c(server, tmp_path):
    run = server()
    assert run.interrupt() == 0
    assert f"{run.url}/_sandbox/" in run.output and "demo-quickpay" in run.output and "QP10000001" in run.output
    assert "Traceback" not in run.output


def test_full_quickpay_flow_with_retries_and_clock_jump(server):
    run = server()
    with NotifyReceiver(status=500, body="busy") as receiver:
        data = jsapi(run.url, "E2E-1", receiver.url())
        payment = run.admin.payments(out_trade_no="E2E-1")["payments"][0]
        assert payment["provider_trade_no"] == data["transaction_no"]
        run.admin.succeed(payment["id"])
        receiver.wait_for(1)
        run.admin.advance(86400)
        receiver.wait_for(57, timeout=30)  # 10 pushes 20 s apart, then every 30 min until 24 h
        deadline = time.monotonic() + 30  # the 57th attempt is journaled just after its reply
        while (notification := run.admin.notifications(payment["id"])["notifications"][0])["status"] != "failed":
            assert time.monotonic() < deadline, notification["status"]
            time.sleep(0.05)
        assert notification["attempts"] == 57  # and, failed, it is never attempted again
        assert len(receiver.received) == 57
        # The schedule was kept on the sandbox clock: the last attempt was due 9 x 20 s + 47 x 30 min after the first.
        log = notification["attempt_log"]
        assert log[-1]["due_at"] - log[0]["due_at"] == pytest.approx(9 * 20 + 47 * 1800, abs=0.01)
        assert log[10]["due_at"] - log[9]["due_at"] == pytest.approx(1800, abs=0.01)


def test_kill_minus_9_loses_nothing_and_pending_notifies_are_delivered_after_restart(server, tmp_path):
    db = tmp_path / "durable.db"
    run = server(db=db)
    with NotifyReceiver(status=503, body="down") as receiver:
        ids = []
        for i in range(20):
            jsapi(run.url, f"K-{i}", receiver.url())
            payment = run.admin.payments(out_trade_no=f"K-{i}")["payments"][0]
            # half are failing now, half are delayed an hour: both must survive
            run.admin.succeed(payment["id"], **({"notify_delay_s": 3600} if i % 2 else {}))
            ids.append(payment["id"])
        receiver.wait_for(10)
        run.kill9()

        receiver.reply = (200, "SUCCESS")
        before = len(receiver.received)
        run = server(db=db, port=run.port)
        assert run.admin.payments(limit=100)["total"] == 20
        assert all(run.admin.payment(i)["status"] == "SUCCEEDED" for i in ids)
        run.admin.advance(3600)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [n["status"] for n in run.admin.notifications(status="delivered", limit=1000)["notifications"]]
            if len(states) == 20:
                break
            time.sleep(0.2)
        assert len(states) == 20, f"only {len(states)} of 20 notifications delivered after restart"
        delivered_orders = {json.loads(r.body)["order_no"] for r in receiver.received[before:]}
        assert delivered_orders == {f"K-{i}" for i in range(20)}


def test_fifty_concurrent_identical_creates_are_one_payment(server):
    from concurrent.futures import ThreadPoolExecutor
    run = server()
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: jsapi(run.url, "SAME", "http://127.0.0.1:9/n"), range(50)))
    assert len({a["transaction_no"] for a in answers}) == 1
    assert run.admin.payments(out_trade_no="SAME")["total"] == 1
