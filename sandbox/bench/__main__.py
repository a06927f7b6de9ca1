"""The benchmark, run by hand: python -m sandbox.bench [--requests N] [--concurrency C] [--notifies N] [--workers N]
[--only-workers]

Prints create throughput and latency for QuickPay against a bare aiohttp handler (the ratio is the figure to
watch), the same creates with the request journal off (--journal-keep 0) and on the standard asyncio loop instead of
uvloop (--event-loop asyncio), signed WeChat and Alipay creates against the RSA-2048 sign rate, the time to deliver N succeeded payments'
notifications to a local receiver, and the sandbox's memory; and the workers axis: QuickPay creates and the bare
handler with 1 and with --workers N processes (bench/workers.py). Throughput lines also give the server process's CPU
time per request, the steadier figure on a shared machine.

python -m sandbox.bench --scale N [--backlog B] runs the scale benchmark instead (bench/scale.py): N payments filled
through the bulk engine path, then lookups, id search, deep keyset pages, a clock jump over B expiring payments,
restart time and bytes per payment.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from ..event_loop import uvloop_available
from .load import LoadResult, measured, run_load
from .scale import bench_scale
from .servers import Process, start_bare, start_sandbox
from .signed import signed_scenarios
from .workers import bench_workers

QUICKPAY_STORE = "QP10000001"


def quickpay_body(i: int, notify_url: str | None = None, prefix: str = "BENCH") -> bytes:
    body = {"store_no": QUICKPAY_STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-bench",
            "amount": 100, "order_no": f"{prefix}-{i}", "iteminfo": "benchmark"}
    if notify_url:
        body["notify_url"] = notify_url
    return json.dumps(body).encode()


def json_post(url: str, body_for, check) -> callable:
    async def request(session: aiohttp.ClientSession, i: int) -> bool:
        async with session.post(url, data=body_for(i), headers={"Content-Type": "application/json"}) as r:
            return r.status == 200 and check(await r.read())
    return request


def quickpay_ok(raw: bytes) -> bool:
    return b'"code": "SUCCESS"' in raw or b'"code":"SUCCESS"' in raw


async def bench_creates(sandbox: Process, sandbox_url: str, bare: Process, bare_url: str, total: int,
                        concurrency: int) -> tuple[LoadResult, ...]:
    bare_result = await measured(bare, "bare aiohttp handler", json_post(
        f"{bare_url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i), quickpay_ok), total, concurrency)
    create = await measured(sandbox, "QuickPay JSAPIPay create", json_post(
        f"{sandbox_url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix="C"), quickpay_ok), total, concurrency)
    return bare_result, create


async def bench_variant(db: Path, baseline: LoadResult, label: str, flags: tuple[str, ...], total: int,
                        concurrency: int) -> list[str]:
    """The same creates on a sandbox started with other flags (a warm-up run first, as `baseline` had): what the
    request journal (--journal-keep 0) or uvloop (--event-loop asyncio) costs or saves. Throughput swings on a shared
    machine; server CPU per create is steadier."""
    sandbox, url = start_sandbox(db, *flags)
    try:
        await measured(sandbox, "(warm-up)", json_post(
            f"{url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix="C"), quickpay_ok), total, concurrency)
        other = await measured(sandbox, f"QuickPay create, {label}", json_post(
            f"{url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix="D"), quickpay_ok), total, concurrency)
    finally:
        sandbox.stop()
    return [other.line(), f"  create throughput default / {label}: {baseline.per_second / other.per_second:.2f}  "
                          f"(server CPU per create {baseline.server_cpu_us / other.server_cpu_us:.2f}x)"]


class CountingReceiver:
    """The merchant's notify endpoint: answers SUCCESS and counts distinct orders."""

    def __init__(self):
        self.orders: set[str] = set()
        self.done = asyncio.Event()
        self.expected = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/notify"

    async def handle(self, request: web.Request) -> web.Response:
        self.orders.add(json.loads(await request.read())["order_no"])
        if self.expected and len(self.orders) >= self.expected:
            self.done.set()
        return web.Response(text="SUCCESS")


