"""The partner app's pay call (seed 001) over HTTP as the mobile app's backend calls it: POST /app/partner/order/pay
with form or JSON bodies, every documented success and error, balances checked in the ledger through the admin API,
and the Alipay loop (ali_pay_url → the sandbox cashier → the order paid → a notify verified with python-alipay-sdk).

Signs are computed here from the convention (MD5 of the sorted non-empty fields + "&key="), not with the sandbox's
own code."""
from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from alipay import AliPay

from sandbox.providers.alipay.credentials import python_sdk_config
from sandbox.testing.client import AdminError

MERCHANT = "demo-partner"
PATH = "/app/partner/order/pay"
USER = "41840909af844632885424fbc20cae79"   # 张学友, ¥1,000.00
USER2 = "9f2c4e7a1b3d4c5e8f60718293a4b5c6"  # 郭富城, ¥2.00
GIFT = "55fca782f55f406d94e2cecb23d0140b"   # 拉卡拉大POS 1台装礼包 升V5, 300 fen
COUPON_1_YUAN = "c5b8a1e2d3f44a6b9c0d1e2f3a4b5c6d"  # USER's, 100 fen
COUPON_ANYONE = "e1f2a3b4c5d64e7f8a9b0c1d2e3f4a5b"  # anyone's, 500 fen
COUPON_USED = "0a9b8c7d6e5f40a1b2c3d4e5f6a7b8c9"
# The seed's own example answer, word for word
SEED = json.loads("""{ "code": 1, "errors": { }, "msg": "操作成功", "result": { "ali_pay_url": "", "order_info": {
 "order_no": "202201071757551641549475668", "gift_pos_id": "55fca782f55f406d94e2cecb23d0140b",
 "order_express_time_stamp": 0, "bill_no": "", "order_time": "2022-01-07 17:57:55", "order_name": "购买机器",
 "user_id_no": "", "gift_title": "拉卡拉大POS 1台装礼包 升V5", "order_status": 1, "coupon_id": "",
 "order_express_number": "", "user_phone": "18569557087", "pay_type": 1, "order_time_stamp": 1641549475356,
 "id": "fd85f86a959043878cf2c03d8c09f39f", "order_type": 1, "user_level_id": "", "order_express_name": "",
 "order_express_time": "", "order_receieve_phone": "18578229023", "receive_time": "", "order_price": 300,
 "order_desc": "", "order_express_address": "", "order_pay_time": "2022-01-07 17:57:55", "order_receieve_name": "刘德华",
 "platform_remark": "", "order_score": 0, "deduct_price": 0, "user_id": "41840909af844632885424fbc20cae79",
 "user_real_name": "张学友", "order_receieve_address": "湖南省长沙市德思勤城市广场b5栋", "third_order_no": "",
 "order_pay_time_stamp": 1641549475356, "order_express_no": "" } } }""")
SEED_INFO = SEED["result"]["order_info"]
# What differs from one order to the next
PER_ORDER = ("order_no", "order_time", "order_time_stamp", "id", "order_pay_time", "order_pay_time_stamp")


def md5_sign(fields: dict, key: str) -> str:
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "sign" and v not in ("", None))
    return hashlib.md5(f"{text}&key={key}".encode()).hexdigest()


@pytest.fixture
def key(sandbox) -> str:
    return sandbox.admin.merchant(MERCHANT)["credentials"]["partner"]["key"]


