"""The payer's pages: /_sandbox/pay/{payment_id} to pay, fail or cancel one payment, and a page to open an
Alipay app-pay order string. No admin token is needed (a phone opens these); forms still carry a CSRF token.
"""
from __future__ import annotations

import json

import aiohttp
import segno
from aiohttp import web

from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..console.forms import form
from ..console.render import error_page, redirect, render
from ..core import errors
from ..core.models import CloseReason, PaymentStatus
from .urls import cashier_path, cashier_url

PAY = "/_sandbox/pay"
APP_PAY = f"{PAY}/alipay-app"
APP_PAY_API = "/_sandbox/api/alipay/app-pay"
ACTOR = "cashier"
WALLETS = (("wechat", "WeChat Pay"), ("alipay", "Alipay"))


def _state(payment, now: float) -> str | None:
    """Why the payment can no longer be paid here, or None while it can."""
    if payment.status is PaymentStatus.PENDING:
        return "expired" if payment.expires_at is not None and payment.expires_at <= now else None
    if payment.status is PaymentStatus.CLOSED and payment.close_reason is CloseReason.EXPIRED:
        return "expired"
    return payment.status.value.lower()


def _chooses_wallet(payment) -> bool:
    # A QuickPay aggregated QR code (QRPay): the payer's wallet is only known once someone pays.
    return payment.provider == "quickpay" and payment.trade_type == "NATIVE"


def qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, border=2, dark="#1f2933", light="#ffffff")


async def cashier_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        payment = await engine.get_payment(request.match_info["id"])
    except errors.NotFound:
        return error_page(request, 404, "Payment not found", "This payment link is not known to the sandbox.")
    merchant = next((m for m in engine.merchants() if m.id == payment.merchant_id), None)
    url = cashier_url(request.app[SETTINGS].base_url, payment.id)
    provider = request.app[PROVIDERS].get(payment.provider)
    return render(request, "cashier/pay.html", payment=payment, merchant=merchant, url=url, qr=qr_svg(url),
                  state=_state(payment, engine.clock.now()), provider_title=getattr(provider, "title", payment.provider),
                  wallets=WALLETS if _chooses_wallet(payment) else ())


async def cashier_action(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    payment_id, action = request.match_info["id"], request.match_info["action"]
    back = cashier_path(payment_id)
    fields = await form(request)
    try:
        payment = await engine.get_payment(payment_id)
        if _state(payment, engine.clock.now()) == "expired":
            raise errors.InvalidState("this payment has expired", payment)
        if action == "pay":
            payer = None
            if _chooses_wallet(payment):
                wallet = fields.get("wallet")
                if wallet not in dict(WALLETS):
                    raise errors.InvalidInput("choose WeChat Pay or Alipay")
                payer = {"wallet": wallet}
            payment = await engine.succeed(payment_id, actor=ACTOR, payer=payer)
            target = _after_payment_url(request, payment)
            if target:
                return web.Response(status=303, headers={"Location": target})
            return redirect(request, back, "Payment complete")
        if action == "fail":
            reason = fields.get("reason", "")[:256] or "the payer's payment failed"
            await engine.fail(payment_id, actor=ACTOR, reason=reason)
            return redirect(request, back, "Payment failed")
        await engine.close(payment_id, actor=ACTOR, why=CloseReason.CANCELED, reason="canceled by the payer")
        return redirect(request, back, "Payment canceled")
    except errors.NotFound:
        return error_page(request, 404, "Payment not found", "This payment link is not known to the sandbox.")
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")


def _after_payment_url(request: web.Request, payment) -> str | None:
    """Where the provider sends the payer's browser after paying (Alipay's return_url), if anywhere."""
    provider = request.app[PROVIDERS].get(payment.provider)
    after = getattr(provider, "after_payment_url", None)
    if after is None:
        return None
    return after(payment, request.app[ENGINE].merchant(payment.merchant_id)) or None


async def app_pay_page(request: web.Request) -> web.Response:
    return render(request, "cashier/app_pay.html", order_string="")


async def app_pay(request: web.Request) -> web.Response:
    """Hand the order string to the admin endpoint the Alipay adapter adds, then go to that payment's page.

    The call goes to this same server's own socket with the admin token, so a payer needs no token."""
    order_string = (await form(request)).get("order_string", "")
    if not order_string:
        return render(request, "cashier/app_pay.html", status=400, order_string="",
                      error="Paste the order string your app would hand to the Alipay SDK.")
    token = request.app[SETTINGS].admin_token
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            async with session.post(_own_url(request) + APP_PAY_API, json={"order_string": order_string},
                                    headers={"Authorization": f"Bearer {token}"} if token else {}) as response:
                status, raw = response.status, await response.text()
    except aiohttp.ClientError as exc:
        return render(request, "cashier/app_pay.html", status=502, order_string=order_string,
                      error=f"Could not reach the app-pay endpoint: {exc}")
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    if status == 404 and (data.get("error") or {}).get("code") == "NOT_FOUND":
        message = "This sandbox has no Alipay app-pay endpoint yet."
    elif status >= 400:
        message = (data.get("error") or {}).get("message") or f"HTTP {status}"
    else:
        payment_id = _payment_id(data)
        if payment_id:
            return web.Response(status=303, headers={"Location": cashier_path(payment_id)})
        message = "The endpoint answered without a payment id."
    return render(request, "cashier/app_pay.html", status=400, order_string=order_string, error=message)


def _payment_id(data: dict) -> str | None:
    payment = data.get("payment") if isinstance(data.get("payment"), dict) else data
    found = payment.get("id") or data.get("payment_id")
    return found if isinstance(found, str) and found.startswith("pay_") else None


def _own_url(request: web.Request) -> str:
    """The address this request came in on: the server itself, whatever public URL it is known by."""
    host, port = request.transport.get_extra_info("sockname")[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(APP_PAY, app_pay_page)  # before /pay/{id}: a fixed path wins
    r.add_post(APP_PAY, app_pay)
    r.add_get(f"{PAY}/{{id}}", cashier_page)
    r.add_post(f"{PAY}/{{id}}/{{action:pay|fail|cancel}}", cashier_action)
