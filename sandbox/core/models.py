"""The domain: merchants, payments, refunds, notifications and their attempts, events. Money is integer fen."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .app_data import AppOrderLink, AppRecord
from .ledger import Funding


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CLOSED = "CLOSED"
    REFUNDED = "REFUNDED"  # partly or fully: see refunded_amount


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CLOSED = "CLOSED"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class CloseReason(StrEnum):
    CLOSED = "closed"      # the merchant (or a tester) closed it
    EXPIRED = "expired"    # nobody paid before expires_at
    CANCELED = "canceled"  # cancel / reverse of an unpaid order


class Merchant(BaseModel):
    id: str
    name: str
    credentials: dict[str, dict[str, Any]] = Field(default_factory=dict)
    created_at: float

    def for_provider(self, provider: str) -> dict[str, Any]:
        return self.credentials.get(provider, {})


class NewPayment(BaseModel):
    """What an adapter hands the engine to create a payment; the adapter chose the provider's ids."""
    provider: str
    merchant_id: str
    out_trade_no: str
    provider_trade_no: str
    amount: int = Field(gt=0)
    currency: str = "CNY"
    trade_type: str
    description: str | None = None
    attach: str | None = None
    notify_url: str | None = None
    payer: dict[str, Any] = Field(default_factory=dict)
    provider_ids: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    # The parameters that make two create calls "the same order": equal fingerprint → same payment back.
    fingerprint: dict[str, Any] = Field(default_factory=dict)
    raw_request: str | None = None
    expires_in_s: float | None = None
    expires_at: float | None = None
    # An app's payment: the accounts it is paid from (core/ledger.py), the app order that follows it and app
    # records written with it (core/app_data.py), all in the payment's own transaction.
    funding: Funding | None = None
    app_order: AppOrderLink | None = None
    records: list[AppRecord] = Field(default_factory=list)


class Payment(BaseModel):
    id: str
    provider: str
    merchant_id: str
    out_trade_no: str
    provider_trade_no: str
    amount: int
    refunded_amount: int = 0
    currency: str
    trade_type: str
    status: PaymentStatus
    close_reason: CloseReason | None = None
    fail_reason: str | None = None
    description: str | None = None
    attach: str | None = None
    notify_url: str | None = None
    payer: dict[str, Any] = Field(default_factory=dict)
    provider_ids: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str
    raw_request: str | None = None
    created_at: float
    updated_at: float
    expires_at: float | None = None
    paid_at: float | None = None
    closed_at: float | None = None
    auto_action: str | None = None
    auto_action_at: float | None = None

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded_amount

    @property
    def is_final(self) -> bool:
        return self.status is not PaymentStatus.PENDING

    @property
    def was_paid(self) -> bool:
        """Paid at some point: a refund or a later cancel does not undo that."""
        return self.paid_at is not None

    @property
    def rule_action(self) -> dict[str, Any]:
        """The action of the rule this payment matched when it was created (kept in extra), or {}."""
        return (self.extra.get("rule") or {}).get("action", {})


class Refund(BaseModel):
    id: str
    payment_id: str
    out_refund_no: str
    provider_refund_no: str
    amount: int
    status: RefundStatus
    reason: str | None = None
    notify_url: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    succeeded_at: float | None = None


class Attempt(BaseModel):
    id: int | None = None
    notification_id: str
    number: int
    at: float
    due_at: float | None = None
    request_url: str
    request_headers: dict[str, str]
    request_body: str
    response_status: int | None = None
    response_body: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    acknowledged: bool = False


class Notification(BaseModel):
    id: str
    payment_id: str
    refund_id: str | None = None
    provider: str
    event: str
    url: str
    snapshot: dict[str, Any]
    status: NotificationStatus
    attempts: int = 0
    next_attempt_at: float | None = None
    created_at: float
    updated_at: float
    attempt_log: list[Attempt] = Field(default_factory=list)

    @property
    def payment(self) -> Payment:
        return Payment.model_validate(self.snapshot["payment"])

    @property
    def refund(self) -> Refund | None:
        raw = self.snapshot.get("refund")
        return Refund.model_validate(raw) if raw else None


class Event(BaseModel):
    id: int | None = None
    payment_id: str
    at: float
    kind: str  # api | state | action | notify
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class OutboundRequest(BaseModel):
    """One notify attempt as the provider would send it."""
    url: str
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""
