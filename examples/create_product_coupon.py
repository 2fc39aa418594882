"""Create a product coupon with its first stock (seed 003) in the three call styles, async and sync.

    python examples/create_product_coupon.py     # starts a sandbox; WECHATPAY_* variables: see the tour
"""

from __future__ import annotations

from _support import PREFIX, coupon_body, target, unique

from wechatpay_chain import Client, SyncClient


async def run_async(wxpay: Client, brand_id: str) -> list[str]:
    r1 = await wxpay.v3.marketing.partner.productCoupon.productCoupons.post(json=coupon_body(brand_id, unique("a1")))
    r2 = await wxpay.chain(PREFIX).post(json=coupon_body(brand_id, unique("a2")))
    r3 = await wxpay[PREFIX].post({"json": coupon_body(brand_id, unique("a3"))})  # PHP-style options mapping
    return [r.json()["product_coupon_id"] for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, brand_id: str) -> list[str]:
    r1 = wxpay.v3.marketing.partner.productCoupon.productCoupons.post(json=coupon_body(brand_id, unique("s1")))
    r2 = wxpay.chain(PREFIX).post(json=coupon_body(brand_id, unique("s2")))
    r3 = wxpay[PREFIX].post({"json": coupon_body(brand_id, unique("s3"))})
    return [r.json()["product_coupon_id"] for r in (r1, r2, r3)]


def main() -> None:
    with target() as t:
        print(f"using {t.name}")
        t.run_both("coupon ids", run_async, run_sync, t.brand_id)


if __name__ == "__main__":
    main()
