"""Modify a stock's display information (seed 004) in the three call styles, async and sync.

    python examples/patch_stock.py     # starts a sandbox; WECHATPAY_* variables (+ WECHATPAY_STOCK_ID): see the tour
"""

from __future__ import annotations

from _support import PREFIX, target, unique

from wechatpay_chain import Client, SyncClient
from wechatpay_chain.types import PatchStockRequest

TEMPLATE = PREFIX + "/{product_coupon_id}/stocks/{stock_id}"


def patch(brand_id: str, remark: str) -> PatchStockRequest:
    return {"brand_id": brand_id, "out_request_no": unique("patch"), "remark": remark, "store_scope": "ALL"}


async def run_async(wxpay: Client, coupon_id: str, stock_id: str, brand_id: str) -> list[str]:
    ids = {"product_coupon_id": coupon_id, "stock_id": stock_id}
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = await coupons._product_coupon_id_.stocks._stock_id_.patch(**ids, json=patch(brand_id, "async 1"))
    r2 = await wxpay.chain(TEMPLATE).patch(**ids, json=patch(brand_id, "async 2"))
    r3 = await wxpay[TEMPLATE].patch({**ids, "json": patch(brand_id, "async 3")})
    return [r.json()["remark"] for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, coupon_id: str, stock_id: str, brand_id: str) -> list[str]:
    ids = {"product_coupon_id": coupon_id, "stock_id": stock_id}
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = coupons._product_coupon_id_.stocks._stock_id_.patch(**ids, json=patch(brand_id, "sync 1"))
    r2 = wxpay.chain(TEMPLATE).patch(**ids, json=patch(brand_id, "sync 2"))
    r3 = wxpay[TEMPLATE].patch({**ids, "json": patch(brand_id, "sync 3")})
    return [r.json()["remark"] for r in (r1, r2, r3)]


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        stock_id = t.stock_id(coupon_id)
        print(f"using {t.name}, stock {stock_id}")
        t.run_both("remarks", run_async, run_sync, coupon_id, stock_id, t.brand_id)


if __name__ == "__main__":
    main()
