"""A closed-loop load generator: N clients, each sending its next request when the last one answered."""
from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import aiohttp

# request(session, i) sends request number i and returns True when the answer was a success.
Request = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


@dataclass
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    server_cpu_us: float | None = None  # the server process's CPU time per request, when measured

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def line(self) -> str:
        return (f"{self.name:<34} {self.per_second:8.0f} req/s   p50 {self.percentile(50):6.2f} ms   "
                f"p99 {self.percentile(99):7.2f} ms   errors {self.errors}/{self.requests}"
                + (f"   server CPU {self.server_cpu_us:4.0f} us/req" if self.server_cpu_us is not None else ""))


async def run_load(name: str, request: Request, *, total: int, concurrency: int, warmup: int = 200) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(warmup):  # open connections and warm caches; not measured
            await request(session, -1 - i)
        counter = iter(range(total))
        latencies: list[float] = []
        errors = 0

        async def client() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                try:
                    ok = await request(session, i)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(name, total, errors, seconds, latencies)


async def measured(process, name: str, request, total: int, concurrency: int) -> LoadResult:
    """run_load, plus the server's CPU time per request over the timed part."""
    before = [0.0]

    async def first_timed(session, i, request=request):
        if i == 0 and not before[0]:
            before[0] = process.cpu_seconds()
        return await request(session, i)
    result = await run_load(name, first_timed, total=total, concurrency=concurrency)
    result.server_cpu_us = (process.cpu_seconds() - before[0]) / total * 1e6
    return result


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0
