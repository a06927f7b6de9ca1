"""The request journal as the console and the admin API show it: filters from a query string, an entry as JSON,
its bodies as text, and the entry as a curl command that sends the same request again."""
from __future__ import annotations

import base64
import re
import shlex
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..core import errors
from ..core.journal import VERDICTS

COUNT_BOUND = 10_000  # lists count matches up to this many ("10,000+ requests")
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CHARSET = re.compile(r"charset=([\w.-]+)", re.I)
SKIPPED_IN_CURL = frozenset({"host", "content-length"})  # curl sets these itself


def bad_query(message: str) -> errors.Refused:
    return errors.Refused(message, "INVALID_QUERY", 400)


def parse_time(value: str, now: float, zone: ZoneInfo) -> float:
    """Sandbox epoch seconds from `1733212800` (epoch), `15m` / `2h` / `1d` (that long before now), or ISO 8601
    (`2026-12-02T16:00:00+08:00`; without an offset, in the display zone)."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_query(f"unknown time {value!r}: give epoch seconds, 15m / 2h / 1d ago, or ISO 8601") from None
    return (when if when.tzinfo else when.replace(tzinfo=zone)).timestamp()


def filters(query: Mapping[str, str], providers: list[str], now: float, zone: ZoneInfo) -> dict[str, Any]:
    """store.journal.search's keyword arguments from a query string (merchant, provider, verdict, path, payment,
    since, until); raises errors.Refused (INVALID_QUERY) on an unknown provider, verdict or time."""
    out: dict[str, Any] = {}
    for name, key in (("merchant", "merchant_id"), ("path", "path"), ("payment", "payment_id")):
        if query.get(name, "").strip():
            out[key] = query[name].strip()
    provider = query.get("provider", "").strip()
    if provider:
        if provider not in providers:
            raise bad_query(f"unknown provider {provider!r}: provider must be one of {providers}")
        out["provider"] = provider
    verdict = query.get("verdict", "").strip().lower()
    if verdict:
        if verdict not in VERDICTS:
            raise bad_query(f"unknown verdict {verdict!r}: verdict must be one of {list(VERDICTS)}")
        out["verdict"] = verdict
    for name in ("since", "until"):
        if query.get(name, "").strip():
            out[name] = parse_time(query[name], now, zone)
    return out


def total_text(total: int) -> str:
    return f"{COUNT_BOUND:,}+ requests" if total > COUNT_BOUND else f"{total:,} request{'' if total == 1 else 's'}"


def summary_json(row: dict[str, Any]) -> dict[str, Any]:
    """A list row: everything but headers, bodies and the diagnosis."""
    out = {k: v for k, v in row.items() if k != "seq"}
    out["url"] = row["path"] + (f"?{row['query']}" if row["query"] else "")
    return out


def _charset(headers: list[list[str]]) -> str | None:
    for name, value in headers:
        if name.lower() == "content-type":
            found = _CHARSET.search(value)
            return found.group(1).lower() if found else None
    return None


def body_text(body: bytes, headers: list[list[str]]) -> str:
    """The body as text: in its declared charset (Alipay's GBK …), else UTF-8; undecodable bytes as \\xNN."""
    for charset in filter(None, (_charset(headers), "utf-8")):
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "backslashreplace")


def _message(headers: list[list[str]], body: bytes, size: int) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"headers": headers, "body": text, "body_base64": base64.b64encode(body).decode("ascii"),
            "size": size, "kept": len(body), "truncated": len(body) < size}


def entry_json(row: dict[str, Any]) -> dict[str, Any]:
    """One entry, all of it: `request` and `response` each with headers ([name, value] in order), body (UTF-8 text,
    or null when it is not UTF-8), body_base64 (the exact bytes kept), size (the real size), kept (bytes kept) and
    truncated."""
    out = summary_json(row)
    for part in ("request", "response"):
        out[part] = _message(row[f"{part}_headers"], bytes(row[f"{part}_body"]), row[f"{part}_size"])
        for key in (f"{part}_headers", f"{part}_body", f"{part}_size"):
            out.pop(key, None)
    return out


def curl(row: dict[str, Any], base_url: str) -> str:
    """The request as a curl command against this sandbox (a body cut at the cap is sent as far as it was kept)."""
    url = base_url.rstrip("/") + row["path"] + (f"?{row['query']}" if row["query"] else "")
    parts = ["curl", "-X", row["method"], shlex.quote(url)]
    for name, value in row["request_headers"]:
        if name.lower() not in SKIPPED_IN_CURL:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = bytes(row["request_body"])
    prefix = ""
    if body:
        try:
            parts += ["--data-binary", shlex.quote(body.decode("utf-8"))]
        except UnicodeDecodeError:  # GBK and other bytes: through base64, exactly
            prefix = f"printf %s {base64.b64encode(body).decode('ascii')} | base64 -d | "
            parts += ["--data-binary", "@-"]
    note = "" if len(body) >= row["request_size"] else \
        f"# the body was {row['request_size']} bytes; the journal kept the first {len(body)}\n"
    return note + prefix + " ".join(parts)
