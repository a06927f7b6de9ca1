"""What the engine refuses, in its own words; each adapter maps these to its provider's error shape."""
from __future__ import annotations


class SandboxError(Exception):
    code = "SANDBOX_ERROR"
    http_status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(SandboxError):
    code = "NOT_FOUND"
    http_status = 404


class MerchantNotFound(NotFound):
    code = "MERCHANT_NOT_FOUND"


class PaymentNotFound(NotFound):
    code = "PAYMENT_NOT_FOUND"


class RefundNotFound(NotFound):
    code = "REFUND_NOT_FOUND"


class NotificationNotFound(NotFound):
    code = "NOTIFICATION_NOT_FOUND"


class RuleNotFound(NotFound):
    code = "RULE_NOT_FOUND"


class DuplicateOrder(SandboxError):
    """The out_trade_no is taken by a payment created with other parameters."""
    code = "DUPLICATE_ORDER"
    http_status = 409

    def __init__(self, message: str, existing):
        super().__init__(message)
        self.existing = existing


class DuplicateRefund(SandboxError):
    """The out_refund_no is taken by a refund of another amount."""
    code = "DUPLICATE_REFUND"
    http_status = 409

    def __init__(self, message: str, existing):
        super().__init__(message)
        self.existing = existing


class InvalidState(SandboxError):
    """The payment's status does not allow this action (paying a closed order, closing a paid one ...)."""
    code = "INVALID_STATE"
    http_status = 409

    def __init__(self, message: str, payment):
        super().__init__(message)
        self.payment = payment


class RefundExceedsPayment(SandboxError):
    code = "REFUND_EXCEEDS_PAYMENT"

    def __init__(self, message: str, payment):
        super().__init__(message)
        self.payment = payment


class InsufficientFunds(SandboxError):
    """An app user's account (balance, points) has less available than a payment needs."""
    code = "INSUFFICIENT_FUNDS"
    http_status = 409


class InvalidInput(SandboxError):
    code = "INVALID_INPUT"


class Refused(SandboxError):
    """A provider's refusal of what a tester handed the sandbox (an app order string, say), in the provider's code."""

    def __init__(self, message: str, code: str, http_status: int = 400):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
