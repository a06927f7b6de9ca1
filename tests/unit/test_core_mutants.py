"""Exact-value checks of engine behaviour that the unit tests left loose (found by mutmut on sandbox/core and
sandbox/store): partial refunds of funded payments, refund errors and settle reasons, cancel of an unpaid final
payment, the timeline lines and bus messages of notification controls, API faults and app records, a fault rule
used up by another process, retention, the journal's next page, and the notifier's resolver."""
from __future__ import annotations

import logging
import socket

import pytest
from aiohttp.resolver import ThreadedResolver

from sandbox.core import errors
from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.ledger import Funding, Movement
from sandbox.core.models import PaymentStatus, RefundStatus
from sandbox.core.retention import Retention
from sandbox.core.rules import ApiCall, Rule, RuleAction, RuleMatch
from sandbox.core.targets import GuardedResolver, NotifyTargets
from sandbox.store.db import Database

from test_engine import RecordingChannel, engine, new_payment  # noqa: F401  (engine: the fixture)

DAY = 86400


def drain(queue) -> list[dict]:
    messages = []
    while not queue.empty():
        messages.append(queue.get_nowait())
    return messages


async def events(engine, payment_id, kind):
    return [(e.summary, e.data) for e in (await engine.payment_detail(payment_id))["events"] if e.kind == kind]


async def paid(engine, out_trade_no="O1", amount=100, **extra):
    payment, _ = await engine.create_payment(new_payment(out_trade_no, amount, **extra))
    return await engine.succeed(payment.id)


# ----- refunds of a payment partly paid from an account ---------------------------------------------------------

async def test_partial_refunds_credit_the_account_its_share_rounded_down_and_never_twice(engine):
    """33 points paid beside 67 fen: half refunded gives back 16 points (33 × 50 / 100, whole points), the other
    half the 17 still owed, not 33 again."""
    points = await engine.open_account("m1", "shop", "u1", "points", opening=100)
    payment = await paid(engine, "MIX", 100, funding=Funding(debit=[Movement(account_id=points.id, amount=33)]))
    assert (await engine.get_account(points.id)).balance == 67
    await engine.refund(payment.id, amount=50, out_refund_no="R1", provider_refund_no="X1")
    assert (await engine.get_account(points.id)).balance == 83
    await engine.refund(payment.id, amount=50, out_refund_no="R2", provider_refund_no="X2")
    assert (await engine.get_account(points.id)).balance == 100
    credits = [(e.kind, e.amount) for e in await engine.account_entries(points.id) if e.payment_id == payment.id]
    assert credits == [("credit", 17), ("credit", 16), ("debit", 33)]


# ----- refund errors and settling --------------------------------------------------------------------------------

async def test_the_same_out_refund_no_for_another_amount_is_refused_in_words(engine):
    payment = await paid(engine)
    first, _ = await engine.refund(payment.id, amount=30, out_refund_no="R1", provider_refund_no="X1")
    with pytest.raises(errors.DuplicateRefund) as refused:
        await engine.refund(payment.id, amount=40, out_refund_no="R1", provider_refund_no="X2")
    assert str(refused.value) == "out_refund_no 'R1' was used for another amount"
    assert refused.value.message == "out_refund_no 'R1' was used for another amount"
    assert refused.value.existing.id == first.id


async def test_an_unknown_refund_id_is_named_in_the_error(engine):
    with pytest.raises(errors.RefundNotFound) as missing:
        await engine.get_refund("rfd_nope")
    assert str(missing.value) == "no refund 'rfd_nope'"
    assert missing.value.message == "no refund 'rfd_nope'"


async def test_a_settled_refund_keeps_its_reason_beside_its_extra(engine):
    payment = await paid(engine, "HELD", 1000)
    held, _ = await engine.refund(payment.id, amount=700, out_refund_no="R1", provider_refund_no="X1", hold=True,
                                  extra={"operator": "op1"})
    failed = await engine.settle_refund(held.id, RefundStatus.FAILED, reason="card closed")
    assert failed.extra == {"operator": "op1", "reason": "card closed"}
    assert (await engine.get_refund(held.id)).extra == {"operator": "op1", "reason": "card closed"}
    after = await engine.get_payment(payment.id)
    assert (after.status, after.refunded_amount) == (PaymentStatus.SUCCEEDED, 0)
    second, _ = await engine.refund(payment.id, amount=200, out_refund_no="R2", provider_refund_no="X2", hold=True)
    done = await engine.settle_refund(second.id, RefundStatus.SUCCEEDED)
    assert done.extra == {}  # no reason given: nothing added


