"""The exception tree. Every error this library raises derives from :class:`WeChatPayError`.

::

    WeChatPayError
    ├── ConfigError (ValueError)        bad constructor arguments, named by field
    ├── TemplateError (ValueError)      bad chain, placeholder or call option, before any I/O
    ├── TransportError                  the request did not get an HTTP answer (aiohttp/OS errors)
    │   ├── RequestTimeout (TimeoutError)
    │   └── OutcomeUnknown              a non-idempotent write may or may not have been applied
    ├── APIError                        WeChat Pay answered non-2xx
    │   └── APIv2Error                  an APIv2 answer said return_code/result_code FAIL
    ├── VerificationError               a 2xx answer or a notification failed signature checks
    ├── DecryptionError                 AES-GCM / RSA-OAEP / AES-ECB decryption failed
    ├── DecodeError (ValueError)        a verified body is not the JSON (or XML) it claims to be
    └── EventLoopError (RuntimeError)   a client used from a loop it cannot serve (see wechatpay_chain._loops)

No exception carries a private key, an APIv3/APIv2 key or an Authorization value, nor leads to one through its
cause, context or traceback (the middleware wipes the header from aiohttp's request once it is sent); all pickle.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "APIv2Error",
    "ConfigError",
    "DecodeError",
    "DecryptionError",
    "EventLoopError",
    "OutcomeUnknown",
    "RequestTimeout",
    "TemplateError",
    "TransportError",
    "VerificationError",
    "WeChatPayError",
]


class WeChatPayError(Exception):
    """Root of every error raised by wechatpay-chain."""


class ConfigError(WeChatPayError, ValueError):
    """A constructor argument is missing, ill-typed or unusable; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.problem))


class TemplateError(WeChatPayError, ValueError):
    """A chain, placeholder or call option is wrong. Raised before any network I/O."""


class TransportError(WeChatPayError):
    """No HTTP answer was received: connection refused, reset, DNS, TLS, closed client..."""


class RequestTimeout(TransportError, TimeoutError):
    """The request did not complete within its timeout."""


class OutcomeUnknown(TransportError):
    """A write that is not idempotent failed in flight: WeChat Pay may or may not have applied it.

    Query the resource (or retry with the same merchant request number) before acting again.
    """


#: What usually causes an error code, added to ``str(APIError)`` as ``hint`` (never a secret, never a guess at one).
HINTS = {
    "SIGN_ERROR": (
        "WeChat Pay could not verify the request signature. Likely causes: private_key is not the key of the "
        "merchant certificate whose serial is `serial` (a renewed certificate, or another merchant's key; pass "
        "merchant_cert= and the client checks key, certificate and serial when it is built); mchid is not the "
        "merchant that certificate belongs to; the local clock is more than 5 minutes off (compare with this "
        "answer's Date header); a proxy or gateway changed the body, path or query after signing"
    ),
}


class APIError(WeChatPayError):
    """WeChat Pay answered with a non-2xx status. ``code``/``message``/``detail`` come from its JSON body.

    ``hint`` says what usually causes ``code`` (see :data:`HINTS`), or is ``None``.
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        detail: Any = None,
        request_id: str | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(status, code, message)

    def __str__(self) -> str:
        text = f"{self.status} {self.code or 'HTTP_ERROR'}"
        if self.message:
            text += f": {self.message}"
        if self.detail:
            text += f" {self.detail}"
        if self.request_id:
            text += f" (Request-ID {self.request_id})"
        hint = self.hint
        if hint:
            text += f"\n  hint: {hint}"
        return text

    @property
    def hint(self) -> str | None:
        return HINTS.get(self.code) if self.code else None

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.status, self.code, self.message, self.detail, self.request_id, self.body, self.headers),
        )


class VerificationError(WeChatPayError):
    """A response or notification failed verification and must not be trusted.

    ``reason`` is one of :attr:`REASONS`.
    """

    MISSING_HEADERS = "missing_headers"
    CLOCK_SKEW = "clock_skew"
    UNKNOWN_SERIAL = "unknown_serial"
    BAD_SIGNATURE = "bad_signature"
    BAD_BODY = "bad_body"
    REASONS = (MISSING_HEADERS, CLOCK_SKEW, UNKNOWN_SERIAL, BAD_SIGNATURE, BAD_BODY)

    def __init__(self, reason: str, message: str, request_id: str | None = None) -> None:
        self.reason = reason
        self.message = message
        self.request_id = request_id
        super().__init__(reason, message)

    def __str__(self) -> str:
        text = f"{self.reason}: {self.message}"
        if self.request_id:
            text += f" (Request-ID {self.request_id})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.message, self.request_id))


class DecryptionError(WeChatPayError):
    """Ciphertext could not be decrypted or authenticated (tampered, or the wrong key)."""


class DecodeError(WeChatPayError, ValueError):
    """A (verified) answer body could not be parsed as JSON/XML."""


class EventLoopError(WeChatPayError, RuntimeError):
    """A client was used from an event loop it cannot serve: a ``Client`` from a second loop (two
    ``asyncio.run()`` calls), or a blocking ``SyncClient`` call inside a running loop. The message says what to do.
    """


class APIv2Error(APIError):
    """An APIv2 (XML) answer reported ``FAIL``: ``err_code``/``err_code_des`` (or ``return_msg``) say why.

    ``code`` is ``err_code`` when present, else ``return_code``; ``data`` is the parsed document.
    """

    def __init__(
        self,
        status: int,
        return_code: str | None,
        return_msg: str | None,
        result_code: str | None,
        err_code: str | None,
        err_code_des: str | None,
        data: dict[str, Any] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(status, err_code or return_code, err_code_des or return_msg, None, None, body)
        self.return_code = return_code
        self.return_msg = return_msg
        self.result_code = result_code
        self.err_code = err_code
        self.err_code_des = err_code_des
        self.data = dict(data or {})

    @classmethod
    def from_document(cls, status: int, data: dict[str, Any], body: bytes = b"") -> APIv2Error:
        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        return cls(
            status,
            text("return_code"),
            text("return_msg"),
            text("result_code"),
            text("err_code"),
            text("err_code_des"),
            data,
            body[:65536],
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (
                self.status,
                self.return_code,
                self.return_msg,
                self.result_code,
                self.err_code,
                self.err_code_des,
                self.data,
                self.body,
            ),
        )


def loggable(value: object, limit: int = 300) -> str:
    """``str(value)`` made safe for one log line: control characters escaped, at most ``limit`` characters.

    Error text often quotes what a server or a notification sender wrote, unverified; as is, a newline in it
    would forge a log line of its own (issue 11).
    """
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"
