"""Accounts of app users (balances, points) and their ledger entries. Each entry moves the account's cached
balance / held columns in the same statement pair, so an account always equals the sum of its entries."""
from __future__ import annotations

import sqlite3

from .rows import fetch_all, fetch_one

# kind -> (change of balance, change of held) per unit of amount
_EFFECT = {"credit": (1, 0), "debit": (-1, 0), "hold": (0, 1), "release": (0, -1)}


def get(conn: sqlite3.Connection, account_id: str) -> dict | None:
    return fetch_one(conn, "SELECT * FROM accounts WHERE id = ?", (account_id,))


def of_merchant(conn: sqlite3.Connection, merchant_id: str, owner: str | None = None) -> list[dict]:
    if owner is None:
        return fetch_all(conn, "SELECT * FROM accounts WHERE merchant_id = ? ORDER BY created_at, id", (merchant_id,))
    return fetch_all(conn, "SELECT * FROM accounts WHERE merchant_id = ? AND owner = ? ORDER BY asset",
                     (merchant_id, owner))


def insert(conn: sqlite3.Connection, account: dict) -> None:
    conn.execute(
        "INSERT INTO accounts (id, merchant_id, app, owner, asset, balance, held, created_at, updated_at) "
        "VALUES (:id, :merchant_id, :app, :owner, :asset, 0, 0, :created_at, :created_at)", account)


def apply(conn: sqlite3.Connection, account_id: str, kind: str, amount: int, at: float, *,
          payment_id: str | None = None, memo: str | None = None, actor: str | None = None) -> dict:
    """Write one entry and move the account by it; returns the account as it is now. The caller checked that the
    account can take it (the table's CHECKs are the last line: a violation raises IntegrityError)."""
    d_balance, d_held = _EFFECT[kind]
    conn.execute("UPDATE accounts SET balance = balance + ?, held = held + ?, updated_at = ? WHERE id = ?",
                 (d_balance * amount, d_held * amount, at, account_id))
    conn.execute("INSERT INTO ledger_entries (account_id, kind, amount, payment_id, memo, actor, at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (account_id, kind, amount, payment_id, memo, actor, at))
    return get(conn, account_id)


def entries(conn: sqlite3.Connection, account_id: str, limit: int = 200) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM ledger_entries WHERE account_id = ? ORDER BY id DESC LIMIT ?",
                     (account_id, limit))


def entries_of_payment(conn: sqlite3.Connection, payment_id: str) -> list[dict]:
    return fetch_all(conn, "SELECT * FROM ledger_entries WHERE payment_id = ? ORDER BY id", (payment_id,))


def sums(conn: sqlite3.Connection, account_id: str) -> tuple[int, int]:
    """(balance, held) recomputed from the entries alone: what the cached columns must equal."""
    row = conn.execute(
        "SELECT COALESCE(SUM(CASE kind WHEN 'credit' THEN amount WHEN 'debit' THEN -amount END), 0), "
        "COALESCE(SUM(CASE kind WHEN 'hold' THEN amount WHEN 'release' THEN -amount END), 0) "
        "FROM ledger_entries WHERE account_id = ?", (account_id,)).fetchone()
    return int(row[0]), int(row[1])
