"""The workers axis (`--workers N`): QuickPay creates and the bare aiohttp handler served by 1 and by N processes on
one port (SO_REUSEPORT), each on a fresh database, with a warm-up run first. Server CPU counts the whole process
group (the command's process and its workers)."""
from __future__ import annotations

from pathlib import Path

from .load import LoadResult, measured
from .servers import Process, start_bare, start_sandbox


async def _create_row(process: Process, url: str, name: str, prefix: str, total: int, concurrency: int) -> LoadResult:
    from .__main__ import json_post, quickpay_body, quickpay_ok
    post = json_post(f"{url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix=f"W{prefix}"), quickpay_ok)
    await measured(process, "(warm-up)", post, min(total, 1000), concurrency)
    post = json_post(f"{url}/QuickPay/JSAPIPay", lambda i: quickpay_body(i, prefix=prefix), quickpay_ok)
    return await measured(process, name, post, total, concurrency)


async def bench_workers(folder: Path, workers: int, total: int, concurrency: int) -> list[str]:
    lines, rows = [], {}
    for n in (1, workers):
        bare, bare_url = start_bare(n)
        try:
            bare_row = await _create_row(bare, bare_url, f"bare aiohttp handler, {n} proc", f"B{n}", total,
                                         concurrency)
        finally:
            bare.stop()
        sandbox, url = start_sandbox(folder / f"workers-{n}.db", "--workers", str(n))
        try:
            row = await _create_row(sandbox, url, f"QuickPay create, --workers {n}", f"Q{n}", total, concurrency)
        finally:
            sandbox.stop()
        rows[n] = (bare_row, row)
        lines += [bare_row.line(), row.line(),
                  f"  create / bare with {n} process{'es' if n > 1 else ''}: "
                  f"{row.per_second / bare_row.per_second:.2f}  (target >= 0.60)"]
    one, many = rows[1][1], rows[workers][1]
    lines.append(f"  --workers {workers} / --workers 1: throughput {many.per_second / one.per_second:.2f}x, "
                 f"p99 {many.percentile(99) / one.percentile(99):.2f}x")
    return lines
