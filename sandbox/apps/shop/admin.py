"""The shop's records (users with their points, tokens, orders, addresses) and its admin API hooks
(sandbox/console/apps_api.py): admin_put, admin_patch and the actions issue-token, revoke-token, set-points and
settings."""
from __future__ import annotations

from typing import Any

from ...core import errors
from ...core.app_data import AppRecord
from ...core.engine import Engine
from ...core.ledger import Account
from ...core.models import Merchant
from . import models, wire


class ShopRecords:
    engine: Engine

    # ----- records -------------------------------------------------------------------------------------------

    async def _put(self, merchant: Merchant, kind: str, data: dict, actor: str, lookup: str | None = None
                   ) -> AppRecord:
        return await self.engine.put_app_record(merchant.id, wire.APP, kind, str(data["id"]), data, lookup=lookup,
                                                actor=actor)

    async def _put_order(self, merchant: Merchant, order: dict, actor: str) -> AppRecord:
        pay_state = "paid" if order["status"] == wire.PAID_STATUS else "unpaid"
        return await self._put(merchant, "order", {**order, "pay_state": pay_state}, actor)

    async def save_user(self, merchant: Merchant, user: dict, actor: str = "api") -> AppRecord:
        """The user record and its points account (opened with `points` when new; an existing one stays)."""
        points = user.pop("points", 0)
        record = await self._put(merchant, "user", user, actor)
        await self.engine.open_account(merchant.id, wire.APP, record.id, "points", opening=points, actor=actor)
        return record

    async def issue_token(self, merchant: Merchant, user_id: Any, ttl_s: int | None, token: str | None = None,
                          actor: str = "api") -> dict[str, Any]:
        """A login token for a user: valid for ttl_s seconds of the sandbox clock (None: never expires)."""
        uid = models.record_id(user_id, "user")
        if await self.engine.app_record(merchant.id, "user", str(uid)) is None:
            raise errors.NotFound(f"no shop user {uid}")
        token = token or wire.new_token()
        now = self.engine.clock.now()
        data = {"user_id": uid, "issued_at": now, "expires_at": None if ttl_s is None else now + ttl_s}
        await self.engine.put_app_record(merchant.id, wire.APP, "token", token, data, lookup=token, actor=actor)
        return {"token": token, **data}

    # ----- admin API (sandbox/console/apps_api.py) -------------------------------------------------------------

    async def admin_put(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        """A user {nickname, phone, points (opening, when new)}; an order {user_id, price (fen), title, status
        unpaid|paid} (not one being paid or paid); an address {user_id, name, phone, detail}. Tokens come from the
        action issue-token."""
        if kind == "user":
            return await self.save_user(merchant, models.user(record_id, data))
        if kind == "order":
            order = models.order(record_id, data)
            await self._user_of(merchant, order["user_id"])
            current = await self.engine.app_record(merchant.id, kind, str(order["id"]))
            if current is not None and current.data.get("pay_state") != "unpaid":
                raise errors.InvalidInput(f"order {order['id']} is {current.data.get('pay_state')}: it stays as is")
            return await self._put_order(merchant, order, "api")
        if kind == "address":
            address = models.address(record_id, data)
            await self._user_of(merchant, address["user_id"])
            return await self._put(merchant, kind, address, "api")
        raise errors.InvalidInput("the shop keeps users, orders and addresses (tokens: POST …/actions/issue-token)")

    async def admin_patch(self, merchant: Merchant, kind: str, record_id: str, data: dict[str, Any]) -> AppRecord:
        """Change some fields: a user's nickname/phone, an unpaid order's price/title, an address's fields."""
        current = await self.engine.app_record(merchant.id, kind, record_id)
        if current is None or kind not in ("user", "order", "address"):
            raise errors.NotFound(f"no shop {kind} {record_id!r}")
        if kind == "user":
            if not set(data) <= {"nickname", "phone"}:
                raise errors.InvalidInput("a user's nickname and phone can be changed (points: set-points)")
            changed = models.user(record_id, {**current.data, **data, "points": 0})
            changed.pop("points")
        elif kind == "order":
            if not set(data) <= {"price", "title"}:
                raise errors.InvalidInput("an order's price and title can be changed")
            if current.data.get("pay_state") != "unpaid":
                raise errors.InvalidInput(f"order {record_id} is {current.data.get('pay_state')}: it stays as is")
            changed = models.order(record_id, {**current.data, **data})
        else:
            changed = models.address(record_id, {**current.data, **data})
        return await self.engine.update_app_record(merchant.id, kind, record_id, changed, actor="api")

    async def admin_action(self, merchant: Merchant, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """issue-token {user_id, ttl_s?, token?} → {token, user_id, issued_at, expires_at};
        revoke-token {token}; set-points {user_id, points} → the points account;
        settings {token_ttl_s?, notify_url?, points_per_yuan?} → the shop's settings."""
        creds = merchant.for_provider(wire.APP)
        if action == "issue-token":
            ttl = body.get("ttl_s", creds.get("token_ttl_s", wire.TOKEN_TTL_S))
            if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not
                                    -366 * 86400 <= ttl <= 10 * 366 * 86400):
                raise errors.InvalidInput("ttl_s: whole seconds (negative: an expired token), or null: never expires")
            token = body.get("token")
            if token is not None and not (isinstance(token, str) and 8 <= len(token) <= 128 and token.isprintable()
                                          and token.strip() == token):
                raise errors.InvalidInput("token: 8-128 printable characters")
            if token is not None:
                existing = await self.engine.app_record_by_lookup(wire.APP, "token", token)
                if existing is not None and existing.merchant_id != merchant.id:
                    raise errors.InvalidInput("that token belongs to another merchant's shop")
            return await self.issue_token(merchant, body.get("user_id"), ttl, token)
        if action == "revoke-token":
            token = body.get("token")
            record = await self.engine.app_record(merchant.id, "token", token) if isinstance(token, str) else None
            if record is None:
                raise errors.NotFound("no such token")
            now = self.engine.clock.now()
            await self.engine.update_app_record(merchant.id, "token", token, {"expires_at": now}, actor="api")
            return {"token": token, "user_id": record.data["user_id"], "expires_at": now}
        if action == "set-points":
            uid = models.record_id(body.get("user_id"), "user")
            points = body.get("points")
            if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= models.MAX_FEN:
                raise errors.InvalidInput("points: a whole number, 0 or more")
            account = await self._points(merchant, uid)
            if points != account.balance:
                account = await self.engine.adjust_account(account.id, points - account.balance,
                                                           memo=f"points set to {points}", actor="api")
            return {**account.model_dump(), "available": account.available}
        if action == "settings":
            named = {k: body[k] for k in ("token_ttl_s", "notify_url", "points_per_yuan") if k in body}
            changes = valid_settings(named, errors.InvalidInput)
            if changes:
                merchant = await self.engine.update_settings(merchant.id, wire.APP, changes)
            creds = merchant.for_provider(wire.APP)
            return {"merchant_id": merchant.id, "token_ttl_s": creds.get("token_ttl_s", wire.TOKEN_TTL_S),
                    "notify_url": creds.get("notify_url"),
                    "points_per_yuan": creds.get("points_per_yuan", wire.POINTS_PER_YUAN)}
        raise errors.NotFound(f"the shop has no action {action!r}; it has: issue-token, revoke-token, set-points, "
                              "settings")

    async def _user_of(self, merchant: Merchant, user_id: int) -> AppRecord:
        user = await self.engine.app_record(merchant.id, "user", str(user_id))
        if user is None:
            raise errors.InvalidInput(f"no shop user {user_id}")
        return user

    async def _points(self, merchant: Merchant, user_id: int) -> Account:
        await self._user_of(merchant, user_id)
        return await self.engine.open_account(merchant.id, wire.APP, str(user_id), "points", actor="api")


def valid_settings(values: dict[str, Any], error: type[Exception]) -> dict[str, Any]:
    if "token_ttl_s" in values:
        ttl = values["token_ttl_s"]
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 10 * 366 * 86400:
            raise error("token_ttl_s: whole seconds, 1 to ten years")
    if "notify_url" in values:
        url = values["notify_url"]
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))
                                    and len(url) <= 2048):
            raise error("notify_url must be an http(s) URL or null")
    if "points_per_yuan" in values:
        per_yuan = values["points_per_yuan"]
        if not isinstance(per_yuan, int) or isinstance(per_yuan, bool) or not 1 <= per_yuan <= 10000:
            raise error("points_per_yuan: a whole number from 1 to 10000")
    return dict(values)
