"""Add a stock to a product coupon (seed 001) in the three call styles, async and sync.

    python examples/add_stock.py     # starts a sandbox; WECHATPAY_* variables: see the tour
"""

from __future__ import annotations

from _support import PREFIX, stock_body, target, unique

from wechatpay_chain import Client, SyncClient

TEMPLATE = PREFIX + "/{product_coupon_id}/stocks"


async def run_async(wxpay: Client, coupon_id: str, brand_id: str) -> list[str]:
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    body = stock_body(brand_id, unique("a1"))
    r1 = await coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=body)
    r2 = await wxpay.chain(TEMPLATE).post(product_coupon_id=coupon_id, json=stock_body(brand_id, unique("a2")))
    r3 = await wxpay[TEMPLATE].post({"product_coupon_id": coupon_id, "json": stock_body(brand_id, unique("a3"))})
    return [r.json()["stock_id"] for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, coupon_id: str, brand_id: str) -> list[str]:
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = coupons._product_coupon_id_.stocks.post(product_coupon_id=coupon_id, json=stock_body(brand_id, unique("s1")))
    r2 = wxpay.chain(TEMPLATE).post(product_coupon_id=coupon_id, json=stock_body(brand_id, unique("s2")))
    r3 = wxpay[TEMPLATE].post({"product_coupon_id": coupon_id, "json": stock_body(brand_id, unique("s3"))})
    return [r.json()["stock_id"] for r in (r1, r2, r3)]


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        print(f"using {t.name}, product coupon {coupon_id}")
        t.run_both("stock ids", run_async, run_sync, coupon_id, t.brand_id)


if __name__ == "__main__":
    main()
