"""Callback notifications: verify like a response, then decrypt ``resource`` with the APIv3 key.

:func:`parse_notification` is framework-agnostic (raw headers + raw body bytes in, a frozen
:class:`Notification` out, or a :class:`~wechatpay_chain.WeChatPayError`). :func:`aiohttp_handler` wraps
it into an ``aiohttp.web`` handler that answers the way WeChat Pay expects: 204 on success, 4xx/5xx with
``{"code":"FAIL","message":…}`` otherwise, so WeChat retries. :func:`respond` / :func:`respond_sync` are the
same endpoint for any other framework. A client that cannot check notifications (no ``apiv3_key``) is
refused when the handler is built, not discovered as a 500 on the first real notification.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from . import crypto
from .errors import ConfigError, DecryptionError, VerificationError, WeChatPayError, loggable
from .signing import AUTH_SCHEME, Verifier

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "Notification",
    "NotificationParser",
    "aiohttp_handler",
    "decrypt_notification",
    "fail_body",
    "parse_notification",
    "require_keys",
    "respond",
    "respond_sync",
]

logger = logging.getLogger("wechatpay_chain.notify")

RSA_AEAD = "AEAD_AES_256_GCM"

HeadersInput = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted notification. ``resource`` is the decrypted JSON (e.g. a transaction)."""

    id: str
    create_time: str
    event_type: str
    resource_type: str
    summary: str
    resource: Any
    original_type: str
    serial: str
    original: Mapping[str, Any] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def created(self) -> datetime:
        """``create_time`` as an aware datetime (RFC 3339 with offset)."""
        return datetime.fromisoformat(self.create_time)


def _headers(headers: HeadersInput) -> CIMultiDict[str]:
    """A case-insensitive copy of any header container (dict, multidict, Starlette ``Headers``, ASGI pairs)."""
    if isinstance(headers, CIMultiDict | CIMultiDictProxy):
        return CIMultiDict(headers)
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: CIMultiDict[str] = CIMultiDict()
    try:
        for key, value in items:
            k = key.decode("latin-1") if isinstance(key, bytes | bytearray) else key
            v = value.decode("latin-1") if isinstance(value, bytes | bytearray) else value
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError
            out.add(k, v)
    except (TypeError, ValueError):
        raise VerificationError(
            VerificationError.MISSING_HEADERS, "headers must map header names to string values"
        ) from None
    return out


def parse_notification(
    headers: HeadersInput, body: bytes | bytearray | str, verifier: Verifier, apiv3_key: str | bytes
) -> Notification:
    """Verify and decrypt one notification.

    ``body`` must be the raw request bytes exactly as received (re-encoded JSON does not verify).
    Raises :class:`VerificationError` (unsigned, skewed, unknown serial, bad signature or probe, malformed
    body) or :class:`DecryptionError` (tampered ``resource`` or wrong APIv3 key).
    """
    hdrs = _headers(headers)
    if not isinstance(body, bytes | bytearray | memoryview | str):
        raise TypeError(
            f"body must be the raw request body exactly as received (bytes or str), not {type(body).__name__}: "
            "a parsed or re-encoded body does not verify (Starlette/FastAPI: await request.body(); Flask: "
            "request.get_data(); Django: request.body; aiohttp: await request.read())"
        )
    raw = body.encode() if isinstance(body, str) else bytes(body)
    request_id = hdrs.get("Request-ID")
    sign_type = hdrs.get("Wechatpay-Signature-Type", "").strip()
    if sign_type and sign_type != AUTH_SCHEME:
        raise VerificationError(
            VerificationError.BAD_SIGNATURE, f"unsupported Wechatpay-Signature-Type {sign_type[:40]!r}", request_id
        )
    serial = verifier.verify(hdrs, raw, request_id)
    return decrypt_notification(raw, serial, apiv3_key, request_id)


def decrypt_notification(
    raw: bytes, serial: str, apiv3_key: str | bytes, request_id: str | None = None
) -> Notification:
    """Second half of :func:`parse_notification`, for a body whose signature is already verified."""

    def bad(what: str) -> VerificationError:
        return VerificationError(VerificationError.BAD_BODY, f"notification body {what}", request_id)

    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad("is not JSON") from None
    if not isinstance(doc, dict):
        raise bad("is not a JSON object")
    resource = doc.get("resource")
    if not isinstance(resource, dict):
        raise bad("has no resource object")
    fields = {}
    for name in ("id", "create_time", "event_type", "resource_type", "summary"):
        value = doc.get(name, "")
        if not isinstance(value, str):
            raise bad(f"field {name} is not a string")
        fields[name] = value
    algorithm = resource.get("algorithm")
    if algorithm != RSA_AEAD:
        raise DecryptionError(f"resource.algorithm is {str(algorithm)[:40]!r}, expected {RSA_AEAD}")
    ciphertext, nonce, aad = (resource.get(k) for k in ("ciphertext", "nonce", "associated_data"))
    if not isinstance(ciphertext, str) or not isinstance(nonce, str) or not isinstance(aad, str | None):
        raise DecryptionError("resource lacks ciphertext/nonce strings")
    plaintext = crypto.aes_gcm_decrypt(ciphertext, apiv3_key, nonce, aad)
    try:
        decrypted = orjson.loads(plaintext)
    except orjson.JSONDecodeError:
        raise DecryptionError("decrypted resource is not JSON") from None
    original_type = resource.get("original_type", "")
    return Notification(
        id=fields["id"],
        create_time=fields["create_time"],
        event_type=fields["event_type"],
        resource_type=fields["resource_type"],
        summary=fields["summary"],
        resource=decrypted,
        original_type=original_type if isinstance(original_type, str) else "",
        serial=serial,
        original=doc,
        body=raw,
    )


