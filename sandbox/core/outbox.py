"""Notifications, the outbox: part of the engine (a mixin of Engine). Rows are written inside the transaction of
the change that causes them; the notifier delivers them and journals each attempt here."""
from __future__ import annotations

from typing import Any

from ..store import notifications as notifications_store
from . import errors
from .ids import new_id
from .models import Notification, NotificationStatus, Payment, Refund


class NotificationOperations:
    def _queue_notifications(self, conn, payment: Payment, refund: Refund | None, now: float,
                             delay_s: float | None) -> list[Notification]:
        """Write the notification rows a change produces (inside the change's own transaction)."""
        channel = self.channels.get(payment.provider)
        if channel is None:
            return []
        event = channel.refund_event(payment, refund) if refund else channel.payment_event(payment)
        url = (refund.notify_url if refund and refund.notify_url else None) or payment.notify_url
        if not event or not url:
            return []
        behaviour = payment.rule_action
        notify_mode = behaviour.get("notify", "normal")
        if delay_s is None and notify_mode == "delay":
            delay_s = behaviour.get("notify_delay_s", 0)
        copies = 2 if notify_mode == "duplicate" else 1
        created = []
        for _ in range(copies):
            created.append(self._insert_notification(
                conn, payment, refund, event, url, now, now + (delay_s or 0),
                suppressed=notify_mode == "drop"))
        return created

    def _insert_notification(self, conn, payment: Payment, refund: Refund | None, event: str, url: str,
                             now: float, due_at: float, suppressed: bool = False) -> Notification:
        snapshot = {"payment": payment.model_dump(mode="json", exclude={"raw_request"}),
                    "refund": refund.model_dump(mode="json") if refund else None}
        notification = Notification(
            id=new_id("ntf"), payment_id=payment.id, refund_id=refund.id if refund else None,
            provider=payment.provider, event=event, url=url, snapshot=snapshot,
            status=NotificationStatus.SUPPRESSED if suppressed else NotificationStatus.PENDING,
            next_attempt_at=None if suppressed else due_at, created_at=now, updated_at=now)
        notifications_store.insert(conn, notification.model_dump(mode="json", exclude={"attempt_log"}))
        when = "suppressed by rule" if suppressed else (
            "due now" if due_at <= now else f"due in {due_at - now:g} s")
        self._event(conn, payment.id, now, "notify", f"{event} notification queued ({when})",
                    {"notification_id": notification.id})
        return notification

    async def get_notification(self, notification_id: str) -> Notification:
        def work(conn):
            row = notifications_store.get(conn, notification_id)
            if row is None:
                return None
            return notifications_store.with_attempts(conn, [row])[0]
        row = await self.db.read(work)
        if row is None:
            raise errors.NotificationNotFound(f"no notification {notification_id!r}")
        return Notification.model_validate(row)

    async def list_notifications(self, payment_id: str | None = None, status_: str | None = None,
                                 limit: int = 100) -> list[Notification]:
        rows = await self.db.read(lambda conn: notifications_store.with_attempts(
            conn, notifications_store.search(conn, payment_id, status_, limit)))
        return [Notification.model_validate(r) for r in rows]

    async def deliver(self, notification_id: str, *, delay_s: float = 0, actor: str = "api") -> Notification:
        """Deliver a notification now (or after delay_s), whatever its status: pending, failed, suppressed or
        delivered (then it is delivered again)."""
        return await self._change_notification(
            notification_id, lambda n, now: n.update(status=NotificationStatus.PENDING.value,
                                                     next_attempt_at=now + max(delay_s, 0)),
            f"delivery {'now' if delay_s <= 0 else f'in {delay_s:g} s'} requested by {actor}")

    async def suppress(self, notification_id: str, *, actor: str = "api") -> Notification:
        return await self._change_notification(
            notification_id, lambda n, now: n.update(status=NotificationStatus.SUPPRESSED.value,
                                                     next_attempt_at=None),
            f"suppressed by {actor}")

    async def _change_notification(self, notification_id: str, change, summary: str) -> Notification:
        def work(conn):
            now = self.clock.now()
            row = notifications_store.get(conn, notification_id)
            if row is None:
                raise errors.NotificationNotFound(f"no notification {notification_id!r}")
            change(row, now)
            row["updated_at"] = now
            notifications_store.update(conn, row)
            self._event(conn, row["payment_id"], now, "action", f"{row['event']} notification {summary}",
                        {"notification_id": notification_id})
            return Notification.model_validate(row)
        notification = await self.db.transaction(work)
        self._wake_notifier()
        self.bus.publish({"type": "notification", "payment_id": notification.payment_id,
                          "notification_id": notification.id})
        return notification

    async def resend(self, payment_id: str, *, delay_s: float = 0, actor: str = "api") -> Notification:
        """Send a new copy of the payment's latest notification (a replay, or a duplicate while one is pending);
        with none yet, the notification of the payment's current status."""
        def work(conn):
            now = self.clock.now()
            payment = self._load(conn, payment_id)
            previous = notifications_store.of_payment(conn, payment_id)
            if previous:
                last = previous[-1]
                refund = Refund.model_validate(last["snapshot"]["refund"]) if last["snapshot"].get("refund") else None
                snapshot_payment = Payment.model_validate({**last["snapshot"]["payment"], "raw_request": None})
                notification = self._insert_notification(conn, snapshot_payment, refund, last["event"], last["url"],
                                                          now, now + max(delay_s, 0))
            else:
                queued = self._queue_notifications(conn, payment, None, now, max(delay_s, 0))
                if not queued:
                    raise errors.InvalidState(
                        f"a {payment.status.value} {payment.provider} payment has nothing to notify"
                        + ("" if payment.notify_url else " (no notify_url)"), payment)
                notification = queued[0]
            self._event(conn, payment_id, now, "action", f"new copy of {notification.event} notification by {actor}",
                        {"notification_id": notification.id})
            return notification
        notification = await self.db.transaction(work)
        self._wake_notifier()
        self.bus.publish({"type": "notification", "payment_id": payment_id, "notification_id": notification.id})
        return notification

    async def due_notifications(self, limit: int) -> list[Notification]:
        now = self.clock.now()
        rows = await self.db.read(lambda conn: notifications_store.due(conn, now, limit))
        return [Notification.model_validate(r) for r in rows]

    async def due_notification_urls(self, limit: int) -> list[tuple[str, str]]:
        """(id, url) of the due notifications, oldest due first: cheap to read many times over."""
        now = self.clock.now()
        return await self.db.read(lambda conn: notifications_store.due_urls(conn, now, limit))

    async def pending_notifications(self, notification_ids: list[str]) -> list[Notification]:
        now = self.clock.now()
        rows = await self.db.read(lambda conn: notifications_store.pending_by_ids(conn, notification_ids, now))
        return [Notification.model_validate(r) for r in rows]

    async def next_notification_time(self) -> float | None:
        return await self.db.read(notifications_store.next_due)

    async def record_attempt(self, notification: Notification, attempt: dict[str, Any]) -> Notification:
        """Journal one delivery attempt and move the notification on: delivered, rescheduled, or failed."""
        channel = self.channels[notification.provider]

        def work(conn):
            now = self.clock.now()
            row = notifications_store.get(conn, notification.id)
            if row is None:  # the payment was reset away while the attempt was in flight
                return None
            number = row["attempts"] + 1
            notifications_store.insert_attempt(conn, {**attempt, "notification_id": notification.id,
                                                      "number": number})
            row.update(attempts=number, updated_at=now)
            if attempt.get("refused"):  # a target the sandbox never delivers to (core/targets.py): no retries
                row.update(status=NotificationStatus.FAILED.value, next_attempt_at=None)
            elif row["status"] == NotificationStatus.PENDING.value:
                if attempt["acknowledged"]:
                    row.update(status=NotificationStatus.DELIVERED.value, next_attempt_at=None)
                elif number <= len(channel.retry_delays):
                    # The schedule counts from when the attempt was due, so a clock jump replays it in order.
                    base = row["next_attempt_at"] if row["next_attempt_at"] is not None else now
                    row["next_attempt_at"] = base + channel.retry_delays[number - 1]
                else:
                    row.update(status=NotificationStatus.FAILED.value, next_attempt_at=None)
            elif attempt["acknowledged"] and row["status"] == NotificationStatus.FAILED.value:
                row.update(status=NotificationStatus.DELIVERED.value, next_attempt_at=None)
            notifications_store.update(conn, row)
            outcome = "acknowledged" if attempt["acknowledged"] else (
                attempt.get("error") or f"HTTP {attempt.get('response_status')}, not acknowledged")
            self._event(conn, row["payment_id"], now, "notify",
                        f"{row['event']} attempt {number}: {outcome}",
                        {"notification_id": notification.id, "attempt": number, "status": row["status"]})
            return Notification.model_validate(row)

        updated = await self.db.transaction(work)
        if updated is not None:
            self.bus.publish({"type": "attempt", "payment_id": updated.payment_id,
                              "notification_id": updated.id, "status": updated.status.value})
        return updated

    async def note(self, payment_id: str, summary: str, data: dict[str, Any] | None = None) -> None:
        """A note on the payment's timeline (kind `note`): what the sandbox accepted about its notifies but the real
        provider would not in production (an http or local notify_url, providers/notify_url.py)."""
        now = self.clock.now()
        await self.db.transaction(lambda conn: self._event(conn, payment_id, now, "note", summary, data or {}))
        self.bus.publish({"type": "event", "payment_id": payment_id})

    def _wake_notifier(self) -> None:
        if self.notifications_changed is not None:
            self.notifications_changed.set()
