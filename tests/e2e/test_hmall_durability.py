"""hmall under kill -9: a balance payment whose trade notify is still pending survives, and is delivered after the
restart; the balance is taken once."""
from __future__ import annotations

import requests

from sandbox.testing import NotifyReceiver

from test_run_py import server  # noqa: F401  (the run.py fixture)

ORDER = 1654779387523936258


def test_kill_minus_9_between_pay_and_trade_notify(server, tmp_path):  # noqa: F811
    db = tmp_path / "hmall.db"
    run = server(db=db)
    with NotifyReceiver(status=200, body="") as receiver:
        api = f"{run.url}/_sandbox/api"
        requests.post(f"{api}/apps/hmall/actions/settings", json={"trade_notify_url": receiver.url("/trade")},
                      timeout=10).raise_for_status()
        # the trade notify of hmall payments waits an hour: it is pending when the process dies
        run.admin.add_rule(name="late trade notify", match={"provider": "hmall"},
                           action={"notify": "delay", "notify_delay_s": 3600})
        token = requests.post(f"{run.url}/users/login", json={"username": "jack", "password": "123"},
                              timeout=10).json()["token"]
        headers = {"authorization": token}
        pay_order_id = requests.post(f"{run.url}/pay-orders", headers=headers, timeout=10, json={
            "amount": 1234, "bizOrderNo": ORDER, "orderInfo": "kill -9", "payChannelCode": "balance",
            "payType": 5}).text
        paid = requests.post(f"{run.url}/pay-orders/{pay_order_id}", headers=headers, json={"pw": "123"}, timeout=30)
        assert paid.status_code == 200
        run.kill9()
        assert receiver.received == []

        run = server(db=db, port=run.port)
        balance = requests.get(f"{api}/accounts/demo-hmall:1:balance", timeout=10).json()
        assert (balance["balance"], [e["kind"] for e in balance["entries"]]) == (1_000_000 - 1234, ["debit", "credit"])
        run.admin.advance(3600)
        (received,) = receiver.wait_for(1, timeout=30)
        assert received.body == str(ORDER).encode() and received.headers["X-Sandbox-Routing-Key"] == "pay.success"
