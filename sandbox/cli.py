"""`python run.py`: start the sandbox. Flags override SANDBOX_* environment variables, which override defaults."""
from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from .app import create_app
from .appkeys import ENGINE, PROVIDERS, SETTINGS
from .settings import Settings

PROVIDER_PATHS = {
    "quickpay": "/QuickPay/",
    "wechat": "/v3/  /pay/  /secapi/  /sandboxnew/",
    "alipay": "/gateway.do",
}


def parse_args(argv: list[str] | None = None) -> Settings:
    env = Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="python run.py",
        description="Payment provider sandbox: WeChat Pay, Alipay, QuickPay and merchant pay APIs on one port.",
    )
    parser.add_argument("--host", default=env.host, help="address to listen on (SANDBOX_HOST, default %(default)s)")
    parser.add_argument("--port", type=int, default=env.port, help="port (SANDBOX_PORT, default %(default)s)")
    parser.add_argument("--db", default=env.db, help="SQLite file (SANDBOX_DB, default %(default)s)")
    parser.add_argument("--fixtures", default=env.fixtures,
                        help="folder of demo data loaded into an empty database; '' for none "
                             "(SANDBOX_FIXTURES, default: the repository's fixtures/)")
    parser.add_argument("--public-url", default=env.public_url,
                        help="base URL that payers and SDKs use to reach this sandbox, put into h5_url, qr_code "
                             "and cashier links (SANDBOX_PUBLIC_URL, default http://HOST:PORT)")
    parser.add_argument("--admin-token", default=env.admin_token,
                        help="require this token for the console and admin API (SANDBOX_ADMIN_TOKEN, default none)")
    parser.add_argument("--notify-timeout", type=float, default=env.notify_timeout_s,
                        help="seconds a merchant has to answer a notify (SANDBOX_NOTIFY_TIMEOUT_S, default 5)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Settings(host=args.host, port=args.port, db=args.db, fixtures=args.fixtures or None,
                    public_url=args.public_url, admin_token=args.admin_token, notify_timeout_s=args.notify_timeout)


def banner(app: web.Application) -> str:
    settings, engine, providers = app[SETTINGS], app[ENGINE], app[PROVIDERS]
    base = settings.base_url
    lines = [f"Payment sandbox on {base}  (database {settings.db})",
             f"  console      {base}/_sandbox/",
             f"  admin API    {base}/_sandbox/api/  (OpenAPI: {base}/_sandbox/api/openapi.json)"]
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


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    app = create_app(settings)

    async def announce(app: web.Application) -> None:
        print(banner(app), flush=True)

    app.on_startup.append(announce)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                shutdown_timeout=5)


if __name__ == "__main__":
    main(sys.argv[1:])
