"""What every contender sends: the product-coupon endpoint, its query, the ≈3 KB body, and the keys.

Shared by the server and every client so that all of them do exactly the same work on the wire.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from wechatpay_chain.sandbox import samples
from wechatpay_chain.testing import generate_key_pair

MCHID = "1900000109"
PUB_KEY_ID = "PUB_KEY_ID_0119000001092025111200181700000000"
COUPON_ID = "1000000013"
#: ``v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks`` once expanded.
PATH = f"/v3/marketing/partner/product-coupon/product-coupons/{COUPON_ID}/stocks"
QUERY: dict[str, Any] = {"brand_id": "120344", "offset": 0, "limit": 10}
QUERY_STRING = "brand_id=120344&offset=0&limit=10"
WORKLOADS = ("get", "post")


def _stock() -> dict[str, Any]:
    """The seed page's own add-stock example (001), its usage description lengthened to make a ≈3 KB body."""
    stock: dict[str, Any] = copy.deepcopy(samples.ADD_STOCK["json"]["stock"])
    stock["usage_rule_display_info"]["usage_description"] = "全场可用，每人限领五张，不与其他优惠同享。" * 11
    return stock


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


def chain_options(keys: KeyFiles, base_url: str) -> dict[str, Any]:
    """``Client(**...)`` / ``SyncClient(**...)`` arguments for the benchmark target (public-key mode)."""
    return {
        "mchid": MCHID,
        "serial": keys.merchant_serial,
        "private_key": "file://" + str(keys.merchant_key),
        "certs": {PUB_KEY_ID: "file://" + str(keys.platform_public)},
        "base_url": base_url,
    }
