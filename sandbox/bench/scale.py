"""The scale benchmark: python -m sandbox.bench --scale N [--backlog B]

Fills a database with N payments through the engine's bulk path (engine.create_payments_bulk: rules, rows and
created events as a create makes them, thousands per transaction, not N HTTP calls), spread over the 30 days before
now across QuickPay, WeChat (with prepay_id and code_url) and Alipay; the newest B of them unpaid and expiring in
2 hours, Alipay ones with a notify_url (a local receiver), so expiring them queues TRADE_CLOSED notifies. Then it
starts the sandbox on that file and reports: the restart (start to healthy), each lookup of the admin API and the
console (median of several different values), id search, a keyset page deep in the list, a 3 h clock jump with
`wait: true` over the backlog, and the bytes per payment.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from aiohttp import web

from ..console.paging import cursor
from ..core.bus import Bus
from ..core.clock import Clock
from ..core.engine import Engine
from ..core.models import NewPayment
from ..store.db import Database
from .servers import start_sandbox

DAY = 86400.0
CHUNK = 5000
SPREAD_DAYS = 30
RUNS = 15  # requests per lookup, each for a different value


def new_payment(i: int, notify_url: str | None, expires: bool) -> NewPayment:
    kind = i % 3
    order = f"ORD{20260000000 + i}"
    raw = json.dumps({"description": "Tea and biscuits", "out_trade_no": order, "amount": {"total": 100 + i % 900},
                      "notify_url": notify_url or "http://merchant.example/notify", "attach": f"cart-{i % 1000}"})
    if kind == 0:
        return NewPayment(provider="quickpay", merchant_id="demo-quickpay", out_trade_no=order,
                          provider_trade_no=f"QP{2026120200000000 + i}", amount=100 + i % 900, trade_type="JSAPI",
                          description="Tea", fingerprint={"amount": 100 + i % 900}, raw_request=raw,
                          expires_in_s=7200 if expires else None)
    if kind == 1:
        return NewPayment(provider="wechat", merchant_id="demo-wechat", out_trade_no=order,
                          provider_trade_no=f"42000020261202{i:010d}", amount=100 + i % 900, trade_type="NATIVE",
                          description="Tea", fingerprint={"amount": 100 + i % 900}, raw_request=raw,
                          provider_ids={"prepay_id": f"wx02{i:08d}{random.getrandbits(64):016x}",
                                        "code_url": f"weixin://wxpay/bizpayurl?pr={random.getrandbits(40):010x}"},
                          expires_in_s=7200 if expires else None)
    return NewPayment(provider="alipay", merchant_id="demo-alipay", out_trade_no=order,
                      provider_trade_no=f"2026120222001{i:011d}", amount=100 + i % 900, trade_type="PRECREATE",
                      description="Tea", fingerprint={"amount": 100 + i % 900}, raw_request=raw,
                      notify_url=notify_url if expires else None, expires_in_s=7200 if expires else None)


async def fill(db_path: Path, n: int, backlog: int, notify_url: str) -> float:
    """N payments through the bulk path; returns the seconds it took."""
    clock = Clock()
    database = Database(db_path)
    await database.open()
    engine = Engine(database, clock, {}, Bus())
    await engine.load()
    started = time.perf_counter()
    for first in range(0, n, CHUNK):
        count = min(CHUNK, n - first)
        old = first + count <= n - backlog
        # created over the 30 days before now, oldest first; the backlog last, at the present
        clock.offset_s = -SPREAD_DAYS * DAY * (1 - first / n) if old else 0.0
        await engine.create_payments_bulk([new_payment(i, notify_url, not old or i >= n - backlog)
                                           for i in range(first, first + count)])
    seconds = time.perf_counter() - started
    await database.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return seconds


def samples(db_path: Path, n: int) -> dict:
    """Different existing values for each lookup, and a cursor 90% down the list."""
    with sqlite3.connect(db_path) as conn:
        rows = [conn.execute("SELECT id, out_trade_no, provider_trade_no, provider_ids FROM payments "
                             "WHERE rowid = ?", (random.randint(1, n),)).fetchone() for _ in range(RUNS * 3)]
        rows = [r for r in rows if r][:RUNS]
        deep = conn.execute("SELECT created_at, id FROM payments ORDER BY created_at DESC, id DESC LIMIT 1 "
                            "OFFSET ?", (int(n * 0.9),)).fetchone()
    prepay = [r[3].split('"prepay_id":"')[1][4:14] for r in rows if "prepay_id" in r[3]] or ["0000000000"]
    return {"ids": [r[0] for r in rows], "out_trade_no": [r[1] for r in rows],
            "trade_no_fragment": [r[2][-9:-1] for r in rows], "id_fragment": [r[0][-10:-2] for r in rows],
            "prepay_fragment": prepay, "deep": cursor(SimpleNamespace(created_at=deep[0], id=deep[1]))}


async def median_ms(session: aiohttp.ClientSession, urls: list[str]) -> float:
    times = []
    for url in urls:
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            assert response.status == 200, (url, response.status)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def receiver() -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")
    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/notify"


async def bench_scale(tmp: Path, n: int, backlog: int) -> list[str]:
    backlog = min(backlog, n)
    db_path = tmp / "scale.db"
    first, _ = start_sandbox(db_path)  # makes the schema and the demo merchants
    first.stop()
    runner, notify_url = await receiver()
    lines = [f"scale: {n:,} payments ({backlog:,} of them unpaid and expiring), filled through the bulk engine path"]
    try:
        filled_at = time.time()
        fill_s = await fill(db_path, n, backlog, notify_url)
        size = os.path.getsize(db_path)
        lines.append(f"  fill                                 {fill_s:8.1f} s   ({n / fill_s:,.0f} payments/s)")
        lines.append(f"  database                             {size / 2**20:8.1f} MiB ({size / n:,.0f} bytes per payment)")
        values = samples(db_path, n)
        started = time.perf_counter()
        sandbox, url = start_sandbox(db_path)
        restart_s = time.perf_counter() - started
        lines.append(f"  restart to healthy                   {restart_s:8.2f} s")
        api, console = f"{url}/_sandbox/api/payments", f"{url}/_sandbox/"
        now = time.time()
        lookups = [
            ("GET /payments?out_trade_no=X", [f"{api}?out_trade_no={v}" for v in values["out_trade_no"]]),
            ("GET /payments/{id}", [f"{api}/{v}" for v in values["ids"]]),
            ("GET /payments?status=PENDING&limit=25", [f"{api}?status=PENDING&limit=25"] * RUNS),
            ("GET /payments?merchant=demo-wechat&limit=25", [f"{api}?merchant=demo-wechat&limit=25"] * RUNS),
            ("GET /payments?provider=alipay&limit=25", [f"{api}?provider=alipay&limit=25"] * RUNS),
            ("GET /payments?since=&until= (a day, 25)",
             [f"{api}?since={now - (d + 2) * DAY}&until={now - (d + 1) * DAY}&limit=25" for d in range(RUNS)]),
            ("search q=<provider_trade_no fragment>", [f"{api}?q={v}" for v in values["trade_no_fragment"]]),
            ("search q=<our id fragment>", [f"{api}?q={v}" for v in values["id_fragment"]]),
            ("search q=<prepay_id fragment>", [f"{api}?q={v}" for v in values["prepay_fragment"]]),
            ("search q=12345", [f"{api}?q=12345"] * RUNS),
            ("search q=<2 characters> (prefix)", [f"{api}?q=QP"] * RUNS),
            ("GET /payments?after=<90% down>&limit=25", [f"{api}?after={values['deep']}&limit=25"] * RUNS),
            ("GET /payments?offset=1000&limit=25", [f"{api}?offset=1000&limit=25"] * RUNS),
            ("console payments page 1", [console] * RUNS),
            ("console page 90% down (Older → cursor)", [f"{console}?page=2&after={values['deep']}"] * RUNS),
            ("console search (q=<id fragment>)", [f"{console}?q={v}" for v in values["trade_no_fragment"]]),
        ]
        try:
            async with aiohttp.ClientSession() as session:
                started = time.perf_counter()
                async with session.get(lookups[0][1][0]) as r:
                    await r.read()
                lines.append(f"  first lookup after the restart            {(time.perf_counter() - started) * 1000:8.1f} ms")
                await asyncio.sleep(3)  # the new process settles (first queries, caches); then each lookup warm
                for label, urls in lookups:
                    async with session.get(urls[-1]) as r:
                        await r.read()
                for label, urls in lookups:
                    lines.append(f"  {label:<44} {await median_ms(session, urls):8.1f} ms")
                pending_url = f"{api}?status=PENDING&limit=1&since={filled_at - 60}"  # the backlog came last
                closed_after: list[float] = []

                async def watch_closes() -> None:  # when the last expired payment is closed, notifies aside
                    async with aiohttp.ClientSession() as watcher:
                        while True:
                            async with watcher.get(pending_url) as r:
                                if (await r.json())["total"] == 0:
                                    closed_after.append(time.perf_counter() - started)
                                    return
                            await asyncio.sleep(0.1)

                started = time.perf_counter()
                watcher = asyncio.create_task(watch_closes())
                async with session.post(f"{url}/_sandbox/api/clock/advance",
                                        json={"seconds": 3 * 3600, "wait": True, "wait_timeout_s": 3600},
                                        timeout=aiohttp.ClientTimeout(total=None)) as r:
                    answer = await r.json()
                    assert r.status == 200, answer
                jump_s = time.perf_counter() - started
                await asyncio.wait_for(watcher, 60)
                async with session.get(pending_url) as r:
                    left = (await r.json())["total"]
                lines.append(f"  3 h clock jump: backlog closed in    {closed_after[0]:8.2f} s   "
                             f"({backlog / closed_after[0]:,.0f} payments/s)")
                lines.append(f"  ... wait: true answered after        {jump_s:8.2f} s   (with ~{backlog // 3:,} "
                             f"TRADE_CLOSED notifies to one host delivered: {backlog // 3 / jump_s:,.0f}/s; "
                             f"{left:,} still pending)")
        finally:
            sandbox.stop()
    finally:
        await runner.cleanup()
    return lines
