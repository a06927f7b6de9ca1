"""The pytest plugin (entry point `payment_sandbox`): a fresh sandbox per test, and a notify receiver.

    def test_checkout(sandbox, notify_receiver):
        # point your SDK at sandbox.url; drive outcomes with sandbox.admin
"""
from __future__ import annotations

import pytest

from .receiver import NotifyReceiver
from .server import SandboxServer


@pytest.fixture
def sandbox():
    """A sandbox on a free port with a temporary database and the demo merchants."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def notify_receiver():
    """A local endpoint for notify_url: records what arrives; set `.reply = (status, body)` to answer otherwise."""
    with NotifyReceiver() as receiver:
        yield receiver
