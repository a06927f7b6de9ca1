"""The OpenAPI 3.1 document of the admin API, served at /_sandbox/api/openapi.json."""
from __future__ import annotations

from functools import lru_cache

from ..core.rules import OPERATIONS

_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, body: str | None = None, ok: str = "200", params: list | None = None) -> dict:
    op: dict = {"summary": summary, "responses": {ok: {"description": "ok", "content": {
        "application/json": {"schema": {"type": "object"}}}}, "4XX": _ERROR}}
    if body:
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str = "id") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, kind: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """The written document, its request body schemas replaced by those of the pydantic models the handlers
    validate with (limits, nullable fields and all), so the document and the server cannot disagree."""
    document = _written_document()
    schemas = document["components"]["schemas"]
    generated = model_schemas()
    for name, schema in generated.items():
        written = schemas.get(name, {})
        _keep_descriptions(schema, written)
        for nested in ("match", "action"):  # the written Rule spelled its nested models inline
            if name == "Rule" and nested in written.get("properties", {}):
                _keep_descriptions(generated[f"Rule{nested.title()}"], written["properties"][nested])
        schemas[name] = {**schema, **({"description": written["description"]} if "description" in written else {})}
    return document


def _keep_descriptions(schema: dict, written: dict) -> None:
    for field, spec in written.get("properties", {}).items():
        target = schema.get("properties", {}).get(field)
        if target is not None and "description" in spec:
            target.setdefault("description", spec["description"])


