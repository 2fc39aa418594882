"""The payment family on the engine: routes, the payer (in process and on ``/_sandbox/``), notifications, bills.

``register(engine)`` adds :class:`Payments` as ``engine.states["payments"]`` and one route per operation of
``pay/transactions`` (direct and partner), ``refund/domestic/refunds``, ``bill/*`` and ``billdownload/file``, each
with the schema of its table. Paying fires ``TRANSACTION.SUCCESS`` to the order's ``notify_url``; a refund's
outcome falls due on the sandbox clock and fires ``REFUND.SUCCESS|ABNORMAL|CLOSED`` to the refund's
``notify_url``; both are retried on WeChat Pay's payment schedule (15s/15s/30s/3m/…).
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..._schemas import payments as ps
from ...schema import PAYMENT_OPERATIONS
from .._engine import Answer, Call, Engine
from .._errors import Failure, param_error
from .._notify import PAYMENT_SCHEDULE
from ._bills import fundflow_bill, trade_bill
from ._checkout import render
from ._ledger import Ledger, Order, Refund, parse_time

__all__ = ["STATE", "Payments", "register"]

STATE = "payments"
#: How long a bill ``download_url`` works (business time), as the current bill page says.
BILL_URL_LIFETIME = 300.0
_REFUND_SUMMARY = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}
_CST = _dt.timezone(_dt.timedelta(hours=8))


@dataclass
class BillFile:
    """One applied-for bill: its bytes (uncompressed), whether to gzip them, who may fetch it, until when."""

    plain: bytes
    gzip: bool
    mchid: str
    expires: float


class Payments:
    """The family's state and the payer: ``engine.states["payments"]`` (``sb.payments``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = Ledger(clock=engine.clock.now)
        self.bills: dict[str, BillFile] = {}
        #: Where ``REFUND.*`` goes for a refund applied for without ``notify_url`` (WeChat Pay uses the URL set on
        #: the merchant platform then); ``Sandbox(notify_url=...)`` sets it.
        self.default_notify_url: str | None = None

    def reset(self) -> None:
        self.ledger.reset()
        self.bills.clear()

    # -- the payer ------------------------------------------------------------------------------------------
    def order(self, out_trade_no: str | None = None, *, prepay_id: str | None = None,
              transaction_id: str | None = None, owner: str | None = None) -> Order:
        """Find an order by whichever number you have (``LookupError`` if none)."""
        return self.ledger.order_for(out_trade_no=out_trade_no, prepay_id=prepay_id,
                                     transaction_id=transaction_id, owner=owner)

    def pay(self, out_trade_no: str | None = None, *, prepay_id: str | None = None,
            transaction_id: str | None = None, openid: str | None = None, amount: int | None = None,
            when: float | _dt.datetime | None = None, bank_type: str = "OTHERS") -> dict[str, Any]:
        """The payer pays the order (``NOTPAY → SUCCESS``) and ``TRANSACTION.SUCCESS`` goes to its ``notify_url``.

        ``amount``: what the payer paid in fen (default: the total; less means the rest was a discount).
        ``when``: the payment time (default: the sandbox clock). Returns the order as the query API shows it.
        """
        order = self.order(out_trade_no, prepay_id=prepay_id, transaction_id=transaction_id)
        at = when.timestamp() if isinstance(when, _dt.datetime) else when
        self.ledger.pay(order, openid=openid, amount=amount, when=at, bank_type=bank_type)
        self.engine.notifications.send(
            str(order.body["notify_url"]), "TRANSACTION.SUCCESS", order.notification_resource(),
            summary="支付成功", original_type="transaction", schedule=PAYMENT_SCHEDULE,
        )
        return order.document()

    def fail(self, out_trade_no: str | None = None, *, prepay_id: str | None = None,
             reason: str = "银行返回失败") -> dict[str, Any]:
        """The payment fails (``NOTPAY → PAYERROR``); no notification (WeChat Pay sends none)."""
        return self.ledger.fail(self.order(out_trade_no, prepay_id=prepay_id), reason).document()

    def cancel(self, out_trade_no: str | None = None, *, prepay_id: str | None = None) -> dict[str, Any]:
        """The payer gives up; the order stays ``NOTPAY`` until closed or expired."""
        return self.ledger.cancel(self.order(out_trade_no, prepay_id=prepay_id)).document()

    # -- refunds --------------------------------------------------------------------------------------------
    def refund(self, out_refund_no: str, owner: str | None = None) -> Refund:
        matches = [r for (who, no), r in self.ledger.refunds.items() if no == out_refund_no and owner in (None, who)]
        if len(matches) != 1:
            raise LookupError(f"no single refund {out_refund_no}")
        return matches[0]

    def settle_refund(self, out_refund_no: str, outcome: str | None = None) -> dict[str, Any]:
        """Give a ``PROCESSING`` refund its outcome now (default: the one chosen when it was applied for)."""
        refund = self.refund(out_refund_no)
        if self.ledger.settle_refund(refund, outcome):
            self._notify_refund(refund)
        return refund.document()

    def settle_due(self) -> None:
        """Settle (and notify) every refund whose outcome is due on the sandbox clock."""
        for refund in self.ledger.due_refunds():
            self._notify_refund(refund)

    def _notify_refund(self, refund: Refund) -> None:
        url = refund.notify_url or self.default_notify_url
        if url:
            self.engine.notifications.send(
                url, f"REFUND.{refund.status}", refund.notification_resource(),
                summary=_REFUND_SUMMARY[refund.status], original_type="refund", schedule=PAYMENT_SCHEDULE,
            )

    # -- handlers -------------------------------------------------------------------------------------------
    def place(self, kind: str) -> Callable[[Call], Answer]:
        def handler(call: Call) -> Answer:
            return self.ledger.place(kind, call.json, call.mchid, _base(call))

        return handler

    def query(self, call: Call) -> Answer:
        self.settle_due()
        owner = _owner(call, call.query)
        if "transaction_id" in call.params:
            return self.ledger.query(owner, transaction_id=call.params["transaction_id"])
        return self.ledger.query(owner, out_trade_no=call.params["out_trade_no"])

    def close(self, call: Call) -> Answer:
        self.ledger.close(_owner(call, call.json), call.params["out_trade_no"])
        return 204, None

    def apply_refund(self, call: Call) -> Answer:
        before = len(self.ledger.refunds)
        refund = self.ledger.refund(call.json, call.mchid)
        if len(self.ledger.refunds) > before:
            self.engine.ledger.applied[refund.out_refund_no] += 1
            self.engine.clock.call_at(refund.due, self.settle_due)
        return refund.document()

    def query_refund(self, call: Call) -> Answer:
        self.settle_due()
        sub = call.query.get("sub_mchid")
        owner = f"{call.mchid}/{sub}" if sub else call.mchid
        return self.ledger.find_refund(owner, call.params["out_refund_no"]).document()

    def _bill(self, call: Call, plain: bytes) -> Answer:
        if not plain:
            raise Failure(400, "NO_STATEMENT_EXIST", f"账单不存在: {call.query['bill_date']} 没有交易")
        token = os.urandom(18).hex()
        packed = call.query.get("tar_type") == "GZIP"
        self.bills[token] = BillFile(plain, packed, call.mchid, self.engine.clock.now() + BILL_URL_LIFETIME)
        url = f"{_base(call)}v3/billdownload/file?token={quote(token)}" + ("&tartype=gzip" if packed else "")
        return {"hash_type": "SHA1", "hash_value": hashlib.sha1(plain).hexdigest(), "download_url": url}  # noqa: S324

    def tradebill(self, call: Call) -> Answer:
        day = _bill_date(call)
        q = call.query
        return self._bill(call, trade_bill(self.ledger, day, call.mchid, bill_type=q.get("bill_type", "ALL"),
                                           sub_mchid=q.get("sub_mchid")))

    def fundflowbill(self, call: Call) -> Answer:
        day = _bill_date(call)
        q = call.query
        return self._bill(call, fundflow_bill(self.ledger, day, call.mchid,
                                              account_type=q.get("account_type", "BASIC")))

    def download(self, call: Call) -> web.Response:
        bill = self.bills.get(call.query["token"])
        if bill is None or bill.expires <= self.engine.clock.now():
            raise Failure(400, "INVALID_REQUEST", "下载链接无效或已过期，请重新申请账单")
        if bill.mchid != call.mchid:
            raise Failure(403, "NO_AUTH", "账单不属于请求的商户")
        body = gzip.compress(bill.plain) if bill.gzip else bill.plain
        kind = "application/x-gzip" if bill.gzip else "text/plain"
        return web.Response(body=body, headers={"Content-Type": kind, "Request-ID": os.urandom(16).hex()})

    # -- /_sandbox/ (loopback-only) ------------------------------------------------------------------------
    def add_admin_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("GET", "/_sandbox/checkout/{prepay_id}", self._page)
        router.add_route("POST", "/_sandbox/checkout/{prepay_id}/{action}", self._page_action)
        router.add_route("GET", "/_sandbox/payments/orders", self._admin_orders)
        router.add_route("POST", "/_sandbox/payments/{action}", self._admin_action)

    async def _page(self, request: web.Request) -> web.Response:
        try:
            order = self.order(prepay_id=request.match_info["prepay_id"])
        except LookupError:
            return web.Response(status=404, text="no such order", content_type="text/plain")
        page = render(order, _page_url(request), message=request.query.get("message", ""))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _page_action(self, request: web.Request) -> web.Response:
        prepay_id, action = request.match_info["prepay_id"], request.match_info["action"]
        actions = {"pay": self.pay, "cancel": self.cancel, "fail": self.fail}
        if action not in actions:
            return web.Response(status=404, text="no such action", content_type="text/plain")
        try:
            actions[action](prepay_id=prepay_id)
            message = {"pay": "支付成功 Paid", "cancel": "已取消 Cancelled", "fail": "支付失败 Failed"}[action]
        except LookupError:
            return web.Response(status=404, text="no such order", content_type="text/plain")
        except Failure as failure:
            message = f"{failure.code}: {failure.message}"
        raise web.HTTPSeeOther(f"{_page_url(request)}?message={quote(message)}")

    async def _admin_orders(self, request: web.Request) -> web.Response:
        self.settle_due()
        docs = [{"prepay_id": o.prepay_id, **o.document()} for o in self.ledger.orders.values()]
        return web.json_response(docs)

    async def _admin_action(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/payments/{pay|fail|cancel|settle-refund}`` with the numbers as JSON."""
        try:
            doc = await request.json()
            if not isinstance(doc, dict):
                raise ValueError("the body must be a JSON object")
            action = request.match_info["action"]
            if action == "settle-refund":
                return web.json_response(self.settle_refund(doc["out_refund_no"], doc.get("outcome")))
            numbers = {k: doc[k] for k in ("out_trade_no", "prepay_id") if k in doc}
            if action == "pay":
                extra = {k: doc[k] for k in ("transaction_id", "openid", "amount") if k in doc}
                when = parse_time(doc["when"]) if "when" in doc else None
                return web.json_response(self.pay(**numbers, **extra, when=when))
            if action in ("fail", "cancel"):
                return web.json_response((self.fail if action == "fail" else self.cancel)(**numbers))
            return web.json_response({"code": "NOT_FOUND", "message": f"no such action {action}"}, status=404)
        except Failure as failure:
            return web.json_response(failure.document(), status=failure.status)
        except (LookupError, ValueError, TypeError) as exc:
            return web.json_response({"code": "PARAM_ERROR", "message": str(exc)}, status=400)


def _base(call: Call) -> str:
    return f"http://{call.headers.get('Host', '127.0.0.1')}/"


def _page_url(request: web.Request) -> str:
    return f"http://{request.host}/_sandbox/checkout/{request.match_info['prepay_id']}"


def _owner(call: Call, where: dict[str, Any]) -> str:
    """The order owner named by the query/body, which must be the merchant that signed the request."""
    name = "sp_mchid" if "sp_mchid" in where else "mchid"
    if where[name] != call.mchid:
        raise param_error(name, f"must be the merchant that signed the request ({call.mchid})",
                          "query" if call.method == "GET" else "body")
    return f"{where['sp_mchid']}/{where['sub_mchid']}" if name == "sp_mchid" else call.mchid


def _bill_date(call: Call) -> str:
    text = str(call.query["bill_date"])
    try:
        day = _dt.date.fromisoformat(text)
    except ValueError:
        raise param_error("bill_date", "must be a date such as 2025-01-01", "query") from None
    today = _dt.datetime.fromtimestamp(call.clock.now(), _CST).date()
    if day > today:
        raise Failure(400, "INVALID_REQUEST", f"账单日期 {text} 晚于今天")
    if (today - day).days > 93:
        raise Failure(400, "INVALID_REQUEST", f"只能下载三个月以内的账单: {text}")
    return text


def register(engine: Engine) -> Payments:
    """Add the payment family to ``engine`` (state ``engine.states["payments"]``), one route per operation of
    :data:`wechatpay_chain.schema.PAYMENT_OPERATIONS` plus the bill file download."""
    payments = Payments(engine)
    engine.states[STATE] = payments
    handlers: dict[str, Callable[[Call], Answer]] = {
        "refund": payments.apply_refund,
        "query_refund": payments.query_refund,
        "tradebill": payments.tradebill,
        "fundflowbill": payments.fundflowbill,
    }
    for op in PAYMENT_OPERATIONS:
        name = op.name.removeprefix("partner_")
        if name.endswith("_prepay"):
            handler = payments.place(name.removesuffix("_prepay"))
        elif name.startswith("query_by_"):
            handler = payments.query
        elif name == "close":
            handler = payments.close
        else:
            handler = handlers[op.name]
        engine.route(op.method, "/" + op.template, handler, name=op.name, request=op.request, query=op.query,
                     response=op.response)
    engine.route("GET", "/v3/billdownload/file", payments.download, name="billdownload",
                 query=ps.BILL_DOWNLOAD_QUERY)
    return payments
