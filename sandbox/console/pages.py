"""The console's payment pages under /_sandbox/: the list, one payment, and its action buttons.

Every button calls the same engine function as the admin API (sandbox/console/api.py) and renders the same
serializers; it only differs in the actor recorded on the timeline ("console").
"""
from __future__ import annotations

from aiohttp import web

from ..appkeys import ENGINE, PROVIDERS
from ..core import errors
from ..core.ids import new_id
from ..core.models import PaymentStatus, RefundStatus
from ..core.refunds import SETTLE_OUTCOMES
from . import CONSOLE, MAX_NOTIFY_DELAY_S, app_pages, clock_pages, forms, login_pages, merchant_pages, paging, rule_pages
from . import request_pages
from .live import setup_live
from .render import error_page, provider_titles, redirect, render
from .rule_pages import described_dump
from .serialize import payment_detail_json, payment_json

PAGE_SIZE = 25
ACTOR = "console"


def _filters(request: web.Request) -> tuple[dict[str, str], list[str]]:
    """The list's filters, and what to say about values that are not known (those filters are left out)."""
    q, engine = request.query, request.app[ENGINE]
    filters = {"provider": q.get("provider", ""), "merchant": q.get("merchant", ""),
               "status": (q.get("status") or "").upper(), "q": q.get("q", "").strip()}
    known = {"provider": sorted(request.app[PROVIDERS]), "merchant": [m.id for m in engine.merchants()],
             "status": list(PaymentStatus.__members__)}
    problems = []
    for name, allowed in known.items():
        if filters[name] and filters[name] not in allowed:
            problems.append(f"Unknown {name} {q.get(name)!r}, so this filter is not applied; "
                            f"the {'statuses' if name == 'status' else name + 's'} are {', '.join(allowed)}.")
            filters[name] = ""
    return filters, problems


