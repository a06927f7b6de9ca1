"""How WeChat Pay notifies: APIv3 JSON (encrypted resource, signed headers) or v2 XML, by the API that made the order.

Only successful payments are notified (WeChat sends no notify for a closed, failed or expired order); refunds are
notified as REFUND.SUCCESS / ABNORMAL / CLOSED, except the refund inside a reverse (撤销), which WeChat does not push.
"""
from __future__ import annotations

import asyncio
import secrets
import uuid

from ...core.models import Merchant, Notification, OutboundRequest, Payment, PaymentStatus, Refund, RefundStatus
from . import v2_crypto, v2_wire, v3_crypto, wire
from .v3_http import signature_time
from .wire import PROVIDER

# 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h (24 h 4 min in all)
RETRY_DELAYS: tuple[float, ...] = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600,
                                   10800, 10800, 10800, 21600, 21600)
_NOTIFY_NS = uuid.UUID("6f1d3c1e-8a43-4b8e-9d51-2a3c0f7e9b10")


def notify_id(notification: Notification) -> str:
    """The v3 notify `id`: a UUID like the real ones, the same on every retry of one notification."""
    return str(uuid.uuid5(_NOTIFY_NS, notification.id))


class WeChatChannel:
    provider = PROVIDER
    retry_delays = RETRY_DELAYS

    def payment_event(self, payment: Payment) -> str | None:
        return "TRANSACTION.SUCCESS" if payment.status is PaymentStatus.SUCCEEDED else None

    def refund_event(self, payment: Payment, refund: Refund) -> str | None:
        if refund.reason == "canceled" and payment.close_reason is not None:
            return None  # the refund inside a reverse
        return {RefundStatus.SUCCEEDED: "REFUND.SUCCESS", RefundStatus.FAILED: "REFUND.ABNORMAL",
                RefundStatus.CLOSED: "REFUND.CLOSED"}.get(refund.status)

    async def render(self, notification: Notification, merchant: Merchant, attempt: int, now: float) -> OutboundRequest:
        creds = merchant.for_provider(PROVIDER)
        payment, refund = notification.payment, notification.refund
        if payment.extra.get("api") == "v2":
            body = _v2_refund(payment, refund, creds) if refund else _v2_pay(payment, creds)
            return OutboundRequest(url=notification.url, body=body,
                                   headers={"Content-Type": "text/xml; charset=utf-8"})
        resource = (wire.v3_refund_notice(payment, refund, creds["mchid"]) if refund
                    else wire.v3_transaction(payment, creds["mchid"]))
        envelope = v3_crypto.notify_body(creds["apiv3_key"], resource, notification.event,
                                         create_time=notification.created_at, notify_id=notify_id(notification))
        body = v3_crypto.json_bytes(envelope)
        headers = await asyncio.to_thread(v3_crypto.sign_response_headers, creds, body, signature_time())  # RSA
        headers["Content-Type"] = "application/json"
        return OutboundRequest(url=notification.url, body=body, headers=headers)

    def is_acknowledged(self, request: OutboundRequest, status: int, body: bytes) -> bool:
        """v3: HTTP 200 or 204, whatever the body. v2: HTTP 200 with the SUCCESS XML, and nothing else."""
        if request.body.startswith(b"<xml>"):
            return status == 200 and _v2_ack(body)
        return status in (200, 204)


def _v2_ack(body: bytes) -> bool:
    try:
        return v2_crypto.parse_xml(body.strip()).get("return_code") == "SUCCESS"
    except v2_crypto.XmlError:
        return False


def _key(payment: Payment, creds: dict) -> str:
    if payment.extra.get("sandboxnew"):
        return v2_wire.sandbox_signkey(creds["v2_key"], creds["mchid"])
    return creds["v2_key"]


def _v2_pay(payment: Payment, creds: dict) -> bytes:
    """Signed with the order's sign type and, like the real notify (WxJava #1585), without a sign_type field."""
    fields = {"return_code": "SUCCESS", "appid": payment.extra.get("appid"), "mch_id": creds["mchid"],
              "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS", **v2_wire.paid_fields(payment)}
    if payment.extra.get("device_info"):
        fields["device_info"] = payment.extra["device_info"]
    fields = v2_wire.stringify(fields)
    fields["sign"] = v2_crypto.sign(fields, _key(payment, creds), payment.extra.get("sign_type") or "MD5")
    return v2_crypto.to_xml(fields)


def _v2_refund(payment: Payment, refund: Refund, creds: dict) -> bytes:
    """Not signed: req_info is encrypted with md5(key) instead."""
    inner = v2_wire.stringify(v2_wire.refund_notice(payment, refund))
    return v2_crypto.to_xml({"return_code": "SUCCESS", "appid": payment.extra.get("appid"),
                             "mch_id": creds["mchid"], "nonce_str": secrets.token_hex(16),
                             "req_info": v2_crypto.encrypt_req_info(_key(payment, creds), inner)})
