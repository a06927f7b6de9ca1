"""Headless Chromium for the browser tests (Playwright's sync API with the system's /usr/bin/chromium).

Skips cleanly when Playwright or Chromium is missing; CI installs both (`apt-get install chromium`,
`pip install playwright`; no `playwright install`: the Debian browser is used).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # console_http helpers

CHROMIUM = os.environ.get("SANDBOX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def chromium():
    # Module, not session: Playwright's sync API keeps an event loop running in this thread while it is open,
    # and pytest-asyncio cannot run the async tests of later modules beside it.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, sandbox):
    """A fresh browser context (own cookies) on the test's sandbox, with clipboard access for copy buttons."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, base_url=sandbox.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sandbox.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
