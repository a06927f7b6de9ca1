"""Alipay over the wire with the OFFICIAL alipay-sdk-python, in its own venv (tests/wire/alipay_official_venv.py).

Unmodified but for `server_url` and the port patch (the SDK cannot reach a port other than 80/443 by itself). It
sends absolute-form request lines (`POST http://127.0.0.1:<port>/gateway.do?… HTTP/1.1`): every call that
succeeds here went through aiohttp's handling of those.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests

from sandbox.providers.alipay.credentials import new_credentials, official_sdk_config

MERCHANT = "demo-alipay"


def _official():
    path = Path(__file__).resolve().parent / "alipay_official_venv.py"
    spec = importlib.util.spec_from_file_location("alipay_official_venv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


official = _official()

# One script, several steps chosen by payload["steps"]; each step's result goes into `out` under its name.
SCRIPT = r'''
import json, sys
payload = json.load(sys.stdin)
''' + official.PORT_PATCH + r'''
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayTradeAppPayModel import AlipayTradeAppPayModel
from alipay.aop.api.domain.AlipayTradeCancelModel import AlipayTradeCancelModel
from alipay.aop.api.domain.AlipayTradeCloseModel import AlipayTradeCloseModel
from alipay.aop.api.domain.AlipayTradeCreateModel import AlipayTradeCreateModel
from alipay.aop.api.domain.AlipayTradeFastpayRefundQueryModel import AlipayTradeFastpayRefundQueryModel
from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.domain.AlipayTradeWapPayModel import AlipayTradeWapPayModel
from alipay.aop.api.request.AlipayTradeAppPayRequest import AlipayTradeAppPayRequest
from alipay.aop.api.request.AlipayTradeCancelRequest import AlipayTradeCancelRequest
from alipay.aop.api.request.AlipayTradeCloseRequest import AlipayTradeCloseRequest
from alipay.aop.api.request.AlipayTradeCreateRequest import AlipayTradeCreateRequest
from alipay.aop.api.request.AlipayTradeFastpayRefundQueryRequest import AlipayTradeFastpayRefundQueryRequest
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.request.AlipayTradeWapPayRequest import AlipayTradeWapPayRequest
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa


def client_for(config):
    c = AlipayClientConfig()
    c.server_url = payload["server_url"]
    for key, value in config.items():
        setattr(c, key, value)
    return DefaultAlipayClient(c)


client = client_for(payload["config"])


def call(request_class, model_class, notify_url=None, **fields):
    model = model_class()
    for key, value in fields.items():
        setattr(model, key, value)
    request = request_class(biz_model=model)
    if notify_url:
        request.notify_url = notify_url
    try:
        return json.loads(client.execute(request))
    except Exception as e:
        return {"exception": type(e).__name__, "detail": str(e)[:300]}


out = {}
for step in payload["steps"]:
    if step == "create":
        out["precreate"] = call(AlipayTradePrecreateRequest, AlipayTradePrecreateModel, payload["notify_url"],
                                out_trade_no="OF-1", total_amount="3.00", subject="官方 SDK")
        out["create"] = call(AlipayTradeCreateRequest, AlipayTradeCreateModel, None, out_trade_no="OF-2",
                             total_amount="0.50", subject="jsapi", buyer_id="2088102177846880")
        query = AlipayTradeQueryModel()
        query.out_trade_no = "OF-1"
        raw = client.execute(AlipayTradeQueryRequest(biz_model=query))
        parsed = AlipayTradeQueryResponse()
        parsed.parse_response_content(raw)
        out["query"] = {"ok": parsed.is_success(), "trade_status": parsed.trade_status,
                        "total_amount": parsed.total_amount}
        out["missing"] = call(AlipayTradeQueryRequest, AlipayTradeQueryModel, None, out_trade_no="OF-404")
        page = AlipayTradePagePayModel()
        page.out_trade_no, page.total_amount, page.subject = "OF-PAGE", "1.00", "page"
        page.product_code = "FAST_INSTANT_TRADE_PAY"
        page_request = AlipayTradePagePayRequest(biz_model=page)
        page_request.return_url = "https://merchant.example.com/return"
        out["page_url"] = client.page_execute(page_request, http_method="GET")
        wap = AlipayTradeWapPayModel()
        wap.out_trade_no, wap.total_amount, wap.subject = "OF-WAP", "1.00", "wap"
        wap.product_code = "QUICK_WAP_PAY"
        out["wap_form"] = client.page_execute(AlipayTradeWapPayRequest(biz_model=wap), http_method="POST")
        app = AlipayTradeAppPayModel()
        app.out_trade_no, app.total_amount, app.subject = "OF-APP", "6.66", "应用"
        app.product_code = "QUICK_MSECURITY_PAY"
        out["order_string"] = client.sdk_execute(AlipayTradeAppPayRequest(biz_model=app))
        # a request signed with a key that is not the app's: the gateway's signed 40002 comes back
        client = client_for(payload["wrong_key_config"])
        out["tampered"] = call(AlipayTradeQueryRequest, AlipayTradeQueryModel, None, out_trade_no="OF-1")
        client = client_for(payload["config"])
    elif step == "after_pay":
        notify = dict(payload["notify"])
        sign = notify.pop("sign")
        notify.pop("sign_type")
        out["notify_verified"] = verify_with_rsa(payload["config"]["alipay_public_key"],
                                                 get_sign_content(notify).encode("utf-8"), sign)
        out["refund"] = call(AlipayTradeRefundRequest, AlipayTradeRefundModel, None, out_trade_no="OF-1",
                             refund_amount="1.00", out_request_no="OF-R1")
        out["refund_query"] = call(AlipayTradeFastpayRefundQueryRequest, AlipayTradeFastpayRefundQueryModel, None,
                                   out_trade_no="OF-1", out_request_no="OF-R1")
        out["close"] = call(AlipayTradeCloseRequest, AlipayTradeCloseModel, None, out_trade_no="OF-2")
        out["cancel"] = call(AlipayTradeCancelRequest, AlipayTradeCancelModel, None, out_trade_no="OF-1")
        out["query_after"] = call(AlipayTradeQueryRequest, AlipayTradeQueryModel, None, out_trade_no="OF-1")
print(json.dumps(out, ensure_ascii=False))
'''


@pytest.fixture(scope="module")
def wrong_key() -> str:
    return official_sdk_config(new_credentials())["app_private_key"]


def run(sandbox, steps, wrong_key, **extra):
    creds = sandbox.admin.merchant(MERCHANT)["credentials"]["alipay"]
    config = official_sdk_config(creds)
    return official.run_script(SCRIPT, {"server_url": f"{sandbox.url}/gateway.do", "config": config,
                                        "wrong_key_config": {**config, "app_private_key": wrong_key},
                                        "steps": steps, **extra})


def test_official_sdk_full_flow(sandbox, notify_receiver, wrong_key):
    out = run(sandbox, ["create"], wrong_key, notify_url=notify_receiver.url())

    assert out["precreate"]["code"] == "10000", out["precreate"]
    (payment,) = sandbox.admin.payments(out_trade_no="OF-1")["payments"]
    assert out["precreate"]["qr_code"] == f"{sandbox.url}/_sandbox/pay/{payment['id']}"
    assert out["create"]["code"] == "10000" and len(out["create"]["trade_no"]) == 28
    assert out["query"] == {"ok": True, "trade_status": "WAIT_BUYER_PAY", "total_amount": "3.00"}
    assert out["missing"]["sub_code"] == "ACQ.TRADE_NOT_EXIST" and out["missing"]["receipt_amount"] == "0.00"
    assert out["tampered"]["code"] == "40002" and out["tampered"]["sub_code"] == "isv.invalid-signature"
    assert sandbox.admin.payments(out_trade_no="OF-1")["total"] == 1

    # page pay by GET link: the browser lands on the cashier
    opened = requests.get(out["page_url"], timeout=10)
    (page_payment,) = sandbox.admin.payments(out_trade_no="OF-PAGE")["payments"]
    assert opened.history[0].status_code == 302
    assert opened.history[0].headers["Location"] == f"{sandbox.url}/_sandbox/pay/{page_payment['id']}"

    # wap pay by the SDK's auto-submitting form: common params in the action's query, biz_content in the body
    form = out["wap_form"]
    action = form.split('action="', 1)[1].split('"', 1)[0]
    body = {"biz_content": form.split('name="biz_content" value="', 1)[1].split('"', 1)[0].replace("&quot;", '"')}
    posted = requests.post(action, data=body, allow_redirects=False, timeout=10)
    (wap_payment,) = sandbox.admin.payments(out_trade_no="OF-WAP")["payments"]
    assert posted.status_code == 302 and posted.headers["Location"].endswith(wap_payment["id"])
    assert wap_payment["trade_type"] == "WAP"

    # app pay: the order string the app would hand to the Alipay app, opened through the admin endpoint
    opened_app = requests.post(f"{sandbox.url}/_sandbox/api/alipay/app-pay",
                               json={"order_string": out["order_string"]}, timeout=10).json()
    assert opened_app["out_trade_no"] == "OF-APP" and opened_app["amount"] == 666
    assert opened_app["trade_type"] == "APP" and opened_app["cashier_url"].endswith(opened_app["id"])
    again = requests.post(f"{sandbox.url}/_sandbox/api/alipay/app-pay",
                          json={"order_string": out["order_string"]}, timeout=10).json()
    assert again["id"] == opened_app["id"]

    sandbox.admin.succeed(payment["id"])
    (notify,) = notify_receiver.wait_for(1)
    after = run(sandbox, ["after_pay"], wrong_key, notify=dict(parse_qsl(notify.text)))
    assert after["notify_verified"] is True
    assert after["refund"]["code"] == "10000" and after["refund"]["refund_fee"] == "1.00"
    assert after["refund"]["fund_change"] == "Y"
    assert after["refund_query"]["refund_amount"] == "1.00"
    assert after["close"]["code"] == "10000"
    assert after["cancel"]["action"] == "refund"
    assert after["query_after"]["trade_status"] == "TRADE_CLOSED"
    assert sandbox.admin.payment(payment["id"])["refunded_amount"] == 300
