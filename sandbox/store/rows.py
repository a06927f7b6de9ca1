"""Turning rows into plain dicts the core's models validate, and JSON columns back into values."""
from __future__ import annotations

import json
import sqlite3
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def row_dict(cursor: sqlite3.Cursor, row: tuple, json_columns: frozenset[str] = frozenset()) -> dict[str, Any]:
    out = {}
    for (name, *_), value in zip(cursor.description, row):
        out[name] = json.loads(value) if name in json_columns and value is not None else value
    return out


def fetch_one(conn: sqlite3.Connection, sql: str, params: tuple | dict, json_columns=frozenset()) -> dict | None:
    cursor = conn.execute(sql, params)
    row = cursor.fetchone()
    return row_dict(cursor, row, json_columns) if row is not None else None


def fetch_all(conn: sqlite3.Connection, sql: str, params: tuple | dict, json_columns=frozenset()) -> list[dict]:
    cursor = conn.execute(sql, params)
    return [row_dict(cursor, row, json_columns) for row in cursor.fetchall()]
