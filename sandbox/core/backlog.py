"""Work over many payments at once: part of the engine (a mixin of Engine).

- `create_payments_bulk`: many new payments in one transaction (the benchmark's fill; rules apply as on a create);
- `settle_due`: carry out everything due now (expiries, rule outcomes, notifications) and return once it is done,
  for `POST /_sandbox/api/clock/advance {"wait": true}`;
- `trim_older_than`: retention, deleting whole payments created more than N days ago on the sandbox clock.
"""
from __future__ import annotations

import asyncio
import time

from ..store import db as store_db
from ..store import events as events_store
from ..store import notifications as notifications_store
from ..store import payments as payments_store
from . import errors
from .models import NewPayment

TRIM_BATCH = 500  # payments deleted per transaction, so requests get the database in between


class BacklogOperations:
    async def create_payments_bulk(self, news: list[NewPayment]) -> int:
        """Create every payment in one transaction, as create_payment would (rules, expiry, the created event),
        without the idempotency look-up: an out_trade_no already used fails the whole call. Not for app payments
        (records, holds, orders). Returns how many were created."""
        now = self.clock.now()
        payment_rows, event_rows = [], []
        for new in news:
            self.merchant(new.merchant_id)
            if new.records or new.funding or new.app_order:
                raise errors.InvalidInput("the bulk path makes plain payments only (no records, funding or order)")
            _, payment_row, event_row = self._new_rows(new, now)
            payment_rows.append(payment_row)
            event_rows.append(event_row)

        def work(conn):
            payments_store.insert_many(conn, payment_rows)
            events_store.insert_many(conn, event_rows)
        await self.db.transaction(work)
        if self.on_deadline is not None:
            self.on_deadline(now)  # the scheduler looks again at what is due next
        self.bus.publish({"type": "payment", "payment_id": None, "count": len(payment_rows)})
        return len(payment_rows)

    async def settle_due(self, timeout_s: float = 300.0) -> bool:
        """Carry out every due action (in batches) and wait until no notification is due any more (each attempted,
        then delivered or rescheduled for later on the sandbox clock). False if that took longer than timeout_s."""
        deadline = time.monotonic() + timeout_s
        self._wake_notifier()
        while True:
            while await self.run_due_actions():
                if time.monotonic() > deadline:
                    return False
            now = self.clock.now()

            def pending(conn):
                actions = [p for p in payments_store.due_for_action(conn, now, len(self._due_stuck) + 1)
                           if p not in self._due_stuck]
                return bool(actions) or notifications_store.any_due(conn, now)
            if not await self.db.read(pending):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def trim_older_than(self, days: float, batch: int = TRIM_BATCH) -> int:
        """Delete every payment created more than `days` ago on the sandbox clock, with its refunds, notifications,
        attempts and events (ledger entries stay, with no payment), a batch per transaction; then hand the freed
        pages back to the file system. Returns how many payments went."""
        before = self.clock.now() - days * 86400
        deleted = 0
        while True:
            count = await self.db.transaction(lambda conn: payments_store.delete_many(
                conn, payments_store.created_before(conn, before, batch)))
            deleted += count
            if count < batch:
                break
            await asyncio.sleep(0)  # let queued requests in
        if deleted:
            await self.db.transaction(store_db.incremental_vacuum)
            self.bus.publish({"type": "reset"})
        return deleted
