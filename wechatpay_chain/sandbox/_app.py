"""The sandbox's HTTP face: one aiohttp handler that behaves like WeChat Pay on the wire.

Per request: latency → Authorization check (mchid, serial, ±300 s, nonce replay, signature over the bytes
received) → route → rate limit → injected fault (before) → query/body schema → idempotency → business rule →
injected fault (after) → signed answer (platform certificate, ``PUB_KEY_ID_`` public key, or either).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import crypto
from .._schemas.spec import first_issue
from ..schema import Operation, find_operation
from ..signing import PROBE_PREFIX, response_message
from ..testing import KeyPair, RequestCheckError, check_request, sign_response_headers
from ._faults import Faults
from ._store import Failure, Record, Store, param_error, rfc3339

__all__ = ["MODES", "Engine", "Seen"]

MODES = ("cert", "pubkey", "mixed")
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "add_stock_bundle": (20, 1.0),  # 002: 频率限制 20/s
    "create_product_coupon": (1000, 60.0),  # 003: 接口级限制 1000/min
}
_BASE = "/v3/marketing/partner/product-coupon/product-coupons"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(re.escape(_BASE) + "$"), "v3/marketing/partner/product-coupon/product-coupons"),
    ("POST", re.compile(re.escape(_BASE) + r"/([^/]+)/stocks$"), _BASE[1:] + "/{product_coupon_id}/stocks"),
    ("GET", re.compile(re.escape(_BASE) + r"/([^/]+)/stocks$"), _BASE[1:] + "/{product_coupon_id}/stocks"),
    ("GET", re.compile(re.escape(_BASE) + r"/([^/]+)/stocks/([^/]+)$"), _BASE[1:] + "/{p}/stocks/{s}"),
    ("PATCH", re.compile(re.escape(_BASE) + r"/([^/]+)/stocks/([^/]+)$"), _BASE[1:] + "/{p}/stocks/{s}"),
    ("POST", re.compile(re.escape(_BASE) + r"/([^/]+)/stock-bundles$"), _BASE[1:] + "/{p}/stock-bundles"),
)
_DROP = "drop"
#: How many requests ``seen`` keeps (oldest dropped first), so a long standalone run stays bounded.
SEEN_LIMIT = 10_000


@dataclass
class Seen:
    """One authenticated request as received (for tests: method, raw target, body bytes, headers)."""

    method: str
    target: str
    body: bytes
    headers: dict[str, str]
    status: int = 0


@dataclass
class Engine:
    """All sandbox state and the request handler (wrapped by :class:`~wechatpay_chain.sandbox.Sandbox`)."""

    mchid: str
    merchant_keys: dict[tuple[str, str], rsa.RSAPublicKey]
    platform: list[KeyPair]
    public_key: KeyPair
    pub_key_id: str
    apiv3_key: str
    mode: str = "cert"
    faults: Faults = field(default_factory=Faults)
    store: Store = field(default_factory=Store)
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    clock: Callable[[], float] = time.time
    seen: deque[Seen] = field(default_factory=lambda: deque(maxlen=SEEN_LIMIT))
    _nonces: dict[tuple[str, str], float] = field(default_factory=dict)
    _next_prune: float = 0.0
    _windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    def reset(self) -> None:
        """Forget coupons, stocks, idempotency records, counters, seen nonces and rate windows."""
        self.store.reset()
        self.seen.clear()
        self._nonces.clear()
        self._windows.clear()
        self._next_prune = 0.0

    # -- signing --------------------------------------------------------------------------------------------
    def signing_key(self, request_serial: str = "") -> tuple[rsa.RSAPrivateKey, str]:
        """The key WeChat Pay would sign with (§2.5: public key only when asked for, in mixed mode)."""
        if self.mode == "pubkey" or (self.mode == "mixed" and request_serial.startswith("PUB_KEY_ID_")):
            return self.public_key.private_key, self.pub_key_id
        current = self.platform[-1]
        return current.private_key, current.serial

    def signed_headers(self, body: bytes, request_serial: str = "", fault: str | None = None) -> dict[str, str]:
        key, serial = self.signing_key(request_serial)
        headers = sign_response_headers(body, key, serial, timestamp=int(self.clock() + self.faults.clock_skew))
        if fault == "tamper":
            other = response_message(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body + b" ")
            headers["Wechatpay-Signature"] = crypto.rsa_sign(other, key)
        elif fault == "probe":
            headers["Wechatpay-Signature"] = PROBE_PREFIX + base64.b64encode(os.urandom(48)).decode()
        return headers

    def answer(self, request: web.Request, status: int, doc: Any, fault: str | None = None) -> web.Response:
        body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        headers = self.signed_headers(body, request.headers.get("Wechatpay-Serial", "").strip(), fault)
        headers["Request-ID"] = os.urandom(16).hex()
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    def error(self, request: web.Request, failure: Failure) -> web.Response:
        return self.answer(request, failure.status, failure.document())

    # -- checks ---------------------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, body: bytes) -> str:
        now = self.clock()
        try:
            fields_ = check_request(
                request.method, request.raw_path, body, request.headers.get("Authorization"),
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

    def _rate_limited(self, mchid: str, op: str) -> bool:
        limit = self.rate_limits.get(op)
        if limit is None:
            return False
        count, window = limit
        now = self.clock()
        hits = self._windows.setdefault((mchid, op), deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= count:
            return True
        hits.append(now)
        return False

    @staticmethod
    def _query(op: Operation, request: web.Request) -> dict[str, Any]:
        query: dict[str, Any] = {}
        spec = op.query.fields if op.query is not None and op.query.fields is not None else {}
        for name, value in request.query.items():
            sub = spec.get(name)
            if sub is not None and sub.type == "integer":
                digits = value.lstrip("-")
                if not (digits.isascii() and digits.isdigit()):
                    raise param_error(name, "must be integer", "query")
                query[name] = int(value)
            else:
                query[name] = value
        if op.query is not None:
            issue = first_issue(op.query, query)
            if issue is not None:
                raise param_error(issue.dotted, issue.problem, "query")
        return query

    @staticmethod
    def _json(op: Operation, body: bytes) -> dict[str, Any]:
        if not body:
            raise param_error("", "a JSON body is required")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise param_error("", "the body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise param_error("", "the body must be a JSON object")
        assert op.request is not None  # noqa: S101 - write operations always have a request spec
        issue = first_issue(op.request, payload)
        if issue is not None:
            raise param_error(issue.dotted, issue.problem, pointer=issue.pointer)
        return payload

    # -- the handler ----------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        delay = self.faults.delay()
        if delay:
            await asyncio.sleep(delay)
        seen = Seen(request.method, request.raw_path, body, dict(request.headers))
        try:
            mchid = self._authenticate(request, body)
        except Failure as failure:
            seen.status = failure.status
            self.seen.append(seen)
            return self.error(request, failure)
        self.seen.append(seen)
        response = self._dispatch(request, body, mchid)
        seen.status = response.status
        return response

    def _dispatch(self, request: web.Request, body: bytes, mchid: str) -> web.StreamResponse:
        if request.path == "/v3/certificates" and request.method == "GET":
            return self._with_faults(request, lambda: self.certificates(request))
        for method, pattern, template in _ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                op = find_operation(method, template)
                assert op is not None  # noqa: S101 - routes mirror schema.OPERATIONS
                if self._rate_limited(mchid, op.name):
                    return self.error(request, Failure(429, "RATELIMIT_EXCEEDED", "请求超过接口频率限制"))
                return self._with_faults(request, functools.partial(self._run, op, match.groups(), request, body))
        unknown = Failure(404, "NOT_FOUND", f"no such API: {request.method} {request.path}")
        return self._with_faults(request, functools.partial(self.error, request, unknown))

    def _with_faults(self, request: web.Request, run: Callable[[], web.Response]) -> web.StreamResponse:
        fault = self.faults.draw()
        if fault == "ratelimit":
            return self.error(request, Failure(429, "RATELIMIT_EXCEEDED", "请求超过接口频率限制"))
        if fault in ("error", _DROP) and self.faults.phase == "before":
            return self._fail(request, fault)
        response = run()
        if fault in ("error", _DROP):
            return self._fail(request, fault)
        if fault in ("tamper", "probe"):
            raw = response.body if isinstance(response.body, bytes) else b""
            return self.answer(request, response.status, raw, fault)
        return response

    def _fail(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == _DROP:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return self.error(request, Failure(500, "SYSTEM_ERROR", "系统异常，请稍后重试"))

    def _run(self, op: Operation, args: tuple[str | Any, ...], request: web.Request, body: bytes) -> web.Response:
        try:
            if op.method == "GET":
                query = self._query(op, request)
                doc = self._read(op, args, query)
                return self.answer(request, 200, doc)
            payload = self._json(op, body)
            key = (op.name, payload["brand_id"], payload["out_request_no"])
            fingerprint = (op.name, request.path, orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
            record = self.store.records.get(key)
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise Failure(
                        400, "ALREADY_EXISTS", f"out_request_no {payload['out_request_no']} 已被另一个请求使用",
                        {"field": "/out_request_no", "location": "body", "issue": "used by a different request"},
                    )
                return self.answer(request, record.status, record.body)
            doc = self._write(op, args, payload)
            raw = orjson.dumps(doc)
            self.store.records[key] = Record(fingerprint, 200, raw)
            self.store.applied[payload["out_request_no"]] += 1
            return self.answer(request, 200, raw)
        except Failure as failure:
            return self.error(request, failure)

    def _read(self, op: Operation, args: tuple[str | Any, ...], query: dict[str, Any]) -> dict[str, Any]:
        if op.name == "list_stocks":
            return self.store.list_stocks(args[0], query)
        return self.store.get_stock(args[0], args[1], query)

    def _write(self, op: Operation, args: tuple[str | Any, ...], payload: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        if op.name == "create_product_coupon":
            return store.create_product_coupon(payload)
        if op.name == "add_stock":
            return store.add_stock(args[0], payload)
        if op.name == "patch_stock":
            return store.patch_stock(args[0], args[1], payload)
        return store.add_stock_bundle(args[0], payload)

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

    def certificates(self, request: web.Request) -> web.Response:
        if self.mode == "pubkey":
            failure = Failure(
                404, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥"
            )
            return self.error(request, failure)
        return self.answer(request, 200, self.certificate_document())
