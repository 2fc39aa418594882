"""The product-coupon (商品券) tour: every operation end to end, runnable from the installed package.

    wechatpay-chain tour                # or: python -m wechatpay_chain.tour

With no ``WECHATPAY_MCHID`` in the environment it starts the embedded sandbox in-process (fresh keys, nothing
to configure, no network). To run it against WeChat Pay instead, set:

    WECHATPAY_MCHID         service-provider merchant id (digits)
    WECHATPAY_SERIAL        serial of the merchant API certificate
    WECHATPAY_PRIVATE_KEY   path to apiclient_key.pem (or its PEM text)
    WECHATPAY_CERTS         JSON {"<platform serial or PUB_KEY_ID_…>": "<path to certificate / pub_key.pem>"}
    WECHATPAY_BRAND_ID      the brand (品牌ID) authorised to this service provider
    WECHATPAY_APIV3_KEY     optional, the APIv3 key
    WECHATPAY_BASE_URL      optional, default https://api.mch.weixin.qq.com/
    WECHATPAY_APPID, WECHATPAY_OPENID   optional: a user to send coupons to (else the user-coupon steps are
                            skipped against the real API)

Exit status 0 when every step behaved as expected. The tour is a sequence of steps (:data:`STEPS`), each an
``async def step(t: Tour)`` that reads and records ids on the shared :class:`Tour`; add a step by writing one
such function and listing it. The sample bodies below are also what ``examples/`` send.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._client import Client
from .errors import APIError, TemplateError
from .notify import Notification, aiohttp_handler
from .sandbox import Sandbox
from .types import AddStockBundleRequest, AddStockRequest, CreateProductCouponRequest, NewStock

__all__ = [
    "PREFIX",
    "SANDBOX_BRAND_ID",
    "STEPS",
    "Tour",
    "TourFailed",
    "bundle_body",
    "coupon_body",
    "main",
    "new_stock",
    "real_api_options",
    "run",
    "stock_body",
    "unique",
    "usable_stock_body",
]

PREFIX = "v3/marketing/partner/product-coupon/product-coupons"
#: the brand the sandbox authorises by default
SANDBOX_BRAND_ID = "120344"


# -- sample bodies ------------------------------------------------------------------------------------------


def unique(tag: str) -> str:
    """An ``out_request_no`` that is new on every run (6–40 of ``[0-9A-Za-z_-]``)."""
    return f"{tag}_{time.time_ns() // 1000}"[:40]


def new_stock(remark: str = "满100减5") -> NewStock:
    return {
        "remark": remark,
        "coupon_code_mode": "WECHATPAY",
        "stock_send_rule": {"max_count": 10000, "max_count_per_day": 1000, "max_count_per_user": 1},
        "sequential_usage_rule": {
            "coupon_available_period": {
                "available_begin_time": "2026-01-01T00:00:00+08:00",
                "available_end_time": "2026-12-31T23:59:59+08:00",
            },
            "normal_coupon_list": [{"threshold": 10000, "discount_amount": 500}],
        },
        "usage_rule_display_info": {"coupon_usage_method_list": ["OFFLINE"], "usage_description": "全场可用"},
        "coupon_display_info": {"code_display_mode": "QRCODE", "background_color": "Color010"},
        "notify_config": {"notify_appid": "wx4fd12345678"},
        "store_scope": "ALL",
    }


def coupon_body(brand_id: str, out_request_no: str) -> CreateProductCouponRequest:
    """A 满减 (NORMAL) coupon in the 多次优惠 mode that accepts stock bundles (002)."""
    return {
        "brand_id": brand_id,
        "out_request_no": out_request_no,
        "scope": "ALL",
        "type": "NORMAL",
        "usage_mode": "PROGRESSIVE_BUNDLE",
        "sequential_usage_info": {"type": "INCREMENTAL", "count": 3, "available_days": 30},
        "display_info": {
            "name": "咖啡满减券",
            "image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/example/coupon",
            "background_url": "https://wxpaylogo.qpic.cn/wxpaylogo/example/background",
        },
        "stock": new_stock("首批"),
    }


def stock_body(brand_id: str, out_request_no: str, remark: str = "满100减5") -> AddStockRequest:
    return {"brand_id": brand_id, "out_request_no": out_request_no, "stock": new_stock(remark)}


def bundle_body(brand_id: str, out_request_no: str, steps: list[tuple[int, int]]) -> AddStockBundleRequest:
    """One stock per ``(threshold, discount_amount)`` step, in the 002 (official) shape."""
    shown = new_stock("")
    return {
        "brand_id": brand_id,
        "out_request_no": out_request_no,
        "stock_bundle": {
            "remark": "阶梯满减",
            "coupon_code_mode": "WECHATPAY",
            "stock_send_rule": {"max_count": 10000, "max_count_per_user": 1},
            "usage_rule_display_info": shown["usage_rule_display_info"],
            "coupon_display_info": shown["coupon_display_info"],
            "notify_config": shown["notify_config"],
            "store_scope": "ALL",
            "progressive_bundle_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2026-01-01T00:00:00+08:00",
                    "available_end_time": "2026-12-31T23:59:59+08:00",
                },
                "normal_coupon_list": [{"threshold": t, "discount_amount": d} for t, d in steps],
            },
        },
    }


def real_api_options() -> dict[str, Any]:
    """``Client(**...)`` arguments from the ``WECHATPAY_*`` variables listed at the top of this module."""
    options: dict[str, Any] = {
        "mchid": os.environ["WECHATPAY_MCHID"],
        "serial": os.environ["WECHATPAY_SERIAL"],
        "private_key": os.environ["WECHATPAY_PRIVATE_KEY"],
        "certs": json.loads(os.environ.get("WECHATPAY_CERTS", "{}")),
        "apiv3_key": os.environ.get("WECHATPAY_APIV3_KEY") or None,
    }
    if os.environ.get("WECHATPAY_BASE_URL"):
        options["base_url"] = os.environ["WECHATPAY_BASE_URL"]
    return options


# -- the steps ----------------------------------------------------------------------------------------------


class TourFailed(Exception):
    """A step saw something other than what WeChat Pay (or the sandbox) should answer."""


@dataclass
class Tour:
    """What the steps share: the client, the brand, the sandbox (``None`` against the real API), ids found."""

    wxpay: Client
    brand_id: str
    sandbox: Sandbox | None = None
    number: int = 0
    coupon_id: str = ""
    stock_id: str = ""
    first_stock: AddStockRequest | None = None
    bundle_id: str = ""
    appid: str = "wx233544546545989"
    openid: str = "o_tour_user_0001"
    coupon_code: str = ""
    user_stock: str = ""
    received: list[Notification] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    cleanup: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def users(self) -> Any:
        return self.wxpay.v3.marketing.partner.productCoupon.users

    @property
    def has_user(self) -> bool:
        """A user to send to: always in the sandbox; against the real API only with WECHATPAY_OPENID."""
        return self.sandbox is not None or bool(os.environ.get("WECHATPAY_OPENID"))

    @property
    def coupons(self) -> Any:
        return self.wxpay.v3.marketing.partner.productCoupon.productCoupons

    def show(self, title: str, doc: Any) -> None:
        print(f"── {self.number}. {title}")
        print(json.dumps(doc, ensure_ascii=False, indent=2)[:1500])

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            raise TourFailed(f"step {self.number}: unexpected: {what}")


async def create_coupon(t: Tour) -> None:
    """Create a coupon with its first stock (seed 003); ``validate=True`` checks the body before sending."""
    created = (await t.coupons.post(json=coupon_body(t.brand_id, unique("tour_coupon")), validate=True)).json()
    t.coupon_id = created["product_coupon_id"]
    t.show(f"created product coupon {t.coupon_id} ({created['state']})", {"stock": created["stock"]["stock_id"]})


async def add_stocks(t: Tour) -> None:
    """Add stocks (seed 001); keep the request of the first to replay it later."""
    t.first_stock = stock_body(t.brand_id, unique("tour_stock"), "满100减5")
    stocks = t.coupons._product_coupon_id_.stocks
    added = (await stocks.post(product_coupon_id=t.coupon_id, json=t.first_stock)).json()
    t.stock_id = added["stock_id"]
    for n in range(2):
        more = stock_body(t.brand_id, unique(f"tour_more{n}"), f"加印 {n}")
        await stocks.post(product_coupon_id=t.coupon_id, json=more)
    t.show("added stock", {k: added[k] for k in ("stock_id", "state", "remark", "sent_count_info")})


async def list_stocks(t: Tour) -> None:
    """List every stock, following ``page_token`` (seed 001)."""
    listing = t.wxpay.chain(PREFIX + "/{product_coupon_id}/stocks")
    stock_ids: list[str] = []
    query: dict[str, Any] = {"brand_id": t.brand_id, "page_size": 2}
    pages = 0
    while True:
        page = (await listing.get(product_coupon_id=t.coupon_id, query=query)).json()
        pages += 1
        stock_ids += [s["stock_id"] for s in page.get("stock_list", [])]
        if not page.get("next_page_token"):
            break
        query["page_token"] = page["next_page_token"]
    t.show(f"listed {len(stock_ids)} of {page['total_count']} stocks in {pages} pages", stock_ids)
    t.check(len(stock_ids) == page["total_count"], "pagination lost stocks")


async def read_and_patch(t: Tour) -> None:
    """Read one stock, then patch its display information (seed 004)."""
    one = t.wxpay[PREFIX + "/{product_coupon_id}/stocks/{stock_id}"]
    ids = {"product_coupon_id": t.coupon_id, "stock_id": t.stock_id}
    got = (await one.get(**ids, query={"brand_id": t.brand_id})).json()
    t.show("read stock", {k: got[k] for k in ("stock_id", "state", "store_scope")})
    change = {"brand_id": t.brand_id, "out_request_no": unique("patch"), "remark": "周末加码", "store_scope": "NONE"}
    patched = (await one.patch(**ids, json=change)).json()
    t.show("patched stock", {k: patched[k] for k in ("stock_id", "remark", "store_scope")})
    t.check(patched["remark"] == "周末加码", "patch not applied")


async def add_bundle(t: Tour) -> None:
    """Add a stock bundle (seed 002): one stock per step of the progressive discount."""
    body = bundle_body(t.brand_id, unique("tour_bundle"), [(5000, 300), (10000, 800)])
    bundle = (await t.coupons._product_coupon_id_.stockBundles.post(product_coupon_id=t.coupon_id, json=body)).json()
    t.bundle_id = bundle["stock_bundle_id"]
    t.show(
        f"stock bundle {bundle['stock_bundle_id']}",
        [(s["stock_id"], s["progressive_bundle_usage_rule"]["normal_coupon"]) for s in bundle["stock_list"]],
    )


async def replay(t: Tour) -> None:
    """Idempotency: the same ``out_request_no`` and body returns the first answer; another body is refused."""
    assert t.first_stock is not None, "add_stocks runs first"  # noqa: S101 - step order
    stocks = t.coupons._product_coupon_id_.stocks
    first_no = t.first_stock["out_request_no"]
    again = (await stocks.post(product_coupon_id=t.coupon_id, json=t.first_stock)).json()
    t.check(again["stock_id"] == t.stock_id, "replay created a new stock")
    outcome: dict[str, Any] = {"stock_id": again["stock_id"], "same_as_before": True}
    if t.sandbox:
        outcome["applied_writes"] = t.sandbox.applied_writes(first_no)
    t.show(f"replayed out_request_no {first_no}", outcome)
    try:
        await stocks.post(product_coupon_id=t.coupon_id, json=stock_body(t.brand_id, first_no, "另一个批次"))
    except APIError as exc:
        t.show("reused out_request_no with another body", {"status": exc.status, "code": exc.code})
        t.check(exc.code == "ALREADY_EXISTS", "ALREADY_EXISTS expected")
    else:
        t.check(False, "ALREADY_EXISTS expected")


async def validation(t: Tour) -> None:
    """``validate=True`` refuses before any I/O; the server answers ``PARAM_ERROR`` naming the field."""
    stocks = t.coupons._product_coupon_id_.stocks
    broken: Any = stock_body(t.brand_id, unique("tour_bad"))
    del broken["stock"]["stock_send_rule"]["max_count"]
    try:
        await stocks.post(product_coupon_id=t.coupon_id, json=broken, validate=True)
    except TemplateError as exc:
        t.show("client-side validation", str(exc))
    else:
        t.check(False, "TemplateError expected")
    try:
        await stocks.post(product_coupon_id=t.coupon_id, json=broken)
    except APIError as exc:
        t.show("server-side validation", {"status": exc.status, "code": exc.code, "detail": exc.detail})
        t.check(exc.code == "PARAM_ERROR", "PARAM_ERROR expected")
    else:
        t.check(False, "PARAM_ERROR expected")


async def set_notify_url(t: Tour) -> None:
    """Serve a notification endpoint on loopback (it verifies and decrypts) and register it (notify-configs)."""
    if t.sandbox is None:
        url = os.environ.get("WECHATPAY_NOTIFY_URL", "")
        if url:
            await t.wxpay.v3.marketing.partner.productCoupon.notifyConfigs.post(json={"notify_url": url})
        t.show("notify URL", url or "skipped (set WECHATPAY_NOTIFY_URL to register a public endpoint)")
        return
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/notify", aiohttp_handler(t.wxpay, t.received.append))
    runner = web.AppRunner(app)
    await runner.setup()
    t.cleanup.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    doc = (await t.wxpay.v3.marketing.partner.productCoupon.notifyConfigs.post(json={"notify_url": url})).json()
    t.show("notify URL set", doc)


def usable_stock_body(brand_id: str, out_request_no: str) -> AddStockRequest:
    """A stock whose coupons are usable from now for 30 days (so a lifecycle works whatever the date)."""
    body = stock_body(brand_id, out_request_no, "用户券")
    now = time.time()
    period = body["stock"]["sequential_usage_rule"]["coupon_available_period"]
    period["available_begin_time"] = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(now + 8 * 3600 - 3600))
    period["available_end_time"] = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(now + 8 * 3600 + 30 * 86400))
    return body


async def send_to_user(t: Tour) -> None:
    """Send a coupon to a user (``send_request_no`` idempotent); WeChat Pay notifies PRODUCT_COUPON_SP.SEND."""
    if not t.has_user:
        t.show("send to a user", "skipped (set WECHATPAY_APPID and WECHATPAY_OPENID)")
        return
    t.appid = os.environ.get("WECHATPAY_APPID", t.appid)
    t.openid = os.environ.get("WECHATPAY_OPENID", t.openid)
    stocks = t.coupons._product_coupon_id_.stocks
    user_stock = usable_stock_body(t.brand_id, unique("tour_user"))
    t.user_stock = (await stocks.post(product_coupon_id=t.coupon_id, json=user_stock)).json()["stock_id"]
    body = {"brand_id": t.brand_id, "product_coupon_id": t.coupon_id, "stock_id": t.user_stock, "appid": t.appid,
            "send_request_no": unique("tour_send"), "attach": "tour"}
    sent = (await t.users._openid_.coupons.post(openid=t.openid, json=body, validate=True)).json()
    t.coupon_code = sent["coupon_code"]
    t.show(f"sent coupon {t.coupon_code} to {t.openid}", {k: sent[k] for k in ("coupon_state", "valid_end_time")})
    if t.sandbox is not None:
        await t.sandbox.notifications.wait("PRODUCT_COUPON_SP.SEND")
        t.check(bool(t.received), "the SEND notification did not reach the endpoint")
        note = t.received[-1]
        t.show(f"received {note.event_type} (signature verified, resource decrypted)", note.resource)
        t.check(note.resource["coupon_code"] == t.coupon_code, "the notification names another coupon")


async def _lifecycle_call(t: Tour, action: str, **more: Any) -> dict[str, Any]:
    body = {"brand_id": t.brand_id, "product_coupon_id": t.coupon_id, "stock_id": t.user_stock, "appid": t.appid,
            "out_request_no": unique(f"tour_{action}"), **more}
    node = t.wxpay.chain("v3/marketing/partner/product-coupon/users/{openid}/coupons/{coupon_code}/" + action)
    doc: dict[str, Any] = (await node.post(openid=t.openid, coupon_code=t.coupon_code, json=body)).json()
    t.show(f"{action}: coupon {t.coupon_code} is {doc['coupon_state']}", doc.get("single_usage_detail") or {})
    return doc


async def coupon_lifecycle(t: Tour) -> None:
    """Confirm → use → return → deactivate the user's coupon; using it twice is refused."""
    if not t.coupon_code:
        t.show("user coupon lifecycle", "skipped (no coupon sent)")
        return
    confirmed = await _lifecycle_call(t, "confirm")
    t.check(confirmed["coupon_state"] in ("PENDING", "EFFECTIVE"), "confirm should make the coupon usable")
    order = {"transaction_id": "4200000000123456789123456789", "out_trade_no": unique("tour_order")}
    use = {"use_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600)),
           "associated_order_info": order}
    t.check((await _lifecycle_call(t, "use", **use))["coupon_state"] == "USED", "use should make it USED")
    try:
        await _lifecycle_call(t, "use", **use)
    except APIError as exc:
        t.show("using it again", {"status": exc.status, "code": exc.code})
    else:
        t.check(False, "a second use should be refused")
    t.check((await _lifecycle_call(t, "return"))["coupon_state"] == "EFFECTIVE", "return should make it usable")
    gone = await _lifecycle_call(t, "deactivate", deactivate_reason="tour")
    t.check(gone["coupon_state"] == "DEACTIVATED", "deactivate should make it DEACTIVATED")


