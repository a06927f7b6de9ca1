"""The partner app's `sign` (sandbox convention; the seed shows only a 32-char lowercase hex value):

MD5 over the body's non-empty fields except `sign`, sorted by name, `k=v` joined with `&`, then `&key=<partner key>`,
as lowercase hex. Values are the text sent: a form field as it is, a JSON number as its digits, true/false as such.

    address_id=1&gift_pos_id=55fca…&pay_type=1&user_id=41840…&key=<key>  →  md5 → sign
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any


def text(value: Any) -> str:
    """How a field's value is written in the signed text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def signed_text(params: Mapping[str, Any], key: str) -> str:
    pairs = [f"{name}={text(value)}" for name, value in sorted(params.items())
             if name != "sign" and value is not None and text(value) != ""]
    return "&".join(pairs + [f"key={key}"])


def sign(params: Mapping[str, Any], key: str) -> str:
    return hashlib.md5(signed_text(params, key).encode("utf-8")).hexdigest()


def verify(params: Mapping[str, Any], key: str) -> bool:
    given = params.get("sign")
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), sign(params, key).encode("ascii"))
