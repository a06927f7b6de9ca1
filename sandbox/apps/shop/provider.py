"""The shop app's "order immediate pay" (seed 002, ../shared/specs/merchant-apps.md): `POST /api/order/pay`.

Each pay call of an order is a payment: a real sandbox WeChat APP payment (pay_method 1, 4), a real Alipay app-pay
trade (2, 5) or a points payment of the shop itself (3, provider `shop`, paid at once). The order follows its payment
(core/app_data.py); points beside an API payment are held when the order is placed, taken when the payment succeeds
and released when it fails, closes or expires (core/ledger.py). Shop users, tokens, orders and addresses are app
records; points are core ledger accounts (asset `points`)."""
from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ...access_log import note_merchant, note_payment, note_rejected
from ... import jsonbody
from ...appkeys import PROVIDERS
from ...core import errors
from ...core.app_data import AppOrderLink, AppRecord
from ...core.engine import Engine
from ...core.ledger import Account, Funding, Movement, account_id
from ...core.models import CloseReason, Merchant, NewPayment, Payment, PaymentStatus
from ...core.rules import ApiCall
from ...providers.alipay import gateway as alipay_gateway
from ...providers.alipay import signing as alipay_signing
from ...providers.alipay.models import PayBiz
from ...providers.base import BodyTooLarge, injected_fault, read_body
from ...providers.wechat import wire as wechat_wire
from ...settings import Settings
from . import models, payparams, wire
from .admin import ShopRecords, valid_settings
from .wire import ShopError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
PATH = "/api/order/pay"
ATTEMPTS = 16  # a pay call re-reads the order when a concurrent call changed it meanwhile


