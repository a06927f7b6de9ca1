"""Merchant pages: the list, a form to create one with fresh keys, and a detail page with keys and SDK snippets."""
from __future__ import annotations

import re

from aiohttp import web

from ..appkeys import ENGINE, PROVIDERS, SETTINGS
from ..core import errors
from ..providers.base import InvalidOptions, fresh_credentials
from . import CONSOLE, forms
from .render import error_page, redirect, render
from .serialize import merchant_json
from .snippets import snippets_for

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as the admin API accepts

# The options each known provider's new_credentials(**options) takes; a provider not listed here is offered
# without options. (name, label, choices or None for free text)
PROVIDER_OPTIONS: dict[str, list[tuple[str, str, tuple[str, ...] | None]]] = {
    "wechat": [("mode", "Signing mode", ("certificate", "public-key")), ("mchid", "mchid", None),
               ("appid", "appid", None)],
    "alipay": [("app_id", "app_id", None)],
    "quickpay": [("store_no", "store_no", None), ("key", "MD5 key (empty: no signing)", None)],
}


def _is_pem(value) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("-----BEGIN ")


async def merchants_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return render(request, "console/merchants.html", merchants=[merchant_json(m) for m in engine.merchants()])


async def new_merchant_page(request: web.Request) -> web.Response:
    return render(request, "console/merchant_new.html", options=_options(request), values={})


def _options(request: web.Request) -> dict:
    return {name: PROVIDER_OPTIONS.get(name, []) for name in sorted(request.app[PROVIDERS])}


async def create_merchant(request: web.Request) -> web.Response:
    engine, providers = request.app[ENGINE], request.app[PROVIDERS]
    fields = await forms.form(request)
    chosen = [name for name in sorted(providers) if fields.get(f"provider.{name}")]
    titles = {name: getattr(p, "title", name) for name, p in providers.items()}
    try:
        name = forms.text(fields, "name", 128)
        merchant_id = fields.get("id") or None
        if not name:
            raise forms.FieldError("name", "give the merchant a name")
        if merchant_id and not ID_PATTERN.match(merchant_id):
            raise forms.FieldError("id", "the id may hold letters, digits, '_', '.' and '-' (at most 64)")
        if merchant_id and any(m.id == merchant_id for m in engine.merchants()):
            raise forms.FieldError("id", f"there is a merchant {merchant_id!r} already: choose another id")
        if not chosen:
            raise forms.FieldError("providers", "choose at least one provider")
        options = {provider: {key: fields[f"{provider}.{key}"] for key, _, _ in PROVIDER_OPTIONS.get(provider, [])
                              if fields.get(f"{provider}.{key}")} for provider in chosen}
        try:
            credentials, keys = await fresh_credentials(providers, options)
        except InvalidOptions as exc:
            provider, _, message = str(exc).partition(": ")
            raise forms.FieldError(f"provider.{provider}", message or str(exc)) from None
        for provider, key in keys:
            owner = engine.merchant_by_key(provider, key)
            if owner is not None:
                raise forms.FieldError(f"provider.{provider}", f"{key} is already used by merchant {owner.id}: "
                                                               f"leave it empty for a new one")
        merchant = await engine.create_merchant(name, credentials, keys, merchant_id=merchant_id)
    except forms.FieldError as exc:
        said = exc.field_message
        if exc.field.startswith("provider."):
            provider = exc.field.removeprefix("provider.")
            said = f"{titles.get(provider, provider)}: {said}"
        elif said.startswith("is "):
            said = f"{exc.field.capitalize()} {said}"
        else:
            said = said[:1].upper() + said[1:]
        return render(request, "console/merchant_new.html", status=400, options=_options(request),
                      values=fields, error=f"Merchant not created. {said}",
                      field_errors={exc.field: exc.field_message})
    except errors.SandboxError as exc:
        return render(request, "console/merchant_new.html", status=400, options=_options(request),
                      values=fields, error=f"Merchant not created: {exc.message}")
    return redirect(request, f"{CONSOLE}/merchants/{merchant.id}", f"Merchant {merchant.name} created")


async def merchant_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        merchant = engine.merchant(request.match_info["id"])
    except errors.NotFound as exc:
        return error_page(request, 404, "No such merchant", exc.message)
    base_url = request.app[SETTINGS].base_url
    sections = []
    for provider, creds in sorted(merchant.credentials.items()):
        sections.append({
            "provider": provider,
            "fields": [(key, value, _is_pem(value)) for key, value in creds.items()],
            "snippets": snippets_for(provider, creds, base_url),
        })
    return render(request, "console/merchant.html", merchant=merchant_json(merchant), sections=sections)


async def download_key(request: web.Request) -> web.Response:
    """One PEM of a merchant's credentials as a file."""
    engine = request.app[ENGINE]
    info = request.match_info
    try:
        creds = engine.merchant(info["id"]).for_provider(info["provider"])
    except errors.NotFound as exc:
        return error_page(request, 404, "No such merchant", exc.message)
    value = creds.get(info["field"])
    if not _is_pem(value):
        return error_page(request, 404, "No such key", f"{info['provider']} has no PEM named {info['field']!r}")
    filename = f"{info['id']}-{info['provider']}-{info['field'].removesuffix('_pem')}.pem"
    return web.Response(body=value.encode(), content_type="application/x-pem-file", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CONSOLE}/merchants", merchants_page)
    r.add_post(f"{CONSOLE}/merchants", create_merchant)
    r.add_get(f"{CONSOLE}/merchants/new", new_merchant_page)
    r.add_get(f"{CONSOLE}/merchants/{{id}}", merchant_page)
    r.add_get(f"{CONSOLE}/merchants/{{id}}/keys/{{provider}}/{{field}}", download_key)
