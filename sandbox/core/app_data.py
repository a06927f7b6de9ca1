"""App data that is not money (users, orders, gift packs, coupons, addresses, tokens) and how an app's order follows
its payment. Part of the engine (a mixin of Engine).

A payment made for an app order carries an `AppOrderLink` (payment.extra["app_order"]): in the transaction of each of
the payment's changes the order record follows it: `pay_state` paying → paid (with paid_at and the payment's id),
or back to unpaid when the payment fails, closes or expires; records the order consumes (a coupon) are held by it
while it is being paid (`held_by`: refused to another order, or once `used`), marked used when it is paid and
released when the payment fails, closes or expires. An order has one open payment at a time: another is refused
while the one it follows is still pending (the app closes that one first). Each app maps pay_state to its own status
codes.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..store import app_records as records_store
from ..store import payments as payments_store
from . import errors


class RecordRef(BaseModel):
    kind: str
    id: str


class AppOrderLink(BaseModel):
    app: str
    order_id: str
    consumes: list[RecordRef] = Field(default_factory=list)
    on_paid: dict[str, Any] = Field(default_factory=dict)  # fields the order takes when paid (hmall: status 2)


class AppRecord(BaseModel):
    merchant_id: str
    app: str
    kind: str
    id: str
    lookup: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    updated_at: float


class AppDataOperations:
    async def app_record(self, merchant_id: str, kind: str, record_id: str) -> AppRecord | None:
        row = await self.db.read(lambda conn: records_store.get(conn, merchant_id, kind, record_id))
        return AppRecord.model_validate(row) if row else None

    async def app_record_by_lookup(self, app: str, kind: str, lookup: str) -> AppRecord | None:
        row = await self.db.read(lambda conn: records_store.by_lookup(conn, app, kind, lookup))
        return AppRecord.model_validate(row) if row else None

    async def app_records(self, app: str, kind: str, merchant_id: str | None = None,
                          limit: int = 500) -> list[AppRecord]:
        rows = await self.db.read(lambda conn: records_store.search(conn, app, kind, merchant_id, limit))
        return [AppRecord.model_validate(r) for r in rows]

    async def put_app_record(self, merchant_id: str, app: str, kind: str, record_id: str, data: dict[str, Any],
                             *, lookup: str | None = None, actor: str = "api") -> AppRecord:
        """Create or replace one record (a user, a gift pack, a coupon, an order …)."""
        self.merchant(merchant_id)
        now = self.clock.now()
        record = AppRecord(merchant_id=merchant_id, app=app, kind=kind, id=record_id, lookup=lookup, data=data,
                           created_at=now, updated_at=now)

        def work(conn):
            records_store.put(conn, record.model_dump())
            return records_store.get(conn, merchant_id, kind, record_id)
        saved = AppRecord.model_validate(await self.db.transaction(work))
        self.bus.publish({"type": "app", "app": app, "kind": kind, "id": record_id, "actor": actor})
        return saved

    async def update_app_record(self, merchant_id: str, kind: str, record_id: str, changes: dict[str, Any],
                                *, lookup: str | None = None, actor: str = "api") -> AppRecord:
        """Change some fields of an existing record (a user's status or password, a coupon's state)."""
        def work(conn):
            row = records_store.get(conn, merchant_id, kind, record_id)
            if row is None:
                raise errors.NotFound(f"no {kind} {record_id!r}")
            row["data"] = {**row["data"], **changes}
            row["updated_at"] = self.clock.now()
            if lookup is not None:
                row["lookup"] = lookup
            records_store.put(conn, row)
            return row
        saved = AppRecord.model_validate(await self.db.transaction(work))
        self.bus.publish({"type": "app", "app": saved.app, "kind": kind, "id": record_id, "actor": actor})
        return saved

    # ----- an app order follows its payment (inside the payment's transaction) ------------------------------

    def _link_app_order(self, conn, payment, now: float) -> None:
        link = _link(payment)
        if link is None:
            return
        row = records_store.get(conn, payment.merchant_id, "order", link.order_id)
        if row is None:
            return
        if row["data"].get("pay_state") == "paid":
            raise errors.InvalidState(f"{link.app} order {link.order_id} is paid already", payment)
        current = row["data"].get("payment_id")
        if row["data"].get("pay_state") == "paying" and current not in (None, payment.id):
            other = payments_store.get(conn, current)
            if other is not None and other["status"] == "PENDING":
                # one open payment per order: two concurrent pay calls could otherwise both be paid
                raise errors.InvalidState(f"{link.app} order {link.order_id} is being paid by {current}", payment)
        for ref in link.consumes:  # a coupon: held by this order while it is being paid, so no other order takes it
            consumed = records_store.get(conn, payment.merchant_id, ref.kind, ref.id)
            if consumed is None:
                continue
            held_by = consumed["data"].get("held_by")
            if consumed["data"].get("used") or held_by not in (None, link.order_id):
                raise errors.InvalidState(f"{ref.kind} {ref.id} is used or held by another order", payment)
            consumed["data"]["held_by"] = link.order_id
            consumed["updated_at"] = now
            records_store.put(conn, consumed)
        row["data"].update(pay_state="paying", payment_id=payment.id)
        row["updated_at"] = now
        records_store.put(conn, row)

    def _settle_app_order(self, conn, payment, succeeded: bool, now: float) -> None:
        link = _link(payment)
        if link is None:
            return
        row = records_store.get(conn, payment.merchant_id, "order", link.order_id)
        if row is None:
            return
        data = row["data"]
        if succeeded:
            data.update(pay_state="paid", paid_at=now, payment_id=payment.id, **link.on_paid)
            for ref in link.consumes:
                consumed = records_store.get(conn, payment.merchant_id, ref.kind, ref.id)
                if consumed is not None:
                    consumed["data"].update(used=True, used_at=now, used_by=link.order_id, held_by=None)
                    consumed["updated_at"] = now
                    records_store.put(conn, consumed)
        elif data.get("payment_id") == payment.id and data.get("pay_state") != "paid":
            data.update(pay_state="unpaid", last_payment_status=payment.status.value)
            for ref in link.consumes:  # released for another order
                consumed = records_store.get(conn, payment.merchant_id, ref.kind, ref.id)
                if consumed is not None and consumed["data"].get("held_by") == link.order_id:
                    consumed["data"]["held_by"] = None
                    consumed["updated_at"] = now
                    records_store.put(conn, consumed)
        else:
            return
        row["updated_at"] = now
        records_store.put(conn, row)

    def _put_records(self, conn, records: list[AppRecord]) -> None:
        for record in records:
            records_store.put(conn, record.model_dump())


def _link(payment) -> AppOrderLink | None:
    raw = payment.extra.get("app_order")
    return AppOrderLink.model_validate(raw) if raw else None
