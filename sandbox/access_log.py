"""The access log: one line per request, `GET /v3/pay/transactions/native 200 4.1 ms merchant=demo-wechat`.

Path only (no query: Alipay's GET gateway carries its whole signed request there). The merchant shows when an adapter
resolved one: it calls `note_merchant(id)` once a request named its merchant (mchid, app_id, store_no …), and the id
lands on the request under MERCHANT_KEY. Lines go to the `sandbox.access` logger at INFO, so `--log-level WARNING`
turns them off (and costs nothing then: aiohttp asks `enabled` first).
"""
from __future__ import annotations

import logging
from contextvars import ContextVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS_LOG = logging.getLogger("sandbox.access")
# request[MERCHANT_KEY]: the merchant's id (a typed key where aiohttp has them, 3.12+)
MERCHANT_KEY = web.RequestKey("merchant_id", str) if hasattr(web, "RequestKey") else "merchant_id"
_current: ContextVar[web.Request | None] = ContextVar("sandbox_request", default=None)


def note_merchant(merchant_id: str) -> None:
    """Say which merchant the request being handled named (a no-op outside a request)."""
    request = _current.get()
    if request is not None:
        request[MERCHANT_KEY] = merchant_id


# What the adapter decided, for the request journal (issue 12): request[VERDICT_KEY] is a dict with "verdict"
# ("rejected" | "faulted"), "code" (what the client saw), "reason" (plain words), "diagnosis" (the signature
# doctor's findings, or None); request[PAYMENT_KEY] the id of the payment the call touched.
VERDICT_KEY = web.RequestKey("verdict", dict) if hasattr(web, "RequestKey") else "verdict"
PAYMENT_KEY = web.RequestKey("payment_id", str) if hasattr(web, "RequestKey") else "payment_id"


def note_rejected(code: str, reason: str, diagnosis: dict | None = None) -> None:
    """Say that the request being handled was refused, with the code its client sees and why (a no-op outside a
    request). `diagnosis`: for a refused signature, what the sandbox expected and the likely mistake."""
    request = _current.get()
    if request is None:
        return
    earlier = request.get(VERDICT_KEY)
    if earlier is not None and earlier["verdict"] == "faulted":
        return  # a fault rule's system error: the rule is the story
    if diagnosis is None and earlier is not None:
        diagnosis = earlier.get("diagnosis")  # noted where the signature was refused; the answer is noted later
    request[VERDICT_KEY] = {"verdict": "rejected", "code": code, "reason": reason, "diagnosis": diagnosis}


def note_faulted(rule_id: str, what: str) -> None:
    """Say that a fault rule answered the request being handled (a no-op outside a request)."""
    request = _current.get()
    if request is not None:
        request[VERDICT_KEY] = {"verdict": "faulted", "code": None, "reason": what, "rule_id": rule_id,
                                "diagnosis": None}


# request[JOURNAL_ID_KEY]: the id of the request's journal entry (made before the handler runs), so an answer can
# name it ("see request req_… in the console"); None when the journal is off or the path is not journaled.
JOURNAL_ID_KEY = web.RequestKey("journal_id", str) if hasattr(web, "RequestKey") else "journal_id"


def journal_id() -> str | None:
    """The journal entry id of the request being handled, if it is journaled."""
    request = _current.get()
    return request.get(JOURNAL_ID_KEY) if request is not None else None


def note_payment(payment_id: str) -> None:
    """Say which payment the request being handled touched (a no-op outside a request)."""
    request = _current.get()
    if request is not None:
        request[PAYMENT_KEY] = payment_id


@web.middleware
async def current_request(request: web.Request, handler):
    """Makes the request reachable from `note_merchant`, however deep the adapter code that resolves the merchant."""
    token = _current.set(request)
    try:
        return await handler(request)
    finally:
        _current.reset(token)


class AccessLogger(AbstractAccessLogger):
    def log(self, request, response, time: float) -> None:
        merchant = request.get(MERCHANT_KEY)
        self.logger.info("%s %s %d %.1f ms%s", request.method, request.path, response.status, time * 1000,
                         f" merchant={merchant}" if merchant else "")

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def setup_access_log(app: web.Application) -> None:
    """First middleware of all, so every handler and middleware after it runs inside the request's context."""
    app.middlewares.insert(0, current_request)
