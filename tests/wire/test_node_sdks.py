"""The Node.js SDKs the README documents, pointed at the sandbox: alipay-sdk, wechatpay-node-v3, wechatpay-axios-plugin.

Each SDK runs in a small script in tests/node/ (versions pinned in its package-lock.json, installed by
`npm ci --prefix tests/node` in .ci/run). The test passes the sandbox's URL and the merchant's credentials (as the
admin API hands them out) in the environment and a step on the command line, and checks the JSON the script prints:
the order created and queried, each answer's signature checked by the SDK's own function, and a notify verified and
decoded the way a merchant's Node handler would. A wrong key or a changed notify body must fail those checks.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
WECHAT_SDKS = ["wechatpay-node-v3.mjs", "wechatpay-axios-plugin.mjs"]


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules").is_dir():
        return "tests/node/node_modules is missing: run `npm ci --prefix tests/node --no-audit --no-fund`"
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        installed = NODE_DIR / "node_modules" / name / "package.json"
        found = json.loads(installed.read_text())["version"] if installed.exists() else "nothing"
        if found != version:
            return f"tests/node/node_modules holds {name} {found}, not the pinned {version}: run npm ci again"
    return None


@pytest.fixture(autouse=True, scope="module")
def node_sdks_installed():
    """Skip without node or the npm install on a developer's machine; under CI (CI set) that is a failure."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the Node SDK tests: {reason}", pytrace=False)
    pytest.skip(reason)


def node(sandbox, script: str, creds: dict, step: str, *args: str, stdin: object = None) -> dict:
    """Run one step of a script in tests/node; answers the JSON it printed."""
    env = {**os.environ, "SANDBOX_URL": sandbox.url, "SANDBOX_CREDENTIALS": json.dumps(creds)}
    result = subprocess.run(["node", script, step, *args], cwd=NODE_DIR, env=env, capture_output=True, text=True,
                            input=None if stdin is None else json.dumps(stdin), timeout=60)
    assert result.returncode == 0, f"node {script} {step} failed:\n{result.stderr}"
    return json.loads(result.stdout.splitlines()[-1])


def notify_of(received) -> dict:
    return {"headers": received.headers, "body": received.text}


def payment_of(sandbox, provider: str, out_trade_no: str) -> dict:
    (payment,) = sandbox.admin.payments(provider=provider, out_trade_no=out_trade_no)["payments"]
    return payment


@pytest.mark.parametrize("merchant", ["demo-wechat", "demo-wechat-pubkey"])
@pytest.mark.parametrize("script", WECHAT_SDKS)
def test_wechat_sdk_creates_queries_and_verifies_answers_and_the_notify(sandbox, notify_receiver, script, merchant):
    creds = sandbox.admin.merchant(merchant)["credentials"]["wechat"]
    serial = creds["public_key_id"] if creds["mode"] == "public-key" else creds["platform_serial_no"]

    out = node(sandbox, script, creds, "pay", "NODE-WX-1", notify_receiver.url("/wechat"))
    create, query = out["create"], out["query"]
    assert (create["status"], create["verified"], create["serial"]) == (200, True, serial)
    assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=\w{7}", create["data"]["code_url"])
    assert (query["status"], query["verified"], query["serial"]) == (200, True, serial)
    assert query["data"] == {"appid": creds["appids"][0], "mchid": creds["mchid"], "out_trade_no": "NODE-WX-1",
                             "trade_state": "NOTPAY", "trade_state_desc": "未支付", "attach": "",
                             "amount": {"total": 100, "currency": "CNY"}}
    payment = payment_of(sandbox, "wechat", "NODE-WX-1")
    assert (payment["amount"], payment["trade_type"], payment["status"]) == (100, "NATIVE", "PENDING")

    sandbox.admin.succeed(payment["id"])
    (pushed,) = notify_receiver.wait_for(1)
    assert pushed.path == "/wechat"
    notice = node(sandbox, script, creds, "notify", stdin=notify_of(pushed))
    assert (notice["verified"], notice["serial"], notice["event_type"]) == (True, serial, "TRANSACTION.SUCCESS")
    transaction_id = payment_of(sandbox, "wechat", "NODE-WX-1")["provider_trade_no"]
    resource = notice["resource"]
    assert (resource["out_trade_no"], resource["trade_state"], resource["transaction_id"]) == \
        ("NODE-WX-1", "SUCCESS", transaction_id)
    assert resource["amount"] == {"total": 100, "currency": "CNY", "payer_total": 100, "payer_currency": "CNY"}
    assert resource["mchid"] == creds["mchid"] and resource["trade_type"] == "NATIVE"

    # the same notify with one field changed no longer verifies
    tampered = {**notify_of(pushed), "body": pushed.text.replace("TRANSACTION.SUCCESS", "TRANSACTION.CLOSED")}
    assert tampered["body"] != pushed.text
    assert node(sandbox, script, creds, "notify", stdin=tampered) == {"verified": False}

    paid = node(sandbox, script, creds, "query", "NODE-WX-1")
    assert (paid["status"], paid["verified"]) == (200, True)
    assert (paid["data"]["trade_state"], paid["data"]["transaction_id"]) == ("SUCCESS", transaction_id)
    assert paid["data"]["amount"]["payer_total"] == 100

    # close another order: 204, its empty body signed and checked too
    node(sandbox, script, creds, "pay", "NODE-WX-2", notify_receiver.url("/wechat"))
    closed = node(sandbox, script, creds, "close", "NODE-WX-2")
    assert (closed["status"], closed["verified"], closed["serial"], closed["data"]) == (204, True, serial, None)
    assert payment_of(sandbox, "wechat", "NODE-WX-2")["status"] == "CLOSED"


