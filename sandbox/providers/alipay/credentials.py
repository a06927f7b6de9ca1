"""Alipay merchant credentials: ids and the two RSA key pairs, plus the key formats the SDKs want.

Per merchant there are two pairs. The *app* pair belongs to the merchant (the sandbox keeps the private half
only to hand it to the demo merchant; it verifies requests with the public half). The *Alipay* pair is the
sandbox playing Alipay: it signs responses and notifies, and the merchant verifies with the public half.
"""
from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


def new_credentials(app_id: str | None = None) -> dict:
    """Fresh, JSON-serialisable credentials for one merchant."""
    app_private, app_public = _new_key_pair()
    alipay_private, alipay_public = _new_key_pair()
    seller_id = "2088" + _digits(12)
    return {
        "app_id": app_id or "2021" + _digits(12),
        "app_private_key_pem": app_private,
        "app_public_key_pem": app_public,
        "alipay_private_key_pem": alipay_private,
        "alipay_public_key_pem": alipay_public,
        "seller_id": seller_id,
        "seller_email": f"seller{seller_id[-6:]}@sandbox.example.com",
    }


def lookup_keys(credentials: dict) -> list[str]:
    """The values an inbound request is matched on (the gateway finds the merchant by app_id)."""
    return [credentials["app_id"]]


def bare_key(pem: str) -> str:
    """The one-line base64 body the official SDK (alipay-sdk-python) takes, without PEM markers.

    That SDK wraps a private key in "BEGIN RSA PRIVATE KEY" markers itself, so private keys come out
    as PKCS#1 whatever the input format; public keys come out as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY").
    """
    data = pem.encode()
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    else:
        key = serialization.load_pem_public_key(data)
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def python_sdk_config(credentials: dict) -> dict:
    """Keyword arguments for python-alipay-sdk's `AliPay(...)` (it takes PEM strings)."""
    return {
        "appid": credentials["app_id"],
        "app_private_key_string": credentials["app_private_key_pem"],
        "alipay_public_key_string": credentials["alipay_public_key_pem"],
        "sign_type": "RSA2",
    }


def official_sdk_config(credentials: dict) -> dict:
    """Values for alipay-sdk-python's `AlipayClientConfig` attributes (bare base64 keys)."""
    return {
        "app_id": credentials["app_id"],
        "app_private_key": bare_key(credentials["app_private_key_pem"]),
        "alipay_public_key": bare_key(credentials["alipay_public_key_pem"]),
        "sign_type": "RSA2",
    }


def _new_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    # PKCS#1 private PEM: both python-alipay-sdk (pycryptodome) and most merchant tooling read it.
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return private_pem, public_pem


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))
