"""The partner app's `sign` (sandbox convention: MD5 over the sorted non-empty fields + `&key=`, lower-case hex):
the string verified, the partner key, and the mistake."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..apps.partner.signing import text
from . import md5sign, secret_fingerprint

ALGORITHM = "MD5 over sorted k=v&…&key=KEY, lower-case hex"


def keep(value: Any) -> bool:
    return value is not None and text(value) != ""


def diagnose(fields: Mapping[str, Any], creds: dict, merchant_id: str | None = None) -> dict:
    """Why fields["sign"] is refused for the partner of `creds` (its partner-app settings, with its `key`)."""
    key = creds.get("key") or ""
    return md5sign.diagnose(
        fields, key, render=text, keep=keep, case="lower", algorithm=ALGORITHM,
        key_info={"merchant": merchant_id, "key": "the partner key", "fingerprint": secret_fingerprint(key)},
        key_label="the partner key")
