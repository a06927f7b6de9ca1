"""Tests written to catch the deliberate bugs of issue 13 that the rest of the suite let through (each was seen to
fail with its bug planted): the notifier's in-flight bound, the store's group commit, the clock offset persisted as
a total, QuickPay's idempotency fingerprint and boolean sign rendering, and the console's empty-CSRF guard."""
from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3

import pytest
import requests

from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.models import NewPayment, OutboundRequest
from sandbox.core.notifier import Notifier
from sandbox.store.db import Database
from sandbox.testing import NotifyReceiver

from console_http import quickpay

SIGNED_STORE, SIGNED_KEY = "QP10000002", "quickpay-demo-key-0123456789abcd"


# ----- core/notifier.py: at most max_in_flight deliveries at once --------------------------------------------------

class GatedChannel:
    """Renders each attempt only once the test opens the gate, counting how many deliveries are in flight."""
    provider = "test"
    retry_delays = (60.0,)

    def __init__(self, waiting_for: int):
        self.gate = asyncio.Event()
        self.enough = asyncio.Event()
        self.waiting_for = waiting_for
        self.current = self.peak = 0

    def payment_event(self, payment):
        return "PAID" if payment.status.value == "SUCCEEDED" else None

    def refund_event(self, payment, refund):
        return None

    async def render(self, notification, merchant, attempt, now):
        self.current += 1
        self.peak = max(self.peak, self.current)
        if self.current >= self.waiting_for:
            self.enough.set()
        try:
            await self.gate.wait()
        finally:
            self.current -= 1
        return OutboundRequest(url=notification.url, body=notification.payment.out_trade_no.encode())

    def is_acknowledged(self, request, status, body):
        return status == 200


async def test_the_notifier_never_has_more_deliveries_in_flight_than_its_bound(tmp_path):
    limit, count = 4, 12
    channel = GatedChannel(waiting_for=limit)
    db = Database(tmp_path / "bound.db")
    await db.open()
    engine = Engine(db, Clock(), {"test": channel}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {}, [("test", "M")], merchant_id="m")
    with NotifyReceiver(status=200, body="OK") as receiver:
        for i in range(count):  # all due before the notifier starts: its first pass sees every one of them
            payment, _ = await engine.create_payment(NewPayment(
                provider="test", merchant_id="m", out_trade_no=f"B{i}", provider_trade_no=f"B{i}", amount=1,
                trade_type="X", notify_url=receiver.url()))
            await engine.succeed(payment.id)
        # one receiver is one host: its own share (per_host) would hold the pass below the global bound
        notifier = Notifier(engine, max_in_flight=limit, per_host=limit, attempt_timeout_s=5)
        await notifier.start()
        try:
            await asyncio.wait_for(channel.enough.wait(), 10)  # `limit` deliveries are held in render
            # Everything the notifier's pass could start has started by now (its tasks were queued before the
            # event that woke us); an unbounded notifier has all 12 in render.
            assert channel.peak == limit, f"{channel.peak} deliveries in flight at once, bound is {limit}"
            channel.gate.set()
            await asyncio.to_thread(receiver.wait_for, count)
            assert channel.peak == limit, f"{channel.peak} deliveries in flight at once, bound is {limit}"
            assert sorted(r.text for r in receiver.received) == sorted(f"B{i}" for i in range(count))
        finally:
            await notifier.stop()
            await db.close()


# ----- store/db.py: group commit keeps the good units of a batch and none of a failing one's writes --------------

async def test_a_failing_unit_in_a_group_commit_is_rolled_back_alone(tmp_path):
    db = Database(tmp_path / "group.db")
    await db.open()
    await db.transaction(lambda conn: conn.execute("CREATE TABLE t (v INTEGER)"))
    seen_by_last: list[int] = []

    def first(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        return conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]

    def failing(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise ValueError("unit 2 fails")

    def last(conn):
        conn.execute("INSERT INTO t VALUES (3)")
        seen_by_last.extend(row[0] for row in conn.execute("SELECT v FROM t ORDER BY v"))
        return conn.in_transaction

    try:
        # Three units queued in one loop turn: the flusher runs them as one batch, in one transaction.
        results = await asyncio.gather(db.transaction(first), db.transaction(failing), db.transaction(last),
                                       return_exceptions=True)
        assert results[0] == 1 and results[2] is True
        assert isinstance(results[1], ValueError) and str(results[1]) == "unit 2 fails"
        assert seen_by_last == [1, 3], f"inside the batch after the failing unit, the table held {seen_by_last}"
        kept = await db.read(lambda conn: [row[0] for row in conn.execute("SELECT v FROM t ORDER BY v")])
        assert kept == [1, 3], f"after the batch's COMMIT the table holds {kept}: the failing unit's row was kept"
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "group.db") as raw:  # and that is what reached the file
        assert [row[0] for row in raw.execute("SELECT v FROM t ORDER BY v")] == [1, 3]


