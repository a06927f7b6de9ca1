"""Run code against the OFFICIAL Alipay SDK (PyPI `alipay-sdk-python`) in its own virtualenv.

python-alipay-sdk (used in-process by the tests) and alipay-sdk-python both install a top-level `alipay`
package, so the official one lives in `.venv-alipay-official/` at the repo root (gitignored), created once
and reused. Scripts run there as a subprocess: JSON in on stdin, JSON out as the last line of stdout.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

OFFICIAL_SDK = "alipay-sdk-python==3.7.1411"  # needs pycryptodome + rsa, both install on Python 3.11
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = REPO_ROOT / ".venv-alipay-official"
_READY_MARKER = VENV_DIR / ("installed-" + OFFICIAL_SDK.replace("==", "-"))

# Prepend to a script that talks to a sandbox on a non-default port. The SDK's
# WebUtils.get_http_connection always connects to port 80 (443 for https) and then does
# `url += url_parse_result.port` (str + int → TypeError) when the URL has a port. This replacement honours
# the port and keeps what the SDK sends: an absolute-form request target (`POST http://host:port/gateway.do?…`).
PORT_PATCH = '''
import http.client as _http_client
import urllib.parse as _urlparse
import alipay.aop.api.util.WebUtils as _web_utils

def _get_http_connection(url, query_string, timeout):
    parts = _urlparse.urlsplit(url)
    if parts.scheme == "https":
        connection = _http_client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout)
    else:
        connection = _http_client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    return parts.scheme + "://" + parts.netloc + parts.path + "?" + query_string, connection

_web_utils.get_http_connection = _get_http_connection  # do_post/do_multipart_post look it up here
'''


def venv_python() -> Path:
    """Path of the venv's interpreter, creating the venv and installing the SDK on first use."""
    python = VENV_DIR / "bin" / "python"
    if _READY_MARKER.exists() and python.exists():
        return python
    VENV_DIR.mkdir(exist_ok=True)
    # a lock file so parallel test workers don't build the same venv at once
    with open(VENV_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (_READY_MARKER.exists() and python.exists()):
            venv.EnvBuilder(with_pip=True).create(VENV_DIR)
            # --no-compile: the wheel holds ~10k modules; byte-compiling them all would dominate install time
            install = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--no-compile", OFFICIAL_SDK],
                capture_output=True, text=True,
            )
            if install.returncode != 0:
                raise RuntimeError(f"pip install {OFFICIAL_SDK} failed:\n{install.stdout}\n{install.stderr}")
            _READY_MARKER.touch()
    return python


def run_script(source: str, payload: object = None, *, timeout: float = 120) -> object:
    """Run `source` in the official-SDK venv with `payload` as JSON on stdin; return its last stdout line as JSON."""
    python = venv_python()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"  # keep the host's packages (and its `alipay`) out
    result = subprocess.run(
        [str(python), "-c", source], input=json.dumps(payload), capture_output=True, text=True,
        timeout=timeout, cwd=VENV_DIR, env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"official SDK script failed ({result.returncode}):\n{result.stderr}")
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"official SDK script printed nothing; stderr:\n{result.stderr}")
    return json.loads(lines[-1])


if __name__ == "__main__":  # `python tests/wire/alipay_official_venv.py` prepares the venv ahead of a test run
    print(venv_python(), file=sys.stderr)
