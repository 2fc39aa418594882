"""When a failed attempt may be sent again, and how long to wait first.

WeChat Pay's rule (protocol.md §8.3): a write is safe to repeat only with the *same* merchant request number
and body. Reads are always safe; a 429 was not processed, so it is always safe; a 5xx or a lost answer to a
write without a merchant number is not, and surfaces as :class:`~wechatpay_chain.OutcomeUnknown`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["IDEMPOTENCY_KEYS", "RetryPolicy", "is_idempotent", "is_idempotent_v2"]

#: Body fields whose presence makes a write idempotent by WeChat Pay's rules.
IDEMPOTENCY_KEYS = frozenset(
    {
        "out_request_no",
        "out_trade_no",
        "out_refund_no",
        "out_batch_no",
        "out_detail_no",
        "out_bill_no",
        "out_order_no",
        "out_return_no",
        "out_sub_order_no",
        "out_coupon_no",
        "out_apply_no",
        "out_contract_code",
        "out_transfer_no",
        # APIv2 (XML) merchant numbers: transfers and bank payments, red packets.
        "partner_trade_no",
        "mch_billno",
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "DELETE"})
# delay-seconds (RFC 9110: digits; a fraction is tolerated). Not float(): it also takes "nan", "inf", "1_0".
_SECONDS = re.compile(r"\s*[0-9]{1,9}(?:\.[0-9]{1,6})?\s*\Z")


def is_idempotent(method: str, template_names: frozenset[str], body: Any, marked: bool | None) -> bool:
    """Decide whether repeating this request cannot apply it twice."""
    if marked is not None:
        return marked
    if method in _SAFE_METHODS:
        return True
    if any(name in IDEMPOTENCY_KEYS for name in template_names):
        return True
    return isinstance(body, Mapping) and any(key in body for key in IDEMPOTENCY_KEYS)


def is_idempotent_v2(path: str, document: Mapping[str, Any], marked: bool | None) -> bool:
    """The same rule for an APIv2 call, which is a POST even when it only reads.

    Queries and downloads (``…query…``, ``get…``, ``download…`` as the last path segment: ``orderquery``,
    ``refundquery``, ``gettransferinfo``, ``downloadbill`` …) are reads; a write is idempotent when its
    document carries a merchant number (``out_trade_no``, ``out_refund_no``, ``partner_trade_no``,
    ``mch_billno`` …).
    """
    if marked is not None:
        return marked
    last = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if "query" in last or last.startswith(("get", "download")):
        return True
    return any(key in document for key in IDEMPOTENCY_KEYS)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with capped exponential backoff and full jitter.

    ``attempts`` counts every try (1 = never retry); ``budget`` caps the seconds spent waiting and trying.
    """

    attempts: int = 3
    backoff: float = 0.1
    max_backoff: float = 2.0
    budget: float = 30.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if not all(math.isfinite(x) for x in (self.backoff, self.max_backoff, self.budget)):
            raise ValueError("RetryPolicy delays and budget must be finite numbers")
        if self.backoff < 0 or self.max_backoff < 0 or self.budget <= 0:
            raise ValueError("RetryPolicy delays must be non-negative and the budget positive")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``.

        A numeric ``Retry-After`` is honoured only when finite and at most ``4 × max_backoff``; anything else
        (``nan``, ``inf``, negative, huge, a date) is ignored in favour of the normal backoff, so the delay is
        always a finite number the budget check can compare.
        """
        if retry_after and _SECONDS.match(retry_after):
            wanted = float(retry_after)
            if wanted <= self.max_backoff * 4:
                return wanted
        cap = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(0, cap)


NO_RETRY = RetryPolicy(attempts=1)
