"""The core ledger: holds, debits, releases and refunds move accounts only with their payment, and an account always
equals the sums of its entries."""
from __future__ import annotations

import pytest

from sandbox.core import errors
from sandbox.core.app_data import AppOrderLink, AppRecord
from sandbox.core.ledger import Funding, Movement, account_id
from sandbox.core.models import NewPayment
from sandbox.store import ledger as ledger_store

M = "demo-hmall"


def new_payment(out_trade_no: str, amount: int, **links) -> NewPayment:
    return NewPayment(provider="hmall", merchant_id=M, out_trade_no=out_trade_no, provider_trade_no=out_trade_no,
                      amount=amount, trade_type="BALANCE", **links)


async def sums(engine, ident):
    return await engine.db.read(lambda conn: ledger_store.sums(conn, ident))


@pytest.fixture
def engine(sandbox):
    return sandbox.engine


def test_hold_then_take_on_success_and_release_on_close(sandbox, engine):
    ident = sandbox.call(engine.open_account(M, "hmall", "u1", "points", opening=100)).id
    held = Funding(hold=[Movement(account_id=ident, amount=60)])
    paid, _ = sandbox.call(engine.create_payment(new_payment("L-1", 10, funding=held)))
    account = sandbox.call(engine.get_account(ident))
    assert (account.balance, account.held, account.available) == (100, 60, 40)
    with pytest.raises(errors.InsufficientFunds):  # 40 left: a second hold of 60 is refused, nothing written
        sandbox.call(engine.create_payment(new_payment("L-2", 10, funding=held)))
    assert sandbox.call(engine.find_payment(M, "hmall", "L-2")) is None
    sandbox.call(engine.succeed(paid.id))
    account = sandbox.call(engine.get_account(ident))
    assert (account.balance, account.held) == (40, 0)
    closing, _ = sandbox.call(engine.create_payment(new_payment("L-3", 10, funding=Funding(
        hold=[Movement(account_id=ident, amount=30)]))))
    sandbox.call(engine.close(closing.id))
    account = sandbox.call(engine.get_account(ident))
    assert (account.balance, account.held) == (40, 0)
    assert sandbox.call(sums(engine, ident)) == (40, 0)
    kinds = [(e.kind, e.amount, e.payment_id) for e in sandbox.call(engine.account_entries(ident))]
    assert kinds == [("release", 30, closing.id), ("hold", 30, closing.id), ("debit", 60, paid.id),
                     ("release", 60, paid.id), ("hold", 60, paid.id), ("credit", 100, None)]


def test_a_short_debit_leaves_the_payment_pending_and_the_order_unpaid(sandbox, engine):
    ident = sandbox.call(engine.open_account(M, "hmall", "u2", "balance", opening=50)).id
    order = AppRecord(merchant_id=M, app="hmall", kind="order", id="O-1", data={"pay_state": "unpaid"},
                      created_at=0, updated_at=0)
    payment, _ = sandbox.call(engine.create_payment(new_payment(
        "L-4", 80, funding=Funding(debit=[Movement(account_id=ident, amount=80)]), records=[order],
        app_order=AppOrderLink(app="hmall", order_id="O-1"))))
    assert sandbox.call(engine.app_record(M, "order", "O-1")).data["pay_state"] == "paying"
    with pytest.raises(errors.InsufficientFunds):
        sandbox.call(engine.succeed(payment.id))
    assert sandbox.call(engine.get_payment(payment.id)).status.value == "PENDING"
    sandbox.call(engine.adjust_account(ident, 30))
    sandbox.call(engine.succeed(payment.id))
    assert sandbox.call(engine.get_account(ident)).balance == 0
    order = sandbox.call(engine.app_record(M, "order", "O-1")).data
    assert (order["pay_state"], order["payment_id"]) == ("paid", payment.id)
    with pytest.raises(errors.InsufficientFunds):
        sandbox.call(engine.adjust_account(ident, -1))
    sandbox.call(engine.refund(payment.id, amount=25, out_refund_no="R-1", provider_refund_no="R-1"))
    assert sandbox.call(engine.get_account(ident)).balance == 25
    assert sandbox.call(sums(engine, account_id(M, "u2", "balance"))) == (25, 0)
