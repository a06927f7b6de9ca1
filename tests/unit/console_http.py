"""Helpers for the console and cashier HTTP tests: a browser-like session (cookies + CSRF field) and payments."""
from __future__ import annotations

import json
import re

import requests

STORE = "QP10000001"
CSRF_FIELD = re.compile(r'name="csrf[-_]token" (?:value|content)="([^"]*)"')


class Browser(requests.Session):
    """requests with the console's cookies; `form()` posts a form with the CSRF field of the page it came from."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url
        self.csrf: str | None = None

    def page(self, path: str, **kwargs) -> requests.Response:
        response = self.get(self.base_url + path, timeout=10, **kwargs)
        fields = CSRF_FIELD.findall(response.text)
        if fields:
            assert len(set(fields)) == 1, f"forms on {path} carry different CSRF tokens: {set(fields)}"
            self.csrf = fields[0]
        return response

    def form(self, path: str, data: dict | None = None, csrf: bool = True, follow: bool = True) -> requests.Response:
        if csrf and self.csrf is None:
            self.page("/_sandbox/")
        fields = {**({"csrf_token": self.csrf} if csrf else {}), **(data or {})}
        return self.post(self.base_url + path, data=fields, allow_redirects=follow, timeout=30)


def quickpay(sandbox, order_no: str, notify_url: str | None = None, action: str = "JSAPIPay", amount: int = 100,
             **extra) -> dict:
    """Create a QuickPay payment over HTTP and return the sandbox's record of it (admin API JSON)."""
    if action == "QRPay":
        body = {"store_no": STORE, "amount": amount, "order_no": order_no, "qr_format": "url", **extra}
    else:
        body = {"store_no": STORE, "paytype": 11, "appid": "wxd678efh567hg6787",
                "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "amount": amount, "order_no": order_no,
                "iteminfo": "Gift pack", **extra}
    if notify_url:
        body["notify_url"] = notify_url
    response = requests.post(f"{sandbox.url}/QuickPay/{action}", data=json.dumps(body),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200 and response.json()["code"] == "SUCCESS", response.text
    return sandbox.admin.payments(out_trade_no=order_no)["payments"][0]