def order_fields(**changes) -> dict:
    fields = {"user_id": USER, "pay_type": "1", "gift_pos_id": GIFT, "address_id": "1"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def pay(sandbox, key: str | None, fields: dict, *, as_json: bool = False, session=requests) -> dict:
    """POST the fields (signed with `key` unless None) and check the transport: always HTTP 200 JSON."""
    body = dict(fields)
    if key is not None:
        body["sign"] = md5_sign(body, key)
    response = session.post(f"{sandbox.url}{PATH}", **({"json": body} if as_json else {"data": body}), timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def error(field: str, msg: str) -> dict:
    return {"code": 0, "errors": {field: msg}, "msg": msg, "result": {}}


def sign_refused(answer: dict) -> dict:
    """A refused sign's answer with the signature doctor's ` [sandbox hint: …]` taken off msg (the rest exact)."""
    assert answer["msg"].startswith("签名错误 [sandbox hint: "), answer
    return {**answer, "msg": re.sub(r" \[sandbox hint: .*\]\Z", "", answer["msg"])}


def api(sandbox, method: str, path: str, body: dict | None = None, **query):
    return sandbox.admin._request(method, path, body, query or None)


def account(sandbox, owner: str) -> dict:
    (found,) = api(sandbox, "GET", "/accounts", merchant=MERCHANT, owner=owner)["accounts"]
    return found


def record(sandbox, kind: str, record_id: str) -> dict:
    return api(sandbox, "GET", f"/apps/partner/{kind}/{record_id}", merchant=MERCHANT)


def orders(sandbox) -> list[dict]:
    return api(sandbox, "GET", "/apps/partner/order", merchant=MERCHANT)["records"]


def payment_of(sandbox, order_no: str) -> dict:
    (payment,) = sandbox.admin.payments(out_trade_no=order_no, merchant=MERCHANT)["payments"]
    return payment


def clock(sandbox) -> float:
    return sandbox.admin.clock()["now"]


# ----- balance ------------------------------------------------------------------------------------------------

def test_balance_pay_answers_the_seed_with_real_values_and_takes_the_balance(sandbox, key):
    before = clock(sandbox)
    answer = pay(sandbox, key, order_fields())
    after = clock(sandbox)
    info = answer["result"]["order_info"]
    assert list(info) == list(SEED_INFO)  # every field, in the seed's order, with its spellings
    assert {**answer, "result": {**answer["result"], "order_info": {
        k: v for k, v in info.items() if k not in PER_ORDER}}} == \
        {**SEED, "result": {**SEED["result"], "order_info": {k: v for k, v in SEED_INFO.items() if k not in PER_ORDER}}}

    # the order's own values: times from the sandbox clock, order_no = Beijing yyyyMMddHHmmss + the 13-digit ms
    ms = info["order_time_stamp"]
    assert int(before * 1000) <= ms <= int(after * 1000) + 1
    assert info["order_no"] == re.sub(r"\D", "", info["order_time"]) + str(ms) and len(info["order_no"]) == 27
    assert re.fullmatch(r"[0-9a-f]{32}", info["id"])
    payment = payment_of(sandbox, info["order_no"])
    assert (payment["provider"], payment["trade_type"], payment["status"], payment["amount"]) == \
        ("partner", "BALANCE", "SUCCEEDED", 300)
    assert payment["provider_trade_no"] == info["id"]
    assert info["order_pay_time_stamp"] == int(payment["paid_at"] * 1000)
    assert ms <= info["order_pay_time_stamp"] <= int(after * 1000) + 1
    import datetime as dt
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert info["order_time"] == dt.datetime.fromtimestamp(ms / 1000, beijing).strftime("%Y-%m-%d %H:%M:%S")
    assert info["order_pay_time"] == dt.datetime.fromtimestamp(payment["paid_at"], beijing).strftime(
        "%Y-%m-%d %H:%M:%S")

    # the ledger: 1,000.00 - 3.00, held for the payment and taken with it
    balance = account(sandbox, USER)
    assert (balance["balance"], balance["held"], balance["available"]) == (99700, 0, 99700)
    entries = api(sandbox, "GET", f"/accounts/{balance['id']}")["entries"]
    paid = sorted((e["kind"], e["amount"]) for e in entries if e["payment_id"] == payment["id"])
    assert paid == [("debit", 300), ("hold", 300), ("release", 300)]

    # the order is an app record that followed its payment
    order = record(sandbox, "order", info["id"])["data"]
    assert (order["pay_state"], order["payment_id"], order["order_no"]) == ("paid", payment["id"], info["order_no"])
    # the call is on the payment's timeline, with the answer sent
    (call,) = [e for e in sandbox.admin.payment(payment["id"])["events"] if e["kind"] == "api"]
    assert call["summary"] == "POST /app/partner/order/pay" and call["data"]["response"] == answer["result"]
    assert "sign" not in call["data"]["request"] and call["data"]["request"]["user_id"] == USER


def test_a_json_body_with_numbers_is_the_same_call(sandbox, key):
    fields = {"user_id": USER, "pay_type": 1, "gift_pos_id": GIFT, "address_id": 1, "coupon_id": ""}
    answer = pay(sandbox, key, fields, as_json=True)  # signed over pay_type=1, address_id=1; "" is left out
    info = answer["result"]["order_info"]
    assert (answer["code"], info["pay_type"], info["order_status"], info["coupon_id"]) == (1, 1, 1, "")
    assert account(sandbox, USER)["balance"] == 99700


def test_two_orders_never_share_an_order_no(sandbox, key):
    first = pay(sandbox, key, order_fields())["result"]["order_info"]
    second = pay(sandbox, key, order_fields())["result"]["order_info"]
    assert first["order_no"] != second["order_no"] and first["id"] != second["id"]
    assert second["order_time_stamp"] > first["order_time_stamp"]
    assert account(sandbox, USER)["balance"] == 100000 - 600


# ----- coupons ------------------------------------------------------------------------------------------------

def test_a_coupon_comes_off_the_price_and_is_used_once(sandbox, key):
    answer = pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN))
    info = answer["result"]["order_info"]
    assert (info["order_price"], info["deduct_price"], info["coupon_id"], info["order_status"]) == \
        (300, 100, COUPON_1_YUAN, 1)
    assert payment_of(sandbox, info["order_no"])["amount"] == 200
    assert account(sandbox, USER)["balance"] == 100000 - 200
    coupon = record(sandbox, "coupon", COUPON_1_YUAN)["data"]
    assert (coupon["used"], coupon["used_by"], coupon["held_by"]) == (True, info["id"], None)

    assert pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN)) == error("coupon_id", "优惠券已使用")
    assert pay(sandbox, key, order_fields(coupon_id=COUPON_USED)) == error("coupon_id", "优惠券已使用")
    assert account(sandbox, USER)["balance"] == 100000 - 200  # the refused calls took nothing


