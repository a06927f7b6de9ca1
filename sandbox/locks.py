"""OS file locks that die with the process (fcntl.flock): one sandbox per database file, one leader per group.

`<db>.lock` is held by the process started on the command line for as long as it runs (its --workers inherit the
open file, so the lock lasts until the last of them is gone) and holds its pid, so a second sandbox started on the
same file can say which process has it. `<db>.leader.lock` is held by the one worker of a --workers group that runs
the notifier and the scheduler. The OS releases both when the holder dies, even by kill -9; nothing is left to clean.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

MEMORY = ":memory:"


class DatabaseInUse(Exception):
    def __init__(self, db: str, pid: str):
        super().__init__(f"database {db} is in use by another sandbox (pid {pid or 'unknown'}); stop it, or pass "
                         f"another --db (--workers N is the way to serve one database from several processes)")
        self.db, self.pid = db, pid


def lock_path(db: str, suffix: str = ".lock") -> Path | None:
    """Where the lock of this database lives; None for an in-memory database (nothing to share)."""
    if not db or db == MEMORY or db.startswith("file::memory:"):
        return None
    return Path(db).resolve().with_name(Path(db).name + suffix)


def try_lock(path: Path) -> int | None:
    """An exclusive lock on `path` (created), without waiting: the open fd that holds it, or None if it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def hold_database(db: str) -> int | None:
    """Take `<db>.lock` for this process and write its pid there; DatabaseInUse when another process holds it.
    Returns the fd to keep open (None for an in-memory database)."""
    path = lock_path(db)
    if path is None:
        return None
    fd = try_lock(path)
    if fd is None:
        try:
            pid = path.read_text().strip()
        except OSError:
            pid = ""
        raise DatabaseInUse(db, pid)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
