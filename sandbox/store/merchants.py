"""Merchants and the provider-side keys (mchid, app_id, store_no) that name them."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all, fetch_one

_JSON = frozenset({"credentials"})


def insert(conn: sqlite3.Connection, merchant: dict, keys: list[tuple[str, str]]) -> None:
    conn.execute(
        "INSERT INTO merchants (id, name, credentials, created_at) VALUES (?, ?, ?, ?)",
        (merchant["id"], merchant["name"], dumps(merchant["credentials"]), merchant["created_at"]),
    )
    conn.executemany(
        "INSERT INTO merchant_keys (provider, key, merchant_id) VALUES (?, ?, ?)",
        [(provider, key, merchant["id"]) for provider, key in keys],
    )


def get(conn: sqlite3.Connection, merchant_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM merchants WHERE id = ?", (merchant_id,), _JSON)


def list_all(conn: sqlite3.Connection) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM merchants ORDER BY created_at, id", (), _JSON)


def key_owner(conn: sqlite3.Connection, provider: str, key: str) -> str | None:
    row = conn.execute(
        "SELECT merchant_id FROM merchant_keys WHERE provider = ? AND key = ?", (provider, key)
    ).fetchone()
    return row[0] if row else None


def all_keys(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in conn.execute("SELECT provider, key, merchant_id FROM merchant_keys")]


def update_credentials(conn: sqlite3.Connection, merchant_id: str, credentials: dict) -> None:
    conn.execute("UPDATE merchants SET credentials = ? WHERE id = ?", (dumps(credentials), merchant_id))
