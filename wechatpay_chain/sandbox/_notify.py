"""Notification delivery like WeChat Pay's: envelope, encryption, signature, retries on the sandbox clock.

:meth:`Notifications.send` builds the callback envelope (``id``, ``create_time``, ``event_type``,
``resource_type``, ``resource`` = AEAD_AES_256_GCM ciphertext under the APIv3 key, ``summary``), signs the exact
bytes with the key of the current signing mode (``Wechatpay-*`` headers) and POSTs it. A non-2xx answer or a
timeout schedules the next attempt on the sandbox clock, following the event's schedule (product coupons:
every 60 s, at most 11 attempts; payments: 15s/15s/30s/3m/… as :data:`PAYMENT_SCHEDULE`). Every delivery and
attempt is kept in :attr:`Notifications.log` for tests to assert on; :meth:`Notifications.wait` awaits one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from .. import crypto

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["COUPON_SCHEDULE", "PAYMENT_SCHEDULE", "Attempt", "Delivery", "Notifications"]

log = logging.getLogger("wechatpay_chain.sandbox")

#: Product-coupon callbacks (PRODUCT_COUPON_SP.*): the first try, then every 60 s, at most 11 attempts.
COUPON_SCHEDULE: tuple[float, ...] = (60.0,) * 10
#: Payment callbacks: WeChat Pay's published retry intervals after the first try (15 retries).
PAYMENT_SCHEDULE: tuple[float, ...] = (
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
)


@dataclass
class Attempt:
    """One POST of a notification: when (business time), what came back (status 0 = no answer)."""

    at: float
    status: int
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Delivery:
    """One notification and every attempt to deliver it."""

    id: str
    event_type: str
    url: str
    resource: dict[str, Any]
    body: bytes
    schedule: tuple[float, ...]
    serial: str = ""
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(a.ok for a in self.attempts)

    @property
    def finished(self) -> bool:
        """Delivered, or every scheduled attempt was made."""
        return self.delivered or len(self.attempts) > len(self.schedule)


class Notifications:
    """The sandbox's outgoing callbacks: ``send``, the delivery ``log`` and ``wait``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.log: list[Delivery] = []
        self.timeout = 5.0
        self._changed: asyncio.Condition | None = None

    def envelope(
        self, event_type: str, resource: Mapping[str, Any], *, summary: str = "", original_type: str = "product_coupon"
    ) -> bytes:
        """The callback body: ``resource`` AES-256-GCM-encrypted with the APIv3 key (protocol §4.2)."""
        nonce = crypto.nonce(12)
        plaintext = orjson.dumps(dict(resource))
        doc = {
            "id": str(uuid.uuid4()),
            "create_time": self.engine.clock.rfc3339(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": crypto.aes_gcm_encrypt(plaintext, self.engine.apiv3_key, nonce, original_type),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        return orjson.dumps(doc)

    def send(
        self,
        url: str,
        event_type: str,
        resource: Mapping[str, Any],
        *,
        summary: str = "",
        original_type: str = "product_coupon",
        schedule: Sequence[float] = COUPON_SCHEDULE,
    ) -> Delivery:
        """Queue a notification: first attempt now, retries per ``schedule`` (seconds between attempts)."""
        body = self.envelope(event_type, resource, summary=summary, original_type=original_type)
        delivery = Delivery(orjson.loads(body)["id"], event_type, url, dict(resource), body, tuple(schedule))
        self.log.append(delivery)
        self.engine.clock.call_at(self.engine.clock.now(), lambda: self._attempt(delivery))
        return delivery

    def headers(self, body: bytes, serial_hint: str = "", fault: str | None = None) -> dict[str, str]:
        """The ``Wechatpay-*`` headers WeChat Pay sends with ``body`` (the current signing mode's key)."""
        headers = self.engine.signed_headers(body, serial_hint, fault)
        headers["Content-Type"] = "application/json"
        headers["Request-ID"] = os.urandom(16).hex()
        return headers

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float | None = None,
                   ) -> tuple[int, bytes]:
        """One POST of a signed notification; returns ``(status, answer)``."""
        limit = aiohttp.ClientTimeout(total=self.timeout if timeout is None else timeout)
        async with aiohttp.ClientSession(timeout=limit) as session, session.post(url, data=body, headers=headers) as r:
            return r.status, await r.read()

    async def _attempt(self, delivery: Delivery) -> None:
        at = self.engine.clock.now()
        try:
            headers = self.headers(delivery.body)
            delivery.serial = headers["Wechatpay-Serial"]
            status, answer = await self.post(delivery.url, delivery.body, headers)
            attempt = Attempt(at, status, answer)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            attempt = Attempt(at, 0, error=type(exc).__name__)
        delivery.attempts.append(attempt)
        number = len(delivery.attempts)
        log.info(
            "notify %s %s attempt %d -> %s%s", delivery.event_type, delivery.url, number,
            attempt.status or attempt.error, "" if attempt.ok else f" (next in {delivery.schedule[number - 1]:g}s)"
            if number <= len(delivery.schedule) else " (giving up)",
        )
        if not attempt.ok and number <= len(delivery.schedule):
            self.engine.clock.call_later(delivery.schedule[number - 1], lambda: self._attempt(delivery))
        await self._notify_waiters()

    async def _notify_waiters(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            self._changed.notify_all()

    async def wait(
        self,
        match: Callable[[Delivery], bool] | str | None = None,
        *,
        delivered: bool = True,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Delivery]:
        """Wait (real time, at most ``timeout`` s) until ``count`` deliveries matching ``match`` (an event type or
        a predicate) are delivered (or, with ``delivered=False``, have had at least one attempt)."""
        if isinstance(match, str):
            event = match
            match = lambda d: d.event_type == event  # noqa: E731
        test = match or (lambda d: True)

        def ready() -> list[Delivery]:
            return [d for d in self.log if test(d) and (d.delivered if delivered else bool(d.attempts))]

        if self._changed is None:
            self._changed = asyncio.Condition()
        changed = self._changed

        async def until() -> list[Delivery]:
            async with changed:
                await changed.wait_for(lambda: len(ready()) >= count)
            return ready()

        try:
            return await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            seen = [(d.event_type, [a.status or a.error for a in d.attempts]) for d in self.log]
            raise TimeoutError(f"no {count} matching notification(s) within {timeout}s; log: {seen}") from None

    def clear(self) -> None:
        self.log.clear()
