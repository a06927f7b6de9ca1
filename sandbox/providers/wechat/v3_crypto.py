"""WeChat Pay APIv3 wire cryptography: request authentication, response/notify signing, AEAD resources.

Pure functions over bytes and the credentials dict of credentials.py; no I/O, no event loop. RSA calls cost about a
millisecond each, so async callers may run them in a thread when hot.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .credentials import random_string, response_serial

SCHEME = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
CHINA_TZ = timezone(timedelta(hours=8))  # the real API writes every time in +08:00
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
_AUTH_PARAM = re.compile(r'\s*([A-Za-z_]+)="([^"]*)"\s*(?:,|$)')
_EVENT_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}


class AuthorizationError(ValueError):
    """The Authorization header is missing, of another scheme, or malformed."""


@dataclass(frozen=True)
class Authorization:
    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


# --- requests ------------------------------------------------------------------------------------------------------

def parse_authorization(header: str | None) -> Authorization:
    """Parse `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…`; the order of the fields does not matter."""
    if not header or not header.strip():
        raise AuthorizationError("missing Authorization header")
    scheme, _, params = header.strip().partition(" ")
    if scheme != SCHEME:
        raise AuthorizationError(f"unsupported authorization scheme {scheme!r}, expected {SCHEME}")
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(params):
        match = _AUTH_PARAM.match(params, pos)
        if not match or match.end() == pos:
            raise AuthorizationError(f"malformed Authorization parameters near {params[pos:pos + 20]!r}")
        name, value = match.groups()
        if name in fields:
            raise AuthorizationError(f"duplicate Authorization parameter {name!r}")
        fields[name] = value
        pos = match.end()
    missing = [name for name in _AUTH_FIELDS if not fields.get(name)]
    if missing:
        raise AuthorizationError("Authorization lacks " + ", ".join(missing))
    if not fields["timestamp"].isdigit():
        raise AuthorizationError("Authorization timestamp is not unix seconds")
    return Authorization(**{name: fields[name] for name in _AUTH_FIELDS})


def verify_request(credentials: dict, method: str, path_with_query: str, timestamp: str | int, nonce: str,
                   body_bytes: bytes, signature_b64: str) -> bool:
    """Check the merchant's signature over `METHOD\\nPATH\\nTS\\nNONCE\\nBODY\\n`, on the raw bytes received.

    Returns False, never raises, for any bad input from the wire (bad base64, odd bytes, wrong key).
    """
    public_key = _certificate(credentials["merchant_certificate_pem"]).public_key()  # a broken store should raise
    try:
        message = f"{method}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode("utf-8") + bytes(body_bytes) + b"\n"
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, TypeError, UnicodeError):
        return False
    return True


# --- responses and notifies ----------------------------------------------------------------------------------------

def sign_response_headers(credentials: dict, body_bytes: bytes, timestamp: int, nonce: str | None = None,
                          request_id: str | None = None) -> dict[str, str]:
    """Headers that make a response (any status, empty 204 body included) or a notify pass the SDKs' checks.

    Content-Type is the caller's: a 204 has none, JSON answers `application/json; charset=utf-8`.
    """
    nonce = nonce or secrets.token_hex(16)
    message = f"{int(timestamp)}\n{nonce}\n".encode("utf-8") + bytes(body_bytes) + b"\n"
    signature = _private_key(credentials["platform_private_key_pem"]).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Timestamp": str(int(timestamp)),
        "Wechatpay-Signature": base64.b64encode(signature).decode("ascii"),
        "Wechatpay-Serial": response_serial(credentials),
        "Wechatpay-Signature-Type": SCHEME,  # wechatpayv3 raises when it is absent
        "Request-ID": request_id or secrets.token_hex(18).upper(),
    }


def json_bytes(obj) -> bytes:
    """The one serialisation for signed bodies: sign exactly the bytes you send."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encrypt_resource(apiv3_key: str, plaintext: str, associated_data: str, nonce: str | None = None) -> dict:
    """AEAD_AES_256_GCM as the real API: key = the 32 ASCII chars of the APIv3 key, ciphertext = base64(ct‖tag)."""
    nonce = nonce or random_string(12)
    sealed = AESGCM(_aes_key(apiv3_key)).encrypt(
        nonce.encode("utf-8"), plaintext.encode("utf-8"), associated_data.encode("utf-8"))
    return {
        "algorithm": ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_resource(apiv3_key: str, resource: dict) -> str:
    """Inverse of encrypt_resource (takes its dict, or a notify's `resource`); ValueError when it does not open."""
    try:
        return AESGCM(_aes_key(apiv3_key)).decrypt(
            resource["nonce"].encode("utf-8"),
            base64.b64decode(resource["ciphertext"]),
            (resource.get("associated_data") or "").encode("utf-8"),
        ).decode("utf-8")
    except (InvalidTag, binascii.Error) as exc:
        raise ValueError("resource does not decrypt with this APIv3 key") from exc


def certificates_payload(credentials: dict, now: datetime) -> dict:
    """Body of `GET /v3/certificates`: the platform certificates valid at `now`, each encrypted with the APIv3 key."""
    cert_pem = credentials["platform_certificate_pem"]
    certificate = _certificate(cert_pem)
    data = []
    if certificate.not_valid_before_utc <= _aware(now) <= certificate.not_valid_after_utc:
        data.append({
            "serial_no": credentials["platform_serial_no"],
            "effective_time": rfc3339(certificate.not_valid_before_utc),
            "expire_time": rfc3339(certificate.not_valid_after_utc),
            "encrypt_certificate": encrypt_resource(credentials["apiv3_key"], cert_pem, "certificate"),
        })
    return {"data": data}


def notify_body(apiv3_key: str, resource: dict, event_type: str, create_time: datetime | float,
                summary: str | None = None, original_type: str | None = None,
                associated_data: str | None = None, notify_id: str | None = None,
                nonce: str | None = None) -> dict:
    """The JSON envelope of a v3 notify; `resource` is the plaintext (the transaction or refund query object).

    original_type defaults from the event (TRANSACTION.* → transaction, REFUND.* → refund) and doubles as
    associated_data, as in real notifies. Sign json_bytes(result) with sign_response_headers.
    """
    original_type = original_type or event_type.split(".", 1)[0].lower()
    associated_data = original_type if associated_data is None else associated_data
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    encrypted = encrypt_resource(apiv3_key, plaintext, associated_data, nonce)
    return {
        "id": notify_id or str(uuid.uuid4()),
        "create_time": rfc3339(create_time),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary or _EVENT_SUMMARIES.get(event_type, event_type),
        "resource": {"original_type": original_type, **encrypted},
    }


def rfc3339(when: datetime | float) -> str:
    """`2024-05-01T12:00:00+08:00`: the real API's time format (naive datetimes are taken as UTC)."""
    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(when, timezone.utc)
    return _aware(when).astimezone(CHINA_TZ).isoformat(timespec="seconds")


# --- helpers -------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key(pem.encode("ascii"), password=None)


@lru_cache(maxsize=512)
def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _aes_key(apiv3_key: str) -> bytes:
    key = apiv3_key.encode("utf-8")
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    return key


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
