"""Orders and refunds of the sandbox: the payment state machines, on an injected clock, with no HTTP.

Trade states (``trade_state``): ``NOTPAY → SUCCESS | CLOSED | PAYERROR``, ``SUCCESS → REFUND`` (a refund was
applied for); an order whose ``time_expire`` has passed on the clock reads ``CLOSED``. Refunds:
``PROCESSING → SUCCESS | ABNORMAL | CLOSED`` when their outcome falls due on the clock (or at once, by
:meth:`Ledger.settle_refund`). Every operation takes an already schema-checked body and returns the answer
document, or raises :class:`~wechatpay_chain.sandbox.Failure` with the status and code WeChat Pay sends.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .._clock import rfc3339
from .._errors import Failure, param_error

__all__ = ["KINDS", "REFUND_OUTCOMES", "Ledger", "Order", "Refund"]

#: Order kinds → ``trade_type``.
KINDS = {"jsapi": "JSAPI", "native": "NATIVE", "app": "APP", "h5": "MWEB"}
REFUND_OUTCOMES = ("SUCCESS", "ABNORMAL", "CLOSED")
_STATE_DESC = {
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
    "PAYERROR": "支付失败(其他原因，如银行返回失败)",
}
_RECEIVED = {"SUCCESS": "支付用户零钱", "ABNORMAL": "支付用户零钱", "CLOSED": "支付用户零钱"}
_CST = _dt.timezone(_dt.timedelta(hours=8))


def parse_time(text: str) -> float:
    """An RFC 3339 time (``2025-01-01T10:00:00+08:00``) as a POSIX timestamp."""
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fingerprint(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(dict(body), option=orjson.OPT_SORT_KEYS)


@dataclass
class Order:
    """One order as placed, and what happened to it since."""

    kind: str
    partner: bool
    body: dict[str, Any]
    prepay_id: str
    created: float
    fingerprint: bytes
    answer: dict[str, str]
    expire_at: float | None = None
    state: str = "NOTPAY"
    state_desc: str = _STATE_DESC["NOTPAY"]
    transaction_id: str = ""
    success_time: float | None = None
    openid: str = ""
    payer_total: int = 0
    bank_type: str = ""
    refunds: list[Refund] = field(default_factory=list)

    @property
    def out_trade_no(self) -> str:
        return str(self.body["out_trade_no"])

    @property
    def total(self) -> int:
        return int(self.body["amount"]["total"])

    @property
    def owner(self) -> str:
        """``mchid`` for a direct merchant, ``sp_mchid/sub_mchid`` for a service provider's sub-merchant."""
        return owner_of(self.body)

    @property
    def appid(self) -> str:
        return str(self.body.get("sub_appid") or self.body.get("sp_appid") or self.body.get("appid", ""))

    def refunded(self) -> int:
        """Amount already refunded or being refunded (closed refunds give their amount back)."""
        return sum(r.amount for r in self.refunds if r.status != "CLOSED")

    def document(self) -> dict[str, Any]:
        """The query answer: ids, state, then the order as placed (``payer``/``amount`` as paid)."""
        body = self.body
        ids = ("sp_appid", "sp_mchid", "sub_appid", "sub_mchid") if self.partner else ("appid", "mchid")
        doc: dict[str, Any] = {k: body[k] for k in ids if k in body}
        if self.transaction_id:
            doc["transaction_id"] = self.transaction_id
        doc["trade_type"] = KINDS[self.kind]
        doc["trade_state"] = self.state
        doc["trade_state_desc"] = self.state_desc
        if self.bank_type:
            doc["bank_type"] = self.bank_type
        if self.success_time is not None:
            doc["success_time"] = rfc3339(self.success_time)
        for key in ("description", "attach", "out_trade_no", "time_expire", "notify_url", "goods_tag",
                    "limit_pay", "support_fapiao", "detail", "scene_info"):
            if key in body:
                doc[key] = copy.deepcopy(body[key])
        amount: dict[str, Any] = {"total": self.total, "currency": body["amount"].get("currency", "CNY")}
        if self.state in ("SUCCESS", "REFUND"):
            amount.update(payer_total=self.payer_total, payer_currency="CNY")
        doc["amount"] = amount
        if self.openid:
            doc["payer"] = {"sp_openid": self.openid} if self.partner else {"openid": self.openid}
            sub = body.get("payer", {}).get("sub_openid")
            if self.partner and sub:
                doc["payer"]["sub_openid"] = sub
        if self.partner and "settle_info" in body:
            doc["settle_info"] = copy.deepcopy(body["settle_info"])
        return doc

    def notification_resource(self) -> dict[str, Any]:
        """The decrypted ``resource`` of ``TRANSACTION.SUCCESS``."""
        body = self.body
        ids = ("sp_appid", "sp_mchid", "sub_appid", "sub_mchid") if self.partner else ("appid", "mchid")
        doc: dict[str, Any] = {k: body[k] for k in ids if k in body}
        doc.update(
            out_trade_no=self.out_trade_no,
            transaction_id=self.transaction_id,
            trade_type=KINDS[self.kind],
            trade_state="SUCCESS",
            trade_state_desc=_STATE_DESC["SUCCESS"],
            bank_type=self.bank_type,
        )
        if "attach" in body:
            doc["attach"] = body["attach"]
        doc["success_time"] = rfc3339(self.success_time or 0.0)
        if self.partner:
            payer = {"sp_openid": self.openid}
            if body.get("payer", {}).get("sub_openid"):
                payer["sub_openid"] = body["payer"]["sub_openid"]
            doc["payer"] = payer
        else:
            doc["payer"] = {"openid": self.openid}
        doc["amount"] = {"total": self.total, "payer_total": self.payer_total, "currency": "CNY",
                         "payer_currency": "CNY"}
        return doc


