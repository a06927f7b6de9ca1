"""A notify_url cannot drive the sandbox itself (issue 15, item 1): the notifier refuses the sandbox's own paths, host
and port, and hosts outside the deployment's allow-list; the refusal is journaled as the attempt's error and the
notification fails without retries."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest
import requests

from sandbox.cli import parse_args
from sandbox.core.bus import Bus
from sandbox.core.clock import Clock
from sandbox.core.engine import Engine
from sandbox.core.models import NewPayment, OutboundRequest
from sandbox.core.notifier import Notifier
from sandbox.core.targets import NotifyTargets, parse_allow
from sandbox.settings import Settings
from sandbox.testing import NotifyReceiver
from sandbox.testing.server import SandboxServer

from console_http import quickpay


class EchoChannel:
    provider = "test"
    retry_delays = (60.0, 600.0)

    def payment_event(self, payment):
        return "PAID" if payment.status.value == "SUCCEEDED" else None

    def refund_event(self, payment, refund):
        return None

    async def render(self, notification, merchant, attempt, now):
        return OutboundRequest(url=notification.url, body=b"x")

    def is_acknowledged(self, request, status, body):
        return status == 200


async def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# ----- the policy ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, what", [
    ("http://127.0.0.1:8080/_sandbox/api/reset", "admin API"),
    ("http://merchant.example/_sandbox/api/payments/pay_1/succeed", "admin API"),  # any host: proxies
    ("http://merchant.example/%5Fsandbox/api/reset", "admin API"),
    ("http://merchant.example/%255Fsandbox/API/reset", "admin API"),
    ("http://merchant.example//_sandbox/./api/../api/reset", "admin API"),
    ("http://merchant.example/a/../_sandbox/pay/pay_1", "cashier"),
    ("http://merchant.example/_sandbox", "console"),
])
async def test_own_paths_are_refused_on_any_host(url, what):
    assert await NotifyTargets().refusal(url) == f"refused: {url} is this sandbox's own {what}"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/notify", "http://localhost:8080/n", "http://[::1]:8080/n",
                                 "http://0.0.0.0:8080/n", "http://127.8.9.10:8080/QuickPay/Query",
                                 "http://127.1:8080/n"])
async def test_this_host_on_the_sandbox_port_is_refused(url):
    targets = NotifyTargets(lambda: [("127.0.0.1", 8080)])
    assert "is this sandbox itself" in await targets.refusal(url)
    assert await targets.refusal(url.replace(":8080", ":8081")) is None  # another port is another service


async def test_the_machines_own_addresses_count_as_this_host():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the address a route out leaves from
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: nothing is sent
            mine = probe.getsockname()[0]
        except OSError:
            mine = "127.0.0.1"
    if mine.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    targets = NotifyTargets(lambda: [("127.0.0.1", 8080)])
    assert "is this sandbox itself" in await targets.refusal(f"http://{mine}:8080/notify")
    assert await targets.refusal("http://192.0.2.254:8080/notify") is None  # not this machine's (TEST-NET-1)


async def test_the_public_url_host_and_port_are_the_sandbox():
    settings = Settings(host="127.0.0.1", port=8080, public_url="https://Sandbox.Team.Example/")
    targets = NotifyTargets(settings.own_endpoints)
    assert await targets.host_refusal("sandbox.team.example", 443, ["203.0.113.7"]) == \
        "refused: sandbox.team.example:443 is this sandbox itself"
    assert await targets.host_refusal("shop.team.example", 443, ["203.0.113.8"]) is None


async def test_the_allow_list_admits_patterns_and_networks_only():
    targets = NotifyTargets(allow=parse_allow("*.corp.example, 10.0.0.0/8,192.168.1.7"))
    assert await targets.host_refusal("hooks.corp.example", 443, ["172.16.0.9"]) is None
    assert await targets.host_refusal("anything", 80, ["10.20.30.40"]) is None
    assert await targets.refusal("http://192.168.1.7:9000/n") is None
    refused = await targets.refusal("http://169.254.169.254/latest/meta-data")
    assert refused.startswith("refused: 169.254.169.254 is not in the notify allow-list")
    # a name resolving both inside and outside the networks is refused: the connection could go either way
    assert await targets.host_refusal("mixed", 80, ["10.0.0.1", "172.16.0.1"]) is not None


@pytest.mark.parametrize("bad", ["http://x.example", "10.0.0.0/33", "a b"])
def test_a_bad_allow_list_entry_is_refused_at_start(bad, monkeypatch, capsys):
    with pytest.raises(ValueError):
        parse_allow(bad)
    with pytest.raises(SystemExit):
        parse_args(["--notify-allow", bad])
    assert "--notify-allow" in capsys.readouterr().err


def test_the_allow_list_flag_and_variable(monkeypatch):
    assert parse_args(["--notify-allow", "*.corp.example,10.0.0.0/8"]).notify_allow == ("*.corp.example", "10.0.0.0/8")
    monkeypatch.setenv("SANDBOX_NOTIFY_ALLOW", "hooks.example, 172.16.0.0/12")
    assert parse_args([]).notify_allow == ("hooks.example", "172.16.0.0/12")
    assert Settings().notify_allow == ()  # default: any host but the sandbox itself


# ----- the notifier ----------------------------------------------------------------------------------------------

@pytest.fixture
async def engine(tmp_path):
    from sandbox.store.db import Database
    db = Database(tmp_path / "t.db")
    await db.open()
    engine = Engine(db, Clock(), {"test": EchoChannel()}, Bus())
    await engine.load()
    await engine.create_merchant("Shop", {}, [("test", "M")], merchant_id="m")
    yield engine
    await db.close()


async def refused_once(engine, notifier, url):
    payment, _ = await engine.create_payment(NewPayment(
        provider="test", merchant_id="m", out_trade_no="O1", provider_trade_no="O1", amount=1, trade_type="X",
        notify_url=url))
    await engine.succeed(payment.id)
    (n,) = await engine.list_notifications(payment.id)

    async def failed():
        return (await engine.get_notification(n.id)).status.value == "failed"
    await notifier.start()
    try:
        await wait_until(failed)
    finally:
        await notifier.stop()
    n = await engine.get_notification(n.id)
    assert n.attempts == 1 and n.next_attempt_at is None  # failed at once: no retry is scheduled
    (attempt,) = n.attempt_log
    assert not attempt.acknowledged and attempt.response_status is None
    events = (await engine.payment_detail(payment.id))["events"]
    assert any(e.kind == "notify" and e.summary.endswith(attempt.error) for e in events)  # on the timeline too
    return attempt.error


async def test_the_notifier_refuses_the_sandboxs_own_admin_api_and_never_sends(engine):
    with NotifyReceiver(status=200, body="OK") as receiver:  # stands in for a host that would answer
        url = receiver.url("/_sandbox/api/reset")
        error = await refused_once(engine, Notifier(engine, attempt_timeout_s=5), url)
        assert error == f"refused: {url} is this sandbox's own admin API"
        assert receiver.received == []


async def test_the_notifier_refuses_the_host_and_port_the_sandbox_listens_on(engine):
    with NotifyReceiver(status=200, body="OK") as receiver:  # as if the sandbox listened where the receiver does
        targets = NotifyTargets(lambda: [("0.0.0.0", receiver.port)])
        error = await refused_once(engine, Notifier(engine, attempt_timeout_s=5, targets=targets),
                                   f"http://localhost:{receiver.port}/QuickPay/Query")
        assert error == f"refused: localhost:{receiver.port} is this sandbox itself (it listens on 0.0.0.0:" \
                        f"{receiver.port})"
        assert receiver.received == []


async def test_a_name_resolving_to_the_sandbox_on_connect_is_refused_too(engine):
    """The connector's resolver checks the addresses it really connects to (DNS rebinding)."""
    from sandbox.core.targets import GuardedResolver, TargetRefused

    class Rebinding:
        async def resolve(self, host, port=0, family=socket.AF_INET):
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                     "flags": 0}]

        async def close(self):
            pass

    targets = NotifyTargets(lambda: [("127.0.0.1", 8080)])
    with pytest.raises(TargetRefused, match="is this sandbox itself"):
        await GuardedResolver(targets, Rebinding()).resolve("rebind.example", 8080)
    assert await GuardedResolver(targets, Rebinding()).resolve("rebind.example", 8081)


