"""The product-coupon family's in-memory state and business rules.

Pure Python, no HTTP: each operation takes the already schema-checked body and returns the answer document,
or raises :class:`Failure` with the status, code and ``detail`` WeChat Pay would send.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._schemas import product_coupon as pc
from ..._schemas.spec import Field
from .._clock import Clock
from .._engine import Ledger
from .._errors import Failure, invalid, param_error

__all__ = ["Store"]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
_TYPE_RULE = {"NORMAL": "normal_coupon", "DISCOUNT": "discount_coupon", "EXCHANGE": "exchange_coupon"}
_STOCK_FIELDS = (
    "remark",
    "coupon_code_mode",
    "stock_send_rule",
    "single_usage_rule",
    "sequential_usage_rule",
    "usage_rule_display_info",
    "coupon_display_info",
    "notify_config",
    "store_scope",
)
_PATCHABLE = ("remark", "usage_rule_display_info", "coupon_display_info", "notify_config", "store_scope")


def ordered(spec: Field, data: Any) -> Any:
    """``data`` with object members in the order of the response table (answers read like the docs)."""
    if spec.type == "object" and spec.fields is not None and isinstance(data, dict):
        out = {k: ordered(spec.fields[k], data[k]) for k in spec.fields if k in data}
        out.update({k: v for k, v in data.items() if k not in out})
        return out
    if spec.type == "array" and spec.items is not None and isinstance(data, list):
        return [ordered(spec.items, item) for item in data]
    return data


@dataclass
class Store:
    """Coupons and their stocks; ``applied`` reads the engine's idempotency ledger."""

    initial_stock_state: str = "SENDING"
    brands: frozenset[str] | None = None
    clock: Clock = field(default_factory=Clock)
    ledger: Ledger = field(default_factory=Ledger)
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    stocks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _serial: int = 0

    @property
    def applied(self) -> Counter[str]:
        """How many times each ``out_request_no`` changed the state (the engine's idempotency ledger)."""
        return self.ledger.applied

    def reset(self) -> None:
        self.coupons.clear()
        self.stocks.clear()
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- lookups ----------------------------------------------------------------------------------------------
    def _check_brand(self, brand_id: str) -> None:
        if self.brands is not None and brand_id not in self.brands:
            raise Failure(403, "NO_AUTH", f"品牌 {brand_id} 未授权给当前服务商")

    def coupon(self, coupon_id: str, brand_id: str) -> dict[str, Any]:
        coupon = self.coupons.get(coupon_id)
        if coupon is None:
            raise Failure(404, "NOT_FOUND", f"未找到 product_coupon_id 对应的商品券: {coupon_id}")
        if coupon["brand_id"] != brand_id:
            raise Failure(404, "NOT_FOUND", f"商品券 {coupon_id} 不属于品牌 {brand_id}")
        return coupon

    def stock(self, coupon_id: str, stock_id: str, brand_id: str) -> dict[str, Any]:
        self.coupon(coupon_id, brand_id)
        stock = self.stocks[coupon_id].get(stock_id)
        if stock is None:
            raise Failure(404, "NOT_FOUND", f"未找到批次: {stock_id}")
        return stock

    # -- rules ------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_usage(coupon: Mapping[str, Any], stock: Mapping[str, Any], where: str) -> None:
        mode, kind = coupon["usage_mode"], _TYPE_RULE[coupon["type"]]
        if mode == "SINGLE":
            rule = stock.get("single_usage_rule")
            if rule is None:
                raise invalid(f"{where}.single_usage_rule", "required when usage_mode is SINGLE")
            if kind not in rule:
                raise invalid(f"{where}.single_usage_rule.{kind}", f"required for a {coupon['type']} coupon")
        elif mode == "SEQUENTIAL":
            rule = stock.get("sequential_usage_rule")
            if rule is None:
                raise invalid(f"{where}.sequential_usage_rule", "required when usage_mode is SEQUENTIAL")
            if not rule.get(kind + "_list"):
                raise invalid(f"{where}.sequential_usage_rule.{kind}_list", f"required for a {coupon['type']} coupon")

    def _new_stock(self, coupon: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
        coupon_id = coupon["product_coupon_id"]
        stock_id = f"{coupon_id}{len(self.stocks[coupon_id]) + 1:03d}"
        stock = {k: copy.deepcopy(source[k]) for k in _STOCK_FIELDS if k in source}
        stock.update(product_coupon_id=coupon_id, stock_id=stock_id, brand_id=coupon["brand_id"])
        if stock.get("coupon_code_mode") == "UPLOAD":
            stock["coupon_code_count_info"] = {"total_count": 0, "available_count": 0}
        stock["sent_count_info"] = {"total_count": 0, "today_count": 0}
        stock["state"] = self.initial_stock_state
        self.stocks[coupon_id][stock_id] = stock
        return stock

    # -- operations -------------------------------------------------------------------------------------------
    def create_product_coupon(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check_brand(body["brand_id"])
        mode = body["usage_mode"]
        if mode in ("SEQUENTIAL", "PROGRESSIVE_BUNDLE") and "sequential_usage_info" not in body:
            raise invalid("sequential_usage_info", f"required when usage_mode is {mode}")
        coupon_id = str(1000000000 + self._next())
        coupon = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("out_request_no", "stock")}
        coupon.update(product_coupon_id=coupon_id, state="EFFECTIVE")
        self._check_usage(coupon, body["stock"], "stock")
        self.coupons[coupon_id] = coupon
        self.stocks[coupon_id] = {}
        stock = self._new_stock(coupon, body["stock"])
        return ordered(pc.PRODUCT_COUPON, {**coupon, "stock": stock})  # type: ignore[no-any-return]

    def add_stock(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["state"] == "DEACTIVATED":
            raise Failure(400, "INVALID_REQUEST", f"商品券 {coupon_id} 已失效")
        self._check_usage(coupon, body["stock"], "stock")
        return ordered(pc.STOCK, self._new_stock(coupon, body["stock"]))  # type: ignore[no-any-return]

    def list_stocks(self, coupon_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        self.coupon(coupon_id, query["brand_id"])
        size = query.get("page_size", DEFAULT_PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise param_error("page_size", f"must be between 1 and {MAX_PAGE_SIZE}", "query")
        start = _decode_token(query.get("page_token"))
        rows = [s for s in self.stocks[coupon_id].values() if query.get("state") in (None, s["state"])]
        page = rows[start : start + size]
        doc: dict[str, Any] = {"total_count": len(rows)}
        if start + size < len(rows):
            doc["next_page_token"] = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode()
        doc["stock_list"] = [copy.deepcopy(s) for s in page]
        return ordered(pc.LIST_STOCKS, doc)  # type: ignore[no-any-return]

    def get_stock(self, coupon_id: str, stock_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        return ordered(pc.STOCK, copy.deepcopy(self.stock(coupon_id, stock_id, query["brand_id"])))  # type: ignore[no-any-return]

    def patch_stock(self, coupon_id: str, stock_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        if not any(k in body for k in _PATCHABLE):
            raise invalid("", f"give at least one of {', '.join(_PATCHABLE)}")
        if stock["state"] == "DEACTIVATED":
            raise Failure(400, "INVALID_REQUEST", f"批次 {stock_id} 已失效，不能修改")
        for key in _PATCHABLE:
            if key in body:
                stock[key] = copy.deepcopy(body[key])
        return ordered(pc.STOCK, copy.deepcopy(stock))  # type: ignore[no-any-return]

    def add_stock_bundle(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["usage_mode"] != "PROGRESSIVE_BUNDLE":
            raise Failure(
                400,
                "INVALID_REQUEST",
                f"商品券 {coupon_id} 的 usage_mode 为 {coupon['usage_mode']}，只有 PROGRESSIVE_BUNDLE 可以添加批次组",
                {"field": "usage_mode", "location": "resource", "issue": "must be PROGRESSIVE_BUNDLE"},
            )
        bundle = body["stock_bundle"]
        rule = bundle.get("progressive_bundle_usage_rule")
        if rule is None:
            raise invalid("stock_bundle.progressive_bundle_usage_rule", "required to create the bundle's stocks")
        kind = _TYPE_RULE[coupon["type"]]
        entries = rule.get(kind + "_list") or []
        if not entries:
            raise invalid(
                f"stock_bundle.progressive_bundle_usage_rule.{kind}_list", f"required for a {coupon['type']} coupon"
            )
        for other in _TYPE_RULE.values():
            extra = rule.get(other + "_list")
            if extra is not None and len(extra) != len(entries):
                where = f"stock_bundle.progressive_bundle_usage_rule.{other}_list"
                raise invalid(where, "must have one entry per stock")
        first = next(iter(self.stocks[coupon_id].values()), {})
        bundle_id = str(7100000000000000000 + self._next())
        stocks = []
        for index in range(len(entries)):
            source = {k: v for k, v in bundle.items() if k != "progressive_bundle_usage_rule"}
            for key in ("usage_rule_display_info", "coupon_display_info", "notify_config", "store_scope"):
                if key not in source and key in first:
                    source[key] = first[key]
            source.setdefault("notify_config", {})
            source.setdefault("store_scope", "NONE")
            stock = self._new_stock(coupon, source)
            per_stock: dict[str, Any] = {"coupon_available_period": copy.deepcopy(rule["coupon_available_period"])}
            for other in _TYPE_RULE.values():
                if rule.get(other + "_list"):
                    per_stock[other] = copy.deepcopy(rule[other + "_list"][index])
            stock["progressive_bundle_usage_rule"] = per_stock
            stock["stock_bundle_info"] = {"stock_bundle_id": bundle_id, "stock_bundle_index": index}
            stocks.append(ordered(pc.BUNDLE_STOCK, copy.deepcopy(stock)))
        return {"stock_bundle_id": bundle_id, "stock_list": stocks}

    # -- control (tests, seeding) ---------------------------------------------------------------------------
    def set_stock_state(self, coupon_id: str, stock_id: str, state: str, reason: str | None = None) -> dict[str, Any]:
        if state not in pc.STOCK_STATES:
            raise ValueError(f"state must be one of {pc.STOCK_STATES}")
        brand_id = self.coupons[coupon_id]["brand_id"] if coupon_id in self.coupons else ""
        stock = self.stock(coupon_id, stock_id, brand_id)
        stock["state"] = state
        if state == "DEACTIVATED":
            stock["deactivate_request_no"] = f"sandbox-{self._next()}"
            stock["deactivate_time"] = self.clock.rfc3339()
            stock["deactivate_reason"] = reason or "sandbox"
        return stock


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "o" or not value.isdigit():
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise param_error("page_token", "is not a token this list returned", "query") from None
