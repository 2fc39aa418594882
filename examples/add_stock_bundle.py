"""Add a stock bundle to a PROGRESSIVE_BUNDLE coupon (seed 002) in the three call styles, async and sync.

    python examples/add_stock_bundle.py     # starts a sandbox; WECHATPAY_* variables: see the tour
"""

from __future__ import annotations

from _support import PREFIX, bundle_body, target, unique

from wechatpay_chain import Client, SyncClient

TEMPLATE = PREFIX + "/{product_coupon_id}/stock-bundles"
STEPS = [(5000, 300), (10000, 800), (20000, 2000)]


async def run_async(wxpay: Client, coupon_id: str, brand_id: str) -> list[int]:
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = await coupons._product_coupon_id_.stockBundles.post(
        product_coupon_id=coupon_id, json=bundle_body(brand_id, unique("a1"), STEPS)
    )
    r2 = await wxpay.chain(TEMPLATE).post(product_coupon_id=coupon_id, json=bundle_body(brand_id, unique("a2"), STEPS))
    body = bundle_body(brand_id, unique("a3"), STEPS)
    r3 = await wxpay[TEMPLATE].post({"product_coupon_id": coupon_id, "json": body})
    return [len(r.json()["stock_list"]) for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, coupon_id: str, brand_id: str) -> list[int]:
    coupons = wxpay.v3.marketing.partner.productCoupon.productCoupons
    r1 = coupons._product_coupon_id_.stockBundles.post(
        product_coupon_id=coupon_id, json=bundle_body(brand_id, unique("s1"), STEPS)
    )
    r2 = wxpay.chain(TEMPLATE).post(product_coupon_id=coupon_id, json=bundle_body(brand_id, unique("s2"), STEPS))
    r3 = wxpay[TEMPLATE].post({"product_coupon_id": coupon_id, "json": bundle_body(brand_id, unique("s3"), STEPS)})
    return [len(r.json()["stock_list"]) for r in (r1, r2, r3)]


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        print(f"using {t.name}, product coupon {coupon_id}")
        t.run_both("stocks per bundle", run_async, run_sync, coupon_id, t.brand_id)


if __name__ == "__main__":
    main()
