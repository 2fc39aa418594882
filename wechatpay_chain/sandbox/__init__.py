"""An embedded WeChat Pay simulator of the product-coupon (商品券) APIs, for offline development and tests.

``async with Sandbox() as sb:`` (or ``with SyncSandbox() as sb:``) starts it on a loopback port; requests are
checked like WeChat Pay checks them and answers are signed like WeChat Pay signs them. Standalone:
``python -m wechatpay_chain.sandbox --port 8080 --write-config DIR``. See docs/sandbox.md.
"""

from ._app import MODES, Seen
from ._faults import KINDS, Faults
from ._server import DEFAULT_MCHID, DEFAULT_PUB_KEY_ID, NotifyResult, Sandbox, SyncSandbox
from ._store import Failure, Store

__all__ = [
    "DEFAULT_MCHID",
    "DEFAULT_PUB_KEY_ID",
    "KINDS",
    "MODES",
    "Failure",
    "Faults",
    "NotifyResult",
    "Sandbox",
    "Seen",
    "Store",
    "SyncSandbox",
]
