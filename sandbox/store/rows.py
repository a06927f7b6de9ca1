"""Turning rows into plain dicts the core's models validate, and JSON columns back into values."""
from __future__ import annotations

import sqlite3
from typing import Any

import orjson


class Unstorable(ValueError):
    """A value the store cannot keep as JSON (an integer past 64 bits, a string with a lone surrogate, an object
    JSON has no form for). str(exc) says what, in plain words; callers answer it as their 4xx."""


def dumps(value: Any) -> str:
    """Canonical JSON text (sorted keys, compact, UTF-8): equal values give equal text, so fingerprints compare.

    orjson, because several JSON columns are written on every create and the stdlib encoder showed in the profile.
    The one encoder of the store: what it cannot encode is refused as Unstorable, never a TypeError."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError as exc:
        reason = str(exc)
        if "surrogate" in reason:
            reason = "a text holds a lone surrogate (not valid UTF-8)"
        elif "64-bit" in reason:
            reason = "a number is past the 64-bit integer range"
        raise Unstorable(f"cannot be stored: {reason}") from None


def row_dict(cursor: sqlite3.Cursor, row: tuple, json_columns: frozenset[str] = frozenset()) -> dict[str, Any]:
    out = {}
    for (name, *_), value in zip(cursor.description, row):
        out[name] = orjson.loads(value) if name in json_columns and value is not None else value
    return out


def fetch_one(conn: sqlite3.Connection, sql: str, params: tuple | dict, json_columns=frozenset()) -> dict | None:
    cursor = conn.execute(sql, params)
    row = cursor.fetchone()
    return row_dict(cursor, row, json_columns) if row is not None else None


def fetch_all(conn: sqlite3.Connection, sql: str, params: tuple | dict, json_columns=frozenset()) -> list[dict]:
    cursor = conn.execute(sql, params)
    return [row_dict(cursor, row, json_columns) for row in cursor.fetchall()]
