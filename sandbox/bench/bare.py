"""The yardstick: a bare aiohttp handler answering what QuickPay JSAPIPay answers, with no work behind it."""
from __future__ import annotations

import json
import sys

from aiohttp import web

ANSWER = json.dumps({"code": "SUCCESS", "msg": "成功", "data": {
    "transaction_status": "CREATE", "error": None, "store_no": "QP10000001", "paytype": "WECHATPAY_JSAPI",
    "operator": "WEB", "bank_type": None, "total_amount": 100, "cash_amount": 0, "settlement_amount": 0,
    "coupon_amount": 0, "order_no": "B-1", "transaction_no": "202611251200001234567890",
    "cloudpay_param": "{\"appId\":\"wx\",\"package\":\"prepay_id=wx2026\"}", "transaction_time": "2026-11-25 12:00:00",
    "message": "订单已创建,等待支付", "buyer": "o", "attach": None, "iteminfo": None, "coupon_detail_list": []}},
    ensure_ascii=False)


async def handle(request: web.Request) -> web.Response:
    json.loads(await request.read())  # parse the body like any real handler must
    return web.Response(text=ANSWER, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
