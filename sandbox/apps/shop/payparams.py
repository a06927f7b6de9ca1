"""What the shop hands its app to open a payment: WeChat's APP object and Alipay's app-pay order string."""
from __future__ import annotations

from typing import Any

from ...money import fen_to_yuan
from ...providers.alipay import signing
from ...providers.wechat import v2_crypto
from . import wire

ALIPAY_METHOD = "alipay.trade.app.pay"
PRODUCT_CODE = "QUICK_MSECURITY_PAY"
TIMEOUT_EXPRESS = "60m"
ALIPAY_SDK = "alipay-sdk-php-easyalipay-20190926"  # what the original's PHP SDK adds to the string (seed 002)


def wechat_app(creds: dict[str, Any], appid: str, prepay_id: str, now: float) -> dict[str, str]:
    """{appid, partnerid, prepayid, package "Sign=WXPay", noncestr, timestamp, sign}: sign is the v2 MD5 over the
    other six with the merchant's v2 key, uppercase, as WeChat's app SDK checks it."""
    return v2_crypto.app_pay_params(appid, creds["mchid"], prepay_id, creds["v2_key"], int(now))


def alipay_biz(out_trade_no: str, amount: int, subject: str) -> dict[str, str]:
    return {"body": subject, "subject": subject, "out_trade_no": out_trade_no, "timeout_express": TIMEOUT_EXPRESS,
            "total_amount": fen_to_yuan(amount), "product_code": PRODUCT_CODE}


def alipay_order_string(creds: dict[str, Any], biz: dict[str, str], notify_url: str | None, now: float) -> str:
    """The alipay.trade.app.pay order string, RSA2-signed with the merchant's app private key (what the app passes to
    the Alipay SDK's payV2; pasted at /_sandbox/pay/alipay-app it opens the same sandbox trade)."""
    params = {"alipay_sdk": ALIPAY_SDK, "app_id": creds["app_id"], "biz_content": biz, "charset": "UTF-8",
              "format": "json", "method": ALIPAY_METHOD, "notify_url": notify_url, "sign_type": "RSA2",
              "timestamp": wire.alipay_timestamp(now), "version": "1.0"}
    return signing.order_string(params, creds["app_private_key_pem"])
