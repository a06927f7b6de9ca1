"""One database, several processes: `run.py --workers N` (worker processes on one port, one leader sending the
notifies) and the refusal of a second, separately started sandbox on the same file."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sandbox.testing import NotifyReceiver, SyncAdminClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
WORKER = "X-Sandbox-Worker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


class Sandbox:
    """run.py in its own session, its output read as it comes (the leader's pid is in it)."""

    def __init__(self, db: Path, *args: str):
        self.db, self.port = db, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = SyncAdminClient(self.url)
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "run.py", "--port", str(self.port), "--db", str(db),
                                      "--fixtures", str(ROOT / "fixtures"), *args],
                                     cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(self._up, "run.py to listen")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def _up(self) -> bool:
        assert self.proc.poll() is None, "".join(self.lines)
        try:
            return requests.get(f"{self.url}/_sandbox/api/health", timeout=1).ok and "Ctrl-C to stop." in self.output
        except requests.ConnectionError:
            return False

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def leaders(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"worker pid (\d+) leads", self.output)]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


@pytest.fixture
def start(tmp_path):
    started: list[Sandbox] = []

    def run(*args: str, db: Path | None = None) -> Sandbox:
        sandbox = Sandbox(db or tmp_path / "sandbox.db", *args)
        started.append(sandbox)
        return sandbox
    yield run
    for sandbox in started:
        sandbox.stop()


def create(url: str, order_no: str, notify_url: str = "http://127.0.0.1:9/n", amount: int = 100) -> requests.Response:
    body = {"store_no": "QP10000001", "appid": "wxd678efh567hg6787", "openid": "o-e2e", "amount": amount,
            "order_no": order_no, "notify_url": notify_url}
    return requests.post(f"{url}/QuickPay/JSAPIPay", json=body, timeout=10, headers={"Connection": "close"})


def on_every_worker(url: str, workers: int, prefix: str) -> dict[str, list[dict]]:
    """Creates (new connections each) until each of the workers answered at least twice: their answers by worker."""
    by_worker: dict[str, list[dict]] = {}
    n = 0
    while len(by_worker) < workers or min(len(a) for a in by_worker.values()) < 2:
        assert n < 400, f"requests reached only {sorted(by_worker)}"
        answer = create(url, f"{prefix}-{n}")
        by_worker.setdefault(answer.headers[WORKER], []).append(answer.json())
        n += 1
    return by_worker


def test_a_second_sandbox_on_the_same_database_refuses_to_start_until_the_first_is_gone(start, tmp_path):
    first = start()
    assert WORKER not in requests.get(f"{first.url}/_sandbox/api/health", timeout=5).headers  # one process
    second = subprocess.run([sys.executable, "run.py", "--port", str(free_port()), "--db", str(first.db)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2, second
    message = second.stderr.strip().splitlines()[-1]
    assert str(first.db) in message and f"pid {first.proc.pid}" in message, message
    assert "Traceback" not in second.stderr and "Payment sandbox on" not in second.stdout

    first.proc.send_signal(signal.SIGKILL)  # the OS lets go of the lock with the process
    first.proc.wait(10)
    third = start(db=first.db)
    assert third.admin.health()


def test_two_workers_share_the_port_and_fifty_identical_creates_are_one_payment(start):
    sandbox = start("--workers", "2")
    assert sandbox.output.count("Payment sandbox on") == 1  # the banner once, for the group
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: create(sandbox.url, "SAME"), range(50)))
    assert {a.json()["code"] for a in answers} == {"SUCCESS"}
    assert len({a.json()["data"]["transaction_no"] for a in answers}) == 1
    assert len({a.headers[WORKER] for a in answers}) == 2  # both workers answered (50 connections, hashed)
    assert sandbox.admin.payments(out_trade_no="SAME")["total"] == 1


def test_a_rule_added_through_one_worker_applies_on_every_worker_and_api_times_is_exact(start):
    sandbox = start("--workers", "2")
    rule = sandbox.admin.add_rule(name="busy", match={"provider": "quickpay", "operation": "create"},
                                  action={"api_error": True})
    for worker, answers in on_every_worker(sandbox.url, 2, "R").items():
        assert {a["code"] for a in answers} == {"FAIL"}, (worker, answers)
    sandbox.admin.delete_rules()
    for worker, answers in on_every_worker(sandbox.url, 2, "D").items():
        assert {a["code"] for a in answers} == {"SUCCESS"}, (worker, answers)

    rule = sandbox.admin.add_rule(name="busy 5 times", match={"provider": "quickpay", "operation": "create"},
                                  action={"api_error": True, "api_times": 5})
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda n: create(sandbox.url, f"T-{n}"), range(60)))
    assert len({a.headers[WORKER] for a in answers}) == 2
    assert sum(a.json()["code"] == "FAIL" for a in answers) == 5
    assert next(r for r in sandbox.admin.rules()["rules"] if r["id"] == rule["id"])["hits"] == 5


