"""The signature doctor (issue 12): for a signature the sandbox refused, what it expected and the likely mistake.

One module per provider (wechat_v3, wechat_v2, alipay, quickpay, partner), each a pure `diagnose(...)` over the raw
request parts and the merchant's credentials, answering the dict of `diagnosis()`. It runs only once a signature has
been refused (never on the accepted path) and tries a bounded list of known mistakes against the real signature.
The adapters hand the result to the request journal with `note_rejected` and add `wire_hint()` to the answer's
free-text field. Nothing here ever puts a private key or a symmetric key's value into its output: keys are named
(merchant, serial, key id) and fingerprinted.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..access_log import journal_id, note_rejected

WHERE = "/_sandbox/requests"
HINT_LIMIT = 120  # characters of the whole " [sandbox hint: …]" marker
MAX_OTHER_KEYS = 32  # other merchants' keys tried, at most
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class KnownKey:
    """A public key the sandbox knows besides the merchant's own: `label` names it in a cause ("the platform key",
    "merchant 1900000002's API key"), `pem` is a certificate or a public key (never a private one)."""
    label: str
    pem: str
    serial: str | None = None


def diagnosis(algorithm: str, expected_string: str, key: dict, cause: str | None, hint: str) -> dict:
    return {"algorithm": algorithm, "expected_string": expected_string, "key": key, "cause": cause, "hint": hint}


def show(text: str | bytes) -> str:
    """The text with control characters escaped (\\n, \\r, \\t, \\xNN) so an invisible difference is visible."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def public_fingerprint(pem: str) -> str:
    """SHA256 over the DER SubjectPublicKeyInfo (what `openssl pkey -pubin -outform DER | sha256sum` prints)."""
    der = public_key(pem).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def secret_fingerprint(secret: str) -> str:
    """A symmetric key named without its value: the first 16 hex digits of SHA256 over its UTF-8 bytes."""
    return "SHA256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=512)
def public_key(pem: str):
    """A public key from a certificate PEM, a public key PEM or a bare base64 DER public key (Alipay style)."""
    text = pem.strip()
    if "BEGIN CERTIFICATE" in text:
        return x509.load_pem_x509_certificate(text.encode("ascii")).public_key()
    if text.startswith("-----BEGIN"):
        return serialization.load_pem_public_key(text.encode("ascii"))
    return serialization.load_der_public_key(base64.b64decode(text))


def wire_hint(found: dict | None) -> str:
    """` [sandbox hint: …; request req_…]` (the journal entry; `see /_sandbox/requests` when the request is not
    journaled), at most HINT_LIMIT characters, to append to a free-text field."""
    if not found:
        return ""
    entry = journal_id()
    tail = f"; request {entry}]" if entry else f"; see {WHERE}]"
    head = " [sandbox hint: "
    room = HINT_LIMIT - len(head) - len(tail)
    hint = found.get("hint") or "see the expected string"
    if len(hint) > room:
        hint = hint[:room - 1] + "…"
    return head + hint + tail


def refused(code: str, reason: str, found: dict | None) -> str:
    """Hand the diagnosis to the request journal; answers the wire hint to append."""
    note_rejected(code, reason, found)
    return wire_hint(found)


def duration(seconds: float) -> str:
    """`3 h 2 min 5 s`: a span of time in words (whole seconds)."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")) if n]
    return " ".join(parts) or "0 s"
