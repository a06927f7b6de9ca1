"""WeChat Pay credentials of one sandbox merchant: the merchant's keys and the sandbox's own (platform) keys.

The dict is JSON-serialisable on purpose: it is what the store keeps, what fixtures hold and what the console shows.
"""
from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MODES = ("certificate", "public-key")
_ALNUM = string.ascii_letters + string.digits
CERT_VALIDITY = timedelta(days=5 * 365)


def new_credentials(mode: str = "certificate", mchid: str | None = None, appid: str | None = None) -> dict:
    """Fresh credentials for one merchant (two RSA-2048 key pairs, ~0.1-0.3 s)."""
    if mode not in MODES:
        raise ValueError(f"unknown WeChat signing mode {mode!r}; expected one of {MODES}")
    mchid = mchid or "1" + "".join(secrets.choice(string.digits) for _ in range(9))
    appid = appid or "wx" + secrets.token_hex(8)

    merchant_key = _new_key()
    merchant_cert = _self_signed(merchant_key, common_name=mchid, organisation=f"Sandbox merchant {mchid}")
    platform_key = _new_key()
    platform_cert = _self_signed(platform_key, common_name="Sandbox WeChat Pay platform", organisation="Payment sandbox")

    return {
        "mode": mode,
        "mchid": mchid,
        "appids": [appid],
        "merchant_private_key_pem": _private_pem(merchant_key),
        "merchant_certificate_pem": _cert_pem(merchant_cert),
        "merchant_serial_no": serial_hex(merchant_cert),
        "apiv3_key": random_string(32),
        "v2_key": random_string(32),
        "platform_private_key_pem": _private_pem(platform_key),
        "platform_certificate_pem": _cert_pem(platform_cert),
        "platform_serial_no": serial_hex(platform_cert),
        # Real ids are PUB_KEY_ID_ + 32 digits; embedding the mchid keeps them unique and recognisable.
        "public_key_id": "PUB_KEY_ID_01" + mchid.rjust(10, "0")[-10:] + "".join(
            secrets.choice(string.digits) for _ in range(20)),
        "platform_public_key_pem": platform_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii"),
    }


def lookup_keys(credentials: dict) -> list[str]:
    """The ids a request names this merchant by (Authorization mchid="…")."""
    return [credentials["mchid"]]


def response_serial(credentials: dict) -> str:
    """The Wechatpay-Serial the SDKs expect: the platform certificate serial, or the public key id."""
    if credentials["mode"] == "public-key":
        return credentials["public_key_id"]
    return credentials["platform_serial_no"]


def serial_hex(certificate: x509.Certificate) -> str:
    """Uppercase hex without leading zeros: exactly what wechatpayv3 builds with hex(serial)[2:].upper()."""
    return format(certificate.serial_number, "X")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _self_signed(key: rsa.RSAPrivateKey, common_name: str, organisation: str) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Payment sandbox (not a real WeChat Pay key)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial_number())
        .not_valid_before(now - timedelta(days=1))  # tolerate clients whose clock is a little behind
        .not_valid_after(now + CERT_VALIDITY)
        .sign(key, hashes.SHA256())
    )


def _serial_number() -> int:
    # In [2**156, 2**159): always 40 hex digits with no leading zero (like real serials), and within the 20-octet
    # positive limit of X.509, so the hex string and hex(int) agree both ways.
    return 2**156 + secrets.randbelow(2**159 - 2**156)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    # PKCS#8 "BEGIN PRIVATE KEY", the format of apiclient_key.pem and the one wechatpayv3's formatter assumes.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _cert_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def random_string(length: int) -> str:
    """Letters and digits, as WeChat's keys and nonces are made of: uniform, from one urandom read (not one per
    character; a nonce is drawn for every v2 answer)."""
    chars: list[str] = []
    while len(chars) < length:
        # 248 = 4 × 62: bytes above it are skipped so every character is equally likely
        chars += [_ALNUM[b % 62] for b in secrets.token_bytes(length + 8) if b < 248]
    return "".join(chars[:length])
