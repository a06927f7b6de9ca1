"""Rules: what happens to payments that match. Stored and listed now; matched by `matching`."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class RuleMatch(BaseModel):
    provider: str | None = None
    merchant_id: str | None = None
    amount: int | None = Field(default=None, gt=0)
    out_trade_no_pattern: str | None = None  # a regular expression, searched
    trade_type: str | None = None

    @field_validator("out_trade_no_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:  # a ValueError becomes a validation error; re.error would not
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class RuleAction(BaseModel):
    outcome: Literal["succeed", "fail", "close", "pending"] | None = None
    after_s: float = Field(default=0, ge=0)
    reason: str | None = None
    notify: Literal["normal", "delay", "drop", "duplicate"] = "normal"
    notify_delay_s: float = Field(default=0, ge=0)
    refund: Literal["succeed", "processing"] = "succeed"  # processing: refunds wait for settle_refund


class Rule(BaseModel):
    id: str | None = None
    name: str = ""
    match: RuleMatch = Field(default_factory=RuleMatch)
    action: RuleAction = Field(default_factory=RuleAction)

    def matches(self, payment) -> bool:
        m = self.match
        return (
            (m.provider is None or m.provider == payment.provider)
            and (m.merchant_id is None or m.merchant_id == payment.merchant_id)
            and (m.amount is None or m.amount == payment.amount)
            and (m.trade_type is None or m.trade_type == payment.trade_type)
            and (m.out_trade_no_pattern is None or re.search(m.out_trade_no_pattern, payment.out_trade_no) is not None)
        )


def matching(rules: list[Rule], payment) -> Rule | None:
    return next((rule for rule in rules if rule.matches(payment)), None)