@dataclass
class Refund:
    """One refund of an order; ``outcome`` is what it becomes at ``due``."""

    order: Order
    body: dict[str, Any]
    refund_id: str
    created: float
    fingerprint: bytes
    due: float
    outcome: str
    status: str = "PROCESSING"
    success_time: float | None = None

    @property
    def out_refund_no(self) -> str:
        return str(self.body["out_refund_no"])

    @property
    def amount(self) -> int:
        return int(self.body["amount"]["refund"])

    @property
    def notify_url(self) -> str:
        return str(self.body.get("notify_url", ""))

    def payer_refund(self) -> int:
        """The payer's share of the refund (the rest comes out of the discount, pro rata)."""
        order = self.order
        if order.payer_total >= order.total:
            return self.amount
        return self.amount * order.payer_total // order.total

    def document(self) -> dict[str, Any]:
        order = self.order
        payer_refund = self.payer_refund()
        doc: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": order.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": _RECEIVED.get(self.status, "支付用户零钱"),
        }
        if self.success_time is not None:
            doc["success_time"] = rfc3339(self.success_time)
        doc["create_time"] = rfc3339(self.created)
        doc["status"] = self.status
        if "funds_account" in self.body:
            doc["funds_account"] = self.body["funds_account"]
        amount: dict[str, Any] = {"total": order.total, "refund": self.amount}
        if "from" in self.body["amount"]:
            amount["from"] = copy.deepcopy(self.body["amount"]["from"])
        amount.update(
            payer_total=order.payer_total,
            payer_refund=payer_refund,
            settlement_refund=self.amount,
            settlement_total=order.total,
            discount_refund=self.amount - payer_refund,
            currency="CNY",
        )
        doc["amount"] = amount
        return doc

    def notification_resource(self) -> dict[str, Any]:
        """The decrypted ``resource`` of ``REFUND.SUCCESS`` / ``REFUND.ABNORMAL`` / ``REFUND.CLOSED``."""
        order = self.order
        body = order.body
        doc: dict[str, Any] = (
            {"sp_mchid": body["sp_mchid"], "sub_mchid": body["sub_mchid"]} if order.partner
            else {"mchid": body["mchid"]}
        )
        doc.update(
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            out_refund_no=self.out_refund_no,
            refund_id=self.refund_id,
            refund_status=self.status,
        )
        if self.success_time is not None:
            doc["success_time"] = rfc3339(self.success_time)
        doc["user_received_account"] = _RECEIVED.get(self.status, "支付用户零钱")
        doc["amount"] = {
            "total": order.total,
            "refund": self.amount,
            "payer_total": order.payer_total,
            "payer_refund": self.payer_refund(),
        }
        return doc


