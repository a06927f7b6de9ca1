"""The console's API menu opens the admin API explorer: Swagger UI, served offline, renders the OpenAPI 3.1 document
and can call the API."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect


def test_the_api_menu_opens_the_explorer_which_renders_and_calls_the_api(page, sandbox):
    outside = []  # the explorer must work offline: nothing but the sandbox itself is asked for
    page.on("request", lambda r: None if r.url.startswith(sandbox.url) or r.url.startswith("data:")
            else outside.append(r.url))
    page.goto("/_sandbox/")
    page.get_by_role("link", name="API", exact=True).click()
    expect(page).to_have_url(re.compile(r"/_sandbox/api/docs$"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Payment sandbox admin API")
    health = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text=re.compile(r"^/health$")))
    expect(health).to_be_visible()
    assert page.locator(".opblock").count() >= 15  # every operation of the document
    expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)  # no "unable to render this definition"

    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table tr.response .response-col_status")).to_have_text("200")
    expect(health.locator(".live-responses-table tr.response .response-col_description")).to_contain_text('"status": "ok"')
    assert outside == []
