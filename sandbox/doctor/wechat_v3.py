"""APIv3 `Authorization` (WECHATPAY2-SHA256-RSA2048): what the sandbox verified, and which known mistake made the
signature fail. Verifying with a public key costs about 0.05 ms; at most ~20 variants and MAX_OTHER_KEYS keys are
tried, once, on a refused call (about 2 ms when none verifies).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .. import jsonbody
from ..providers.wechat.v3_crypto import AuthorizationError, parse_authorization
from . import MAX_OTHER_KEYS, KnownKey, diagnosis, duration, public_fingerprint, public_key, show

ALGORITHM = "SHA256withRSA (WECHATPAY2-SHA256-RSA2048, PKCS#1 v1.5, base64)"
MAX_SKEW_S = 300
REAL_HOST = "api.mch.weixin.qq.com"
# json.dumps options a client may have re-serialised its body with: (separators, ensure_ascii, sort_keys)
_JSON_STYLES = [(seps, ascii_, sort) for seps in ((", ", ": "), (",", ":")) for ascii_ in (True, False)
                for sort in (False, True)]


def message(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode("utf-8") + body + b"\n"


def known_keys(all_credentials: Iterable[dict], mchid: str | None) -> list[KnownKey]:
    """The other merchants' API certificates and platform keys (public halves only), to name a foreign signer."""
    keys: list[KnownKey] = []
    for creds in all_credentials:
        if not creds or creds.get("mchid") == mchid:
            continue
        for what, pem, serial in (("API", "merchant_certificate_pem", "merchant_serial_no"),
                                  ("platform", "platform_certificate_pem", "platform_serial_no")):
            if creds.get(pem):
                keys.append(KnownKey(f"merchant {creds['mchid']}'s {what} key", creds[pem], creds.get(serial)))
        if len(keys) >= MAX_OTHER_KEYS:
            break
    return keys[:MAX_OTHER_KEYS]


def diagnose(method: str, path_with_query: str, authorization: str | None, body: bytes, creds: dict | None, *,
             host: str = "", others: Sequence[KnownKey] = (), now: float | None = None) -> dict:
    """Why `authorization` does not check out for `METHOD PATH` with these body bytes.

    `creds`: the merchant's WeChat credentials (None when the header names no known merchant); `others`: see
    known_keys; `now`: the sandbox's clock (unix seconds) to judge the timestamp by."""
    key = _key(creds)
    try:
        auth = parse_authorization(authorization)
    except AuthorizationError as exc:
        expected = message(method, path_with_query, "<timestamp>", "<nonce_str>", body)
        return diagnosis(ALGORITHM, show(expected), key, f"the Authorization header is not usable: {exc}",
                         _short(f"Authorization header: {exc}"))
    expected = message(method, path_with_query, auth.timestamp, auth.nonce_str, body)
    if creds is None:
        return diagnosis(ALGORITHM, show(expected), key, f"mchid {auth.mchid} is no merchant of this sandbox",
                         f"unknown mchid {auth.mchid}")
    try:
        signature = base64.b64decode(auth.signature, validate=True)
    except (binascii.Error, ValueError):
        return diagnosis(ALGORITHM, show(expected), key, "the signature is not base64 (standard alphabet, padded)",
                         "signature is not base64")
    if len(signature) != 256:
        return diagnosis(ALGORITHM, show(expected), key,
                         f"the signature is {len(signature)} bytes; an RSA-2048 signature is 256 bytes "
                         "(truncated, hex-encoded, or made with another key size?)",
                         f"signature is {len(signature)} bytes, not 256")
    mine = public_key(creds["merchant_certificate_pem"])
    serial = _serial_problem(auth.serial_no, creds, others)
    skew = None
    if now is not None and abs(int(auth.timestamp) - now) > MAX_SKEW_S:
        offset = int(auth.timestamp) - now
        words = f"{duration(offset)} {'behind' if offset < 0 else 'ahead of'} the sandbox's clock"
        skew = (f"timestamp {auth.timestamp} is {words} (allowed: 5 min); sign with the current unix time",
                f"timestamp {words}")
    if _verifies(mine, signature, expected):
        cause, hint = serial or skew or (None, "the signature verifies")
        if serial or skew:
            cause = "the signature itself is right, but " + cause
        return diagnosis(ALGORITHM, show(expected), key, cause, hint)
    found = _variant(mine, signature, method, path_with_query, auth.timestamp, auth.nonce_str, body, host)
    if found is None:
        found = _foreign_key(signature, expected, creds, others)
    if found is None:
        if serial:
            return diagnosis(ALGORITHM, show(expected), key,
                             serial[0] + "; the signature does not verify with this merchant's key either", serial[1])
        cause = skew[0] + " (and the signature does not verify)" if skew else None
        return diagnosis(ALGORITHM, show(expected), key, cause,
                         skew[1] if skew else "no known mistake verifies; compare with the expected string")
    cause, hint = found
    if serial:
        cause += "; also, " + serial[0]
    return diagnosis(ALGORITHM, show(expected), key, cause, hint)


# --- the mistakes ----------------------------------------------------------------------------------------------

def _variant(mine, signature: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes,
             host: str) -> tuple[str, str] | None:
    for cause, hint, signed in _variants(method, path, timestamp, nonce, body, host):
        if _verifies(mine, signature, signed):
            return cause, hint
    return None


