"""Staying fast as payments pile up (issue 14): every lookup served by an index, id fragments found through the
trigram index, keyset pages, batched due actions with a clock advance that waits, and retention."""
from __future__ import annotations

import html
import re
import sqlite3

import pytest
import requests

from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.ledger import Funding, Movement
from sandbox.core.models import NewPayment, PaymentStatus
from sandbox.core.rules import Rule, RuleAction, RuleMatch
from sandbox.store import notifications as notifications_store
from sandbox.store import payments as payments_store
from sandbox.store.db import Database

from test_engine import RecordingChannel


class FixedClock(Clock):
    """A clock that says what it is told, so payments can share a created_at."""

    def __init__(self, at: float = 1_800_000_000.0):
        super().__init__()
        self.at = at

    def now(self) -> float:
        return self.at + self.offset_s


@pytest.fixture
async def engine(tmp_path):
    db = Database(tmp_path / "scale.db")
    await db.open()
    engine = Engine(db, FixedClock(), {"test": RecordingChannel()}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {"test": {"key": "k"}}, [("test", "M1")], merchant_id="m1")
    yield engine
    await db.close()


def new_payment(out_trade_no: str, provider_trade_no: str | None = None, notify_url="http://127.0.0.1:1/n",
                **extra) -> NewPayment:
    return NewPayment(provider="test", merchant_id="m1", out_trade_no=out_trade_no,
                      provider_trade_no=provider_trade_no or f"T-{out_trade_no}", amount=100, trade_type="JSAPI",
                      notify_url=notify_url, fingerprint={"o": out_trade_no}, **extra)


# ----- query plans -------------------------------------------------------------------------------------------