# ----- core/engine.py: the clock offset is persisted as the total of every advance -------------------------------

async def test_two_advances_survive_a_restart_as_their_total(tmp_path):
    path = tmp_path / "clock.db"
    db = Database(path)
    await db.open()
    engine = Engine(db, Clock(), {}, Bus())
    await engine.load()
    await engine.advance_clock(100)
    await engine.advance_clock(100)
    assert engine.clock.offset_s == 200
    await db.close()

    db = Database(path)
    await db.open()
    restarted = Engine(db, Clock(), {}, Bus())
    await restarted.load()
    await db.close()
    assert restarted.clock.offset_s == 200, f"offset after restart is {restarted.clock.offset_s}, not 100 + 100"


# ----- quickpay/provider.py: the same order_no with another notify_url or attach is another order -----------------

def _qp(sandbox, action: str, body: dict) -> dict:
    response = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("changed", [{"notify_url": "http://127.0.0.1:9/other"}, {"attach": "other=2"}])
def test_quickpay_refuses_the_same_order_no_with_another_notify_url_or_attach(sandbox, changed):
    body = {"store_no": "QP10000001", "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-fp",
            "amount": 100, "order_no": "FP-1", "notify_url": "http://127.0.0.1:9/first", "attach": "a=1"}
    first = _qp(sandbox, "JSAPIPay", body)
    assert first["code"] == "SUCCESS"
    assert _qp(sandbox, "JSAPIPay", body)["data"]["transaction_no"] == first["data"]["transaction_no"]
    other = _qp(sandbox, "JSAPIPay", {**body, **changed})
    assert (other["code"], other["data"]) == ("ORDER_EXISTS", None), f"re-create with {changed}: {other['code']}"
    (payment,) = sandbox.admin.payments(out_trade_no="FP-1")["payments"]
    assert payment["notify_url"] == "http://127.0.0.1:9/first" and payment["attach"] == "a=1"


# ----- quickpay/wire.py: booleans take part in the sign as true/false --------------------------------------------

def _hand_sign(fields: dict, key: str) -> str:
    """The README and specs/quickpay.md, written out: non-empty fields but sign, sorted, k=v joined by &, then
    &key=KEY, MD5, upper-case hex; booleans as true/false."""
    def text(value):
        return {True: "true", False: "false"}[value] if isinstance(value, bool) else str(value)
    parts = [f"{k}={text(v)}" for k, v in sorted(fields.items()) if k != "sign" and v not in (None, "")]
    return hashlib.md5(("&".join(parts) + f"&key={key}").encode("utf-8")).hexdigest().upper()


@pytest.mark.parametrize("share_pay", [True, False])
def test_a_signed_store_accepts_a_boolean_signed_as_true_or_false(sandbox, share_pay):
    body = {"store_no": SIGNED_STORE, "paytype": 11, "appid": "wxd678efh567hg6787", "openid": "o-bool",
            "amount": 100, "order_no": f"BOOL-{share_pay}", "share_pay": share_pay}
    expected = "true" if share_pay else "false"
    body["sign"] = _hand_sign(body, SIGNED_KEY)
    answer = _qp(sandbox, "JSAPIPay", body)
    assert answer["code"] == "SUCCESS", f"a sign made with share_pay={expected} was refused: {answer}"
    # and the Python spelling of the boolean is not what the store signs
    body["sign"] = hashlib.md5("&".join(
        [f"{k}={v}" for k, v in sorted(body.items()) if k != "sign"] + [f"key={SIGNED_KEY}"]).encode()
    ).hexdigest().upper()
    body["order_no"] = f"BOOL-PY-{share_pay}"
    refused = _qp(sandbox, "JSAPIPay", body)
    assert refused["code"] == "SIGN_ERROR"


# ----- console/security.py: no CSRF cookie and an empty field is no match ----------------------------------------

def test_no_csrf_cookie_and_an_empty_csrf_field_is_refused(sandbox):
    payment = quickpay(sandbox, "CSRF-EMPTY")
    for kwargs in ({"data": {"csrf_token": ""}}, {"headers": {"X-CSRF-Token": ""}}):
        response = requests.post(f"{sandbox.url}/_sandbox/payments/{payment['id']}/succeed", allow_redirects=False,
                                 timeout=10, **kwargs)
        assert response.status_code == 403, f"{kwargs}: answered {response.status_code}, the action ran"
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING"
