"""The registry of merchant apps the sandbox plays the backend of (hmall, the partner app, the shop app). An app is
shaped like a provider (routes, credentials, a notify channel) and is served beside them. Adding an app = one
package + one line here."""
from __future__ import annotations


def all_apps() -> list:
    from .hmall.provider import HmallApp
    from .partner.provider import PartnerApp
    from .shop.provider import ShopApp

    return [HmallApp(), PartnerApp(), ShopApp()]
