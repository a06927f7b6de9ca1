"""QuickPay request `sign` (sandbox convention: WeChat v2's MD5 over the sorted non-empty fields + `&key=`, any
hex case): the string verified, the store's key, and the mistake."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..providers.quickpay.wire import sign_value
from . import md5sign, secret_fingerprint

ALGORITHM = "MD5 over sorted k=v&…&key=KEY (upper- or lower-case hex)"


def keep(value: Any) -> bool:
    """The fields that take part: not null, not an empty string, list or object."""
    return value is not None and value != [] and value != {} and sign_value(value) != ""


def diagnose(fields: Mapping[str, Any], creds: dict) -> dict:
    """Why fields["sign"] is refused for the store of `creds` (its QuickPay credentials, with its `key`)."""
    key = creds.get("key") or ""
    return md5sign.diagnose(
        fields, key, render=sign_value, keep=keep, case="any", algorithm=ALGORITHM,
        key_info={"store_no": creds.get("store_no"), "key": "the store's sign key",
                  "fingerprint": secret_fingerprint(key)}, key_label="the store's sign key")
