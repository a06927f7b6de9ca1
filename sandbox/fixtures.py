"""Demo data loaded at first start: merchants with their credentials (keys live in files beside the list), and the
default rules (the magic amounts)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .core.engine import Engine
from .core.rules import Rule
from .providers.base import Provider, lookup_keys

log = logging.getLogger(__name__)


def read_merchants(folder: Path) -> list[dict[str, Any]]:
    """merchants.json, with every {"$file": "relative.json"} replaced by that file's content."""
    listing = json.loads((folder / "merchants.json").read_text(encoding="utf-8"))
    merchants = []
    for entry in listing["merchants"]:
        credentials = {}
        for provider, value in entry["credentials"].items():
            if isinstance(value, dict) and set(value) == {"$file"}:
                value = json.loads((folder / value["$file"]).read_text(encoding="utf-8"))
            credentials[provider] = value
        merchants.append({**entry, "credentials": credentials})
    return merchants


async def load_fixtures(engine: Engine, providers: dict[str, Provider], folder: str | None) -> int:
    """Create the demo merchants once, on a database that has none. Returns how many were created."""
    if not folder or engine.merchants():
        return 0
    path = Path(folder)
    if not (path / "merchants.json").exists():
        log.warning("no fixtures at %s; starting empty", path)
        return 0
    created = 0
    for entry in read_merchants(path):
        credentials = {name: c for name, c in entry["credentials"].items() if name in providers}
        merchant = await engine.create_merchant(entry["name"], credentials, lookup_keys(providers, credentials),
                                                merchant_id=entry["id"])
        created += 1
        for name in credentials:  # an app's demo users, orders, gift packs … (in the app's own fixtures folder)
            load_demo_data = getattr(providers[name], "load_demo_data", None)
            if load_demo_data is not None:
                await load_demo_data(merchant, path / name)
    rules_file = path / "rules.json"
    if rules_file.exists() and not engine.rules():
        for rule in json.loads(rules_file.read_text(encoding="utf-8"))["rules"]:
            await engine.add_rule(Rule.model_validate({**rule, "shipped": True}))  # after the user's own
    return created