async def send_bundle(t: Tour) -> None:
    """Send the stock bundle to the user: one coupon per stock, in one user coupon bundle."""
    if not t.has_user or not t.bundle_id:
        t.show("send a bundle", "skipped")
        return
    body = {"brand_id": t.brand_id, "product_coupon_id": t.coupon_id, "stock_bundle_id": t.bundle_id,
            "appid": t.appid, "send_request_no": unique("tour_bsend")}
    sent = (await t.users._openid_.couponBundles.post(openid=t.openid, json=body)).json()
    codes = [(c["coupon_code"], c["coupon_state"]) for c in sent["user_product_coupon_list"]]
    t.show(f"sent user coupon bundle {sent['user_coupon_bundle_id']}", codes)
    t.check(len(codes) == 2, "one coupon per stock of the bundle")


Step = Callable[[Tour], Awaitable[None]]

#: the tour, in order; each step may rely on what the earlier ones recorded on the :class:`Tour`
STEPS: tuple[Step, ...] = (
    create_coupon, add_stocks, list_stocks, read_and_patch, add_bundle, replay, validation, set_notify_url,
    send_to_user, coupon_lifecycle, send_bundle,
)


# -- running it ---------------------------------------------------------------------------------------------


async def run(
    wxpay: Client, brand_id: str, sandbox: Sandbox | None = None, steps: Sequence[Step] | None = None
) -> Tour:
    """Run ``steps`` (default :data:`STEPS`) in order on one :class:`Tour`; :class:`TourFailed` at a surprise."""
    t = Tour(wxpay, brand_id, sandbox)
    async with t.cleanup:
        for number, step in enumerate(STEPS if steps is None else steps, 1):
            t.number = number
            await step(t)
    return t


async def _main() -> None:
    if os.environ.get("WECHATPAY_MCHID"):
        async with Client(**real_api_options()) as wxpay:
            print("Talking to the WeChat Pay API")
            await run(wxpay, os.environ.get("WECHATPAY_BRAND_ID", ""))
    else:
        async with Sandbox() as sb, sb.client() as wxpay:
            print(f"Talking to the embedded sandbox at {sb.url} (set WECHATPAY_MCHID etc. for the real API)")
            await run(wxpay, SANDBOX_BRAND_ID, sb)
    print("tour complete")


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m wechatpay_chain.tour") -> int:
    """Entry point of ``python -m wechatpay_chain.tour`` and ``wechatpay-chain tour``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the product-coupon tour against the embedded sandbox, or against WeChat Pay when "
        "WECHATPAY_MCHID, WECHATPAY_SERIAL, WECHATPAY_PRIVATE_KEY, WECHATPAY_CERTS and WECHATPAY_BRAND_ID are set.",
    )
    parser.parse_args(argv)
    try:
        asyncio.run(_main())
    except TourFailed as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
