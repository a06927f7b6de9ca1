"""The MD5 `sign` of QuickPay and the partner app (sorted non-empty `k=v&…&key=KEY`): shared variants.

At most ~12 MD5s, once, on a refused call. The key is never shown: the expected string ends `&key=<…>`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from . import diagnosis, show


def text_of(fields: Mapping[str, Any], key: str | None, render: Callable[[Any], str], keep: Callable[[Any], bool],
            *, order: str = "sorted", with_sign: bool = False) -> str:
    """`k=v` pairs joined with `&` plus `&key=KEY` (key None: none); `order`: sorted | sent; `keep`: which values."""
    items = [(k, v) for k, v in fields.items() if k != "sign" and keep(v)]
    if with_sign:
        items.append(("sign", ""))
    if order == "sorted":
        items.sort(key=lambda kv: kv[0])
    text = "&".join(f"{k}={render(v)}" for k, v in items)
    return text if key is None else text + f"&key={key}"


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def python_text(value: Any) -> str:
    """How a Python client that forgot to render values writes them: str() of everything (True, {'a': 1})."""
    return str(value)


def spaced_json(value: Any) -> str:
    """json.dumps defaults: `, ` and `: ` separators, non-ASCII escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def diagnose(fields: Mapping[str, Any], key: str, *, render: Callable[[Any], str], keep: Callable[[Any], bool],
             case: str, algorithm: str, key_info: dict, key_label: str) -> dict:
    """`case`: upper | lower | any: the hex case the receiver wants. `key_label` names the key in the string."""
    expected = text_of(fields, f"<{key_label}>", render, keep)

    def result(cause, hint):
        return diagnosis(algorithm, show(expected), key_info, cause, hint)

    given = fields.get("sign")
    if not isinstance(given, str) or not given:
        return result("the request has no sign field", "no sign field")
    real = md5(text_of(fields, key, render, keep))
    if given.lower() == real:
        if case == "lower" and given != real:
            return result("the sign is upper-case hex; send it in lower case", "sign in upper-case hex; use lower case")
        if case == "upper" and given != real.upper():
            return result("the sign is lower-case hex; send it in upper case", "sign in lower-case hex; use upper case")
        return result(None, "the sign verifies")
    for cause, hint, text in _variants(fields, key, render, keep):
        if md5(text) == given.lower():
            if case == "lower" and given != given.lower():
                cause += "; also, the hex is upper case"
            return result(cause, hint)
    return result(None, "no known mistake matches; compare with the expected string")


def _variants(fields: Mapping[str, Any], key: str, render, keep):
    plain = text_of(fields, None, render, keep)
    yield ("the key was not appended: the string must end with &key=<key>", "&key=… not appended", plain)
    yield ("the key was appended without key=: the string must end with &key=<key>", "key appended without key=",
           plain + "&" + key)
    yield ("the key was appended without &key=: the string must end with &key=<key>", "key appended without &key=",
           plain + key)
    empties = sorted(k for k, v in fields.items() if k != "sign" and not keep(v))
    if empties:
        yield (f"empty fields ({', '.join(empties)}) were signed; leave out fields with empty values",
               "empty fields were signed; leave them out",
               text_of(fields, key, lambda v: "" if v is None else render(v), lambda v: True))
    sent = text_of(fields, key, render, keep, order="sent")
    if sent != text_of(fields, key, render, keep):
        yield ("the fields were signed in the order sent, not sorted by name", "fields not sorted by name", sent)
    yield ("sign itself was in the signed string (as sign=); leave sign out", "sign was included in the signed string",
           text_of(fields, key, render, keep, with_sign=True))
    for other, how in ((python_text, "str() of Python values (True, {'a': 1})"),
                       (spaced_json, "json.dumps defaults (spaces, \\u escapes)")):
        text = text_of(fields, key, other, keep)
        if text != text_of(fields, key, render, keep):
            yield (f"values were written as {how}; write true/false and compact JSON",
                   "values rendered differently (booleans or JSON)", text)
