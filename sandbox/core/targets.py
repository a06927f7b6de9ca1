"""Where the notifier may deliver: never to this sandbox itself, and only inside the deployment's allow-list.

A notify_url is the merchant's to choose, so without a guard it can aim the sandbox at itself (its admin API resets
or pays payments, its own notify endpoint multiplies notifications) or, on a shared host, at internal services.
`NotifyTargets.refusal(url)` says why a URL is refused, or None:

- a path under `/_sandbox` (the console, the admin API, the cashier) is refused whatever the host: behind a proxy
  the sandbox answers to names it cannot know;
- a host and port where the sandbox listens: its `--host`/`--port` (any address of this machine counts as that host:
  127.0.0.0/8, ::1, localhost, 0.0.0.0 and the machine's own interface addresses) or the host and port of its
  `--public-url`;
- with an allow-list (`--notify-allow`: fnmatch host patterns and CIDRs), any host outside it.

Names are resolved once here, and `GuardedResolver` checks the addresses the connection really uses again, so a name
that resolves elsewhere a moment later (DNS rebinding) still cannot reach the sandbox.
"""
from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import posixpath
import socket
import time
from functools import lru_cache
from typing import Callable, Iterable, Sequence
from urllib.parse import unquote

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

OWN_PREFIX = "/_sandbox"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class TargetRefused(OSError):
    """A delivery the sandbox will not make; its text is the journaled reason ("refused: …")."""


def parse_allow(entries: Iterable[str] | str | None) -> tuple[str, ...]:
    """The allow-list as given (a comma-separated string or a list), each entry checked: a CIDR / an address, or a
    host pattern (fnmatch: `*.example.com`, `receiver-?`). ValueError names a bad entry."""
    if entries is None:
        return ()
    if isinstance(entries, str):
        entries = entries.split(",")
    out = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if "/" in entry or ":" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"notify allow-list entry {raw.strip()!r} is neither a CIDR (10.0.0.0/8) nor a "
                                 "host pattern (*.example.com)") from None
        elif not all(c.isalnum() or c in ".-_*?[]!" for c in entry):
            raise ValueError(f"notify allow-list entry {raw.strip()!r} is not a host pattern (*.example.com) "
                             "or a CIDR (10.0.0.0/8)")
        out.append(entry)
    return tuple(out)


def _address(text: str) -> IpAddress | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=4096)
def is_this_machine(ip: IpAddress) -> bool:
    """Loopback, the unspecified address, or an address of one of this machine's interfaces (one it can bind)."""
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True


def own_path(url: URL) -> str | None:
    """What of the sandbox's own a URL's path names (console, admin API, cashier), or None. The path is decoded and
    normalised as a server would route it (percent-escapes, dot segments, repeated slashes, case)."""
    path = url.raw_path or "/"
    for _ in range(3):  # %255F… decoded twice is still `_`
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = posixpath.normpath("/" + path.replace("\\", "/")).lower()
    path = "/" + path.lstrip("/")
    if path != OWN_PREFIX and not path.startswith(OWN_PREFIX + "/"):
        return None
    rest = path[len(OWN_PREFIX):]
    if rest.startswith("/api"):
        return "admin API"
    if rest.startswith("/pay"):
        return "cashier"
    return "console"


class NotifyTargets:
    """`own()` gives the (host, port) pairs the sandbox is reached at, read at each check (a test server learns its
    port only once it listens); `allow` restricts every other target."""

    def __init__(self, own: Callable[[], Iterable[tuple[str, int]]] = lambda: (), allow: Sequence[str] = ()):
        self._own = own
        self.allow = parse_allow(allow)
        self._names = tuple(e for e in self.allow if "/" not in e and ":" not in e and _address(e) is None)
        self._networks = tuple(ipaddress.ip_network(e, strict=False) for e in self.allow if e not in self._names)
        self._resolved: dict[str, tuple[float, frozenset]] = {}  # own host names, resolved for a minute

    async def refusal(self, url: str) -> str | None:
        """Why the notifier must not deliver to `url` ("refused: …"), or None."""
        try:
            parsed = URL(url)
            host, port = parsed.host, parsed.port
        except (ValueError, TypeError):
            return f"refused: {url} is not a URL"
        if parsed.scheme not in ("http", "https") or not host or port is None:
            return f"refused: {url} is not an absolute http(s) URL"
        what = own_path(parsed)
        if what is not None:
            return f"refused: {url} is this sandbox's own {what}"
        try:
            addresses = await self._resolve(host, port)
        except OSError:
            addresses = None  # the attempt itself fails on the name, and is retried like any unreachable host
        return await self.host_refusal(host, port, addresses)

    async def host_refusal(self, host: str, port: int, addresses: Iterable[str] | None) -> str | None:
        """Why (host, port), which resolved to `addresses`, is refused, or None (also GuardedResolver's check)."""
        host = host.lower().rstrip(".")
        ips = {ip for ip in (_address(a) for a in addresses or ()) if ip is not None}
        literal = _address(host)
        if literal is not None:
            ips.add(literal)
        local = host in LOCAL_NAMES or host.endswith(".localhost") or any(is_this_machine(ip) for ip in ips)
        for own_host, own_port in self._own():
            if own_port != port:
                continue
            own_host = own_host.lower().rstrip(".").strip("[]") or "0.0.0.0"  # '' listens on every address
            if own_host == host:
                return f"refused: {host}:{port} is this sandbox itself"
            own_ips = await self._own_addresses(own_host)
            own_local = own_host in LOCAL_NAMES or any(is_this_machine(ip) for ip in own_ips)
            if (local and own_local) or (ips & own_ips):
                return f"refused: {host}:{port} is this sandbox itself (it listens on {own_host}:{own_port})"
        if self.allow and not self._allowed(host, ips):
            return f"refused: {host} is not in the notify allow-list (--notify-allow {','.join(self.allow)})"
        return None

    def _allowed(self, host: str, ips: set) -> bool:
        if any(fnmatch.fnmatchcase(host, pattern) for pattern in self._names):
            return True
        in_networks = [any(ip in net for net in self._networks if net.version == ip.version) for ip in ips]
        return bool(in_networks) and all(in_networks)

    async def _resolve(self, host: str, port: int) -> list[str]:
        if _address(host) is not None:
            return [host]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [info[4][0] for info in infos]

    async def _own_addresses(self, host: str) -> frozenset:
        literal = _address(host)
        if literal is not None:
            return frozenset({literal})
        cached = self._resolved.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            found = frozenset(ip for ip in (_address(a) for a in await self._resolve(host, 0)) if ip is not None)
        except OSError:
            found = frozenset()
        self._resolved[host] = (time.monotonic() + 60, found)
        return found


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the targets' check on the addresses it returns, so the connection goes only where the
    check allowed (aiohttp asks no resolver for an address literal: `NotifyTargets.refusal` has checked those)."""

    def __init__(self, targets: NotifyTargets, inner: AbstractResolver | None = None):
        self.targets, self.inner = targets, inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        found = await self.inner.resolve(host, port, family)
        reason = await self.targets.host_refusal(host, port, [r["host"] for r in found])
        if reason is not None:
            raise TargetRefused(reason)
        return found

    async def close(self) -> None:
        await self.inner.close()
