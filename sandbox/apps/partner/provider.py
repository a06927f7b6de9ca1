"""The partner app's pay call (seed 001, ../shared/specs/merchant-apps.md): `POST /app/partner/order/pay`.

An order is an app record written in the same transaction as its payment, which it follows (core/app_data.py):
pay_type 1 is a payment of provider `partner` (trade type BALANCE) funded by a hold on the user's balance account,
taken at once; pay_type 2 is a real sandbox Alipay wap trade opened through the Alipay adapter, whose signed gateway
URL is `ali_pay_url`. A partner is found through its user: users name their merchant."""
from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from pydantic import ValidationError

from ... import jsonbody
from ...appkeys import PROVIDERS
from ...access_log import note_merchant, note_payment, note_rejected
from ...core import errors
from ...doctor import partner as doctor
from ...doctor import refused
from ...core.app_data import AppOrderLink, AppRecord, RecordRef
from ...core.engine import Engine
from ...core.ledger import Funding, Movement, account_id
from ...core.models import Merchant, NewPayment, Payment
from ...core.rules import ApiCall
from ...money import fen_to_yuan
from ...providers.alipay import gateway as alipay_gateway
from ...providers.alipay import signing as alipay_signing
from ...providers.alipay.models import PayBiz
from ...providers.alipay.wire import AlipayError
from ...providers.base import BodyTooLarge, injected_fault, read_body
from ...settings import Settings
from . import models, signing, wire
from .wire import APP, PartnerError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
PAY_PATH = "/app/partner/order/pay"
WAP_PAY = "alipay.trade.wap.pay"
SETTINGS_KEYS = {"key", "check_sign", "alipay_notify_url", "alipay_return_url"}
# What the engine writes on a coupon (held, used): not part of what a tester sets
ENGINE_KEYS = {"held_by", "used_at", "used_by"}


