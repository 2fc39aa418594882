"""The sandbox engine: one request pipeline that every API family — built in or yours — goes through.

Per request: latency fault → ``Authorization`` check (mchid, serial, ±300 s protocol time, nonce replay,
signature over the bytes received, or over the ``meta`` part of a multipart upload) → route → rate limit →
injected fault (before) → query/body schema (WeChat Pay's ``PARAM_ERROR`` shapes) → idempotency → handler →
injected fault (after) → answer signed with the current mode's key → one log line.

Extending it (the same API the built-in families use; see docs/sandbox.md "Extending the sandbox")::

    @sb.route("POST", "/v3/my/orders/{order_id}/close", request=obj(out_no=string(required=True)),
              idempotency=Idempotency("out_no"))
    def close(call: Call) -> Answer:
        if call.params["order_id"] == "404":
            raise Failure(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, {"order_id": call.params["order_id"], "closed_at": call.clock.rfc3339()}

A handler gets a verified :class:`Call` and returns ``(status, document)`` (``document`` ``None`` = empty body,
e.g. 204), a bare document (200) or raises :class:`Failure`. It may be ``async``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import os
import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, overload
from urllib.parse import unquote

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import crypto
from .._schemas.spec import Field, Issue, check, response_issue
from ..signing import PROBE_PREFIX, response_message
from ..testing import KeyPair, RequestCheckError, check_request, sign_response_headers
from ._clock import Clock, rfc3339
from ._errors import Failure, param_error, param_failure
from ._faults import Faults
from ._notify import Notifications

__all__ = ["MODES", "Answer", "Call", "Engine", "Handler", "Idempotency", "Route", "Seen"]

log = logging.getLogger("wechatpay_chain.sandbox")

MODES = ("cert", "pubkey", "mixed")
_DROP = "drop"
#: How many requests ``seen`` keeps (oldest dropped first), so a long standalone run stays bounded.
SEEN_LIMIT = 10_000
_PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")

#: What a handler returns: ``(status, document)``, or a document (status 200).
Answer = Union[tuple[int, Any], dict[str, Any], list[Any], web.StreamResponse, None]  # noqa: UP007 - a runtime alias on 3.10
Handler = Callable[["Call"], Answer | Awaitable[Answer]]
H = TypeVar("H", bound=Handler)


@dataclass
class Seen:
    """One authenticated request as received (for tests: method, raw target, body bytes, headers)."""

    method: str
    target: str
    body: bytes
    headers: dict[str, str]
    status: int = 0


@dataclass(frozen=True)
class Idempotency:
    """How a write is made idempotent: the merchant request number and what a reuse with another body gets.

    ``key``: the body member (dotted for nested) holding the number, or ``f(call) -> str | None``.
    ``scope``: more key parts (e.g. the brand: ``lambda c: (c.json["brand_id"],)``). ``namespace``: routes that
    share numbers use the same one (default: the route's name). ``conflict``: ``(status, code, message)``; the
    message may use ``{key}``.
    """

    key: str | Callable[[Call], str | None] = "out_request_no"
    conflict: tuple[int, str, str] = (400, "ALREADY_EXISTS", "{key} 已被另一个请求使用")
    scope: Callable[[Call], tuple[Any, ...]] | None = None
    namespace: str | None = None

    def number(self, call: Call) -> str | None:
        if callable(self.key):
            return self.key(call)
        value: Any = call.json
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Route:
    """One API operation the sandbox answers."""

    method: str
    template: str
    handler: Handler
    name: str
    request: Field | None = None
    query: Field | None = None
    response: Field | None = None
    idempotency: Idempotency | None = None
    rate_limit: tuple[int, float] | None = None
    multipart: bool = False
    segments: tuple[str, ...] = ()
    #: per segment: the placeholder's name, or ``None`` for a literal
    names: tuple[str | None, ...] = ()

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for want, name, got in zip(self.segments, self.names, parts, strict=True):
            if name is None:
                if want != got:
                    return None
            elif not got:
                return None
            else:
                params[name] = unquote(got)
        return params

    @property
    def literals(self) -> int:
        return self.names.count(None)


@dataclass
class Call:
    """A verified request, as a handler sees it."""

    engine: Engine
    route: Route
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, Any]
    body: bytes
    json: Any
    mchid: str
    headers: Mapping[str, str]
    meta: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    @property
    def notifications(self) -> Notifications:
        return self.engine.notifications

    def state(self, name: str) -> Any:
        """A family's state object (``call.state("product_coupon")``)."""
        return self.engine.states[name]


@dataclass
class Record:
    """What a merchant request number produced: the request fingerprint and the exact answer."""

    fingerprint: tuple[str, bytes]
    status: int
    body: bytes


@dataclass
class Ledger:
    """Idempotency records and how many times each request number changed the state."""

    records: dict[tuple[Any, ...], Record] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.records.clear()
        self.applied.clear()


def _segments(template: str) -> tuple[str, ...]:
    path = template.split("?", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return tuple(path.split("/")[1:])


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
    """``name → (filename, bytes)`` of a multipart/form-data body (enough for WeChat Pay uploads)."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if found is None:
        raise param_error("", "multipart body without a boundary")
    parts: dict[str, tuple[str, bytes]] = {}
    for chunk in body.split(b"--" + found.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name is None:
            continue
        filename = re.search(rb'filename="([^"]*)"', head)
        parts[name.group(1).decode()] = (filename.group(1).decode() if filename else "", data.removesuffix(b"\r\n"))
    return parts


@dataclass
class Engine:
    """Keys, signing mode, routes, family states, clock, notifications, faults; handles every request."""

    mchid: str
    merchant_keys: dict[tuple[str, str], rsa.RSAPublicKey]
    platform: list[KeyPair]
    public_key: KeyPair
    pub_key_id: str
    apiv3_key: str
    mode: str = "cert"
    #: Check every 2xx JSON answer against its route's ``response`` table; a mismatch is a sandbox bug → 500.
    check_responses: bool = True
    faults: Faults = field(default_factory=Faults)
    #: Per-route overrides ``name → (count, seconds)``; ``None`` switches a route's documented limit off.
    rate_limits: dict[str, tuple[int, float] | None] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    seen: deque[Seen] = field(default_factory=lambda: deque(maxlen=SEEN_LIMIT))
    states: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    _routes: dict[tuple[str, tuple[str, ...]], Route] = field(default_factory=dict)
    _index: dict[tuple[str, int], list[Route]] = field(default_factory=dict)
    _nonces: dict[tuple[str, str], float] = field(default_factory=dict)
    _next_prune: float = 0.0
    _windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        self.notifications = Notifications(self)
        self.route("GET", "/v3/certificates", self.certificates, name="certificates")

    # -- registry -----------------------------------------------------------------------------------------
    @overload
    def route(self, method: str, template: str, handler: None = None, **options: Any) -> Callable[[H], H]: ...

    @overload
    def route(self, method: str, template: str, handler: Handler, **options: Any) -> Route: ...

    def route(self, method: str, template: str, handler: Handler | None = None, **options: Any) -> Any:
        """Register ``handler`` for ``METHOD /path/{placeholder}/...`` (replacing any route with the same shape).

        Without ``handler`` it returns a decorator. Options: ``name``, ``request``/``query`` (:class:`Field`
        specs checked before the handler runs, ``PARAM_ERROR`` like WeChat Pay), ``response`` (documents the
        answer), ``idempotency`` (:class:`Idempotency`), ``rate_limit`` (``(count, seconds)``), ``multipart``.
        """
        if handler is None:
            def decorate(func: H) -> H:
                self.add_route(method, template, func, **options)
                return func
            return decorate
        return self.add_route(method, template, handler, **options)

    def add_route(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        name: str | None = None,
        request: Field | None = None,
        query: Field | None = None,
        response: Field | None = None,
        idempotency: Idempotency | None = None,
        rate_limit: tuple[int, float] | None = None,
        multipart: bool = False,
    ) -> Route:
        """:meth:`route` with a handler: build, register and return the :class:`Route`."""
        segments = _segments(template)
        names = tuple(m.group(1) if (m := _PLACEHOLDER.match(s)) else None for s in segments)
        shape = tuple("{}" if n is not None else s for s, n in zip(segments, names, strict=True))
        route = Route(
            method.upper(), "/" + "/".join(segments), handler, name or f"{method.upper()} /{'/'.join(segments)}",
            request, query, response, idempotency, rate_limit, multipart, segments, names,
        )
        self._routes[(route.method, shape)] = route
        self._index.clear()
        return route

    @property
    def routes(self) -> list[Route]:
        """Every registered route (built-in families first, in registration order)."""
        return list(self._routes.values())

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method`` + raw (still percent-encoded) ``path``, with its decoded path values."""
        parts = path.split("/")[1:]
        key = (method, len(parts))
        candidates = self._index.get(key)
        if candidates is None:  # routes of this method and length, most literal segments first
            same = [r for r in self._routes.values() if r.method == method and len(r.segments) == len(parts)]
            candidates = self._index[key] = sorted(same, key=lambda r: -r.literals)
        for route in candidates:
            params = route.match(parts)
            if params is not None:
                return route, params
        return None

    def reset(self) -> None:
        """Forget family state, idempotency records, counters, seen nonces, rate windows, notifications."""
        for state in self.states.values():
            reset = getattr(state, "reset", None)
            if callable(reset):
                reset()
        self.ledger.reset()
        self.seen.clear()
        self._nonces.clear()
        self._windows.clear()
        self._next_prune = 0.0
        self.clock.clear()
        self.notifications.clear()

    # -- signing --------------------------------------------------------------------------------------------
    def signing_key(self, request_serial: str = "") -> tuple[rsa.RSAPrivateKey, str]:
        """The key WeChat Pay would sign with (§2.5: public key only when asked for, in mixed mode)."""
        if self.mode == "pubkey" or (self.mode == "mixed" and request_serial.startswith("PUB_KEY_ID_")):
            return self.public_key.private_key, self.pub_key_id
        current = self.platform[-1]
        return current.private_key, current.serial

    def signed_headers(self, body: bytes, request_serial: str = "", fault: str | None = None) -> dict[str, str]:
        key, serial = self.signing_key(request_serial)
        stamp = int(self.clock.protocol() + self.faults.clock_skew)
        headers = sign_response_headers(body, key, serial, timestamp=stamp)
        if fault == "tamper":
            other = response_message(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body + b" ")
            headers["Wechatpay-Signature"] = crypto.rsa_sign(other, key)
        elif fault == "probe":
            headers["Wechatpay-Signature"] = PROBE_PREFIX + base64.b64encode(os.urandom(48)).decode()
        return headers

    def answer(self, request: web.Request, status: int, doc: Any, fault: str | None = None) -> web.Response:
        body = doc if isinstance(doc, bytes) else b"" if doc is None else orjson.dumps(doc)
        headers = self.signed_headers(body, request.headers.get("Wechatpay-Serial", "").strip(), fault)
        headers["Request-ID"] = os.urandom(16).hex()
        if not body:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    def error(self, request: web.Request, failure: Failure) -> web.Response:
        return self.answer(request, failure.status, failure.document())

    # -- checks ---------------------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, signed: bytes) -> str:
        now = self.clock.protocol()
        try:
            fields_ = check_request(
                request.method, request.raw_path, signed, request.headers.get("Authorization"),
                self.merchant_keys, now=now,
            )
        except RequestCheckError as exc:
            raise Failure(401, "SIGN_ERROR", f"签名错误: {exc}") from None
        if fields_["mchid"] != self.mchid and (fields_["mchid"], fields_["serial_no"]) not in self.merchant_keys:
            raise Failure(401, "SIGN_ERROR", "签名错误: unknown mchid")
        if now >= self._next_prune:  # forget nonces older than twice the window, at most once a minute
            self._nonces = {k: t for k, t in self._nonces.items() if now - t <= 600}
            self._next_prune = now + 60
        replay = (fields_["mchid"], fields_["nonce_str"])
        if replay in self._nonces:
            raise Failure(401, "SIGN_ERROR", "签名错误: nonce_str was already used within the last 5 minutes")
        self._nonces[replay] = now
        return fields_["mchid"]

    def _rate_limited(self, mchid: str, route: Route) -> bool:
        limit = self.rate_limits.get(route.name, route.rate_limit)
        if limit is None:
            return False
        count, window = limit
        now = self.clock.now()
        hits = self._windows.setdefault((mchid, route.name), deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= count:
            return True
        hits.append(now)
        return False

    @staticmethod
    def _query(route: Route, request: web.Request) -> dict[str, Any]:
        query: dict[str, Any] = {}
        spec = route.query.fields if route.query is not None and route.query.fields is not None else {}
        for name, value in request.query.items():
            sub = spec.get(name)
            if sub is not None and sub.type == "integer":
                digits = value.lstrip("-")
                if not (digits.isascii() and digits.isdigit()):
                    bad = [Issue((name,), "must be integer, got string", value)]
                    raise param_failure(bad, route.query, "query") or param_error(name, "must be integer", "query")
                query[name] = int(value)
            else:
                query[name] = value
        if route.query is not None:
            failure = param_failure(check(route.query, query), route.query, "query")
            if failure is not None:
                raise failure
        return query

    @staticmethod
    def _json(route: Route, body: bytes) -> Any:
        if not body:
            if route.request is None:
                return None
            raise param_error("", "a JSON body is required")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise param_error("", "the body is not valid JSON") from None
        if route.request is not None:
            if not isinstance(payload, dict):
                raise param_error("", "the body must be a JSON object")
            failure = param_failure(check(route.request, payload), route.request)
            if failure is not None:
                raise failure
        return payload

    # -- the handler ----------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        delay = self.faults.delay()
        if delay:
            await asyncio.sleep(delay)
        seen = Seen(request.method, request.raw_path, body, dict(request.headers))
        verdict = "ok"
        try:
            signed, parts = body, None
            if request.content_type == "multipart/form-data":
                parts = _multipart(body, request.headers.get("Content-Type", ""))
                signed = parts.get("meta", ("", b""))[1]
            mchid = self._authenticate(request, signed)
        except Failure as failure:
            verdict = "bad"
            seen.status = failure.status
            self.seen.append(seen)
            response: web.StreamResponse = self.error(request, failure)
            self._log(request, response, failure.code, verdict, failure.message)
            return response
        self.seen.append(seen)
        response, code = await self._dispatch(request, body, parts, mchid)
        seen.status = response.status
        self._log(request, response, code, verdict)
        return response

    @staticmethod
    def _log(request: web.Request, response: web.StreamResponse, code: str, verdict: str, why: str = "") -> None:
        if log.isEnabledFor(logging.INFO):
            reason = f" ({why.removeprefix('签名错误: ')})" if why and verdict != "ok" else ""
            log.info(
                "%s %s %d %s sig=%s%s request-id=%s", request.method, request.path, response.status, code or "-",
                verdict, reason, response.headers.get("Request-ID", "-"),
            )

    async def _dispatch(
        self, request: web.Request, body: bytes, parts: dict[str, tuple[str, bytes]] | None, mchid: str
    ) -> tuple[web.StreamResponse, str]:
        found = self.find(request.method, request.raw_path.split("?", 1)[0])
        if found is None:
            unknown = Failure(404, "NOT_FOUND", f"no such API: {request.method} {request.path}")

            async def missing() -> tuple[int, Any, str]:
                return unknown.status, unknown.document(), unknown.code

            return await self._with_faults(request, missing)
        route, params = found
        if self._rate_limited(mchid, route):
            limited = Failure(429, "RATELIMIT_EXCEEDED", "请求超过接口频率限制")
            return self.error(request, limited), limited.code

        async def run() -> tuple[int, Any, str]:
            return await self._run(route, params, request, body, parts, mchid)

        return await self._with_faults(request, run)

    async def _with_faults(
        self, request: web.Request, run: Callable[[], Awaitable[tuple[int, Any, str]]]
    ) -> tuple[web.StreamResponse, str]:
        fault = self.faults.draw()
        if fault == "ratelimit":
            return self.error(request, Failure(429, "RATELIMIT_EXCEEDED", "请求超过接口频率限制")), "RATELIMIT_EXCEEDED"
        if fault in ("error", _DROP) and self.faults.phase == "before":
            return self._fail(request, fault)
        status, doc, code = await run()
        if fault in ("error", _DROP):
            return self._fail(request, fault)
        if isinstance(doc, web.StreamResponse):
            return doc, code
        return self.answer(request, status, doc, fault if fault in ("tamper", "probe") else None), code

    def _fail(self, request: web.Request, fault: str) -> tuple[web.StreamResponse, str]:
        if fault == _DROP:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500), "DROPPED"
        return self.error(request, Failure(500, "SYSTEM_ERROR", "系统异常，请稍后重试")), "SYSTEM_ERROR"

    async def _run(
        self, route: Route, params: dict[str, str], request: web.Request, body: bytes,
        parts: dict[str, tuple[str, bytes]] | None, mchid: str,
    ) -> tuple[int, Any, str]:
        """``(status, body bytes or document, error code)`` of one routed request."""
        try:
            query = self._query(route, request)
            meta: Any = None
            if parts is not None:
                meta = self._json(route, parts.get("meta", ("", b""))[1])
                payload = None
            else:
                payload = self._json(route, body) if request.method in ("POST", "PUT", "PATCH") else None
            call = Call(self, route, request.method, request.path, params, query, body, payload, mchid,
                        request.headers, meta, {k: v for k, v in (parts or {}).items() if k != "meta"})
            record_key: tuple[Any, ...] | None = None
            fingerprint = (request.path, orjson.dumps(payload if parts is None else meta, option=orjson.OPT_SORT_KEYS))
            number = route.idempotency.number(call) if route.idempotency is not None else None
            if route.idempotency is not None and number is not None:
                idem = route.idempotency
                scope = idem.scope(call) if idem.scope is not None else ()
                record_key = (idem.namespace or route.name, mchid, *scope, number)
                record = self.ledger.records.get(record_key)
                if record is not None:
                    if record.fingerprint != fingerprint:
                        status, code, message = idem.conflict
                        where = idem.key if isinstance(idem.key, str) else "request number"
                        detail = {"field": "/" + where.replace(".", "/"), "location": "body",
                                  "issue": "used by a different request"}
                        raise Failure(status, code, message.format(key=f"{where} {number}"), detail)
                    return record.status, record.body, ""
            result = route.handler(call)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, web.StreamResponse):  # e.g. a bill file: sent as is, unsigned like WeChat Pay's
                return result.status, result, ""
            status, doc = result if isinstance(result, tuple) else (200, result)
            if self.check_responses and route.response is not None and 200 <= status < 300:
                self._check_answer(route, doc)
            raw = b"" if doc is None else doc if isinstance(doc, bytes) else orjson.dumps(doc)
            if record_key is not None and number is not None and 200 <= status < 300:
                self.ledger.records[record_key] = Record(fingerprint, status, raw)
                self.ledger.applied[number] += 1
            return status, raw, ""
        except Failure as failure:
            return failure.status, failure.document(), failure.code

    @staticmethod
    def _check_answer(route: Route, doc: Any) -> None:
        """A 2xx document that breaks its documented table is the sandbox's bug: fail loudly (500), naming it."""
        if doc is None or isinstance(doc, bytes) or route.response is None:
            return
        issue = response_issue(route.response, doc)
        if issue is not None:
            message = f"sandbox bug: the {route.name} answer breaks its documented response table: {issue}"
            log.error("%s", message)
            raise Failure(500, "SANDBOX_BAD_ANSWER", message, {"field": issue.pointer, "issue": issue.problem})

    # -- /v3/certificates ---------------------------------------------------------------------------------
    def certificate_document(self) -> dict[str, Any]:
        data = []
        for pair in reversed(self.platform):
            nonce = crypto.nonce(12)
            pem = pair.certificate_pem().decode()
            cert = pair.certificate
            data.append(
                {
                    "serial_no": pair.serial,
                    "effective_time": rfc3339(cert.not_valid_before_utc.timestamp()),
                    "expire_time": rfc3339(cert.not_valid_after_utc.timestamp()),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": crypto.aes_gcm_encrypt(pem, self.apiv3_key, nonce, "certificate"),
                    },
                }
            )
        return {"data": data}

    def certificates(self, call: Call) -> Answer:
        if self.mode == "pubkey":
            raise Failure(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥")
        return self.certificate_document()