class Recording:
    """A connection that notes every statement run through it."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.statements = conn, []

    def execute(self, sql, params=()):
        self.statements.append((sql, tuple(params)))
        return self.conn.execute(sql, params)


FULL_SCAN = re.compile(r"\bSCAN payments\b(?! USING)")

LIST_FILTERS = [
    {}, {"status": "PENDING"}, {"merchant_id": "m1"}, {"provider": "test"}, {"out_trade_no": "O-1"},
    {"since": 1.0}, {"since": 1.0, "until": 2e9}, {"status": "PENDING", "merchant_id": "m1", "provider": "test"},
    {"text": "O-1"}, {"text": "wx20"}, {"text": "O"}, {"text": "pay_"}, {"status": "SUCCEEDED", "text": "T-O"},
    {"after": (1.0, "pay_x")}, {"status": "PENDING", "after": (1.0, "pay_x")}, {"text": "12345", "after": (1.0, "p")},
    {"provider": "test", "merchant_id": "m1", "after": (1.0, "p")}, {"text": "ab", "merchant_id": "m1"},
]


def plans(conn, statements) -> list[tuple[str, list[str]]]:
    return [(sql, [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)])
            for sql, params in statements]


async def test_every_lookup_of_the_console_and_api_is_served_by_an_index(engine):
    for i in range(30):
        await engine.create_payment(new_payment(f"O-{i}", provider_ids={"prepay_id": f"wx20{i:06d}"},
                                                expires_in_s=60))

    def work(conn):
        recorded = Recording(conn)
        for filters in LIST_FILTERS:
            payments_store.search(recorded, limit=26, count_bound=payments_store.COUNT_BOUND, **filters)
        payments_store.search(recorded, text="O", count_bound=3, limit=26)  # a short prefix many payments share
        payments_store.by_out_trade_no(recorded, "m1", "test", "O-1")
        payments_store.by_provider_trade_no(recorded, "test", "T-O-1")
        payments_store.get(recorded, "pay_x")
        payments_store.due_for_action(recorded, 2e9, 100)
        payments_store.next_action_time(recorded)
        payments_store.created_before(recorded, 2e9, 100)
        notifications_store.due(recorded, 2e9, 100)
        notifications_store.any_due(recorded, 2e9)
        return plans(conn, recorded.statements)

    found = await engine.db.read(work)
    assert len(found) > 2 * len(LIST_FILTERS)
    for sql, plan in found:
        assert not any(FULL_SCAN.search(step) for step in plan), (sql, plan)
    by_sql = {sql: " / ".join(plan) for sql, plan in found}
    page = next(s for s in by_sql if s.startswith("SELECT * FROM payments WHERE status = ?"))
    assert "payments_status_created" in by_sql[page] and "TEMP B-TREE" not in by_sql[page]
    due = next(s for s in by_sql if "expires_at <= ?" in s)  # not (status, created_at, id): every pending payment
    assert "payments_auto_action" in by_sql[due] and "payments_expiry" in by_sql[due]
    dense = next(s for s in by_sql if "INDEXED BY payments_created" in s)
    assert "payments_created" in by_sql[dense] and "TEMP B-TREE" not in by_sql[dense]
    fts = next(s for s in by_sql if "MATCH" in s and s.startswith("SELECT *"))
    assert "payments_ids VIRTUAL TABLE" in by_sql[fts] and "rowid=?" in by_sql[fts]


# ----- search ------------------------------------------------------------------------------------------------

async def ids_found(engine, text, **filters) -> set[str]:
    payments, _ = await engine.list_payments(text=text, limit=500, **filters)
    return {p.id for p in payments}


async def test_a_fragment_of_every_kind_of_id_finds_its_payment(engine):
    wechat, _ = await engine.create_payment(new_payment(
        "SHOP-20261202-0042", "4200002026120298765",
        provider_ids={"prepay_id": "wx02161234567890abcdef", "code_url": "weixin://wxpay/bizpayurl?pr=Zq8xK2w",
                      "cloudpay_param": "data:image/png;base64," + "A" * 500}))
    others = [(await engine.create_payment(new_payment(f"OTHER-{i}", f"T{i}")))[0] for i in range(5)]
    for fragment in ("0261202-004", "shop-2026",  # out_trade_no, any case
                     "000202612029876",  # provider_trade_no
                     wechat.id[-10:-1],  # our id (its random part)
                     "1234567890abc", "pr=Zq8"):  # provider ids: prepay_id, code_url
        assert await ids_found(engine, fragment) == {wechat.id}, fragment
    assert await ids_found(engine, "AAAAAA") == set()  # a long value (an image) is not an id: left out
    assert await ids_found(engine, "0042", status="PENDING", provider="test") == {wechat.id}
    assert await ids_found(engine, "0042", status="SUCCEEDED") == set()
    # under three characters: equal ids and order numbers that start with it
    assert await ids_found(engine, "T1") == {others[1].id}
    assert await ids_found(engine, "SH") == {wechat.id}
    assert await ids_found(engine, "04") == set()  # not a prefix: no substring search this short
    shared, _ = await engine.list_payments(text="OT", limit=3, count_bound=2)  # more than the bound share it
    sorted_, _ = await engine.list_payments(text="OT", limit=3)  # the same page, sorted from the prefix index
    assert [p.id for p in shared] == [p.id for p in sorted_] and {p.out_trade_no[:5] for p in shared} == {"OTHER"}
    # kept in step: a changed provider id is found by its new value only, a deleted payment not at all
    await engine.db.transaction(lambda conn: conn.execute(
        "UPDATE payments SET provider_ids = ? WHERE id = ?", ('{"prepay_id": "wx99newvalue"}', others[0].id)))
    assert await ids_found(engine, "99newval") == {others[0].id}
    await engine.db.transaction(lambda conn: payments_store.delete_many(conn, [wechat.id]))
    assert await ids_found(engine, "0261202-004") == set()
    assert await ids_found(engine, "OTHER") == {p.id for p in others}


# ----- keyset pages ------------------------------------------------------------------------------------------

async def test_keyset_pages_walk_ties_in_created_at_without_skipping_or_repeating(engine):
    made = []
    for group in range(6):  # six instants, eleven payments created at each
        engine.clock.at = 1_800_000_000.0 + group * 0.25
        made += [(await engine.create_payment(new_payment(f"K-{group}-{i}")))[0] for i in range(11)]
    expected = [p.id for p in sorted(made, key=lambda p: (p.created_at, p.id), reverse=True)]
    for size in (1, 4, 7, 11, 25):
        walked, after = [], None
        while True:
            page, total = await engine.list_payments(after=after, limit=size)
            assert total == len(made)
            walked += [p.id for p in page]
            if len(page) < size:
                break
            after = (page[-1].created_at, page[-1].id)
        assert walked == expected, size
    offset_page, _ = await engine.list_payments(limit=7, offset=7)
    assert [p.id for p in offset_page] == expected[7:14]


def test_admin_api_and_console_page_with_a_cursor(sandbox):
    engine = sandbox.engine
    for batch in range(3):  # a bulk create gives a whole batch one created_at: 3 instants, 20 ties each
        sandbox.call(engine.create_payments_bulk([NewPayment(
            provider="quickpay", merchant_id="demo-quickpay", out_trade_no=f"CUR-{batch}-{i:02d}",
            provider_trade_no=f"QP-{batch}-{i}", amount=100, trade_type="JSAPI", fingerprint={})
            for i in range(20)]))
    listed = sandbox.admin.payments(limit=500)
    expected = [p["id"] for p in listed["payments"]]
    assert len(expected) == 60 and listed["total"] == 60 and listed["total_exact"] and listed["next"] is None
    walked, cursor = [], None
    while True:
        page = sandbox.admin.payments(limit=7, after=cursor)
        walked += [p["id"] for p in page["payments"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert walked == expected
    with pytest.raises(Exception, match="INVALID_QUERY"):
        sandbox.admin.payments(offset=5000)
    with pytest.raises(Exception, match="INVALID_QUERY"):
        sandbox.admin.payments(after="not-a-cursor")
    # the console: "Older →" follows the cursor to the end, 25 a page
    seen, url = [], f"{sandbox.url}/_sandbox/?provider=quickpay"
    while url:
        text = requests.get(url, timeout=10).text
        seen += re.findall(r'<tr data-id="([^"]+)"', text)
        older = re.search(r'href="([^"]+)" id="pager-older"', text)
        url = f"{sandbox.url}/_sandbox/{html.unescape(older.group(1))}" if older else None
    assert seen == expected
    assert "60 payments" in requests.get(f"{sandbox.url}/_sandbox/", timeout=10).text


# ----- batched due actions and the clock advance that waits -------------------------------------------------

def test_a_clock_jump_with_wait_returns_once_every_due_payment_is_closed(sandbox, notify_receiver):
    engine = sandbox.engine
    count = 700  # several batches
    sandbox.call(engine.create_payments_bulk([NewPayment(
        provider="alipay", merchant_id="demo-alipay", out_trade_no=f"EXP-{i}", provider_trade_no=f"2026{i:012d}",
        amount=100, trade_type="PRECREATE", notify_url=notify_receiver.url(), fingerprint={}, expires_in_s=3600,
        description="tea") for i in range(count)]))
    # app payments holding points: their holds are released by the expiry, in the same batches
    ident = sandbox.call(engine.open_account("demo-hmall", "hmall", "scale-u1", "points", opening=1000)).id
    held = [sandbox.call(engine.create_payment(NewPayment(
        provider="hmall", merchant_id="demo-hmall", out_trade_no=f"HOLD-{i}", provider_trade_no=f"HOLD-{i}",
        amount=10, trade_type="BALANCE", expires_in_s=3600,
        funding=Funding(hold=[Movement(account_id=ident, amount=100)]))))[0] for i in range(3)]
    assert sandbox.call(engine.get_account(ident)).held == 300
    assert sandbox.admin.payments(status="PENDING")["total"] == count + 3

    answer = sandbox.admin.advance(3601, wait=True)

    assert answer["settled"] is True
    assert sandbox.admin.payments(status="PENDING")["total"] == 0
    assert sandbox.admin.payments(status="CLOSED")["total"] == count + 3
    account = sandbox.call(engine.get_account(ident))
    assert (account.balance, account.held) == (1000, 0)
    for payment in held:
        entries = [e for e in sandbox.call(engine.account_entries(ident)) if e.payment_id == payment.id]
        assert sorted(e.kind for e in entries) == ["hold", "release"]
    # every TRADE_CLOSED notify was attempted (and acknowledged) before the answer
    assert not sandbox.call(engine.db.read(lambda conn: notifications_store.any_due(conn, engine.clock.now())))
    assert len(sandbox.admin.notifications(status="delivered", limit=1000)["notifications"]) == count
    detail = sandbox.admin.payment(sandbox.admin.payments(out_trade_no="EXP-7")["payments"][0]["id"])
    assert detail["close_reason"] == "expired"
    assert [n["event"] for n in detail["notifications"]] == ["TRADE_CLOSED"]


async def test_a_refused_due_action_does_not_hold_up_the_others(engine):
    ident = (await engine.open_account("m1", "hmall", "u1", "balance", opening=10)).id
    await engine.add_rule(Rule(name="pays", match=RuleMatch(amount=100), action=RuleAction(outcome="succeed",
                                                                                            after_s=5)))
    short, _ = await engine.create_payment(new_payment("SHORT", notify_url=None, funding=Funding(
        debit=[Movement(account_id=ident, amount=100)])))
    fine = [(await engine.create_payment(new_payment(f"FINE-{i}", notify_url=None)))[0] for i in range(3)]
    await engine.advance_clock(6)
    assert await engine.run_due_actions() == 3
    assert (await engine.get_payment(short.id)).status is PaymentStatus.PENDING  # 10 of 100: refused, kept
    assert [(await engine.get_payment(p.id)).status for p in fine] == [PaymentStatus.SUCCEEDED] * 3
    assert await engine.settle_due(timeout_s=5)  # the refused one does not keep the wait from ending
    await engine.adjust_account(ident, 100)
    await engine.advance_clock(10)  # tried again later
    assert await engine.run_due_actions() == 1
    assert (await engine.get_payment(short.id)).status is PaymentStatus.SUCCEEDED


# ----- retention ---------------------------------------------------------------------------------------------

def counts(conn, payment_ids):
    marks = ", ".join("?" * len(payment_ids))
    out = {}
    for table, column in (("payments", "id"), ("events", "payment_id"), ("notifications", "payment_id"),
                          ("refunds", "payment_id")):
        out[table] = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} IN ({marks})",
                                  payment_ids).fetchone()[0]
    out["attempts"] = conn.execute(
        f"SELECT COUNT(*) FROM attempts WHERE notification_id IN "
        f"(SELECT id FROM notifications WHERE payment_id IN ({marks}))", payment_ids).fetchone()[0]
    out["ids"] = conn.execute(f"SELECT COUNT(*) FROM payments_ids WHERE payments_ids MATCH ?",
                              ('"RET-"',)).fetchone()[0]
    return out


async def make_history(engine, prefix: str, account: str) -> list[str]:
    ids = []
    for i in range(4):
        payment, _ = await engine.create_payment(new_payment(f"RET-{prefix}-{i}", funding=Funding(
            debit=[Movement(account_id=account, amount=100)])))
        await engine.succeed(payment.id)
        await engine.refund(payment.id, amount=40, out_refund_no=f"R-{prefix}-{i}", provider_refund_no=f"X{i}")
        (notification, *_) = (await engine.payment_detail(payment.id))["notifications"]
        await engine.record_attempt(notification, {"at": engine.clock.now(), "request_url": "http://x/",
                                                   "request_headers": {}, "request_body": "b",
                                                   "acknowledged": True})
        ids.append(payment.id)
    return ids


async def test_retention_deletes_whole_old_payments_and_nothing_of_newer_ones(engine):
    account = (await engine.open_account("m1", "hmall", "u1", "balance", opening=10_000)).id
    old = await make_history(engine, "old", account)
    await engine.advance_clock(8 * 86400)
    new = await make_history(engine, "new", account)
    before_new = await engine.db.read(lambda conn: counts(conn, new))
    entries_before = await engine.account_entries(account)

    assert await engine.trim_older_than(7, batch=3) == len(old)  # two transactions of 3 and 1

    gone = await engine.db.read(lambda conn: counts(conn, old))
    assert {k: v for k, v in gone.items() if k != "ids"} == {
        "payments": 0, "events": 0, "notifications": 0, "refunds": 0, "attempts": 0}
    kept = await engine.db.read(lambda conn: counts(conn, new))
    assert kept == {**before_new, "ids": len(new)} and kept["attempts"] == len(new) and kept["refunds"] == len(new)
    entries = await engine.account_entries(account)  # the ledger keeps every row; old ones lose their payment
    assert len(entries) == len(entries_before)
    assert sum(e.payment_id is None for e in entries) == 1 + 2 * len(old)  # the opening credit, debits and credits
    assert {e.payment_id for e in entries} - {None} == set(new)
    assert (await engine.get_account(account)).balance == 10_000 - 8 * 60
    assert await engine.trim_older_than(7) == 0


async def test_new_databases_reuse_space_without_vacuum(engine):
    mode = await engine.db.read(lambda conn: conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    assert mode == 2  # INCREMENTAL


async def test_retention_hands_every_freed_page_back_to_the_file_system(engine):
    big = "x" * 3000  # about a page of raw request per payment
    for i in range(40):
        await engine.create_payment(new_payment(f"BIG-{i}", raw_request=big))
    pages = await engine.db.read(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    await engine.advance_clock(8 * 86400)
    assert await engine.trim_older_than(7) == 40
    free, after = await engine.db.read(lambda conn: (conn.execute("PRAGMA freelist_count").fetchone()[0],
                                                     conn.execute("PRAGMA page_count").fetchone()[0]))
    assert free == 0  # was 39 of 40 pages left free: sqlite3 stepped the PRAGMA once, freeing one page
    assert pages - after >= 40


def test_keep_days_runs_retention_in_the_background(tmp_path):
    from sandbox.testing.server import SandboxServer
    with SandboxServer(db=tmp_path / "kept.db", keep_days=1) as server:
        old = server.call(server.engine.create_payment(NewPayment(
            provider="quickpay", merchant_id="demo-quickpay", out_trade_no="OLD-1", provider_trade_no="Q1",
            amount=100, trade_type="JSAPI", fingerprint={})))[0]
        server.admin.advance(86400 + 60)
        new = server.call(server.engine.create_payment(NewPayment(
            provider="quickpay", merchant_id="demo-quickpay", out_trade_no="NEW-1", provider_trade_no="Q2",
            amount=100, trade_type="JSAPI", fingerprint={})))[0]
        import time
        deadline = time.monotonic() + 10
        while server.admin.payments(out_trade_no="OLD-1")["total"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.admin.payments(out_trade_no="OLD-1")["total"] == 0
        assert [p["id"] for p in server.admin.payments()["payments"]] == [new.id]
        assert old.id != new.id


async def test_the_raw_request_is_stored_once_and_shown_on_the_created_event(engine):
    raw = '{"out_trade_no": "RAW-1", "description": "茶 \\u2028"}'
    payment, _ = await engine.create_payment(new_payment("RAW-1", raw_request=raw))
    stored = await engine.db.read(lambda conn: [row[0] for row in conn.execute(
        "SELECT data FROM events WHERE payment_id = ?", (payment.id,))])
    assert len(stored) == 1 and "RAW-1" not in stored[0]  # only the payment's row holds it
    detail = await engine.payment_detail(payment.id)
    assert detail["payment"].raw_request == raw
    assert detail["events"][0].data == {"status": "PENDING", "rule": None, "request": raw}
