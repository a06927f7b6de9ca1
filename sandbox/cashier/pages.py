"""The payer's pages: /_sandbox/pay/{payment_id} to pay, fail or cancel one payment, and a page to open an
Alipay app-pay order string. No admin token is needed (a phone opens these); forms still carry a CSRF token.
"""
from __future__ import annotations

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
    """Open the order string through the Alipay adapter (as its admin endpoint does), then go to that payment's page.

    A payer needs no admin token for this."""
    order_string = (await form(request)).get("order_string", "")
    if not order_string:
        return render(request, "cashier/app_pay.html", status=400, order_string="",
                      error="Paste the order string your app would hand to the Alipay SDK.")
    alipay = request.app[PROVIDERS].get("alipay")
    if alipay is None:
        message = "This sandbox has no Alipay app-pay endpoint yet."
    else:
        try:
            payment = await alipay.open_app_order({"order_string": order_string})
            return web.Response(status=303, headers={"Location": cashier_path(payment.id)})
        except errors.SandboxError as exc:
            message = exc.message
    return render(request, "cashier/app_pay.html", status=400, order_string=order_string, error=message)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(APP_PAY, app_pay_page)  # before /pay/{id}: a fixed path wins
    r.add_post(APP_PAY, app_pay)
    r.add_get(f"{PAY}/{{id}}", cashier_page)
    r.add_post(f"{PAY}/{{id}}/{{action:pay|fail|cancel}}", cashier_action)
