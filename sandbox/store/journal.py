"""The request journal: every call a provider or app path received (table `requests`, migration 004)."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all, fetch_one

_JSON = frozenset({"request_headers", "response_headers", "diagnosis"})
COLUMNS = (
    "id", "at", "real_at", "method", "path", "query", "provider", "request_headers", "request_body", "request_size",
    "status", "response_headers", "response_body", "response_size", "latency_ms", "merchant_id", "payment_id",
    "verdict", "code", "reason", "rule_id", "diagnosis", "suggestion",
)
# What a list shows: everything but the bodies and headers
_SUMMARY = ("seq", *(c for c in COLUMNS if c not in (
    "request_headers", "request_body", "response_headers", "response_body", "diagnosis")))
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def encode(entry: dict) -> tuple:
    """The row of one entry, ready for insert_many (built off the database thread)."""
    get = entry.get
    return tuple(dumps(get(c)) if c in _JSON and get(c) is not None else get(c) for c in COLUMNS)


def insert_many(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(_INSERT, rows)


def trim(conn: sqlite3.Connection, keep: int) -> int:
    """Drop all but the newest `keep` entries; how many went."""
    row = conn.execute("SELECT seq FROM requests ORDER BY seq DESC LIMIT 1 OFFSET ?", (keep,)).fetchone()
    if row is None:
        return 0
    return conn.execute("DELETE FROM requests WHERE seq <= ?", (row[0],)).rowcount


def get(conn: sqlite3.Connection, request_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM requests WHERE id = ?", (request_id,), _JSON)


def search(conn: sqlite3.Connection, *, merchant_id: str | None = None, provider: str | None = None,
           verdict: str | None = None, path: str | None = None, payment_id: str | None = None,
           since: float | None = None, until: float | None = None, before: int | None = None, limit: int = 50,
           count_bound: int = 10_000) -> tuple[list[dict], int]:
    """Newest first, with the number that match (counted up to count_bound + 1). `path`: a part of the path;
    `since`/`until`: sandbox time; `before`: a seq, for the next page (keyset, as deep as the journal goes)."""
    clauses, params = [], []
    for column, value in (("merchant_id", merchant_id), ("provider", provider), ("verdict", verdict),
                          ("payment_id", payment_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if verdict is not None and verdict != "accepted":
        clauses.append("verdict != 'accepted'")  # the partial index requests_refused's own condition
    if path:
        clauses.append("instr(path, ?) > 0")
        params.append(path)
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("at < ?")
        params.append(until)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM requests {where} LIMIT ?)",
                         (*params, count_bound + 1)).fetchone()[0]
    if before is not None:
        where = f"{where} AND seq < ?" if where else "WHERE seq < ?"
        params.append(before)
    rows = fetch_all(conn, f"SELECT {', '.join(_SUMMARY)} FROM requests {where} ORDER BY seq DESC LIMIT ?",
                     (*params, limit))
    return rows, total


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
