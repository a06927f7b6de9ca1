"""Start the sandbox: `payment-sandbox`, `python -m sandbox` or `python run.py` (the same main).

Flags override SANDBOX_* environment variables, which override defaults."""
from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys

from aiohttp import web

from .access_log import ACCESS_LOG, AccessLogger
from .app import create_app
from .appkeys import ENGINE, PROVIDERS, SETTINGS
from . import event_loop
from .apps import all_apps
from .core.targets import parse_allow
from .locks import DatabaseInUse, hold_database
from .providers import all_providers
from .settings import Settings, checked_zone, journal_keep, keep_days, worker_count

PROVIDER_PATHS = {
    "quickpay": "/QuickPay/",
    "wechat": "/v3/  /pay/  /secapi/  /sandboxnew/",
    "alipay": "/gateway.do",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PORT_IN_USE = 2  # exit code
DATABASE_IN_USE = 2  # exit code


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> Settings:
    env = Settings.from_env()
    served = ", ".join(p.title for p in [*all_providers(), *all_apps()])  # what is registered, so nothing unbuilt
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Payment sandbox: {served} on one port, with a web console, an admin API and a pytest plugin.",
    )
    parser.add_argument("--host", default=env.host, help="address to listen on (SANDBOX_HOST, default %(default)s)")
    parser.add_argument("--port", type=int, default=env.port, help="port (SANDBOX_PORT, default %(default)s)")
    parser.add_argument("--db", default=env.db, help="SQLite file (SANDBOX_DB, default %(default)s)")
    parser.add_argument("--fixtures", default=env.fixtures,
                        help="folder of demo data loaded into an empty database; '' for none "
                             "(SANDBOX_FIXTURES, default: the demo merchants shipped with the package)")
    parser.add_argument("--public-url", default=env.public_url,
                        help="base URL that payers and SDKs use to reach this sandbox, put into h5_url, qr_code "
                             "and cashier links (SANDBOX_PUBLIC_URL, default http://HOST:PORT)")
    parser.add_argument("--admin-token", default=env.admin_token,
                        help="require this token for the console and admin API (SANDBOX_ADMIN_TOKEN, default none)")
    parser.add_argument("--notify-timeout", type=float, default=env.notify_timeout_s,
                        help="seconds a merchant has to answer a notify (SANDBOX_NOTIFY_TIMEOUT_S, default 5)")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default=env.log_level,
                        help="INFO logs one line per request (method, path, status, ms, merchant); WARNING only "
                             "problems (SANDBOX_LOG_LEVEL, default %(default)s)")
    parser.add_argument("--display-tz", type=checked_zone, default=env.display_tz,
                        help="time zone the console shows times in, UTC on hover (SANDBOX_DISPLAY_TZ, "
                             "default %(default)s: Beijing time, as in the providers' payloads)")
    parser.add_argument("--journal-keep", type=journal_keep, default=env.journal_keep, metavar="N",
                        help="the request journal keeps the newest N requests to provider and app paths; 0 turns "
                             "it off (SANDBOX_JOURNAL_KEEP, default %(default)s)")
    parser.add_argument("--notify-allow", type=notify_allow, default=env.notify_allow, metavar="HOSTS",
                        help="comma-separated host patterns (*.example.com) and CIDRs (10.0.0.0/8) notifies may be "
                             "sent to; others are refused (SANDBOX_NOTIFY_ALLOW, default: any host but this sandbox)")
    parser.add_argument("--workers", type=worker_count, default=env.workers, metavar="N",
                        help="worker processes serving the port, all on the one database; one of them runs the "
                             "notifier and the scheduler. 1 keeps everything in this one process (SANDBOX_WORKERS, "
                             "default %(default)s)")
    parser.add_argument("--keep-days", type=keep_days, default=env.keep_days, metavar="N",
                        help="delete payments (with their events, notifications, attempts and refunds) created more "
                             "than N days ago on the sandbox clock, in the background (SANDBOX_KEEP_DAYS, "
                             "default: keep every payment)")
    parser.add_argument("--event-loop", choices=event_loop.CHOICES, default=env.event_loop,
                        help="auto: uvloop where it is installed (Linux, macOS), else the standard asyncio loop; "
                             "asyncio to compare (SANDBOX_EVENT_LOOP, default %(default)s)")
    parser.add_argument("--worker-of", help=argparse.SUPPRESS)  # set by a --workers group on its workers (group.py)
    args = parser.parse_args(argv)
    return Settings(host=args.host, port=args.port, db=args.db, fixtures=args.fixtures or None,
                    public_url=args.public_url, admin_token=args.admin_token, notify_timeout_s=args.notify_timeout,
                    log_level=args.log_level, display_tz=args.display_tz, journal_keep=args.journal_keep,
                    keep_days=args.keep_days,
                    notify_allow=args.notify_allow, workers=args.workers, event_loop=args.event_loop,
                    extra={"worker_of": args.worker_of} if args.worker_of else {})


