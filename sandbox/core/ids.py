"""Identifiers of the sandbox's own records (providers make their own wire ids)."""
from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """prefix_ + 10 hex of milliseconds + 12 random hex: unique, and sortable by creation time."""
    return f"{prefix}_{int(time.time() * 1000):010x}{secrets.token_hex(6)}"
