"""The engine: creates, transitions, refunds, outbox rows, rules and reset, on a real SQLite file."""
from __future__ import annotations

import asyncio

import pytest

from sandbox.core import errors
from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.models import CloseReason, NewPayment, OutboundRequest, PaymentStatus, RefundStatus
from sandbox.core.rules import ApiCall, Rule, RuleAction, RuleMatch
from sandbox.store.db import Database


class RecordingChannel:
    """Notifies on every final status and refund; renders a trivial body. Enough to see the outbox rows."""
    provider = "test"
    retry_delays = (10.0, 20.0)

    def payment_event(self, payment):
        return None if payment.status is PaymentStatus.PENDING else f"PAYMENT.{payment.status.value}"

    def refund_event(self, payment, refund):
        return "REFUND.SUCCESS"

    async def render(self, notification, merchant, attempt, now):
        return OutboundRequest(url=notification.url, body=notification.event.encode())

    def is_acknowledged(self, request, status, body):
        return status == 200


@pytest.fixture
async def engine(tmp_path):
    db = Database(tmp_path / "engine.db")
    await db.open()
    engine = Engine(db, Clock(), {"test": RecordingChannel()}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {"test": {"key": "k"}}, [("test", "M1")], merchant_id="m1")
    yield engine
    await db.close()


def new_payment(out_trade_no="O1", amount=100, **extra) -> NewPayment:
    return NewPayment(provider="test", merchant_id="m1", out_trade_no=out_trade_no, provider_trade_no=f"T-{out_trade_no}",
                      amount=amount, trade_type="JSAPI", notify_url="http://127.0.0.1:1/n",
                      fingerprint={"amount": amount}, **extra)


async def test_create_is_idempotent_and_refuses_other_parameters(engine):
    first, created = await engine.create_payment(new_payment())
    again, created_again = await engine.create_payment(new_payment())
    assert created and not created_again and again.id == first.id
    with pytest.raises(errors.DuplicateOrder):
        await engine.create_payment(new_payment(amount=200))