def notify_allow(text: str) -> tuple[str, ...]:
    """--notify-allow's entries, or argparse's error naming the bad one."""
    try:
        return parse_allow(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def banner(app: web.Application) -> str:
    settings, engine, providers = app[SETTINGS], app[ENGINE], app[PROVIDERS]
    base = settings.base_url
    lines = [f"Payment sandbox on {base}  (database {settings.db})",
             f"  console      {base}/_sandbox/",
             f"  admin API    {base}/_sandbox/api/  (explorer: {base}/_sandbox/api/docs)"]
    for name, provider in providers.items():
        lines.append(f"  {provider.title:<12} {base}  paths {PROVIDER_PATHS.get(name) or getattr(provider, 'paths', '')}")
    lines.append("Merchants:")
    for merchant in engine.merchants():
        ids = ", ".join(f"{p}={k}" for p, c in merchant.credentials.items()
                        for k in providers[p].lookup_keys(c)) if merchant.credentials else ""
        lines.append(f"  {merchant.id:<24} {ids}")
        for name in merchant.credentials:  # an app's demo users, as its fixtures made them
            if getattr(providers[name], "demo_users", None) and settings.fixtures:
                lines.append(f"  {'':<24} {providers[name].demo_users}")
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def port_in_use(host: str, port: int) -> bool:
    """Whether another process listens there: bind as aiohttp will (SO_REUSEADDR, IPv6 sockets v6-only), then let go.
    Other bind errors (an address this machine does not have) are left for the server to report."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def _port_busy_exit(port: int) -> None:
    print(f"port {port} is in use; pass --port", file=sys.stderr)
    raise SystemExit(PORT_IN_USE)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    settings = parse_args(argv, prog)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        loop_name = event_loop.install(settings.event_loop)
    except event_loop.LoopUnavailable as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    logging.getLogger("sandbox").debug("event loop: %s", loop_name)
    if settings.extra.get("worker_of"):  # one of a --workers group, started by group.py
        from .worker import serve_worker
        serve_worker(settings, settings.extra["worker_of"])
        return
    try:
        lock = hold_database(settings.db)  # held until this process (and its workers) end
    except DatabaseInUse as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(DATABASE_IN_USE) from None
    if port_in_use(settings.host, settings.port):
        _port_busy_exit(settings.port)
    if settings.workers > 1:
        if lock is None:
            print("--workers N shares a database file between processes: pass --db FILE, not :memory:",
                  file=sys.stderr)
            raise SystemExit(DATABASE_IN_USE)
        from .group import run_group
        raise SystemExit(run_group(settings, argv, lock))
    app = create_app(settings)
    try:
        # The banner is printed once the port is listening (run_app calls `print` then).
        web.run_app(app, host=settings.host, port=settings.port, print=lambda _: print(banner(app), flush=True),
                    access_log=ACCESS_LOG, access_log_class=AccessLogger, shutdown_timeout=5)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        _port_busy_exit(settings.port)  # taken between the check and the bind


if __name__ == "__main__":
    main(sys.argv[1:])
