"""The command as a user types it: `payment-sandbox` and `python -m sandbox` (run.py's twins), and a busy port."""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_banner() -> list[str]:
    """The banner block under "It prints where everything is:" in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("It prints where everything is:\n\n```\n", 1)[1].split("```", 1)[0]
    return block.rstrip("\n").split("\n")


def console_script() -> Path:
    """The `payment-sandbox` command pip installed beside this interpreter (`pip install -e .` or `pip install .`)."""
    script = Path(sys.executable).parent / "payment-sandbox"
    assert script.exists(), f"{script} is missing: install the package (pip install -e .)"
    return script


def test_a_busy_port_is_named_with_exit_code_2_and_no_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "run.py", "--port", str(port), "--db", str(tmp_path / "s.db")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run
    assert run.stderr.strip().splitlines()[-1] == f"port {port} is in use; pass --port"
    assert "Traceback" not in run.stderr + run.stdout
    assert "Payment sandbox on" not in run.stdout  # no banner for a server that never listened


@pytest.mark.parametrize("command", ["payment-sandbox", "python -m sandbox"])
def test_the_command_starts_the_sandbox_from_any_folder_and_logs_each_request(command, tmp_path):
    argv = [str(console_script())] if command == "payment-sandbox" else [sys.executable, "-m", "sandbox"]
    port = free_port()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.Popen([*argv, "--port", str(port), "--db", str(tmp_path / "s.db")], cwd=elsewhere,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
        banner = []
        while not banner or banner[-1] != "Ctrl-C to stop.":  # printed once the port listens
            banner.append(lines.get(timeout=60).rstrip("\n"))
        assert banner[0].startswith(f"Payment sandbox on http://127.0.0.1:{port}")
        assert any("demo-quickpay" in line for line in banner)  # the packaged fixtures, not the cwd's
        # What the README's "Two commands" shows a newcomer is what they see, line for line.
        shown = [line.replace(str(port), "8080").replace(f"(database {tmp_path / 's.db'})", "(database sandbox.db)")
                 for line in banner]
        assert shown == readme_banner()
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/", allow_redirects=False, timeout=10).headers["Location"] == "/_sandbox/"
        answer = requests.post(f"{url}/QuickPay/Query", json={"store_no": "QP10000001", "order_no": "NONE"},
                               timeout=10)
        assert answer.json()["code"] == "ORDER_NOT_EXIST"
        assert requests.get(f"{url}/_sandbox/", timeout=10).status_code == 200  # templates found from here
        # uvloop is a dependency where it is built (pyproject marker): the server runs on it by default
        assert requests.get(f"{url}/_sandbox/api/health", timeout=10).json()["event_loop"] == "uvloop"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        log = proc.stderr.read()
        assert "sandbox.access: GET / 302 " in log
        assert "sandbox.access: POST /QuickPay/Query 200 " in log and " ms merchant=demo-quickpay" in log
        assert "Traceback" not in log
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def test_the_commands_help_names_itself():
    for argv, prog in (([str(console_script())], "payment-sandbox"), ([sys.executable, "-m", "sandbox"],
                                                                      "python -m sandbox"),
                       ([sys.executable, "run.py"], "python run.py")):
        out = subprocess.run([*argv, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.startswith(f"usage: {prog} "), out
        assert "--log-level" in out.stdout and "SANDBOX_LOG_LEVEL" in out.stdout


def test_event_loop_asyncio_serves_on_the_standard_loop(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port), "--db", str(tmp_path / "s.db"),
                             "--event-loop", "asyncio", "--log-level", "WARNING"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert "Ctrl-C to stop." in iter_until(proc.stdout, "Ctrl-C to stop.")
        health = requests.get(f"http://127.0.0.1:{port}/_sandbox/api/health", timeout=10).json()
        assert health["event_loop"] == "asyncio"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def iter_until(stream, last: str) -> str:
    """Lines of a starting server's stdout up to `last` (the banner's end, printed once the port listens)."""
    seen = []
    for line in stream:
        seen.append(line.rstrip("\n"))
        if seen[-1] == last:
            break
    return "\n".join(seen)
