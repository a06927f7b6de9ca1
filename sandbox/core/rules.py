"""Rules: what happens to payments that match (`matching`, at create), and faults injected into API calls that match
(`fault_rule`, on every call): the provider's "system busy" answer and/or a late answer, optionally only for the
first N calls, so a merchant's retry and timeout handling can be tested."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import re2
from pydantic import BaseModel, Field, field_validator, model_validator


Operation = Literal["create", "query", "close", "cancel", "refund", "refund_query"]  # what fault rules match calls by
OPERATIONS: tuple[str, ...] = get_args(Operation)

# Bounds of every number and text a rule holds: what the store can keep (64-bit integers) with room, and more than
# any real use (an amount of ten billion yuan, a delay of ten years).
MAX_AMOUNT = 10**12  # fen
MAX_SECONDS = 10 * 365 * 86400
MAX_TIMES = 10**9
MAX_PATTERN = 512
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the caller's answer, not a line on stderr


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str):
    """An out_trade_no_pattern compiled by RE2: linear-time matching, so no pattern can stall the event loop
    (Python's re takes 15 s for ^(a+)+$ against a×28 + "!"). RE2 has no backreferences or lookaround."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


def pattern_search(pattern: str, text: str) -> bool:
    try:
        return compiled_pattern(pattern).search(text) is not None
    except UnicodeEncodeError:  # a text RE2 cannot take (a lone surrogate) matches no pattern
        return False


class RuleMatch(BaseModel):
    provider: str | None = Field(default=None, max_length=64)
    merchant_id: str | None = Field(default=None, max_length=64)
    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT)  # fen
    # a regular expression in RE2 syntax, searched (no backreferences or lookaround)
    out_trade_no_pattern: str | None = Field(default=None, max_length=MAX_PATTERN)
    trade_type: str | None = Field(default=None, max_length=64)
    operation: Operation | None = None

    @field_validator("out_trade_no_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled_pattern(value)
            except re2.error as exc:  # a ValueError becomes a validation error; re2.error would not
                reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) \
                    else str(exc)
                raise ValueError(f"not a regular expression: {reason} (patterns are RE2 syntax: no backreferences "
                                 f"or lookaround)") from None
            except UnicodeEncodeError:
                raise ValueError("not a regular expression: it holds a lone surrogate") from None
        return value


class RuleAction(BaseModel):
    outcome: Literal["succeed", "fail", "close", "pending"] | None = None
    after_s: float = Field(default=0, ge=0, le=MAX_SECONDS, allow_inf_nan=False)
    reason: str | None = Field(default=None, max_length=256)
    notify: Literal["normal", "delay", "drop", "duplicate"] = "normal"
    notify_delay_s: float = Field(default=0, ge=0, le=MAX_SECONDS, allow_inf_nan=False)
    refund: Literal["succeed", "processing"] = "succeed"  # processing: refunds wait for settle_refund
    # Faults in the API call itself (nothing is changed when api_error is set):
    api_error: bool = False  # answer the provider's system error ("系统繁忙", SYSTEM_ERROR, 20000 …)
    api_drop: bool = False  # close the connection without an answer (the call is not carried out either)
    api_delay_s: float = Field(default=0, ge=0, le=60, allow_inf_nan=False)  # answer (or drop) this many real s late
    api_times: int | None = Field(default=None, ge=1, le=MAX_TIMES)  # only the first N matching calls; None: every one

    @property
    def injects_fault(self) -> bool:
        return self.api_error or self.api_drop or self.api_delay_s > 0


class Rule(BaseModel):
    id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=200)
    match: RuleMatch = Field(default_factory=RuleMatch)
    action: RuleAction = Field(default_factory=RuleAction)
    hits: int = Field(default=0, ge=0, le=2**62)  # calls faulted so far (fault rules)
    # A default shipped with the sandbox (the magic amounts): rules added later go before the shipped ones.
    shipped: bool = False

    @model_validator(mode="after")
    def _fault_rules_match_what_calls_say(self):
        if self.action.injects_fault and self.match.trade_type is not None:
            raise ValueError("a fault rule cannot match trade_type (calls are matched by provider, merchant_id, "
                             "operation, out_trade_no_pattern and, for creates, amount)")
        return self

    def matches(self, payment) -> bool:
        """payment: anything with provider, merchant_id, amount, trade_type and out_trade_no (None: unknown)."""
        m = self.match
        return (
            (m.provider is None or m.provider == payment.provider)
            and (m.merchant_id is None or m.merchant_id == payment.merchant_id)
            and (m.amount is None or m.amount == payment.amount)
            and (m.trade_type is None or m.trade_type == payment.trade_type)
            and (m.out_trade_no_pattern is None
                 or (payment.out_trade_no is not None
                     and pattern_search(m.out_trade_no_pattern, payment.out_trade_no)))
        )

    def faults(self, call: "ApiCall") -> bool:
        m, a = self.match, self.action
        return (a.injects_fault and (m.operation is None or m.operation == call.operation) and self.matches(call)
                and (a.api_times is None or self.hits < a.api_times))


@dataclass(frozen=True)
class ApiCall:
    """What an adapter knows of a call when it asks whether to fault it (None: the call does not say)."""
    provider: str
    merchant_id: str
    operation: Operation
    out_trade_no: str | None = None
    amount: int | None = None
    trade_type: str | None = None


def matching(rules: list[Rule], payment) -> Rule | None:
    """The first rule for a new payment; fault rules only fault calls, and a rule for another operation never
    matches a create."""
    return next((rule for rule in rules if not rule.action.injects_fault
                 and rule.match.operation in (None, "create") and rule.matches(payment)), None)


def fault_rule(rules: list[Rule], call: ApiCall) -> Rule | None:
    return next((rule for rule in rules if rule.faults(call)), None)


def _shapes_payments(rule: Rule) -> bool:
    return not rule.action.injects_fault and rule.match.operation in (None, "create")


def shadows(earlier: Rule, later: Rule) -> bool:
    """Does `earlier` (tried first) match everything `later` matches, so that `later` never applies?

    Conservative: only when every match field of `earlier` is empty or the same as `later`'s (two different
    patterns are never compared), and a fault rule limited to its first N calls shadows nothing."""
    if _shapes_payments(later):
        if not _shapes_payments(earlier):
            return False
    elif later.action.injects_fault:
        if not earlier.action.injects_fault or earlier.action.api_times is not None:
            return False
        if earlier.match.operation not in (None, later.match.operation):
            return False
    else:
        return False  # a payment rule for another call than create: it never applies anyway
    a, b = earlier.match, later.match
    return all(getattr(a, name) is None or getattr(a, name) == getattr(b, name)
               for name in ("provider", "merchant_id", "amount", "trade_type", "out_trade_no_pattern"))


def shadowed_by(rules: list[Rule], rule: Rule) -> list[Rule]:
    """The rules before `rule` in `rules` (the order they are tried) that match everything it matches."""
    earlier = []
    for other in rules:
        if other.id == rule.id:
            break
        earlier.append(other)
    return [other for other in earlier if shadows(other, rule)]