@pytest.mark.parametrize("script", WECHAT_SDKS)
def test_wechat_sdk_rejects_answers_checked_with_another_platform_key(sandbox, script):
    creds = sandbox.admin.merchant("demo-wechat-pubkey")["credentials"]["wechat"]
    other = sandbox.admin.merchant("demo-wechat")["credentials"]["wechat"]
    wrong = {**creds, "platform_public_key_pem": other["platform_public_key_pem"]}
    out = node(sandbox, script, wrong, "pay", "NODE-WX-BAD", "http://127.0.0.1:9/notify")
    assert out["create"]["verified"] is False and out["query"]["verified"] is False
    if script == "wechatpay-axios-plugin.mjs":  # the plugin rejects the promise with its own code
        assert out["create"]["code"] == "EV3_RES_HEADER_SIGNATURE_DIGEST"
    # the key was the only thing wrong
    good = node(sandbox, script, creds, "query", "NODE-WX-BAD")
    assert (good["verified"], good["data"]["trade_state"]) == (True, "NOTPAY")


def test_alipay_sdk_creates_queries_and_verifies_answers_and_the_notify(sandbox, notify_receiver):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    script = "alipay-sdk.mjs"

    out = node(sandbox, script, creds, "pay", "NODE-ALI-1", notify_receiver.url("/alipay"))
    payment = payment_of(sandbox, "alipay", "NODE-ALI-1")
    trade_no = payment["provider_trade_no"]
    assert out["create"] == {"verified": True, "data": {
        "code": "10000", "msg": "Success", "outTradeNo": "NODE-ALI-1",
        "qrCode": f"{sandbox.url}/_sandbox/pay/{payment['id']}"}}
    query = out["query"]
    assert query["verified"] is True
    assert {key: query["data"][key] for key in ("code", "tradeNo", "outTradeNo", "tradeStatus", "totalAmount")} == \
        {"code": "10000", "tradeNo": trade_no, "outTradeNo": "NODE-ALI-1", "tradeStatus": "WAIT_BUYER_PAY",
         "totalAmount": "1.00"}
    assert (payment["amount"], payment["trade_type"]) == (100, "PRECREATE")

    sandbox.admin.succeed(payment["id"])
    (pushed,) = notify_receiver.wait_for(1)
    assert pushed.path == "/alipay"
    assert node(sandbox, script, creds, "notify", stdin=notify_of(pushed)) == {
        "verified": True, "trade_status": "TRADE_SUCCESS", "out_trade_no": "NODE-ALI-1", "trade_no": trade_no,
        "total_amount": "1.00", "notify_type": "trade_status_sync"}

    tampered = {**notify_of(pushed), "body": pushed.text.replace("total_amount=1.00", "total_amount=100.00")}
    assert tampered["body"] != pushed.text
    assert node(sandbox, script, creds, "notify", stdin=tampered)["verified"] is False

    paid = node(sandbox, script, creds, "query", "NODE-ALI-1")
    assert paid["verified"] is True
    assert (paid["data"]["tradeStatus"], paid["data"]["tradeNo"], paid["data"]["buyerPayAmount"]) == \
        ("TRADE_SUCCESS", trade_no, "1.00")


def test_alipay_sdk_rejects_answers_checked_with_another_key(sandbox):
    creds = sandbox.admin.merchant("demo-alipay")["credentials"]["alipay"]
    wrong = {**creds, "alipay_public_key_pem": creds["app_public_key_pem"]}  # a real key, but not Alipay's
    out = node(sandbox, "alipay-sdk.mjs", wrong, "pay", "NODE-ALI-BAD", "http://127.0.0.1:9/notify")
    assert out["create"]["verified"] is False and out["query"]["verified"] is False
    assert out["create"]["error"].startswith("验签失败")
    good = node(sandbox, "alipay-sdk.mjs", creds, "query", "NODE-ALI-BAD")
    assert (good["verified"], good["data"]["tradeStatus"]) == (True, "WAIT_BUYER_PAY")