def owner_of(body: Mapping[str, Any]) -> str:
    if "sp_mchid" in body:
        return f"{body['sp_mchid']}/{body['sub_mchid']}"
    return str(body["mchid"])


def _not_found(what: str) -> Failure:
    return Failure(404, "ORDER_NOT_EXIST", f"订单不存在: {what}")


@dataclass
class Ledger:
    """Every order and refund of the sandbox, keyed by owner and the merchant's number."""

    clock: Callable[[], float] = time.time
    #: Seconds from a refund's application to its outcome, and the outcome (tests set both).
    refund_delay: float = 1.0
    refund_outcome: str = "SUCCESS"
    orders: dict[tuple[str, str], Order] = field(default_factory=dict)
    by_transaction: dict[str, Order] = field(default_factory=dict)
    by_prepay: dict[str, Order] = field(default_factory=dict)
    refunds: dict[tuple[str, str], Refund] = field(default_factory=dict)
    _serial: int = 0

    def reset(self) -> None:
        self.orders.clear()
        self.by_transaction.clear()
        self.by_prepay.clear()
        self.refunds.clear()
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _stamp(self) -> str:
        return _dt.datetime.fromtimestamp(self.clock(), _CST).strftime("%Y%m%d%H%M%S")

    # -- orders ---------------------------------------------------------------------------------------------
    def place(self, kind: str, body: Mapping[str, Any], mchid: str, base_url: str) -> dict[str, str]:
        """Place (or re-submit) an order: the ``prepay_id`` / ``code_url`` / ``h5_url`` answer."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        partner = "sp_mchid" in body
        signer_field = "sp_mchid" if partner else "mchid"
        if body[signer_field] != mchid:
            raise param_error(signer_field, f"must be the merchant that signed the request ({mchid})")
        key = (owner_of(body), body["out_trade_no"])
        existing = self.orders.get(key)
        print_ = fingerprint(body)
        if existing is not None:
            self._expire(existing)
            if existing.state in ("SUCCESS", "REFUND"):
                raise Failure(400, "ORDERPAID", f"该订单已支付: {body['out_trade_no']}")
            if existing.state == "CLOSED":
                raise Failure(400, "ORDER_CLOSED", f"该订单已关闭: {body['out_trade_no']}")
            if existing.fingerprint != print_ or existing.kind != kind:
                raise Failure(
                    403, "OUT_TRADE_NO_USED", f"商户订单号重复: {body['out_trade_no']} 已用于另一笔不同的下单请求",
                    {"field": "/out_trade_no", "location": "body", "issue": "used by a different request"},
                )
            return dict(existing.answer)
        now = self.clock()
        expire_at = parse_time(body["time_expire"]) if "time_expire" in body else None
        if expire_at is not None and expire_at <= now:
            raise param_error("time_expire", "must be in the future")
        prepay_id = f"wx{self._stamp()}{self._next():010d}{os.urandom(2).hex()}"
        checkout = f"{base_url}_sandbox/checkout/{prepay_id}"
        answer = {"jsapi": {"prepay_id": prepay_id}, "app": {"prepay_id": prepay_id},
                  "native": {"code_url": checkout}, "h5": {"h5_url": checkout}}[kind]
        order = Order(kind, partner, copy.deepcopy(dict(body)), prepay_id, now, print_, answer, expire_at)
        self.orders[key] = order
        self.by_prepay[prepay_id] = order
        return dict(answer)

    def _expire(self, order: Order) -> None:
        if order.state == "NOTPAY" and order.expire_at is not None and self.clock() >= order.expire_at:
            order.state, order.state_desc = "CLOSED", "订单已过期(time_expire)"

    def _owned(self, order: Order | None, owner: str, what: str) -> Order:
        if order is None or order.owner != owner:
            raise _not_found(what)
        self._expire(order)
        return order

    def find(self, owner: str, *, out_trade_no: str | None = None, transaction_id: str | None = None) -> Order:
        """The order of ``owner`` (``mchid`` or ``sp_mchid/sub_mchid``) by either number, else 404."""
        if transaction_id is not None:
            return self._owned(self.by_transaction.get(transaction_id), owner, transaction_id)
        assert out_trade_no is not None  # noqa: S101 - callers give one of the two
        return self._owned(self.orders.get((owner, out_trade_no)), owner, out_trade_no)

    def query(self, owner: str, **number: str) -> dict[str, Any]:
        return self.find(owner, **number).document()

    def close(self, owner: str, out_trade_no: str) -> None:
        """Close an unpaid order (204). Closing a closed order is accepted again; a paid one is refused."""
        order = self.find(owner, out_trade_no=out_trade_no)
        if order.state in ("SUCCESS", "REFUND"):
            raise Failure(400, "ORDERPAID", f"订单已支付，不能关闭: {out_trade_no}")
        if order.state != "CLOSED":
            order.state, order.state_desc = "CLOSED", "已关闭"

    # -- the payer ------------------------------------------------------------------------------------------
    def order_for(self, *, out_trade_no: str | None = None, prepay_id: str | None = None,
                  transaction_id: str | None = None, owner: str | None = None) -> Order:
        """Find an order for the payer by whichever number the caller has (``ValueError`` if none matches)."""
        order: Order | None = None
        if prepay_id is not None:
            order = self.by_prepay.get(prepay_id)
        elif transaction_id is not None:
            order = self.by_transaction.get(transaction_id)
        elif out_trade_no is not None:
            matches = [o for (who, no), o in self.orders.items() if no == out_trade_no and owner in (None, who)]
            if len(matches) > 1:
                raise ValueError(f"out_trade_no {out_trade_no} is used by several merchants; pass owner=")
            order = matches[0] if matches else None
        else:
            raise ValueError("give out_trade_no=, prepay_id= or transaction_id=")
        if order is None:
            given = {"prepay_id": prepay_id, "transaction_id": transaction_id, "out_trade_no": out_trade_no}
            name, value = next((k, v) for k, v in given.items() if v is not None)  # the one looked up
            raise LookupError(f"no order with {name} {value!r} in this sandbox")
        self._expire(order)
        return order

    def _payable(self, order: Order) -> None:
        if order.state != "NOTPAY":
            raise Failure(400, "ORDER_CLOSED" if order.state == "CLOSED" else "ORDERPAID"
                          if order.state in ("SUCCESS", "REFUND") else "TRADE_ERROR",
                          f"订单状态为 {order.state}，不能支付")

    def pay(self, order: Order, *, openid: str | None = None, amount: int | None = None,
            when: float | None = None, bank_type: str = "OTHERS") -> Order:
        """The payer pays: ``NOTPAY → SUCCESS`` (``amount`` is what the payer paid, ≤ total; the rest is a
        discount). Raises :class:`Failure` if the order cannot be paid."""
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise TypeError(f"amount must be integer fen (分, 1 元 = 100 分), got {amount!r}")
        self._payable(order)
        paid = order.total if amount is None else amount
        if not 1 <= paid <= order.total:
            raise ValueError(f"amount must be between 1 and the order total {order.total}")
        payer = order.body.get("payer", {})
        order.openid = openid or payer.get("openid") or payer.get("sp_openid") or f"o-sandbox-{os.urandom(6).hex()}"
        order.payer_total = paid
        order.bank_type = bank_type
        order.success_time = self.clock() if when is None else when
        order.transaction_id = f"42000{self._stamp()[:8]}{self._next():015d}"
        order.state, order.state_desc = "SUCCESS", _STATE_DESC["SUCCESS"]
        self.by_transaction[order.transaction_id] = order
        return order

    def fail(self, order: Order, reason: str = "银行返回失败") -> Order:
        """The payment fails: ``NOTPAY → PAYERROR``."""
        self._payable(order)
        order.state, order.state_desc = "PAYERROR", f"支付失败({reason})"
        return order

    def cancel(self, order: Order) -> Order:
        """The payer gives up: the order stays ``NOTPAY`` (as on WeChat Pay) until it is closed or expires."""
        self._payable(order)
        order.state_desc = "用户取消支付"
        return order

    # -- refunds --------------------------------------------------------------------------------------------
    def refund(self, body: Mapping[str, Any], mchid: str, *, outcome: str | None = None) -> Refund:
        """Apply for a refund (answer status ``PROCESSING``); ``out_refund_no`` re-sent with the same body
        answers the same refund."""
        owner = f"{mchid}/{body['sub_mchid']}" if "sub_mchid" in body else mchid
        if "transaction_id" in body:
            order = self.find(owner, transaction_id=body["transaction_id"])
        elif "out_trade_no" in body:
            order = self.find(owner, out_trade_no=body["out_trade_no"])
        else:
            raise param_error("transaction_id", "give transaction_id or out_trade_no")
        key = (owner, body["out_refund_no"])
        print_ = fingerprint(body)
        existing = self.refunds.get(key)
        if existing is not None:
            if existing.fingerprint != print_:
                raise Failure(
                    400, "INVALID_REQUEST", f"out_refund_no {body['out_refund_no']} 已用于另一笔不同的退款请求",
                    {"field": "/out_refund_no", "location": "body", "issue": "used by a different request"},
                )
            return existing
        if order.state not in ("SUCCESS", "REFUND"):
            raise Failure(400, "INVALID_REQUEST", f"订单状态为 {order.state}，未支付的订单不能退款")
        amount = body["amount"]
        if amount["total"] != order.total:
            raise param_error("amount.total", f"must be the order total {order.total}")
        left = order.total - order.refunded()
        if amount["refund"] > left:
            raise Failure(
                400, "INVALID_REQUEST", f"退款金额超过可退金额: 申请 {amount['refund']}，可退 {left}",
                {"field": "/amount/refund", "location": "body", "issue": f"must be ≤ {left}"},
            )
        chosen = outcome or self.refund_outcome
        if chosen not in REFUND_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(REFUND_OUTCOMES)}")
        now = self.clock()
        refund = Refund(order, copy.deepcopy(dict(body)), f"50300{self._stamp()[:8]}{self._next():016d}", now,
                        print_, now + self.refund_delay, chosen)
        order.refunds.append(refund)
        order.state, order.state_desc = "REFUND", _STATE_DESC["REFUND"]
        self.refunds[key] = refund
        return refund

    def find_refund(self, owner: str, out_refund_no: str) -> Refund:
        refund = self.refunds.get((owner, out_refund_no))
        if refund is None:
            raise Failure(404, "RESOURCE_NOT_EXISTS", f"退款单不存在: {out_refund_no}")
        return refund

    def settle_refund(self, refund: Refund, outcome: str | None = None) -> bool:
        """Give a processing refund its outcome now; ``False`` if it already had one."""
        if refund.status != "PROCESSING":
            return False
        status = outcome or refund.outcome
        if status not in REFUND_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(REFUND_OUTCOMES)}")
        refund.status = status
        if status == "SUCCESS":
            refund.success_time = self.clock()
        return True

    def due_refunds(self) -> list[Refund]:
        """Settle every refund whose outcome is due on the clock; return them (to notify)."""
        now = self.clock()
        return [r for r in self.refunds.values() if r.status == "PROCESSING" and r.due <= now and self.settle_refund(r)]

    def next_due(self) -> float | None:
        """When the next processing refund falls due (``None``: none pending)."""
        pending = [r.due for r in self.refunds.values() if r.status == "PROCESSING"]
        return min(pending) if pending else None
