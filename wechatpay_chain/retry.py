"""When a failed attempt may be sent again, and how long to wait first.

WeChat Pay's rule (protocol.md §8.3): a write is safe to repeat only with the *same* merchant request number
and body. Reads are always safe; a 429 was not processed, so it is always safe; a 5xx or a lost answer to a
write without a merchant number is not, and surfaces as :class:`~wechatpay_chain.OutcomeUnknown`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["IDEMPOTENCY_KEYS", "RetryPolicy", "is_idempotent"]

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
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "DELETE"})


def is_idempotent(method: str, template_names: frozenset[str], body: Any, marked: bool | None) -> bool:
    """Decide whether repeating this request cannot apply it twice."""
    if marked is not None:
        return marked
    if method in _SAFE_METHODS:
        return True
    if any(name in IDEMPOTENCY_KEYS for name in template_names):
        return True
    return isinstance(body, Mapping) and any(key in body for key in IDEMPOTENCY_KEYS)


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
        if self.backoff < 0 or self.max_backoff < 0 or self.budget <= 0:
            raise ValueError("RetryPolicy delays must be non-negative and the budget positive")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; honours a numeric ``Retry-After``."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff * 4)
            except ValueError:
                pass
        cap = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(0, cap)


NO_RETRY = RetryPolicy(attempts=1)