class NotificationParser(Protocol):
    """What :func:`aiohttp_handler` needs: a :class:`~wechatpay_chain.Client` satisfies it."""

    def parse_notification(self, headers: HeadersInput, body: bytes) -> Awaitable[Notification]: ...


class SyncNotificationParser(Protocol):
    """What :func:`respond_sync` needs: a :class:`~wechatpay_chain.SyncClient` satisfies it."""

    def parse_notification(self, headers: HeadersInput, body: bytes) -> Notification: ...


def require_keys(verifier: Verifier | None, apiv3_key: str | None) -> tuple[Verifier, str]:
    """The verifier and APIv3 key a client checks notifications with, or :class:`ConfigError` naming what is missing."""
    if apiv3_key is None:
        raise ConfigError(
            "apiv3_key",
            "is needed to check notifications (their resource is encrypted with it): "
            "pass apiv3_key=... (the 32-character APIv3 key from the merchant platform) to the client",
        )
    if verifier is None:
        raise ConfigError("certs", "notifications are signed: give the client certs, or a private key and apiv3_key")
    return verifier, apiv3_key


def _check_parser(parser: object) -> None:
    """Fail at once for a library client that could never check a notification."""
    from ._client import Client
    from ._sync import SyncClient

    client = parser.client if isinstance(parser, SyncClient) else parser
    if isinstance(client, Client):
        require_keys(client.verifier, client.apiv3_key)


def fail_body(message: str) -> bytes:
    """The JSON WeChat Pay expects with a 4xx/5xx reply."""
    return orjson.dumps({"code": "FAIL", "message": message})


def reply_for(exc: BaseException) -> tuple[int, str]:
    """Map a failure to the HTTP status and message to answer WeChat Pay with (no secrets, no details)."""
    if isinstance(exc, VerificationError):
        return 401, f"verification failed: {exc.reason}"
    if isinstance(exc, DecryptionError):
        return 400, "decryption failed"
    if isinstance(exc, WeChatPayError):
        return 500, "notification could not be checked"
    return 500, "handler failed"


async def respond(
    parser: NotificationParser,
    headers: HeadersInput,
    body: bytes,
    on_notification: Callable[[Notification], Awaitable[object] | object],
) -> tuple[int, bytes]:
    """The whole callback endpoint, framework-free: ``(status, body)`` to answer WeChat Pay with.

    204 and no body when ``on_notification`` succeeded; 401/400 with ``{"code":"FAIL",…}`` for a
    notification that fails checks; 500 when it could not be checked (e.g. the platform certificates
    could not be downloaded) or ``on_notification`` raises, so WeChat Pay retries later. A client without
    ``apiv3_key`` raises :class:`ConfigError` instead of answering.
    """
    _check_parser(parser)
    try:
        note = await parser.parse_notification(headers, body)
    except ConfigError:
        raise
    except WeChatPayError as exc:
        return _rejected(exc)
    try:
        result = on_notification(note)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        return _handler_failed(note, exc)
    return 204, b""


def respond_sync(
    parser: SyncNotificationParser,
    headers: HeadersInput,
    body: bytes,
    on_notification: Callable[[Notification], object],
) -> tuple[int, bytes]:
    """:func:`respond` for WSGI frameworks (Flask, Django sync views) with a :class:`~wechatpay_chain.SyncClient`."""
    _check_parser(parser)
    try:
        note = parser.parse_notification(headers, body)
    except ConfigError:
        raise
    except WeChatPayError as exc:
        return _rejected(exc)
    try:
        on_notification(note)
    except Exception as exc:
        return _handler_failed(note, exc)
    return 204, b""


def _rejected(exc: WeChatPayError) -> tuple[int, bytes]:
    status, message = reply_for(exc)
    logger.warning("wechatpay_chain: rejected notification: %s", loggable(exc))
    return status, fail_body(message)


def _handler_failed(note: Notification, exc: Exception) -> tuple[int, bytes]:
    """The traceback goes to the log, a generic message to WeChat Pay."""
    logger.error("wechatpay_chain: notification handler failed for %s", note.id, exc_info=exc)
    return 500, fail_body("handler failed")


def aiohttp_handler(
    parser: NotificationParser,
    on_notification: Callable[[Notification], Awaitable[object] | object],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` handler around :func:`respond` (``app.router.add_post("/notify", handler)``).

    Keep ``on_notification`` fast and idempotent: dedupe by ``notification.id``, queue slow work.
    Raises :class:`ConfigError` at once when ``parser`` is a client without ``apiv3_key``.
    """
    from aiohttp import web

    _check_parser(parser)

    async def handler(request: web.Request) -> web.Response:
        status, body = await respond(parser, request.headers, await request.read(), on_notification)
        if not body:
            return web.Response(status=status)
        return web.Response(status=status, body=body, content_type="application/json")

    return handler
