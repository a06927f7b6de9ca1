"""The one JSON decoder for every inbound body (providers, merchant apps, the admin API): bounded in size and nesting
depth, and refusing what the rest of the sandbox could not store or echo (lone surrogates, invalid UTF-8).

    data = jsonbody.loads(raw)            # raises jsonbody.BodyError (a ValueError) with a plain reason
    data = jsonbody.loads(raw, decimal=True)   # numbers with a fraction as Decimal (Alipay amounts, the shop)

The nesting depth is checked by a scan of the bracket characters outside strings before any parser sees the body,
so `[`×30,000 is a BodyError, never a RecursionError. orjson then parses (and refuses lone surrogates, invalid
UTF-8 and integers past 64 bits as its own errors); `decimal=True` parses a second time with the standard library
once orjson has accepted the text.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

MAX_DEPTH = 32  # no request body of any provider or app nests deeper than a handful of levels
MAX_BYTES = 1024 * 1024  # the providers cap their bodies lower; this is the bound for everything

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPEN = frozenset(b"[{")
# an integer past 64 bits (not the digits of a fraction or exponent), looked for outside strings only
_INT_TOKEN = re.compile(rb"(?<![\d.eE+-])-?\d{20,}(?![\d.eE])")
MAX_INT_DIGITS = 19


class BodyError(ValueError):
    """The body is not acceptable JSON; str(exc) says why, in plain words."""


def depth(raw: bytes, *, strings_removed: bool = False) -> int:
    """The deepest nesting of arrays and objects in raw (strings skipped), stopping as soon as it passes MAX_DEPTH."""
    brackets = _NOT_BRACKET.sub(b"", raw if strings_removed else _STRING.sub(b"", raw))
    level = deepest = 0
    for byte in brackets:
        if byte in _OPEN:
            level += 1
            if level > deepest:
                deepest = level
                if deepest > MAX_DEPTH:
                    break
        else:
            level -= 1
    return deepest


def loads(raw: bytes | str, *, decimal: bool = False, max_bytes: int = MAX_BYTES, bom: bool = False) -> Any:
    """Parse a request body; BodyError when it is too large, too deep or not JSON that the sandbox can keep.

    bom: accept (and drop) a leading UTF-8 byte order mark."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyError("the body holds a lone surrogate (not valid UTF-8)") from None
    if len(raw) > max_bytes:
        raise BodyError(f"the body is larger than {max_bytes} bytes")
    if bom and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    bare = _STRING.sub(b"", raw)  # the body without its strings
    if depth(bare, strings_removed=True) > MAX_DEPTH:
        raise BodyError(f"the body nests arrays/objects deeper than {MAX_DEPTH} levels")
    if _INT_TOKEN.search(bare):
        # orjson reads such integers as floats, silently rounded: refuse them instead of storing another number
        raise BodyError(f"the body holds an integer of more than {MAX_INT_DIGITS} digits")
    if decimal:
        # the standard library, as these callers always parsed (1e400 a Decimal, NaN and Infinity read as such, for
        # the caller's own field checks to refuse in its words); its lone surrogates are looked for afterwards
        try:
            data = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:  # UnicodeDecodeError included
            raise BodyError(f"the body is not JSON ({str(exc).split(':', 1)[0]})") from None
        if _has_surrogate(data):
            raise BodyError(_SURROGATE)
        return data
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0]
        if "surrogate" in reason:
            raise BodyError(_SURROGATE) from None
        raise BodyError(f"the body is not JSON ({reason})") from None


_SURROGATE = "the body holds a lone surrogate escape (\\udXXX without its pair)"


def _has_surrogate(value: Any) -> bool:
    """Recursion is bounded: the body's depth was checked first."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False