def test_coupon_errors_and_a_coupon_worth_more_than_the_price(sandbox, key):
    assert pay(sandbox, key, order_fields(coupon_id="nope")) == error("coupon_id", "优惠券不存在")
    # USER's coupon is not USER2's
    assert pay(sandbox, key, order_fields(user_id=USER2, address_id="2", coupon_id=COUPON_1_YUAN)) == \
        error("coupon_id", "优惠券不存在")
    # 5.00 off 3.00: 0.01 is still paid (deduct_price 299)
    info = pay(sandbox, key, order_fields(user_id=USER2, address_id="2", coupon_id=COUPON_ANYONE)
               )["result"]["order_info"]
    assert (info["order_price"], info["deduct_price"], info["order_status"]) == (300, 299, 1)
    assert payment_of(sandbox, info["order_no"])["amount"] == 1
    assert account(sandbox, USER2)["balance"] == 199


def test_concurrent_pays_with_one_coupon_use_it_once(sandbox, key):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN)), range(8)))
    paid = [a for a in answers if a["code"] == 1]
    assert len(paid) == 1
    assert all(a["code"] == 0 and list(a["errors"]) == ["coupon_id"] for a in answers if a["code"] == 0)
    assert account(sandbox, USER)["balance"] == 100000 - 200
    assert len(orders(sandbox)) == 1 and sandbox.admin.payments(merchant=MERCHANT)["total"] == 1


# ----- errors -------------------------------------------------------------------------------------------------

def test_missing_fields_are_each_named(sandbox, key):
    required = {"user_id": "用户id不能为空", "pay_type": "支付类型不能为空", "gift_pos_id": "礼包id不能为空",
                "address_id": "地址id不能为空", "sign": "签名不能为空"}
    answer = pay(sandbox, None, {})
    assert answer == {"code": 0, "errors": required, "msg": "用户id不能为空", "result": {}}
    for name in ("user_id", "pay_type", "gift_pos_id", "address_id"):
        assert pay(sandbox, key, order_fields(**{name: None})) == error(name, required[name])
        assert pay(sandbox, key, order_fields(**{name: ""})) == error(name, required[name])  # empty is missing
    assert pay(sandbox, None, order_fields()) == error("sign", "签名不能为空")


