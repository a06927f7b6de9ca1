"""hmall pay-service and user-service over HTTP, as its front end and trade-service call them (seed 000,
../shared/specs/hmall.md): login, pay orders, balance payment, every error branch with the original's words."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

MERCHANT = "demo-hmall"
ORDER = 1654779387523936258  # a seed order of Jack (user 1)
ROSE_ORDER = 123865420


def admin(sandbox, method: str, path: str, body: dict | None = None) -> dict:
    answer = requests.request(method, f"{sandbox.url}/_sandbox/api{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def login(sandbox, username: str = "jack", password: str = "123") -> requests.Response:
    return requests.post(f"{sandbox.url}/users/login", json={"username": username, "password": password,
                                                             "rememberMe": False}, timeout=10)


def token(sandbox, username: str = "jack") -> str:
    answer = login(sandbox, username)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def apply(sandbox, auth: str, biz_order_no=ORDER, amount=1000, channel="balance", pay_type=5, **headers):
    return requests.post(f"{sandbox.url}/pay-orders", headers={"authorization": auth, **headers}, timeout=10,
                         json={"amount": amount, "bizOrderNo": biz_order_no, "orderInfo": "RIMOWA 21寸托运箱",
                               "payChannelCode": channel, "payType": pay_type})


def pay(sandbox, auth: str, pay_order_id: str, pw: str = "123") -> requests.Response:
    return requests.post(f"{sandbox.url}/pay-orders/{pay_order_id}", headers={"authorization": auth},
                         json={"id": 1, "pw": pw}, timeout=30)


def by_biz(sandbox, auth: str, biz_order_no=ORDER) -> dict:
    answer = requests.get(f"{sandbox.url}/pay-orders/biz/{biz_order_no}", headers={"authorization": auth}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def balance(sandbox, user_id: int = 1) -> int:
    return admin(sandbox, "GET", f"/accounts/{MERCHANT}:{user_id}:balance")["balance"]


def envelope(answer: requests.Response) -> tuple[int, dict]:
    return answer.status_code, answer.json()


def error(code: int, msg: str) -> tuple[int, dict]:
    return code, {"code": code, "msg": msg, "data": None}


# ----- user-service ----------------------------------------------------------------------------------------------

def test_login_answers_the_user_with_a_token_the_public_key_verifies(sandbox):
    answer = login(sandbox, "JACK")  # MySQL's collation: usernames match whatever their case
    assert answer.status_code == 200
    body = answer.json()
    assert {k: body[k] for k in ("userId", "username", "balance")} == {"userId": "1", "username": "Jack",
                                                                      "balance": 1_000_000}
    public_key = admin(sandbox, "POST", "/apps/hmall/actions/settings")["jwt_public_key_pem"]
    claims = jwt.decode(body["token"], public_key, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["user"] == 1
    assert claims["exp"] - int(sandbox.admin.clock()["now"]) in (1799, 1800)


def test_login_refusals_use_the_original_words(sandbox):
    assert envelope(login(sandbox, "jack", "wrong")) == error(400, "用户名或密码错误")
    assert envelope(login(sandbox, "nobody", "123")) == error(500, "服务器内部异常")  # Assert.notNull → 500
    admin(sandbox, "PATCH", "/apps/hmall/user/2", {"data": {"status": 0}})
    assert envelope(login(sandbox, "rose", "123")) == error(403, "用户被冻结")
    answer = requests.post(f"{sandbox.url}/users/login", data=b"{not json", timeout=10,
                           headers={"Content-Type": "application/json"})
    assert envelope(answer) == error(400, "请求参数格式错误")
    answer = requests.post(f"{sandbox.url}/users/login", json={"username": ["jack"], "password": 123}, timeout=10)
    assert envelope(answer) == error(400, "请求参数格式错误")


def test_tokens_missing_garbage_foreign_or_expired_are_401(sandbox):
    assert envelope(requests.get(f"{sandbox.url}/pay-orders", timeout=10)) == error(401, "未登录")
    assert envelope(requests.get(f"{sandbox.url}/pay-orders", headers={"authorization": "garbage"},
                                 timeout=10)) == error(401, "无效的token")
    # JwtTool.parseToken says 未登录 only for a null token; an empty header goes on to JWT.of("") and fails there
    assert envelope(requests.get(f"{sandbox.url}/pay-orders", headers={"authorization": ""},
                                 timeout=10)) == error(401, "无效的token")
    foreign = jwt.encode({"user": 1, "exp": 4102444800}, "not the sandbox key, some HMAC secret", algorithm="HS256")
    assert envelope(apply(sandbox, foreign)) == error(401, "无效的token")
    auth = token(sandbox)
    assert apply(sandbox, auth).status_code == 200
    sandbox.admin.advance(1801)  # the 30 min TTL runs on the sandbox clock
    assert envelope(apply(sandbox, auth)) == error(401, "token已经过期")


# ----- pay-service -----------------------------------------------------------------------------------------------

def test_apply_answers_the_bare_id_and_is_idempotent_per_channel(sandbox):
    auth = token(sandbox)
    first = apply(sandbox, auth)
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/plain")
    pay_order_id = first.text
    assert len(pay_order_id) == 19 and pay_order_id.isdigit()  # a snowflake id, past 2^53: never a JSON number
    assert apply(sandbox, auth, **{"Accept": "application/json"}).text == pay_order_id
    vo = by_biz(sandbox, auth)
    assert (vo["id"], vo["bizOrderNo"], vo["bizUserId"], vo["amount"], vo["status"], vo["payChannelCode"]) == \
        (pay_order_id, str(ORDER), "1", 1000, 1, "balance")
    # the same biz order on another channel: the same pay order, reset with the new terms
    assert apply(sandbox, auth, amount=1200, channel="wxPay").text == pay_order_id
    vo = by_biz(sandbox, auth)
    assert (vo["amount"], vo["payChannelCode"], vo["status"]) == (1200, "wxPay", 1)
    # the same channel again: unchanged (amount included)
    assert apply(sandbox, auth, amount=5, channel="wxPay").text == pay_order_id
    assert by_biz(sandbox, auth)["amount"] == 1200
    listed = requests.get(f"{sandbox.url}/pay-orders", headers={"authorization": auth}, timeout=10).json()
    assert [o["id"] for o in listed] == [pay_order_id]


def test_apply_refusals(sandbox):
    auth = token(sandbox)
    assert envelope(apply(sandbox, auth, pay_type=3)) == error(500, "抱歉，目前只支持余额支付")
    assert envelope(apply(sandbox, auth, amount=0)) == error(400, "支付金额必须为正数")
    answer = requests.post(f"{sandbox.url}/pay-orders", headers={"authorization": auth}, data="[", timeout=10)
    assert envelope(answer) == error(400, "请求参数格式错误")
    assert envelope(apply(sandbox, auth, amount="ten")) == error(400, "请求参数格式错误")
    pay_order_id = apply(sandbox, auth).text
    assert pay(sandbox, auth, pay_order_id).status_code == 200
    assert envelope(apply(sandbox, auth)) == error(500, "订单已经支付！")
    closing = apply(sandbox, auth, biz_order_no=1654782927348740097).text
    payment = sandbox.admin.payments(provider="hmall", out_trade_no="1654782927348740097")["payments"][0]
    assert payment["provider_trade_no"] == closing
    sandbox.admin.close(payment["id"])
    assert envelope(apply(sandbox, auth, biz_order_no=1654782927348740097)) == error(500, "订单已关闭")


def test_balance_payment_takes_the_money_marks_both_orders_and_refuses_a_second_time(sandbox):
    auth = token(sandbox)
    pay_order_id = apply(sandbox, auth, amount=2599).text
    assert envelope(pay(sandbox, auth, pay_order_id, pw="nope")) == error(500, "用户密码错误")
    assert balance(sandbox) == 1_000_000 and by_biz(sandbox, auth)["status"] == 1
    answer = pay(sandbox, auth, pay_order_id)
    assert (answer.status_code, answer.content) == (200, b"")
    assert balance(sandbox) == 1_000_000 - 2599
    vo = by_biz(sandbox, auth)
    assert vo["status"] == 3 and vo["paySuccessTime"] is not None
    order = admin(sandbox, "GET", f"/apps/hmall/order/{ORDER}")["data"]
    assert (order["pay_state"], order["status"]) == ("paid", 2) and order["payment_id"]
    assert envelope(pay(sandbox, auth, pay_order_id)) == error(500, "交易已支付或关闭！")
    assert envelope(pay(sandbox, auth, "1234567890123456789")) == error(500, "服务器内部异常")
    assert balance(sandbox) == 1_000_000 - 2599
    entries = admin(sandbox, "GET", f"/accounts/{MERCHANT}:1:balance")["entries"]
    assert [(e["kind"], e["amount"]) for e in entries] == [("debit", 2599), ("credit", 1_000_000)]


def test_insufficient_balance_is_refused_and_nothing_changes(sandbox):
    auth = token(sandbox)
    admin(sandbox, "POST", f"/accounts/{MERCHANT}:1:balance/adjust", {"amount": -999_500})
    pay_order_id = apply(sandbox, auth, amount=501).text
    assert envelope(pay(sandbox, auth, pay_order_id)) == error(500, "扣款失败，可能是余额不足！")
    assert balance(sandbox) == 500 and by_biz(sandbox, auth)["status"] == 1
    assert admin(sandbox, "GET", f"/apps/hmall/order/{ORDER}")["data"]["pay_state"] == "paying"


def test_eight_concurrent_payments_of_one_pay_order_deduct_once(sandbox):
    auth = token(sandbox)
    pay_order_id = apply(sandbox, auth, amount=700).text
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: pay(sandbox, auth, pay_order_id), range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [500] * 7
    assert {a.json()["msg"] for a in answers if a.status_code == 500} == {"交易已支付或关闭！"}
    assert balance(sandbox) == 1_000_000 - 700


def test_two_pay_orders_that_together_exceed_the_balance_one_succeeds(sandbox):
    auth = token(sandbox)
    admin(sandbox, "POST", f"/accounts/{MERCHANT}:1:balance/adjust", {"amount": -998_500})  # 1,500 fen left
    ids = [apply(sandbox, auth, biz_order_no=n, amount=1000).text for n in (1658434251768471554, 1658453559437434882)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda i: pay(sandbox, auth, i), ids))
    assert sorted(a.status_code for a in answers) == [200, 500]
    assert [a.json()["msg"] for a in answers if a.status_code == 500] == ["扣款失败，可能是余额不足！"]
    assert balance(sandbox) == 500


def test_an_unpaid_pay_order_closes_after_120_minutes_on_the_sandbox_clock(sandbox):
    auth = token(sandbox)
    pay_order_id = apply(sandbox, auth).text
    payment = sandbox.admin.payments(provider="hmall")["payments"][0]
    assert payment["expires_at"] - payment["created_at"] == 7200
    sandbox.admin.advance(7200)
    payment_id = payment["id"]
    sandbox.call(sandbox.engine.run_due_actions())  # what the scheduler does when it wakes
    assert sandbox.admin.payment(payment_id)["status"] == "CLOSED"
    auth = token(sandbox)  # the first token expired with the jump
    assert by_biz(sandbox, auth)["status"] == 2
    assert envelope(pay(sandbox, auth, pay_order_id)) == error(500, "交易已支付或关闭！")
    assert envelope(apply(sandbox, auth)) == error(500, "订单已关闭")


def test_trade_service_is_told_through_the_outbox(sandbox, notify_receiver):
    admin(sandbox, "POST", "/apps/hmall/actions/settings", {"trade_notify_url": notify_receiver.url("/trade")})
    auth = token(sandbox, "rose")
    pay_order_id = apply(sandbox, auth, biz_order_no=ROSE_ORDER, amount=100).text
    assert pay(sandbox, auth, pay_order_id).status_code == 200
    (received,) = notify_receiver.wait_for(1)
    assert received.path == "/trade" and received.body == str(ROSE_ORDER).encode()
    assert received.headers["X-Sandbox-Exchange"] == "pay.direct"
    assert received.headers["X-Sandbox-Routing-Key"] == "pay.success"
    payment = sandbox.admin.payments(provider="hmall")["payments"][0]
    (notification,) = sandbox.admin.notifications(payment["id"])["notifications"]
    assert notification["event"] == "pay.success" and notification["attempts"] >= 1
    assert balance(sandbox, 2) == 1_000_000 - 100


def test_succeed_from_the_console_api_pays_from_the_orderers_balance(sandbox):
    auth = token(sandbox)
    apply(sandbox, auth, amount=300)
    payment = sandbox.admin.payments(provider="hmall")["payments"][0]
    assert payment["trade_type"] == "BALANCE"
    sandbox.admin.succeed(payment["id"])
    assert balance(sandbox) == 1_000_000 - 300 and by_biz(sandbox, auth)["status"] == 3
    sandbox.admin.refund(payment["id"], amount=100)
    assert balance(sandbox) == 1_000_000 - 200  # a refund goes back to the balance it was paid from


def test_console_succeed_without_enough_balance_is_refused_and_stays_pending(sandbox):
    auth = token(sandbox)
    admin(sandbox, "POST", f"/accounts/{MERCHANT}:1:balance/adjust", {"amount": -1_000_000})
    apply(sandbox, auth, amount=300)
    payment = sandbox.admin.payments(provider="hmall")["payments"][0]
    answer = requests.post(f"{sandbox.url}/_sandbox/api/payments/{payment['id']}/succeed", json={}, timeout=10)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert sandbox.admin.payment(payment["id"])["status"] == "PENDING" and balance(sandbox) == 0


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"amount": 1e400}', b'{"bizOrderNo": 99999999999999999999}',
                                  b'{"amount": true, "payType": 5}', b"\xff\xfe", b"[" * 5000])
def test_odd_bodies_get_hmalls_own_envelope_never_a_traceback(sandbox, body):
    auth = token(sandbox)
    answer = requests.post(f"{sandbox.url}/pay-orders", headers={"authorization": auth}, data=body, timeout=10)
    payload = answer.json()
    assert set(payload) == {"code", "msg", "data"} and payload["code"] == answer.status_code
    assert answer.status_code in (400, 500) and payload["msg"] in (
        "请求参数格式错误", "抱歉，目前只支持余额支付", "服务器内部异常")


def test_the_caller_pays_from_their_own_balance_not_the_orderers(sandbox):
    # the original's deductMoney takes UserContext.getUser(): whoever calls pay, not biz_user_id
    pay_order_id = apply(sandbox, token(sandbox, "rose"), biz_order_no=ROSE_ORDER, amount=450).text
    assert pay(sandbox, token(sandbox, "jack"), pay_order_id).status_code == 200
    assert (balance(sandbox, 1), balance(sandbox, 2)) == (1_000_000 - 450, 1_000_000)


def test_a_path_id_that_is_no_number_is_the_originals_500_not_a_body_error(sandbox):
    # Spring cannot convert the path's Long: MethodArgumentTypeMismatchException falls to the advice's catch-all
    auth = token(sandbox)
    assert envelope(pay(sandbox, auth, "abc")) == error(500, "服务器内部异常")
    answer = requests.get(f"{sandbox.url}/pay-orders/biz/abc", headers={"authorization": auth}, timeout=10)
    assert envelope(answer) == error(500, "服务器内部异常")
