"""App data that is not money (users, orders, gift packs, coupons, addresses, tokens): one JSON document per record,
keyed by merchant, kind and id, with an optional second key (a lower-case username, a login token)."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all, fetch_one

_JSON = frozenset({"data"})


def get(conn: sqlite3.Connection, merchant_id: str, kind: str, record_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM app_records WHERE merchant_id = ? AND kind = ? AND id = ?",
                     (merchant_id, kind, record_id), _JSON)


def by_lookup(conn: sqlite3.Connection, app: str, kind: str, lookup: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM app_records WHERE app = ? AND kind = ? AND lookup = ? "
                           "ORDER BY created_at LIMIT 1", (app, kind, lookup), _JSON)


def search(conn: sqlite3.Connection, app: str, kind: str, merchant_id: str | None = None,
           limit: int = 500) -> list[dict]:
    if merchant_id is None:
        return fetch_all(conn, "SELECT * FROM app_records WHERE app = ? AND kind = ? ORDER BY created_at, id LIMIT ?",
                         (app, kind, limit), _JSON)
    return fetch_all(conn, "SELECT * FROM app_records WHERE app = ? AND kind = ? AND merchant_id = ? "
                           "ORDER BY created_at, id LIMIT ?", (app, kind, merchant_id, limit), _JSON)


def put(conn: sqlite3.Connection, record: dict) -> None:
    """Insert or replace one record (created_at kept from the first write)."""
    conn.execute(
        "INSERT INTO app_records (merchant_id, app, kind, id, lookup, data, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id, kind, id) DO UPDATE SET "
        "lookup = excluded.lookup, data = excluded.data, updated_at = excluded.updated_at",
        (record["merchant_id"], record["app"], record["kind"], record["id"], record.get("lookup"),
         dumps(record["data"]), record["created_at"], record["updated_at"]))
