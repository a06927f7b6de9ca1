"""Identifiers of the sandbox's own records (providers make their own wire ids)."""
from __future__ import annotations

import random
import time


def new_id(prefix: str) -> str:
    """prefix_ + 10 hex of milliseconds + 12 random hex: unique, and sortable by creation time.

    Not secrets: these name records, they guard nothing, and os.urandom per id showed in the create profile."""
    return f"{prefix}_{int(time.time() * 1000):010x}{random.getrandbits(48):012x}"
