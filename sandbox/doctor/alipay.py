"""Alipay gateway request `sign` (RSA2 = SHA256withRSA, RSA = SHA1withRSA over the sorted `k=v&…` of every parameter
but sign): the string verified, the app key, and the mistake. At most ~10 variants and MAX_OTHER_KEYS keys.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, quote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ..providers.alipay.signing import REQUEST_EXCLUDE, signing_string
from . import MAX_OTHER_KEYS, KnownKey, diagnosis, public_fingerprint, public_key, show

ALGORITHMS = {"RSA2": "RSA2 (SHA256withRSA, PKCS#1 v1.5, base64)", "RSA": "RSA (SHA1withRSA, PKCS#1 v1.5, base64)"}
_HASHES = {"RSA2": hashes.SHA256, "RSA": hashes.SHA1}
_CODECS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}


def known_keys(all_credentials: Iterable[dict], app_id: str | None) -> list[KnownKey]:
    """The other apps' public keys, to name a foreign signer."""
    keys = [KnownKey(f"app {c['app_id']}'s key", c["app_public_key_pem"]) for c in all_credentials
            if c and c.get("app_public_key_pem") and c.get("app_id") != app_id]
    return keys[:MAX_OTHER_KEYS]


def diagnose(params: Mapping[str, str], creds: dict, *, others: Sequence[KnownKey] = ()) -> dict:
    """Why params["sign"] does not verify with the app public key in `creds` (the merchant's Alipay credentials);
    params are the request's parameters as the gateway decoded them (query and form merged)."""
    sign_type = params.get("sign_type") or "RSA2"
    charset = _CODECS.get((params.get("charset") or "utf-8").strip().lower(), "utf-8")
    expected = signing_string(params, REQUEST_EXCLUDE)
    pem = creds.get("app_public_key_pem") or ""
    key = {"app_id": creds.get("app_id"), "key": "the app public key",
           "fingerprint": public_fingerprint(pem) if pem else None}
    algorithm = ALGORITHMS.get(sign_type, sign_type) + f", text in {charset}"

    def result(cause, hint):
        return diagnosis(algorithm, show(expected), key, cause, hint)

    if not pem:
        return result("this app has no app public key in the sandbox", "no app public key set")
    try:
        signature = base64.b64decode(params.get("sign") or "")
    except (binascii.Error, ValueError):
        return result("sign is not base64", "sign is not base64")
    if len(signature) != 256:
        return result(f"sign is {len(signature)} bytes; an RSA-2048 signature is 256 bytes (was it cut, or "
                      "URL-decoded twice so '+' became a space?)", f"sign is {len(signature)} bytes, not 256")
    app = public_key(pem)
    if _verifies(app, signature, expected.encode(charset, "replace"), sign_type):
        return result(None, "the sign verifies")
    for cause, hint, text, algo in _variants(params, expected, sign_type, charset):
        if _verifies(app, signature, text, algo):
            return result(cause, hint)
    candidates = []
    if creds.get("alipay_public_key_pem"):
        candidates.append(KnownKey("the Alipay key pair (whose public half you hold as the Alipay public key)",
                                   creds["alipay_public_key_pem"]))
    for known in [*candidates, *others[:MAX_OTHER_KEYS]]:
        try:
            other = public_key(known.pem)
        except ValueError:
            continue
        if _verifies(other, signature, expected.encode(charset, "replace"), sign_type):
            return result(f"signed with {known.label} ({public_fingerprint(known.pem)}), not with app "
                          f"{creds.get('app_id')}'s private key (the app public key is {key['fingerprint']})",
                          f"signed with {known.label.split(' (')[0]}, not your app key")
    return result(f"no known mistake verifies: check that the app private key is the pair of the app public key "
                  f"{key['fingerprint']}, and the signed text against the expected string",
                  f"no known mistake; is your key the pair of {key['fingerprint'][:19]}…?")


def _variants(params: Mapping[str, str], expected: str, sign_type: str, charset: str):
    """(cause, hint, bytes signed, sign type used) for each known mistake."""
    out = []
    other = "RSA" if sign_type == "RSA2" else "RSA2"
    data = expected.encode(charset, "replace")
    out.append((f"signed with {ALGORITHMS[other].split(',')[0]} while sign_type says {sign_type}",
                f"signed with {other} but sign_type={sign_type}", data, other))
    if params.get("sign_type"):
        without = signing_string(params, ("sign", "sign_type")).encode(charset, "replace")
        out.append(("sign_type was left out of the signed string; a request signs every parameter but sign "
                    "(only notifies leave sign_type out)", "sign_type left out of the signed string", without,
                    sign_type))
    for codec in ("gbk", "utf-8"):
        if codec != charset:
            try:
                text = expected.encode(codec)
            except UnicodeEncodeError:
                continue
            if text != data:
                out.append((f"the text was signed as {codec.upper()} bytes while charset={params.get('charset') or 'utf-8'}"
                            f"; sign the bytes of the declared charset", f"signed as {codec.upper()} but charset is "
                            f"{charset.upper()}", text, sign_type))
    empties = sorted(k for k, v in params.items() if k not in REQUEST_EXCLUDE and v == "")
    if empties:
        text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in REQUEST_EXCLUDE)
        out.append((f"empty parameters ({', '.join(empties)}) were signed; leave out empty values",
                    "empty parameters were signed; leave them out", text.encode(charset, "replace"), sign_type))
    for encode in (lambda v: quote_plus(v, encoding=charset), lambda v: quote(v, safe="", encoding=charset)):
        text = "&".join(f"{k}={encode(v)}" for k, v in sorted(params.items())
                        if k not in REQUEST_EXCLUDE and v not in (None, ""))
        if text != expected:
            out.append(("the values were URL-encoded before signing; sign the raw values, then encode the request",
                        "values URL-encoded before signing; sign the raw values", text.encode(charset, "replace"),
                        sign_type))
    return out


def _verifies(key, signature: bytes, data: bytes, sign_type: str) -> bool:
    try:
        key.verify(signature, data, padding.PKCS1v15(), _HASHES.get(sign_type, hashes.SHA256)())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
