"""Which asyncio event loop serves requests (issue 11): uvloop where it is installed (Linux and macOS on CPython, by
the dependency's marker), the standard loop elsewhere or when asked (`--event-loop asyncio`, to measure the two).

Only the server's own process (and its --workers) is switched; the pytest fixture runs in the test's process and
leaves its loop policy alone.
"""
from __future__ import annotations

import asyncio

CHOICES = ("auto", "uvloop", "asyncio")


class LoopUnavailable(RuntimeError):
    pass


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def install(choice: str) -> str:
    """Set the event-loop policy for loops created from now on; return the loop's name ("uvloop" or "asyncio")."""
    if choice not in CHOICES:
        raise ValueError(f"unknown event loop {choice!r}: one of {', '.join(CHOICES)}")
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        asyncio.set_event_loop_policy(None)  # the standard policy
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        raise LoopUnavailable("--event-loop uvloop: uvloop is not installed here (pip install uvloop; it is not "
                              "built for Windows)") from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def running_loop_name() -> str:
    """The running loop's kind, as the health endpoint reports it."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
