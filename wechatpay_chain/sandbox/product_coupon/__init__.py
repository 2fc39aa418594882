"""The product-coupon (商品券) family: routes registered on the engine like any user route.

``register(engine)`` adds the family's state (``engine.states["product_coupon"]``, a :class:`Store`) and one
route per operation, each with its schema, idempotency (``out_request_no`` per brand, ``ALREADY_EXISTS`` on a
different body) and documented rate limit.
"""

from __future__ import annotations

from typing import Any

from ...schema import OPERATIONS, Operation
from .._engine import Answer, Call, Engine, Idempotency
from ._state import Store

__all__ = ["DEFAULT_RATE_LIMITS", "STATE", "Store", "register"]

STATE = "product_coupon"
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "add_stock_bundle": (20, 1.0),  # 002: 频率限制 20/s
    "create_product_coupon": (1000, 60.0),  # 003: 接口级限制 1000/min
}
_IDEMPOTENT = Idempotency("out_request_no", scope=lambda call: (call.json["brand_id"],))


def _store(call: Call) -> Store:
    return call.state(STATE)  # type: ignore[no-any-return]


def create_product_coupon(call: Call) -> Answer:
    return _store(call).create_product_coupon(call.json)


def add_stock(call: Call) -> Answer:
    return _store(call).add_stock(call.params["product_coupon_id"], call.json)


def list_stocks(call: Call) -> Answer:
    return _store(call).list_stocks(call.params["product_coupon_id"], call.query)


def get_stock(call: Call) -> Answer:
    return _store(call).get_stock(call.params["product_coupon_id"], call.params["stock_id"], call.query)


def patch_stock(call: Call) -> Answer:
    return _store(call).patch_stock(call.params["product_coupon_id"], call.params["stock_id"], call.json)


def add_stock_bundle(call: Call) -> Answer:
    return _store(call).add_stock_bundle(call.params["product_coupon_id"], call.json)


HANDLERS = {
    "create_product_coupon": create_product_coupon,
    "add_stock": add_stock,
    "list_stocks": list_stocks,
    "get_stock": get_stock,
    "patch_stock": patch_stock,
    "add_stock_bundle": add_stock_bundle,
}


def register(engine: Engine, **options: Any) -> Store:
    """Add the family to ``engine``; ``options`` go to :class:`Store` (``brands``, ``initial_stock_state``)."""
    store = Store(clock=engine.clock, ledger=engine.ledger, **options)
    engine.states[STATE] = store
    for op in OPERATIONS:
        handler = HANDLERS.get(op.name)
        if handler is not None:
            _add(engine, op, handler)
    return store


def _add(engine: Engine, op: Operation, handler: Any) -> None:
    engine.route(
        op.method, "/" + op.template, handler, name=op.name, request=op.request, query=op.query,
        response=op.response, idempotency=_IDEMPOTENT if op.request is not None else None,
        rate_limit=DEFAULT_RATE_LIMITS.get(op.name),
    )
