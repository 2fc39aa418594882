"""``Client``: validated settings, the aiohttp session, and the request pipeline.

Pipeline per call: split options → expand template → encode query → serialise JSON once → (per attempt)
sign in the middleware → send → verify in the middleware → :class:`Response` or a typed error.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import platform
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from multidict import CIMultiDict

from . import _config, _loops, crypto, sensitive
from ._chain import Node
from ._keywords import keywords_checked
from ._prepare import Prepared, prepare
from ._response import Response, error_from_answer
from ._template import Template
from ._version import __version__
from .certificates import CertificateManager
from .errors import (
    ConfigError,
    OutcomeUnknown,
    RequestTimeout,
    TransportError,
    VerificationError,
)
from .middleware import (
    MAX_RESPONSE_SIZE,
    WECHATPAY_ORIGINS,
    RequestContext,
    WeChatPayMiddleware,
    current_context,
    origin_of,
    read_capped,
)
from .notify import Notification, parse_notification, require_keys
from .notify import _headers as _headers_of
from .retry import RetryPolicy
from .signing import RSASigner, Signer, Verifier

__all__ = ["Client", "RequestEvent"]

logger = logging.getLogger("wechatpay_chain")

USER_AGENT = (
    f"wechatpay-chain/{__version__} aiohttp/{aiohttp.__version__} "
    f"Python/{platform.python_version()} ({platform.system()}/{platform.release()})"
)
_ACCEPT = "application/json"
_DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=15.0, sock_connect=5.0)
_BACKUPS = {"api.mch.weixin.qq.com": "api2.mch.weixin.qq.com", "api.wechatpay.cn": "api2.wechatpay.cn"}
_DEFAULT_RETRY = RetryPolicy()
_NO_OPTIONS: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """What a hook learns after each attempt (never headers or bodies, so never a secret)."""

    method: str
    template: str
    url: str
    attempt: int
    status: int | None
    duration: float
    request_id: str | None
    error: str | None


class Client:
    """Async WeChat Pay client. Use as ``async with Client(...) as wxpay:`` and chain from it.

    ``private_key``: ``file://`` path, PEM text/bytes or key object. ``certs``: ``serial → key`` for
    verifying answers; platform certificates and ``PUB_KEY_ID_…`` public keys may be mixed.
    """

    @keywords_checked
    def __init__(
        self,
        mchid: str,
        serial: str | None = None,
        private_key: Any = None,
        certs: Mapping[str, Any] | None = None,
        *,
        base_url: str = _config.DEFAULT_BASE_URL,
        backup_base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout = _DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        passphrase: str | bytes | None = None,
        apiv3_key: str | None = None,
        apiv2_key: str | None = None,
        signer: Signer | None = None,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        limit: int = 100,
        limit_per_host: int = 0,
        hooks: Sequence[Callable[[RequestEvent], None]] = (),
        validate: bool = False,
        max_response_size: int = MAX_RESPONSE_SIZE,
        clock: Callable[[], float] = time.time,
        nonce_factory: Callable[[], str] = crypto.nonce,
        user_agent: str | None = None,
        merchant_cert: Any = None,
        merchant_pkcs12: Any = None,
    ) -> None:
        self.mchid = _config.check_mchid(mchid)
        self.base_url = _config.check_base_url(base_url)
        self.apiv3_key = _config.check_apiv3_key(apiv3_key)
        self.apiv2_key = _config.check_apiv2_key(apiv2_key)
        v3_given = serial is not None or private_key is not None or signer is not None or bool(certs)
        self.serial: str | None = None
        self._signer: Signer | None = None
        self._verifier: Verifier | None = None
        self._private_key: Any = None  # kept for decrypting sensitive answer fields (issue 4)
        if v3_given or self.apiv2_key is None:
            self.serial = _config.check_serial(serial)
            if signer is None:
                key = _config.load_key(private_key, passphrase)
                self._private_key = key
                signer = RSASigner(self.mchid, self.serial, key, clock=clock, nonce_factory=nonce_factory)
            self._signer = signer
            keys = _config.load_certs(certs, self.serial)
            if not keys and self.apiv3_key is None:
                raise ConfigError(
                    "certs",
                    "is empty: give the WeChat Pay platform certificates or public key ({'PUB_KEY_ID_...': "
                    "'file:///path/pub_key.pem'}) so answers can be verified, or apiv3_key to download them",
                )
            self._verifier = Verifier(keys, clock=clock)
        if backup_base_url is not None:
            self.backup_base_url: str | None = _config.check_base_url(backup_base_url, "backup_base_url")
        else:
            host = yarl.URL(self.base_url).host or ""
            self.backup_base_url = (
                self.base_url.replace(host, _BACKUPS[host], 1) if host in _BACKUPS else None
            )
        self.timeout = _config.make_timeout(timeout)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError("retry", "must be a RetryPolicy or None")
        self.retry = RetryPolicy(attempts=1) if retry is None else retry
        if not isinstance(limit, int) or limit < 0 or not isinstance(limit_per_host, int) or limit_per_host < 0:
            raise ConfigError("limit", "connection limits must be non-negative integers (0 = unlimited)")
        self._limits = (limit, limit_per_host)
        self._hooks = tuple(hooks)
        if not all(callable(hook) for hook in self._hooks):
            raise ConfigError("hooks", "must be a sequence of callables taking a RequestEvent")
        self.validate = bool(validate)
        self._user_agent = user_agent or USER_AGENT
        self._base_headers = {"Accept": _ACCEPT, "User-Agent": self._user_agent}
        if self._verifier is not None:
            # Always name the WeChat Pay public key when there is one: during the migration WeChat signs the
            # answer with it only if the request asks (protocol.md §1.4, §2.5).
            pub_ids = sorted(k for k in self._verifier.serials if k.startswith("PUB_KEY_ID_"))
            if pub_ids:
                self._base_headers["Wechatpay-Serial"] = pub_ids[-1]
        # Issue 11: the Authorization goes to an origin (scheme, host, port), never to a host on any port.
        base_origins = {origin_of(yarl.URL(self.base_url))}
        if self.backup_base_url:
            base_origins.add(origin_of(yarl.URL(self.backup_base_url)))
        self._hosts = WECHATPAY_ORIGINS | base_origins
        self._backup_url = yarl.URL(self.backup_base_url) if self.backup_base_url else None
        if not isinstance(max_response_size, int) or max_response_size < 1024:
            raise ConfigError("max_response_size", "must be an integer of at least 1024 bytes")
        self._max_size = max_response_size
        self._middleware = (
            WeChatPayMiddleware(
                self._signer, self._verifier, hosts=self._hosts, max_size=max_response_size
            )
            if self._signer
            else None
        )
        self._session = session
        self._owns_session = session is None
        # Issue 4: platform certificates download and refresh themselves when the APIv3 key is known.
        self._certificates: CertificateManager | None = None
        if self.apiv3_key is not None and self._verifier is not None and self._middleware is not None:
            self._certificates = CertificateManager(self, self._verifier, self.apiv3_key)
            self._middleware.on_unknown_serial = self._certificates.on_unknown_serial
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop this client serves (wechatpay_chain._loops)
        self._inflight = 0
        self._socket_factory: Callable[[Any], Any] | None = None  # SyncClient: tracks its sockets (fork safety)
        self._root = Node(self, "")
        # Guzzle request options given once to Builder.factory (http_errors, debug, verify): every call's defaults.
        self._call_defaults: dict[str, Any] | None = None
        # APIv2 ``security`` calls: the merchant TLS client certificate, loaded once (wechatpay_chain.v2.tls).
        self._merchant_tls: Any = None
        if merchant_cert is not None or merchant_pkcs12 is not None:
            from .v2.tls import MerchantCertificate

            if self.serial is not None and merchant_cert is not None and not isinstance(
                merchant_cert, tuple | list | MerchantCertificate
            ):  # the certificate alone: check it against the key before pairing them for TLS
                _config.check_merchant_cert(merchant_cert, self.mchid, self.serial, self._private_key)
            self._merchant_tls = MerchantCertificate.coerce(merchant_cert, merchant_pkcs12, key=self._private_key)
            if self.serial is not None and self._merchant_tls is not None:
                _config.check_merchant_cert(self._merchant_tls.certificate, self.mchid, self.serial, self._private_key)

    # -- chain entry points -------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Node:
        if name.startswith("_"):
            raise AttributeError(name)
        node: Node = getattr(self._root, name)
        self._root._cache.keep(self, name, node)  # next time a plain attribute hit (bounded)
        return node

    def __getitem__(self, path: str) -> Node:
        return self._root[path]

    def chain(self, path: str) -> Node:
        """The node for ``path`` taken literally (no case conversion), e.g. ``"v3/pay/transactions/id/{id}"``."""
        return self._root[path]

    @property
    def verifier(self) -> Verifier | None:
        """The response verifier (its key map is updated by the certificate manager)."""
        return self._verifier

    # -- platform certificates, notifications, sensitive fields (issue 4) --------------------------------
    @property
    def certificates(self) -> CertificateManager | None:
        """The platform-certificate manager (present when ``apiv3_key`` is given)."""
        return self._certificates

    async def parse_notification(self, headers: Any, body: bytes | str) -> Notification:
        """Verify a callback exactly like a response and decrypt its ``resource`` (see :mod:`.notify`).

        An unknown serial triggers one (rate-limited) certificate refresh before giving up.
        """
        verifier, apiv3_key = require_keys(self._verifier, self.apiv3_key)
        if self._certificates is not None:
            await self._certificates.ensure_loaded()
        try:
            return parse_notification(headers, body, verifier, apiv3_key)
        except VerificationError as exc:
            if exc.reason != VerificationError.UNKNOWN_SERIAL or self._certificates is None:
                raise
            serial = _headers_of(headers).get("Wechatpay-Serial", "").strip()
            if not await self._certificates.on_unknown_serial(serial):
                raise
        return parse_notification(headers, body, verifier, apiv3_key)

    def encryptor(self, serial: str | None = None) -> sensitive.Encryptor:
        """An encryptor for sensitive request fields with the WeChat Pay key to use (or ``serial``)."""
        if self._verifier is None:
            raise ConfigError("certs", "encrypting sensitive fields needs the WeChat Pay certificates or public key")
        keys = {s: k for s in self._verifier.serials if (k := self._verifier.key(s)) is not None}
        newest = self._certificates.newest() if self._certificates is not None else None
        return sensitive.choose_key(keys, newest.serial if newest else None, serial)

    def encrypt(self, value: str, serial: str | None = None) -> sensitive.Ciphertext:
        """Encrypt one sensitive field; put the result in ``json=`` and ``Wechatpay-Serial`` follows."""
        return self.encryptor(serial).encrypt(value)

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a sensitive field of an answer with the merchant private key (RSA-OAEP)."""
        if self._private_key is None:
            raise ConfigError("private_key", "decrypting sensitive fields needs the merchant private key")
        return sensitive.decrypt(ciphertext, self._private_key)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        self._ensure_open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session we created (an injected session is left open). Idempotent."""
        self._closed = True
        if self._loop is not None and self._loop.is_closed():
            self._session = None  # its connections died with the loop they were made in; nothing left to close
            return
        if self._certificates is not None:
            await self._certificates.aclose()
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _ensure_open(self) -> None:
        if self._closed:
            raise TransportError("this client is closed; create a new one")

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            limit, per_host = self._limits
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=limit, limit_per_host=per_host, keepalive_timeout=30, socket_factory=self._socket_factory
                ),
                timeout=self.timeout,
                headers=self._base_headers,
                raise_for_status=False,
                middlewares=(self._middleware,) if self._middleware else (),
            )
        return session

    def _sibling(self, certificates: CertificateManager | None) -> Client:
        """A client sharing this one's settings, signer and verifier (so its keys) but with its own session, loop
        binding and chain cache: :class:`SyncClient` makes one per thread. ``certificates`` stands in for the
        manager, whose tasks belong to this client's loop."""
        twin = object.__new__(Client)
        twin.__dict__.update((k, v) for k, v in self.__dict__.items() if not isinstance(v, Node))
        twin._session, twin._loop, twin._inflight, twin._closed = None, None, 0, False
        twin._socket_factory = None
        twin._root = Node(twin, "")
        twin._certificates = certificates
        if certificates is not None and self._middleware is not None:
            twin._middleware = copy.copy(self._middleware)
            twin._middleware.on_unknown_serial = certificates.on_unknown_serial
        return twin

    # -- request pipeline -----------------------------------------------------------------------------------
    def _call(
        self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Coroutine[Any, Any, Response]:
        prepared = self._prepare(method, template, args, kwargs)
        return self._send(prepared)

    def _prepare(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Prepared:
        """Validate and build everything that can be built before I/O."""
        self._ensure_open()
        return prepare(self, method, template, args, kwargs)

    async def _send(self, req: Prepared) -> Response:
        if self._middleware is None and not req.v2:
            raise ConfigError("serial", "APIv3 calls need serial, private_key and certs")
        self._ensure_open()
        if (loop := asyncio.get_running_loop()) is not self._loop:
            self._loop = _loops.adopt(self._loop if self._session is not None else None, loop)
        if req.sink is not None:  # Guzzle's ``sink``: the answer goes to a file (see download.save)
            from .download import save

            return await save(self, req)
        policy = self.retry
        if self._certificates is not None and req.verify and not req.v2:
            await self._certificates.ensure_loaded()
        started = time.monotonic()
        url = req.url
        backup = self._backup_url
        attempt = 0
        self._inflight += 1
        try:
            while True:
                attempt += 1
                try:
                    return await self._attempt(req, url, attempt)
                except _Retryable as exc:
                    if not req.resendable:  # a one-shot upload stream cannot be sent again
                        raise exc.error from exc.error.__cause__
                    if exc.failover and backup is not None and (url.host, url.port) != (backup.host, backup.port):
                        # Nothing reached the primary: the same signed path is valid on the backup host.
                        logger.info("wechatpay_chain: %s unreachable, failing over to %s", url.host, backup.host)
                        url = url.with_scheme(backup.scheme).with_host(backup.host or "").with_port(backup.port)
                        continue
                    if not exc.safe or attempt >= policy.attempts:
                        raise exc.error from exc.error.__cause__
                    delay = policy.delay(attempt, exc.retry_after)
                    if not time.monotonic() - started + delay < policy.budget:  # also fails closed on nan
                        raise exc.error from exc.error.__cause__
                    await asyncio.sleep(delay)
        finally:
            self._inflight -= 1

    async def _attempt(self, req: Prepared, url: yarl.URL, attempt: int) -> Response:
        # The host was checked when the request was prepared (a failover host is one of the client's own), and
        # the exact body bytes are known, so the middleware need not work either out again.
        ctx = RequestContext(
            req.extra_hosts,
            req.body if req.sign_body is None else req.sign_body,
            req.verify,
            host_checked=True,
            rule=req.rule,
            resend=req.idempotent,  # issue 6: no silent aiohttp re-send of a write that is not idempotent
        )
        token = current_context.set(ctx)
        session = self._get_session()
        t0 = time.monotonic()
        status: int | None = None
        request_id: str | None = None
        error: str | None = None
        options = _NO_OPTIONS  # pass only what differs from the session's defaults
        if req.timeout is not None or req.v2 or req.ssl is not None or not self._owns_session:
            options = {}
            if req.timeout is not None or not self._owns_session:
                options["timeout"] = req.timeout or self.timeout
            if req.v2:
                options["middlewares"] = ()
            elif not self._owns_session:
                options["middlewares"] = (self._middleware,)
            if req.ssl is not None:
                options["ssl"] = req.ssl
        try:
            async with session.request(
                req.method,
                url,
                data=req.payload() if req.payload is not None else (req.body or None),
                headers=req.headers if self._owns_session else self._request_headers(req),
                allow_redirects=False,
                **options,
            ) as resp:
                status = resp.status
                request_id = resp.headers.get("Request-ID")
                raw = await read_capped(resp, self._max_size)
                headers = resp.headers
        except VerificationError as exc:
            error = exc.reason
            raise
        except aiohttp.ConnectionTimeoutError as exc:
            # Issue 6: no connection, so nothing was sent: as safe to retry and fail over as a refused connect.
            error = "connect_timeout"
            not_connected = RequestTimeout(f"cannot connect to {url.host}:{url.port}: timed out")
            raise _Retryable(not_connected, exc, safe=True, failover=True) from exc
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            error = "timeout"
            failure: TransportError = RequestTimeout(f"{req.method} {req.template.source} timed out")
            raise self._transport_failure(req, failure, exc, sent=True) from exc
        except aiohttp.ClientConnectorError as exc:
            error = "connect"
            failure = TransportError(f"cannot connect to {url.host}:{url.port}: {exc.os_error}")
            raise _Retryable(failure, exc, safe=True, failover=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
            if self._closed:
                raise TransportError("the client was closed while the request was in flight") from exc
            failure = TransportError(f"{req.method} {req.template.source}: {type(exc).__name__}: {exc}")
            raise self._transport_failure(req, failure, exc, sent=True) from exc
        finally:
            current_context.reset(token)
            if self._hooks or req.debug is not None or logger.isEnabledFor(logging.DEBUG):
                self._report(req, url, attempt, status or ctx.status, time.monotonic() - t0, request_id, error)
        if status < 200 or status >= 300:
            if not req.http_errors:  # Guzzle's http_errors => false: the (unverified) answer, as it came
                return Response(status, headers, raw, url, None)
            api_error = error_from_answer(status, raw, headers)
            if status in self.retry.statuses:
                if req.idempotent or status == 429:
                    raise _Retryable(api_error, None, safe=True, retry_after=headers.get("Retry-After"))
                if status >= 500:
                    unknown = OutcomeUnknown(
                        f"{req.method} {req.template.source} got {api_error}; it carries no merchant request "
                        "number, so it was not retried and may or may not have been applied"
                    )
                    unknown.__cause__ = api_error
                    raise unknown
            raise api_error
        response = Response(status, headers, raw, url, ctx.verified_serial)
        return req.finish(response) if req.finish is not None else response

    # -- files (issue 5): streamed downloads -------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _open(self, req: Prepared) -> AsyncIterator[tuple[aiohttp.ClientResponse, RequestContext]]:
        """One signed attempt that hands over the unread response, so a file is streamed, not buffered.

        Non-2xx answers raise :class:`APIError`; signed answers are still verified by the middleware.
        """
        if self._middleware is None:
            raise ConfigError("serial", "APIv3 calls need serial, private_key and certs")
        self._ensure_open()
        if (loop := asyncio.get_running_loop()) is not self._loop:
            self._loop = _loops.adopt(self._loop if self._session is not None else None, loop)
        ctx = RequestContext(extra_hosts=req.extra_hosts | {origin_of(req.url)}, sign_body=req.sign_body)
        session = self._get_session()
        token = current_context.set(ctx)
        try:
            resp = await session.request(
                req.method,
                req.url,
                headers=self._request_headers(req),
                timeout=req.timeout or self.timeout,
                allow_redirects=False,
                middlewares=None if self._owns_session else (self._middleware,),
                **({"ssl": req.ssl} if req.ssl is not None else {}),
            )
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RequestTimeout(f"{req.method} {req.url.path} timed out") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{req.method} {req.url.path}: {type(exc).__name__}: {exc}") from exc
        finally:
            current_context.reset(token)
        try:
            if not 200 <= resp.status < 300:
                raise error_from_answer(resp.status, await resp.content.read(65536), resp.headers)
            yield resp, ctx
        except BaseException:
            resp.close()
            raise
        resp.release()

    async def download(self, target: Any, **kwargs: Any) -> Any:
        """Download a bill to ``dest=`` (or memory), checking its hash: :func:`wechatpay_chain.download.download`."""
        from .download import download

        return await download(self, target, **kwargs)

    def stream(self, target: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        """Stream a bill's uncompressed bytes: see :func:`wechatpay_chain.download.stream`."""
        from .download import stream

        return stream(self, target, **kwargs)

    def _request_headers(self, req: Prepared) -> Mapping[str, str]:
        """Caller headers; on an injected session (which lacks our defaults) merged over them."""
        if self._owns_session:
            return req.headers
        merged = CIMultiDict(self._base_headers)
        merged.update(req.headers)
        return merged

    def _transport_failure(
        self, req: Prepared, failure: TransportError, cause: BaseException, *, sent: bool
    ) -> BaseException:
        if req.idempotent:
            failure.__cause__ = cause
            return _Retryable(failure, cause, safe=True)
        unknown: TransportError = OutcomeUnknown(
            f"{failure}; the request carries no merchant request number, so it was not retried and may "
            "or may not have been applied: query before retrying"
        )
        if isinstance(failure, RequestTimeout):
            unknown.__cause__ = failure
        return unknown

    def _report(
        self,
        req: Prepared,
        url: yarl.URL,
        attempt: int,
        status: int | None,
        duration: float,
        request_id: str | None,
        error: str | None,
    ) -> None:
        logger.debug(
            "wechatpay_chain: %s %s attempt=%d status=%s %.1fms request_id=%s error=%s",
            req.method,
            url.path,
            attempt,
            status,
            duration * 1000,
            request_id,
            error,
        )
        if req.debug is not None:  # Guzzle's per-call ``debug``: a trace of the exchange (no secrets in it)
            req.debug.write(
                f"* wechatpay-chain: {req.method} {url} attempt={attempt} status={status} "
                f"{duration * 1000:.1f}ms Request-ID={request_id} error={error}\n"
            )
        if self._hooks:
            event = RequestEvent(
                req.method, req.template.source, str(url), attempt, status, duration, request_id, error
            )
            for hook in self._hooks:
                try:
                    hook(event)
                except Exception:
                    logger.exception("wechatpay_chain: request hook %r failed", hook)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Client mchid={self.mchid!r} serial={self.serial!r} base_url={self.base_url!r} {state}>"


class _Retryable(Exception):
    """Internal: an attempt failed in a way that may be retried (carries the error to raise if not)."""

    def __init__(
        self,
        error: Exception,
        cause: BaseException | None,
        *,
        safe: bool,
        failover: bool = False,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        if cause is not None and error.__cause__ is None:
            error.__cause__ = cause
        self.safe = safe
        self.failover = failover
        self.retry_after = retry_after
