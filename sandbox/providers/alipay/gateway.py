"""The /gateway.do front door: read the parameters, check the common ones and the RSA2 signature, render answers.

Checks run in the order the real gateway reports them, each with its own 40001/40002 sub_code. Until the app_id
names a merchant there is no Alipay key to sign with, so those answers go out unsigned (as the real ones do).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from aiohttp import web

from ... import jsonbody
from ...access_log import note_merchant
from ...doctor import alipay as doctor
from ...doctor import refused
from ...core.engine import Engine
from ...core.models import Merchant
from ..base import BodyTooLarge, read_body
from . import signing, wire
from .wire import AlipayError, invalid, missing

MAX_BODY = 256 * 1024
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}
SIGN_TYPES = ("RSA2", "RSA")
PAGE_METHODS = ("alipay.trade.page.pay", "alipay.trade.wap.pay")


@dataclass
class Call:
    """A request whose common parameters and signature are good."""
    method: str
    params: dict[str, str]
    merchant: Merchant
    charset: str
    payment_id: str | None = None  # set once the call is about an existing trade: its timeline logs it

    @property
    def credentials(self) -> dict:
        return self.merchant.for_provider(wire.PROVIDER)


class Rejected(Exception):
    """A failure answer with what is needed to render it (response key, signing key, charset)."""

    def __init__(self, error: AlipayError, method: str | None, merchant: Merchant | None, charset: str = "utf-8"):
        super().__init__(str(error))
        self.error, self.method, self.merchant, self.charset = error, method, merchant, charset


async def read_params(request: web.Request) -> dict[str, str]:
    """Query and form body merged (a browser form posts everything in the body; the body wins on a clash)."""
    raw_query = request.rel_url.raw_query_string  # still percent-encoded: decoded below in the right charset
    raw_body = ""
    if request.method == "POST":
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge as exc:
            raise Rejected(wire.invalid_parameter(str(exc)), None, None) from None
        if "multipart" not in (request.content_type or ""):
            raw_body = body.decode("latin-1")  # percent-escapes are decoded below, in the request's charset
    probe = dict(parse_qsl(raw_query, encoding="latin-1")) | dict(parse_qsl(raw_body, encoding="latin-1"))
    charset = CHARSETS.get((probe.get("charset") or "utf-8").strip().lower(), "utf-8")
    return dict(parse_qsl(raw_query, keep_blank_values=True, encoding=charset, errors="replace")) | \
        dict(parse_qsl(raw_body, keep_blank_values=True, encoding=charset, errors="replace"))


def check(params: dict[str, str], engine: Engine, known_methods) -> Call:
    """The common parameters, in the real gateway's order; raises Rejected."""
    method = (params.get("method") or "").strip()
    if not method:
        raise Rejected(missing("method", "缺少方法名参数"), None, None)
    if method not in known_methods:
        raise Rejected(invalid("method", "不存在的方法名"), None, None)
    fmt = params.get("format")
    if fmt and fmt.lower() != "json":
        raise Rejected(invalid("format", "无效的数据格式"), method, None)
    app_id = (params.get("app_id") or "").strip()
    if not app_id:
        raise Rejected(missing("app-id", "缺少AppID参数"), method, None)
    merchant = engine.merchant_by_key(wire.PROVIDER, app_id)
    if merchant is None:
        raise Rejected(invalid("app-id", "无效的AppID参数"), method, None)
    note_merchant(merchant.id)

    def reject(error: AlipayError, charset: str = "utf-8"):
        return Rejected(error, method, merchant, charset)

    charset_name = (params.get("charset") or "utf-8").strip().lower()
    if charset_name not in CHARSETS:
        raise reject(invalid("charset", "字符集错误"))
    charset = CHARSETS[charset_name]
    sign_type = params.get("sign_type")
    if not sign_type:
        raise reject(missing("signature-type", "缺少签名类型"), charset)
    if sign_type not in SIGN_TYPES:
        raise reject(invalid("signature-type", "无效的签名类型"), charset)
    if not params.get("sign"):
        raise reject(missing("signature", "缺少签名参数"), charset)
    timestamp = params.get("timestamp")
    if not timestamp:
        raise reject(missing("timestamp", "缺少时间戳参数"), charset)
    try:
        # Sandbox convention: format only, no skew window (SDKs send local time without a zone).
        datetime.strptime(timestamp.strip(), signing.TIMESTAMP_FORMAT)
    except ValueError:
        raise reject(invalid("timestamp", "非法的时间戳参数"), charset) from None
    if not params.get("version"):
        raise reject(missing("version", "缺少版本参数"), charset)
    app_public_key = merchant.for_provider(wire.PROVIDER).get("app_public_key_pem") or ""
    if not signing.verify_request(params, app_public_key):
        text = signing.signing_string(params, signing.REQUEST_EXCLUDE)
        raise reject(invalid("signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
                                          + text + _doctored(params, merchant, engine)), charset)
    return Call(method=method, params=params, merchant=merchant, charset=charset)


def _doctored(params: dict[str, str], merchant: Merchant, engine: Engine) -> str:
    """The refused sign's diagnosis to the journal; answers the hint for sub_msg. Only on refusal."""
    creds = merchant.for_provider(wire.PROVIDER)
    others = doctor.known_keys((m.for_provider(wire.PROVIDER) for m in engine.merchants()), creds.get("app_id"))
    found = doctor.diagnose(params, creds, others=others)
    return refused("isv.invalid-signature", "the request sign does not verify with the app public key", found)


def biz_content(call: Call) -> dict:
    """The parsed biz_content object (numbers kept exact; ACQ.INVALID_PARAMETER when it is not a JSON object)."""
    raw = call.params.get("biz_content")
    if not raw:
        raise wire.invalid_parameter("biz_content 不能为空")
    try:
        data = jsonbody.loads(raw, decimal=True)
    except jsonbody.BodyError as exc:
        raise wire.invalid_parameter(f"biz_content 不是合法的JSON: {exc}") from None
    if not isinstance(data, dict):
        raise wire.invalid_parameter("biz_content 必须是JSON对象")
    return data


# --- rendering ------------------------------------------------------------------------------------------------

def api_response(method: str | None, payload: dict, merchant: Merchant | None, charset: str = "utf-8") -> web.Response:
    key = merchant.for_provider(wire.PROVIDER).get("alipay_private_key_pem") if merchant else None
    try:
        body = signing.response_body(method, payload, key, charset)
    except (UnicodeEncodeError, LookupError):
        charset = "utf-8"
        body = signing.response_body(method, payload, key, charset)
    return web.Response(body=body, content_type="application/json", charset=charset)


def rejected_response(exc: Rejected) -> web.Response:
    if exc.method in PAGE_METHODS:
        return error_page(exc.error)
    # Unknown or missing methods answer as error_response; known ones under their own response key.
    return api_response(exc.method, exc.error.payload(), exc.merchant, exc.charset)


def error_page(error: AlipayError) -> web.Response:
    """What the browser sees when a page/wap pay request is refused: the real gateway shows an error page too."""
    body = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>支付宝 - 错误</title></head>
<body><h1>抱歉，支付请求出错</h1>
<p>错误代码 <code id="sub_code">{html.escape(error.sub_code)}</code></p>
<p>错误原因 <span id="sub_msg">{html.escape(error.sub_msg)}</span></p>
<p><small>code {html.escape(error.code)} · {html.escape(error.msg)}</small></p>
</body></html>"""
    return web.Response(text=body, content_type="text/html", charset="utf-8")

