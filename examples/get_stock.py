"""Read one stock (seed 004) in the three call styles, async and sync.

    python examples/get_stock.py     # starts a sandbox; WECHATPAY_* variables (+ WECHATPAY_STOCK_ID): see the tour
"""

from __future__ import annotations

import asyncio
import os

from _support import PREFIX, Target, target

from wechatpay_chain import Client, SyncClient

TEMPLATE = PREFIX + "/{product_coupon_id}/stocks/{stock_id}"


async def run_async(wxpay: Client, coupon_id: str, stock_id: str, brand_id: str) -> list[str]:
    query = {"brand_id": brand_id}
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    one = coupons._product_coupon_id_.stocks._stock_id_
    r1 = await one.get(product_coupon_id=coupon_id, stock_id=stock_id, query=query)
    r2 = await wxpay.chain(TEMPLATE).get(product_coupon_id=coupon_id, stock_id=stock_id, query=query)
    r3 = await wxpay[TEMPLATE].get({"product_coupon_id": coupon_id, "stock_id": stock_id, "query": query})
    return [r.json()["state"] for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, coupon_id: str, stock_id: str, brand_id: str) -> list[str]:
    query = {"brand_id": brand_id}
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = coupons._product_coupon_id_.stocks._stock_id_.get(product_coupon_id=coupon_id, stock_id=stock_id, query=query)
    r2 = wxpay.chain(TEMPLATE).get(product_coupon_id=coupon_id, stock_id=stock_id, query=query)
    r3 = wxpay[TEMPLATE].get({"product_coupon_id": coupon_id, "stock_id": stock_id, "query": query})
    return [r.json()["state"] for r in (r1, r2, r3)]


async def with_async(t: Target, coupon_id: str, stock_id: str) -> list[str]:
    async with t.client() as wxpay:
        return await run_async(wxpay, coupon_id, stock_id, t.brand_id)


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        stock_id = os.environ.get("WECHATPAY_STOCK_ID") or f"{coupon_id}001"  # the sandbox numbers stocks so
        print(f"using {t.name}, stock {stock_id}")
        print("async:", asyncio.run(with_async(t, coupon_id, stock_id)))
        with t.sync_client() as wxpay:
            print("sync: ", run_sync(wxpay, coupon_id, stock_id, t.brand_id))


if __name__ == "__main__":
    main()