@pytest.mark.parametrize("field,value,msg", [
    ("user_id", "41840909af84463288542", "用户id格式错误，应为32位十六进制字符串"),
    ("user_id", "z1840909af844632885424fbc20cae79", "用户id格式错误，应为32位十六进制字符串"),
    ("pay_type", "3", "支付类型只能是1(余额)或2(支付宝)"),
    ("pay_type", "余额", "支付类型只能是1(余额)或2(支付宝)"),
    ("address_id", "one", "地址id必须是正整数"),
    ("address_id", "0", "地址id必须是正整数"),
    ("gift_pos_id", "x" * 65, "礼包id格式错误"),
])
def test_ill_typed_fields(sandbox, key, field, value, msg):
    assert pay(sandbox, key, order_fields(**{field: value})) == error(field, msg)


def test_ill_typed_json_values(sandbox, key):
    assert pay(sandbox, key, order_fields(pay_type=1.5), as_json=True) == \
        error("pay_type", "支付类型只能是1(余额)或2(支付宝)")
    assert pay(sandbox, key, order_fields(address_id=[1]), as_json=True) == error("address_id", "地址id必须是正整数")
    assert pay(sandbox, key, order_fields(user_id=True), as_json=True) == \
        error("user_id", "用户id格式错误，应为32位十六进制字符串")


def test_a_wrong_sign_is_refused_unless_the_partner_turned_checking_off(sandbox, key):
    fields = order_fields()
    bad = {**fields, "sign": md5_sign(fields, "not-the-key")}
    assert sign_refused(pay(sandbox, None, bad)) == error("sign", "签名错误")
    tampered = {**fields, "sign": md5_sign(fields, key), "address_id": "2"}  # signed for another address
    assert sign_refused(pay(sandbox, None, tampered)) == error("sign", "签名错误")
    upper = {**fields, "sign": md5_sign(fields, key).upper()}  # the convention is lowercase hex
    assert sign_refused(pay(sandbox, None, upper)) == error("sign", "签名错误")
    assert account(sandbox, USER)["balance"] == 100000 and orders(sandbox) == []

    settings = api(sandbox, "POST", "/apps/partner/actions/settings", {"merchant_id": MERCHANT, "check_sign": False})
    assert settings["settings"]["check_sign"] is False and settings["settings"]["key"] == key
    assert pay(sandbox, None, bad)["code"] == 1
    api(sandbox, "POST", "/apps/partner/actions/settings", {"merchant_id": MERCHANT, "check_sign": True})
    assert sign_refused(pay(sandbox, None, bad)) == error("sign", "签名错误")


def test_the_admin_api_shows_the_sign_of_a_body(sandbox, key):
    fields = order_fields(coupon_id=COUPON_1_YUAN)
    shown = api(sandbox, "POST", "/apps/partner/actions/sign", {"merchant_id": MERCHANT, "params": fields})
    assert shown["sign"] == md5_sign(fields, key)
    assert shown["signed_text"] == (f"address_id=1&coupon_id={COUPON_1_YUAN}&gift_pos_id={GIFT}&pay_type=1"
                                    f"&user_id={USER}&key={key}")


def test_unknown_user_gift_and_address(sandbox, key):
    assert pay(sandbox, key, order_fields(user_id="0" * 32)) == error("user_id", "用户不存在")
    assert pay(sandbox, key, order_fields(gift_pos_id="f" * 32)) == error("gift_pos_id", "礼包不存在")
    assert pay(sandbox, key, order_fields(address_id="99")) == error("address_id", "地址不存在")
    assert pay(sandbox, key, order_fields(address_id="2")) == error("address_id", "地址不存在")  # USER2's
    assert orders(sandbox) == [] and sandbox.admin.payments(merchant=MERCHANT)["total"] == 0


