"""Read one stock (seed 004) in the three call styles, async and sync.

    python examples/get_stock.py     # starts a sandbox; WECHATPAY_* variables (+ WECHATPAY_STOCK_ID): see the tour
"""

from __future__ import annotations

from _support import PREFIX, target

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


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        stock_id = t.stock_id(coupon_id)
        print(f"using {t.name}, stock {stock_id}")
        t.run_both("states", run_async, run_sync, coupon_id, stock_id, t.brand_id)


if __name__ == "__main__":
    main()