# ----- cancel --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("finish", ["close", "fail"])
async def test_cancel_of_a_closed_or_failed_payment_says_it_cannot_be_canceled(engine, finish):
    payment, _ = await engine.create_payment(new_payment())
    finished = await getattr(engine, finish)(payment.id)
    assert finished.refundable == 100  # nothing was refunded: only its status keeps it from a refund
    with pytest.raises(errors.InvalidState) as refused:
        await engine.cancel(payment.id)
    assert str(refused.value) == f"payment is {finished.status.value}; cannot be canceled"
    assert await engine.refunds(payment.id) == []


# ----- the timeline and the bus ----------------------------------------------------------------------------------

async def test_a_logged_api_call_is_on_the_timeline_and_tells_the_pages_which_payment(engine):
    payment, _ = await engine.create_payment(new_payment())
    queue = engine.bus.subscribe()
    await engine.log_api_call(payment.id, "query answered", request={"q": 1}, response={"a": 2})
    assert drain(queue) == [{"type": "event", "payment_id": payment.id}]
    assert await events(engine, payment.id, "api") == [
        ("query answered", {"request": {"q": 1}, "response": {"a": 2}})]


async def test_deliver_and_suppress_write_their_timeline_line_with_the_notification(engine):
    payment = await paid(engine)
    (notification,) = await engine.list_notifications(payment.id)
    queue = engine.bus.subscribe()
    now = await engine.deliver(notification.id, actor="console")
    assert now.next_attempt_at == now.updated_at
    later = await engine.deliver(notification.id, delay_s=30, actor="api")
    assert later.next_attempt_at == later.updated_at + 30
    await engine.suppress(notification.id, actor="tester")
    ref = {"notification_id": notification.id}
    assert (await events(engine, payment.id, "action")) == [
        ("PAYMENT.SUCCEEDED notification delivery now requested by console", ref),
        ("PAYMENT.SUCCEEDED notification delivery in 30 s requested by api", ref),
        ("PAYMENT.SUCCEEDED notification suppressed by tester", ref)]
    assert drain(queue) == [{"type": "notification", "payment_id": payment.id, "notification_id": notification.id}] * 3


async def test_resend_copies_the_latest_notification_due_after_the_delay(engine):
    payment = await paid(engine)
    (first,) = await engine.list_notifications(payment.id)
    queue = engine.bus.subscribe()
    copy = await engine.resend(payment.id, delay_s=30, actor="console")
    assert (copy.event, copy.url, copy.status.value) == ("PAYMENT.SUCCEEDED", first.url, "pending")
    assert copy.next_attempt_at == copy.created_at + 30
    assert drain(queue) == [{"type": "notification", "payment_id": payment.id, "notification_id": copy.id}]
    assert (await events(engine, payment.id, "action")) == [
        ("new copy of PAYMENT.SUCCEEDED notification by console", {"notification_id": copy.id})]


async def test_resend_of_a_payment_with_no_notification_yet_queues_its_current_status(engine):
    channel = engine.channels.pop("test")  # paid while its provider had no notify channel: nothing queued
    try:
        payment = await paid(engine)
    finally:
        engine.channels["test"] = channel
    assert await engine.list_notifications(payment.id) == []
    copy = await engine.resend(payment.id, actor="console")
    assert (copy.event, copy.url, copy.status.value) == ("PAYMENT.SUCCEEDED", "http://127.0.0.1:1/n", "pending")
    assert copy.next_attempt_at == copy.created_at
    assert copy.payment.status is PaymentStatus.SUCCEEDED
    assert [n.id for n in await engine.list_notifications(payment.id)] == [copy.id]


async def test_an_updated_app_record_is_announced_like_a_put_one(engine):
    await engine.put_app_record("m1", "shop", "user", "u1", {"status": "active", "name": "Ann"})
    queue = engine.bus.subscribe()
    saved = await engine.update_app_record("m1", "user", "u1", {"status": "frozen"}, actor="console")
    assert saved.data == {"status": "frozen", "name": "Ann"}
    assert drain(queue) == [{"type": "app", "app": "shop", "kind": "user", "id": "u1", "actor": "console"}]


