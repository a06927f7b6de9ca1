"""A small client of the admin API, async (aiohttp) or sync (urllib), with one list of calls for both."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import aiohttp


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class _Calls:
    """Every admin API call; `_request` is sync or async in the subclasses."""

    def _request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        raise NotImplementedError

    def health(self):
        return self._request("GET", "/health")

    def merchants(self):
        return self._request("GET", "/merchants")

    def merchant(self, merchant_id: str):
        return self._request("GET", f"/merchants/{merchant_id}")

    def create_merchant(self, name: str, providers: dict[str, dict], merchant_id: str | None = None):
        return self._request("POST", "/merchants", {"name": name, "providers": providers,
                                                     **({"id": merchant_id} if merchant_id else {})})

    def payments(self, **filters):
        return self._request("GET", "/payments", query=filters)

    def payment(self, payment_id: str):
        return self._request("GET", f"/payments/{payment_id}")

    def succeed(self, payment_id: str, **body):
        return self._request("POST", f"/payments/{payment_id}/succeed", body)

    def fail(self, payment_id: str, **body):
        return self._request("POST", f"/payments/{payment_id}/fail", body)

    def close(self, payment_id: str, **body):
        return self._request("POST", f"/payments/{payment_id}/close", body)

    def refund(self, payment_id: str, **body):
        return self._request("POST", f"/payments/{payment_id}/refunds", body)

    def refund_outcome(self, refund_id: str, action: str, **body):
        """action: succeed | fail | close, for a refund held in PROCESSING."""
        return self._request("POST", f"/refunds/{refund_id}/{action}", body)

    def resend(self, payment_id: str, delay_s: float = 0):
        return self._request("POST", f"/payments/{payment_id}/notify", {"delay_s": delay_s})

    def notifications(self, payment_id: str | None = None, **filters):
        return self._request("GET", "/notifications", query={"payment": payment_id, **filters})

    def deliver(self, notification_id: str, delay_s: float = 0):
        return self._request("POST", f"/notifications/{notification_id}/deliver", {"delay_s": delay_s})

    def suppress(self, notification_id: str):
        return self._request("POST", f"/notifications/{notification_id}/suppress")

    def requests(self, **filters):
        """The request journal, newest first: merchant=, provider=, verdict=, path=, payment=, since=, until=,
        limit=, before=."""
        return self._request("GET", "/requests", query=filters)

    def request(self, request_id: str):
        """One journaled request with its headers, bodies, verdict and diagnosis."""
        return self._request("GET", f"/requests/{request_id}")

    def rules(self):
        return self._request("GET", "/rules")

    def add_rule(self, **rule):
        return self._request("POST", "/rules", rule)

    def update_rule(self, rule_id: str, **rule):
        """Replace a rule's name, match and action; it keeps its id, place and hits."""
        return self._request("PUT", f"/rules/{rule_id}", rule)

    def move_rule(self, rule_id: str, position: int):
        """Put a rule at `position` (1: tried first)."""
        return self._request("POST", f"/rules/{rule_id}/move", {"position": position})

    def delete_rules(self):
        return self._request("DELETE", "/rules")

    def clock(self):
        return self._request("GET", "/clock")

    def advance(self, seconds: float, wait: bool = False):
        """Move the sandbox clock forward; wait=True answers only once everything then due is done (expired and
        rule-decided payments changed, due notifications attempted)."""
        return self._request("POST", "/clock/advance", {"seconds": seconds, **({"wait": True} if wait else {})})

    def reset(self):
        return self._request("POST", "/reset")


def _url(base: str, path: str, query: dict | None) -> str:
    query = {k: v for k, v in (query or {}).items() if v is not None}
    return f"{base.rstrip('/')}/_sandbox/api{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _raise_for(status: int, payload: Any) -> None:
    if status >= 400:
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        raise AdminError(status, error.get("code", "HTTP_ERROR"), error.get("message", str(payload)))


class SyncAdminClient(_Calls):
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30):
        self.base_url, self.token, self.timeout = base_url, token, timeout

    def _request(self, method, path, body=None, query=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(_url(self.base_url, path, query), data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        payload = json.loads(raw) if raw else None
        _raise_for(status, payload)
        return payload


class AdminClient(_Calls):
    """async with AdminClient(url) as admin: await admin.succeed(payment_id)"""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url, self.token = base_url, token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "AdminClient":
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(headers=headers)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._session.close()

    async def _request(self, method, path, body=None, query=None):
        async with self._session.request(method, _url(self.base_url, path, query), json=body) as response:
            raw = await response.read()
            payload = json.loads(raw) if raw else None
            _raise_for(response.status, payload)
            return payload
