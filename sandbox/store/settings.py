"""Small persistent values (the clock offset) and the rules list."""
from __future__ import annotations

import json
import sqlite3

from .rows import dumps, fetch_all


def get(conn: sqlite3.Connection, key: str, default=None):
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def put(conn: sqlite3.Connection, key: str, value) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, dumps(value)))


def rules(conn: sqlite3.Connection) -> list[dict]:
    return [json.loads(r["rule"]) for r in fetch_all(conn, "SELECT rule FROM rules ORDER BY position, id", ())]


def insert_rule(conn: sqlite3.Connection, rule: dict, created_at: float) -> None:
    position = conn.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM rules").fetchone()[0]
    conn.execute("INSERT INTO rules (id, position, rule, created_at) VALUES (?, ?, ?, ?)",
                 (rule["id"], position, dumps(rule), created_at))


def update_rule(conn: sqlite3.Connection, rule: dict) -> None:
    conn.execute("UPDATE rules SET rule = ? WHERE id = ?", (dumps(rule), rule["id"]))


def set_rule_order(conn: sqlite3.Connection, rule_ids: list[str]) -> None:
    """Positions 1..N in the order given (the order rules are tried)."""
    conn.executemany("UPDATE rules SET position = ? WHERE id = ?",
                     [(position, rule_id) for position, rule_id in enumerate(rule_ids, start=1)])


def delete_rule(conn: sqlite3.Connection, rule_id: str) -> bool:
    return conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount > 0


def delete_all_rules(conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM rules").rowcount


def bump_state_version(conn: sqlite3.Connection) -> None:
    """One more change of what each process keeps in memory (merchants, rules, clock offset): the other processes of
    --workers N reload when they see it move (core/workers.py). In the transaction of the change itself."""
    conn.execute("INSERT INTO settings (key, value) VALUES ('state_version', '1') "
                 "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def count_rule_hit(conn: sqlite3.Connection, rule_id: str, times: int | None) -> int | None:
    """Count one more call faulted by a rule, counted in SQL so processes sharing the database never take more than
    `times` (api_times) between them. The rule's hits now, or None when they were all taken (or it is gone)."""
    row = conn.execute(
        "UPDATE rules SET rule = json_set(rule, '$.hits', COALESCE(json_extract(rule, '$.hits'), 0) + 1) "
        "WHERE id = ? AND (? IS NULL OR COALESCE(json_extract(rule, '$.hits'), 0) < ?) "
        "RETURNING json_extract(rule, '$.hits')", (rule_id, times, times)).fetchone()
    return None if row is None else int(row[0])
