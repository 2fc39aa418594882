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
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote

import aiohttp
import yarl
from aiohttp import ClientRequest, ClientResponse

from . import crypto
from .errors import TemplateError, VerificationError
from .signing import Signer, Verifier

__all__ = [
    "MAX_RESPONSE_SIZE",
    "WECHATPAY_HOSTS",
    "Origin",
    "RequestContext",
    "WeChatPayMiddleware",
    "origin_of",
    "origins",
    "read_capped",
    "response_rule",
]

#: What ``Authorization`` reads on the aiohttp request (and its ``request_info``) once the exchange is over.
REDACTED = "<redacted>"

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

#: ``(scheme, host, port)``: the Authorization goes only to an origin configured or documented, never by host alone.
Origin = tuple[str, str, int]

#: WeChat Pay is reached over https on port 443 only.
WECHATPAY_ORIGINS: frozenset[Origin] = frozenset(("https", host, 443) for host in WECHATPAY_HOSTS)


def origin_of(url: yarl.URL) -> Origin:
    """``url``'s origin; the port is the scheme's default when none is written."""
    return (url.scheme, url.host or "", url.port or 0)


def origins(hosts: Iterable[str | Origin]) -> frozenset[Origin]:
    """Allowed origins from host names (https on 443, like WeChat Pay) or URLs (``"http://127.0.0.1:8080"``)."""
    out = set()
    for entry in hosts:
        if isinstance(entry, tuple):
            out.add(entry)
        elif "://" in entry:
            url = yarl.URL(entry)
            if not url.host or url.scheme not in ("http", "https") or url.raw_user is not None:
                raise TemplateError(f"hosts: {entry!r} is not an http(s) origin")
            out.add(origin_of(url))
        else:
            out.add(("https", entry.lower(), 443))
    return frozenset(out)


# GET endpoints whose 2xx answers carry no signature (files; protocol.md §2.7): their content is checked by hash.
_UNSIGNED_EXACT = frozenset(
    {
        "/v3/billdownload/file",
        "/v3/new-tax-control-fapiao/download",
        "/v3/transferdownload/elecvoucherfile",
        "/v3/transferdownload/signfile",
    }
)
# Complaint image download, GET /v3/[global/]merchant-service/images/{media_id}: exactly one media_id segment.
_IMAGE = re.compile(r"/v3/(?:global/)?merchant-service/images/([A-Za-z0-9_=+\-][A-Za-z0-9_=+.\-]*)")
_STATEMENT_PATHS = frozenset({"/v3/global/statements", "/hk/v3/statements", "/v3/statements"})