def _variants(method: str, path: str, ts: str, nonce: str, body: bytes, host: str):
    """(cause, hint, the bytes a client with this mistake signed), most common first; each differs from the
    expected string."""
    seen = {message(method, path, ts, nonce, body)}

    def once(cause, hint, signed):
        if signed not in seen:
            seen.add(signed)
            return [(cause, hint, signed)]
        return []

    out = []
    bare = path.split("?", 1)[0]
    if "?" in path:
        out += once(f"the path was signed without its query string ({bare}); sign {path}",
                    "path signed without its query string", message(method, bare, ts, nonce, body))
    urls = [f"https://{REAL_HOST}{path}"]
    if host:
        urls += [f"http://{host}{path}", f"https://{host}{path}", f"{host}{path}"]
    for url in urls:
        out += once(f"the URL was signed with its scheme and host ({url}); sign only the path and query",
                    "URL signed with its host; sign only the path and query", message(method, url, ts, nonce, body))
    decoded = unquote(path)
    out += once(f"the path was signed URL-decoded ({decoded}) but sent encoded; sign it exactly as sent",
                "path signed URL-decoded; sign it as sent", message(method, decoded, ts, nonce, body))
    for safe in ("/?=&", ""):
        encoded = quote(path, safe=safe)
        out += once(f"the path was signed URL-encoded ({encoded}); sign it exactly as sent",
                    "path signed URL-encoded; sign it as sent", message(method, encoded, ts, nonce, body))
    out += once(f"the method was signed as {method.lower()}; sign it in upper case",
                "method signed in lower case", message(method.lower(), path, ts, nonce, body))
    if body.endswith(b"\n"):
        out += once("the body was signed without its trailing newline (the bytes sent end with \\n)",
                    "body signed without its trailing newline",
                    message(method, path, ts, nonce, body.rstrip(b"\r\n")))
    out += once("the signed string lacks the final \\n after the body (every line ends with \\n, the body's too)",
                "signed string lacks the final \\n after the body", message(method, path, ts, nonce, body)[:-1])
    out += once("the body was signed with a trailing newline that the bytes sent do not have",
                "body signed with a trailing newline it does not have", message(method, path, ts, nonce, body + b"\n"))
    if body and method == "GET":
        out += once("the body was left out of the signed string, but the GET request sends one",
                    "body sent but not signed", message(method, path, ts, nonce, b""))
    try:
        parsed = jsonbody.loads(body) if body else None  # bounded: the body is anybody's
    except jsonbody.BodyError:
        parsed = None
    if parsed is not None:
        for seps, ascii_, sort in _JSON_STYLES:
            call = (f"json.dumps(body, separators={seps!r}, ensure_ascii={ascii_}"
                    + (", sort_keys=True)" if sort else ")"))
            dumped = json.dumps(parsed, separators=seps, ensure_ascii=ascii_, sort_keys=sort).encode("utf-8")
            out += once(f"the body was re-serialised: the signature is over {call}, but other bytes were sent; "
                        "sign exactly the bytes you send", "body re-serialised after signing; sign the bytes you send",
                        message(method, path, ts, nonce, dumped))
    return out


def _foreign_key(signature: bytes, expected: bytes, creds: dict, others: Sequence[KnownKey]):
    platform_pem = creds.get("platform_certificate_pem") or creds.get("platform_public_key_pem")
    candidates = [KnownKey("the platform key", platform_pem, creds.get("platform_serial_no"))] if platform_pem else []
    for known in [*candidates, *others[:MAX_OTHER_KEYS]]:
        try:
            key = public_key(known.pem)
        except ValueError:
            continue
        if _verifies(key, signature, expected):
            mchid = creds["mchid"]
            return (f"the request was signed with {known.label} ({public_fingerprint(known.pem)}), not with merchant "
                    f"{mchid}'s API private key (apiclient_key.pem)", f"signed with {known.label}, not yours")
    return None


def _serial_problem(given: str, creds: dict, others: Sequence[KnownKey]) -> tuple[str, str] | None:
    mine = creds["merchant_serial_no"]
    if given.upper() == mine.upper():
        return None
    if given.isdigit() and int(given) == int(mine, 16):
        return (f"serial_no {given} is the certificate serial in decimal; send it as uppercase hex ({mine})",
                "serial_no in decimal; send uppercase hex")
    if given.replace(":", "").replace(" ", "").upper().lstrip("0") == mine.upper().lstrip("0"):
        return (f"serial_no {given} is this certificate's serial written another way; send {mine}",
                f"serial_no written another way; send {mine}")
    if given.upper() == (creds.get("platform_serial_no") or "").upper():
        return (f"serial_no {given} is the platform certificate's serial, not the merchant API certificate's "
                f"({mine})", "serial_no is the platform cert's; use your API cert's")
    if given == creds.get("public_key_id"):
        return (f"serial_no {given} is the platform public key id, not the merchant API certificate's serial "
                f"({mine})", "serial_no is the public key id; use your API cert's")
    for known in others:
        if known.serial and known.serial.upper() == given.upper():
            return (f"serial_no {given} is the serial of {known.label}, not merchant {creds['mchid']}'s API "
                    f"certificate ({mine})", f"serial_no is {known.label}'s")
    return (f"serial_no {given} is not merchant {creds['mchid']}'s API certificate serial ({mine})",
            "serial_no is not your API certificate's")


def _verifies(key, signature: bytes, signed: bytes) -> bool:
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _key(creds: dict | None) -> dict:
    if not creds:
        return {}
    return {"merchant": creds["mchid"], "serial_no": creds["merchant_serial_no"],
            "fingerprint": public_fingerprint(creds["merchant_certificate_pem"])}


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
