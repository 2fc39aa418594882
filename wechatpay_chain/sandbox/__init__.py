"""An embedded WeChat Pay simulator (payments, refunds, bills, product coupons) for offline development and tests.

``async with Sandbox() as sb:`` (or ``with SyncSandbox() as sb:``) starts it on a loopback port; requests are
checked like WeChat Pay checks them and answers are signed like WeChat Pay signs them. Standalone:
``python -m wechatpay_chain.sandbox --port 8080 --write-config DIR``. See docs/sandbox.md.
"""

from ._clock import CHINA, Clock
from ._engine import MODES, Answer, Call, Engine, Handler, Idempotency, Route, Seen
from ._errors import Failure, invalid, param_error
from ._faults import KINDS, Faults
from ._notify import COUPON_SCHEDULE, PAYMENT_SCHEDULE, Attempt, Delivery, Notifications
from ._server import DEFAULT_MCHID, DEFAULT_PUB_KEY_ID, NotifyResult, Sandbox, SyncSandbox
from .product_coupon import Store

__all__ = [
    "CHINA",
    "COUPON_SCHEDULE",
    "DEFAULT_MCHID",
    "DEFAULT_PUB_KEY_ID",
    "KINDS",
    "MODES",
    "PAYMENT_SCHEDULE",
    "Answer",
    "Attempt",
    "Call",
    "Clock",
    "Delivery",
    "Engine",
    "Failure",
    "Faults",
    "Handler",
    "Idempotency",
    "Notifications",
    "NotifyResult",
    "Route",
    "Sandbox",
    "Seen",
    "Store",
    "SyncSandbox",
    "invalid",
    "param_error",
]
