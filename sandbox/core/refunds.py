"""Refunds: part of the engine (a mixin of Engine), kept apart because they are a lifecycle of their own.

A refund succeeds at once unless the payment's rule says `refund: "processing"`: then it waits in PROCESSING, its
amount reserved, until `settle_refund` makes it succeed, fail (ABNORMAL) or close, and only then is it notified.
"""
from __future__ import annotations


from ..store import payments as payments_store
from . import errors, status
from .ids import new_id
from .models import CloseReason, Payment, PaymentStatus, Refund, RefundStatus

# The action word of a console button or an admin API path → the status settle_refund gives the refund.
SETTLE_OUTCOMES = {"succeed": RefundStatus.SUCCEEDED, "fail": RefundStatus.FAILED, "close": RefundStatus.CLOSED}


class RefundOperations:
    async def refund(self, payment_id: str, *, amount: int, out_refund_no: str, provider_refund_no: str,
                     reason: str | None = None, notify_url: str | None = None, actor: str = "api",
                     extra: dict | None = None, hold: bool | None = None) -> tuple[Refund, bool]:
        """Refund part or all of a paid payment. The same out_refund_no and amount again returns the first refund.

        hold: leave it PROCESSING for settle_refund (default: what the payment's rule says; otherwise no)."""
        if amount <= 0:
            raise errors.InvalidInput("refund amount must be positive")
        payment, refund, created, queued = await self.db.transaction(lambda conn: self._refund_in(
            conn, payment_id, amount=amount, out_refund_no=out_refund_no, provider_refund_no=provider_refund_no,
            reason=reason, notify_url=notify_url, actor=actor, extra=extra, hold=hold))
        if created:
            self._published(payment, queued)
        return refund, created

    def _refund_in(self, conn, payment_id: str, *, amount: int, out_refund_no: str, provider_refund_no: str,
                   reason: str | None, notify_url: str | None, actor: str, extra: dict | None, hold: bool | None,
                   canceling: bool = False):
        """The unit of work of a refund, inside the caller's transaction. canceling: the refund of a cancel (reverse):
        the payment is marked canceled before its notifications are decided, in the same transaction."""
        now = self.clock.now()
        payment = self._load(conn, payment_id)
        existing = payments_store.refund_by_out_refund_no(conn, payment_id, out_refund_no)
        if existing is not None:
            if existing["amount"] != amount:
                raise errors.DuplicateRefund(f"out_refund_no {out_refund_no!r} was used for another amount",
                                             Refund.model_validate(existing))
            return payment, Refund.model_validate(existing), False, False
        if not status.is_paid(payment.status):
            raise errors.InvalidState(f"payment is {payment.status.value}; only a paid payment is refunded", payment)
        if amount > payment.refundable:
            raise errors.RefundExceedsPayment(
                f"refund of {amount} fen exceeds the {payment.refundable} fen left to refund", payment)
        held = hold if hold is not None else payment.rule_action.get("refund") == "processing"
        refund = Refund(id=new_id("rfd"), payment_id=payment_id, out_refund_no=out_refund_no,
                        provider_refund_no=provider_refund_no, amount=amount,
                        status=RefundStatus.PROCESSING if held else RefundStatus.SUCCEEDED, reason=reason,
                        notify_url=notify_url, extra=extra or {}, created_at=now, succeeded_at=None if held else now)
        payments_store.insert_refund(conn, refund.model_dump(mode="json"))
        record = payment.model_dump(mode="json")
        record.update(refunded_amount=payment.refunded_amount + amount, status=PaymentStatus.REFUNDED.value,
                      updated_at=now)
        if canceling:
            record["close_reason"] = CloseReason.CANCELED.value
        payments_store.update(conn, record)
        payment = Payment.model_validate(record)
        self._event(conn, payment_id, now, "state",
                    f"{'refund of' if held else 'refunded'} {amount} fen by {actor} ({out_refund_no})"
                    + (" processing" if held else "") + (", order canceled" if canceling else ""),
                    {"refund_id": refund.id, "amount": amount, "actor": actor, "status": refund.status.value})
        if not held:
            self._refund_funding(conn, payment, amount, now, actor)
        queued = [] if held else self._queue_notifications(conn, payment, refund, now, None)
        return payment, refund, True, bool(queued)

    async def settle_refund(self, refund_id: str, outcome: RefundStatus, *, actor: str = "api",
                            reason: str | None = None) -> Refund:
        """Finish a PROCESSING refund: SUCCEEDED, or FAILED / CLOSED (its amount is refundable again)."""
        if outcome is RefundStatus.PROCESSING:
            raise errors.InvalidInput("a refund settles as SUCCEEDED, FAILED or CLOSED")

        def work(conn):
            now = self.clock.now()
            row = payments_store.refund_get(conn, refund_id)
            if row is None:
                raise errors.RefundNotFound(f"no refund {refund_id!r}")
            refund = Refund.model_validate(row)
            payment = self._load(conn, refund.payment_id)
            if refund.status is not RefundStatus.PROCESSING:
                raise errors.InvalidState(f"refund is {refund.status.value}; only a PROCESSING refund settles", payment)
            refund = refund.model_copy(update={
                "status": outcome, "succeeded_at": now if outcome is RefundStatus.SUCCEEDED else None,
                "extra": {**refund.extra, **({"reason": reason} if reason else {})}})
            payments_store.update_refund(conn, refund.model_dump(mode="json"))
            if outcome is RefundStatus.SUCCEEDED:
                self._refund_funding(conn, payment, refund.amount, now, actor)
            else:  # the reserved amount goes back
                record = payment.model_dump(mode="json")
                left = payment.refunded_amount - refund.amount
                record.update(refunded_amount=left, updated_at=now,
                              status=(PaymentStatus.REFUNDED if left else PaymentStatus.SUCCEEDED).value)
                payments_store.update(conn, record)
                payment = Payment.model_validate(record)
            self._event(conn, payment.id, now, "state",
                        f"refund {refund.out_refund_no} {outcome.value.lower()} by {actor}"
                        + (f": {reason}" if reason else ""),
                        {"refund_id": refund.id, "status": outcome.value, "actor": actor})
            queued = self._queue_notifications(conn, payment, refund, now, None)
            return payment, refund, bool(queued)

        payment, refund, queued = await self.db.transaction(work)
        self._published(payment, queued)
        return refund

    async def get_refund(self, refund_id: str) -> Refund:
        row = await self.db.read(lambda conn: payments_store.refund_get(conn, refund_id))
        if row is None:
            raise errors.RefundNotFound(f"no refund {refund_id!r}")
        return Refund.model_validate(row)

    async def find_refund(self, payment_id: str, out_refund_no: str) -> Refund | None:
        row = await self.db.read(lambda conn: payments_store.refund_by_out_refund_no(conn, payment_id, out_refund_no))
        return Refund.model_validate(row) if row else None

    async def find_merchant_refund(self, merchant_id: str, provider: str, *, out_refund_no: str | None = None,
                                   provider_refund_no: str | None = None) -> Refund | None:
        """A merchant's refund by its out_refund_no or, when that is not given, by the provider's refund number."""
        id_column, value = (("out_refund_no", out_refund_no) if out_refund_no is not None
                            else ("provider_refund_no", provider_refund_no))
        row = await self.db.read(
            lambda conn: payments_store.merchant_refund(conn, merchant_id, provider, id_column, value))
        return Refund.model_validate(row) if row else None

    async def refunds(self, payment_id: str) -> list[Refund]:
        rows = await self.db.read(lambda conn: payments_store.refunds_of(conn, payment_id))
        return [Refund.model_validate(r) for r in rows]
