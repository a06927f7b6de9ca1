"""What every provider package offers the app (its routes, its notify channel and its merchant credentials), and
the helpers the packages share: bounded body reading, validation text, the payment-code convention, new credentials."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Protocol

from aiohttp import web
from pydantic import ValidationError

from ..access_log import note_faulted
from ..core.channels import NotifyChannel
from ..core.engine import Engine
from ..core.models import Payment
from ..core.rules import ApiCall, RuleAction, fault_rule
from ..settings import Settings


class Provider(Protocol):
    name: str          # the key of its credentials in Merchant.credentials, and Payment.provider
    title: str         # how people call it ("WeChat Pay")
    channel: NotifyChannel | None

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        """Add the provider's real paths to the app."""

    def new_credentials(self, **options: Any) -> dict[str, Any]:
        """Fresh credentials (keys generated) for a new merchant; options as the admin API passes them."""

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        """The ids a request names the merchant by (mchid, app_id, store_no)."""

    # Optional: where the payer's browser goes after paying on the cashier page (Alipay's signed return_url).
    # def after_payment_url(self, payment: Payment, merchant: Merchant) -> str | None: ...


async def injected_fault(engine: Engine, request: web.Request, describe_call: Callable[[], ApiCall]) -> bool:
    """Apply a fault rule to this call, if one matches: wait out its delay (real seconds, so the merchant's HTTP client
    times out for real), drop the connection if it says so, and say whether the adapter must not carry out the call
    but answer its provider's system error (to nobody, once dropped). `describe_call` is only called when some rule
    injects faults."""
    if not engine.has_fault_rules:
        return False
    call = describe_call()
    rule = fault_rule(engine.rules(), call)  # the one api_fault takes (it looks before any await)
    action = await engine.api_fault(call)
    if action is None:
        return False
    note_faulted(rule.id if rule is not None else "", _fault_words(action))
    if action.api_delay_s:
        await asyncio.sleep(action.api_delay_s)
    if action.api_drop and request.transport is not None:
        request.transport.close()  # the merchant sees the connection reset with no answer; aiohttp drops ours
        return True
    return action.api_error


def _fault_words(action: RuleAction) -> str:
    what = "dropped the connection" if action.api_drop else "answered a system error" if action.api_error \
        else f"answered {action.api_delay_s:g} s late"
    return what + (f" after {action.api_delay_s:g} s" if action.api_delay_s and not what.endswith("late") else "")


class InvalidOptions(ValueError):
    """A provider refused the options given for a new merchant's credentials ("wechat: unknown mode 'x'")."""


async def fresh_credentials(providers: Mapping[str, Provider], options: Mapping[str, dict[str, Any]]
                            ) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """A new merchant's credentials for each provider named in `options`, and the (provider, key) pairs requests
    will name it by. Key generation is CPU work: it runs off the event loop."""
    credentials = {}
    for name, provider_options in options.items():
        try:
            credentials[name] = await asyncio.to_thread(providers[name].new_credentials, **provider_options)
        except (TypeError, ValueError) as exc:
            raise InvalidOptions(f"{name}: {exc}") from None
    return credentials, lookup_keys(providers, credentials)


def lookup_keys(providers: Mapping[str, Provider], credentials: Mapping[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The (provider, key) pairs a merchant with these credentials is named by in requests (mchid, app_id …)."""
    return [(name, key) for name, creds in credentials.items() for key in providers[name].lookup_keys(creds)]


class BodyTooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused past `limit` bytes without reading it all into memory."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        return await request.read()  # the length is known and allowed: aiohttp reads exactly that much
    chunks, size = [], 0  # chunked: count as it arrives
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def pay_by_code(engine: Engine, payment: Payment, code: str, *, actor: str, code_name: str) -> Payment:
    """Sandbox convention for a fresh order paid with a payment code (QuickPay barcode, WeChat auth_code): its last
    four digits choose the outcome. 1111: the payer is asked for a password, so it stays pending until a tester or a
    rule decides; 4444: it fails (insufficient balance); any other: it is paid at once."""
    if code.endswith("1111"):
        return payment
    if code.endswith("4444"):
        return await engine.fail(payment.id, actor=actor, reason=f"余额不足 ({code_name} ends 4444)")
    return await engine.succeed(payment.id, actor=actor)


def validation_problems(exc: ValidationError, whole: str) -> str:
    """The first five problems of a rejected body as `field: message`, joined with `; ` (`whole` names the body
    itself when the problem is not in one field)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or whole}: {e['msg']}" for e in exc.errors()[:5])


def logged_request(params: Mapping[str, Any]) -> dict[str, Any]:
    """A request as a payment's timeline keeps it (engine.log_api_call): its parameters without the signature."""
    return {k: v for k, v in params.items() if k != "sign"}
