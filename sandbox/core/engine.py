"""The engine: the only place where payments, refunds and notifications change.

Each public coroutine is one database transaction that writes the change, its event and its notification rows
together (an outbox), then tells the notifier and the live pages. Adapters, the console and the admin API all call
these same functions, so a button and an API call cannot behave differently.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any, Mapping

from ..store import db as store_db
from ..store import events as events_store
from ..store import merchants as merchants_store
from ..store import notifications as notifications_store
from ..store import payments as payments_store
from ..store import settings as settings_store
from ..store.rows import dumps
from . import errors, status
from .bus import Bus
from .channels import NotifyChannel
from .clock import Clock
from .ids import new_id
from .models import (
    CloseReason, Event, Merchant, NewPayment, Notification, Payment, PaymentStatus, Refund,
)
from .app_data import AppDataOperations
from .backlog import BacklogOperations
from .journal import JournalOperations
from .ledger import Funding, LedgerOperations
from .outbox import NotificationOperations
from .refunds import RefundOperations
from .rules import ApiCall, Rule, RuleAction, fault_rule, matching

CLOCK_OFFSET_KEY = "clock_offset_s"
STATE_VERSION_KEY = "state_version"  # bumped with every change of merchants, rules or the clock (core/workers.py)
DUE_BATCH = 250  # due actions per transaction
DUE_RETRY_S = 5.0  # a refused due action is tried again after this long (sandbox clock)
log = logging.getLogger(__name__)


def _paid(payer: dict | None):
    def change(payment: dict, now: float):
        payment.update(status=PaymentStatus.SUCCEEDED.value, paid_at=now)
        if payer:
            payment["payer"] = {**payment["payer"], **payer}
    return change


def _failed(reason: str | None):
    def change(payment: dict, now: float):
        payment.update(status=PaymentStatus.FAILED.value, fail_reason=reason or "payment failed", closed_at=now)
    return change


def _closed(why: CloseReason):
    def change(payment: dict, now: float):
        payment.update(status=PaymentStatus.CLOSED.value, close_reason=why.value, closed_at=now)
    return change


class Engine(RefundOperations, NotificationOperations, LedgerOperations, AppDataOperations, JournalOperations,
             BacklogOperations):
    def __init__(self, database: store_db.Database, clock: Clock, channels: Mapping[str, NotifyChannel],
                 bus: Bus | None = None):
        self.db = database
        self.clock = clock
        self.channels = dict(channels)
        self.bus = bus or Bus()
        self._merchants: dict[str, Merchant] = {}
        self._merchant_keys: dict[tuple[str, str], str] = {}
        self._rules: list[Rule] = []
        self.notifications_changed = None  # set by the notifier: an asyncio.Event to wake it
        self.on_deadline = None  # set by the scheduler: called with a new expiry / rule time
        self._due_stuck: dict[str, float] = {}  # due actions refused (payment id -> when), retried later
        self._due_lock = asyncio.Lock()  # the scheduler and a waiting clock advance take turns, never the same batch

    async def load(self) -> None:
        """Read what the engine keeps in memory: merchants (looked up on every request), rules, clock offset."""
        def work(conn):
            return (merchants_store.list_all(conn), merchants_store.all_keys(conn), settings_store.rules(conn),
                    settings_store.get(conn, CLOCK_OFFSET_KEY, 0.0))
        merchants, keys, rules, offset = await self.db.read(work)
        self._merchants = {m["id"]: Merchant.model_validate(m) for m in merchants}
        self._merchant_keys = {(provider, key): merchant_id for provider, key, merchant_id in keys}
        self._rules = [Rule.model_validate(r) for r in rules]
        if float(offset) > self.clock.offset_s:  # moved by another process of --workers N: wake the clock's sleepers
            self.clock.offset_s = float(offset)
            self.clock.wake_all()

    # ----- merchants -----------------------------------------------------------------------------------------

    async def create_merchant(self, name: str, credentials: dict[str, dict[str, Any]],
                              keys: list[tuple[str, str]], merchant_id: str | None = None) -> Merchant:
        merchant = Merchant(id=merchant_id or new_id("mch"), name=name, credentials=credentials,
                            created_at=self.clock.now())
        for provider, key in keys:
            if (provider, key) in self._merchant_keys:
                raise errors.InvalidInput(f"{provider} merchant key {key!r} is already used")
        if merchant.id in self._merchants:
            raise errors.InvalidInput(f"merchant {merchant.id!r} exists")
        try:
            await self.db.transaction(lambda conn: (merchants_store.insert(conn, merchant.model_dump(), keys),
                                                    settings_store.bump_state_version(conn)))
        except sqlite3.IntegrityError as exc:
            raise errors.InvalidInput(f"merchant conflicts with an existing one: {exc}") from exc
        self._merchants[merchant.id] = merchant
        self._merchant_keys.update({(provider, key): merchant.id for provider, key in keys})
        self.bus.publish({"type": "merchant", "merchant_id": merchant.id})
        return merchant

    async def update_settings(self, merchant_id: str, provider: str, changes: dict[str, Any]) -> Merchant:
        """Change settings kept in a merchant's credentials for one provider or app (hmall's trade_notify_url …);
        the keys that name the merchant in requests stay as they are."""
        merchant = self.merchant(merchant_id)
        credentials = {**merchant.credentials, provider: {**merchant.for_provider(provider), **changes}}
        await self.db.transaction(lambda conn: (merchants_store.update_credentials(conn, merchant_id, credentials),
                                                settings_store.bump_state_version(conn)))
        merchant = merchant.model_copy(update={"credentials": credentials})
        self._merchants[merchant_id] = merchant
        self.bus.publish({"type": "merchant", "merchant_id": merchant_id})
        return merchant

    def merchant(self, merchant_id: str) -> Merchant:
        try:
            return self._merchants[merchant_id]
        except KeyError:
            raise errors.MerchantNotFound(f"no merchant {merchant_id!r}") from None

    def merchant_by_key(self, provider: str, key: str) -> Merchant | None:
        merchant_id = self._merchant_keys.get((provider, key))
        return self._merchants.get(merchant_id) if merchant_id else None

    def merchants(self) -> list[Merchant]:
        return sorted(self._merchants.values(), key=lambda m: (m.created_at, m.id))

    # ----- payments ------------------------------------------------------------------------------------------

    async def create_payment(self, new: NewPayment) -> tuple[Payment, bool]:
        """Create a payment, or return the one already made by an identical request (created=False).

        Raises DuplicateOrder when the out_trade_no is taken by a payment with another fingerprint."""
        self.merchant(new.merchant_id)
        now = self.clock.now()
        payment, payment_row, event_row = self._new_rows(new, now)
        fingerprint = payment.fingerprint

        def work(conn):
            existing = payments_store.by_out_trade_no(conn, new.merchant_id, new.provider, new.out_trade_no)
            if existing is not None:
                return existing
            payments_store.insert_encoded(conn, payment_row)
            events_store.insert_encoded(conn, event_row)
            if new.records or new.funding or new.app_order:  # an app's payment: its records, holds and order
                self._put_records(conn, new.records)
                self._hold_funding(conn, payment, now)
                self._link_app_order(conn, payment, now)
            return None

        existing = await self.db.transaction(work)
        if existing is not None:
            if existing["fingerprint"] != fingerprint:
                raise errors.DuplicateOrder(f"out_trade_no {new.out_trade_no!r} is used by another order",
                                            Payment.model_validate(existing))
            return Payment.model_validate(existing), False
        self._published(payment)
        for deadline in (payment.expires_at, payment.auto_action_at):
            if deadline is not None and self.on_deadline is not None:
                self.on_deadline(deadline)
        return payment, True

    def _new_rows(self, new: NewPayment, now: float) -> tuple[Payment, tuple, tuple]:
        """A new payment (its rule applied) and its row and first event's row, encoded off the database thread."""
        fingerprint = dumps(new.fingerprint)
        expires_at = new.expires_at or (now + new.expires_in_s if new.expires_in_s else None)
        rule = matching(self._rules, new)
        record = new.model_dump(exclude={"fingerprint", "expires_in_s", "funding", "app_order", "records"})
        if new.funding is not None:
            record["extra"] = {**record["extra"], "funding": new.funding.model_dump()}
        if new.app_order is not None:
            record["extra"] = {**record["extra"], "app_order": new.app_order.model_dump()}
        record.update(id=new_id("pay"), status=PaymentStatus.PENDING.value, refunded_amount=0,
                      fingerprint=fingerprint, created_at=now, updated_at=now, expires_at=expires_at)
        if rule is not None:
            record["extra"] = {**record["extra"], "rule": rule.model_dump()}
            if rule.action.outcome in ("succeed", "fail", "close"):
                record["auto_action"] = rule.action.outcome
                record["auto_action_at"] = now + rule.action.after_s
        payment = Payment.model_validate(record)
        # Rows are encoded here, so the database thread (which shares the GIL) only runs the statements.
        payment_row = payments_store.encode(payment.model_dump(mode="json"))
        event_row = events_store.encode({
            "payment_id": payment.id, "at": now, "kind": "state",
            "summary": f"created ({payment.trade_type}, {payment.amount} fen)",
            # The raw request is kept once, in the payment's row; payment_detail puts it back on this event.
            "data": {"status": payment.status.value, "rule": rule.name or rule.id if rule else None}})
        return payment, payment_row, event_row

    async def get_payment(self, payment_id: str) -> Payment:
        row = await self.db.read(lambda conn: payments_store.get(conn, payment_id))
        if row is None:
            raise errors.PaymentNotFound(f"no payment {payment_id!r}")
        return Payment.model_validate(row)

    async def find_payment(self, merchant_id: str, provider: str, out_trade_no: str) -> Payment | None:
        row = await self.db.read(lambda conn: payments_store.by_out_trade_no(conn, merchant_id, provider, out_trade_no))
        return Payment.model_validate(row) if row else None

    async def find_by_provider_trade_no(self, provider: str, provider_trade_no: str) -> Payment | None:
        row = await self.db.read(lambda conn: payments_store.by_provider_trade_no(conn, provider, provider_trade_no))
        return Payment.model_validate(row) if row else None

    async def list_payments(self, **filters) -> tuple[list[Payment], int]:
        rows, total = await self.db.read(lambda conn: payments_store.search(conn, **filters))
        return [Payment.model_validate(r) for r in rows], total

    async def last_attempts(self, payment_ids: list[str]) -> dict[str, dict]:
        return await self.db.read(lambda conn: notifications_store.last_attempts(conn, payment_ids))

    async def payment_detail(self, payment_id: str) -> dict[str, Any]:
        """A payment with its refunds, notifications (each with its attempts) and timeline."""
        def work(conn):
            payment = payments_store.get(conn, payment_id)
            if payment is None:
                return None
            notes = notifications_store.with_attempts(conn, notifications_store.of_payment(conn, payment_id))
            return payment, payments_store.refunds_of(conn, payment_id), notes, \
                events_store.of_payment(conn, payment_id)
        found = await self.db.read(work)
        if found is None:
            raise errors.PaymentNotFound(f"no payment {payment_id!r}")
        payment, refunds, notes, events = found
        if events and events[0]["kind"] == "state" and "request" not in events[0]["data"]:
            events[0]["data"]["request"] = payment["raw_request"]  # the created event; see _new_rows
        return {
            "payment": Payment.model_validate(payment),
            "refunds": [Refund.model_validate(r) for r in refunds],
            "notifications": [Notification.model_validate(n) for n in notes],
            "events": [Event.model_validate(e) for e in events],
        }

    async def succeed(self, payment_id: str, *, actor: str = "api", payer: dict | None = None,
                      notify_delay_s: float | None = None, reason: str | None = None,
                      funding: Funding | None = None) -> Payment:
        """Mark paid. A payment funded from app accounts takes the money in the same transaction (`funding` names
        the accounts to debit now, instead of those planned at creation); not enough → InsufficientFunds, and the
        payment stays as it was."""
        return await self._transition(payment_id, PaymentStatus.SUCCEEDED, _paid(payer), actor, reason,
                                      notify_delay_s, funding)

    async def fail(self, payment_id: str, *, actor: str = "api", reason: str | None = None,
                   notify_delay_s: float | None = None) -> Payment:
        return await self._transition(payment_id, PaymentStatus.FAILED, _failed(reason), actor, reason,
                                      notify_delay_s)

    async def close(self, payment_id: str, *, actor: str = "api", why: CloseReason = CloseReason.CLOSED,
                    reason: str | None = None, notify_delay_s: float | None = None) -> Payment:
        return await self._transition(payment_id, PaymentStatus.CLOSED, _closed(why), actor, reason or why.value,
                                      notify_delay_s)

    async def _transition(self, payment_id, target: PaymentStatus, change, actor, reason, notify_delay_s,
                          funding: Funding | None = None) -> Payment:
        payment, queued = await self.db.transaction(lambda conn: self._transition_in(
            conn, payment_id, target, change, actor, reason, notify_delay_s, funding))
        self._published(payment, bool(queued))
        return payment

    def _transition_in(self, conn, payment_id, target: PaymentStatus, change, actor, reason, notify_delay_s,
                       funding: Funding | None = None, loaded: Payment | None = None):
        """One payment's move to `target`, inside the caller's transaction: the row, an app payment's money and
        order (_settle_funding, _settle_app_order), the event and the notifications. The unit that a batch of due
        actions repeats for many payments in one transaction. Returns (payment, notifications queued)."""
        now = self.clock.now()
        payment = loaded or self._load(conn, payment_id)
        if not status.can_move(payment.status, target):
            raise errors.InvalidState(f"payment is {payment.status.value}; cannot become {target.value}", payment)
        record = payment.model_dump(mode="json")
        change(record, now)
        record.update(updated_at=now, auto_action=None, auto_action_at=None)
        payments_store.update(conn, record)
        payment = Payment.model_validate(record)
        if funding is not None or "funding" in payment.extra or "app_order" in payment.extra:  # an app's payment
            succeeded = target is PaymentStatus.SUCCEEDED
            self._settle_funding(conn, payment, succeeded, now, actor, funding)
            self._settle_app_order(conn, payment, succeeded, now)
        summary = f"{target.value.lower()} by {actor}" + (f": {reason}" if reason else "")
        self._event(conn, payment_id, now, "state", summary, {"status": target.value, "actor": actor})
        queued = self._queue_notifications(conn, payment, None, now, notify_delay_s)
        return payment, queued

    async def amend_pending(self, payment_id: str, *, amount: int, trade_type: str, fingerprint: dict[str, Any],
                            extra: dict[str, Any] | None = None, expires_at: float | None = None,
                            actor: str = "api") -> Payment:
        """Re-apply for an unpaid payment with new terms (hmall: the same biz order asked again on another pay
        channel resets its pay order). Only a PENDING payment without holds changes."""
        if amount <= 0:
            raise errors.InvalidInput("amount must be positive")

        def work(conn):
            now = self.clock.now()
            payment = self._load(conn, payment_id)
            if payment.status is not PaymentStatus.PENDING:
                raise errors.InvalidState(f"payment is {payment.status.value}; only a pending one is amended", payment)
            if (payment.extra.get("funding") or {}).get("hold"):
                raise errors.InvalidState("a payment holding money cannot be amended", payment)
            record = payment.model_dump(mode="json")
            record.update(amount=amount, trade_type=trade_type, fingerprint=dumps(fingerprint), updated_at=now,
                          extra={**payment.extra, **(extra or {})})
            if expires_at is not None:
                record["expires_at"] = expires_at
            payments_store.update(conn, record)
            self._event(conn, payment_id, now, "state", f"amended by {actor}: {trade_type}, {amount} fen",
                        {"amount": amount, "trade_type": trade_type, "actor": actor})
            return Payment.model_validate(record)
        payment = await self.db.transaction(work)
        if payment.expires_at is not None and self.on_deadline is not None:
            self.on_deadline(payment.expires_at)
        self._published(payment)
        return payment

    async def cancel(self, payment_id: str, *, actor: str = "api", out_refund_no: str | None = None,
                     provider_refund_no: str | None = None) -> Payment:
        """Cancel (reverse) an order: an unpaid one is closed as canceled, a paid one is refunded in full."""
        payment = await self.get_payment(payment_id)
        if payment.status is PaymentStatus.PENDING:
            return await self.close(payment_id, actor=actor, why=CloseReason.CANCELED)
        if status.is_paid(payment.status) and payment.refundable > 0:
            # One transaction: refunded in full and marked canceled together. Never held, whatever the rule says:
            # a cancel / reverse is a synchronous call.
            payment, _, created, queued = await self.db.transaction(lambda conn: self._refund_in(
                conn, payment_id, amount=payment.refundable, out_refund_no=out_refund_no or f"cancel-{payment.id}",
                provider_refund_no=provider_refund_no or new_id("rfd"), reason="canceled", notify_url=None,
                actor=actor, extra=None, hold=False, canceling=True))
            if created:
                self._published(payment, queued)
            return payment
        raise errors.InvalidState(f"payment is {payment.status.value}; cannot be canceled", payment)

    async def run_due_actions(self, limit: int = DUE_BATCH) -> int:
        """Close expired payments and carry out rule outcomes whose time has come, up to `limit` of them in one
        transaction (each payment in a savepoint of its own). Returns how many changed.

        A payment whose action is refused (a debit short of money) stays pending and is left out for a while
        (DUE_RETRY_S on the sandbox clock), so it does not hold up the others."""
        async with self._due_lock:
            return await self._run_due_batch(limit)

    async def _run_due_batch(self, limit: int) -> int:
        now = self.clock.now()
        stuck = self._due_stuck
        for payment_id in [p for p, at in stuck.items() if at + DUE_RETRY_S <= now]:
            del stuck[payment_id]
        due = await self.db.read(lambda conn: payments_store.due_for_action(conn, now, limit + len(stuck)))
        due = [payment_id for payment_id in due if payment_id not in stuck][:limit]
        if not due:
            return 0
        outcomes = await self.db.transaction(lambda conn: store_db.each_in_savepoint(
            conn, due, lambda c, payment_id: self._due_unit(c, payment_id, now),
            (errors.SandboxError, sqlite3.IntegrityError)))
        changed, woken = 0, False
        for payment_id, ok, result in outcomes:
            if not ok:
                stuck[payment_id] = now
                log.warning("due action on %s refused: %s", payment_id, result)
            elif result is not None:
                payment, queued = result
                changed += 1
                woken = woken or bool(queued)
                self.bus.publish({"type": "payment", "payment_id": payment.id, "status": payment.status.value})
        if woken:
            self._wake_notifier()
        return changed

    def _due_unit(self, conn, payment_id: str, now: float):
        """The due action of one payment, inside the batch's transaction; None when it is no longer pending."""
        payment = self._load(conn, payment_id)
        if payment.status is not PaymentStatus.PENDING:
            return None  # changed by someone else in between: nothing to do
        if payment.auto_action_at is not None and payment.auto_action_at <= now:
            if payment.auto_action == "succeed":
                return self._transition_in(conn, payment_id, PaymentStatus.SUCCEEDED, _paid(None), "rule", None,
                                           None, loaded=payment)
            if payment.auto_action == "fail":
                reason = payment.rule_action.get("reason") or "failed by rule"
                return self._transition_in(conn, payment_id, PaymentStatus.FAILED, _failed(reason), "rule", reason,
                                           None, loaded=payment)
            return self._transition_in(conn, payment_id, PaymentStatus.CLOSED, _closed(CloseReason.CLOSED), "rule",
                                       CloseReason.CLOSED.value, None, loaded=payment)
        if payment.expires_at is not None and payment.expires_at <= now:
            return self._transition_in(conn, payment_id, PaymentStatus.CLOSED, _closed(CloseReason.EXPIRED),
                                       "clock", CloseReason.EXPIRED.value, None, loaded=payment)
        return None

    async def next_action_time(self) -> float | None:
        return await self.db.read(payments_store.next_action_time)

    async def log_api_call(self, payment_id: str, summary: str, request: Any = None, response: Any = None) -> None:
        now = self.clock.now()
        await self.db.transaction(lambda conn: self._event(
            conn, payment_id, now, "api", summary, {"request": request, "response": response}))
        self.bus.publish({"type": "event", "payment_id": payment_id})

    # ----- rules, clock, reset -------------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        return list(self._rules)

    def rule(self, rule_id: str) -> Rule:
        found = next((r for r in self._rules if r.id == rule_id), None)
        if found is None:
            raise errors.RuleNotFound(f"no rule {rule_id!r}")
        return found

    async def add_rule(self, rule: Rule) -> Rule:
        """A rule a user adds goes after the other rules users added and before the shipped defaults (the magic
        amounts), so it takes precedence over them; a shipped rule goes last."""
        rule = rule.model_copy(update={"id": rule.id or new_id("rule")})
        if any(r.id == rule.id for r in self._rules):
            raise errors.InvalidInput(f"rule {rule.id!r} exists")
        at = len(self._rules) if rule.shipped else \
            next((i for i, r in enumerate(self._rules) if r.shipped), len(self._rules))
        order = self._rules[:at] + [rule] + self._rules[at:]
        dumped, now, ids = rule.model_dump(), self.clock.now(), [r.id for r in order]

        def work(conn):
            settings_store.insert_rule(conn, dumped, now)
            settings_store.set_rule_order(conn, ids)
        await self._change_rules(order, work)
        return rule

    async def update_rule(self, rule_id: str, rule: Rule) -> Rule:
        """Replace what a rule matches and does (and its name); it keeps its id, place, hits and shipped flag."""
        current = self.rule(rule_id)
        if rule.id not in (None, rule_id):
            raise errors.InvalidInput(f"a rule's id cannot change ({rule_id!r}, not {rule.id!r})")
        updated = rule.model_copy(update={"id": rule_id, "hits": current.hits, "shipped": current.shipped})
        order = [updated if r.id == rule_id else r for r in self._rules]
        dumped = updated.model_dump()
        await self._change_rules(order, lambda conn: settings_store.update_rule(conn, dumped))
        return updated

    async def move_rule(self, rule_id: str, position: int) -> list[Rule]:
        """Put a rule at `position` (1: tried first) in the order rules are tried; returns the new order."""
        rule = self.rule(rule_id)
        if not 1 <= position <= len(self._rules):
            raise errors.InvalidInput(f"position must be between 1 and {len(self._rules)}, not {position}")
        order = [r for r in self._rules if r.id != rule_id]
        order.insert(position - 1, rule)
        ids = [r.id for r in order]
        await self._change_rules(order, lambda conn: settings_store.set_rule_order(conn, ids))
        return list(order)

    async def _change_rules(self, order: list[Rule], work) -> None:
        """The new order is in memory before the write is queued, so a change made meanwhile (another edit, a
        fault rule's hit) starts from it; should the write fail, the stored rules are read back."""
        self._rules = order
        try:
            await self.db.transaction(lambda conn: (work(conn), settings_store.bump_state_version(conn)))
        except Exception:
            self._rules = [Rule.model_validate(r) for r in await self.db.read(settings_store.rules)]
            raise

    @property
    def has_fault_rules(self) -> bool:
        return any(rule.action.injects_fault for rule in self._rules)

    async def api_fault(self, call: ApiCall) -> RuleAction | None:
        """The fault to inject into this API call, if a rule says so; counted (and kept) as the rule's hits."""
        rule = fault_rule(self._rules, call)
        if rule is None:
            return None
        rule.hits += 1  # before any await: concurrent calls in this process leave a rule's last hit to one of them
        now = self.clock.now()
        what = "dropped" if rule.action.api_drop else "system error" if rule.action.api_error else "answered late"
        if rule.action.api_delay_s and what != "answered late":
            what += f" after {rule.action.api_delay_s:g} s"
        summary = f"{call.operation} call faulted by rule {rule.name or rule.id}: {what}"

        def work(conn):
            # Counted in SQL: processes sharing the database (--workers N) never take more than api_times between
            # them, and concurrent calls in one process cannot both take a rule's last hit (transactions queue).
            hits = settings_store.count_rule_hit(conn, rule.id, rule.action.api_times)
            if hits is None:
                return None, None
            if rule.action.api_times is not None:  # the other processes learn when the rule is used up
                settings_store.bump_state_version(conn)
            # The faulted call shows on the timeline of the payment it names, when there is one.
            row = payments_store.by_out_trade_no(conn, call.merchant_id, call.provider, call.out_trade_no) \
                if call.out_trade_no else None
            if row is not None:
                self._event(conn, row["id"], now, "api", summary, {"rule": rule.id, "hit": hits})
            return hits, row["id"] if row else None

        hits, payment_id = await self.db.transaction(work)
        if hits is None:  # used up (or deleted) by another process (--workers N): the next rule that matches, if any
            if rule.action.api_times is None:
                self._rules = [r for r in self._rules if r.id != rule.id]
            rule.hits = max(rule.hits, rule.action.api_times or 0)
            return await self.api_fault(call)
        rule.hits = max(rule.hits, hits)
        if payment_id is not None:
            self.bus.publish({"type": "event", "payment_id": payment_id})
        return rule.action

    async def delete_rule(self, rule_id: str) -> None:
        if not await self.db.transaction(lambda conn: settings_store.delete_rule(conn, rule_id)
                                         and (settings_store.bump_state_version(conn) or True)):
            raise errors.RuleNotFound(f"no rule {rule_id!r}")
        self._rules = [r for r in self._rules if r.id != rule_id]

    async def delete_rules(self) -> int:
        count = await self.db.transaction(lambda conn: (settings_store.delete_all_rules(conn),
                                                        settings_store.bump_state_version(conn))[0])
        self._rules = []
        return count

    async def advance_clock(self, seconds: float) -> float:
        if not 0 <= seconds <= 10 * 365 * 86400:
            raise errors.InvalidInput("seconds must be between 0 and ten years")
        offset = self.clock.offset_s + seconds
        await self.db.transaction(lambda conn: (settings_store.put(conn, CLOCK_OFFSET_KEY, offset),
                                                settings_store.bump_state_version(conn)))
        now = self.clock.advance(seconds)
        self.bus.publish({"type": "clock", "now": now})
        return now

    async def reset(self) -> int:
        """Drop every payment (with refunds, notifications, attempts, events); keep merchants, rules and clock."""
        count = await self.db.transaction(payments_store.delete_all)
        self.bus.publish({"type": "reset"})
        return count

    # ----- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _load(conn, payment_id: str) -> Payment:
        row = payments_store.get(conn, payment_id)
        if row is None:
            raise errors.PaymentNotFound(f"no payment {payment_id!r}")
        return Payment.model_validate(row)

    @staticmethod
    def _event(conn, payment_id: str, at: float, kind: str, summary: str, data: dict | None = None) -> None:
        events_store.insert(conn, {"payment_id": payment_id, "at": at, "kind": kind, "summary": summary,
                                   "data": data or {}})

    def _published(self, payment: Payment, notifications_queued: bool = False) -> None:
        if notifications_queued:
            self._wake_notifier()
        self.bus.publish({"type": "payment", "payment_id": payment.id, "status": payment.status.value})