def response_rule(method: str, raw_path: str) -> str:
    """How a 2xx answer is checked: ``"verify"``, ``"unsigned"`` (a file) or ``"statement"``.

    ``raw_path`` is the path as sent (percent-encoded, no query). It is decoded here, once, the way the server
    will read it, so the client and the standalone middleware classify the same string. Only a GET on one of
    the documented download patterns goes unverified; anything else (another method, ``images/upload``,
    ``images/%75pload``, an extra segment) is verified like every other answer (issue 11).
    """
    if method != "GET":
        return "verify"
    path = unquote(raw_path) if "%" in raw_path else raw_path
    if path in _UNSIGNED_EXACT:
        return "unsigned"
    if "merchant-service/images/" in path:
        match = _IMAGE.fullmatch(path)
        return "unsigned" if match is not None and match.group(1) != "upload" else "verify"
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
        extra_hosts: frozenset[Origin] = frozenset(),
        sign_body: bytes | None = None,
        verify: bool = True,
        *,
        host_checked: bool = False,
        rule: str | None = None,
        resend: bool = True,
    ) -> None:
        #: Origins allowed for this request besides the middleware's own (a per-request ``base_uri``).
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
# Set by the standalone middleware when an answer redirects to another origin: (from, to, target path). aiohttp
# follows the redirect in the same task, through the middleware again, which must then not sign for it. Only
# the very next call, and only to that origin and path, is refused: another request is signed as usual.
_redirected: contextvars.ContextVar[tuple[Origin, Origin, str] | None] = contextvars.ContextVar(
    "wechatpay_chain_redirect", default=None
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def read_capped(resp: ClientResponse, limit: int) -> bytes:
    """Read the whole body, refusing more than ``limit`` bytes (a hostile or broken peer cannot exhaust memory).

    The bytes are cached on the response, so a later ``await resp.read()`` returns them.
    """
    if resp._body is not None:  # already read (and cached) by the middleware
        return resp._body
    declared = resp.content_length
    # Content-Length counts the bytes on the wire; with a Content-Encoding aiohttp inflates them, so a small
    # gzip answer can become gigabytes: then only the decoded bytes counted below are trusted (issue 11).
    if declared is not None and "Content-Encoding" not in resp.headers:
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
        hosts: Iterable[str | Origin] = WECHATPAY_HOSTS,
        on_unknown_serial: Callable[[str], Awaitable[bool]] | None = None,
        max_size: int = MAX_RESPONSE_SIZE,
    ) -> None:
        self.max_size = max_size
        self.signer = signer
        self.verifier = verifier
        #: Origins that may receive the Authorization: ``hosts`` entries are host names (https, port 443) or
        #: origins such as ``"http://127.0.0.1:8080"``; scheme, host and port must all match.
        self.hosts = origins(hosts)
        #: Called with the unknown serial (e.g. to re-download platform certificates); ``True`` = retry verify once.
        self.on_unknown_serial = on_unknown_serial

    async def __call__(self, req: ClientRequest, handler: Handler) -> ClientResponse:
        ctx = current_context.get()
        standalone = ctx is None or not ctx.host_checked
        if standalone:
            self._check_origin(req, ctx)
        if ctx is not None and ctx.sign_body is not None:
            body = ctx.sign_body
        else:
            body = await body_bytes(req)
        if ctx is not None:
            if ctx.attempts and not ctx.resend:
                raise aiohttp.ServerDisconnectedError(
                    "the connection dropped mid-request; it was not re-sent because it is not idempotent"
                )
            ctx.attempts += 1
        req.headers["Authorization"] = self.signer(req.method, req.url.raw_path_qs, body)
        try:
            resp = await handler(req)
        finally:
            # Sent (or failed): wipe it, so no RequestInfo, exception or traceback frame holds it afterwards.
            req.headers["Authorization"] = REDACTED
        if ctx is not None:
            ctx.status = resp.status
        if standalone and resp.status in _REDIRECTS:
            self._note_redirect(req, resp)
        if 200 <= resp.status < 300 and self.verifier is not None and (ctx is None or ctx.verify):
            rule = ctx.rule if ctx is not None and ctx.rule is not None else response_rule(req.method, req.url.raw_path)
            serial = await self._verify(rule, resp)
            if ctx is not None:
                ctx.verified_serial = serial
        return resp

    def _check_origin(self, req: ClientRequest, ctx: RequestContext | None) -> None:
        """Without the client's checks: the exact origin must be allowed, and a redirect must keep its origin."""
        here = origin_of(req.url)
        redirect = _redirected.get()
        if redirect is not None:
            _redirected.set(None)
            if redirect[1] == here and redirect[2] == req.url.raw_path:
                raise TemplateError(
                    f"refusing to sign a redirect from {_show(redirect[0])} to {_show(here)}: "
                    "the merchant Authorization stays with the origin it was made for"
                )
        if here not in self.hosts and (ctx is None or here not in ctx.extra_hosts):
            raise TemplateError(
                f"refusing to send the merchant Authorization to {_show(here)}: not a WeChat Pay API host "
                "(https, port 443), the client's base_url, or a per-request base_uri (scheme, host and port must match)"
            )

    @staticmethod
    def _note_redirect(req: ClientRequest, resp: ClientResponse) -> None:
        location = resp.headers.get("Location")
        if not location:
            return
        try:
            url = req.url.join(yarl.URL(location))
            target = origin_of(url)
        except ValueError:
            return
        here = origin_of(req.url)
        if target != here:
            _redirected.set((here, target, url.raw_path))

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


def _show(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"
