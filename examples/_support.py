"""Shared by the examples: where to send requests (sandbox or the real API) and readable sample bodies.

With no ``WECHATPAY_MCHID`` in the environment the examples start the embedded sandbox; otherwise they talk to
WeChat Pay with the variables documented in ``product_coupon_tour.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from wechatpay_chain import Client, SyncClient
from wechatpay_chain.sandbox import SyncSandbox
from wechatpay_chain.types import AddStockBundleRequest, AddStockRequest, CreateProductCouponRequest, NewStock

PREFIX = "v3/marketing/partner/product-coupon/product-coupons"
SANDBOX_BRAND_ID = "120344"


def unique(tag: str) -> str:
    """An ``out_request_no`` that is new on every run (6–40 of ``[0-9A-Za-z_-]``)."""
    return f"{tag}_{time.time_ns() // 1000}"[:40]


def new_stock(remark: str = "满100减5") -> NewStock:
    return {
        "remark": remark,
        "coupon_code_mode": "WECHATPAY",
        "stock_send_rule": {"max_count": 10000, "max_count_per_day": 1000, "max_count_per_user": 1},
        "sequential_usage_rule": {
            "coupon_available_period": {
                "available_begin_time": "2026-01-01T00:00:00+08:00",
                "available_end_time": "2026-12-31T23:59:59+08:00",
            },
            "normal_coupon_list": [{"threshold": 10000, "discount_amount": 500}],
        },
        "usage_rule_display_info": {"coupon_usage_method_list": ["OFFLINE"], "usage_description": "全场可用"},
        "coupon_display_info": {"code_display_mode": "QRCODE", "background_color": "Color010"},
        "notify_config": {"notify_appid": "wx4fd12345678"},
        "store_scope": "ALL",
    }


def coupon_body(brand_id: str, out_request_no: str) -> CreateProductCouponRequest:
    """A 满减 (NORMAL) coupon in the 多次优惠 mode that accepts stock bundles (002)."""
    return {
        "brand_id": brand_id,
        "out_request_no": out_request_no,
        "scope": "ALL",
        "type": "NORMAL",
        "usage_mode": "PROGRESSIVE_BUNDLE",
        "sequential_usage_info": {"type": "INCREMENTAL", "count": 3, "available_days": 30},
        "display_info": {"name": "咖啡满减券", "image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/example/coupon"},
        "stock": new_stock("首批"),
    }


def stock_body(brand_id: str, out_request_no: str, remark: str = "满100减5") -> AddStockRequest:
    return {"brand_id": brand_id, "out_request_no": out_request_no, "stock": new_stock(remark)}


def bundle_body(brand_id: str, out_request_no: str, steps: list[tuple[int, int]]) -> AddStockBundleRequest:
    """One stock per ``(threshold, discount_amount)`` step, in the 002 (official) shape."""
    return {
        "brand_id": brand_id,
        "out_request_no": out_request_no,
        "stock_bundle": {
            "remark": "阶梯满减",
            "coupon_code_mode": "WECHATPAY",
            "stock_send_rule": {"max_count": 10000, "max_count_per_user": 1},
            "progressive_bundle_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2026-01-01T00:00:00+08:00",
                    "available_end_time": "2026-12-31T23:59:59+08:00",
                },
                "normal_coupon_list": [{"threshold": t, "discount_amount": d} for t, d in steps],
            },
        },
    }


def real_api_options() -> dict[str, Any]:
    """``Client(**...)`` arguments from the ``WECHATPAY_*`` variables (see ``product_coupon_tour.py``)."""
    options: dict[str, Any] = {
        "mchid": os.environ["WECHATPAY_MCHID"],
        "serial": os.environ["WECHATPAY_SERIAL"],
        "private_key": os.environ["WECHATPAY_PRIVATE_KEY"],
        "certs": json.loads(os.environ.get("WECHATPAY_CERTS", "{}")),
        "apiv3_key": os.environ.get("WECHATPAY_APIV3_KEY") or None,
    }
    if os.environ.get("WECHATPAY_BASE_URL"):
        options["base_url"] = os.environ["WECHATPAY_BASE_URL"]
    return options


class Target:
    """Where the examples send requests: a started :class:`SyncSandbox` or the real API."""

    def __init__(self, sandbox: SyncSandbox | None) -> None:
        self.sandbox = sandbox
        self.brand_id = SANDBOX_BRAND_ID if sandbox else os.environ.get("WECHATPAY_BRAND_ID", "")
        if sandbox is None:
            self.options: dict[str, Any] = real_api_options()
        else:
            config = sandbox.config
            self.options = {k: config[k] for k in ("mchid", "serial", "private_key", "certs")}
            self.options["base_url"] = config["base_url"]

    @property
    def name(self) -> str:
        return f"the sandbox at {self.sandbox.url}" if self.sandbox else "the WeChat Pay API"

    def client(self, **overrides: Any) -> Client:
        return Client(**{**self.options, **overrides})

    def sync_client(self, **overrides: Any) -> SyncClient:
        return SyncClient(**{**self.options, **overrides})

    def product_coupon_id(self) -> str:
        """A coupon to work on: seeded in the sandbox, or ``WECHATPAY_PRODUCT_COUPON_ID`` for the real API."""
        if self.sandbox is None:
            return os.environ["WECHATPAY_PRODUCT_COUPON_ID"]
        doc = self.sandbox.seed_product_coupon(coupon_body(self.brand_id, unique("seed")))
        return str(doc["product_coupon_id"])

    def stock_id(self, coupon_id: str) -> str:
        """``WECHATPAY_STOCK_ID``, or the seeded coupon's first stock (the sandbox numbers them so)."""
        return os.environ.get("WECHATPAY_STOCK_ID") or f"{coupon_id}001"

    def run_both(
        self, label: str, run_async: Callable[..., Awaitable[Any]], run_sync: Callable[..., Any], *args: Any
    ) -> None:
        """Run an example's async function on a ``Client`` and its sync twin on a ``SyncClient``; print both."""

        async def go() -> Any:
            async with self.client() as wxpay:
                return await run_async(wxpay, *args)

        print(f"async {label}:", asyncio.run(go()))
        with self.sync_client() as wxpay:
            print(f"sync {label}: ", run_sync(wxpay, *args))


@contextmanager
def target() -> Iterator[Target]:
    """The sandbox (no ``WECHATPAY_MCHID`` set) or the real API."""
    if os.environ.get("WECHATPAY_MCHID"):
        yield Target(None)
        return
    with SyncSandbox() as sandbox:
        yield Target(sandbox)


def show(title: str, doc: Any) -> None:
    print(f"── {title}")
    print(json.dumps(doc, ensure_ascii=False, indent=2)[:1500])
