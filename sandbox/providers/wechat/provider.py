"""WeChat Pay (APIv3 JSON and v2 XML) as one provider: its routes, its notify channel, its merchant credentials."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from ...core.engine import Engine
from ...settings import Settings
from . import credentials
from .api_v2 import V2Api
from .api_v3 import V3Api
from .channel import WeChatChannel
from .wire import PROVIDER


class WeChatProvider:
    name = PROVIDER
    title = "WeChat Pay"

    def __init__(self):
        self.channel = WeChatChannel()

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        V3Api(engine, settings).add_routes(app)
        V2Api(engine, settings).add_routes(app)

    def new_credentials(self, mode: str = "certificate", mchid: str | None = None, appid: str | None = None,
                        **unknown: Any) -> dict[str, Any]:
        if unknown:
            raise TypeError(f"unknown WeChat options {sorted(unknown)}; expected mode, mchid, appid")
        return credentials.new_credentials(mode=mode, mchid=mchid, appid=appid)

    def lookup_keys(self, creds: dict[str, Any]) -> list[str]:
        return credentials.lookup_keys(creds)
