"""Settings of one sandbox process: command-line flags over SANDBOX_* environment variables over defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .core.targets import parse_allow

PACKAGE = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """templates/, static/ or fixtures/. They are top-level folders of the repository; a wheel (`pip install .`)
    carries them inside the package as sandbox/data/NAME (see setup.py). The installed copy wins, so an install never
    reads folders that merely happen to sit next to it in site-packages."""
    installed = PACKAGE / "data" / name
    return installed if installed.is_dir() else PACKAGE.parent / name


DEFAULT_FIXTURES = data_path("fixtures")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "sandbox.db"
    fixtures: str | None = str(DEFAULT_FIXTURES)  # None or "": start with no demo data
    public_url: str | None = None  # the base URL payers and SDKs reach; default http://host:port
    admin_token: str | None = None  # when set, the console and admin API ask for it
    notify_timeout_s: float = 5.0
    log_level: str = "INFO"  # INFO logs every request; WARNING and above do not
    display_tz: str = "Asia/Shanghai"  # the zone the console shows times in (providers' payloads use Beijing time)
    notify_max_in_flight: int = 64
    notify_allow: tuple[str, ...] = ()  # host patterns (fnmatch) and CIDRs notifies may go to; () any but the sandbox
    max_body_bytes: int = 1024 * 1024
    keep_days: float | None = None  # retention: delete payments older than this many days (sandbox clock); None: keep all
    journal_keep: int = 100_000  # the request journal keeps the newest N requests; 0 turns it off
    workers: int = 1  # processes serving the port (--workers N); 1: this one process, as always
    event_loop: str = "auto"  # auto: uvloop where installed; uvloop; asyncio (sandbox/event_loop.py)
    extra: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def own_endpoints(self) -> list[tuple[str, int]]:
        """(host, port) pairs this sandbox is reached at: where it listens and its public URL. The notifier never
        delivers there (core/targets.py)."""
        from yarl import URL
        endpoints = [(self.host, self.port)]
        if self.public_url:
            public = URL(self.public_url)
            if public.host and public.port:
                endpoints.append((public.host, public.port))
        return endpoints

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        s = cls()
        s.host = env.get("SANDBOX_HOST", s.host)
        s.port = int(env.get("SANDBOX_PORT", s.port))
        s.db = env.get("SANDBOX_DB", s.db)
        s.fixtures = env.get("SANDBOX_FIXTURES", s.fixtures)
        s.public_url = env.get("SANDBOX_PUBLIC_URL") or None
        s.admin_token = env.get("SANDBOX_ADMIN_TOKEN") or None
        s.notify_timeout_s = float(env.get("SANDBOX_NOTIFY_TIMEOUT_S", s.notify_timeout_s))
        s.log_level = env.get("SANDBOX_LOG_LEVEL", s.log_level).upper()
        s.display_tz = checked_zone(env.get("SANDBOX_DISPLAY_TZ") or s.display_tz)
        s.notify_allow = parse_allow(env.get("SANDBOX_NOTIFY_ALLOW"))
        s.keep_days = keep_days(env.get("SANDBOX_KEEP_DAYS") or None)
        s.journal_keep = journal_keep(env.get("SANDBOX_JOURNAL_KEEP", s.journal_keep))
        s.workers = worker_count(env.get("SANDBOX_WORKERS", s.workers))
        s.event_loop = loop_choice(env.get("SANDBOX_EVENT_LOOP") or s.event_loop)
        return s

    @property
    def display_zone(self) -> ZoneInfo:
        return ZoneInfo(self.display_tz)


def checked_zone(name: str) -> str:
    """An IANA time zone name (Asia/Shanghai, UTC …) the console can show times in; ValueError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as Asia/Shanghai or UTC") from None
    return name


checked_zone.__name__ = "time zone"  # argparse says "invalid time zone value: 'Mars/Base'"


def keep_days(value: str | float | None) -> float | None:
    """Retention in days (a positive number); None, '' or 0: keep every payment."""
    if value in (None, ""):
        return None
    days = float(value)
    if days != days or days < 0 or days == float("inf"):
        raise ValueError(f"keep days must be a positive number of days, not {value!r}")
    return days or None


keep_days.__name__ = "number of days"


def loop_choice(value: str) -> str:
    """auto, uvloop or asyncio (sandbox/event_loop.py); ValueError naming the choices otherwise."""
    from .event_loop import CHOICES
    if value not in CHOICES:
        raise ValueError(f"unknown event loop {value!r}: one of {', '.join(CHOICES)}")
    return value


def journal_keep(value: str | int) -> int:
    """How many requests the journal keeps: a whole number, 0 for none (the journal off)."""
    keep = int(value)
    if keep < 0:
        raise ValueError(f"the journal keeps 0 or more requests, not {keep}")
    return keep


journal_keep.__name__ = "number of requests"


def worker_count(value: str | int) -> int:
    """How many worker processes serve the port: a whole number from 1 (one process, the default) to 64."""
    count = int(value)
    if not 1 <= count <= 64:
        raise ValueError(f"--workers takes 1 to 64 processes, not {count}")
    return count


worker_count.__name__ = "number of workers"