def test_a_merchant_and_the_clock_changed_through_one_worker_are_seen_by_every_worker(start):
    sandbox = start("--workers", "2", "--fixtures", "")
    assert sandbox.admin.merchants()["merchants"] == []
    made = sandbox.admin.create_merchant("late", {"quickpay": {}})
    store_no = made["credentials"]["quickpay"]["store_no"]
    seen: dict[str, dict] = {}
    for n in range(400):
        body = {"store_no": store_no, "appid": "wx1", "openid": "o", "amount": 100, "order_no": f"M-{n}",
                "notify_url": "http://127.0.0.1:9/n"}
        answer = requests.post(f"{sandbox.url}/QuickPay/JSAPIPay", json=body, timeout=10,
                               headers={"Connection": "close"})
        assert answer.json()["code"] == "SUCCESS", answer.json()
        seen[answer.headers[WORKER]] = answer.json()
        if len(seen) == 2:
            break
    assert len(seen) == 2
    before = sandbox.admin.clock()["now"]
    sandbox.admin.advance(86400)
    clocks = set()
    for _ in range(400):
        answer = requests.get(f"{sandbox.url}/_sandbox/api/clock", timeout=10, headers={"Connection": "close"})
        assert answer.json()["now"] >= before + 86400
        clocks.add(answer.headers[WORKER])
        if len(clocks) == 2:
            break
    assert len(clocks) == 2


def test_the_leader_killed_with_notifies_pending_another_worker_delivers_them_all(start):
    sandbox = start("--workers", "2")
    leader = wait_until(sandbox.leaders, "a leader")[0]
    with NotifyReceiver(status=200, body="SUCCESS") as receiver:
        ids = []
        for i in range(10):
            assert create(sandbox.url, f"L-{i}", receiver.url()).json()["code"] == "SUCCESS"
            payment = sandbox.admin.payments(out_trade_no=f"L-{i}")["payments"][0]
            sandbox.admin.succeed(payment["id"], notify_delay_s=3600)  # pending, due in an hour
            ids.append(payment["id"])
        os.kill(leader, signal.SIGKILL)
        new = wait_until(lambda: [p for p in sandbox.leaders() if p != leader], "another worker to lead")[0]
        assert new != leader
        sandbox.admin.advance(3600)
        receiver.wait_for(10, timeout=30)
        delivered = wait_until(lambda: len(sandbox.admin.notifications(status="delivered", limit=100)
                                           ["notifications"]) == 10 or None, "10 notifications delivered")
        assert delivered
        assert {json.loads(r.body)["order_no"] for r in receiver.received} == {f"L-{i}" for i in range(10)}


def test_ctrl_c_stops_every_worker_cleanly(start):
    sandbox = start("--workers", "2")
    pids = {int(create(sandbox.url, f"C-{n}").headers[WORKER]) for n in range(40)}
    sandbox.proc.send_signal(signal.SIGINT)
    assert sandbox.proc.wait(20) == 0
    for pid in pids:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), f"worker {pid} to end", timeout=20)
    assert "Traceback" not in sandbox.output


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_live_stream_of_one_worker_shows_payments_created_through_another(start):
    sandbox = start("--workers", "2")
    stream = requests.get(f"{sandbox.url}/_sandbox/events", stream=True, timeout=(5, 30))
    watched = stream.headers[WORKER]
    seen: set[str] = set()

    def read_events():
        try:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    seen.add(json.loads(line[6:]).get("payment_id") or "")
        except Exception:  # the stream closed at the end of the test
            pass
    threading.Thread(target=read_events, daemon=True).start()
    elsewhere: set[str] = set()
    deadline = time.monotonic() + 30
    n = 0
    while not elsewhere & seen:  # the other worker learns within a second that a browser watches
        assert time.monotonic() < deadline, f"no payment of another worker in the stream of {watched}"
        answer = create(sandbox.url, f"S-{n}")
        n += 1
        if answer.headers[WORKER] != watched:
            elsewhere.add(sandbox.admin.payments(out_trade_no=f"S-{n - 1}")["payments"][0]["id"])
        time.sleep(0.1)
    stream.close()
