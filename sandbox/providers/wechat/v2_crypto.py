"""WeChat Pay v2 wire format: MD5 / HMAC-SHA256 signatures, flat `<xml>` bodies, encrypted refund-notify req_info,
and the APP pay parameters a merchant backend hands its app.

Pure functions; the only parser is defusedxml with DTDs, entities and external references forbidden.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from xml.etree.ElementTree import ParseError

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .credentials import random_string

SIGN_TYPES = ("MD5", "HMAC-SHA256")
MAX_XML_BYTES = 64 * 1024
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class XmlError(ValueError):
    """A v2 body that is not a small, flat, DTD-free `<xml>` document (answer: XML格式错误)."""


# --- signatures ----------------------------------------------------------------------------------------------------

def sign(params: dict, key: str, sign_type: str = "MD5") -> str:
    """Sorted non-empty params except `sign`, `k=v&…&key=KEY`, MD5 or HMAC-SHA256 (keyed with KEY), uppercase hex."""
    pairs = sorted((k, str(v)) for k, v in params.items() if k != "sign" and v is not None and str(v) != "")
    message = ("&".join(f"{k}={v}" for k, v in pairs) + f"&key={key}").encode("utf-8")
    if sign_type == "MD5":
        return hashlib.md5(message).hexdigest().upper()
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unsupported sign_type {sign_type!r}, expected one of {SIGN_TYPES}")


def verify(params: dict, key: str) -> bool:
    """Check params["sign"] with the params' own sign_type (MD5 when absent); False for an unknown sign_type."""
    sign_type = params.get("sign_type") or "MD5"
    given = params.get("sign")
    if sign_type not in SIGN_TYPES or not isinstance(given, str):
        return False
    # Bytes: compare_digest refuses non-ASCII str, and `given` comes from the wire.
    return hmac.compare_digest(sign(params, key, sign_type).encode("ascii"), given.encode("utf-8", "replace"))


# --- XML -----------------------------------------------------------------------------------------------------------

def parse_xml(body: bytes, max_bytes: int = MAX_XML_BYTES) -> dict[str, str]:
    """`<xml><k>v</k>…</xml>` (CDATA or not) → {k: v}. Raises XmlError for anything else."""
    return _parse_flat(body, "xml", max_bytes)


def to_xml(params: dict) -> bytes:
    """{k: v} → `<xml><k><![CDATA[v]]></k>…</xml>` in UTF-8; None values are left out."""
    return f"<xml>{_elements(params)}</xml>".encode("utf-8")


def _parse_flat(body: bytes, root_tag: str, max_bytes: int) -> dict[str, str]:
    if len(body) > max_bytes:
        raise XmlError(f"XML body larger than {max_bytes} bytes")
    if not body.strip():
        raise XmlError("empty XML body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:  # DTD, entity declaration, external reference
        raise XmlError(f"forbidden XML construct: {exc}") from exc
    except (ParseError, UnicodeError, ValueError) as exc:
        raise XmlError(f"malformed XML: {exc}") from exc
    if root.tag != root_tag:
        raise XmlError(f"root element must be <{root_tag}>, not <{root.tag}>")
    if (root.text or "").strip():
        raise XmlError(f"text directly inside <{root_tag}>")
    params: dict[str, str] = {}
    for child in root:
        if len(child):
            raise XmlError(f"<{child.tag}> must hold text, not elements")
        if child.tag in params:
            raise XmlError(f"<{child.tag}> appears twice")
        if (child.tail or "").strip():
            raise XmlError(f"text after <{child.tag}>")
        params[child.tag] = child.text or ""
    return params


def _elements(params: dict) -> str:
    out = []
    for key, value in params.items():
        if value is None:
            continue
        if not isinstance(key, str) or not _TAG.match(key):
            raise ValueError(f"{key!r} is not a valid XML element name")
        text = str(value)
        if _NOT_XML_CHAR.search(text):
            raise ValueError(f"value of {key!r} holds a character XML cannot carry")
        # "]]>" would end the section early: split it across two CDATA sections.
        out.append(f"<{key}><![CDATA[{text.replace(']]>', ']]]]><![CDATA[>')}]]></{key}>")
    return "".join(out)


# --- refund notify req_info ----------------------------------------------------------------------------------------

def encrypt_req_info(v2_key: str, inner_params: dict) -> str:
    """base64(AES-256-ECB(key = md5(API key) as 32 lowercase hex chars, PKCS#7, `<root>…</root>`))."""
    padder = padding.PKCS7(128).padder()
    plain = padder.update(f"<root>{_elements(inner_params)}</root>".encode("utf-8")) + padder.finalize()
    encryptor = _req_info_cipher(v2_key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt_req_info(v2_key: str, req_info: str) -> dict[str, str]:
    """Inverse of encrypt_req_info; ValueError when it does not decrypt to a flat `<root>` document."""
    try:
        data = base64.b64decode(req_info, validate=True)
    except binascii.Error as exc:
        raise ValueError("req_info is not base64") from exc
    if not data or len(data) % 16:
        raise ValueError("req_info is not whole AES blocks")
    decryptor = _req_info_cipher(v2_key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    # Accept pads up to 32: wechatpy's own encoder pads to 32-byte blocks, the real API to 16.
    pad = plain[-1]
    if not 1 <= pad <= 32 or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("req_info padding is wrong (another API key?)")
    return _parse_flat(plain[:-pad], "root", max(len(plain), MAX_XML_BYTES))


def _req_info_cipher(v2_key: str) -> Cipher:
    key = hashlib.md5(v2_key.encode("utf-8")).hexdigest().encode("ascii")  # 32 bytes → AES-256
    return Cipher(algorithms.AES(key), modes.ECB())


# --- APP pay -------------------------------------------------------------------------------------------------------

def app_pay_params(appid: str, mchid: str, prepay_id: str, v2_key: str, now_ts: int,
                   nonce: str | None = None) -> dict:
    """What a merchant backend returns to its app so the WeChat SDK can open the payment (APP pay, "调起支付").

    Keys are lowercase as the app SDKs send them: appid, partnerid (= mchid), prepayid, package ("Sign=WXPay"),
    noncestr (32 chars), timestamp (10-digit unix seconds, as a string), sign (v2 MD5 over those six with the
    merchant's v2 key, uppercase). Identical to wechatpy's `WeChatPay.order.get_appapi_params`.
    Used by the shop/partner app adapters (seed 002) with a prepay id from the sandbox itself.
    """
    timestamp = str(int(now_ts))
    if len(timestamp) != 10:
        raise ValueError(f"timestamp {timestamp} is not 10-digit unix seconds")
    params = {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nonce or random_string(32),
        "timestamp": timestamp,
    }
    params["sign"] = sign(params, v2_key, "MD5")
    return params
