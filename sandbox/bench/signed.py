"""Signed creates (WeChat APIv3, Alipay), measured against this machine's RSA-2048 signing rate."""
from __future__ import annotations

import re
import subprocess


def openssl_rsa2048_sign_rate(seconds: int = 3) -> float | None:
    """Signatures per second of one core, from `openssl speed` (None when openssl is missing)."""
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                             text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)", out, re.MULTILINE)
    return float(match.group(1)) if match else None


async def signed_scenarios(sandbox_url: str, args) -> list[str]:
    rate = openssl_rsa2048_sign_rate()
    return [f"openssl speed rsa2048 (one core): {rate:.0f} sign/s" if rate else "openssl speed: not available"]
