"""hmall pay-service and user-service (seed 000, ../shared/specs/hmall.md): routes, parsing, the JWT check and the
original's error envelope. Pay orders are payments (provider `hmall`, trade type BALANCE); users' balances are core
ledger accounts; users and trade orders are app records. State lives in core: this adapter asks the engine."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import bcrypt
import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ... import jsonbody
from ...access_log import note_merchant, note_payment, note_rejected
from ...core import errors
from ...core.app_data import AppOrderLink, AppRecord
from ...core.engine import Engine
from ...core.ledger import Funding, Movement, account_id
from ...core.models import Merchant, NewPayment, Payment
from ...core.rules import ApiCall
from ...providers.base import BodyTooLarge, injected_fault, read_body
from ...settings import Settings
from . import auth, models, wire
from .channel import TradeNotifyChannel
from .wire import HmallError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
# What PayApplyDTO's field descriptions say when the field is missing
REQUIRED = (("bizOrderNo", "业务订单id不能为空"), ("amount", "支付金额必须为正数"),
            ("payChannelCode", "支付渠道编码不能为空"), ("orderInfo", "订单中的商品信息不能为空"))


class HmallApp:
    name = wire.APP
    title = "hmall"
    paths = "/users/login  /pay-orders"
    demo_users = "users jack, rose, hope, thomas (ids 1-4), password 123, ¥10,000.00 each"

    def __init__(self):
        self.channel = TradeNotifyChannel()
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.ids = wire.Snowflake()

    # ----- Provider protocol ---------------------------------------------------------------------------------

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        routes = [("POST", "/users/login", self.login), ("POST", "/pay-orders", self.apply_pay_order),
                  ("GET", "/pay-orders", self.list_pay_orders),
                  ("GET", "/pay-orders/biz/{biz_order_no}", self.pay_order_by_biz_order_no),
                  ("POST", "/pay-orders/{id}", self.pay_by_balance)]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._guarded(handler))

    def new_credentials(self, trade_notify_url: str | None = None, token_ttl_s: int = 1800,
                        **_: Any) -> dict[str, Any]:
        if trade_notify_url is not None and not str(trade_notify_url).startswith(("http://", "https://")):
            raise ValueError("trade_notify_url must be an http(s) URL")
        private, public = auth.new_key_pair()
        return {"jwt_private_key_pem": private, "jwt_public_key_pem": public, "token_ttl_s": int(token_ttl_s),
                "trade_notify_url": trade_notify_url}

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        return [wire.APP]  # one hmall backend per sandbox: its requests do not name a merchant

    async def load_demo_data(self, merchant: Merchant, folder) -> None:
        """The seed users (with their balances, as ledger accounts) and trade orders of fixtures/hmall/data.json."""
        data = orjson.loads((folder / "data.json").read_bytes())
        for user in data["users"]:
            await self.save_user(merchant, user)
        for order in data["orders"]:
            await self.engine.put_app_record(merchant.id, wire.APP, "order", str(order["id"]),
                                             {**order, "pay_state": "unpaid"}, actor="fixtures")

    async def save_user(self, merchant: Merchant, user: dict[str, Any], actor: str = "fixtures") -> None:
        """Create a user (id, username, password as a bcrypt hash, phone, status) with its balance account."""
        record = {k: user[k] for k in ("id", "username", "password", "phone", "status")}
        await self.engine.put_app_record(merchant.id, wire.APP, "user", str(user["id"]), record,
                                         lookup=user["username"].lower(), actor=actor)
        await self.engine.open_account(merchant.id, wire.APP, str(user["id"]), "balance",
                                       opening=int(user.get("balance", 0)), actor=actor)

    # ----- admin API (sandbox/console/apps_api.py) -------------------------------------------------------------

    async def admin_put(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        """A user: {username, password (plain: hashed with bcrypt as the original stores it), phone, status,
        balance (opening, fen)}; an order: {user_id, status}."""
        if kind == "user":
            user = _valid_user(record_id, data)
            user["password"] = await _hashed(user["password"])
            await self.save_user(merchant, user, actor="api")
            return await self.engine.app_record(merchant.id, kind, record_id)
        if kind == "order":
            if not record_id.isdigit():
                raise errors.InvalidInput("an hmall order id is a number")
            return await self.engine.put_app_record(
                merchant.id, wire.APP, kind, record_id,
                {"id": record_id, "user_id": data.get("user_id"), "status": data.get("status", wire.ORDER_UNPAID),
                 "pay_state": "unpaid"}, actor="api")
        raise errors.InvalidInput("hmall keeps users and orders")

    async def admin_action(self, merchant: Merchant, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """`settings`: {"trade_notify_url": "http…" or null, "token_ttl_s": N} (pay orders created from then on
        notify the new URL)."""
        if action != "settings":
            raise errors.NotFound(f"hmall has no action {action!r}; it has: settings")
        changes: dict[str, Any] = {}
        if "trade_notify_url" in body:
            url = body["trade_notify_url"]
            if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))
                                        and len(url) <= 2048):
                raise errors.InvalidInput("trade_notify_url must be an http(s) URL or null")
            changes["trade_notify_url"] = url
        if "token_ttl_s" in body:
            ttl = body["token_ttl_s"]
            if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 366 * 86400:
                raise errors.InvalidInput("token_ttl_s: whole seconds, 1 to a year")
            changes["token_ttl_s"] = ttl
        if changes:
            merchant = await self.engine.update_settings(merchant.id, wire.APP, changes)
        creds = merchant.for_provider(wire.APP)
        return {"merchant_id": merchant.id, "trade_notify_url": creds.get("trade_notify_url"),
                "token_ttl_s": creds.get("token_ttl_s", 1800), "jwt_public_key_pem": creds["jwt_public_key_pem"]}

    async def admin_patch(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        """Freeze or unfreeze a user ({"status": 0|1}), set a password ({"password": "…"})."""
        if kind != "user" or not set(data) <= {"status", "password", "phone"}:
            raise errors.InvalidInput("a user's status, password or phone can be changed")
        changes = dict(data)
        if "status" in changes and changes["status"] not in (wire.USER_FROZEN, wire.USER_NORMAL):
            raise errors.InvalidInput("status is 0 (frozen) or 1 (active)")
        if "password" in changes:
            if not isinstance(changes["password"], str) or not 1 <= len(changes["password"]) <= 72:
                raise errors.InvalidInput("password: 1-72 characters")
            changes["password"] = await _hashed(changes["password"])
        return await self.engine.update_app_record(merchant.id, kind, record_id, changes, actor="api")

    # ----- wire ----------------------------------------------------------------------------------------------

    def _guarded(self, handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except HmallError as exc:
                note_rejected(str(exc.code), exc.msg)
                return exc.response()
            except Exception:  # the original's CommonExceptionAdvice: never a stack trace on the wire
                log.exception("hmall %s %s failed", request.method, request.path)
                return HmallError(500, wire.SERVER_ERROR).response()
        return guarded

    def merchant(self) -> Merchant:
        merchant = self.engine.merchant_by_key(wire.APP, wire.APP)
        if merchant is None:
            raise HmallError(500, wire.SERVER_ERROR)
        note_merchant(merchant.id)
        return merchant

    async def _body(self, request: web.Request, model: type[BaseModel], longs: tuple[str, ...] = ()) -> BaseModel:
        try:
            raw = await read_body(request, MAX_BODY)
            body = jsonbody.loads(raw) if raw.strip() else {}
            return model.model_validate(models.numeric_strings(body, longs))
        except (BodyTooLarge, jsonbody.BodyError, ValidationError):
            raise HmallError(400, wire.BAD_REQUEST) from None

    async def _caller(self, request: web.Request, merchant: Merchant) -> int:
        creds = merchant.for_provider(wire.APP)
        return auth.parse_token(request.headers.get("authorization"), self.engine.clock.now(),
                                creds["jwt_public_key_pem"])

    # ----- user-service --------------------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        merchant = self.merchant()
        form = await self._body(request, models.LoginForm)
        user = await self.engine.app_record_by_lookup(wire.APP, "user", (form.username or "").lower()) \
            if form.username else None
        if user is None or user.merchant_id != merchant.id:
            raise HmallError(500, wire.SERVER_ERROR)  # the original's Assert.notNull(user, "用户名错误")
        if user.data.get("status") == wire.USER_FROZEN:
            raise HmallError(403, wire.FROZEN)
        if not await _password_matches(form.password, user.data.get("password")):
            raise HmallError(400, wire.BAD_LOGIN)
        creds = merchant.for_provider(wire.APP)
        user_id = int(user.id)
        token = auth.create_token(user_id, self.engine.clock.now(), creds.get("token_ttl_s", 1800),
                                  creds["jwt_private_key_pem"])
        account = await self.engine.get_account(account_id(merchant.id, user.id, "balance"))
        return wire.json_response({"token": token, "userId": str(user_id), "username": user.data["username"],
                                   "balance": account.balance})

    # ----- pay-service ---------------------------------------------------------------------------------------

    async def apply_pay_order(self, request: web.Request) -> web.Response:
        merchant = self.merchant()
        caller = await self._caller(request, merchant)
        form = await self._body(request, models.PayApply, ("amount", "bizOrderNo", "payType"))
        if form.payType != wire.BALANCE:
            raise HmallError(500, wire.ONLY_BALANCE)
        for field, message in REQUIRED:
            value = getattr(form, field)
            if value is None or value == "" or (field == "amount" and value <= 0):
                raise HmallError(400, message)
        if await injected_fault(self.engine, request, lambda: ApiCall(
                wire.APP, merchant.id, "create", str(form.bizOrderNo), form.amount)):
            raise HmallError(500, wire.SERVER_ERROR)
        payment = await self._apply(merchant, caller, form)
        note_payment(payment.id)
        accept = request.headers.get("Accept", "")
        # The controller returns a Java String: Spring writes the bare digits (no quotes), as JSON only when asked
        content_type = "application/json" if "application/json" in accept else "text/plain"
        return web.Response(text=payment.provider_trade_no, content_type=content_type, charset="utf-8")

    async def _apply(self, merchant: Merchant, caller: int, form: models.PayApply) -> Payment:
        """checkIdempotent of the original: new, same channel → unchanged, other channel → reset, paid or closed →
        refused."""
        biz_order_no = str(form.bizOrderNo)
        now = self.engine.clock.now()
        terms = {"pay_channel_code": form.payChannelCode, "pay_type": form.payType, "order_info": form.orderInfo,
                 "biz_user_id": caller,
                 "funding": Funding(debit=[Movement(account_id=account_id(merchant.id, str(caller), "balance"),
                                                    amount=form.amount)]).model_dump()}
        fingerprint = {"pay_channel_code": form.payChannelCode}
        for _ in range(2):  # a concurrent first apply may win the insert: then judge its pay order
            existing = await self.engine.find_payment(merchant.id, wire.APP, biz_order_no)
            if existing is None:
                pay_order_id = self.ids.next(now)
                new = NewPayment(
                    provider=wire.APP, merchant_id=merchant.id, out_trade_no=biz_order_no,
                    provider_trade_no=str(pay_order_id), amount=form.amount,
                    trade_type=wire.PAY_TYPES[form.payType], description=form.orderInfo,
                    notify_url=merchant.for_provider(wire.APP).get("trade_notify_url"),
                    payer={"user_id": caller},
                    extra={**{k: v for k, v in terms.items() if k != "funding"}, "pay_order_no": self.ids.next(now)},
                    funding=Funding.model_validate(terms["funding"]),
                    app_order=AppOrderLink(app=wire.APP, order_id=biz_order_no, on_paid={"status": wire.ORDER_PAID}),
                    fingerprint=fingerprint, raw_request=form.model_dump_json(), expires_in_s=wire.PAY_ORDER_TTL_S)
                try:
                    payment, _ = await self.engine.create_payment(new)
                    return payment
                except errors.DuplicateOrder:
                    continue
                except errors.InvalidState:  # the trade order is paid already
                    raise HmallError(500, wire.ALREADY_PAID) from None
            if existing.was_paid:
                raise HmallError(500, wire.ALREADY_PAID)
            if existing.is_final:
                raise HmallError(500, wire.CLOSED)
            if existing.extra.get("pay_channel_code") == form.payChannelCode:
                return existing
            try:
                return await self.engine.amend_pending(
                    existing.id, amount=form.amount, trade_type=wire.PAY_TYPES[form.payType],
                    fingerprint=fingerprint, extra={**terms, "qr_code_url": ""},
                    expires_at=now + wire.PAY_ORDER_TTL_S, actor="hmall")
            except errors.InvalidState:
                continue
        raise HmallError(500, wire.SERVER_ERROR)

    async def pay_by_balance(self, request: web.Request) -> web.Response:
        merchant = self.merchant()
        caller = await self._caller(request, merchant)
        try:
            pay_order_id = int(request.match_info["id"])
        except ValueError:  # Spring's MethodArgumentTypeMismatchException: the advice's catch-all, 500
            raise HmallError(500, wire.SERVER_ERROR) from None
        form = await self._body(request, models.PayOrderForm, ("id",))
        payment = await self.engine.find_by_provider_trade_no(wire.APP, str(pay_order_id))  # the path id wins
        if payment is None or payment.merchant_id != merchant.id:
            raise HmallError(500, wire.SERVER_ERROR)  # getById → null → NullPointerException in the original
        note_payment(payment.id)
        if payment.is_final:
            raise HmallError(500, wire.PAID_OR_CLOSED)
        user = await self.engine.app_record(merchant.id, "user", str(caller))
        if user is None or not await _password_matches(form.pw, user.data.get("password")):
            raise HmallError(500, wire.WRONG_PASSWORD)
        debit = Funding(debit=[Movement(account_id=account_id(merchant.id, str(caller), "balance"),
                                        amount=payment.amount)])
        try:
            await self.engine.succeed(payment.id, actor=f"hmall user {caller}", funding=debit,
                                      payer={"paid_by": caller})
        except (errors.InsufficientFunds, errors.NotFound):
            raise HmallError(500, wire.NO_MONEY) from None
        except errors.InvalidState:
            raise HmallError(500, wire.PAID_OR_CLOSED) from None
        return web.Response(status=200)

    async def list_pay_orders(self, request: web.Request) -> web.Response:
        merchant = self.merchant()
        await self._caller(request, merchant)
        payments, _ = await self.engine.list_payments(provider=wire.APP, merchant_id=merchant.id, limit=10_000)
        return wire.json_response([models.pay_order_vo(p) for p in reversed(payments)])

    async def pay_order_by_biz_order_no(self, request: web.Request) -> web.Response:
        merchant = self.merchant()
        await self._caller(request, merchant)
        try:
            biz_order_no = int(request.match_info["biz_order_no"])
        except ValueError:  # a path Long that is no number: the advice's catch-all, 500 (not a body error)
            raise HmallError(500, wire.SERVER_ERROR) from None
        payment = await self.engine.find_payment(merchant.id, wire.APP, str(biz_order_no))
        if payment is None:
            return web.Response(status=200)  # Spring writes a null body as nothing
        return wire.json_response(models.pay_order_vo(payment))


def _valid_user(record_id: str, data: dict[str, Any]) -> dict[str, Any]:
    username, password = data.get("username"), data.get("password")
    if not record_id.isdigit() or len(record_id) > 18:
        raise errors.InvalidInput("an hmall user id is a number")
    if not isinstance(username, str) or not 1 <= len(username) <= 64:
        raise errors.InvalidInput("username: 1-64 characters")
    if not isinstance(password, str) or not 1 <= len(password) <= 72:
        raise errors.InvalidInput("password: 1-72 characters")
    balance, status = data.get("balance", 0), data.get("status", wire.USER_NORMAL)
    if not isinstance(balance, int) or isinstance(balance, bool) or not 0 <= balance <= 10 ** 12:
        raise errors.InvalidInput("balance: whole fen, 0 or more")
    if status not in (wire.USER_FROZEN, wire.USER_NORMAL):
        raise errors.InvalidInput("status is 0 (frozen) or 1 (active)")
    return {"id": int(record_id), "username": username, "password": password, "phone": str(data.get("phone", "")),
            "status": status, "balance": balance}


async def _hashed(password: str) -> str:
    """What BCryptPasswordEncoder stores ($2a$, cost 10); a given bcrypt hash is kept as it is."""
    if password.startswith(("$2a$", "$2b$", "$2y$")) and len(password) == 60:
        return password
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(10, prefix=b"2a"))
    return hashed.decode()


async def _password_matches(password: str | None, hashed: str | None) -> bool:
    """BCryptPasswordEncoder.matches, off the event loop (a cost-10 hash takes ~50 ms of CPU)."""
    if not password or not hashed:
        return False
    try:
        return await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed.encode())
    except ValueError:
        return False