def test_insufficient_balance_writes_nothing(sandbox, key):
    assert pay(sandbox, key, order_fields(user_id=USER2, address_id="2")) == error("pay_type", "余额不足")
    held = account(sandbox, USER2)
    assert (held["balance"], held["held"]) == (200, 0)
    assert orders(sandbox) == [] and sandbox.admin.payments(merchant=MERCHANT)["total"] == 0


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"\xff\xfe", "application/x-www-form-urlencoded"),
    (b"user_id=" + b"a" * 70_000, "application/x-www-form-urlencoded"),
])
def test_unreadable_or_oversized_bodies(sandbox, body, content_type):
    response = requests.post(f"{sandbox.url}{PATH}", data=body, headers={"Content-Type": content_type}, timeout=30)
    assert (response.status_code, response.json()) == (200, error("body", "请求参数格式错误"))


def test_a_multipart_form_is_read_too(sandbox, key):
    fields = order_fields()
    fields["sign"] = md5_sign(fields, key)
    response = requests.post(f"{sandbox.url}{PATH}", files={k: (None, v) for k, v in fields.items()}, timeout=30)
    assert response.json()["code"] == 1


def test_concurrent_pays_of_one_user_with_balance_for_one(sandbox, key):
    user2 = account(sandbox, USER2)
    api(sandbox, "POST", f"/accounts/{user2['id']}/adjust", {"amount": 100})  # 3.00: one gift pack
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: pay(sandbox, key, order_fields(user_id=USER2, address_id="2")), range(10)))
    assert sum(a["code"] == 1 for a in answers) == 1
    assert [a for a in answers if a["code"] == 0] == [error("pay_type", "余额不足")] * 9
    after = account(sandbox, USER2)
    assert (after["balance"], after["held"]) == (0, 0)
    entries = api(sandbox, "GET", f"/accounts/{after['id']}")["entries"]
    running = 0
    for entry in sorted(entries, key=lambda e: e["id"]):  # never below zero at any step
        running += entry["amount"] if entry["kind"] == "credit" else -entry["amount"] if entry["kind"] == "debit" else 0
        assert running >= 0
    assert len(orders(sandbox)) == 1 and sandbox.admin.payments(merchant=MERCHANT)["total"] == 1


# ----- admin API ----------------------------------------------------------------------------------------------

def test_users_gifts_and_addresses_from_the_admin_api(sandbox, key):
    new_user = "ab" * 16
    saved = api(sandbox, "PUT", f"/apps/partner/user/{new_user}", {"merchant_id": MERCHANT, "data": {
        "phone": "13700000000", "real_name": "周润发", "level_id": "v3", "balance": 5000}})
    assert saved["data"] == {"id": new_user, "phone": "13700000000", "real_name": "周润发", "level": 0,
                             "level_id": "v3", "id_no": ""}
    assert account(sandbox, new_user)["balance"] == 5000
    api(sandbox, "PUT", "/apps/partner/gift/G-1", {"data": {"title": "小礼包", "price": 1234, "score": 12}})
    api(sandbox, "PUT", "/apps/partner/address/7", {"data": {"name": "张曼玉", "phone": "1", "address": "香港",
                                                              "user_id": new_user}})
    info = pay(sandbox, key, order_fields(user_id=new_user, gift_pos_id="G-1", address_id="7"))["result"]["order_info"]
    assert (info["user_real_name"], info["user_level_id"], info["order_price"], info["order_score"],
            info["order_receieve_name"], info["gift_title"]) == ("周润发", "v3", 1234, 12, "张曼玉", "小礼包")
    assert account(sandbox, new_user)["balance"] == 5000 - 1234

    for path, data in (("/apps/partner/gift/G-2", {"title": "x", "price": 0}),
                       ("/apps/partner/user/not-hex", {"balance": 1}),
                       ("/apps/partner/coupon/C-1", {"amount": "1"}),
                       ("/apps/partner/order/O-1", {})):
        with pytest.raises(AdminError) as refused:
            api(sandbox, "PUT", path, {"data": data})
        assert refused.value.status == 400, path
    # a used coupon made usable again by a tester
    pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN))
    reset = api(sandbox, "PATCH", f"/apps/partner/coupon/{COUPON_1_YUAN}", {"data": {"used": False}})
    assert reset["data"] == {"id": COUPON_1_YUAN, "amount": 100, "used": False, "title": "满减券 1元",
                             "user_id": USER, "held_by": None}
    assert pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN))["code"] == 1


