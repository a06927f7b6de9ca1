"""`--workers N`: the process started on the command line prepares the database, starts N workers that serve one
port (SO_REUSEPORT, each with its own app and engine on the same SQLite file), prints the banner once they all
listen, starts a new worker when one dies, and stops them all on Ctrl-C or SIGTERM.

It holds `<db>.lock` (locks.py) for the whole group: the workers inherit the open file, so the lock lasts until the
last process of the group has ended. Each worker is `python -m sandbox <the same arguments> --worker-of PID,FD`
(worker.py): it writes one byte to the pipe FD once it listens, and ends itself if this process dies.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from .appkeys import ENGINE, PROVIDERS
from .settings import Settings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0  # after SIGTERM: the notifier's grace and the server's shutdown fit well inside
PR_SET_PDEATHSIG = 1


async def _prepare(settings: Settings) -> str:
    """Migrate the database and load the fixtures once, before any worker opens it; the banner's text."""
    from .app import create_app
    from .cli import banner
    from .fixtures import load_fixtures
    app = create_app(settings)
    engine = app[ENGINE]
    if settings.db != ":memory:":
        Path(settings.db).parent.mkdir(parents=True, exist_ok=True)
    await engine.db.open()
    try:
        await engine.load()
        created = await load_fixtures(engine, app[PROVIDERS], settings.fixtures)
        if created:
            log.info("loaded %d demo merchants from %s", created, settings.fixtures)
        lines = banner(app).splitlines()
    finally:
        await engine.db.close()
    lines.insert(1, f"  workers      {settings.workers} processes on one port (one of them sends the notifies)")
    return "\n".join(lines)


def _die_with_parent() -> None:  # in the child, before exec: SIGTERM when the group's process dies (even kill -9)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the worker also checks its parent every second (worker.py)


class Group:
    def __init__(self, settings: Settings, argv: list[str], lock_fd: int | None):
        self.settings, self.argv, self.lock_fd = settings, argv, lock_fd
        self.ready_r, self.ready_w = os.pipe()
        self.procs: list[subprocess.Popen] = []
        self.stopping = False

    def spawn(self) -> subprocess.Popen:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        fds = [self.ready_w] + ([self.lock_fd] if self.lock_fd is not None else [])
        command = [sys.executable, "-m", "sandbox", *self.argv, "--worker-of", f"{os.getpid()},{self.ready_w}"]
        return subprocess.Popen(command, env=env, pass_fds=fds, preexec_fn=_die_with_parent)

    def start(self) -> int | None:
        """Start the workers and wait until each listens; an exit code when one of them could not start."""
        self.procs = [self.spawn() for _ in range(self.settings.workers)]
        ready, deadline = 0, time.monotonic() + START_TIMEOUT_S
        while ready < len(self.procs):
            if self.stopping:
                return 0
            for proc in self.procs:
                if proc.poll() is not None:
                    return proc.returncode or 1  # a port taken meanwhile is its exit code 2, said on stderr
            if time.monotonic() > deadline:
                log.error("workers did not start in %d s", START_TIMEOUT_S)
                return 1
            readable, _, _ = select.select([self.ready_r], [], [], 0.2)
            if readable:
                ready += len(os.read(self.ready_r, 64))
        return None

    def supervise(self) -> None:
        """Until stopped: a worker that died (killed, crashed) is replaced; the others go on serving meanwhile."""
        respawned = 0.0
        while not self.stopping:
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping and time.monotonic() - respawned >= 1.0:
                    log.warning("worker pid %d exited with %s; starting another", proc.pid, proc.returncode)
                    self.procs[i] = self.spawn()
                    respawned = time.monotonic()  # one a second at most: a worker that cannot start is no busy loop
            self._drain_ready()
            time.sleep(0.2)

    def _drain_ready(self) -> None:
        while select.select([self.ready_r], [], [], 0)[0]:
            if not os.read(self.ready_r, 64):
                return

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()


def run_group(settings: Settings, argv: list[str], lock_fd: int | None) -> int:
    """The group's whole life; the exit code."""
    text = asyncio.run(_prepare(settings))
    group = Group(settings, argv, lock_fd)

    def stop(signum, frame):
        group.stopping = True
    signal.signal(signal.SIGINT, stop)  # Ctrl-C reaches the workers too; they leave stopping to this process
    signal.signal(signal.SIGTERM, stop)
    try:
        failed = group.start()
        if failed is not None:
            return failed
        print(text, flush=True)
        group.supervise()
        return 0
    finally:
        group.stop()
