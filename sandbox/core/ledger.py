"""Money that belongs to an app's user: accounts (an hmall or partner balance in fen, shop points) and a ledger of
entries (credit, debit, hold, release). Part of the engine (a mixin of Engine): an account changes only here, and a
payment's entries are written in the same transaction as the payment's own change.

A payment is funded from accounts by its `Funding` (kept in payment.extra["funding"]):
- `hold`: held when the payment is created (refused, with nothing written, when the account has not enough), taken
  when it succeeds, released when it fails, closes or expires (the shop's points beside a WeChat payment);
- `debit`: taken when it succeeds (the success is refused, and the payment stays pending, when the account has not
  enough): an hmall balance payment. `succeed(funding=…)` may name the accounts at that moment (hmall deducts from
  the caller's balance, not the orderer's).
A refund of a funded payment credits back the accounts its success debited, in proportion to what is refunded.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from ..store import ledger as ledger_store
from ..store import payments as payments_store
from . import errors


class Movement(BaseModel):
    account_id: str
    amount: int = Field(gt=0)


class Funding(BaseModel):
    debit: list[Movement] = Field(default_factory=list)
    hold: list[Movement] = Field(default_factory=list)


class Account(BaseModel):
    id: str
    merchant_id: str
    app: str
    owner: str
    asset: str  # balance (fen) | points
    balance: int
    held: int
    created_at: float
    updated_at: float

    @property
    def available(self) -> int:
        return self.balance - self.held


class LedgerEntry(BaseModel):
    id: int
    account_id: str
    kind: str
    amount: int
    payment_id: str | None = None
    memo: str | None = None
    actor: str | None = None
    at: float


def account_id(merchant_id: str, owner: str, asset: str) -> str:
    return f"{merchant_id}:{owner}:{asset}"


class LedgerOperations:
    # ----- accounts ------------------------------------------------------------------------------------------

    async def open_account(self, merchant_id: str, app: str, owner: str, asset: str, *, opening: int = 0,
                           actor: str = "fixtures") -> Account:
        """The account, created (with an opening credit) when it does not exist yet."""
        self.merchant(merchant_id)
        if opening < 0:
            raise errors.InvalidInput("an opening balance cannot be negative")

        def work(conn):
            ident = account_id(merchant_id, owner, asset)
            if ledger_store.get(conn, ident) is None:
                now = self.clock.now()
                ledger_store.insert(conn, {"id": ident, "merchant_id": merchant_id, "app": app, "owner": owner,
                                           "asset": asset, "created_at": now})
                if opening:
                    ledger_store.apply(conn, ident, "credit", opening, now, memo="opening balance", actor=actor)
            return ledger_store.get(conn, ident)
        account = Account.model_validate(await self.db.transaction(work))
        self.bus.publish({"type": "account", "account_id": account.id})
        return account

    async def get_account(self, ident: str) -> Account:
        row = await self.db.read(lambda conn: ledger_store.get(conn, ident))
        if row is None:
            raise errors.NotFound(f"no account {ident!r}")
        return Account.model_validate(row)

    async def accounts(self, merchant_id: str, owner: str | None = None) -> list[Account]:
        rows = await self.db.read(lambda conn: ledger_store.of_merchant(conn, merchant_id, owner))
        return [Account.model_validate(r) for r in rows]

    async def account_entries(self, ident: str, limit: int = 200) -> list[LedgerEntry]:
        rows = await self.db.read(lambda conn: ledger_store.entries(conn, ident, limit))
        return [LedgerEntry.model_validate(r) for r in rows]

    async def adjust_account(self, ident: str, amount: int, *, memo: str | None = None,
                             actor: str = "api") -> Account:
        """A top-up (amount > 0) or a withdrawal (amount < 0) by a tester; never below what is held."""
        if not isinstance(amount, int) or amount == 0 or abs(amount) > 10 ** 12:
            raise errors.InvalidInput("amount must be a non-zero whole number (fen or points) within 10^12")

        def work(conn):
            account = self._account_in(conn, ident)
            if amount < 0:
                self._require(account, -amount)
            kind = "credit" if amount > 0 else "debit"
            return ledger_store.apply(conn, ident, kind, abs(amount), self.clock.now(),
                                      memo=memo or ("top-up" if amount > 0 else "withdrawal"), actor=actor)
        account = Account.model_validate(await self.db.transaction(work))
        self.bus.publish({"type": "account", "account_id": account.id})
        return account

    # ----- a payment's money (called inside the payment's own transaction) ---------------------------------

    def _hold_funding(self, conn, payment, now: float) -> None:
        for move in _funding(payment).hold:
            self._require(self._account_in(conn, move.account_id), move.amount)
            ledger_store.apply(conn, move.account_id, "hold", move.amount, now, payment_id=payment.id,
                               memo=f"held for {payment.out_trade_no}")

    def _settle_funding(self, conn, payment, succeeded: bool, now: float, actor: str,
                        funding: Funding | None = None) -> None:
        """On success take the holds and the debits (those of `funding` when given); on failure release the holds."""
        planned = _funding(payment)
        for move in planned.hold:
            ledger_store.apply(conn, move.account_id, "release", move.amount, now, payment_id=payment.id,
                               memo=f"{'taken' if succeeded else 'released'}: {payment.out_trade_no}", actor=actor)
            if succeeded:
                ledger_store.apply(conn, move.account_id, "debit", move.amount, now, payment_id=payment.id,
                                   memo=f"paid {payment.out_trade_no}", actor=actor)
        if not succeeded:
            return
        for move in (funding or planned).debit:
            self._require(self._account_in(conn, move.account_id), move.amount)
            ledger_store.apply(conn, move.account_id, "debit", move.amount, now, payment_id=payment.id,
                               memo=f"paid {payment.out_trade_no}", actor=actor)

    def _refund_funding(self, conn, payment, amount: int, now: float, actor: str) -> None:
        """Credit refunds back to the accounts the payment was paid from, in proportion: each account gets back its
        debit × (refunds settled so far / the payment's amount), less what it got back already. A balance that paid
        the whole payment gets the refund itself; the shop's points beside a WeChat payment come back in full with a
        full refund (the WeChat money is refunded to the payer, not to the points)."""
        entries = ledger_store.entries_of_payment(conn, payment.id)
        settled = sum(r["amount"] for r in payments_store.refunds_of(conn, payment.id)
                      if r["status"] == "SUCCEEDED")
        paid: dict[str, int] = {}
        back: dict[str, int] = {}
        for entry in entries:
            if entry["kind"] == "debit":
                paid[entry["account_id"]] = paid.get(entry["account_id"], 0) + entry["amount"]
            elif entry["kind"] == "credit":
                back[entry["account_id"]] = back.get(entry["account_id"], 0) + entry["amount"]
        for account, debited in paid.items():
            due = debited * min(settled, payment.amount) // payment.amount - back.get(account, 0)
            if due > 0:
                ledger_store.apply(conn, account, "credit", due, now, payment_id=payment.id,
                                   memo=f"refund of {payment.out_trade_no}", actor=actor)

    @staticmethod
    def _account_in(conn, ident: str) -> Account:
        row = ledger_store.get(conn, ident)
        if row is None:
            raise errors.NotFound(f"no account {ident!r}")
        return Account.model_validate(row)

    @staticmethod
    def _require(account: Account, amount: int) -> None:
        if account.available < amount:
            raise errors.InsufficientFunds(
                f"account {account.id} has {account.available} {account.asset} available, {amount} needed",
                account=account.id, available=account.available, needed=amount)


def _funding(payment) -> Funding:
    raw = payment.extra.get("funding")
    return Funding.model_validate(raw) if raw else Funding()
