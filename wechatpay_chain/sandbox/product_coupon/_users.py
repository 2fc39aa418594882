"""User coupons (用户商品券) and user coupon bundles: sending, the lifecycle, pre-send tokens, notifications.

Lifecycle (sandbox reading of the pages): send → ``CONFIRMING`` (WeChat Pay notifies ``PRODUCT_COUPON_SP.SEND``
and waits for the brand) → confirm → ``PENDING`` until ``valid_begin_time`` (``wait_days_after_receive``,
``available_begin_time``) then ``EFFECTIVE`` → use → ``USED`` (a sequential coupon after its last use) →
return → ``EFFECTIVE`` again; deactivate → ``DEACTIVATED``; past ``valid_end_time`` an unused coupon reads
``EXPIRED``. Time is the sandbox clock, so tests move through all of it without sleeping.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import Failure, invalid
from ._state import Store, answer, paginate

__all__ = ["Users"]

SEND_EVENT = "PRODUCT_COUPON_SP.SEND"
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_DAY = 86400.0


def _parse(text: str) -> float:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Users:
    """Every user coupon by ``(openid, coupon_code)``, user coupon bundles and pre-send tokens."""

    store: Store
    #: Called with ``(appid, openid, resource)`` after each send (the family wires it to the notifier).
    on_send: Callable[[Mapping[str, Any]], None] | None = None
    coupons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    bundles: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _serial: int = 0

    def reset(self) -> None:
        self.coupons.clear()
        self.bundles.clear()
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- time ---------------------------------------------------------------------------------------------
    def _window(self, stock: Mapping[str, Any], received: float) -> tuple[float, float]:
        rule = stock.get("single_usage_rule") or stock.get("sequential_usage_rule") or stock.get(
            "progressive_bundle_usage_rule") or {}
        period = rule.get("coupon_available_period") or {}
        begin = _parse(period["available_begin_time"]) if "available_begin_time" in period else received
        end = _parse(period["available_end_time"]) if "available_end_time" in period else received + 365 * _DAY
        start = max(begin, received + period.get("wait_days_after_receive", 0) * _DAY)
        if period.get("available_days"):
            end = min(end, start + period["available_days"] * _DAY)
        if period.get("available_seconds"):
            end = min(end, received + period["available_seconds"])
        return start, end

    def _period(self, coupon: Mapping[str, Any]) -> Mapping[str, Any]:
        stock = self.store.stocks[coupon["_product_coupon_id"]][coupon["_stock_id"]]
        rule = stock.get("single_usage_rule") or stock.get("sequential_usage_rule") or stock.get(
            "progressive_bundle_usage_rule") or {}
        return rule.get("coupon_available_period") or {}

    def _closed_now(self, coupon: Mapping[str, Any]) -> str:
        """Why the coupon cannot be used at this moment of its validity ("" if it can): the weekly days and
        hours and the irregular periods of ``coupon_available_period``, in China time on the sandbox clock."""
        period, clock = self._period(coupon), self.store.clock
        now = clock.china_now()
        weekly = period.get("weekly_available_period") or {}
        days = weekly.get("day_list")
        if days and _WEEKDAYS[now.weekday()] not in days:
            return f"only on {', '.join(days)} (today is {_WEEKDAYS[now.weekday()]})"
        hours = weekly.get("day_period_list")
        second = now.hour * 3600 + now.minute * 60 + now.second
        if hours and not any(h["begin_time"] <= second <= h["end_time"] for h in hours):
            return "not at this time of day (day_period_list)"
        irregular = period.get("irregular_available_period_list")
        if irregular and not any(_parse(p["begin_time"]) <= clock.now() <= _parse(p["end_time"]) for p in irregular):
            return "outside every irregular_available_period_list entry"
        return ""

    def _refresh(self, coupon: dict[str, Any]) -> dict[str, Any]:
        """Apply what the clock changed: ``PENDING`` → ``EFFECTIVE`` at the start, ``EXPIRED`` after the end."""
        now = self.store.clock.now()
        if coupon["coupon_state"] in ("PENDING", "EFFECTIVE"):
            if now >= coupon["_end"]:
                coupon["coupon_state"] = "EXPIRED"
            elif coupon["coupon_state"] == "PENDING" and now >= coupon["_begin"]:
                coupon["coupon_state"] = "EFFECTIVE"
        return coupon

    # -- lookups ----------------------------------------------------------------------------------------------
    def get(self, openid: str, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.coupons.get((openid, code))
        if coupon is None or coupon["brand_id"] != body["brand_id"]:
            raise Failure(404, "NOT_FOUND", f"用户 {openid} 没有券 {code}")
        for key in ("product_coupon_id", "stock_id", "appid"):
            if key in body and body[key] != coupon["_" + key]:
                raise Failure(404, "NOT_FOUND", f"券 {code} 的 {key} 不是 {body[key]}")
        return self._refresh(coupon)

    def _doc(self, coupon: dict[str, Any], op: str) -> dict[str, Any]:
        store = self.store
        stock = store.view(store.stocks[coupon["_product_coupon_id"]][coupon["_stock_id"]])
        doc = {**coupon, "product_coupon": store.coupons[coupon["_product_coupon_id"]], "stock": stock}
        return answer(op, doc)

    # -- sending ------------------------------------------------------------------------------------------------
    def _sendable(self, openid: str, body: Mapping[str, Any], stock_id: str) -> dict[str, Any]:
        """The stock, if one more coupon may go to ``openid`` now (total, daily and per-user budgets)."""
        store = self.store
        store.check_brand(body["brand_id"])
        coupon = store.coupon(body["product_coupon_id"], body["brand_id"])
        stock = store.today(store.stock(coupon["product_coupon_id"], stock_id, body["brand_id"]))
        if coupon["state"] != "EFFECTIVE":
            raise invalid("product_coupon_id", f"商品券状态为 {coupon['state']}，不能发放", "INVALID_REQUEST")
        if stock["state"] != "SENDING":
            raise invalid("stock_id", f"批次状态为 {stock['state']}，不能发放")
        rule, sent = stock["stock_send_rule"], stock["sent_count_info"]
        if sent["total_count"] >= rule["max_count"]:
            raise invalid("stock_id", f"批次已发放 {sent['total_count']} 张，达到发放总上限 max_count")
        if rule.get("max_count_per_day") and sent["today_count"] >= rule["max_count_per_day"]:
            raise invalid("stock_id", f"批次今日已发放 {sent['today_count']} 张，达到每日上限 max_count_per_day")
        if rule.get("max_count_per_user") and stock["_per_user"].get(openid, 0) >= rule["max_count_per_user"]:
            raise invalid("openid", "用户领取次数已达到 max_count_per_user")
        if stock.get("coupon_code_mode") == "UPLOAD" and not store.codes.get(stock["stock_id"]):
            raise invalid("stock_id", "批次预上传的券Code已用完")
        return stock

    def _issue(self, openid: str, body: Mapping[str, Any], stock: dict[str, Any], extra: Mapping[str, Any],
               ) -> dict[str, Any]:
        store = self.store
        mode = stock.get("coupon_code_mode")
        if mode == "UPLOAD":
            code = store.codes[stock["stock_id"]].pop(0)
            stock["coupon_code_count_info"]["available_count"] -= 1
        elif mode == "API_ASSIGN":
            code = body.get("coupon_code") or ""
            if not code:
                raise invalid("coupon_code", "required when the stock's coupon_code_mode is API_ASSIGN")
        else:
            code = f"{stock['stock_id']}{self._next():07d}"
        if (openid, code) in self.coupons or any(c == code for _, c in self.coupons):
            raise Failure(400, "ALREADY_EXISTS", f"券Code {code} 已被使用")
        now = store.clock.now()
        begin, end = self._window(stock, now)
        coupon_doc = store.coupons[stock["product_coupon_id"]]
        coupon = {
            "coupon_code": code, "coupon_state": "CONFIRMING", "valid_begin_time": store.clock.rfc3339(begin),
            "valid_end_time": store.clock.rfc3339(end), "receive_time": store.clock.rfc3339(now),
            "send_request_no": body["send_request_no"], "send_channel": "API", "brand_id": body["brand_id"],
            "_product_coupon_id": stock["product_coupon_id"], "_stock_id": stock["stock_id"],
            "_appid": body["appid"], "_openid": openid, "_begin": begin, "_end": end, **extra,
        }
        for key in ("attach", "coupon_tag_info"):
            if key in body:
                coupon[key] = copy.deepcopy(body[key])
        if coupon_doc["usage_mode"] == "SEQUENTIAL":
            count = coupon_doc.get("sequential_usage_info", {}).get("count", 1)
            coupon["sequential_usage_detail"] = {"total_count": count, "used_count": 0, "detail_item_list": []}
        sent = stock["sent_count_info"]
        sent["total_count"] += 1
        sent["today_count"] += 1
        stock["_per_user"][openid] = stock["_per_user"].get(openid, 0) + 1
        self.coupons[(openid, code)] = coupon
        if self.on_send is not None:
            resource = {
                "brand_id": body["brand_id"], "coupon_code": code, "product_coupon_id": stock["product_coupon_id"],
                "stock_id": stock["stock_id"], "appid": body["appid"], "openid": openid,
                "unionid": "o" + hashlib.sha256(openid.encode()).hexdigest()[:27],
                "receive_time": coupon["receive_time"],
                "send_request_no": body["send_request_no"], "send_channel": "API",
                "valid_begin_time": coupon["valid_begin_time"], "valid_end_time": coupon["valid_end_time"],
            }
            if "stock_bundle_info" in stock:
                resource["stock_bundle_id"] = stock["stock_bundle_info"]["stock_bundle_id"]
            if "user_product_coupon_bundle_info" in extra:
                resource["user_coupon_bundle_id"] = extra["user_product_coupon_bundle_info"]["user_coupon_bundle_id"]
            if "attach" in body:
                resource["attach"] = body["attach"]
            self.on_send(resource)
        return coupon

    def send(self, openid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stock = self._sendable(openid, body, body["stock_id"])
        if stock.get("coupon_code_mode") != "API_ASSIGN" and body.get("coupon_code"):
            raise invalid("coupon_code", "only for a stock whose coupon_code_mode is API_ASSIGN")
        return self._doc(self._issue(openid, body, stock, {}), "send_user_coupon")

    @staticmethod
    def token(openid: str, body: Mapping[str, Any]) -> str:
        """Same parameters (apart from ``send_request_no``) → same token, as the pre-send pages say."""
        same = {k: v for k, v in body.items() if k != "send_request_no"}
        digest = hashlib.sha256(repr((openid, sorted(same.items()))).encode()).hexdigest()
        return "sandbox_token_" + digest[:40]

    def pre_send(self, openid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._sendable(openid, body, body["stock_id"])
        return answer("pre_send_user_coupon", {"token": self.token(openid, body)})

    def _bundle_stocks(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.store.bundle(body["product_coupon_id"], body["stock_bundle_id"], body["brand_id"])

    def pre_send_bundle(self, openid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        for stock in self._bundle_stocks(body):
            self._sendable(openid, body, stock["stock_id"])
        return answer("pre_send_user_coupon_bundle", {"token": self.token(openid, body)})

    def send_bundle(self, openid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stocks = self._bundle_stocks(body)
        for stock in stocks:  # all or nothing
            self._sendable(openid, body, stock["stock_id"])
        bundle_id = str(8100000000000000000 + self._next())
        codes = []
        for index, stock in enumerate(stocks):
            info = {"user_coupon_bundle_id": bundle_id, "user_coupon_bundle_index": index,
                    "total_count": len(stocks), "used_count": 0}
            coupon = self._issue(openid, body, stock, {"user_product_coupon_bundle_info": info})
            codes.append(coupon["coupon_code"])
        self.bundles[(openid, bundle_id)] = codes
        return self._bundle_doc(openid, bundle_id, "send_user_coupon_bundle")

    def _bundle_doc(self, openid: str, bundle_id: str, op: str) -> dict[str, Any]:
        rows = []
        for code in self.bundles[(openid, bundle_id)]:
            coupon = self._refresh(self.coupons[(openid, code)])
            stock = self.store.stocks[coupon["_product_coupon_id"]][coupon["_stock_id"]]
            rows.append({**coupon, "product_coupon": self.store.coupons[coupon["_product_coupon_id"]], "stock": stock})
        return answer(op, {"user_coupon_bundle_id": bundle_id, "user_product_coupon_list": rows})

    def deactivate_bundle(self, openid: str, bundle_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        codes = self.bundles.get((openid, bundle_id))
        if codes is None:
            raise Failure(404, "NOT_FOUND", f"用户 {openid} 没有券组 {bundle_id}")
        coupons = [self._refresh(self.coupons[(openid, c)]) for c in codes]
        if coupons[0]["brand_id"] != body["brand_id"] or coupons[0]["_product_coupon_id"] != body["product_coupon_id"]:
            raise Failure(404, "NOT_FOUND", f"券组 {bundle_id} 不属于该品牌或商品券")
        for coupon in coupons:
            if coupon["coupon_state"] not in ("DEACTIVATED", "USED", "EXPIRED"):
                self._deactivate(coupon, body)
        return self._bundle_doc(openid, bundle_id, "deactivate_user_coupon_bundle")

    # -- lifecycle --------------------------------------------------------------------------------------------
    def confirm(self, openid: str, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.get(openid, code, body)
        if coupon["coupon_state"] != "CONFIRMING":
            raise invalid("", f"券状态为 {coupon['coupon_state']}，只有 CONFIRMING 的券可以确认")
        coupon.update(coupon_state="PENDING", confirm_request_no=body["out_request_no"],
                      confirm_time=self.store.clock.rfc3339())
        self._refresh(coupon)
        return self._doc(coupon, "confirm_user_coupon")

    def use(self, openid: str, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.get(openid, code, body)
        if coupon["coupon_state"] != "EFFECTIVE":
            raise invalid("", f"券状态为 {coupon['coupon_state']}，当前不可核销")
        closed = self._closed_now(coupon)
        if closed:
            raise invalid("", f"当前不在券的可用时间内: {closed}")
        usage = {"use_request_no": body["out_request_no"], "use_time": body["use_time"],
                 "associated_order_info": copy.deepcopy(body["associated_order_info"])}
        detail = coupon.get("sequential_usage_detail")
        if detail is not None:
            index = body.get("sequential_coupon_index", detail["used_count"])
            if index != detail["used_count"]:
                raise invalid("sequential_coupon_index", f"the next use is index {detail['used_count']}")
            detail["used_count"] += 1
            detail["detail_item_list"].append({"detail_state": "USED", "valid_begin_time": coupon["valid_begin_time"],
                                               "valid_end_time": coupon["valid_end_time"], **usage})
            if detail["used_count"] >= detail["total_count"]:
                coupon["coupon_state"] = "USED"
        else:
            coupon["coupon_state"] = "USED"
            coupon["single_usage_detail"] = usage
        return self._doc(coupon, "use_user_coupon")

    def return_(self, openid: str, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.get(openid, code, body)
        detail = coupon.get("sequential_usage_detail")
        returned = {"return_request_no": body["out_request_no"], "return_time": self.store.clock.rfc3339()}
        if detail is not None and detail["used_count"]:
            item = detail["detail_item_list"][-1]
            item.update(detail_state="EFFECTIVE", **returned)
            detail["used_count"] -= 1
            coupon["coupon_state"] = "EFFECTIVE"
        elif coupon["coupon_state"] == "USED" and "single_usage_detail" in coupon:
            coupon["single_usage_detail"].update(returned)
            coupon["coupon_state"] = "EFFECTIVE"
        else:
            raise invalid("", f"券状态为 {coupon['coupon_state']}，只有已核销的券可以退回")
        self._refresh(coupon)
        return self._doc(coupon, "return_user_coupon")

    def _deactivate(self, coupon: dict[str, Any], body: Mapping[str, Any]) -> None:
        coupon.update(coupon_state="DEACTIVATED", deactivate_request_no=body["out_request_no"],
                      deactivate_time=self.store.clock.rfc3339(), deactivate_reason=body["deactivate_reason"])

    def deactivate(self, openid: str, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        coupon = self.get(openid, code, body)
        if coupon["coupon_state"] in ("DEACTIVATED", "USED", "EXPIRED"):
            raise invalid("", f"券状态为 {coupon['coupon_state']}，不能失效")
        self._deactivate(coupon, body)
        return self._doc(coupon, "deactivate_user_coupon")

    def get_one(self, openid: str, code: str, query: Mapping[str, Any]) -> dict[str, Any]:
        return self._doc(self.get(openid, code, query), "get_user_coupon")

    def list(self, openid: str, query: Mapping[str, Any]) -> dict[str, Any]:
        self.store.check_brand(query["brand_id"])
        rows = []
        for (owner, _), coupon in self.coupons.items():
            self._refresh(coupon)
            if owner != openid or coupon["brand_id"] != query["brand_id"] or coupon["_appid"] != query["appid"]:
                continue
            if any(k in query and query[k] != coupon["_" + k] for k in ("product_coupon_id", "stock_id")):
                continue
            if "coupon_state" in query and query["coupon_state"] != coupon["coupon_state"]:
                continue
            rows.append(coupon)
        page = paginate(rows, query, "user_coupon_list")
        store = self.store
        page["user_coupon_list"] = [
            {**c, "product_coupon": store.coupons[c["_product_coupon_id"]],
             "stock": store.stocks[c["_product_coupon_id"]][c["_stock_id"]]}
            for c in page["user_coupon_list"]
        ]
        return answer("list_user_coupons", page)
