"""Alipay OpenAPI signatures and wire formats (pure: no I/O, no aiohttp, no database).

Rules mirrored from the real gateway and checked against both Python SDKs (tests/unit/test_alipay_signing.py):
- signed text: parameters sorted by key, `k=v` joined with `&`, empty values left out;
  requests exclude only `sign` (the SDKs sign `sign_type` too), notifies and return redirects exclude `sign` and
  `sign_type` (python-alipay-sdk's `verify()` pops `sign_type` before rebuilding the text);
- RSA2 = SHA256withRSA, PKCS#1 v1.5, standard base64 (RSA = the same over SHA-1, still accepted on requests);
- responses sign the exact UTF-8 bytes of the inner `…_response` object as it sits in the body, and `sign` must
  follow it directly: the official SDK cuts the text up to `},"sign":"`, python-alipay-sdk up to the matching `}`.
"""
from __future__ import annotations

import base64
import codecs
import functools
import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote_plus, unquote_plus, urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SIGN_TYPE = "RSA2"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # both SDKs send local time in this form, no zone
REQUEST_EXCLUDE = ("sign",)
NOTIFY_EXCLUDE = ("sign", "sign_type")
ERROR_RESPONSE_KEY = "error_response"  # used when there is no valid method to name the response after

_HASHES = {"RSA2": hashes.SHA256, "RSA": hashes.SHA1}


# --- signing primitives -------------------------------------------------------------------------------------

def signing_string(params: Mapping[str, object], exclude: tuple[str, ...] = REQUEST_EXCLUDE) -> str:
    """Sorted `k=v` pairs joined with `&`; excluded keys and empty values are left out (as the gateway does)."""
    return "&".join(
        f"{key}={value}" for key, value in sorted(params.items())
        if key not in exclude and value is not None and value != ""
    )


def sign(text: str, private_key_pem: str, *, sign_type: str = SIGN_TYPE, charset: str = "utf-8") -> str:
    signature = _private_key(private_key_pem).sign(
        text.encode(_codec(charset)), padding.PKCS1v15(), _HASHES[sign_type]()
    )
    return base64.b64encode(signature).decode("ascii")


def verify(text: str, signature: str, public_key_pem: str, *, sign_type: str = SIGN_TYPE,
           charset: str = "utf-8") -> bool:
    """True only for a valid signature; any garbage (bad base64, bad key, unknown sign type) is False."""
    try:
        raw = base64.b64decode(signature)
        _public_key(public_key_pem).verify(
            raw, text.encode(_codec(charset)), padding.PKCS1v15(), _HASHES[sign_type]()
        )
        return True
    except Exception:  # InvalidSignature, binascii.Error, ValueError, KeyError, TypeError …
        return False


def verify_request(params: Mapping[str, str], app_public_key_pem: str) -> bool:
    """Check an inbound gateway request (query + form fields merged) against the app's public key."""
    return _verify_params(params, REQUEST_EXCLUDE, app_public_key_pem, default_sign_type="")


def verify_notify(params: Mapping[str, str], alipay_public_key_pem: str) -> bool:
    """What a merchant does with a notify or a return redirect (the demo merchant apps use it)."""
    return _verify_params(params, NOTIFY_EXCLUDE, alipay_public_key_pem, default_sign_type=SIGN_TYPE)


def _verify_params(params: Mapping[str, str], exclude: tuple[str, ...], public_key_pem: str, *,
                   default_sign_type: str) -> bool:
    """params["sign"] over the signing string without `exclude`; the sign type and charset the params name."""
    signature = params.get("sign")
    if not isinstance(signature, str) or not signature:
        return False
    return verify(
        signing_string(params, exclude), signature, public_key_pem,
        sign_type=str(params.get("sign_type") or default_sign_type), charset=str(params.get("charset") or "utf-8"),
    )


# --- gateway responses --------------------------------------------------------------------------------------

def response_key(method: str | None) -> str:
    """`alipay.trade.query` → `alipay_trade_query_response`; no method → `error_response`."""
    return method.replace(".", "_") + "_response" if method else ERROR_RESPONSE_KEY


def response_body(method: str | None, payload: dict, alipay_private_key_pem: str | None,
                  charset: str = "utf-8") -> bytes:
    """`{"<method>_response":{…},"sign":"…"}` in the request's charset (UTF-8 unless it asked for GBK).

    Pass method=None for `error_response` (missing or unknown method). Pass no key when the app is unknown
    (isv.missing-app-id / isv.invalid-app-id): the gateway has no Alipay key for it and leaves `sign` out;
    python-alipay-sdk then raises AliPayException with the code, the official SDK a ResponseException.
    """
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    body = "{" + json.dumps(response_key(method)) + ":" + inner
    if alipay_private_key_pem:
        body += ',"sign":' + json.dumps(sign(inner, alipay_private_key_pem, charset=charset))
    return (body + "}").encode(_codec(charset))


