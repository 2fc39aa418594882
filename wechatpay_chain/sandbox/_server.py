"""``Sandbox`` (async) and ``SyncSandbox`` (blocking): key material, lifecycle, and test controls.

``async with Sandbox() as sb: client = sb.client()`` starts a loopback WeChat Pay on a free port with fresh
merchant and platform keys; ``sb.config`` is a ``Client(**config)``-ready dict.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import orjson
from aiohttp import web

from .. import crypto
from .._client import Client
from .._files import write_file
from .._keywords import check_keywords, keywords_checked, parameters
from .._sync import SyncClient
from ..testing import KeyPair, generate_key_pair
from ..v2.fake import V2Fake
from . import payments, product_coupon
from ._clock import Clock
from ._engine import Engine, H, Handler, Route, Seen
from ._faults import Faults
from ._notify import Delivery, Notifications
from .product_coupon import Store

__all__ = ["DEFAULT_MCHID", "DEFAULT_PUB_KEY_ID", "NotifyResult", "Sandbox", "SyncSandbox"]

DEFAULT_MCHID = "1900000109"
DEFAULT_PUB_KEY_ID = "PUB_KEY_ID_0119000001092025010100000000000000"
#: Sandbox-only event sent when a stock's state changes (the seed pages do not name the real one).
STOCK_STATE_EVENT = "PRODUCT_COUPON.STOCK_STATE_CHANGED"


@dataclass(frozen=True)
class NotifyResult:
    """What the notify URL answered to one notification."""

    id: str
    status: int
    body: bytes
    serial: str


class Sandbox:
    """A local WeChat Pay simulator: payments, refunds, bills, product coupons (see docs/sandbox.md).

    ``mode``: ``"cert"`` (answers signed with the platform certificate), ``"pubkey"`` (with the
    ``PUB_KEY_ID_…`` public key) or ``"mixed"`` (public key only when the request's ``Wechatpay-Serial`` names
    it). ``faults``: a :class:`Faults` or a mapping of its knobs. ``check_responses`` (default on): every 2xx
    JSON answer of a route with a ``response`` table is checked against it; a mismatch is answered 500
    ``SANDBOX_BAD_ANSWER`` naming the operation and the member (a sandbox bug, never hidden).
    """

    @keywords_checked
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mchid: str = DEFAULT_MCHID,
        mode: str = "cert",
        merchant: KeyPair | None = None,
        platform: KeyPair | None = None,
        public_key: KeyPair | None = None,
        pub_key_id: str = DEFAULT_PUB_KEY_ID,
        apiv3_key: str | None = None,
        apiv2_key: str | None = None,
        faults: Faults | Mapping[str, Any] | None = None,
        rate_limits: Mapping[str, tuple[int, float] | None] | None = None,
        brands: frozenset[str] | None = None,
        initial_stock_state: str = "SENDING",
        notify_url: str | None = None,
        clock: Callable[[], float] = time.time,
        check_responses: bool = True,
    ) -> None:
        if apiv3_key is not None and len(apiv3_key.encode()) != 32:
            raise ValueError("apiv3_key must be 32 bytes")
        if not pub_key_id.startswith("PUB_KEY_ID_"):
            raise ValueError("pub_key_id must start with PUB_KEY_ID_")
        self.host = host
        self._port = port
        self.merchant = merchant or generate_key_pair("sandbox merchant")
        fault_set = faults if isinstance(faults, Faults) else Faults(**dict(faults or {}))
        self.engine = Engine(
            mchid=mchid,
            merchant_keys={(mchid, self.merchant.serial): self.merchant.public_key},
            platform=[platform or generate_key_pair("sandbox platform")],
            public_key=public_key or generate_key_pair("sandbox public key"),
            pub_key_id=pub_key_id,
            apiv3_key=apiv3_key or crypto.nonce(32),
            mode=mode,
            check_responses=check_responses,
            faults=fault_set,
            rate_limits=dict(rate_limits or {}),
            clock=Clock(clock),
        )
        product_coupon.register(
            self.engine, brands=brands, initial_stock_state=initial_stock_state, notify_url=notify_url,
            base_url=lambda: self.url,
        )
        # notify_url also stands for the refund callback URL configured on the merchant platform.
        payments.register(self.engine).default_notify_url = notify_url
        self.notify_url = notify_url
        #: The APIv2 (XML) surface: /pay/micropay, /pay/orderquery, /secapi/pay/refund, refund notifications.
        self.v2 = V2Fake(apiv2_key or crypto.nonce(32), mchid)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        """The aiohttp application (mount it yourself, e.g. with ``aiohttp.test_utils.TestServer``)."""
        app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[_loopback_admin])
        app.router.add_route("GET", "/_sandbox/faults", self._admin_faults)
        app.router.add_route("POST", "/_sandbox/faults", self._admin_faults)
        app.router.add_route("POST", "/_sandbox/reset", self._admin_reset)
        app.router.add_route("GET", "/_sandbox/applied", self._admin_applied)
        app.router.add_route("GET", "/_sandbox/clock", self._admin_clock)
        app.router.add_route("POST", "/_sandbox/clock/advance", self._admin_clock)
        app.router.add_route("GET", "/_sandbox/notifications", self._admin_notifications)
        self.payments.add_admin_routes(app.router)
        app.router.add_route("GET", "/_sandbox/media/{name}", self._media)
        self.v2.add_routes(app.router)
        app.router.add_route("*", "/{tail:.*}", self.engine.handle)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self.engine.clock.start(asyncio.get_running_loop())

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.engine.clock.stop()

    async def start(self) -> Sandbox:
        if self._runner is not None:
            return self
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self._port = sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop serving. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The base URL to give ``Client(base_url=...)``, with a trailing slash."""
        return f"http://{self.host}:{self._port}/"

    # -- what a client needs --------------------------------------------------------------------------------
    @property
    def mchid(self) -> str:
        return self.engine.mchid

    @property
    def apiv3_key(self) -> str:
        return self.engine.apiv3_key

    @property
    def apiv2_key(self) -> str:
        return self.v2.apiv2_key

    @property
    def pub_key_id(self) -> str:
        return self.engine.pub_key_id

    @property
    def platform(self) -> KeyPair:
        """The platform key pair that currently signs (the newest after a rotation)."""
        return self.engine.platform[-1]

    @property
    def public_key(self) -> KeyPair:
        return self.engine.public_key

    def certs(self) -> dict[str, Any]:
        """``serial → certificate/public key`` a client should trust in this mode."""
        out: dict[str, Any] = {}
        if self.engine.mode in ("cert", "mixed"):
            out.update({pair.serial: pair.certificate for pair in self.engine.platform})
        if self.engine.mode in ("pubkey", "mixed"):
            out[self.pub_key_id] = self.engine.public_key.public_key
        return out

    @property
    def config(self) -> dict[str, Any]:
        """``{"mchid", "serial", "private_key", "certs", "apiv3_key", "base_url"}`` with PEM text values."""
        certs: dict[str, str] = {}
        if self.engine.mode in ("cert", "mixed"):
            certs.update({p.serial: p.certificate_pem().decode() for p in self.engine.platform})
        if self.engine.mode in ("pubkey", "mixed"):
            certs[self.pub_key_id] = self.engine.public_key.public_pem().decode()
        return {
            "mchid": self.mchid,
            "serial": self.merchant.serial,
            "private_key": self.merchant.private_pem().decode(),
            "certs": certs,
            "apiv3_key": self.apiv3_key,
            "base_url": self.url,
        }

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Everything a client of this sandbox needs (keys, certificates, both API keys, base URL) + ``overrides``.

        ``apiv3_key`` is included so notifications can be checked; with ``certs`` given the client makes no
        certificate download of its own (only for a serial it does not know, and only to this sandbox).
        """
        options: dict[str, Any] = {
            "mchid": self.mchid,
            "serial": self.merchant.serial,
            "private_key": self.merchant.private_key,
            "certs": self.certs(),
            "apiv3_key": self.apiv3_key,
            "apiv2_key": self.apiv2_key,
            "base_url": self.url,
        }
        options.update(overrides)
        return options

    def client(self, **overrides: Any) -> Client:
        """A :class:`~wechatpay_chain.Client` for this sandbox (keyword arguments override the defaults)."""
        return Client(**self.client_options(**overrides))

    def write_config(self, directory: str | os.PathLike[str]) -> Path:
        """Write the PEM files and ``config.json`` (paths are absolute); return the config path."""
        root = Path(directory).resolve()
        root.mkdir(parents=True, exist_ok=True)
        # Secrets are created 0600 from their first byte, and a symlink planted at a name is replaced, never
        # written through (issue 11).
        key_path = root / "apiclient_key.pem"
        write_file(key_path, self.merchant.private_pem())
        write_file(root / "apiclient_cert.pem", self.merchant.certificate_pem(), 0o644)
        certs: dict[str, str] = {}
        if self.engine.mode in ("cert", "mixed"):
            for pair in self.engine.platform:
                path = root / f"wechatpay_{pair.serial}.pem"
                write_file(path, pair.certificate_pem(), 0o644)
                certs[pair.serial] = str(path)
        if self.engine.mode in ("pubkey", "mixed"):
            path = root / "pub_key.pem"
            write_file(path, self.engine.public_key.public_pem(), 0o644)
            certs[self.pub_key_id] = str(path)
        config = {
            "mchid": self.mchid,
            "serial": self.merchant.serial,
            "private_key": str(key_path),
            "certs": certs,
            "apiv3_key": self.apiv3_key,
            "base_url": self.url,
        }
        target = root / "config.json"
        write_file(target, (json.dumps(config, indent=2) + "\n").encode())
        return target

    # -- state and faults -----------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The live fault knobs (``sb.faults.update(error_rate=0.5)``, ``sb.faults.script("drop")``)."""
        return self.engine.faults

    @property
    def store(self) -> Store:
        """The in-memory coupons and stocks (``sb.store.coupons``, ``sb.store.stocks``)."""
        return self.engine.states[product_coupon.STATE]  # type: ignore[no-any-return]

    @property
    def payments(self) -> payments.Payments:
        """Orders, refunds and bills (``sb.payments.ledger``); the payer's actions are also on the sandbox."""
        return self.engine.states[payments.STATE]  # type: ignore[no-any-return]

    def pay(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        """Play the payer: pay an order (``NOTPAY → SUCCESS``) and send ``TRANSACTION.SUCCESS``; see
        :meth:`payments.Payments.pay` (``prepay_id=``, ``openid=``, ``amount=``, ``when=``)."""
        return self.payments.pay(out_trade_no, **options)

    def fail_payment(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        """The payment fails: ``NOTPAY → PAYERROR``."""
        return self.payments.fail(out_trade_no, **options)

    def cancel_payment(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        """The payer gives up; the order stays ``NOTPAY``."""
        return self.payments.cancel(out_trade_no, **options)

    def settle_refund(self, out_refund_no: str, outcome: str | None = None) -> dict[str, Any]:
        """Give a ``PROCESSING`` refund its outcome now (``SUCCESS``/``ABNORMAL``/``CLOSED``) and notify."""
        return self.payments.settle_refund(out_refund_no, outcome)

    @property
    def clock(self) -> Clock:
        """Business time: ``sb.clock.advance(3600)`` moves validity windows, daily counts, retries, tasks."""
        return self.engine.clock

    @property
    def notifications(self) -> Notifications:
        """Outgoing callbacks: ``sb.notifications.log`` (deliveries and attempts), ``await ….wait(event)``."""
        return self.engine.notifications

    @property
    def routes(self) -> list[Route]:
        return self.engine.routes

    @overload
    def route(self, method: str, template: str, handler: None = None, **options: Any) -> Callable[[H], H]: ...

    @overload
    def route(self, method: str, template: str, handler: Handler, **options: Any) -> Route: ...

    def route(self, method: str, template: str, handler: Handler | None = None, **options: Any) -> Any:
        """Add (or replace) an operation: see :meth:`Engine.route` and docs/sandbox.md "Extending the sandbox"."""
        return self.engine.route(method, template, handler, **options)

    @property
    def seen(self) -> deque[Seen]:
        """The authenticated requests as received (the last 10 000)."""
        return self.engine.seen

    def reset(self) -> None:
        """Empty the state (coupons, stocks, idempotency records, counters, nonces); keys and faults stay."""
        self.engine.reset()

    def applied_writes(self, out_request_no: str) -> int:
        """How many times a write with this ``out_request_no`` changed the state (1 = exactly once)."""
        return self.engine.ledger.applied[out_request_no]

    def seed_product_coupon(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a coupon directly (no HTTP, no idempotency record): the 003 answer document."""
        from .._schemas.spec import first_issue
        from ..schema import BY_NAME

        spec = BY_NAME["create_product_coupon"].request
        assert spec is not None  # noqa: S101 - a write operation
        issue = first_issue(spec, dict(body))
        if issue is not None:
            raise ValueError(f"seed body: {issue}")
        return self.store.create_product_coupon(body)

    def trust_merchant(self, mchid: str, serial: str, key: Any) -> None:
        """Accept requests signed by another merchant key (e.g. the SDKs' published test keys)."""
        self.engine.merchant_keys[(mchid, serial.upper())] = crypto.load_public_key(key)

    def rotate_platform_key(self, *, sign_with_new: bool = True) -> KeyPair:
        """Add a new platform certificate (listed by ``/v3/certificates`` next to the old one).

        With ``sign_with_new`` answers are signed by it from now on (a client that does not know it yet sees an
        unknown serial); otherwise it is only listed, as WeChat Pay does for a day before switching.
        """
        pair = generate_key_pair("sandbox platform (rotated)")
        if sign_with_new:
            self.engine.platform.append(pair)
        else:
            self.engine.platform.insert(-1, pair)
        return pair

    def retire_platform_key(self, serial: str) -> None:
        """Stop listing (and signing with) a platform certificate; at least one must remain."""
        keep = [p for p in self.engine.platform if p.serial != serial]
        if not keep:
            raise ValueError("cannot retire the last platform certificate")
        self.engine.platform[:] = keep

    # -- notifications ----------------------------------------------------------------------------------------
    def notification(
        self,
        *,
        event_type: str,
        resource: Mapping[str, Any],
        summary: str = "",
        original_type: str = "product_coupon",
    ) -> bytes:
        """The body of a notification: ``resource`` AES-GCM-encrypted with the APIv3 key (protocol §4.2)."""
        return self.notifications.envelope(event_type, resource, summary=summary, original_type=original_type)

    def signed_notification(
        self, *, signer: str | None = None, fault: str | None = None, **fields: Any
    ) -> tuple[dict[str, str], bytes]:
        """``(headers, body)`` of a notification as :meth:`notify` would POST it, for a framework's test client.

        ``fields`` are those of :meth:`notification` (``event_type``, ``resource``, ``summary``, ...).
        ``signer``: ``"cert"`` or ``"pubkey"`` (default: the mode's key; the certificate in mixed mode).
        ``fault``: ``"tamper"`` or ``"probe"`` to send a bad signature.
        """
        if signer == "pubkey" and self.engine.mode == "cert":
            raise ValueError("signer='pubkey' needs mode 'pubkey' or 'mixed'")
        if signer == "cert" and self.engine.mode == "pubkey":
            raise ValueError("signer='cert' needs mode 'cert' or 'mixed'")
        body = self.notification(**fields)
        return self.notifications.headers(body, self.pub_key_id if signer == "pubkey" else "", fault), body

    async def notify(self, url: str, *, timeout: float = 5.0, **event: Any) -> NotifyResult:
        """POST a signed, encrypted notification to ``url`` like WeChat Pay; return what it answered.

        ``event``: the keywords of :meth:`signed_notification` (``event_type=``, ``resource=``, ``fault=``...).
        One attempt, no retries; for WeChat Pay's retrying delivery see ``sb.notifications.send``.
        """
        headers, body = self.signed_notification(**event)
        status, answer = await self.notifications.post(url, body, headers, timeout)
        return NotifyResult(orjson.loads(body)["id"], status, answer, headers["Wechatpay-Serial"])

    async def set_stock_state(
        self, product_coupon_id: str, stock_id: str, state: str, *, reason: str | None = None
    ) -> NotifyResult | None:
        """Change a stock's state (AUDITING → SENDING, PAUSED, …); notify ``notify_url`` if the stock has
        ``notify_config.notify_appid`` (event type ``PRODUCT_COUPON.STOCK_STATE_CHANGED``, sandbox-only)."""
        stock = self.store.set_stock_state(product_coupon_id, stock_id, state, reason)
        if self.notify_url and stock.get("notify_config", {}).get("notify_appid"):
            return await self.notify(
                self.notify_url,
                event_type=STOCK_STATE_EVENT,
                resource={"product_coupon_id": product_coupon_id, "stock_id": stock_id, "state": state},
                summary="批次状态变更",
            )
        return None

    # -- admin routes (standalone use) --------------------------------------------------------------------------
    async def _admin_faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                changes = await request.json()
                script = changes.pop("script", ())
                self.faults.update(**changes)
                self.faults.script(*script)
            except (ValueError, TypeError, AttributeError) as exc:
                return web.json_response({"code": "PARAM_ERROR", "message": str(exc)}, status=400)
        return web.json_response(
            {**self.faults.as_dict(), "pending": list(self.faults.pending), "injected": self.faults.injected}
        )

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _admin_applied(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.engine.ledger.applied))

    async def _admin_clock(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                doc = await request.json()
                seconds = doc.get("seconds", 0) if isinstance(doc, dict) else None
                if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                    raise ValueError("give {\"seconds\": N}")
                self.clock.advance(seconds)
            except ValueError as exc:
                return web.json_response({"code": "PARAM_ERROR", "message": str(exc)}, status=400)
        clock = self.clock
        return web.json_response({"now": clock.rfc3339(), "timestamp": clock.now(), "offset": clock.offset})

    async def _media(self, request: web.Request) -> web.Response:
        """An uploaded (or generated) image, so a ``media_url`` the sandbox answered is usable."""
        media = self.engine.states[product_coupon.STATE + "_media"]
        digest = request.match_info["name"].partition(".")[0]
        found = media.images.get(digest)
        if found is None:
            raise web.HTTPNotFound()
        types = {"png": "image/png", "bmp": "image/bmp"}
        return web.Response(body=found[1], content_type=types.get(found[0], "image/jpeg"))

    async def _admin_notifications(self, request: web.Request) -> web.Response:
        return web.json_response([_delivery_doc(d) for d in self.notifications.log])

    def __repr__(self) -> str:
        state = "running" if self._runner is not None else "stopped"
        return f"<Sandbox {self.url} mode={self.engine.mode} mchid={self.mchid} {state}>"


def _delivery_doc(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_type": delivery.event_type,
        "url": delivery.url,
        "delivered": delivery.delivered,
        "attempts": [{"at": a.at, "status": a.status, "error": a.error} for a in delivery.attempts],
        "resource": delivery.resource,
    }


@web.middleware
async def _loopback_admin(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """``/_sandbox/...`` answers loopback callers only (it can move the clock and change faults)."""
    if request.path.startswith("/_sandbox/"):
        try:
            local = ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
        except ValueError:
            local = False
        if not local:
            return web.json_response({"code": "FORBIDDEN", "message": "the admin interface is loopback-only"},
                                     status=403)
    return await handler(request)  # type: ignore[no-any-return]


class SyncSandbox:
    """The blocking form: the sandbox runs on its own loop thread; ``client()`` returns a ``SyncClient``.

    ``with SyncSandbox() as sb: wxpay = sb.client()``. All other attributes are those of :class:`Sandbox`.
    """

    def __init__(self, **options: Any) -> None:
        check_keywords("SyncSandbox", options, parameters(Sandbox.__init__))
        self.sandbox = Sandbox(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wechatpay-sandbox", daemon=True)
        self._started = False

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def start(self) -> SyncSandbox:
        if not self._started:
            self._thread.start()
            self._started = True
            self._run(self.sandbox.start())
        return self

    def close(self) -> None:
        """Stop the server and the loop thread. Idempotent."""
        if not self._started or self._loop.is_closed():
            return
        self._run(self.sandbox.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self, **overrides: Any) -> SyncClient:
        """A :class:`~wechatpay_chain.SyncClient` for this sandbox (see :meth:`Sandbox.client_options`)."""
        return SyncClient(**self.sandbox.client_options(**overrides))

    def notify(self, url: str, **kwargs: Any) -> NotifyResult:
        return self._run(self.sandbox.notify(url, **kwargs))  # type: ignore[no-any-return]

    def wait_notifications(self, match: Any = None, **kwargs: Any) -> list[Delivery]:
        """Blocking ``sb.notifications.wait(...)``."""
        return self._run(self.sandbox.notifications.wait(match, **kwargs))  # type: ignore[no-any-return]

    def _on_loop(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` on the sandbox's loop thread (the state it changes is the loop's)."""

        async def call() -> Any:
            return func(*args, **kwargs)

        return self._run(call())

    def pay(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        return self._on_loop(self.sandbox.pay, out_trade_no, **options)  # type: ignore[no-any-return]

    def fail_payment(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        return self._on_loop(self.sandbox.fail_payment, out_trade_no, **options)  # type: ignore[no-any-return]

    def cancel_payment(self, out_trade_no: str | None = None, **options: Any) -> dict[str, Any]:
        return self._on_loop(self.sandbox.cancel_payment, out_trade_no, **options)  # type: ignore[no-any-return]

    def settle_refund(self, out_refund_no: str, outcome: str | None = None) -> dict[str, Any]:
        return self._on_loop(self.sandbox.settle_refund, out_refund_no, outcome)  # type: ignore[no-any-return]

    def set_stock_state(self, product_coupon_id: str, stock_id: str, state: str, **kw: Any) -> NotifyResult | None:
        return self._run(self.sandbox.set_stock_state(product_coupon_id, stock_id, state, **kw))  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.sandbox, name)

    def __repr__(self) -> str:
        return repr(self.sandbox).replace("<Sandbox", "<SyncSandbox", 1)