def model_schemas() -> dict[str, dict]:
    """JSON Schema of each request body model, by the name the paths use; nested models under their own names."""
    from ..core.rules import Rule
    from .api import AdvanceBody, DeliverBody, MerchantBody, MoveBody, Outcome, RefundBody  # late: api imports this

    out: dict[str, dict] = {}
    for name, model in (("Outcome", Outcome), ("Refund", RefundBody), ("Deliver", DeliverBody), ("Move", MoveBody),
                        ("NewMerchant", MerchantBody), ("Advance", AdvanceBody), ("Rule", Rule)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out


def _written_document() -> dict:
    pid = [_path_id()]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Payment sandbox admin API", "version": "1.0.0",
                 "description": "Drive the sandbox: merchants, payments, notifications, rules and the clock. "
                                "Amounts are integer fen; times are seconds since the epoch on the sandbox clock."},
        "servers": [{"url": "/_sandbox/api"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "only when the sandbox runs with --admin-token"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Outcome": {"type": "object", "properties": {
                    "reason": {"type": "string", "maxLength": 256},
                    "notify_delay_s": {"type": "number", "minimum": 0}}},
                "Refund": {"type": "object", "properties": {
                    "amount": {"type": "integer", "minimum": 1, "description": "fen; default: all that is left"},
                    "out_refund_no": {"type": "string"}, "reason": {"type": "string"},
                    "hold": {"type": "boolean", "description": "stay PROCESSING until settled"}}},
                "Deliver": {"type": "object", "properties": {"delay_s": {"type": "number", "minimum": 0}}},
                "AppPay": {"type": "object", "required": ["order_string"],
                           "properties": {"order_string": {"type": "string", "minLength": 1}}},
                "Move": {"type": "object", "required": ["position"], "properties": {
                    "position": {"type": "integer", "minimum": 1,
                                 "description": "the rule's new place in the order rules are tried (1: first)"}}},
                "Advance": {"type": "object", "required": ["seconds"],
                            "properties": {"seconds": {"type": "number", "minimum": 0},
                                           "wait": {"type": "boolean", "description": "answer once everything "
                                                    "due is done: payments expired or changed by their rule, "
                                                    "due notifications attempted"},
                                           "wait_timeout_s": {"type": "number", "description": "default 300; "
                                                              "504 NOT_SETTLED past it"}}},
                "NewMerchant": {"type": "object", "required": ["name", "providers"], "properties": {
                    "name": {"type": "string"}, "id": {"type": "string"},
                    "providers": {"type": "object", "description": "provider name -> credential options, e.g. "
                                  "{\"wechat\": {\"mode\": \"public-key\"}, \"quickpay\": {\"key\": \"...\"}}",
                                  "additionalProperties": {"type": "object"}}}},
                "Rule": {"type": "object", "description": (
                    "Answered with position (1: tried first), shadowed_by (ids of earlier rules that match "
                    "everything this one matches) and warning (plain words when shadowed, else null)."),
                    "properties": {
                    "name": {"type": "string"},
                    "shipped": {"type": "boolean", "description": "a default shipped with the sandbox (the magic "
                                "amounts); rules added without it go before the shipped ones"},
                    "match": {"type": "object", "properties": {
                        "provider": {"type": "string"}, "merchant_id": {"type": "string"},
                        "amount": {"type": "integer"}, "out_trade_no_pattern": {"type": "string"},
                        "trade_type": {"type": "string"},
                        "operation": {"enum": list(OPERATIONS), "description": "fault rules: only these calls"}}},
                    "action": {"type": "object", "properties": {
                        "outcome": {"enum": ["succeed", "fail", "close", "pending"]},
                        "after_s": {"type": "number"}, "reason": {"type": "string"},
                        "notify": {"enum": ["normal", "delay", "drop", "duplicate"]},
                        "notify_delay_s": {"type": "number"},
                        "refund": {"enum": ["succeed", "processing"]},
                        "api_error": {"type": "boolean", "description": "answer the provider's system error"},
                        "api_drop": {"type": "boolean", "description": "close the connection, no answer"},
                        "api_delay_s": {"type": "number", "minimum": 0, "maximum": 60,
                                        "description": "answer this many real seconds late"},
                        "api_times": {"type": "integer", "minimum": 1,
                                      "description": "only the first N matching calls"}}}}},
            },
        },
        "security": [{}, {"token": []}],
        "paths": {
            "/health": {"get": _op("Is the sandbox up")},
            "/merchants": {"get": _op("List merchants"),
                           "post": _op("Create a merchant with freshly generated keys", "NewMerchant", "201")},
            "/merchants/{id}": {"get": _op("A merchant with every credential an SDK needs", params=pid)},
            "/payments": {"get": _op("List payments, newest first", params=[
                _query("provider", "quickpay, wechat, alipay ..."), _query("merchant", "merchant id"),
                _query("status", "PENDING, SUCCEEDED, FAILED, CLOSED, REFUNDED (partly or fully: each payment's "
                                 "refund_state says none, partial or full); another value is a 400"),
                _query("out_trade_no", "the merchant's order number"),
                _query("q", "any fragment of any id (ours, out_trade_no, provider_trade_no, prepay_id ...); "
                            "1-2 characters match ids that equal or start with them"),
                _query("since", "created at or after (seconds since the epoch, sandbox clock)", "number"),
                _query("until", "created before (seconds since the epoch, sandbox clock)", "number"),
                _query("limit", "1-500", "integer"),
                _query("after", "the `next` of the previous page: the page after it (keyset, any depth)"),
                _query("offset", "0-1000; deeper pages with after=", "integer")])},
            "/payments/{id}": {"get": _op("A payment with refunds, notifications, attempts and events", params=pid)},
            "/payments/{id}/succeed": {"post": _op("Make a pending payment succeed", "Outcome", params=pid)},
            "/payments/{id}/fail": {"post": _op("Make a pending payment fail", "Outcome", params=pid)},
            "/payments/{id}/close": {"post": _op("Close a pending payment", "Outcome", params=pid)},
            "/payments/{id}/refunds": {"post": _op("Refund a paid payment", "Refund", "201", params=pid)},
            "/refunds/{id}": {"get": _op("A refund", params=pid)},
            "/refunds/{id}/succeed": {"post": _op("Settle a PROCESSING refund as succeeded", "Outcome", params=pid)},
            "/refunds/{id}/fail": {"post": _op("Settle a PROCESSING refund as failed (ABNORMAL)", "Outcome",
                                               params=pid)},
            "/refunds/{id}/close": {"post": _op("Settle a PROCESSING refund as closed", "Outcome", params=pid)},
            "/payments/{id}/notify": {"post": _op("Send a new copy of the latest notification", "Deliver", "201",
                                                  params=pid)},
            "/notifications": {"get": _op("List notifications with their attempts", params=[
                _query("payment", "payment id"), _query("status", "pending, delivered, failed, suppressed")])},
            "/notifications/{id}": {"get": _op("A notification with its attempts", params=pid)},
            "/notifications/{id}/deliver": {"post": _op("Deliver now, or after delay_s", "Deliver", params=pid)},
            "/notifications/{id}/suppress": {"post": _op("Never deliver (until asked to)", params=pid)},
            "/rules": {"get": _op("List rules in the order they are tried"),
                       "post": _op("Add a rule: before the shipped defaults, after the other rules added", "Rule",
                                   "201"),
                       "delete": _op("Delete every rule (or ?id=)")},
            "/rules/{id}": {"get": _op("One rule, with its position and any shadow warning", params=pid),
                            "put": _op("Edit a rule (name, match, action); it keeps its id, place and hits", "Rule",
                                       params=pid),
                            "delete": _op("Delete one rule", params=pid)},
            "/rules/{id}/move": {"post": _op("Move a rule to another place in the order rules are tried", "Move",
                                             params=pid)},
            "/requests": {"get": _op(
                "The request journal: every call to a provider or app path, newest first, without headers and "
                "bodies (verdict accepted, rejected with the code the client saw, or faulted by a rule; the "
                "merchant and payment it touched; for an unserved path the nearest real one in `suggestion`)",
                params=[_query("merchant", "merchant id"), _query("provider", "quickpay, wechat, alipay, hmall ..."),
                        _query("verdict", "accepted, rejected or faulted"),
                        _query("path", "a part of the path, e.g. /v3/pay/transactions"),
                        _query("payment", "payment id"),
                        _query("since", "at or after: epoch seconds (sandbox clock), 15m / 2h / 1d ago, or ISO 8601"),
                        _query("until", "before: as since"), _query("limit", "1-500, default 50", "integer"),
                        _query("before", "the `next_before` of the previous page: the older page after it",
                               "integer")])},
            "/requests/{id}": {"get": _op(
                "One journaled request, all of it: request and response each with headers ([name, value], as "
                "received or sent), body (UTF-8 text or null), body_base64 (the bytes kept, up to 64 KiB), size and "
                "truncated; the verdict's code, reason, rule_id and the signature doctor's diagnosis; a curl "
                "command that sends it again", params=pid)},
            "/clock": {"get": _op("The sandbox clock")},
            "/clock/advance": {"post": _op("Move the sandbox clock forward", "Advance")},
            "/reset": {"post": _op("Drop every payment; keep merchants, rules and the clock")},
            "/alipay/app-pay": {"post": _op("Open an Alipay app-pay order string (what an app hands the Alipay app); "
                                            "answers the payment and its cashier_url", "AppPay")},
        },
    }