async def payments_page(request: web.Request) -> web.Response:
    """Newest first. Page numbers (`page=`) reach the first MAX_OFFSET payments; "Older" follows a keyset cursor
    (`after=`, with `page=` only for the label), as deep as the list goes."""
    engine = request.app[ENGINE]
    (filters, problems), page = _filters(request), forms.page_number(request)
    after = None
    if request.query.get("after"):
        try:
            after = paging.parse_cursor(request.query["after"])
        except ValueError as exc:
            problems.append(f"{exc}; showing the newest payments.")
            page = 1
    if after is None and (page - 1) * PAGE_SIZE > paging.MAX_OFFSET:
        problems.append(f"Page {page} is past the numbered pages: follow Older → from page "
                        f"{paging.MAX_OFFSET // PAGE_SIZE} on. Showing the newest payments.")
        page = 1
    payments, total = await engine.list_payments(
        provider=filters["provider"] or None, merchant_id=filters["merchant"] or None,
        status=filters["status"] or None, text=filters["q"] or None, after=after,
        limit=PAGE_SIZE + 1, offset=0 if after else (page - 1) * PAGE_SIZE, count_bound=paging.COUNT_BOUND)
    older = paging.cursor(payments[PAGE_SIZE - 1]) if len(payments) > PAGE_SIZE else None
    payments = payments[:PAGE_SIZE]
    last = await engine.last_attempts([p.id for p in payments])
    rows = [payment_json(p, last.get(p.id)) for p in payments]
    template = "console/_payment_rows.html" if request.headers.get("X-Fragment") else "console/payments.html"
    exact = total <= paging.COUNT_BOUND
    return render(request, template, rows=rows, total=total, total_text=paging.total_text(total), page=page,
                  pages=max(1, -(-total // PAGE_SIZE)) if exact else None, older=older,
                  newer_page=page - 1 if page > 1 and (page - 2) * PAGE_SIZE <= paging.MAX_OFFSET else None,
                  filters=filters, filter_problems=problems, statuses=list(PaymentStatus.__members__),
                  merchants=engine.merchants(), providers=sorted(request.app[PROVIDERS]))


async def payment_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    payment_id = request.match_info["id"]
    try:
        detail = payment_detail_json(await engine.payment_detail(payment_id))
    except errors.NotFound as exc:
        return error_page(request, 404, "No such payment", exc.message)
    merchant = next((m for m in engine.merchants() if m.id == detail["merchant_id"]), None)
    template = "console/_payment_live.html" if request.headers.get("X-Fragment") else "console/payment.html"
    return render(request, template, p=detail, merchant=merchant, units=list(forms.UNITS),
                  rule=described_dump(detail["extra"].get("rule"), provider_titles(request)))


async def payment_action(request: web.Request) -> web.Response:
    """succeed | fail | close | refund | notify (send again): one engine call, then back to the payment."""
    engine = request.app[ENGINE]
    payment_id, action = request.match_info["id"], request.match_info["action"]
    back = f"{CONSOLE}/payments/{payment_id}"
    try:
        fields = await forms.form(request)
        delay = forms.seconds(fields, "notify_delay", "notify_delay_unit", MAX_NOTIFY_DELAY_S) or None
        if action == "succeed":
            await engine.succeed(payment_id, actor=ACTOR, notify_delay_s=delay)
            message = "Payment succeeded" + (f"; notify in {delay:g} s" if delay else "; notify queued")
        elif action == "fail":
            reason = forms.text(fields, "reason") or "failed from the console"
            await engine.fail(payment_id, actor=ACTOR, reason=reason, notify_delay_s=delay)
            message = f"Payment failed: {reason}"
        elif action == "close":
            await engine.close(payment_id, actor=ACTOR, notify_delay_s=delay)
            message = "Payment closed"
        elif action == "refund":
            amount = forms.fen(fields, "amount")
            refund, _ = await engine.refund(
                payment_id, amount=amount, out_refund_no=forms.text(fields, "out_refund_no", 64) or new_id("refund"),
                provider_refund_no=new_id("rf"), reason=forms.text(fields, "reason"), actor=ACTOR,
                hold=True if fields.get("hold") else None)  # unticked: as the payment's rule says
            if refund.status is RefundStatus.PROCESSING:
                message = (f"Refund of {forms.fen_text(refund.amount)} ({refund.out_refund_no}) held as PROCESSING: "
                           f"settle it in the Refunds panel")
            else:
                message = f"Refunded {forms.fen_text(refund.amount)} ({refund.out_refund_no})"
        else:  # notify: a new copy of the latest notification
            when = forms.seconds(fields, "delay", "delay_unit", MAX_NOTIFY_DELAY_S)
            notification = await engine.resend(payment_id, delay_s=when, actor=ACTOR)
            message = f"New {notification.event} notification queued" + (f", due in {when:g} s" if when else "")
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")
    return redirect(request, back, message)


async def notification_action(request: web.Request) -> web.Response:
    """deliver (now or after a delay) | suppress one notification."""
    engine = request.app[ENGINE]
    notification_id, action = request.match_info["id"], request.match_info["action"]
    try:
        notification = await engine.get_notification(notification_id)
    except errors.NotFound as exc:
        return error_page(request, 404, "No such notification", exc.message)
    back = f"{CONSOLE}/payments/{notification.payment_id}"
    try:
        fields = await forms.form(request)
        if action == "deliver":
            delay = forms.seconds(fields, "delay", "delay_unit", MAX_NOTIFY_DELAY_S)
            await engine.deliver(notification_id, delay_s=delay, actor=ACTOR)
            message = "Delivery " + (f"in {delay:g} s" if delay else "now") + " requested"
        else:
            await engine.suppress(notification_id, actor=ACTOR)
            message = "Notification suppressed: no more attempts until delivered again"
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")
    return redirect(request, back, message)


async def refund_action(request: web.Request) -> web.Response:
    """succeed | fail (with a reason) | close a PROCESSING refund: engine.settle_refund, as the admin API does."""
    engine = request.app[ENGINE]
    refund_id, action = request.match_info["id"], request.match_info["action"]
    try:
        refund = await engine.get_refund(refund_id)
    except errors.NotFound as exc:
        return error_page(request, 404, "No such refund", exc.message)
    back = f"{CONSOLE}/payments/{refund.payment_id}"
    try:
        fields = await forms.form(request)
        reason = forms.text(fields, "reason")
        if action == "fail" and not reason:
            reason = "failed from the console"
        refund = await engine.settle_refund(refund_id, SETTLE_OUTCOMES[action], actor=ACTOR, reason=reason)
    except errors.SandboxError as exc:
        return redirect(request, back, exc.message, "error")
    return redirect(request, back, f"Refund {refund.out_refund_no} ({forms.fen_text(refund.amount)}) "
                                   f"{refund.status.value.lower()}" + (f": {reason}" if reason else ""))


async def to_console(request: web.Request) -> web.Response:
    return web.Response(status=308, headers={"Location": f"{CONSOLE}/"})


def setup(app: web.Application) -> None:
    """The console: payments, merchants, rules, clock, login and live updates (templates and security are set up first)."""
    r = app.router
    r.add_get(f"{CONSOLE}", to_console)
    r.add_get(f"{CONSOLE}/", payments_page)
    r.add_get(f"{CONSOLE}/payments", payments_page)
    r.add_get(f"{CONSOLE}/payments/{{id}}", payment_page)
    r.add_post(f"{CONSOLE}/payments/{{id}}/{{action:succeed|fail|close|refund|notify}}", payment_action)
    r.add_post(f"{CONSOLE}/notifications/{{id}}/{{action:deliver|suppress}}", notification_action)
    r.add_post(f"{CONSOLE}/refunds/{{id}}/{{action:succeed|fail|close}}", refund_action)
    merchant_pages.setup(app)
    rule_pages.setup(app)
    clock_pages.setup(app)
    app_pages.setup(app)
    login_pages.setup(app)
    request_pages.setup(app)
    setup_live(app)
