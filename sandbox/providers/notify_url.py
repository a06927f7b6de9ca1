"""notify_url where it enters: what the real providers refuse, and what they would refuse only in production.

Each adapter calls `problem()` on a create (and refund) request's notify_url and answers what is wrong in its own
error shape; the limits are the providers' own (WeChat APIv3 255 characters, v2 and Alipay 256, QuickPay 256 by the
sandbox's choice: its documents give none). On top of the providers' checks the sandbox refuses a user name or
password in the URL (`http://user:pass@host/`): a notify must not carry credentials.

A real provider also refuses what a sandbox beside the merchant must accept: WeChat APIv3 wants https, and no provider
can reach localhost, a private address or a bare machine name. `production_notes()` says so on the payment's
timeline, so the integrator learns it before production does.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# The pattern WeChat APIv3 checks notify_url against (quoted in its PARAM_ERROR message).
WECHAT_V3_PATTERN = r"^https?://([^\s/?#\[\]\@]+\@)?([^\s/?#\@:]+)(?::\d{2,5})?([^\s?#\[\]]*)$"
WECHAT_V3_MAX, WECHAT_V2_MAX, ALIPAY_MAX, QUICKPAY_MAX = 255, 256, 256, 256


def problem(url: str, *, max_length: int, query_allowed: bool = True) -> str | None:
    """What makes `url` unacceptable as a notify_url (in plain words), or None."""
    if len(url) > max_length:
        return f"longer than {max_length} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7f for c in url):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "\\" in url:
        return "not an absolute http(s) URL"
    if "@" in parts.netloc:
        return "must not carry a user name or password"
    if not query_allowed and ("?" in url or "#" in url):
        return "must not carry query parameters"
    return None


def wechat_v3_problem(url: str) -> str | None:
    """APIv3's check: its pattern (no query, no fragment), 255 characters, and no credentials."""
    found = problem(url, max_length=WECHAT_V3_MAX, query_allowed=False)
    if found is None and not re.fullmatch(WECHAT_V3_PATTERN, url):
        found = "does not match the pattern"
    return found


def production_notes(url: str, provider: str, *, https_required: bool = False) -> list[str]:
    """What the real `provider` would refuse about an accepted notify_url (http where https is required, a host it
    cannot reach from the internet); [] when nothing."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    notes = []
    if https_required and parts.scheme.lower() == "http":
        notes.append(f"notify_url {url} is http: {provider} accepts only https in production (the sandbox delivers "
                     "over http)")
    if _local(host):
        notes.append(f"notify_url host {host} is not reachable from the internet: {provider} cannot deliver there in "
                     "production (the sandbox runs beside you and does)")
    return notes


def _local(host: str) -> bool:
    if host in ("localhost",) or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host  # a bare machine name (a Docker service, a LAN host)
    return not ip.is_global


async def note_production(engine, payment_id: str, url: str | None, provider: str, *,
                          https_required: bool = False) -> None:
    """Put production_notes() on the payment's timeline (an engine event)."""
    if url:
        for text in production_notes(url, provider, https_required=https_required):
            await engine.note(payment_id, text, {"notify_url": url})
