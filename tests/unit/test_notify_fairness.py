"""Fair delivery (issue 15, item 4): a host whose receivers hang holds only its own slots, and stopping the notifier
lets an attempt in flight finish and be journaled instead of cancelling it (which sent it twice after a restart).

Per-host limits are keyed by host:port, so two receivers on 127.0.0.1 with different ports are two hosts here.
Everything is synchronised on events (a receiver's arrival, the test releasing a held answer), never on durations.
"""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.models import NewPayment, OutboundRequest
from sandbox.core.notifier import Notifier, host_key
from sandbox.store.db import Database
from sandbox.testing import NotifyReceiver

ATTEMPT_TIMEOUT_S = 30  # far longer than any wait below: a starved notify shows as the healthy receiver timing out


class EchoChannel:
    provider = "test"
    retry_delays = (60.0,)

    def payment_event(self, payment):
        return "PAID" if payment.status.value == "SUCCEEDED" else None

    def refund_event(self, payment, refund):
        return None

    async def render(self, notification, merchant, attempt, now):
        return OutboundRequest(url=notification.url, body=notification.payment.out_trade_no.encode())

    def is_acknowledged(self, request, status, body):
        return status == 200 and body == b"OK"


class HeldReceiver:
    """A receiver on this test's own loop that holds every request until `release` is set, counting arrivals."""

    def __init__(self):
        self.release = asyncio.Event()
        self.arrived: list[str] = []
        self.changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrived.append((await request.read()).decode())
        self.changed.set()
        await self.release.wait()
        return web.Response(text="OK")

    async def start(self) -> "HeldReceiver":
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, count: int) -> None:
        while len(self.arrived) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)

    async def stop(self) -> None:
        self.release.set()
        await self._runner.cleanup()


@pytest.fixture
async def engine(tmp_path):
    db = Database(tmp_path / "fair.db")
    await db.open()
    engine = Engine(db, Clock(), {"test": EchoChannel()}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {}, [("test", "M")], merchant_id="m")
    yield engine
    await db.close()


@pytest.fixture
async def held():
    receiver = await HeldReceiver().start()
    yield receiver
    await receiver.stop()


async def paid(engine, url, order):
    payment, _ = await engine.create_payment(NewPayment(
        provider="test", merchant_id="m", out_trade_no=order, provider_trade_no=order, amount=1, trade_type="X",
        notify_url=url))
    await engine.succeed(payment.id)
    return payment


def test_hosts_are_keyed_by_host_and_port():
    assert host_key("http://127.0.0.1:8001/a") != host_key("http://127.0.0.1:8002/a")
    assert host_key("https://Shop.Example/n") == host_key("https://shop.example:443/other") == "shop.example:443"
    assert host_key("http://shop.example/n") == "shop.example:80"


async def test_a_hanging_host_does_not_starve_a_healthy_one(engine, held):
    # 10 notifies to a host that never answers, due before the one to a healthy host: the global bound (4) is
    # larger than one host's share (2), so the healthy host's notify still goes out at once.
    for i in range(10):
        await paid(engine, held.url(), f"HANG{i}")
    notifier = Notifier(engine, max_in_flight=4, attempt_timeout_s=ATTEMPT_TIMEOUT_S)
    assert notifier.per_host == 2
    with NotifyReceiver(status=200, body="OK") as healthy:
        await paid(engine, healthy.url(), "HEALTHY")
        await notifier.start()
        try:
            await held.wait_for(2)
            # Before: the four slots were all the hanging host's, and this waited for their 30 s timeout.
            (got,) = await asyncio.to_thread(healthy.wait_for, 1, 5)
            assert got.text == "HEALTHY"
            # The hanging host holds exactly its share; its other eight notifies wait their turn, still due.
            assert len(held.arrived) == 2
            hanging = [n for n in await engine.list_notifications() if n.url == held.url()]
            assert len(hanging) == 10 and all(n.status.value == "pending" and n.attempts == 0 for n in hanging)
            held.release.set()  # the host recovers: every held notify is delivered, two at a time
            await held.wait_for(10)
            assert sorted(held.arrived) == sorted(f"HANG{i}" for i in range(10))
        finally:
            await notifier.stop()


async def test_stopping_lets_an_attempt_in_flight_finish_and_journals_it_once(engine, held):
    payment = await paid(engine, held.url(), "GRACE")
    notifier = Notifier(engine, max_in_flight=4, attempt_timeout_s=ATTEMPT_TIMEOUT_S, grace_s=20)
    await notifier.start()
    await held.wait_for(1)  # the attempt is in flight, its answer held
    stopping = asyncio.create_task(notifier.stop())
    while not notifier._stopping:  # stop() has begun (it sets this before its first await)
        await asyncio.sleep(0)
    held.release.set()  # the merchant answers within the grace
    await asyncio.wait_for(stopping, 10)
    (n,) = await engine.list_notifications(payment.id)
    # Before: stop() cancelled the attempt, nothing was journaled, and the notify was due again after a restart.
    assert n.status.value == "delivered" and n.attempts == 1
    (attempt,) = (await engine.get_notification(n.id)).attempt_log
    assert attempt.acknowledged and attempt.response_body == "OK"
    assert await engine.due_notifications(10) == []  # a restarted notifier has nothing to send again
    restarted = Notifier(engine, max_in_flight=4, attempt_timeout_s=ATTEMPT_TIMEOUT_S)
    await restarted.start()
    await restarted.stop()
    assert held.arrived == ["GRACE"]


async def test_an_attempt_still_unanswered_after_the_grace_is_cancelled_and_stays_due(engine, held):
    payment = await paid(engine, held.url(), "LATE")
    notifier = Notifier(engine, max_in_flight=4, attempt_timeout_s=ATTEMPT_TIMEOUT_S, grace_s=0.05)
    await notifier.start()
    await held.wait_for(1)
    await asyncio.wait_for(notifier.stop(), 10)  # the receiver never answers: the grace ends, the attempt is cut
    (n,) = await engine.list_notifications(payment.id)
    assert n.status.value == "pending" and n.attempts == 0  # at least once: due again on the next start
