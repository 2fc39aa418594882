"""Bundled API schemas: one description per operation, used by the client (``validate=True``) and the sandbox.

``validate_request("POST", "v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}/stocks",
payload)`` raises :class:`~wechatpay_chain.TemplateError` naming the first bad field
(``json.stock.stock_send_rule.max_count: required``); templates without a bundled schema are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._schemas import payments as ps
from ._schemas import product_coupon_pages as pages
from ._schemas.spec import Field, Issue, arr, boolean, check, first_issue, integer, obj, response_issue, string
from .errors import TemplateError

__all__ = [
    "BY_NAME",
    "NOTIFICATIONS",
    "OPERATIONS",
    "PAYMENT_OPERATIONS",
    "Field",
    "Issue",
    "Operation",
    "arr",
    "boolean",
    "find_operation",
    "integer",
    "issues",
    "obj",
    "string",
    "validate_query",
    "validate_request",
    "validate_response",
]

@dataclass(frozen=True)
class Operation:
    """One API operation: its route and the specs of its JSON body (or upload ``meta``), query and 2xx answer."""

    name: str
    method: str
    template: str
    response: Field
    request: Field | None = None
    query: Field | None = None
    title: str = ""
    multipart: bool = False


#: The 35 product-coupon (商品券) operations, generated from the current official pages.
OPERATIONS: tuple[Operation, ...] = tuple(
    Operation(op.name, op.method, op.template, op.response, op.request, op.query, op.title, op.multipart)
    for op in pages.OPERATIONS
)
#: The decrypted ``resource`` of each product-coupon notification event.
NOTIFICATIONS = pages.NOTIFICATIONS
BY_NAME = {op.name: op for op in OPERATIONS}


def _payment_operations() -> Iterator[Operation]:
    """Orders (direct and partner), query, close, refunds, bills: the payment family's tables."""
    for tag, prefix, query, answer in (
        ("", "v3/pay/transactions", ps.QUERY, ps.ORDER),
        ("partner_", "v3/pay/partner/transactions", ps.PARTNER_QUERY, ps.PARTNER_ORDER),
    ):
        for kind in ("jsapi", "native", "app", "h5"):
            body = getattr(ps, (tag.upper() + kind.upper()))
            yield Operation(f"{tag}{kind}_prepay", "POST", f"{prefix}/{kind}", ps.PREPAY_ANSWER[kind], body)
        yield Operation(f"{tag}query_by_id", "GET", prefix + "/id/{transaction_id}", answer, query=query)
        yield Operation(f"{tag}query_by_out_trade_no", "GET", prefix + "/out-trade-no/{out_trade_no}", answer,
                        query=query)
        yield Operation(f"{tag}close", "POST", prefix + "/out-trade-no/{out_trade_no}/close", obj(), request=query)
    yield Operation("refund", "POST", "v3/refund/domestic/refunds", ps.REFUND, ps.REFUND_REQUEST)
    yield Operation("query_refund", "GET", "v3/refund/domestic/refunds/{out_refund_no}", ps.REFUND,
                    query=ps.REFUND_QUERY)
    yield Operation("tradebill", "GET", "v3/bill/tradebill", ps.BILL_RESPONSE, query=ps.BILL_QUERY_TRADE)
    yield Operation("fundflowbill", "GET", "v3/bill/fundflowbill", ps.BILL_RESPONSE, query=ps.BILL_QUERY_FUNDFLOW)


#: The payment family (``validate=True`` checks these bodies too; the sandbox routes them).
PAYMENT_OPERATIONS: tuple[Operation, ...] = tuple(_payment_operations())

_PLACEHOLDER = re.compile(r"\{\+?[^}]*\}")


def _shape(template: str) -> str:
    """Normalise a template for lookup: no scheme/host, no leading slash, placeholders anonymous."""
    text = re.sub(r"^[a-z]+://[^/]+", "", template).lstrip("/").split("?", 1)[0]
    return _PLACEHOLDER.sub("{}", text)


_BY_ROUTE = {(op.method, _shape(op.template)): op for op in (*OPERATIONS, *PAYMENT_OPERATIONS)}


def find_operation(method: str, template: str) -> Operation | None:
    """The bundled operation for ``method`` + ``template`` (any placeholder names), if any."""
    return _BY_ROUTE.get((method.upper(), _shape(template)))


def issues(spec: Field, value: Any) -> Iterator[Issue]:
    """Every issue of ``value`` against ``spec`` (for tests and tooling; servers report the first)."""
    return check(spec, value)


def _raise(where: str, issue: Issue) -> None:
    raise TemplateError(f"{where}.{issue.dotted}: {issue.problem}" if issue.path else f"{where}: {issue.problem}")


def validate_request(method: str, template: str, payload: Any) -> None:
    """Check a JSON body before it is sent; unknown operations are not checked."""
    op = find_operation(method, template)
    if op is None or op.request is None:
        return
    issue = first_issue(op.request, payload)
    if issue is not None:
        _raise("json", issue)


def validate_query(method: str, template: str, query: Any) -> None:
    """Check a query mapping the same way (values as the caller gives them, e.g. ``page_size=20``)."""
    op = find_operation(method, template)
    if op is None or op.query is None:
        return
    issue = first_issue(op.query, dict(query or {}))
    if issue is not None:
        _raise("query", issue)


def validate_response(method: str, template: str, body: Any) -> None:
    """Check a 2xx answer against the documented response table: required members, types, enums.

    Members the table does not list are tolerated (WeChat Pay adds response members over time); unknown
    *request* members are errors.
    """
    op = find_operation(method, template)
    if op is None:
        return
    issue = response_issue(op.response, body)
    if issue is not None:
        _raise("response", issue)
