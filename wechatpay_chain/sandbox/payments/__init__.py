"""The payment family of the sandbox (基础支付): orders, the payer, refunds, bills, and their notifications.

``register(engine)`` puts it on the engine (``Sandbox`` does); the pure parts work without HTTP:
:class:`Ledger` (order and refund state machines on an injected clock), :func:`trade_bill` /
:func:`fundflow_bill` (WeChat Pay's bill CSV) and :func:`render` (the checkout page).
"""

from __future__ import annotations

from ._bills import fundflow_bill, trade_bill
from ._checkout import render
from ._family import STATE, Payments, register
from ._ledger import KINDS, REFUND_OUTCOMES, Ledger, Order, Refund

__all__ = [
    "KINDS",
    "REFUND_OUTCOMES",
    "STATE",
    "Ledger",
    "Order",
    "Payments",
    "Refund",
    "fundflow_bill",
    "register",
    "render",
    "trade_bill",
]
