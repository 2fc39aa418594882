"""The product-coupon (商品券) family: 35 operations registered on the engine like any user route.

``register(engine)`` adds the family's state — ``engine.states["product_coupon"]`` (:class:`Store`: coupons,
stocks, bundles), ``["product_coupon_users"]`` (:class:`Users`), ``["product_coupon_media"]`` (:class:`Media`)
and ``["product_coupon_notify"]`` (the notify URL) — and one route per operation with its generated schema,
idempotency (the page's request number per brand; a different body gets ``ALREADY_EXISTS``) and documented
rate limit. Sends fire ``PRODUCT_COUPON_SP.SEND`` and finished image tasks ``PRODUCT_COUPON_SP.IMAGE_GENERATION``
to the notify URL (``notify-configs``, or ``Sandbox(notify_url=...)``), retried every 60 s up to 11 times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...schema import BY_NAME, OPERATIONS
from .._engine import Answer, Call, Engine, Idempotency
from .._errors import Failure
from .._notify import COUPON_SCHEDULE
from ._media import IMAGE_EVENT, Media
from ._state import Store, answer
from ._users import SEND_EVENT, Users

__all__ = ["DEFAULT_RATE_LIMITS", "STATE", "Media", "NotifyConfig", "Store", "Users", "register"]

STATE = "product_coupon"
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "add_stock_bundle": (20, 1.0),  # 002: 频率限制 20/s
    "create_product_coupon": (1000, 60.0),  # 003 / current page: 接口级限制 1000/min
    "create_image_generation_task": (500, 1.0),  # current page: 频率限制 500/s
    "get_image_generation_task": (500, 1.0),
}


@dataclass
class NotifyConfig:
    """The family's notify URL (``notify-configs``); ``default`` is the constructor's ``notify_url``."""

    default: str | None = None
    url: str | None = None
    update_time: str = ""

    @property
    def current(self) -> str | None:
        return self.url or self.default

    def reset(self) -> None:
        self.url, self.update_time = None, ""


def _brand_scope(call: Call) -> tuple[Any, ...]:
    return (call.json.get("brand_id"),)


_BY_OUT_REQUEST_NO = Idempotency("out_request_no", scope=_brand_scope)
_BY_SEND_REQUEST_NO = Idempotency("send_request_no", scope=_brand_scope)
_BY_TASK_ID = Idempotency("task_id", scope=_brand_scope)


def _st(call: Call) -> tuple[str, str]:
    return call.params["product_coupon_id"], call.params["stock_id"]


def _sb(call: Call) -> tuple[str, str]:
    return call.params["product_coupon_id"], call.params["stock_bundle_id"]


def _uc(call: Call) -> tuple[str, str]:
    return call.params["openid"], call.params["coupon_code"]


def _handlers(store: Store, users: Users, media: Media, notify: NotifyConfig, clock: Any,
              ) -> dict[str, Callable[[Call], Answer]]:
    def set_notify(call: Call) -> Answer:
        notify.url, notify.update_time = call.json["notify_url"], clock.rfc3339()
        return answer("set_notify_config", {"notify_url": notify.url, "update_time": notify.update_time})

    def get_notify(call: Call) -> Answer:
        if notify.current is None:
            raise Failure(404, "NOT_FOUND", "尚未设置商品券事件通知地址")
        return answer("get_notify_config", {"notify_url": notify.current, "update_time": notify.update_time
                                            or clock.rfc3339(0)})

    return {
        "create_product_coupon": lambda c: store.create_product_coupon(c.json),
        "get_product_coupon": lambda c: store.get_product_coupon(c.params["product_coupon_id"], c.query),
        "patch_product_coupon": lambda c: store.patch_product_coupon(c.params["product_coupon_id"], c.json),
        "deactivate_product_coupon": lambda c: store.deactivate_product_coupon(c.params["product_coupon_id"], c.json),
        "add_stock": lambda c: store.add_stock(c.params["product_coupon_id"], c.json),
        "list_stocks": lambda c: store.list_stocks(c.params["product_coupon_id"], c.query),
        "get_stock": lambda c: store.get_stock(*_st(c), c.query),
        "patch_stock": lambda c: store.patch_stock(*_st(c), c.json),
        "deactivate_stock": lambda c: store.deactivate_stock(*_st(c), c.json),
        "update_stock_budget": lambda c: store.update_stock_budget(*_st(c), c.json),
        "upload_coupon_codes": lambda c: store.upload_coupon_codes(*_st(c), c.json),
        "associate_stock_stores": lambda c: store.associate_stock_stores(*_st(c), c.json),
        "disassociate_stock_stores": lambda c: store.associate_stock_stores(*_st(c), c.json, add=False),
        "list_stock_stores": lambda c: store.list_stock_stores(*_st(c), c.query),
        "add_stock_bundle": lambda c: store.add_stock_bundle(c.params["product_coupon_id"], c.json),
        "patch_stock_bundle": lambda c: store.patch_stock_bundle(*_sb(c), c.json),
        "update_stock_bundle_budget": lambda c: store.update_stock_bundle_budget(*_sb(c), c.json),
        "associate_stock_bundle_stores": lambda c: store.associate_bundle_stores(*_sb(c), c.json),
        "disassociate_stock_bundle_stores": lambda c: store.associate_bundle_stores(*_sb(c), c.json, add=False),
        "send_user_coupon": lambda c: users.send(c.params["openid"], c.json),
        "list_user_coupons": lambda c: users.list(c.params["openid"], c.query),
        "get_user_coupon": lambda c: users.get_one(*_uc(c), c.query),
        "confirm_user_coupon": lambda c: users.confirm(*_uc(c), c.json),
        "use_user_coupon": lambda c: users.use(*_uc(c), c.json),
        "return_user_coupon": lambda c: users.return_(*_uc(c), c.json),
        "deactivate_user_coupon": lambda c: users.deactivate(*_uc(c), c.json),
        "pre_send_user_coupon": lambda c: users.pre_send(c.params["openid"], c.json),
        "send_user_coupon_bundle": lambda c: users.send_bundle(c.params["openid"], c.json),
        "deactivate_user_coupon_bundle":
            lambda c: users.deactivate_bundle(c.params["openid"], c.params["user_coupon_bundle_id"], c.json),
        "pre_send_user_coupon_bundle": lambda c: users.pre_send_bundle(c.params["openid"], c.json),
        "set_notify_config": set_notify,
        "get_notify_config": get_notify,
        "upload_image": lambda c: media.upload(c.meta, c.files),
        "create_image_generation_task": lambda c: media.create_task(c.json),
        "get_image_generation_task": lambda c: media.get_task(c.params["task_id"], c.query),
    }


def register(
    engine: Engine,
    *,
    notify_url: str | None = None,
    base_url: Callable[[], str] | None = None,
    **options: Any,
) -> Store:
    """Add the family to ``engine``; ``options`` go to :class:`Store` (``brands``, ``initial_stock_state``)."""
    store = Store(clock=engine.clock, ledger=engine.ledger, **options)
    notify = NotifyConfig(default=notify_url)

    def deliver(event: str, summary: str) -> Callable[[Mapping[str, Any]], None]:
        def send(resource: Mapping[str, Any]) -> None:
            if notify.current:
                engine.notifications.send(notify.current, event, resource, summary=summary,
                                          original_type="product_coupon", schedule=COUPON_SCHEDULE)
        return send

    users = Users(store, on_send=deliver(SEND_EVENT, "商品券发放"))
    media = Media(engine.clock, base_url or (lambda: "http://127.0.0.1/"), on_finish=deliver(IMAGE_EVENT, "图片生成"))
    engine.states.update({STATE: store, STATE + "_users": users, STATE + "_media": media, STATE + "_notify": notify})
    handlers = _handlers(store, users, media, notify, engine.clock)
    for op in OPERATIONS:
        idem = None
        if op.request is not None and not op.multipart:
            fields = op.request.fields or {}
            idem = (_BY_SEND_REQUEST_NO if "send_request_no" in fields else _BY_OUT_REQUEST_NO
                    if "out_request_no" in fields else _BY_TASK_ID if "task_id" in fields else None)
        engine.route(
            op.method, "/" + op.template, handlers[op.name], name=op.name, request=op.request, query=op.query,
            response=op.response, idempotency=idem, rate_limit=DEFAULT_RATE_LIMITS.get(op.name),
            multipart=op.multipart,
        )
    assert set(handlers) == set(BY_NAME)  # noqa: S101 - every documented operation has a handler
    return store
