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

Exit status 0 when every step behaved as expected. The tour is a sequence of steps (:data:`STEPS`), each an
``async def step(t: Tour)`` that reads and records ids on the shared :class:`Tour`; add a step by writing one
such function and listing it. The sample bodies below are also what ``examples/`` send.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._client import Client
from .errors import APIError, TemplateError
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
    notes: dict[str, Any] = field(default_factory=dict)

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


Step = Callable[[Tour], Awaitable[None]]

#: the tour, in order; each step may rely on what the earlier ones recorded on the :class:`Tour`
STEPS: tuple[Step, ...] = (create_coupon, add_stocks, list_stocks, read_and_patch, add_bundle, replay, validation)


# -- running it ---------------------------------------------------------------------------------------------


async def run(
    wxpay: Client, brand_id: str, sandbox: Sandbox | None = None, steps: Sequence[Step] | None = None
) -> Tour:
    """Run ``steps`` (default :data:`STEPS`) in order on one :class:`Tour`; :class:`TourFailed` at a surprise."""
    t = Tour(wxpay, brand_id, sandbox)
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