async def bench_notifies(sandbox_url: str, count: int, concurrency: int) -> dict:
    receiver = CountingReceiver()
    await receiver.start()
    admin = f"{sandbox_url}/_sandbox/api"
    ids: list[str] = []

    async def create(session, i):
        async with session.post(f"{sandbox_url}/QuickPay/JSAPIPay", data=quickpay_body(i, receiver.url, "N"),
                                headers={"Content-Type": "application/json"}) as r:
            return quickpay_ok(await r.read())

    await run_load("(setup) create for notify", create, total=count, concurrency=concurrency, warmup=0)
    async with aiohttp.ClientSession() as session:
        cursor = None
        while True:
            params = {"limit": 500, "q": "N-", **({"after": cursor} if cursor else {})}
            async with session.get(f"{admin}/payments", params=params) as r:
                page = await r.json()
            ids += [p["id"] for p in page["payments"] if p["out_trade_no"].startswith("N-")]
            cursor = page["next"]
            if cursor is None:
                break

    # Succeed every payment with its notify held an hour back on the sandbox clock, then release them at once.
    async def succeed(session, i):
        if i < 0:
            return True
        async with session.post(f"{admin}/payments/{ids[i]}/succeed", json={"notify_delay_s": 3600}) as r:
            return r.status == 200
    await run_load("(setup) succeed, notify held", succeed, total=len(ids), concurrency=concurrency, warmup=0)

    receiver.expected = len(ids)
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(f"{admin}/clock/advance", json={"seconds": 3600}) as r:
            assert r.status == 200
        await asyncio.wait_for(receiver.done.wait(), 300)
        received = time.perf_counter() - started
        while True:  # ... and journaled: every notification marked delivered
            async with session.get(f"{admin}/notifications", params={"status": "pending", "limit": 1}) as r:
                if not (await r.json())["notifications"]:
                    break
            await asyncio.sleep(0.05)
        journaled = time.perf_counter() - started
    await receiver.runner.cleanup()
    return {"count": len(ids), "received_s": received, "journaled_s": journaled}


def report_memory(label: str, process: Process) -> str:
    return f"  sandbox RSS {label:<28} {process.rss_mib():7.1f} MiB"


async def main_async(args) -> None:
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        if args.scale:
            print("\n".join(await bench_scale(Path(tmp), args.scale, args.backlog)))
            return
        if args.only_workers:
            print("\n".join([f"payment sandbox benchmark, workers axis: {args.requests} requests per run, "
                              f"{args.concurrency} clients"]
                             + await bench_workers(Path(tmp), args.workers, args.requests, args.concurrency)))
            return
        sandbox, sandbox_url = start_sandbox(Path(tmp) / "bench.db")
        bare, bare_url = start_bare()
        lines = [f"payment sandbox benchmark: {args.requests} requests per run, {args.concurrency} clients, "
                 f"2 processes (server, load generator)", report_memory("after start", sandbox)]
        try:
            bare_result, create = await bench_creates(sandbox, sandbox_url, bare, bare_url, args.requests,
                                                      args.concurrency)
            lines += [bare_result.line(), create.line(),
                      f"  create / bare throughput ratio: {create.per_second / bare_result.per_second:.2f}  "
                      f"(target >= 0.60)", report_memory(f"after {args.requests} creates", sandbox)]
            again = await measured(sandbox, "QuickPay JSAPIPay create (again)", json_post(
                f"{sandbox_url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix="D"), quickpay_ok),
                args.requests, args.concurrency)
            lines += [again.line(), report_memory(f"after {2 * args.requests} creates", sandbox)]
            lines += await bench_variant(Path(tmp) / "journal-off.db", again, "journal off",
                                         ("--journal-keep", "0"), args.requests, args.concurrency)
            if uvloop_available():
                lines += await bench_variant(Path(tmp) / "asyncio-loop.db", again, "asyncio loop",
                                             ("--event-loop", "asyncio"), args.requests, args.concurrency)
            lines += await signed_scenarios(sandbox, sandbox_url, bare, bare_url, args)
            if args.workers > 1:
                lines += await bench_workers(Path(tmp), args.workers, args.requests, args.concurrency)
            notify = await bench_notifies(sandbox_url, args.notifies, args.concurrency)
            lines += [f"{notify['count']} notifications: all received in {notify['received_s']:.2f} s "
                      f"({notify['count'] / notify['received_s']:.0f}/s), all journaled delivered in "
                      f"{notify['journaled_s']:.2f} s  (target <= 10 s)",
                      report_memory("after notifications", sandbox)]
        finally:
            sandbox.stop()
            bare.stop()
        print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="requests per throughput run (%(default)s)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients (%(default)s)")
    parser.add_argument("--notifies", type=int, default=10000, help="notifications to deliver (%(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="also measure QuickPay creates and the bare handler with this many worker processes "
                             "against one (%(default)s; 1 leaves the axis out)")
    parser.add_argument("--only-workers", action="store_true", help="run the workers axis alone")
    parser.add_argument("--scale", type=int, metavar="N",
                        help="instead: fill N payments through the bulk engine path and report lookups, search, "
                             "deep pages, a clock jump over the backlog, restart time and bytes per payment "
                             "(bench/scale.py)")
    parser.add_argument("--backlog", type=int, default=50_000,
                        help="with --scale: how many of the payments are unpaid and expire in the clock jump "
                             "(%(default)s)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
