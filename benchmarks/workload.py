"""What every contender sends: the product-coupon endpoint, its query, the ≈3 KB body, and the keys.

Shared by the server and every client so that all of them do exactly the same work on the wire.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from wechatpay_chain.testing import generate_key_pair

MCHID = "1900000109"
PUB_KEY_ID = "PUB_KEY_ID_0119000001092025111200181700000000"
COUPON_ID = "1000000013"
#: ``v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks`` once expanded.
PATH = f"/v3/marketing/partner/product-coupon/product-coupons/{COUPON_ID}/stocks"
QUERY: dict[str, Any] = {"brand_id": "120344", "offset": 0, "limit": 10}
QUERY_STRING = "brand_id=120344&offset=0&limit=10"
WORKLOADS = ("get", "post")


def _period() -> dict[str, Any]:
    return {
        "available_begin_time": "2025-08-01T00:00:00+08:00",
        "available_end_time": "2025-08-31T23:59:59+08:00",
        "wait_days_after_receive": 1,
        "weekly_available_period": {
            "day_list": ["MONDAY", "WEDNESDAY", "FRIDAY"],
            "day_period_list": [{"begin_time": 60, "end_time": 86399}],
        },
        "irregular_available_period_list": [
            {"begin_time": "2025-08-01T00:00:00+08:00", "end_time": "2025-08-31T23:59:59+08:00"}
        ],
    }


def _stock() -> dict[str, Any]:
    return {
        "remark": "疯狂星期四项目专用",
        "coupon_code_mode": "WECHATPAY",
        "stock_send_rule": {"max_count": 100000, "max_count_per_day": 100000000, "max_count_per_user": 5},
        "single_usage_rule": {
            "coupon_available_period": {**_period(), "available_days": 30},
            "normal_coupon": {"threshold": 10000, "discount_amount": 1},
            "discount_coupon": {"threshold": 10000, "percent_off": 20},
            "exchange_coupon": {"threshold": 10000, "exchange_price": 20},
        },
        "sequential_usage_rule": {
            "coupon_available_period": _period(),
            "normal_coupon_list": [{"threshold": 10000, "discount_amount": 1}] * 3,
            "discount_coupon_list": [{"threshold": 10000, "percent_off": 20}] * 3,
            "exchange_coupon_list": [{"threshold": 10000, "exchange_price": 20}] * 3,
            "special_first": False,
        },
        "usage_rule_display_info": {
            "coupon_usage_method_list": ["OFFLINE", "MINI_PROGRAM", "PAYMENT_CODE"],
            "mini_program_appid": "wx1234567890",
            "mini_program_path": "/pages/index/product",
            "app_path": "https://www.example.com/jump-to-app",
            "usage_description": "全场可用，每人限领五张，不与其他优惠同享。" * 5,
            "coupon_available_store_info": {
                "description": "所有门店可用，可使用小程序查看门店列表",
                "mini_program_appid": "wx1234567890",
                "mini_program_path": "/pages/index/store-list",
            },
        },
        "coupon_display_info": {
            "code_display_mode": "QRCODE",
            "background_color": "Color010",
            "entrance_mini_program": {
                "appid": "wx1234567890",
                "path": "/pages/index/product",
                "entrance_wording": "欢迎选购",
                "guidance_wording": "获取更多优惠",
            },
            "entrance_official_account": {"appid": "wx1234567890"},
            "entrance_finder": {
                "finder_id": "gh_12345678",
                "finder_video_id": "UDFsdf24df34dD456Hdf34",
                "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
            },
        },
        "notify_config": {"notify_appid": "wx4fd12345678"},
        "store_scope": "ALL",
    }


#: POST body (add-stock request), ≈3 KB once serialised.
BODY: dict[str, Any] = {"brand_id": "120344", "out_request_no": "34657_20250101_123456", "stock": _stock()}


def _answer_stock(index: int) -> dict[str, Any]:
    stock = _stock()
    stock.update(
        {
            "product_coupon_id": COUPON_ID,
            "stock_id": f"{123456789 + index}",
            "state": "AVAILABLE",
            "deactivate_request_no": "",
        }
    )
    return stock


#: GET answer (list stocks): two stocks, like a real page.
LIST_ANSWER = orjson.dumps({"total_count": 2, "offset": 0, "limit": 10, "data": [_answer_stock(0), _answer_stock(1)]})
#: POST answer (add stock): the created stock.
ADD_ANSWER = orjson.dumps(_answer_stock(0))


@dataclass(frozen=True)
class KeyFiles:
    """PEM files for one benchmark run: the merchant key pair and the platform (WeChat Pay) key pair."""

    directory: Path

    @property
    def merchant_key(self) -> Path:
        return self.directory / "merchant_key.pem"

    @property
    def merchant_public(self) -> Path:
        return self.directory / "merchant_public.pem"

    @property
    def merchant_serial(self) -> str:
        return (self.directory / "merchant_serial.txt").read_text().strip()

    @property
    def platform_key(self) -> Path:
        return self.directory / "platform_key.pem"

    @property
    def platform_public(self) -> Path:
        return self.directory / "platform_public.pem"


def make_keys(directory: Path) -> KeyFiles:
    """Generate fresh merchant and platform keys into ``directory`` (never real keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = KeyFiles(directory)
    merchant = generate_key_pair("bench merchant")
    platform = generate_key_pair("bench platform")
    files.merchant_key.write_bytes(merchant.private_pem())
    files.merchant_public.write_bytes(merchant.public_pem())
    (directory / "merchant_serial.txt").write_text(merchant.serial)
    files.platform_key.write_bytes(platform.private_pem())
    files.platform_public.write_bytes(platform.public_pem())
    for path in directory.iterdir():
        os.chmod(path, 0o600)
    return files
