"""The registry of faked systems. Adding a provider = one package + one line here."""
from __future__ import annotations

from .base import Provider


def all_providers() -> list[Provider]:
    from .alipay.provider import AlipayProvider
    from .quickpay.provider import QuickPayProvider
    from .wechat.provider import WeChatProvider

    return [QuickPayProvider(), WeChatProvider(), AlipayProvider()]
