"""Payments and their refunds."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all, fetch_one

_JSON = frozenset({"payer", "provider_ids", "extra"})
_REFUND_JSON = frozenset({"extra"})
_COLUMNS = (
    "id", "provider", "merchant_id", "out_trade_no", "provider_trade_no", "amount", "refunded_amount", "currency",
    "trade_type", "status", "close_reason", "fail_reason", "description", "attach", "notify_url", "payer",
    "provider_ids", "extra", "fingerprint", "raw_request", "created_at", "updated_at", "expires_at", "paid_at",
    "closed_at", "auto_action", "auto_action_at",
)
_REFUND_COLUMNS = (
    "id", "payment_id", "out_refund_no", "provider_refund_no", "amount", "status", "reason", "notify_url", "extra",
    "created_at", "succeeded_at",
)


def _encode(record: dict, columns: tuple[str, ...], json_columns: frozenset[str]) -> tuple:
    return tuple(dumps(record[c]) if c in json_columns else record.get(c) for c in columns)


_INSERT = f"INSERT INTO payments ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_MUTABLE = tuple(c for c in _COLUMNS if c not in ("id", "provider", "merchant_id", "out_trade_no", "created_at"))
_UPDATE = f"UPDATE payments SET {', '.join(f'{c} = ?' for c in _MUTABLE)} WHERE id = ?"
_INSERT_REFUND = (f"INSERT INTO refunds ({', '.join(_REFUND_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(_REFUND_COLUMNS))})")


def encode(payment: dict) -> tuple:
    """The row of a new payment, ready for insert_encoded (built before the transaction, off the database thread)."""
    return _encode(payment, _COLUMNS, _JSON)


def insert_encoded(conn: sqlite3.Connection, row: tuple) -> None:
    conn.execute(_INSERT, row)


def insert(conn: sqlite3.Connection, payment: dict) -> None:
    insert_encoded(conn, encode(payment))


def update(conn: sqlite3.Connection, payment: dict) -> None:
    """Write back every mutable column of one payment."""
    conn.execute(_UPDATE, (*_encode(payment, _MUTABLE, _JSON), payment["id"]))


def get(conn: sqlite3.Connection, payment_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM payments WHERE id = ?", (payment_id,), _JSON)


def by_out_trade_no(conn: sqlite3.Connection, merchant_id: str, provider: str, out_trade_no: str) -> dict | None:
    return fetch_one(
        conn,
        "SELECT * FROM payments WHERE merchant_id = ? AND provider = ? AND out_trade_no = ?",
        (merchant_id, provider, out_trade_no),
        _JSON,
    )


def by_provider_trade_no(conn: sqlite3.Connection, provider: str, provider_trade_no: str) -> dict | None:
    return fetch_one(
        conn,
        "SELECT * FROM payments WHERE provider = ? AND provider_trade_no = ?",
        (provider, provider_trade_no),
        _JSON,
    )


# The console list and the admin API count matches up to this many, then say "more than" (a count walks the index).
COUNT_BOUND = 10_000
_ORDER = "ORDER BY created_at DESC, id DESC"
_FTS_MIN = 3  # the trigram index finds fragments of 3 characters or more; shorter ones are matched as prefixes


def _where(provider, merchant_id, status, out_trade_no, text, since, until, after=None,
           dense: bool = False) -> tuple[str, list]:
    # With a text, the id index (trigrams or prefixes) drives the query: the other columns are compared as +column,
    # which no index serves, so the planner never walks every payment of a provider checking each against it.
    c = "+" if text else ""
    clauses, params = [], []
    for column, value in (("provider", provider), ("merchant_id", merchant_id), ("status", status),
                          ("out_trade_no", out_trade_no)):
        if value:
            clauses.append(f"{c}{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append(f"{c}created_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append(f"{c}created_at < ?")
        params.append(until)
    if after is not None:
        clauses.append(f"({c}created_at, {c}id) < (?, ?)")
        params.extend(after)
    if text:
        if len(text) >= _FTS_MIN:
            # a phrase of the fragment's trigrams: the fragment anywhere in any id (case-insensitive)
            clauses.append("rowid IN (SELECT rowid FROM payments_ids WHERE payments_ids MATCH ?)")
            params.append('"' + text.replace('"', '""') + '"')
        elif dense:  # a short prefix that many payments share: checked on each row, walking the list newest first
            clauses.append("(id = ? OR substr(out_trade_no, 1, ?) = ? OR substr(provider_trade_no, 1, ?) = ?)")
            params.extend([text, len(text), text, len(text), text])
        else:  # too short for trigrams: our id equal to it, the order numbers equal to it or starting with it
            clauses.append("(id = ? OR (out_trade_no >= ? AND out_trade_no < ?)"
                           " OR (provider_trade_no >= ? AND provider_trade_no < ?))")
            params.extend([text, *[text, text + "\U0010ffff"] * 2])
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def search(
    conn: sqlite3.Connection, *, provider: str | None = None, merchant_id: str | None = None,
    status: str | None = None, out_trade_no: str | None = None, text: str | None = None,
    since: float | None = None, until: float | None = None, after: tuple[float, str] | None = None,
    limit: int = 50, offset: int = 0, count_bound: int | None = None,
) -> tuple[list[dict], int]:
    """Payments newest first (created_at, then id, descending) and how many match.

    `after` (created_at, id) of the last row of the previous page: the next page starts right after it (keyset
    paging, read off the index whatever the depth); `offset` is for small values. With `count_bound`, counting stops
    there: a total of count_bound + 1 means "more than count_bound"."""
    where, params = _where(provider, merchant_id, status, out_trade_no, text, since, until)
    counted = f"SELECT 1 FROM payments {where}" + (" LIMIT ?" if count_bound is not None else "")
    total = conn.execute(f"SELECT COUNT(*) FROM ({counted})",
                         (*params, count_bound + 1) if count_bound is not None else params).fetchone()[0]
    # A one- or two-character prefix matching more than count_bound payments: sorting all of them would take long,
    # while walking the list newest first meets a page of them soon.
    dense = bool(text) and len(text) < _FTS_MIN and count_bound is not None and total > count_bound
    if after is not None or dense:
        where, params = _where(provider, merchant_id, status, out_trade_no, text, since, until, after, dense)
    table = "payments INDEXED BY payments_created" if dense else "payments"
    rows = fetch_all(conn, f"SELECT * FROM {table} {where} {_ORDER} LIMIT ? OFFSET ?",
                     (*params, limit, offset), _JSON)
    return rows, total


def due_for_action(conn: sqlite3.Connection, now: float, limit: int) -> list[str]:
    """Pending payments whose rule action or expiry time has come. Through the partial indexes by name: left to
    itself the planner takes (status, created_at, id) and walks every pending payment."""
    rows = conn.execute(
        "SELECT id FROM payments INDEXED BY payments_auto_action WHERE status = 'PENDING' AND auto_action_at <= ? "
        "UNION SELECT id FROM payments INDEXED BY payments_expiry WHERE status = 'PENDING' AND expires_at <= ? "
        "LIMIT ?",
        (now, now, limit),
    )
    return [r[0] for r in rows]


def next_action_time(conn: sqlite3.Connection) -> float | None:
    row = conn.execute(
        "SELECT MIN(t) FROM (SELECT MIN(auto_action_at) AS t FROM payments INDEXED BY payments_auto_action "
        "WHERE status = 'PENDING' UNION ALL SELECT MIN(expires_at) FROM payments INDEXED BY payments_expiry "
        "WHERE status = 'PENDING')"
    ).fetchone()
    return row[0]


def insert_refund(conn: sqlite3.Connection, refund: dict) -> None:
    conn.execute(_INSERT_REFUND, _encode(refund, _REFUND_COLUMNS, _REFUND_JSON))


def update_refund(conn: sqlite3.Connection, refund: dict) -> None:
    conn.execute(
        "UPDATE refunds SET status = ?, succeeded_at = ?, extra = ? WHERE id = ?",
        (refund["status"], refund.get("succeeded_at"), dumps(refund["extra"]), refund["id"]),
    )


def refunds_of(conn: sqlite3.Connection, payment_id: str) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM refunds WHERE payment_id = ? ORDER BY created_at, rowid",
                     (payment_id,), _REFUND_JSON)


def refund_by_out_refund_no(conn: sqlite3.Connection, payment_id: str, out_refund_no: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM refunds WHERE payment_id = ? AND out_refund_no = ?",
                     (payment_id, out_refund_no), _REFUND_JSON)


def refund_get(conn: sqlite3.Connection, refund_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM refunds WHERE id = ?", (refund_id,), _REFUND_JSON)


def merchant_refund(conn: sqlite3.Connection, merchant_id: str, provider: str, id_column: str,
                    value: str) -> dict | None:
    """A refund by one of its ids alone, unique per merchant and provider: WeChat queries a refund by out_refund_no
    (v3, v2) or by the provider's refund_id (v2 refundquery)."""
    if id_column not in ("out_refund_no", "provider_refund_no"):
        raise ValueError(f"refunds are not looked up by {id_column!r}")
    return fetch_one(
        conn,
        "SELECT r.* FROM refunds r JOIN payments p ON p.id = r.payment_id "
        f"WHERE p.merchant_id = ? AND p.provider = ? AND r.{id_column} = ?",
        (merchant_id, provider, value),
        _REFUND_JSON,
    )


def delete_all(conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM payments").rowcount


def insert_many(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Rows made by encode(), in one statement run (the bulk path of the benchmark)."""
    conn.executemany(_INSERT, rows)


def created_before(conn: sqlite3.Connection, before: float, limit: int) -> list[str]:
    """The oldest payments created before `before` (retention), oldest first."""
    rows = conn.execute("SELECT id FROM payments WHERE created_at < ? ORDER BY created_at, id LIMIT ?",
                        (before, limit))
    return [r[0] for r in rows]


def delete_many(conn: sqlite3.Connection, payment_ids: list[str]) -> int:
    """Delete whole payments: their refunds, notifications (with attempts) and events go by the foreign keys'
    cascades; ledger entries stay, their payment_id set to NULL."""
    if not payment_ids:
        return 0
    return conn.execute(f"DELETE FROM payments WHERE id IN ({', '.join('?' * len(payment_ids))})",
                        payment_ids).rowcount
