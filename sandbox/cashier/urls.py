"""Where the payer-facing pages of a payment live (handed out as h5_url, code_url, qr_code, cloudpay_param ...)."""
from __future__ import annotations


def cashier_path(payment_id: str) -> str:
    return f"/_sandbox/pay/{payment_id}"


def cashier_url(base_url: str, payment_id: str) -> str:
    return base_url.rstrip("/") + cashier_path(payment_id)
