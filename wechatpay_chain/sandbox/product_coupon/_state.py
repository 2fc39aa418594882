"""The product-coupon family's coupons, stocks and stock bundles: in-memory state and business rules.

Pure Python, no HTTP: each operation takes the already schema-checked body and returns the answer document
(members ordered as the response table, members the table does not list dropped), or raises
:class:`Failure` with the status, code and ``detail`` WeChat Pay would send. User coupons are in ``_users.py``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._schemas.spec import Field
from ...schema import BY_NAME
from .._clock import Clock
from .._engine import Ledger
from .._errors import Failure, invalid, param_error

__all__ = ["STOCK_STATES", "Store", "shaped"]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
#: At most this many effective (not deactivated) stocks per coupon (issue 12: the docs' 200-stocks cap).
MAX_STOCKS = 200
STOCK_STATES = ("AUDITING", "SENDING", "PAUSED", "STOPPED", "DEACTIVATED")
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
_STORE_ID = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


def shaped(spec: Field, data: Any) -> Any:
    """``data`` as the response table shows it: members in table order, members it does not list dropped."""
    if spec.type == "object" and spec.fields is not None and isinstance(data, dict):
        return {k: shaped(spec.fields[k], data[k]) for k in spec.fields if k in data and data[k] is not None}
    if spec.type == "array" and spec.items is not None and isinstance(data, list):
        return [shaped(spec.items, item) for item in data]
    return copy.deepcopy(data)


def answer(op: str, data: Any) -> dict[str, Any]:
    return shaped(BY_NAME[op].response, data)  # type: ignore[no-any-return]


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_token(token: str | None) -> int:
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


def paginate(rows: list[Any], query: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``{total_count, next_page_token?, <key>: [...]}`` for ``page_size`` (1–50, default 10) + ``page_token``."""
    size = query.get("page_size", DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise param_error("page_size", f"must be between 1 and {MAX_PAGE_SIZE}", "query")
    start = decode_token(query.get("page_token")) if rows else 0  # nothing to page: any token reads an empty page
    doc: dict[str, Any] = {"total_count": len(rows)}
    if start + size < len(rows):
        doc["next_page_token"] = page_token(start + size)
    doc[key] = rows[start : start + size]
    return doc


@dataclass
class Store:
    """Coupons, stocks, bundles, uploaded codes and store associations; ``applied`` reads the engine's ledger."""

    initial_stock_state: str = "SENDING"
    brands: frozenset[str] | None = None
    #: The cap on effective stocks per coupon (raise it for load tests that add thousands of stocks).
    max_stocks: int = MAX_STOCKS
    clock: Clock = field(default_factory=Clock)
    ledger: Ledger = field(default_factory=Ledger)
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    stocks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: ``stock_bundle_id → (product_coupon_id, [stock_id, ...])``
    bundles: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: ``stock_id → codes not yet sent`` (UPLOAD mode) and every code ever uploaded
    codes: dict[str, list[str]] = field(default_factory=dict)
    uploaded: dict[str, set[str]] = field(default_factory=dict)
    #: ``stock_id → associated store ids`` (insertion-ordered)
    stores: dict[str, dict[str, None]] = field(default_factory=dict)
    _serial: int = 0

    @property
    def applied(self) -> Counter[str]:
        """How many times each request number changed the state (the engine's idempotency ledger)."""
        return self.ledger.applied

    def reset(self) -> None:
        for table in (self.coupons, self.stocks, self.bundles, self.codes, self.uploaded, self.stores):
            table.clear()
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- lookups ----------------------------------------------------------------------------------------------
    def check_brand(self, brand_id: str) -> None:
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

    def bundle(self, coupon_id: str, bundle_id: str, brand_id: str) -> list[dict[str, Any]]:
        self.coupon(coupon_id, brand_id)
        found = self.bundles.get(bundle_id)
        if found is None or found[0] != coupon_id:
            raise Failure(404, "NOT_FOUND", f"未找到批次组: {bundle_id}")
        return [self.stocks[coupon_id][sid] for sid in found[1]]

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
        period = (stock.get("single_usage_rule") or stock.get("sequential_usage_rule") or {}).get(
            "coupon_available_period"
        )
        if period and period["available_begin_time"] >= period["available_end_time"]:
            raise invalid(f"{where}.coupon_available_period.available_end_time", "must be after available_begin_time")

    def _room_for_stocks(self, coupon_id: str, more: int = 1) -> None:
        live = sum(1 for s in self.stocks[coupon_id].values() if s["state"] != "DEACTIVATED")
        if live + more > self.max_stocks:
            raise invalid("", f"a coupon has at most {self.max_stocks} effective stocks ({live} now)")

    def _new_stock(self, coupon: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
        coupon_id = coupon["product_coupon_id"]
        stock_id = f"{coupon_id}{len(self.stocks[coupon_id]) + 1:03d}"
        stock = {k: copy.deepcopy(source[k]) for k in _STOCK_FIELDS if k in source}
        stock.update(product_coupon_id=coupon_id, stock_id=stock_id, brand_id=coupon["brand_id"])
        if stock.get("coupon_code_mode") == "UPLOAD":
            stock["coupon_code_count_info"] = {"total_count": 0, "available_count": 0}
            self.codes[stock_id] = []
            self.uploaded[stock_id] = set()
        stock["sent_count_info"] = {"total_count": 0, "today_count": 0}
        stock["_sent_day"] = self.clock.china_date().isoformat()
        stock["_per_user"] = {}
        stock["state"] = self.initial_stock_state
        self.stocks[coupon_id][stock_id] = stock
        return stock

    def today(self, stock: dict[str, Any]) -> dict[str, Any]:
        """``sent_count_info`` with ``today_count`` reset when the China calendar day changed."""
        day = self.clock.china_date().isoformat()
        if stock.get("_sent_day") != day:
            stock["_sent_day"] = day
            stock["sent_count_info"]["today_count"] = 0
        return stock

    def view(self, stock: dict[str, Any]) -> dict[str, Any]:
        return self.today(stock)

    # -- coupons ----------------------------------------------------------------------------------------------
    def create_product_coupon(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.check_brand(body["brand_id"])
        mode = body["usage_mode"]
        if mode in ("SEQUENTIAL", "PROGRESSIVE_BUNDLE") and "sequential_usage_info" not in body:
            raise invalid("sequential_usage_info", f"required when usage_mode is {mode}")
        if body["type"] == "EXCHANGE" and body["scope"] != "SINGLE":
            raise invalid("scope", "an EXCHANGE coupon must have scope SINGLE")
        coupon_id = str(1000000000 + self._next())
        coupon = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("out_request_no", "stock")}
        coupon.update(product_coupon_id=coupon_id, state="EFFECTIVE")
        self._check_usage(coupon, body["stock"], "stock")
        self.coupons[coupon_id] = coupon
        self.stocks[coupon_id] = {}
        stock = self._new_stock(coupon, body["stock"])
        return answer("create_product_coupon", {**coupon, "stock": stock})

    def get_product_coupon(self, coupon_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        return answer("get_product_coupon", self.coupon(coupon_id, query["brand_id"]))

    def patch_product_coupon(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["state"] == "DEACTIVATED":
            raise invalid("", f"商品券 {coupon_id} 已失效，不能修改")
        coupon["display_info"] = copy.deepcopy(body["display_info"])
        return answer("patch_product_coupon", coupon)

    def deactivate_product_coupon(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["state"] == "DEACTIVATED":
            raise invalid("", f"商品券 {coupon_id} 已失效")
        self._deactivate(coupon, body)
        for stock in self.stocks[coupon_id].values():  # the page: 失效商品券会失效商品券所有批次
            if stock["state"] != "DEACTIVATED":
                self._deactivate(stock, body)
        return answer("deactivate_product_coupon", coupon)

    def _deactivate(self, target: dict[str, Any], body: Mapping[str, Any]) -> None:
        target.update(state="DEACTIVATED", deactivate_request_no=body["out_request_no"],
                      deactivate_time=self.clock.rfc3339(), deactivate_reason=body["deactivate_reason"])

    # -- stocks -----------------------------------------------------------------------------------------------
    def add_stock(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["state"] == "DEACTIVATED":
            raise Failure(400, "INVALID_REQUEST", f"商品券 {coupon_id} 已失效")
        self._check_usage(coupon, body["stock"], "stock")
        self._room_for_stocks(coupon_id)
        return answer("add_stock", self._new_stock(coupon, body["stock"]))

    def list_stocks(self, coupon_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        self.coupon(coupon_id, query["brand_id"])
        rows = [self.view(s) for s in self.stocks[coupon_id].values() if query.get("state") in (None, s["state"])]
        return answer("list_stocks", paginate(rows, query, "stock_list"))

    def get_stock(self, coupon_id: str, stock_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        return answer("get_stock", self.view(self.stock(coupon_id, stock_id, query["brand_id"])))

    def _patch(self, stock: dict[str, Any], body: Mapping[str, Any]) -> None:
        if stock["state"] == "DEACTIVATED":
            raise Failure(400, "INVALID_REQUEST", f"批次 {stock['stock_id']} 已失效，不能修改")
        for key in _PATCHABLE:
            if key in body:
                stock[key] = copy.deepcopy(body[key])

    def patch_stock(self, coupon_id: str, stock_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        if not any(k in body for k in _PATCHABLE):
            raise invalid("", f"give at least one of {', '.join(_PATCHABLE)}")
        self._patch(stock, body)
        return answer("patch_stock", self.view(stock))

    def deactivate_stock(self, coupon_id: str, stock_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        if stock["state"] == "DEACTIVATED":
            raise invalid("", f"批次 {stock_id} 已失效")
        self._deactivate(stock, body)
        return answer("deactivate_stock", self.view(stock))

    def _budget(self, stock: dict[str, Any], body: Mapping[str, Any]) -> None:
        """Compare-and-set on one dimension: ``current_*`` must equal the stock's value now."""
        mode = body["update_mode"]
        member = "max_count" if mode == "MAX_COUNT" else "max_count_per_day"
        current, target = body.get("current_" + member), body.get("target_" + member)
        if current is None or target is None:
            raise invalid(f"current_{member}", f"current_{member} and target_{member} are required for {mode}")
        rule = stock["stock_send_rule"]
        if rule.get(member) != current:
            raise invalid(f"current_{member}", f"is {current} but the stock's {member} is {rule.get(member)} now")
        sent = self.today(stock)["sent_count_info"]["total_count" if member == "max_count" else "today_count"]
        if target < sent:
            raise invalid(f"target_{member}", f"cannot be below what was already sent ({sent})")

    def update_stock_budget(self, coupon_id: str, stock_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        self._budget(stock, body)
        self._apply_budget(stock, body)
        return answer("update_stock_budget", self.view(stock))

    @staticmethod
    def _apply_budget(stock: dict[str, Any], body: Mapping[str, Any]) -> None:
        member = "max_count" if body["update_mode"] == "MAX_COUNT" else "max_count_per_day"
        stock["stock_send_rule"][member] = body["target_" + member]

    def upload_coupon_codes(self, coupon_id: str, stock_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        if stock.get("coupon_code_mode") != "UPLOAD":
            raise invalid("", f"批次 {stock_id} 的 coupon_code_mode 不是 UPLOAD")
        seen: set[str] = set()
        ok: list[str] = []
        failed: list[str] = []
        exists: list[str] = []
        dup: list[str] = []
        for code in body["code_list"]:
            if code in seen:
                dup.append(code)
                continue
            seen.add(code)
            if not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", code):
                failed.append(code)  # sandbox rule: 1-32 of [0-9A-Za-z_-]
            elif code in self.uploaded[stock_id]:
                exists.append(code)
            else:
                ok.append(code)
                self.uploaded[stock_id].add(code)
                self.codes[stock_id].append(code)
        info = stock["coupon_code_count_info"]
        info["total_count"] += len(ok)
        info["available_count"] += len(ok)
        return answer("upload_coupon_codes", {
            "total_count": len(seen), "success_code_list": ok, "failed_code_list": failed,
            "already_exist_code_list": exists, "duplicate_code_list": dup,
        })

    def _associate(self, stocks: list[dict[str, Any]], store_list: list[Mapping[str, str]], add: bool,
                   ) -> dict[str, Any]:
        for stock in stocks:
            if stock.get("store_scope") != "SPECIFIC":
                raise invalid("", f"批次 {stock['stock_id']} 的 store_scope 不是 SPECIFIC")
        ids = list(dict.fromkeys(s["store_id"] for s in store_list))
        ok, failed = [], []
        for store_id in ids:
            linked = [self.stores.setdefault(s["stock_id"], {}) for s in stocks]
            if not _STORE_ID.match(store_id):
                failed.append({"store_id": store_id, "code": "STORE_NOT_EXIST", "message": "门店不存在"})
            elif not add and not any(store_id in link for link in linked):
                failed.append({"store_id": store_id, "code": "STORE_NOT_ASSOCIATED", "message": "门店未关联该批次"})
            else:
                for link in linked:
                    if add:
                        link[store_id] = None
                    else:
                        link.pop(store_id, None)
                ok.append({"store_id": store_id})
        return {"total_count": len(ids), "success_store_list": ok, "failed_store_list": failed}

    def associate_stock_stores(self, coupon_id: str, stock_id: str, body: Mapping[str, Any], add: bool = True,
                               ) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, body["brand_id"])
        doc = self._associate([stock], body["store_list"], add)
        return answer("associate_stock_stores" if add else "disassociate_stock_stores", doc)

    def list_stock_stores(self, coupon_id: str, stock_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        stock = self.stock(coupon_id, stock_id, query["brand_id"])
        if stock.get("store_scope") != "SPECIFIC":
            raise invalid("", f"批次 {stock_id} 的 store_scope 不是 SPECIFIC")
        rows = [{"store_id": s} for s in self.stores.get(stock_id, {})]
        return answer("list_stock_stores", paginate(rows, query, "store_list"))

    # -- stock bundles ----------------------------------------------------------------------------------------
    def add_stock_bundle(self, coupon_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupon(coupon_id, body["brand_id"])
        if coupon["usage_mode"] != "PROGRESSIVE_BUNDLE":
            raise Failure(
                400,
                "INVALID_REQUEST",
                f"商品券 {coupon_id} 的 usage_mode 为 {coupon['usage_mode']}，只有 PROGRESSIVE_BUNDLE 可以添加批次组",
                {"field": "usage_mode", "location": "resource", "issue": "must be PROGRESSIVE_BUNDLE"},
            )
        if coupon["state"] == "DEACTIVATED":
            raise invalid("", f"商品券 {coupon_id} 已失效")
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
        self._room_for_stocks(coupon_id, len(entries))
        bundle_id = str(7100000000000000000 + self._next())
        stocks = []
        for index in range(len(entries)):
            source = {k: v for k, v in bundle.items() if k != "progressive_bundle_usage_rule"}
            stock = self._new_stock(coupon, source)
            per_stock: dict[str, Any] = {"coupon_available_period": copy.deepcopy(rule["coupon_available_period"])}
            for other in _TYPE_RULE.values():
                if rule.get(other + "_list"):
                    per_stock[other] = copy.deepcopy(rule[other + "_list"][index])
            stock["progressive_bundle_usage_rule"] = per_stock
            stock["stock_bundle_info"] = {"stock_bundle_id": bundle_id, "stock_bundle_index": index}
            stocks.append(stock)
        self.bundles[bundle_id] = (coupon_id, [s["stock_id"] for s in stocks])
        return answer("add_stock_bundle", {"stock_bundle_id": bundle_id, "stock_list": stocks})

    def patch_stock_bundle(self, coupon_id: str, bundle_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stocks = self.bundle(coupon_id, bundle_id, body["brand_id"])
        if not any(k in body for k in _PATCHABLE):
            raise invalid("", f"give at least one of {', '.join(_PATCHABLE)}")
        for stock in stocks:
            self._patch(stock, body)
        doc = {"stock_bundle_id": bundle_id, "stock_list": [self.view(s) for s in stocks]}
        return answer("patch_stock_bundle", doc)

    def update_stock_bundle_budget(self, coupon_id: str, bundle_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stocks = self.bundle(coupon_id, bundle_id, body["brand_id"])
        for stock in stocks:  # all or nothing: every stock must pass the compare-and-set first
            self._budget(stock, body)
        for stock in stocks:
            self._apply_budget(stock, body)
        doc = {"stock_bundle_id": bundle_id, "stock_list": [self.view(s) for s in stocks]}
        return answer("update_stock_bundle_budget", doc)

    def associate_bundle_stores(self, coupon_id: str, bundle_id: str, body: Mapping[str, Any], add: bool = True,
                                ) -> dict[str, Any]:
        stocks = self.bundle(coupon_id, bundle_id, body["brand_id"])
        doc = self._associate(stocks, body["store_list"], add)
        return answer("associate_stock_bundle_stores" if add else "disassociate_stock_bundle_stores", doc)

    # -- control (tests, seeding) ---------------------------------------------------------------------------
    def set_stock_state(self, coupon_id: str, stock_id: str, state: str, reason: str | None = None) -> dict[str, Any]:
        if state not in STOCK_STATES:
            raise ValueError(f"state must be one of {STOCK_STATES}")
        brand_id = self.coupons[coupon_id]["brand_id"] if coupon_id in self.coupons else ""
        stock = self.stock(coupon_id, stock_id, brand_id)
        stock["state"] = state
        if state == "DEACTIVATED":
            stock["deactivate_request_no"] = f"sandbox-{self._next()}"
            stock["deactivate_time"] = self.clock.rfc3339()
            stock["deactivate_reason"] = reason or "sandbox"
        return stock
