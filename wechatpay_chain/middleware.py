"""The aiohttp client middleware that signs every request and verifies every signed answer.

Usable on its own with any ``aiohttp.ClientSession`` (aiohttp ≥ 3.12)::

    mw = WeChatPayMiddleware(RSASigner(mchid, serial, key), Verifier(keys))
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(url) as r: ...   # signed; a bad signature raises VerificationError

It signs ``req.method``, ``req.url.raw_path_qs`` and the body bytes aiohttp will send, so what is signed is
what goes on the wire, and it verifies the body bytes before anyone parses them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp
from aiohttp import ClientRequest, ClientResponse

from . import crypto
from .errors import TemplateError, VerificationError
from .signing import Signer, Verifier

__all__ = [
    "MAX_RESPONSE_SIZE",
    "WECHATPAY_HOSTS",
    "RequestContext",
    "WeChatPayMiddleware",
    "read_capped",
    "response_rule",
]

#: Largest answer body read into memory (files are streamed by the download helpers instead).
MAX_RESPONSE_SIZE = 16 * 1024 * 1024

Handler = Callable[[ClientRequest], Awaitable[ClientResponse]]

#: Hosts that may receive the merchant Authorization without being configured explicitly.
WECHATPAY_HOSTS = frozenset(
    {
        "api.mch.weixin.qq.com",
        "api2.mch.weixin.qq.com",
        "apihk.mch.weixin.qq.com",
        "apius.mch.weixin.qq.com",
        "apieu.mch.weixin.qq.com",
        "api.wechatpay.cn",
        "api2.wechatpay.cn",
    }
)

# Endpoints whose 2xx answers carry no signature (files); their content is checked by hash instead.
_UNSIGNED_EXACT = frozenset(
    {
        "/v3/billdownload/file",
        "/v3/new-tax-control-fapiao/download",
        "/v3/transferdownload/elecvoucherfile",
        "/v3/transferdownload/signfile",
    }
)
_IMAGE_PREFIXES = ("/v3/merchant-service/images/", "/v3/global/merchant-service/images/")
_STATEMENT_PATHS = frozenset({"/v3/global/statements", "/hk/v3/statements", "/v3/statements"})


def response_rule(path: str) -> str:
    """How a 2xx answer on ``path`` is checked: ``"verify"``, ``"unsigned"`` (file) or ``"statement"``."""
    if path in _UNSIGNED_EXACT:
        return "unsigned"
    if path.startswith(_IMAGE_PREFIXES) and not path.endswith("/upload"):
        return "unsigned"
    if path in _STATEMENT_PATHS:
        return "statement"
    return "verify"


class RequestContext:
    """Per-attempt settings and results shared between :class:`~wechatpay_chain.Client` and the middleware.

    The client fills in what it already knows (host checked, exact body bytes, response rule), so the middleware
    does no work twice on the hot path; without a context the middleware works everything out itself.
    """

    __slots__ = (
        "attempts",
        "extra_hosts",
        "host_checked",
        "resend",
        "rule",
        "sign_body",
        "status",
        "verified_serial",
        "verify",
    )

    def __init__(
        self,
        extra_hosts: frozenset[str] = frozenset(),
        sign_body: bytes | None = None,
        verify: bool = True,
        *,
        host_checked: bool = False,
        rule: str | None = None,
        resend: bool = True,
    ) -> None:
        self.extra_hosts = extra_hosts
        self.sign_body = sign_body
        self.verify = verify
        self.host_checked = host_checked
        self.rule = rule
        #: False for a write that must not be repeated: aiohttp silently re-sends PUT/DELETE (and GET) once when a
        #: kept-alive connection drops, so the middleware refuses that second send (issue 6).
        self.resend = resend
        self.verified_serial: str | None = None
        self.attempts = 0
        self.status: int | None = None


current_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "wechatpay_chain_request", default=None
)


async def read_capped(resp: ClientResponse, limit: int) -> bytes:
    """Read the whole body, refusing more than ``limit`` bytes (a hostile or broken peer cannot exhaust memory).

    The bytes are cached on the response, so a later ``await resp.read()`` returns them.
    """
    if resp._body is not None:  # already read (and cached) by the middleware
        return resp._body
    declared = resp.content_length
    if declared is not None:
        if declared > limit:
            resp.release()
            raise VerificationError(
                VerificationError.BAD_BODY, f"answer declares {declared} bytes, over the {limit}-byte limit"
            )
        return await resp.read()  # the parser never delivers more than Content-Length
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise VerificationError(VerificationError.BAD_BODY, f"answer is larger than the {limit}-byte limit")
            chunks.append(chunk)
    except BaseException:
        resp.close()
        raise
    raw = b"".join(chunks)
    resp._body = raw
    await resp.read()  # lets aiohttp finish its bookkeeping and hand the connection back to the pool
    return raw


async def body_bytes(req: ClientRequest) -> bytes:
    """The exact entity bytes aiohttp will send for ``req`` (``b""`` when there is none)."""
    body: Any = req.body
    if not body:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    meta = getattr(body, "wechatpay_sign_body", None)  # a media.MediaPayload: only its meta JSON is signed
    if isinstance(meta, bytes):
        return meta
    if isinstance(body, aiohttp.MultipartWriter):
        return await _multipart_meta(body)
    data: bytes = await body.as_bytes()
    return data


async def _multipart_meta(writer: aiohttp.MultipartWriter) -> bytes:
    """The bytes of the ``meta`` part of an upload built by hand: WeChat signs those, not the whole body."""
    for part, _encoding, _te in writer._parts:
        disposition = part.headers.get("Content-Disposition", "")
        if 'name="meta"' in disposition.replace(" ", ""):
            meta: bytes = await part.as_bytes()
            return meta
    raise TemplateError(
        "a multipart upload needs a part named 'meta' (its JSON is what is signed): use wechatpay_chain.media.Media"
    )


class WeChatPayMiddleware:
    """Signs requests (APIv3 SHA256-RSA) and verifies signed 2xx responses, failing closed."""

    __slots__ = ("hosts", "max_size", "on_unknown_serial", "signer", "verifier")

    def __init__(
        self,
        signer: Signer,
        verifier: Verifier | None,
        *,
        hosts: Iterable[str] = WECHATPAY_HOSTS,
        on_unknown_serial: Callable[[str], Awaitable[bool]] | None = None,
        max_size: int = MAX_RESPONSE_SIZE,
    ) -> None:
        self.max_size = max_size
        self.signer = signer
        self.verifier = verifier
        self.hosts = frozenset(hosts)
        #: Called with the unknown serial (e.g. to re-download platform certificates); ``True`` = retry verify once.
        self.on_unknown_serial = on_unknown_serial

    async def __call__(self, req: ClientRequest, handler: Handler) -> ClientResponse:
        ctx = current_context.get()
        if ctx is None or not ctx.host_checked:
            host = req.url.host or ""
            if host not in self.hosts and (ctx is None or host not in ctx.extra_hosts):
                raise TemplateError(
                    f"refusing to send the merchant Authorization to {host!r}: not a WeChat Pay API host, "
                    "the client's base_url, or a per-request base_uri"
                )
        if ctx is not None and ctx.sign_body is not None:
            body = ctx.sign_body
        else:
            body = await body_bytes(req)
        req.headers["Authorization"] = self.signer(req.method, req.url.raw_path_qs, body)
        if ctx is not None:
            if ctx.attempts and not ctx.resend:
                raise aiohttp.ServerDisconnectedError(
                    "the connection dropped mid-request; it was not re-sent because it is not idempotent"
                )
            ctx.attempts += 1
        resp = await handler(req)
        if ctx is not None:
            ctx.status = resp.status
        if 200 <= resp.status < 300 and self.verifier is not None and (ctx is None or ctx.verify):
            rule = ctx.rule if ctx is not None and ctx.rule is not None else response_rule(req.url.path)
            serial = await self._verify(rule, resp)
            if ctx is not None:
                ctx.verified_serial = serial
        return resp

    async def _verify(self, rule: str, resp: ClientResponse) -> str | None:
        assert self.verifier is not None  # noqa: S101 - checked by the caller
        if rule == "unsigned":
            return None
        try:
            raw = await read_capped(resp, self.max_size)
            if rule == "statement" and "Wechatpay-Statement-Sha1" in resp.headers:
                digest = resp.headers["Wechatpay-Statement-Sha1"].strip()
                serial = self.verifier.verify(resp.headers, b'{"sha1":"%s"}' % digest.encode())
                if crypto.sha1(raw) != digest.lower():
                    raise VerificationError(
                        VerificationError.BAD_BODY,
                        "statement body does not match its signed Wechatpay-Statement-Sha1",
                        resp.headers.get("Request-ID"),
                    )
                return serial
            try:
                return self.verifier.verify(resp.headers, raw)
            except VerificationError as exc:
                if exc.reason != VerificationError.UNKNOWN_SERIAL or self.on_unknown_serial is None:
                    raise
                if not await self.on_unknown_serial(resp.headers.get("Wechatpay-Serial", "").strip()):
                    raise
                return self.verifier.verify(resp.headers, raw)
        except BaseException:
            resp.release()
            raise

    def __repr__(self) -> str:
        return f"WeChatPayMiddleware(signer={self.signer!r}, verifier={self.verifier!r})"