class ShopApp(ShopRecords):
    name = wire.APP
    title = "Shop app"
    paths = PATH
    demo_users = ("users 1, 2, 3 (tokens shop-demo-token-1/2/3; 500, 100000 and 0 points); orders 1001-1004")
    channel = None  # a points payment notifies nobody; WeChat and Alipay send their own notifies

    def __init__(self):
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.app: web.Application | None = None

    # ----- Provider protocol ---------------------------------------------------------------------------------

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings, self.app = engine, settings, app
        app.router.add_route("*", PATH, self._guarded(self.pay))

    def new_credentials(self, token_ttl_s: int = wire.TOKEN_TTL_S, notify_url: str | None = None,
                        points_per_yuan: int = wire.POINTS_PER_YUAN, **unknown: Any) -> dict[str, Any]:
        if unknown:
            raise TypeError(f"unknown shop options {sorted(unknown)}; expected token_ttl_s, notify_url, "
                            "points_per_yuan")
        return valid_settings({"token_ttl_s": token_ttl_s, "notify_url": notify_url,
                               "points_per_yuan": points_per_yuan}, ValueError)

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        return []  # a call names its user by token, and the token its merchant

    async def load_demo_data(self, merchant: Merchant, folder) -> None:
        """Users (with their points), tokens, addresses and orders of fixtures/shop/data.json."""
        data = json.loads((folder / "data.json").read_text(encoding="utf-8"))
        for user in data["users"]:
            await self.save_user(merchant, models.user(user["id"], user), actor="fixtures")
        for address in data["addresses"]:
            await self._put(merchant, "address", models.address(address["id"], address), "fixtures")
        for order in data["orders"]:
            await self._put_order(merchant, models.order(order["id"], order), "fixtures")
        for token in data["tokens"]:
            await self.issue_token(merchant, token["user_id"], token["expires_in_s"], token["token"], "fixtures")

    # ----- wire ----------------------------------------------------------------------------------------------

    def _guarded(self, handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ShopError as exc:
                note_rejected("0", exc.msg)
                return exc.response()
            except Exception:  # never a traceback or a 5xx: the app's own envelope
                log.exception("shop %s %s failed", request.method, request.path)
                return ShopError(wire.BUSY).response()
        return guarded

    async def _caller(self, request: web.Request) -> tuple[Merchant, AppRecord]:
        """The merchant and user of the `token` header; token过期 for a missing, unknown or expired one."""
        token = request.headers.get("token", "").strip()
        record = await self.engine.app_record_by_lookup(wire.APP, "token", token) if 0 < len(token) <= 256 else None
        if record is None:
            raise ShopError(wire.TOKEN_EXPIRED)
        expires_at = record.data.get("expires_at")
        if expires_at is not None and expires_at <= self.engine.clock.now():
            raise ShopError(wire.TOKEN_EXPIRED)
        try:
            merchant = self.engine.merchant(record.merchant_id)
        except errors.MerchantNotFound:
            raise ShopError(wire.TOKEN_EXPIRED) from None
        note_merchant(merchant.id)
        user = await self.engine.app_record(merchant.id, "user", str(record.data.get("user_id")))
        if user is None:
            raise ShopError(wire.TOKEN_EXPIRED)
        return merchant, user

    async def pay(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            raise ShopError(wire.BAD_BODY)
        merchant, user = await self._caller(request)
        form = models.pay_form(await _fields(request))
        if form.pay_method not in wire.METHODS:
            raise ShopError(wire.BAD_METHOD)
        if form.freight_mode not in (wire.FREE_SHIPPING, wire.NOT_FREE):
            raise ShopError(wire.malformed("freight_mode"))
        if form.freight_json_arr_key not in (0, *wire.FREIGHT_KEYS):
            raise ShopError(wire.malformed("freight_json_arr_key"))
        if form.freight_mode == wire.NOT_FREE and form.freight_json_arr_key not in wire.FREIGHT_KEYS:
            raise ShopError(wire.FREIGHT_KEY_REQUIRED)
        address = await self.engine.app_record(merchant.id, "address", str(form.address_id))
        if address is None or str(address.data.get("user_id")) != user.id:
            raise ShopError(wire.NO_ADDRESS)
        if await injected_fault(self.engine, request, lambda: ApiCall(  # a fault rule's out_trade_no: the order id
                wire.APP, merchant.id, "create", str(form.order_id), form.pay_price or None)):
            raise ShopError(wire.BUSY)
        for _ in range(ATTEMPTS):
            try:
                payment, pay_param = await self._attempt(request, merchant, user, form)
            except _LookAgain:
                continue
            note_payment(payment.id)
            await self.engine.log_api_call(payment.id, f"shop {PATH} (pay_method {form.pay_method})",
                                           {"user_id": user.id, **form.model_dump()}, {"pay_param": pay_param})
            return wire.success(pay_param)
        raise ShopError(wire.BUSY)

    async def _attempt(self, request: web.Request, merchant: Merchant, user: AppRecord, form: models.PayForm
                       ) -> tuple[Payment, Any]:
        """One try at paying the order: the open payment again when the call asks the same, else a new one (the open
        one of other terms is closed first). _LookAgain when a concurrent call changed the order meanwhile."""
        order = await self.engine.app_record(merchant.id, "order", str(form.order_id))
        if order is None or str(order.data.get("user_id")) != user.id:
            raise ShopError(wire.NO_ORDER)
        if order.data.get("pay_state") == "paid":
            raise ShopError(wire.PAID)
        open_payment = await self._open_payment(order)
        terms = _terms(form)
        if open_payment is not None:
            attempt = await self.engine.app_record(merchant.id, "pay", open_payment.out_trade_no)
            if attempt is not None and attempt.data.get("terms") == terms:
                return open_payment, await self._again(merchant, user, open_payment)
        points = await self._points_of(merchant, user)
        await self._unchanged(order)  # the order, its open payment and the points were read as one state
        _check_amounts(order.data["price"], form, points.available + _held(open_payment, points.id),
                       merchant.for_provider(wire.APP).get("points_per_yuan", wire.POINTS_PER_YUAN))
        if open_payment is not None:  # the app asks for another way to pay: the open payment gives way
            try:
                await self.engine.close(open_payment.id, actor="shop", reason="superseded by a new pay call")
            except errors.InvalidState:
                raise _LookAgain() from None
        try:
            return await self._create(request, merchant, user, order, form, terms)
        except errors.InvalidState:  # paid, or another payment opened, meanwhile
            raise _LookAgain() from None
        except errors.InsufficientFunds:
            await self._unchanged(order)  # a concurrent call's hold on this order is not a lack of points
            raise ShopError(wire.NOT_ENOUGH_POINTS) from None

    async def _points_of(self, merchant: Merchant, user: AppRecord) -> Account:
        try:
            return await self.engine.get_account(account_id(merchant.id, user.id, "points"))
        except errors.NotFound:
            return await self.engine.open_account(merchant.id, wire.APP, user.id, "points", actor="shop")

    async def _unchanged(self, order: AppRecord) -> None:
        """_LookAgain when the order changed since it was read (a concurrent pay call, a payment's outcome)."""
        now = await self.engine.app_record(order.merchant_id, "order", order.id)
        if now is None or now.updated_at != order.updated_at or now.data != order.data:
            raise _LookAgain()

    async def _open_payment(self, order: AppRecord) -> Payment | None:
        payment_id = order.data.get("payment_id")
        if order.data.get("pay_state") != "paying" or not payment_id:
            return None
        try:
            payment = await self.engine.get_payment(payment_id)
        except errors.PaymentNotFound:
            return None
        if payment.status is not PaymentStatus.PENDING:
            return None
        if payment.expires_at is not None and payment.expires_at <= self.engine.clock.now():
            try:  # past its time, the scheduler not there yet: expired now, as it would be
                await self.engine.close(payment.id, actor="clock", why=CloseReason.EXPIRED)
            except errors.InvalidState:
                pass
            raise _LookAgain()
        return payment

    async def _create(self, request: web.Request, merchant: Merchant, user: AppRecord, order: AppRecord,
                      form: models.PayForm, terms: dict) -> tuple[Payment, Any]:
        now = self.engine.clock.now()
        out_trade_no = wire.out_trade_no(now)
        hold = [Movement(account_id=account_id(merchant.id, user.id, "points"), amount=form.pay_integral)] \
            if form.pay_integral else []
        funding = Funding(hold=hold) if hold else None
        link = AppOrderLink(app=wire.APP, order_id=order.id, on_paid={"status": wire.PAID_STATUS})
        attempt = AppRecord(merchant_id=merchant.id, app=wire.APP, kind="pay", id=out_trade_no, created_at=now,
                            updated_at=now, data={"order_id": form.order_id, "user_id": int(user.id),
                                                  "provider": wire.METHODS[form.pay_method], "terms": terms})
        subject = order.data.get("title") or wire.SUBJECT
        notify_url = merchant.for_provider(wire.APP).get("notify_url")
        method = wire.METHODS[form.pay_method]
        if method == "points":
            new = NewPayment(
                provider=wire.APP, merchant_id=merchant.id, out_trade_no=out_trade_no, provider_trade_no=out_trade_no,
                amount=order.data["price"], trade_type="POINTS", description=subject, payer={"user_id": user.id},
                extra={"pay_method": form.pay_method, "points": form.pay_integral}, fingerprint=terms,
                raw_request=json.dumps({"user_id": user.id, **form.model_dump()}), expires_in_s=wire.POINTS_TTL_S,
                funding=funding, app_order=link, records=[attempt])
            payment, _ = await self.engine.create_payment(new)
            return payment, await self._again(merchant, user, payment)  # paid at once
        if method == "wechat":
            creds = merchant.for_provider("wechat")
            if not creds.get("appids"):
                raise ShopError(wire.NO_WECHAT)
            appid = creds["appids"][0]
            fingerprint = {"trade_type": "APP", "amount": form.pay_price, "description": subject, "appid": appid,
                           "payer": {}, "attach": None, "sub_mchid": None}
            new = NewPayment(  # as pay/unifiedorder makes an APP payment (providers/wechat/api_v2.py)
                provider=wechat_wire.PROVIDER, merchant_id=merchant.id, out_trade_no=out_trade_no,
                provider_trade_no=wechat_wire.transaction_id(now), amount=form.pay_price, trade_type="APP",
                description=subject, notify_url=notify_url, provider_ids={"prepay_id": wechat_wire.prepay_id(now)},
                extra={"api": "v2", "sign_type": "MD5", "sandboxnew": False, "appid": appid, "device_info": None,
                       "product_id": None, "v2_partner": None, "spbill_create_ip": None},
                fingerprint=fingerprint, raw_request=json.dumps({"user_id": user.id, **form.model_dump()}),
                expires_in_s=wechat_wire.ORDER_TTL_S, funding=funding, app_order=link, records=[attempt])
            payment, _ = await self.engine.create_payment(new)
            return payment, payparams.wechat_app(creds, appid, payment.provider_ids["prepay_id"], now)
        creds = merchant.for_provider("alipay")
        alipay = self.app[PROVIDERS].get("alipay")
        if not creds.get("app_private_key_pem") or alipay is None:
            raise ShopError(wire.NO_ALIPAY)
        order_string = payparams.alipay_order_string(
            creds, payparams.alipay_biz(out_trade_no, form.pay_price, subject), notify_url, now)
        try:  # the trade is opened as the gateway opens it from this very string (fingerprint included)
            call = alipay_gateway.check(alipay_signing.parse_order_string(order_string), self.engine,
                                        (payparams.ALIPAY_METHOD,))
            biz = PayBiz.model_validate(alipay_gateway.biz_content(call))
            payment = await alipay.methods.open_trade(call, biz, funding=funding, app_order=link, records=[attempt])
        except alipay_gateway.Rejected as exc:
            log.error("shop: the gateway refused the shop's own order string: %s", exc)
            raise ShopError(wire.BUSY) from None
        return payment, order_string

    async def _again(self, merchant: Merchant, user: AppRecord, payment: Payment) -> Any:
        """The pay parameters of an open payment (asked again with the same terms): WeChat's object with a fresh
        nonce and time, Alipay's order string of the same trade; a points payment is paid now."""
        now = self.engine.clock.now()
        if payment.provider == wire.APP:
            try:
                await self.engine.succeed(payment.id, actor=f"shop user {user.id}")
            except errors.InvalidState:  # paid (or given way) by a concurrent call
                raise _LookAgain() from None
            return ""
        if payment.provider == wechat_wire.PROVIDER:
            return payparams.wechat_app(merchant.for_provider("wechat"), payment.extra["appid"],
                                        payment.provider_ids["prepay_id"], now)
        return payparams.alipay_order_string(
            merchant.for_provider("alipay"), payparams.alipay_biz(payment.out_trade_no, payment.amount,
                                                                  payment.description or wire.SUBJECT),
            payment.notify_url, now)


class _LookAgain(Exception):
    """The order changed under this call (paid, or another payment opened): read it again."""


def _terms(form: models.PayForm) -> dict[str, int]:
    """What makes two pay calls of one order "the same": the same payment is handed back."""
    return form.model_dump()


def _held(payment: Payment | None, account: str) -> int:
    """Points an open payment holds on the account (given back when a new pay call supersedes it)."""
    if payment is None:
        return 0
    holds = (payment.extra.get("funding") or {}).get("hold") or []
    return sum(move["amount"] for move in holds if move["account_id"] == account)


def _check_amounts(price: int, form: models.PayForm, available: int, per_yuan: int) -> None:
    """The seed's rules. Money compares in fen × points_per_yuan: a point is worth 100 / points_per_yuan fen."""
    method, points = form.pay_method, form.pay_integral
    covers = available * 100 >= price * per_yuan
    if covers and method != wire.POINTS:
        raise ShopError(wire.USE_POINTS)
    if not covers and method == wire.POINTS:
        raise ShopError(wire.NOT_ENOUGH_FOR_POINTS)
    if method in (wire.WECHAT, wire.ALIPAY) and points:
        raise ShopError(wire.NO_POINTS_WITH_API)
    if method in wire.WITH_POINTS and not points:
        raise ShopError(wire.POINTS_REQUIRED)
    if method == wire.POINTS and form.pay_price:
        raise ShopError(wire.POINTS_ONLY_PRICE)
    if form.pay_price * per_yuan + points * 100 != price * per_yuan:
        raise ShopError(wire.PRICE_MISMATCH)
    if points > available:
        raise ShopError(wire.NOT_ENOUGH_POINTS)


async def _fields(request: web.Request) -> dict[str, Any]:
    """The call's fields: query parameters, then the body (JSON, urlencoded or multipart form) over them."""
    fields: dict[str, Any] = dict(request.query)
    content_type = request.content_type or ""
    try:
        if content_type.startswith("multipart/"):
            if (request.content_length or 0) > MAX_BODY:
                raise ShopError(wire.BAD_BODY)
            form = await request.post()
            return {**fields, **{k: v for k, v in form.items() if isinstance(v, str)}}
        raw = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise ShopError(wire.BAD_BODY) from None
    text = raw.decode("utf-8", "replace").strip()
    if "json" in content_type or text.startswith("{"):
        try:
            body = jsonbody.loads(text, decimal=True) if text else {}
        except (ValueError, RecursionError):
            raise ShopError(wire.BAD_BODY) from None
        if not isinstance(body, dict):
            raise ShopError(wire.BAD_BODY)
        return {**fields, **body}
    return {**fields, **dict(parse_qsl(text, keep_blank_values=True))}