class PartnerApp:
    name = APP
    title = "Partner app"
    paths = PAY_PATH
    demo_users = "user 41840909af844632885424fbc20cae79 (张学友), gift 55fca782f55f406d94e2cecb23d0140b, address 1"
    channel = None  # the seed's app is told nothing: its order follows the payment inside the sandbox

    def __init__(self):
        self.engine: Engine | None = None
        self.settings: Settings | None = None
        self.app: web.Application | None = None
        self.clock = wire.OrderClock()

    # ----- Provider protocol ---------------------------------------------------------------------------------

    def setup(self, app: web.Application, engine: Engine, settings: Settings) -> None:
        self.app, self.engine, self.settings = app, engine, settings
        app.router.add_route("POST", PAY_PATH, self._guarded(self.pay))

    def new_credentials(self, key: str | None = None, check_sign: bool = True, alipay_notify_url: str | None = None,
                        alipay_return_url: str | None = None, **_: Any) -> dict[str, Any]:
        return _settings({"key": key or secrets.token_hex(16), "check_sign": check_sign,
                          "alipay_notify_url": alipay_notify_url, "alipay_return_url": alipay_return_url})

    def lookup_keys(self, credentials: dict[str, Any]) -> list[str]:
        return []  # a pay call names its user, and the user record names the merchant

    async def load_demo_data(self, merchant: Merchant, folder) -> None:
        """Users (with their balances as ledger accounts), gift packs, coupons, addresses of data.json."""
        data = orjson.loads((folder / "data.json").read_bytes())
        for kind, plural in (("user", "users"), ("gift", "gifts"), ("coupon", "coupons"), ("address", "addresses")):
            for entry in data.get(plural, []):
                entry = dict(entry)
                await self.save(merchant, kind, str(entry.pop("id")), entry, actor="fixtures")

    # ----- records (fixtures, admin API) ------------------------------------------------------------------------

    async def save(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any],
                   actor: str = "api") -> AppRecord:
        """Validate and write one user, gift pack, coupon or address; a new user's `balance` (fen) opens their
        balance account (an existing account keeps its balance: top it up with POST /_sandbox/api/accounts/…)."""
        model = models.RECORD_MODELS.get(kind)
        if model is None:
            raise errors.InvalidInput("the partner app keeps users, gifts, coupons and addresses "
                                      "(orders are placed by the pay call)")
        try:
            record_id = models.valid_record_id(kind, record_id)
            record = model.model_validate({k: v for k, v in data.items() if k not in ENGINE_KEYS}).model_dump()
        except ValueError as exc:  # ValidationError included
            raise errors.InvalidInput(_problems(exc)) from None
        if kind != "user":
            if kind == "coupon":  # what the engine wrote on it stays (held by a paying order, who used it)
                existing = await self.engine.app_record(merchant.id, kind, record_id)
                kept = {k: v for k, v in (existing.data if existing else {}).items() if k in ENGINE_KEYS
                        and (record["used"] or k == "held_by")}  # made usable again: who used it is gone
                record = {**kept, **record}
            return await self.engine.put_app_record(merchant.id, APP, kind, record_id, {"id": record_id, **record},
                                                    actor=actor)
        other = await self.engine.app_record_by_lookup(APP, "user", record_id)
        if other is not None and other.merchant_id != merchant.id:
            raise errors.InvalidInput(f"user {record_id} belongs to partner {other.merchant_id}")
        balance = record.pop("balance")
        saved = await self.engine.put_app_record(merchant.id, APP, kind, record_id, {"id": record_id, **record},
                                                 lookup=record_id, actor=actor)
        await self.engine.open_account(merchant.id, APP, record_id, "balance", opening=balance, actor=actor)
        return saved

    async def admin_put(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        return await self.save(merchant, kind, record_id, data)

    async def admin_patch(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        """Change some fields (a coupon's `used`, a user's phone …), validated as a whole record."""
        if kind == "user" and "balance" in data:
            raise errors.InvalidInput("a balance changes through POST /_sandbox/api/accounts/{id}/adjust")
        existing = await self.engine.app_record(merchant.id, kind, record_id)
        if existing is None:
            raise errors.NotFound(f"no partner {kind} {record_id!r}")
        merged = {k: v for k, v in {**existing.data, **data}.items() if k != "id"}
        return await self.save(merchant, kind, record_id, merged)

    async def admin_action(self, merchant: Merchant, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """`settings` {check_sign, key, alipay_notify_url, alipay_return_url}: change the partner's settings;
        `sign` {"params": {…}}: the sign of a body with the partner's key, and the text it is the MD5 of."""
        creds = merchant.for_provider(APP)
        if action == "sign":
            params = body.get("params")
            if not isinstance(params, dict):
                raise errors.InvalidInput('expected {"params": {<the body\'s fields>}}')
            return {"sign": signing.sign(params, creds["key"]), "signed_text": signing.signed_text(params, creds["key"])}
        if action == "settings":
            changes = {k: v for k, v in body.items() if k != "merchant_id"}
            if not changes or not set(changes) <= SETTINGS_KEYS:
                raise errors.InvalidInput(f"settings: one or more of {sorted(SETTINGS_KEYS)}")
            try:
                changes = _settings({**creds, **changes})
            except ValueError as exc:
                raise errors.InvalidInput(str(exc)) from None
            updated = await self.engine.update_settings(merchant.id, APP, changes)
            return {"merchant_id": merchant.id, "settings": updated.for_provider(APP)}
        raise errors.NotFound(f"partner actions: settings, sign (not {action!r})")

    # ----- wire ----------------------------------------------------------------------------------------------

    def _guarded(self, handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except PartnerError as exc:
                note_rejected("0", exc.msg if len(exc.errors) < 2 else f"{exc.msg} ({', '.join(exc.errors)})")
                return exc.response()
            except Exception:  # never a traceback on the wire
                log.exception("partner %s %s failed", request.method, request.path)
                return PartnerError({}, wire.BUSY).response()
        return guarded

    async def _fields(self, request: web.Request) -> dict[str, Any]:
        """A form (urlencoded or multipart) or a JSON object; the body is capped."""
        try:
            if (request.content_type or "").startswith("multipart/"):
                if request.content_length is None or request.content_length > MAX_BODY:
                    raise BodyTooLarge("a multipart body needs a Content-Length within the cap")
                form = await request.post()
                return {k: v for k, v in form.items() if isinstance(v, str)}
            raw = await read_body(request, MAX_BODY)
            text = raw.decode("utf-8").strip()
            if request.content_type == "application/json" or text.startswith("{"):
                fields = jsonbody.loads(text or "{}")
                if not isinstance(fields, dict):
                    raise ValueError("not an object")
                return fields
            return dict(parse_qsl(text, keep_blank_values=True))
        except (BodyTooLarge, ValueError, UnicodeDecodeError, web.HTTPException):
            raise PartnerError({"body": wire.BAD_BODY}) from None

    # ----- POST /app/partner/order/pay -----------------------------------------------------------------------

    async def pay(self, request: web.Request) -> web.Response:
        fields = await self._fields(request)
        try:
            body = models.pay_body(fields)
        except PartnerError as exc:  # the sign left out: fine for a partner that turned checking off
            if "sign" not in exc.errors or fields.get("sign") not in (None, "") or not await self._unchecked(fields):
                raise
            body = models.pay_body(fields, signed=False)  # the other fields' errors, if any
        user_id = body.user_id.lower()
        user = await self.engine.app_record_by_lookup(APP, "user", user_id)
        merchant = self._merchant_of(user)
        creds = merchant.for_provider(APP)
        if creds.get("check_sign", True) and not signing.verify(fields, creds.get("key") or ""):
            hint = refused("0", "the MD5 sign does not match", doctor.diagnose(fields, creds, merchant.id))
            raise PartnerError({"sign": wire.BAD_SIGN}, wire.BAD_SIGN + hint)
        gift = await self.engine.app_record(merchant.id, "gift", body.gift_pos_id)
        if gift is None:
            raise PartnerError.field("gift_pos_id", wire.NO_GIFT)
        address = await self.engine.app_record(merchant.id, "address", str(body.address_id))
        if address is None or address.data.get("user_id") not in (None, user_id):
            raise PartnerError.field("address_id", wire.NO_ADDRESS)
        coupon = None
        if body.coupon_id is not None:
            coupon = await self.engine.app_record(merchant.id, "coupon", body.coupon_id)
            if coupon is None or coupon.data.get("user_id") not in (None, user_id):
                raise PartnerError.field("coupon_id", wire.NO_COUPON)
            if coupon.data.get("used"):
                raise PartnerError.field("coupon_id", wire.USED_COUPON)
            if coupon.data.get("held_by"):
                raise PartnerError.field("coupon_id", wire.HELD_COUPON)
        price = gift.data["price"]
        deduct = min(coupon.data["amount"], price - 1) if coupon else 0  # what is paid is never below 1 fen
        to_pay = price - deduct

        ms = self.clock.next_ms(self.engine.clock.now())
        order_no = wire.order_no(ms)
        if await injected_fault(self.engine, request, lambda: ApiCall(APP, merchant.id, "create", order_no, to_pay)):
            raise PartnerError({}, wire.BUSY)
        order = self._order(merchant, ms, body, user, gift, address, deduct)
        link = AppOrderLink(app=APP, order_id=order.id,
                            consumes=[RecordRef(kind="coupon", id=coupon.id)] if coupon else [])
        logged = {k: v for k, v in fields.items() if k != "sign"}
        if body.pay_type == wire.PAY_BALANCE:
            payment, ali_pay_url = await self._pay_by_balance(merchant, user_id, order, link, to_pay, logged), ""
        else:
            payment, ali_pay_url = await self._open_alipay_trade(request, merchant, order, link, to_pay)
        saved = await self.engine.app_record(merchant.id, "order", order.id)
        answer = {"ali_pay_url": ali_pay_url, "order_info": models.order_info(saved.data)}
        note_payment(payment.id)
        await self.engine.log_api_call(payment.id, f"POST {PAY_PATH}", logged, answer)
        return wire.success(answer)

    async def _unchecked(self, fields: dict[str, Any]) -> bool:
        """Whether the body names a user whose partner turned sign checking off."""
        user_id = fields.get("user_id")
        if not isinstance(user_id, str) or not models.HEX32.match(user_id.strip()):
            return False
        user = await self.engine.app_record_by_lookup(APP, "user", user_id.strip().lower())
        try:
            merchant = self.engine.merchant(user.merchant_id) if user is not None else None
        except errors.MerchantNotFound:
            return False
        return merchant is not None and APP in merchant.credentials \
            and not merchant.for_provider(APP).get("check_sign", True)

    def _merchant_of(self, user: AppRecord | None) -> Merchant:
        try:
            merchant = self.engine.merchant(user.merchant_id) if user is not None else None
        except errors.MerchantNotFound:
            merchant = None
        if merchant is None or APP not in merchant.credentials:
            raise PartnerError.field("user_id", wire.NO_USER)
        note_merchant(merchant.id)
        return merchant

    def _order(self, merchant: Merchant, ms: int, body: models.PayBody, user: AppRecord, gift: AppRecord,
               address: AppRecord, deduct: int) -> AppRecord:
        """The order record as placed: every order_info field but those its pay state decides."""
        data = {
            "order_no": wire.order_no(ms), "gift_pos_id": gift.id, "order_express_time_stamp": 0, "bill_no": "",
            "order_time": wire.china_time(ms), "order_name": wire.ORDER_NAME, "user_id_no": user.data.get("id_no", ""),
            "gift_title": gift.data["title"], "coupon_id": body.coupon_id or "", "order_express_number": "",
            "user_phone": user.data.get("phone", ""), "pay_type": body.pay_type, "order_time_stamp": ms,
            "id": uuid.uuid4().hex, "order_type": wire.ORDER_TYPE, "user_level_id": user.data.get("level_id", ""),
            "order_express_name": "", "order_express_time": "", "order_receieve_phone": address.data.get("phone", ""),
            "receive_time": "", "order_price": gift.data["price"], "order_desc": "", "order_express_address": "",
            "order_receieve_name": address.data["name"], "platform_remark": "", "order_score": gift.data.get("score", 0),
            "deduct_price": deduct, "user_id": user.id, "user_real_name": user.data.get("real_name", ""),
            "order_receieve_address": address.data["address"], "third_order_no": "", "order_express_no": "",
            "pay_state": "unpaid",
        }
        now = ms / 1000
        return AppRecord(merchant_id=merchant.id, app=APP, kind="order", id=data["id"], lookup=data["order_no"],
                         data=data, created_at=now, updated_at=now)

    async def _pay_by_balance(self, merchant: Merchant, user_id: str, order: AppRecord, link: AppOrderLink,
                              amount: int, logged: dict[str, Any]) -> Payment:
        """The order and its payment written together with a hold on the balance, then the hold taken."""
        hold = Movement(account_id=account_id(merchant.id, user_id, "balance"), amount=amount)
        new = NewPayment(
            provider=APP, merchant_id=merchant.id, out_trade_no=order.data["order_no"], provider_trade_no=order.id,
            amount=amount, trade_type=wire.PAY_TYPES[wire.PAY_BALANCE], description=order.data["gift_title"],
            payer={"user_id": user_id}, extra={"order_id": order.id, "pay_type": wire.PAY_BALANCE},
            fingerprint={"order_id": order.id}, raw_request=orjson.dumps(logged).decode(),
            funding=Funding(hold=[hold]), app_order=link, records=[order])
        try:
            payment, _ = await self.engine.create_payment(new)
        except (errors.InsufficientFunds, errors.NotFound):  # no account: nothing to pay with
            raise PartnerError.field("pay_type", wire.NO_MONEY) from None
        except errors.InvalidState:  # the coupon was taken by a concurrent order
            raise PartnerError.field("coupon_id", wire.HELD_COUPON) from None
        try:
            return await self.engine.succeed(payment.id, actor=f"partner user {user_id}")
        except errors.SandboxError:
            log.exception("partner balance payment %s could not be taken", payment.id)
            try:  # give the hold and the coupon back: no balance held without a paid order
                await self.engine.close(payment.id, actor="partner", reason="balance payment failed")
            except errors.SandboxError:
                pass
            raise PartnerError({}, wire.BUSY) from None

    async def _open_alipay_trade(self, request: web.Request, merchant: Merchant, order: AppRecord,
                                 link: AppOrderLink, amount: int) -> tuple[Payment, str]:
        """A wap pay request signed with the partner's Alipay app key, opened in-process through the Alipay
        adapter (the trade carries the order); the same signed URL, opened in a browser, finds that trade and
        redirects to its cashier page."""
        alipay = request.app[PROVIDERS].get("alipay")
        alipay_creds = merchant.for_provider("alipay")
        if alipay is None or not alipay_creds.get("app_private_key_pem"):
            raise PartnerError.field("pay_type", wire.NO_ALIPAY)
        creds = merchant.for_provider(APP)
        biz = {"out_trade_no": order.data["order_no"], "total_amount": fen_to_yuan(amount),
               "subject": order.data["gift_title"], "product_code": "QUICK_WAP_WAY",
               "timeout_express": wire.ALIPAY_TIMEOUT}
        params = alipay_signing.build_request(
            WAP_PAY, biz, app_id=alipay_creds["app_id"], timestamp=wire.china_time(order.data["order_time_stamp"]),
            notify_url=creds.get("alipay_notify_url"), return_url=creds.get("alipay_return_url"))
        url = alipay_signing.pay_url(f"{self.settings.base_url}/gateway.do", params,
                                     alipay_creds["app_private_key_pem"])
        signed = alipay_signing.parse_order_string(url.split("?", 1)[1])
        try:
            call = alipay_gateway.check(signed, self.engine, (WAP_PAY,))
            trade = PayBiz.model_validate(alipay_gateway.biz_content(call))
            payment = await alipay.methods.open_trade(call, trade, app_order=link, records=[order])
        except errors.InvalidState:  # the coupon was taken by a concurrent order
            raise PartnerError.field("coupon_id", wire.HELD_COUPON) from None
        except (alipay_gateway.Rejected, AlipayError, ValidationError) as exc:
            log.warning("partner %s: the Alipay trade was refused: %s", merchant.id, exc)
            raise PartnerError.field("pay_type", wire.NO_ALIPAY) from None
        return payment, url


def _settings(creds: dict[str, Any]) -> dict[str, Any]:
    """The partner's settings, checked: a sign key, the sign switch, where Alipay notifies and returns."""
    key, check_sign = creds.get("key"), creds.get("check_sign", True)
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise ValueError("key: 1-128 characters")
    if not isinstance(check_sign, bool):
        raise ValueError("check_sign: true or false")
    for name in ("alipay_notify_url", "alipay_return_url"):
        url = creds.get(name)
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))
                                    and len(url) <= 512):
            raise ValueError(f"{name} must be an http(s) URL")
    return {"key": key, "check_sign": check_sign, "alipay_notify_url": creds.get("alipay_notify_url"),
            "alipay_return_url": creds.get("alipay_return_url")}


def _problems(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)
