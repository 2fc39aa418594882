from __future__ import annotations

from conftest import FakeWeChat


async def test_roundtrip(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        r = await wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.post(
            {"product_coupon_id": "1000000013", "json": {"out_request_no": "x", "remark": "中文"}}
        )
        assert r.status == 200
        assert r.json()["path"] == "/v3/marketing/partner/product-coupon/product-coupons/1000000013/stocks"
        r = await wxpay.chain("v3/x/{id}").get(id="a/b c", query={"q": "中 文/+&", "n": 1})
        assert fake.seen[-1].target == "/v3/x/a%2Fb%20c?q=%E4%B8%AD%20%E6%96%87%2F%2B%26&n=1"
