"""--event-loop (issue 11): uvloop serves where it is installed, the standard loop when asked or when it is not."""
from __future__ import annotations

import asyncio
import sys

import pytest

from sandbox import event_loop
from sandbox.cli import parse_args
from sandbox.settings import Settings

uvloop = pytest.importorskip("uvloop") if sys.platform != "win32" else None


@pytest.fixture(autouse=True)
def standard_policy_afterwards():
    yield
    asyncio.set_event_loop_policy(None)


def loop_made_after(choice: str) -> tuple[str, str]:
    name = event_loop.install(choice)
    loop = asyncio.new_event_loop()
    try:
        return name, loop.run_until_complete(_running_name())
    finally:
        loop.close()


async def _running_name() -> str:
    return event_loop.running_loop_name()


def test_auto_and_uvloop_serve_on_uvloop_where_it_is_installed():
    assert loop_made_after("auto") == ("uvloop", "uvloop")
    assert loop_made_after("uvloop") == ("uvloop", "uvloop")
    assert isinstance(asyncio.new_event_loop(), uvloop.Loop)


def test_asyncio_puts_the_standard_loop_back():
    event_loop.install("uvloop")
    assert loop_made_after("asyncio") == ("asyncio", "asyncio")


def test_auto_falls_back_to_asyncio_and_uvloop_says_it_is_missing_where_it_is_not(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_made_after("auto") == ("asyncio", "asyncio")
    with pytest.raises(event_loop.LoopUnavailable, match="uvloop is not installed here"):
        event_loop.install("uvloop")


def test_the_flag_and_the_variable_choose_and_unknown_loops_are_refused(monkeypatch, capsys):
    monkeypatch.delenv("SANDBOX_EVENT_LOOP", raising=False)
    assert parse_args([]).event_loop == "auto"
    assert parse_args(["--event-loop", "asyncio"]).event_loop == "asyncio"
    monkeypatch.setenv("SANDBOX_EVENT_LOOP", "asyncio")
    assert parse_args([]).event_loop == "asyncio"
    assert parse_args(["--event-loop", "uvloop"]).event_loop == "uvloop"  # the flag wins
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--event-loop", "tokio"])
    assert exit_.value.code == 2
    assert "argument --event-loop: invalid choice: 'tokio'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown event loop 'tokio': one of auto, uvloop, asyncio"):
        Settings.from_env({"SANDBOX_EVENT_LOOP": "tokio"})
