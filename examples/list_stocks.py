"""List a product coupon's stocks page by page (seed 001) in the three call styles, async and sync.

    python examples/list_stocks.py     # starts a sandbox; WECHATPAY_* variables: see the tour
"""

from __future__ import annotations

from typing import Any

from _support import PREFIX, stock_body, target, unique

from wechatpay_chain import Client, SyncClient

TEMPLATE = PREFIX + "/{product_coupon_id}/stocks"


async def run_async(wxpay: Client, coupon_id: str, brand_id: str) -> list[int]:
    query: dict[str, Any] = {"brand_id": brand_id, "page_size": 2}
    r1 = await wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.get(
        product_coupon_id=coupon_id, query=query
    )
    r2 = await wxpay.chain(TEMPLATE).get(product_coupon_id=coupon_id, query={**query, "state": "SENDING"})
    token = r1.json().get("next_page_token")
    r3 = await wxpay[TEMPLATE].get({"product_coupon_id": coupon_id, "query": {**query, "page_token": token}})
    return [len(r.json().get("stock_list", [])) for r in (r1, r2, r3)]


def run_sync(wxpay: SyncClient, coupon_id: str, brand_id: str) -> list[int]:
    query: dict[str, Any] = {"brand_id": brand_id, "page_size": 2}
    r1 = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.get(
        product_coupon_id=coupon_id, query=query
    )
    r2 = wxpay.chain(TEMPLATE).get(product_coupon_id=coupon_id, query={**query, "state": "SENDING"})
    token = r1.json().get("next_page_token")
    r3 = wxpay[TEMPLATE].get({"product_coupon_id": coupon_id, "query": {**query, "page_token": token}})
    return [len(r.json().get("stock_list", [])) for r in (r1, r2, r3)]


def main() -> None:
    with target() as t:
        coupon_id = t.product_coupon_id()
        if t.sandbox is not None:
            with t.sync_client() as wxpay:  # three stocks in all, so that there is a second page
                for n in range(2):
                    wxpay[TEMPLATE].post(product_coupon_id=coupon_id, json=stock_body(t.brand_id, unique(f"l{n}")))
        print(f"using {t.name}, product coupon {coupon_id}")
        t.run_both("page sizes", run_async, run_sync, coupon_id, t.brand_id)


if __name__ == "__main__":
    main()