# ----- end to end: a sandbox aimed at itself ----------------------------------------------------------------------

def test_a_notify_url_at_the_admin_api_does_not_reset_the_sandbox():
    with SandboxServer() as sandbox:
        bystander = quickpay(sandbox, "BYSTANDER-1")
        for order, url in (("SELF-RESET-1", f"{sandbox.url}/_sandbox/api/reset"),
                           ("SELF-PAY-1", f"{sandbox.url}/_sandbox/api/payments/{bystander['id']}/succeed"),
                           ("SELF-HOST-1", f"http://localhost:{sandbox.settings.port}/QuickPay/Query")):
            attacker = quickpay(sandbox, order, notify_url=url)
            sandbox.admin.succeed(attacker["id"])
            deadline = time.monotonic() + 10
            while not (notifications := sandbox.admin.notifications(attacker["id"])["notifications"]) or \
                    notifications[0]["status"] != "failed":
                assert time.monotonic() < deadline, notifications
                time.sleep(0.02)
            (attempt,) = notifications[0]["attempt_log"]
            assert attempt["error"].startswith("refused: ") and attempt["response_status"] is None
            assert ("is this sandbox itself" if "HOST" in order else "is this sandbox's own admin API") \
                in attempt["error"]
        # before: the first notify wiped every payment, the second paid the bystander's order
        assert sandbox.admin.payment(bystander["id"])["status"] == "PENDING"
        assert len(sandbox.admin.payments()["payments"]) == 4


def test_a_team_sandbox_refuses_hosts_outside_its_allow_list():
    with SandboxServer(notify_allow=("10.0.0.0/8",)) as sandbox, NotifyReceiver() as receiver:
        payment = quickpay(sandbox, "ALLOW-1", notify_url=receiver.url())
        sandbox.admin.succeed(payment["id"])
        deadline = time.monotonic() + 10
        while not (notifications := sandbox.admin.notifications(payment["id"])["notifications"]) or \
                notifications[0]["status"] != "failed":
            assert time.monotonic() < deadline, notifications
            time.sleep(0.02)
        assert notifications[0]["attempt_log"][0]["error"] == \
            "refused: 127.0.0.1 is not in the notify allow-list (--notify-allow 10.0.0.0/8)"
        assert receiver.received == []
        assert requests.get(f"{sandbox.url}/_sandbox/api/health", timeout=10).status_code == 200