# ----- API faults ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, what", [
    (RuleAction(api_error=True), "system error"),
    (RuleAction(api_error=True, api_delay_s=2), "system error after 2 s"),
    (RuleAction(api_drop=True, api_delay_s=1.5), "dropped after 1.5 s"),
    (RuleAction(api_delay_s=1.5), "answered late"),
])
async def test_a_faulted_call_says_on_the_timeline_what_the_rule_did(engine, action, what):
    payment, _ = await engine.create_payment(new_payment())
    rule = await engine.add_rule(Rule(name="boom", match=RuleMatch(provider="test", operation="query"),
                                      action=action))
    assert await engine.api_fault(ApiCall("test", "m1", "query", out_trade_no="O1")) == action
    assert await events(engine, payment.id, "api") == [
        (f"query call faulted by rule boom: {what}", {"rule": rule.id, "hit": 1})]


async def test_a_fault_rule_used_up_by_another_process_faults_no_more_calls_here(engine):
    """--workers N: two engines on one database; the other one takes the rule's only call."""
    rule = await engine.add_rule(Rule(match=RuleMatch(provider="test", operation="query"),
                                      action=RuleAction(api_error=True, api_times=1)))
    db = Database(engine.db.path)
    await db.open()
    try:
        other = Engine(db, Clock(), {"test": RecordingChannel()}, Bus())
        await other.load()
        query = ApiCall("test", "m1", "query", out_trade_no="O1")
        assert (await other.api_fault(query)).api_error is True
        assert await engine.api_fault(query) is None  # this process still counted 0 hits: SQL said used up
        assert next(r for r in engine.rules() if r.id == rule.id).hits == 1
        assert await engine.api_fault(query) is None
    finally:
        await db.close()


# ----- retention -----------------------------------------------------------------------------------------------

async def test_retention_deletes_payments_older_than_keep_days_and_says_how_many(engine, caplog):
    caplog.set_level(logging.INFO, logger="sandbox.core.retention")
    for i in range(3):
        await engine.create_payment(new_payment(f"OLD-{i}"))
    await engine.advance_clock(31 * DAY)
    kept, _ = await engine.create_payment(new_payment("NEW"))
    queue = engine.bus.subscribe()
    retention = Retention(engine, keep_days=30)
    await retention.start()
    try:
        while (await queue.get())["type"] != "reset":  # published by the trim; the log line follows at once
            pass
    finally:
        await retention.stop()
    assert retention.deleted == 3
    assert [r.getMessage() for r in caplog.records if r.name == "sandbox.core.retention"] == [
        "retention: deleted 3 payments older than 30 days"]
    assert [p.id for p in (await engine.list_payments())[0]] == [kept.id]


# ----- the request journal's pages -----------------------------------------------------------------------------

def journal_entry(i: int, merchant_id: str) -> dict:
    return {"id": f"req-{i}", "at": 1000.0 + i, "real_at": 1000.0 + i, "method": "POST", "path": f"/pay/{i}",
            "query": "", "provider": "test", "request_headers": [], "request_body": b"", "request_size": 0,
            "status": 200, "response_headers": [], "response_body": b"", "response_size": 0, "latency_ms": 1.0,
            "merchant_id": merchant_id, "payment_id": None, "verdict": "accepted"}


async def test_the_next_page_of_the_journal_starts_below_the_last_seq_shown(engine):
    journal = engine.journal
    journal.linger_s = 0
    await journal.start()
    try:
        for i in range(6):
            journal.record(journal_entry(i, "m1" if i % 2 == 0 else "m2"))
        await journal.flushed()
    finally:
        await journal.stop()
    first, total = await engine.list_requests(limit=2)
    assert ([r["id"] for r in first], total) == (["req-5", "req-4"], 6)
    page, total = await engine.list_requests(before=first[-1]["seq"], limit=2)
    assert ([r["id"] for r in page], total) == (["req-3", "req-2"], 6)
    mine, total = await engine.list_requests(merchant_id="m1", before=first[-1]["seq"], limit=5)
    assert ([r["id"] for r in mine], total) == (["req-2", "req-0"], 3)


# ----- the notifier's resolver ---------------------------------------------------------------------------------

async def test_the_guarded_resolver_returns_addresses_for_the_port_asked(engine):
    resolver = GuardedResolver(NotifyTargets(), ThreadedResolver())
    try:
        found = await resolver.resolve("localhost", 8089, socket.AF_INET)
    finally:
        await resolver.close()
    assert {(r["host"], r["port"], r["family"]) for r in found} == {("127.0.0.1", 8089, socket.AF_INET)}
