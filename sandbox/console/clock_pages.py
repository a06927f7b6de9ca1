"""The sandbox clock (advance by a preset or any amount) and the reset of all payments (with a confirmation)."""
from __future__ import annotations

from aiohttp import web

from ..appkeys import ENGINE, SETTINGS
from ..core import errors
from ..templating import when, zone_label
from . import CONSOLE, forms
from .render import redirect, render

PRESETS = [(60, "+1 min"), (3600, "+1 h"), (86400, "+1 day")]


def describe(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


async def clock_page(request: web.Request) -> web.Response:
    clock = request.app[ENGINE].clock
    return render(request, "console/clock.html", offset=clock.offset_s, presets=PRESETS,
                  units=list(forms.UNITS), rules=request.app[ENGINE].rules())


async def advance(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        fields = await forms.form(request)
        seconds = forms.seconds(fields, "amount", "unit")
        if seconds <= 0:
            raise errors.InvalidInput("advance by more than 0 seconds")
        now = await engine.advance_clock(seconds)
    except errors.SandboxError as exc:
        return redirect(request, f"{CONSOLE}/clock", exc.message, "error")
    zone = request.app[SETTINGS].display_zone
    shown = f"{when(now, zone)} {zone_label(now, zone)}" + ("" if zone_label(now, zone) == "UTC" else
                                                            f" ({when(now)} UTC)")
    return redirect(request, f"{CONSOLE}/clock", f"Clock advanced by {describe(seconds)}: now {shown}")


async def reset_page(request: web.Request) -> web.Response:
    _, total = await request.app[ENGINE].list_payments(limit=1)
    return render(request, "console/reset.html", total=total)


async def reset(request: web.Request) -> web.Response:
    fields = await forms.form(request)
    if fields.get("confirm") != "yes":
        return redirect(request, f"{CONSOLE}/reset", "Tick the box to confirm the reset", "error")
    deleted = await request.app[ENGINE].reset()
    return redirect(request, f"{CONSOLE}/", f"Reset: {deleted} payment{'s' * (deleted != 1)} deleted; "
                                             f"merchants, rules and the clock are kept")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/clock", clock_page)
    r.add_post(f"{CONSOLE}/clock/advance", advance)
    r.add_get(f"{CONSOLE}/reset", reset_page)
    r.add_post(f"{CONSOLE}/reset", reset)
