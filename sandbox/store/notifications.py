"""Notifications (the outbox) and their delivery attempts."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all, fetch_one

_JSON = frozenset({"snapshot"})
_ATTEMPT_JSON = frozenset({"request_headers"})


def insert(conn: sqlite3.Connection, n: dict) -> None:
    conn.execute(
        "INSERT INTO notifications (id, payment_id, refund_id, provider, event, url, snapshot, status, attempts, "
        "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (n["id"], n["payment_id"], n.get("refund_id"), n["provider"], n["event"], n["url"], dumps(n["snapshot"]),
         n["status"], n.get("attempts", 0), n.get("next_attempt_at"), n["created_at"], n["updated_at"]),
    )


def update(conn: sqlite3.Connection, n: dict) -> None:
    conn.execute(
        "UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
        (n["status"], n["attempts"], n.get("next_attempt_at"), n["updated_at"], n["id"]),
    )


def get(conn: sqlite3.Connection, notification_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM notifications WHERE id = ?", (notification_id,), _JSON)


def of_payment(conn: sqlite3.Connection, payment_id: str) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM notifications WHERE payment_id = ? ORDER BY created_at, rowid",
                     (payment_id,), _JSON)


def search(conn: sqlite3.Connection, payment_id: str | None, status: str | None, limit: int) -> list[dict]:
    clauses, params = [], []
    if payment_id:
        clauses.append("payment_id = ?")
        params.append(payment_id)
    if status:
        clauses.append("status = ?")
        params.append(status)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return fetch_all(conn, f"SELECT * FROM notifications {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                     (*params, limit), _JSON)


def due(conn: sqlite3.Connection, now: float, limit: int) -> list[dict]:
    return fetch_all(
        conn,
        "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, rowid LIMIT ?",
        (now, limit),
        _JSON,
    )


def due_urls(conn: sqlite3.Connection, now: float, limit: int) -> list[tuple[str, str]]:
    """(id, url) of due notifications, in due order: what the notifier picks from before reading whole rows."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT id, url FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, rowid LIMIT ?", (now, limit))]


def pending_by_ids(conn: sqlite3.Connection, notification_ids: list[str], now: float) -> list[dict]:
    """Those among these notifications still pending and due at `now`, whole rows, in the order of the ids."""
    if not notification_ids:
        return []
    rows = fetch_all(conn, f"SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? AND id IN "
                           f"({', '.join('?' * len(notification_ids))})", (now, *notification_ids), _JSON)
    order = {notification_id: i for i, notification_id in enumerate(notification_ids)}
    return sorted(rows, key=lambda row: order[row["id"]])


def any_due(conn: sqlite3.Connection, now: float) -> bool:
    """Whether a pending notification is due (or being attempted) at `now`."""
    return conn.execute("SELECT 1 FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
                        (now,)).fetchone() is not None


def next_due(conn: sqlite3.Connection) -> float | None:
    return conn.execute("SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'pending'").fetchone()[0]


def insert_attempt(conn: sqlite3.Connection, a: dict) -> int:
    cursor = conn.execute(
        "INSERT INTO attempts (notification_id, number, at, due_at, request_url, request_headers, request_body, "
        "response_status, response_body, latency_ms, error, acknowledged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (a["notification_id"], a["number"], a["at"], a.get("due_at"), a["request_url"], dumps(a["request_headers"]),
         a["request_body"], a.get("response_status"), a.get("response_body"), a.get("latency_ms"), a.get("error"),
         int(bool(a.get("acknowledged")))),
    )
    return cursor.lastrowid


def attempts_of(conn: sqlite3.Connection, notification_ids: list[str]) -> list[dict]:
    if not notification_ids:
        return []
    marks = ", ".join("?" * len(notification_ids))
    rows = fetch_all(conn, f"SELECT * FROM attempts WHERE notification_id IN ({marks}) ORDER BY id",
                     tuple(notification_ids), _ATTEMPT_JSON)
    for row in rows:
        row["acknowledged"] = bool(row["acknowledged"])
    return rows


def with_attempts(conn: sqlite3.Connection, notifications: list[dict]) -> list[dict]:
    """The notifications, each with its attempts (oldest first) as "attempt_log"."""
    by_notification: dict[str, list[dict]] = {}
    for attempt in attempts_of(conn, [n["id"] for n in notifications]):
        by_notification.setdefault(attempt["notification_id"], []).append(attempt)
    return [{**n, "attempt_log": by_notification.get(n["id"], [])} for n in notifications]


def last_attempts(conn: sqlite3.Connection, payment_ids: list[str]) -> dict[str, dict]:
    """The newest attempt of each payment, for list pages."""
    if not payment_ids:
        return {}
    marks = ", ".join("?" * len(payment_ids))
    rows = fetch_all(
        conn,
        f"SELECT n.payment_id, a.response_status, a.error, a.acknowledged, a.at, n.status AS notification_status "
        f"FROM attempts a JOIN notifications n ON n.id = a.notification_id "
        f"WHERE a.id IN (SELECT MAX(a2.id) FROM attempts a2 JOIN notifications n2 ON n2.id = a2.notification_id "
        f"WHERE n2.payment_id IN ({marks}) GROUP BY n2.payment_id)",
        tuple(payment_ids),
    )
    return {row["payment_id"]: row for row in rows}
