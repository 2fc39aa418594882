"""Send a coupon to a user and take it through its life — confirm, use, return, deactivate — then read and list
the user's coupons: in the three call styles, async and sync (one user per style).

    python examples/user_coupons.py  # starts a sandbox; real API: WECHATPAY_* (see the tour) + WECHATPAY_STOCK_ID,
                                     # WECHATPAY_APPID, WECHATPAY_OPENID
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from _support import PREFIX, target, unique

from wechatpay_chain import Client, SyncClient

USERS = PREFIX.rsplit("/", 1)[0] + "/users/{openid}/coupons"
ONE = USERS + "/{coupon_code}"
STYLES = ("chained", "declared", "property")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))


def bodies(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The request of each lifecycle step (``ids``: brand, coupon, stock, appid)."""
    order = {"transaction_id": "4200000000123456789123456789", "out_trade_no": unique("order")}
    return {
        "confirm": {**ids, "out_request_no": unique("confirm")},
        "use": {**ids, "out_request_no": unique("use"), "use_time": now(), "associated_order_info": order},
        "return": {**ids, "out_request_no": unique("return")},
        "deactivate": {**ids, "out_request_no": unique("deact"), "deactivate_reason": "示例"},
    }


async def lifecycle_async(wxpay: Client, style: str, ids: dict[str, str], openid: str) -> list[str]:
    send = {**ids, "send_request_no": unique("send")}
    users = wxpay.v3.marketing.partner.productCoupon.users._openid_.coupons
    if style == "chained":
        code = (await users.post(openid=openid, json=send)).json()["coupon_code"]
        one = users._coupon_code_
        steps: dict[str, Callable[..., Awaitable[Any]]] = {
            "confirm": one.confirm.post, "use": one.use.post, "return": one.return_.post,
            "deactivate": one.deactivate.post,
        }
    elif style == "declared":
        code = (await wxpay.chain(USERS).post(openid=openid, json=send)).json()["coupon_code"]
        steps = {action: wxpay.chain(ONE + "/" + action).post for action in ("confirm", "use", "return", "deactivate")}
    else:
        code = (await wxpay[USERS].post({"openid": openid, "json": send})).json()["coupon_code"]
        steps = {action: wxpay[ONE + "/" + action].post for action in ("confirm", "use", "return", "deactivate")}
    states = []
    for action, body in bodies(ids).items():
        r = await steps[action](openid=openid, coupon_code=code, json=body)
        states.append(f"{action}→{r.json()['coupon_state']}")
    query = {"brand_id": ids["brand_id"], "product_coupon_id": ids["product_coupon_id"], "stock_id": ids["stock_id"],
             "appid": ids["appid"]}
    got = await wxpay.chain(ONE).get(openid=openid, coupon_code=code, query=query)
    listed = await wxpay.chain(USERS).get(openid=openid, query={"brand_id": ids["brand_id"], "appid": ids["appid"]})
    states.append(f"read {got.json()['coupon_state']}, {listed.json()['total_count']} listed")
    return states


def lifecycle_sync(wxpay: SyncClient, style: str, ids: dict[str, str], openid: str) -> list[str]:
    send = {**ids, "send_request_no": unique("send")}
    users = wxpay.v3.marketing.partner.productCoupon.users._openid_.coupons
    if style == "chained":
        code = users.post(openid=openid, json=send).json()["coupon_code"]
        one = users._coupon_code_
        steps: dict[str, Callable[..., Any]] = {
            "confirm": one.confirm.post, "use": one.use.post, "return": one.return_.post,
            "deactivate": one.deactivate.post,
        }
    elif style == "declared":
        code = wxpay.chain(USERS).post(openid=openid, json=send).json()["coupon_code"]
        steps = {action: wxpay.chain(ONE + "/" + action).post for action in ("confirm", "use", "return", "deactivate")}
    else:
        code = wxpay[USERS].post({"openid": openid, "json": send}).json()["coupon_code"]
        steps = {action: wxpay[ONE + "/" + action].post for action in ("confirm", "use", "return", "deactivate")}
    states = []
    for action, body in bodies(ids).items():
        r = steps[action](openid=openid, coupon_code=code, json=body)
        states.append(f"{action}→{r.json()['coupon_state']}")
    query = {"brand_id": ids["brand_id"], "product_coupon_id": ids["product_coupon_id"], "stock_id": ids["stock_id"],
             "appid": ids["appid"]}
    got = wxpay.chain(ONE).get(openid=openid, coupon_code=code, query=query)
    listed = wxpay.chain(USERS).get(openid=openid, query={"brand_id": ids["brand_id"], "appid": ids["appid"]})
    states.append(f"read {got.json()['coupon_state']}, {listed.json()['total_count']} listed")
    return states


async def run_async(wxpay: Client, ids: dict[str, str], users: list[str]) -> dict[str, list[str]]:
    """The first three users (a stock allows one coupon per user in these samples)."""
    pairs = zip(STYLES, users[:3], strict=True)
    return {style: await lifecycle_async(wxpay, style, ids, openid) for style, openid in pairs}


def run_sync(wxpay: SyncClient, ids: dict[str, str], users: list[str]) -> dict[str, list[str]]:
    """The next three users."""
    return {style: lifecycle_sync(wxpay, style, ids, openid) for style, openid in zip(STYLES, users[3:], strict=True)}


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        stock_id = t.usable_stock_id(coupon_id)
        appid, _ = t.user(0)
        ids = {"brand_id": t.brand_id, "product_coupon_id": coupon_id, "stock_id": stock_id, "appid": appid}
        print(f"using {t.name}, stock {stock_id}")
        t.run_both("lifecycles", run_async, run_sync, ids, [t.user(n)[1] for n in range(6)])


if __name__ == "__main__":
    main()
