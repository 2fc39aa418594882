"""The product-coupon (商品券) lifecycle end to end: create, add stocks, list, read, patch, bundle, replay.

    python examples/product_coupon_tour.py

With no environment variables it starts the embedded sandbox in-process (fresh keys, nothing to configure).
To run it against WeChat Pay instead, set:

    WECHATPAY_MCHID         service-provider merchant id (digits)
    WECHATPAY_SERIAL        serial of the merchant API certificate
    WECHATPAY_PRIVATE_KEY   path to apiclient_key.pem (or its PEM text)
    WECHATPAY_CERTS         JSON {"<platform serial or PUB_KEY_ID_…>": "<path to certificate / pub_key.pem>"}
    WECHATPAY_BRAND_ID      the brand (品牌ID) authorised to this service provider
    WECHATPAY_APIV3_KEY     optional, the APIv3 key
    WECHATPAY_BASE_URL      optional, default https://api.mch.weixin.qq.com/

Exit code 0 when every step behaved as expected.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from _support import (
    PREFIX,
    SANDBOX_BRAND_ID,
    bundle_body,
    coupon_body,
    real_api_options,
    show,
    stock_body,
    unique,
)

from wechatpay_chain import APIError, Client, TemplateError
from wechatpay_chain.sandbox import Sandbox


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"unexpected: {what}")


async def tour(wxpay: Client, brand_id: str, sandbox: Sandbox | None) -> None:
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons

    # 1. Create a coupon with its first stock (seed 003). validate=True checks the body before sending.
    created = (await coupons.post(json=coupon_body(brand_id, unique("tour_coupon")), validate=True)).json()
    coupon_id = created["product_coupon_id"]
    show(f"1. created product coupon {coupon_id} ({created['state']})", {"stock": created["stock"]["stock_id"]})

    # 2. Add stocks (seed 001); keep the request of the first to replay it later.
    first_no = unique("tour_stock")
    first = stock_body(brand_id, first_no, "满100减5")
    added = (await coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=first)).json()
    for n in range(2):
        await coupons._product_coupon_id_.stocks.post(
            product_coupon_id=coupon_id, json=stock_body(brand_id, unique(f"tour_more{n}"), f"加印 {n}")
        )
    show("2. added stock", {k: added[k] for k in ("stock_id", "state", "remark", "sent_count_info")})

    # 3. List every stock, following page_token (seed 001).
    stock_ids: list[str] = []
    query: dict[str, Any] = {"brand_id": brand_id, "page_size": 2}
    pages = 0
    while True:
        listing = wxpay.chain(PREFIX + "/{product_coupon_id}/stocks")
        page = (await listing.get(product_coupon_id=coupon_id, query=query)).json()
        pages += 1
        stock_ids += [s["stock_id"] for s in page.get("stock_list", [])]
        if not page.get("next_page_token"):
            break
        query["page_token"] = page["next_page_token"]
    show(f"3. listed {len(stock_ids)} of {page['total_count']} stocks in {pages} pages", stock_ids)
    check(len(stock_ids) == page["total_count"], "pagination lost stocks")

    # 4. Read one (seed 004), 5. patch its display information (seed 004).
    one = wxpay[PREFIX + "/{product_coupon_id}/stocks/{stock_id}"]
    got = (await one.get(product_coupon_id=coupon_id, stock_id=added["stock_id"], query={"brand_id": brand_id})).json()
    show("4. read stock", {k: got[k] for k in ("stock_id", "state", "store_scope")})
    patched = (
        await one.patch(
            product_coupon_id=coupon_id,
            stock_id=added["stock_id"],
            json={
                "brand_id": brand_id,
                "out_request_no": unique("tour_patch"),
                "remark": "周末加码",
                "store_scope": "NONE",
            },
        )
    ).json()
    show("5. patched stock", {k: patched[k] for k in ("stock_id", "remark", "store_scope")})
    check(patched["remark"] == "周末加码", "patch not applied")

    # 6. Add a stock bundle (seed 002): one stock per step of the progressive discount.
    bundle = (
        await coupons._product_coupon_id_.stockBundles.post(
            product_coupon_id=coupon_id, json=bundle_body(brand_id, unique("tour_bundle"), [(5000, 300), (10000, 800)])
        )
    ).json()
    show(
        f"6. stock bundle {bundle['stock_bundle_id']}",
        [(s["stock_id"], s["progressive_bundle_usage_rule"]["normal_coupon"]) for s in bundle["stock_list"]],
    )

    # 7. Idempotency: the same out_request_no and body returns the original answer, nothing new is created...
    replay = (await coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=first)).json()
    check(replay["stock_id"] == added["stock_id"], "replay created a new stock")
    outcome: dict[str, Any] = {"stock_id": replay["stock_id"], "same_as_before": True}
    if sandbox:
        outcome["applied_writes"] = sandbox.applied_writes(first_no)
    show(f"7. replayed out_request_no {first_no}", outcome)
    # ...while a different body under a used out_request_no is refused.
    try:
        await coupons._product_coupon_id_.stocks.post(
            product_coupon_id=coupon_id, json=stock_body(brand_id, first_no, "另一个批次")
        )
        check(False, "ALREADY_EXISTS expected")
    except APIError as exc:
        show("7b. reused out_request_no with another body", {"status": exc.status, "code": exc.code})
        check(exc.code == "ALREADY_EXISTS", "ALREADY_EXISTS expected")

    # 8. Validation: validate=True refuses before any I/O; the server answers PARAM_ERROR naming the field.
    broken: Any = stock_body(brand_id, unique("tour_bad"))
    del broken["stock"]["stock_send_rule"]["max_count"]
    try:
        await coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=broken, validate=True)
        check(False, "TemplateError expected")
    except TemplateError as exc:
        show("8. client-side validation", str(exc))
    try:
        await coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=broken)
        check(False, "PARAM_ERROR expected")
    except APIError as exc:
        show("8b. server-side validation", {"status": exc.status, "code": exc.code, "detail": exc.detail})
        check(exc.code == "PARAM_ERROR", "PARAM_ERROR expected")


async def main() -> int:
    if os.environ.get("WECHATPAY_MCHID"):
        async with Client(**real_api_options()) as wxpay:
            print("Talking to the WeChat Pay API")
            await tour(wxpay, os.environ["WECHATPAY_BRAND_ID"], None)
    else:
        async with Sandbox() as sb, sb.client() as wxpay:
            print(f"Talking to the embedded sandbox at {sb.url} (set WECHATPAY_MCHID etc. for the real API)")
            await tour(wxpay, SANDBOX_BRAND_ID, sb)
    print("tour complete")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