async def test_fifty_concurrent_identical_creates_make_one_payment(engine):
    results = await asyncio.gather(*(engine.create_payment(new_payment("RACE")) for _ in range(50)))
    assert len({p.id for p, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert (await engine.list_payments(out_trade_no="RACE"))[1] == 1


async def test_succeed_writes_state_event_and_notification_together(engine):
    payment, _ = await engine.create_payment(new_payment())
    paid = await engine.succeed(payment.id, payer={"openid": "o1"}, notify_delay_s=30)
    assert paid.status is PaymentStatus.SUCCEEDED and paid.paid_at and paid.payer == {"openid": "o1"}
    detail = await engine.payment_detail(payment.id)
    (notification,) = detail["notifications"]
    assert notification.event == "PAYMENT.SUCCEEDED" and notification.status.value == "pending"
    assert notification.next_attempt_at == paid.paid_at + 30  # due 30 s after the change, on the same clock reading
    assert notification.payment.status is PaymentStatus.SUCCEEDED  # the snapshot
    assert [e.kind for e in detail["events"]] == ["state", "state", "notify"]


async def test_finished_payments_refuse_other_outcomes(engine):
    payment, _ = await engine.create_payment(new_payment())
    await engine.fail(payment.id, reason="card declined")
    for action in (engine.succeed, engine.close):
        with pytest.raises(errors.InvalidState):
            await action(payment.id)
    assert (await engine.get_payment(payment.id)).fail_reason == "card declined"


async def test_refunds_add_up_to_the_payment_and_never_beyond(engine):
    payment, _ = await engine.create_payment(new_payment(amount=1000))
    with pytest.raises(errors.InvalidState):
        await engine.refund(payment.id, amount=1, out_refund_no="R0", provider_refund_no="X0")
    await engine.succeed(payment.id)
    r1, created = await engine.refund(payment.id, amount=600, out_refund_no="R1", provider_refund_no="X1")
    same, created_again = await engine.refund(payment.id, amount=600, out_refund_no="R1", provider_refund_no="X9")
    assert created and not created_again and same.id == r1.id
    with pytest.raises(errors.DuplicateRefund):
        await engine.refund(payment.id, amount=100, out_refund_no="R1", provider_refund_no="X2")
    with pytest.raises(errors.RefundExceedsPayment):
        await engine.refund(payment.id, amount=401, out_refund_no="R2", provider_refund_no="X2")
    await engine.refund(payment.id, amount=400, out_refund_no="R3", provider_refund_no="X3")
    final = await engine.get_payment(payment.id)
    assert final.status is PaymentStatus.REFUNDED and final.refunded_amount == 1000 and final.refundable == 0


async def test_cancel_closes_unpaid_and_refunds_paid(engine):
    unpaid, _ = await engine.create_payment(new_payment("U"))
    canceled = await engine.cancel(unpaid.id)
    assert canceled.status is PaymentStatus.CLOSED and canceled.close_reason is CloseReason.CANCELED
    paid, _ = await engine.create_payment(new_payment("P"))
    await engine.succeed(paid.id)
    reversed_ = await engine.cancel(paid.id)
    assert reversed_.status is PaymentStatus.REFUNDED and reversed_.refunded_amount == 100
    assert reversed_.close_reason is CloseReason.CANCELED


async def test_expiry_closes_pending_payments_on_the_sandbox_clock(engine):
    payment, _ = await engine.create_payment(new_payment(expires_in_s=7200))
    assert await engine.run_due_actions() == 0
    await engine.advance_clock(7201)
    assert await engine.run_due_actions() == 1
    closed = await engine.get_payment(payment.id)
    assert closed.status is PaymentStatus.CLOSED and closed.close_reason is CloseReason.EXPIRED


async def test_rules_decide_outcome_and_notify_behaviour(engine):
    await engine.add_rule(Rule(name="declined", match=RuleMatch(amount=404),
                               action=RuleAction(outcome="fail", after_s=5, reason="insufficient funds",
                                                 notify="duplicate")))
    payment, _ = await engine.create_payment(new_payment("R404", amount=404))
    assert payment.auto_action == "fail"
    await engine.advance_clock(6)
    assert await engine.run_due_actions() == 1
    detail = await engine.payment_detail(payment.id)
    assert detail["payment"].status is PaymentStatus.FAILED
    assert detail["payment"].fail_reason == "insufficient funds"
    assert len(detail["notifications"]) == 2  # "duplicate"
    other, _ = await engine.create_payment(new_payment("R100", amount=100))
    assert other.auto_action is None


async def test_notification_controls(engine):
    payment, _ = await engine.create_payment(new_payment())
    await engine.succeed(payment.id)
    (notification,) = await engine.list_notifications(payment.id)
    suppressed = await engine.suppress(notification.id)
    assert suppressed.status.value == "suppressed" and suppressed.next_attempt_at is None
    again = await engine.deliver(notification.id, delay_s=60)
    assert again.status.value == "pending" and again.next_attempt_at == again.updated_at + 60
    copy = await engine.resend(payment.id)
    assert copy.id != notification.id and copy.event == notification.event
    assert len(await engine.list_notifications(payment.id)) == 2


async def test_attempts_follow_the_schedule_then_fail(engine):
    payment, _ = await engine.create_payment(new_payment())
    await engine.succeed(payment.id)
    (notification,) = await engine.list_notifications(payment.id)
    due = notification.next_attempt_at
    attempt = {"at": engine.clock.now(), "request_url": "u", "request_headers": {}, "request_body": "",
               "response_status": 500, "acknowledged": False}
    first = await engine.record_attempt(notification, attempt)
    assert first.attempts == 1 and first.next_attempt_at == pytest.approx(due + 10, abs=0.01)
    second = await engine.record_attempt(first, attempt)
    assert second.next_attempt_at == pytest.approx(due + 30, abs=0.01)
    third = await engine.record_attempt(second, attempt)
    assert third.status.value == "failed" and third.next_attempt_at is None
    delivered = await engine.record_attempt(third, {**attempt, "response_status": 200, "acknowledged": True})
    assert delivered.status.value == "delivered"  # a late manual redelivery that worked
    assert len((await engine.get_notification(notification.id)).attempt_log) == 4


async def test_reset_drops_payments_keeps_merchants(engine):
    payment, _ = await engine.create_payment(new_payment())
    await engine.succeed(payment.id)
    assert await engine.reset() == 1
    assert (await engine.list_payments())[1] == 0 and engine.merchant("m1").name == "Shop"
    with pytest.raises(errors.PaymentNotFound):
        await engine.get_payment(payment.id)


async def test_state_survives_reopening_the_database(tmp_path):
    path = tmp_path / "persist.db"
    for round_ in range(2):
        db = Database(path)
        await db.open()
        engine = Engine(db, Clock(), {"test": RecordingChannel()})
        await engine.load()
        if round_ == 0:
            await engine.create_merchant("Shop", {}, [("test", "M1")], merchant_id="m1")
            payment, _ = await engine.create_payment(new_payment())
            await engine.advance_clock(3600)
        else:
            assert (await engine.get_payment(payment.id)).out_trade_no == "O1"
            assert engine.clock.offset_s == 3600
            assert engine.merchant_by_key("test", "M1").id == "m1"
        await db.close()


async def test_held_refunds_settle_later_and_a_failed_one_gives_the_money_back(engine):
    payment, _ = await engine.create_payment(new_payment("H", amount=1000))
    await engine.succeed(payment.id)
    held, _ = await engine.refund(payment.id, amount=700, out_refund_no="R1", provider_refund_no="X1", hold=True)
    assert held.status.value == "PROCESSING" and held.succeeded_at is None
    assert (await engine.get_payment(payment.id)).refundable == 300  # reserved while processing
    with pytest.raises(errors.RefundExceedsPayment):
        await engine.refund(payment.id, amount=301, out_refund_no="R2", provider_refund_no="X2")
    failed = await engine.settle_refund(held.id, RefundStatus.FAILED, reason="card closed")
    assert failed.status.value == "FAILED"
    after = await engine.get_payment(payment.id)
    assert after.refundable == 1000 and after.status is PaymentStatus.SUCCEEDED
    with pytest.raises(errors.InvalidState):
        await engine.settle_refund(held.id, RefundStatus.SUCCEEDED)
    events = [n.event for n in await engine.list_notifications(payment.id)]
    assert events.count("REFUND.SUCCESS") == 1  # RecordingChannel names every refund event so; sent once settled
    second, _ = await engine.refund(payment.id, amount=1000, out_refund_no="R3", provider_refund_no="X3", hold=True)
    done = await engine.settle_refund(second.id, RefundStatus.SUCCEEDED)
    assert done.succeeded_at and (await engine.get_payment(payment.id)).status is PaymentStatus.REFUNDED


async def test_a_rule_holds_refunds(engine):
    await engine.add_rule(Rule(match=RuleMatch(amount=555), action=RuleAction(refund="processing")))
    payment, _ = await engine.create_payment(new_payment("HR", amount=555))
    await engine.succeed(payment.id)
    refund, _ = await engine.refund(payment.id, amount=5, out_refund_no="R", provider_refund_no="X")
    assert refund.status.value == "PROCESSING"


async def test_a_cancel_refunds_at_once_even_when_a_rule_holds_refunds(engine):
    await engine.add_rule(Rule(match=RuleMatch(amount=556), action=RuleAction(refund="processing")))
    payment, _ = await engine.create_payment(new_payment("HC", amount=556))
    await engine.succeed(payment.id)
    canceled = await engine.cancel(payment.id, out_refund_no="C1", provider_refund_no="X")
    (refund,) = await engine.refunds(payment.id)
    assert refund.status is RefundStatus.SUCCEEDED and canceled.close_reason is CloseReason.CANCELED


async def test_cancel_of_a_paid_payment_is_one_change_seen_as_canceled_by_the_channel(engine):
    seen = []
    channel = engine.channels["test"]
    original = channel.refund_event

    def refund_event(payment, refund):
        seen.append(payment.close_reason)
        return original(payment, refund)
    channel.refund_event = refund_event
    try:
        payment, _ = await engine.create_payment(new_payment("CX"))
        await engine.succeed(payment.id)
        canceled = await engine.cancel(payment.id)
    finally:
        channel.refund_event = original
    assert seen == [CloseReason.CANCELED]  # a provider can tell a reverse's refund from a plain one
    assert canceled.status is PaymentStatus.REFUNDED and canceled.close_reason is CloseReason.CANCELED


async def test_a_fault_rule_with_api_times_faults_exactly_that_many_concurrent_calls_and_keeps_its_hits(engine):
    rule = await engine.add_rule(Rule(match=RuleMatch(provider="test", operation="query"),
                                      action=RuleAction(api_error=True, api_times=3)))
    query = ApiCall("test", "m1", "query", out_trade_no="O1")
    faults = await asyncio.gather(*(engine.api_fault(query) for _ in range(20)))
    assert sum(f is not None for f in faults) == 3
    assert await engine.api_fault(ApiCall("test", "m1", "create", out_trade_no="O1", amount=100)) is None
    await engine.load()  # as after a restart: the rule has used up its three calls
    assert next(r for r in engine.rules() if r.id == rule.id).hits == 3
    assert await engine.api_fault(query) is None
    # and a new payment ignores fault rules altogether
    payment, _ = await engine.create_payment(new_payment())
    assert "rule" not in payment.extra
