"""The SDK snippets on merchant pages: each compiles, and each whose SDK is here runs against a live sandbox."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.console.snippets import snippets_for
from sandbox.providers import all_providers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REGISTERED = {p.name for p in all_providers()}


def creds(path: str) -> dict:
    return json.loads((FIXTURES / path).read_text())


CASES = {
    "wechat-certificate": ("wechat", lambda: creds("wechat/demo-cert.json")),
    "wechat-public-key": ("wechat", lambda: creds("wechat/demo-pubkey.json")),
    "alipay": ("alipay", lambda: creds("alipay/demo.json")),
    "quickpay": ("quickpay", lambda: {"store_no": "QP10000001", "key": None}),
    "quickpay-signed": ("quickpay", lambda: {"store_no": "QP10000002", "key": "quickpay-demo-key-0123456789abcd"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_snippet_compiles_and_names_the_base_url(case):
    provider, make = CASES[case]
    snippets = snippets_for(provider, make(), "http://sandbox.test:8080/")
    assert snippets
    for snippet in snippets:
        assert "http://sandbox.test:8080" in snippet.code and "http://sandbox.test:8080//" not in snippet.code
        if snippet.language == "python":
            compile(snippet.code, f"<{snippet.sdk} snippet>", "exec")
        else:
            assert snippet.code.count("curl ") == 1
    assert [s.sdk for s in snippets] == {"wechat": ["wechatpayv3", "wechatpy"],
                                         "alipay": ["python-alipay-sdk", "alipay-sdk-python"],
                                         "quickpay": ["curl"]}[provider]


def test_keys_in_snippets_are_exact():
    c = creds("wechat/demo-cert.json")
    (v3, _) = snippets_for("wechat", c, "http://x")
    namespace: dict = {}
    exec(v3.code.split("\nclass ")[0].replace("import wechatpayv3.core\n", "").replace(
        "from wechatpayv3 import WeChatPay, WeChatPayType\n", ""), namespace)
    assert namespace["MERCHANT_PRIVATE_KEY"] == c["merchant_private_key_pem"]


def run_snippet(code: str, timeout: float = 60) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def need(provider: str):
    # Every adapter is built: one missing from the registry is a regression, not a reason to skip.
    assert provider in REGISTERED, f"the {provider} adapter is not in the provider registry"


def merchant_creds(sandbox, merchant_id: str, provider: str) -> dict:
    return sandbox.admin.merchant(merchant_id)["credentials"][provider]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("merchant_id", ["demo-quickpay", "demo-quickpay-signed"])
def test_quickpay_curl_snippet_runs(sandbox, merchant_id):
    (snippet,) = snippets_for("quickpay", merchant_creds(sandbox, merchant_id, "quickpay"), sandbox.url)
    result = subprocess.run(["sh", "-c", snippet.code], capture_output=True, text=True, timeout=30)
    answer = json.loads(result.stdout)
    assert answer["code"] == "SUCCESS", answer
    assert answer["data"]["cloudpay_param"].startswith(f"{sandbox.url}/_sandbox/pay/pay_")


def test_wechatpy_snippet_runs(sandbox):
    need("wechat")
    snippet = snippets_for("wechat", merchant_creds(sandbox, "demo-wechat", "wechat"), sandbox.url)[1]
    assert run_snippet(snippet.code).strip().startswith("weixin://")
    assert sandbox.admin.payments(out_trade_no="SNIPPET-0002")["total"] == 1


@pytest.mark.parametrize("merchant_id", ["demo-wechat", "demo-wechat-pubkey"])
def test_wechatpayv3_snippet_runs(sandbox, merchant_id):
    need("wechat")
    snippet = snippets_for("wechat", merchant_creds(sandbox, merchant_id, "wechat"), sandbox.url)[0]
    output = run_snippet(snippet.code)
    assert output.startswith("200 ") and "code_url" in output, output


def test_python_alipay_sdk_snippet_runs(sandbox):
    need("alipay")
    snippet = snippets_for("alipay", merchant_creds(sandbox, "demo-alipay", "alipay"), sandbox.url)[0]
    qr_code = run_snippet(snippet.code).strip()
    assert qr_code.startswith(f"{sandbox.url}/_sandbox/pay/pay_")  # precreate's qr_code: the cashier page
    assert sandbox.admin.payments(out_trade_no="SNIPPET-0001", provider="alipay")["total"] == 1


def test_official_alipay_sdk_snippet_runs_in_its_own_venv(sandbox):
    """alipay-sdk-python clashes with python-alipay-sdk, so it lives in the venv tests/wire builds; this test
    uses that venv when it is there and does not build it."""
    need("alipay")
    venv = Path(__file__).resolve().parents[2] / ".venv-alipay-official"
    python = venv / "bin" / "python"
    if not python.exists() or not list(venv.glob("installed-*")):
        pytest.skip("no .venv-alipay-official yet (tests/wire/alipay_official_venv.py builds it)")
    snippet = snippets_for("alipay", merchant_creds(sandbox, "demo-alipay", "alipay"), sandbox.url)[1]
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    result = subprocess.run([str(python), "-c", snippet.code], capture_output=True, text=True, timeout=60,
                            cwd=venv, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["code"] == "10000" and answer["out_trade_no"] == "SNIPPET-0002", answer
