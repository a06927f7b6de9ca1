"""WeChat Pay v2 `sign` (MD5 / HMAC-SHA256 over sorted `k=v&…&key=KEY`): the string verified, and the mistake.

Keys are never shown: the expected string ends `&key=<the v2 API key>` and the key is named with a fingerprint.
At most ~20 hashes are computed, once, on a refused call.
"""
from __future__ import annotations

import hashlib
import hmac

from ..providers.wechat.v2_crypto import SIGN_TYPES
from ..providers.wechat.v2_wire import sandbox_signkey
from . import diagnosis, secret_fingerprint, show

KEY_NAMES = {"v2": "the v2 API key", "sandbox": "the sandboxnew sign key (getsignkey)", "apiv3": "the APIv3 key"}
_SHORT = {"v2": "the API key", "sandbox": "the sandboxnew key", "apiv3": "the APIv3 key"}


def signed_text(params: dict, key: str | None, *, empty: bool = False, exclude: tuple[str, ...] = ("sign",)) -> str:
    """`k=v` sorted, `&`-joined, `&key=KEY` appended (key None: left off); `empty`: empty values kept."""
    pairs = sorted((k, "" if v is None else str(v)) for k, v in params.items()
                   if k not in exclude and (empty or (v is not None and str(v) != "")))
    text = "&".join(f"{k}={v}" for k, v in pairs)
    return text if key is None else text + f"&key={key}"


def digest(text: str, key: str, sign_type: str) -> str:
    data = text.encode("utf-8")
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(data).hexdigest().upper()


def diagnose(params: dict, creds: dict, *, sandboxnew: bool = False) -> dict:
    """Why params["sign"] is refused for the merchant of `creds` (its WeChat credentials). `sandboxnew`: the call
    came under /sandboxnew/, where the sandbox sign key (from getsignkey) signs instead of the API key."""
    keys = {"v2": creds["v2_key"], "sandbox": sandbox_signkey(creds["v2_key"], creds["mchid"]),
            "apiv3": creds.get("apiv3_key")}
    used = "sandbox" if sandboxnew else "v2"
    sign_type = params.get("sign_type") or "MD5"
    algorithm = sign_type if sign_type in SIGN_TYPES else f"{sign_type} (unsupported)"
    if sign_type == "HMAC-SHA256":
        algorithm = "HMAC-SHA256 keyed with the key, uppercase hex"
    elif sign_type == "MD5":
        algorithm = "MD5, uppercase hex"
    expected = signed_text(params, f"<{KEY_NAMES[used]}>")
    key = {"merchant": creds["mchid"], "key": KEY_NAMES[used], "fingerprint": secret_fingerprint(keys[used])}

    def result(cause, hint):
        return diagnosis(algorithm, show(expected), key, cause, hint)

    given = params.get("sign")
    if not isinstance(given, str) or not given:
        return result("the request has no sign field", "no sign field")
    if sign_type not in SIGN_TYPES:
        return result(f"sign_type {sign_type} is not one of MD5, HMAC-SHA256", f"sign_type {sign_type} unsupported")
    real = digest(signed_text(params, keys[used]), keys[used], sign_type)
    if given == real.lower():
        return result("the sign is lower-case hex; send it in upper case", "sign in lower-case hex; use upper case")
    if given == real:
        return result(None, "the sign verifies")
    found = _mistake(params, given.upper(), keys, used, sign_type, sandboxnew)
    if found is None:
        return result(None, "no known mistake matches; compare with the expected string")
    cause, hint = found
    if given != given.upper():
        cause += "; also, the hex is lower case"
    return result(cause, hint)


def _mistake(params: dict, given: str, keys: dict, used: str, sign_type: str, sandboxnew: bool):
    other_type = "MD5" if sign_type == "HMAC-SHA256" else "HMAC-SHA256"
    key = keys[used]
    said = f"sign_type is {sign_type}" if params.get("sign_type") else "sign_type is not sent (MD5 is the default)"
    if digest(signed_text(params, key), key, other_type) == given:
        return (f"signed with {other_type} while {said}; send sign_type={other_type} or sign with {sign_type}",
                f"signed with {other_type} but {said.split(' (')[0]}")
    for name in ("v2", "sandbox", "apiv3"):
        other = keys.get(name)
        if name == used or not other:
            continue
        for algo in (sign_type, other_type):
            if digest(signed_text(params, other), other, algo) == given:
                where = "under /sandboxnew/" if sandboxnew else "outside /sandboxnew/"
                algo_note = "" if algo == sign_type else f" (and with {algo} while {said})"
                return (f"signed with {KEY_NAMES[name]} instead of {KEY_NAMES[used]}, which signs {where}{algo_note}",
                        f"signed with {_SHORT[name]}, not {_SHORT[used]}")
    empties = sorted(k for k, v in params.items() if k != "sign" and (v is None or str(v) == ""))
    if empties and digest(signed_text(params, key, empty=True), key, sign_type) == given:
        return (f"empty fields ({', '.join(empties)}) were signed; leave out fields with empty values",
                "empty fields were signed; leave them out")
    if params.get("sign_type"):
        if digest(signed_text(params, key, exclude=("sign", "sign_type")), key, sign_type) == given:
            return ("sign_type was left out of the signed string; every field but sign is signed, sign_type too",
                    "sign_type left out of the signed string")
    else:
        for value in SIGN_TYPES:
            if digest(signed_text({**params, "sign_type": value}, key), key, value) == given:
                return (f"the signed string included sign_type={value}, but the request does not send sign_type",
                        f"sign_type={value} signed but not sent")
    plain = signed_text(params, None)
    for text, cause, hint in ((plain, "the key was not appended: the string must end with &key=<API key>",
                               "&key=… not appended to the signed string"),
                              (plain + key, "the key was appended without &key=: the string must end with "
                                            "&key=<API key>", "key appended without &key=")):
        if digest(text, key, sign_type) == given:
            return cause, hint
    return None
