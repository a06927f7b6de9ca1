"""The notifier against a real local HTTP receiver, and the sandbox clock."""
from __future__ import annotations

import asyncio
import time

import pytest

from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.models import NewPayment, OutboundRequest
from sandbox.core.notifier import Notifier
from sandbox.store.db import Database
from sandbox.testing import NotifyReceiver


class EchoChannel:
    provider = "test"
    retry_delays = (60.0, 600.0, 3600.0)

    def payment_event(self, payment):
        return "PAID" if payment.status.value == "SUCCEEDED" else None

    def refund_event(self, payment, refund):
        return None

    async def render(self, notification, merchant, attempt, now):
        return OutboundRequest(url=notification.url, headers={"X-Attempt": str(attempt)},
                               body=notification.payment.out_trade_no.encode())

    def is_acknowledged(self, request, status, body):
        return status == 200 and body == b"OK"


@pytest.fixture
def receiver():
    with NotifyReceiver(status=200, body="OK") as r:
        yield r


@pytest.fixture
async def running(tmp_path):
    db = Database(tmp_path / "n.db")
    await db.open()
    engine = Engine(db, Clock(), {"test": EchoChannel()}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {}, [("test", "M")], merchant_id="m")
    notifier = Notifier(engine, attempt_timeout_s=0.5, max_in_flight=4)
    await notifier.start()
    yield engine, notifier
    await notifier.stop()
    await db.close()


async def paid(engine, url, order="O", **kw):
    payment, _ = await engine.create_payment(NewPayment(
        provider="test", merchant_id="m", out_trade_no=order, provider_trade_no=order, amount=1, trade_type="X",
        notify_url=url))
    await engine.succeed(payment.id, **kw)
    return payment


async def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_delivers_and_journals_the_exact_request(running, receiver):
    engine, _ = running
    payment = await paid(engine, receiver.url("/hook"))
    await asyncio.to_thread(receiver.wait_for, 1)
    (n,) = await engine.list_notifications(payment.id)
    await wait_until(lambda: _status(engine, n.id, "delivered"))
    (attempt,) = (await engine.get_notification(n.id)).attempt_log
    assert attempt.request_body == "O" and attempt.request_headers["X-Attempt"] == "1"
    assert attempt.response_status == 200 and attempt.response_body == "OK" and attempt.latency_ms > 0
    assert receiver.received[0].path == "/hook"


async def _status(engine, notification_id, status):
    return (await engine.get_notification(notification_id)).status.value == status


async def test_clock_jump_replays_the_whole_schedule_in_order_then_fails(running, receiver):
    engine, _ = running
    receiver.reply = (500, "no")
    payment = await paid(engine, receiver.url())
    await asyncio.to_thread(receiver.wait_for, 1)
    (n,) = await engine.list_notifications(payment.id)

    async def journaled():
        return (await engine.get_notification(n.id)).attempts == 1
    await wait_until(journaled)
    first = await engine.get_notification(n.id)
    # the next retry is due 60 s (sandbox clock) after the first attempt was due, not any sooner
    due = first.attempt_log[0].due_at
    assert first.status.value == "pending" and first.next_attempt_at == pytest.approx(due + 60, abs=0.01)
    assert first.next_attempt_at > engine.clock.now() + 50
    await engine.advance_clock(86400)
    await asyncio.to_thread(receiver.wait_for, 4)
    await wait_until(lambda: _status(engine, n.id, "failed"))
    log = (await engine.get_notification(n.id)).attempt_log
    assert [a.number for a in log] == [1, 2, 3, 4] and len(receiver.received) == 4
    assert [a.request_headers["X-Attempt"] for a in log] == ["1", "2", "3", "4"]


async def test_timeouts_and_refused_connections_are_journaled_as_errors(running, receiver):
    engine, _ = running
    receiver.delay_s = 2  # longer than the 0.5 s attempt timeout
    slow = await paid(engine, receiver.url(), order="SLOW")
    dead = await paid(engine, "http://127.0.0.1:9/closed", order="DEAD")
    for payment, expected in ((slow, "timed out"), (dead, "Error")):
        (n,) = await engine.list_notifications(payment.id)

        async def attempted(n=n):
            return bool((await engine.get_notification(n.id)).attempt_log)
        await wait_until(attempted)
        attempt = (await engine.get_notification(n.id)).attempt_log[0]
        assert expected in attempt.error and not attempt.acknowledged
        assert (await engine.get_notification(n.id)).status.value == "pending"


async def test_delayed_notify_waits_for_the_sandbox_clock(running, receiver):
    engine, _ = running
    payment = await paid(engine, receiver.url(), notify_delay_s=3600)
    (n,) = await engine.list_notifications(payment.id)
    # queued an hour ahead on the sandbox clock: nothing is due now (no sleep-and-look needed to know it)
    assert n.status.value == "pending" and n.attempts == 0
    assert n.next_attempt_at == n.created_at + 3600
    assert await engine.due_notifications(10) == []
    await engine.advance_clock(3600)
    await asyncio.to_thread(receiver.wait_for, 1)

    async def journaled():
        return (await engine.get_notification(n.id)).attempts == 1
    await wait_until(journaled)
    (attempt,) = (await engine.get_notification(n.id)).attempt_log
    assert attempt.due_at == n.next_attempt_at and attempt.at >= n.next_attempt_at
    assert len(receiver.received) == 1


async def test_many_notifications_with_bounded_concurrency(running, receiver):
    engine, notifier = running
    for i in range(40):
        await paid(engine, receiver.url(), order=f"M{i}")
    await asyncio.to_thread(receiver.wait_for, 40)
    assert sorted(r.body.decode() for r in receiver.received) == sorted(f"M{i}" for i in range(40))
    # the bound itself is watched while deliveries are held in flight: test_planted_bugs.py


def test_clock_only_moves_forward():
    clock = Clock()
    before = clock.now()
    assert clock.advance(100) >= before + 100
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_sleep_until_wakes_on_advance():
    clock = Clock()
    wake = asyncio.Event()
    clock.register(wake)
    target = clock.now() + 1000
    sleeper = asyncio.create_task(clock.sleep_until(target, wake))
    await asyncio.sleep(0.05)
    clock.advance(1000)
    await asyncio.wait_for(sleeper, 1)
    assert clock.now() >= target


@pytest.mark.parametrize("yields", range(6))
async def test_a_cancel_landing_as_the_clock_wakes_still_stops_the_loop(yields):
    # asyncio.wait_for on Python 3.11 swallowed such a cancel: the notifier never stopped and CI hung.
    clock = Clock()
    wake = asyncio.Event()

    async def loop():
        while True:
            await clock.sleep_until(None, wake)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    wake.set()
    for _ in range(yields):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done and task.cancelled()


async def test_notifier_stops_while_a_delivery_is_waking_it(running, receiver):
    engine, notifier = running
    await paid(engine, receiver.url())
    await asyncio.to_thread(receiver.wait_for, 1)
    notifier.wake.set()
    await asyncio.wait_for(notifier.stop(), 5)
    assert notifier._runner.done()
