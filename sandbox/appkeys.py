"""Typed keys of what the app holds, importable from any view without importing the app factory."""
from __future__ import annotations

from aiohttp import web

from .core.engine import Engine
from .core.notifier import Notifier
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
NOTIFIER = web.AppKey("notifier", Notifier)
PROVIDERS = web.AppKey("providers", dict)