# --- notifies and return redirects --------------------------------------------------------------------------

def notify_params(fields: Mapping[str, object], alipay_private_key_pem: str) -> dict[str, str]:
    """Form fields of an async notify: empty values dropped, sign_type=RSA2 added, signed without sign/sign_type."""
    params = {
        key: _text(value) for key, value in fields.items()
        if key not in NOTIFY_EXCLUDE and value is not None and value != ""
    }
    params["sign_type"] = SIGN_TYPE
    params["sign"] = sign(
        signing_string(params, NOTIFY_EXCLUDE), alipay_private_key_pem, charset=params.get("charset", "utf-8")
    )
    return params


def return_url_params(*, pay_method: str, app_id: str, out_trade_no: str, trade_no: str, total_amount: str,
                      seller_id: str, timestamp: str, alipay_private_key_pem: str,
                      charset: str = "utf-8") -> dict[str, str]:
    """Query of the browser redirect to return_url after a page/wap cashier payment.

    `method` is the pay method plus `.return` (alipay.trade.page.pay.return); signed like a notify, which is
    what python-alipay-sdk's `verify(data, data.pop("sign"))` expects.
    """
    fields = {
        "charset": charset,
        "out_trade_no": out_trade_no,
        "method": pay_method + ".return",
        "total_amount": total_amount,
        "trade_no": trade_no,
        "auth_app_id": app_id,
        "version": "1.0",
        "app_id": app_id,
        "seller_id": seller_id,
        "timestamp": timestamp,
    }
    return notify_params(fields, alipay_private_key_pem)


def return_redirect_url(return_url: str, params: Mapping[str, str]) -> str:
    """return_url with the signed params appended (keeps any query the merchant put in return_url)."""
    return return_url + ("&" if "?" in return_url else "?") + urlencode(params)


# --- merchant side: request params, app pay order strings, page/wap pay URLs ---------------------------------

def build_request(method: str, biz_content: Mapping[str, object], *, app_id: str, timestamp: str | None = None,
                  notify_url: str | None = None, return_url: str | None = None, **extra: str) -> dict[str, str]:
    """Unsigned common params the way python-alipay-sdk's `build_body` makes them (biz_content as compact JSON)."""
    params = {
        "app_id": app_id,
        "method": method,
        "charset": "utf-8",
        "sign_type": SIGN_TYPE,
        "timestamp": timestamp or datetime.now().strftime(TIMESTAMP_FORMAT),
        "version": "1.0",
        "biz_content": _sdk_json(biz_content),
        **extra,
    }
    if notify_url:
        params["notify_url"] = notify_url
    if return_url:
        params["return_url"] = return_url
    return params


def order_string(params: Mapping[str, object], app_private_key_pem: str) -> str:
    """Signed `k=v&…&sign=…` exactly as python-alipay-sdk's `sign_data` renders it (`api_alipay_trade_app_pay`).

    Sorted keys, values quote_plus-encoded (safe='' so `/` and `:` are escaped, space is `+`), keys raw,
    `sign` appended last; dict values become compact JSON (python-alipay-sdk keeps ensure_ascii=True there).
    """
    items = sorted(
        (key, _sdk_json(value) if isinstance(value, Mapping) else str(value))
        for key, value in params.items()
        if key != "sign" and value is not None and value != ""
    )
    text = "&".join(f"{key}={value}" for key, value in items)
    signature = sign(text, app_private_key_pem, charset=dict(items).get("charset", "utf-8"))
    return "&".join(f"{key}={quote_plus(value)}" for key, value in items + [("sign", signature)])


def parse_order_string(s: str) -> dict[str, str]:
    """Inverse of `order_string` (also reads the official SDK's `sdk_execute` output): form-decoded values."""
    result: dict[str, str] = {}
    for part in s.strip().lstrip("?").split("&"):
        if part:
            key, _, value = part.partition("=")
            result[unquote_plus(key)] = unquote_plus(value)
    return result


def pay_url(gateway_url: str, params: Mapping[str, object], app_private_key_pem: str) -> str:
    """Page/wap pay link: `gateway_url?<signed query>`, what merchants put behind a "pay" button or redirect."""
    return gateway_url + "?" + order_string(params, app_private_key_pem)


# --- helpers ------------------------------------------------------------------------------------------------

def _text(value: object) -> str:
    if isinstance(value, (dict, list)):  # e.g. fund_bill_list travels as a JSON string
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _sdk_json(value: Mapping[str, object]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except (LookupError, TypeError):
        return "utf-8"


@functools.lru_cache(maxsize=256)
def _private_key(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


@functools.lru_cache(maxsize=256)
def _public_key(pem: str):
    text = pem.strip()
    if text.startswith("-----BEGIN"):
        return serialization.load_pem_public_key(text.encode())
    # merchants often paste Alipay-style bare base64 keys
    return serialization.load_der_public_key(base64.b64decode(text))
