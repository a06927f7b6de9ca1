"""The timeline of each payment."""
from __future__ import annotations

import sqlite3

from .rows import dumps, fetch_all


_INSERT = "INSERT INTO events (payment_id, at, kind, summary, data) VALUES (?, ?, ?, ?, ?)"


def encode(e: dict) -> tuple:
    return e["payment_id"], e["at"], e["kind"], e["summary"], dumps(e.get("data") or {})


def insert_encoded(conn: sqlite3.Connection, row: tuple) -> int:
    return conn.execute(_INSERT, row).lastrowid


def insert_many(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(_INSERT, rows)


def insert(conn: sqlite3.Connection, e: dict) -> int:
    return insert_encoded(conn, encode(e))


def of_payment(conn: sqlite3.Connection, payment_id: str) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM events WHERE payment_id = ? ORDER BY id", (payment_id,),
                     frozenset({"data"}))