# ----- Alipay -------------------------------------------------------------------------------------------------

def alipay_creds(sandbox) -> dict:
    return sandbox.admin.merchant(MERCHANT)["credentials"]["alipay"]


def test_alipay_order_through_the_cashier_is_paid_and_notified(sandbox, key, notify_receiver):
    api(sandbox, "POST", "/apps/partner/actions/settings",
        {"merchant_id": MERCHANT, "alipay_notify_url": notify_receiver.url("/alipay/notify")})
    answer = pay(sandbox, key, order_fields(pay_type="2", coupon_id=COUPON_1_YUAN))
    assert answer["code"] == 1 and answer["msg"] == "操作成功"
    info, url = answer["result"]["order_info"], answer["result"]["ali_pay_url"]
    assert list(info) == list(SEED_INFO)
    assert (info["pay_type"], info["order_status"], info["order_pay_time"], info["order_pay_time_stamp"],
            info["order_price"], info["deduct_price"]) == (2, 0, "", 0, 300, 100)

    # ali_pay_url: a wap pay request to the sandbox gateway, signed with the partner's Alipay app key
    creds = alipay_creds(sandbox)
    assert url.startswith(f"{sandbox.url}/gateway.do?")
    params = dict(parse_qsl(urlsplit(url).query))
    signature = params.pop("sign")
    verifier = AliPay(appid=creds["app_id"], app_private_key_string=creds["app_private_key_pem"],
                      alipay_public_key_string=creds["app_public_key_pem"])  # the app's PUBLIC key verifies
    assert verifier._verify("&".join(f"{k}={v}" for k, v in sorted(params.items())), signature)
    assert verifier.sign_data(dict(params)) == urlsplit(url).query  # exactly what python-alipay-sdk would send
    assert (params["method"], params["app_id"], params["sign_type"], params["charset"], params["notify_url"]) == \
        ("alipay.trade.wap.pay", creds["app_id"], "RSA2", "utf-8", notify_receiver.url("/alipay/notify"))
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": info["order_no"], "total_amount": "2.00", "subject": "拉卡拉大POS 1台装礼包 升V5",
        "product_code": "QUICK_WAP_WAY", "timeout_express": "30m"}

    # the trade exists already, carrying the order; the balance is not touched
    payment = payment_of(sandbox, info["order_no"])
    assert (payment["provider"], payment["trade_type"], payment["status"], payment["amount"]) == \
        ("alipay", "WAP", "PENDING", 200)
    assert record(sandbox, "order", info["id"])["data"]["pay_state"] == "paying"
    assert record(sandbox, "coupon", COUPON_1_YUAN)["data"]["held_by"] == info["id"]
    assert pay(sandbox, key, order_fields(coupon_id=COUPON_1_YUAN)) == \
        error("coupon_id", "优惠券已被未支付的订单占用")

    # the browser opens ali_pay_url: the same trade's cashier page (no second trade)
    browser = requests.Session()
    page = browser.get(url, timeout=10)
    assert page.status_code == 200 and page.url == f"{sandbox.url}/_sandbox/pay/{payment['id']}"
    assert sandbox.admin.payments(out_trade_no=info["order_no"])["total"] == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    paid = browser.post(f"{page.url}/pay", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert paid.status_code in (302, 303), paid.text[:300]

    order = record(sandbox, "order", info["id"])["data"]
    payment = payment_of(sandbox, info["order_no"])
    assert (payment["status"], order["pay_state"], order["payment_id"]) == ("SUCCEEDED", "paid", payment["id"])
    coupon = record(sandbox, "coupon", COUPON_1_YUAN)["data"]
    assert (coupon["used"], coupon["used_by"], coupon["held_by"]) == (True, info["id"], None)
    assert account(sandbox, USER)["balance"] == 100000

    (notify,) = notify_receiver.wait_for(1)
    assert notify.path == "/alipay/notify"
    data = dict(parse_qsl(notify.body.decode()))
    sdk = AliPay(**python_sdk_config(creds))
    notify_sign = data.pop("sign")
    assert sdk.verify(dict(data), notify_sign)
    assert (data["out_trade_no"], data["trade_status"], data["total_amount"], data["app_id"]) == \
        (info["order_no"], "TRADE_SUCCESS", "2.00", creds["app_id"])

    # paid: the URL no longer opens a payable trade
    again = browser.get(url, timeout=10)
    assert "ACQ.TRADE_HAS_SUCCESS" in again.text


def test_alipay_order_paid_from_the_admin_api_or_left_unpaid_when_closed_or_expired(sandbox, key):
    first = pay(sandbox, key, order_fields(pay_type="2", coupon_id=COUPON_1_YUAN))["result"]["order_info"]
    closing = payment_of(sandbox, first["order_no"])
    sandbox.admin.close(closing["id"])
    order = record(sandbox, "order", first["id"])["data"]
    assert (order["pay_state"], order["last_payment_status"]) == ("unpaid", "CLOSED")
    coupon = record(sandbox, "coupon", COUPON_1_YUAN)["data"]
    assert (coupon["used"], coupon["held_by"]) == (False, None)  # released: usable again

    second = pay(sandbox, key, order_fields(pay_type="2", coupon_id=COUPON_1_YUAN))["result"]["order_info"]
    sandbox.admin.advance(30 * 60 + 1)  # timeout_express 30m
    sandbox.call(sandbox.engine.run_due_actions())
    expired = payment_of(sandbox, second["order_no"])
    assert (expired["status"], expired["close_reason"]) == ("CLOSED", "expired")
    assert record(sandbox, "order", second["id"])["data"]["pay_state"] == "unpaid"
    assert record(sandbox, "coupon", COUPON_1_YUAN)["data"]["held_by"] is None

    third = pay(sandbox, key, order_fields(pay_type="2"))["result"]["order_info"]
    paying = payment_of(sandbox, third["order_no"])
    sandbox.admin.succeed(paying["id"])
    order = record(sandbox, "order", third["id"])["data"]
    assert (order["pay_state"], order["paid_at"]) == ("paid", payment_of(sandbox, third["order_no"])["paid_at"])
    assert account(sandbox, USER)["balance"] == 100000  # Alipay orders never touch the balance


def test_a_partner_without_alipay_gets_the_envelope(sandbox, key):
    created = sandbox.admin.create_merchant("Partner without Alipay", {"partner": {}}, merchant_id="partner-2")
    other_key = created["credentials"]["partner"]["key"]
    user = "cd" * 16
    api(sandbox, "PUT", f"/apps/partner/user/{user}", {"merchant_id": "partner-2", "data": {"balance": 10}})
    api(sandbox, "PUT", f"/apps/partner/gift/{GIFT}", {"merchant_id": "partner-2", "data": {"title": "t", "price": 5}})
    api(sandbox, "PUT", "/apps/partner/address/1", {"merchant_id": "partner-2", "data": {"name": "n", "address": "a"}})
    fields = order_fields(user_id=user, pay_type="2")
    assert sign_refused(pay(sandbox, key, fields)) == error("sign", "签名错误")  # the demo partner's key is not partner-2's
    assert pay(sandbox, other_key, fields) == error("pay_type", "商户未开通支付宝支付")
    assert pay(sandbox, other_key, order_fields(user_id=user))["result"]["order_info"]["order_price"] == 5
    (mine,) = api(sandbox, "GET", "/accounts", merchant="partner-2", owner=user)["accounts"]
    assert mine["balance"] == 5


def test_with_checking_off_the_sign_may_be_left_out(sandbox, key):
    assert pay(sandbox, None, order_fields()) == error("sign", "签名不能为空")  # checking on: required
    api(sandbox, "POST", "/apps/partner/actions/settings", {"merchant_id": MERCHANT, "check_sign": False})
    answer = pay(sandbox, None, order_fields())
    assert (answer["code"], answer["msg"], answer["result"]["order_info"]["order_status"]) == (1, "操作成功", 1)
    assert pay(sandbox, None, order_fields(gift_pos_id=None)) == error("gift_pos_id", "礼包id不能为空")
    api(sandbox, "POST", "/apps/partner/actions/settings", {"merchant_id": MERCHANT, "check_sign": True})
    assert pay(sandbox, None, order_fields()) == error("sign", "签名不能为空")
