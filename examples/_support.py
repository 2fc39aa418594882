"""Shared by the examples: where to send requests (sandbox or the real API).

With no ``WECHATPAY_MCHID`` in the environment the examples start the embedded sandbox; otherwise they talk to
WeChat Pay with the variables documented in ``wechatpay_chain/tour.py``, whose sample bodies they reuse.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from wechatpay_chain import Client, SyncClient
from wechatpay_chain.sandbox import SyncSandbox
from wechatpay_chain.tour import (
    PREFIX,
    SANDBOX_BRAND_ID,
    bundle_body,
    coupon_body,
    real_api_options,
    stock_body,
    unique,
    usable_stock_body,
)

__all__ = [
    "PREFIX",
    "Target",
    "bundle_body",
    "coupon_body",
    "stock_body",
    "target",
    "unique",
]

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

    def usable_stock_id(self, coupon_id: str) -> str:
        """A stock whose coupons are usable now: added to the seeded coupon, or ``WECHATPAY_STOCK_ID``."""
        if self.sandbox is None:
            return os.environ["WECHATPAY_STOCK_ID"]
        with self.sync_client() as wxpay:
            body = usable_stock_body(self.brand_id, unique("usable"))
            return str(wxpay.chain(PREFIX + "/{id}/stocks").post(id=coupon_id, json=body).json()["stock_id"])

    def user(self, n: int) -> tuple[str, str]:
        """``(appid, openid)`` of a user to send to: ``WECHATPAY_APPID``/``WECHATPAY_OPENID``, or made up."""
        appid = os.environ.get("WECHATPAY_APPID", "wx233544546545989")
        return appid, os.environ.get("WECHATPAY_OPENID") or f"o_example_user_{n:04d}"

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

