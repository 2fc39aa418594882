"""APIv3 canonical strings, the Authorization header, and the response/notification verifier.

Everything here is pure apart from the clock and nonce sources, which are injectable so that
tests and the sandbox are deterministic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol, cast

from cryptography.hazmat.primitives.asymmetric import rsa

from . import crypto
from .errors import VerificationError

__all__ = [
    "AUTH_SCHEME",
    "MAX_CLOCK_SKEW",
    "PROBE_PREFIX",
    "RSASigner",
    "Signer",
    "Verifier",
    "authorization",
    "parse_authorization",
    "request_message",
    "response_message",
]

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW = 300
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"

_AUTH_PAIR = re.compile(r'([a-z_]+)="([^"]*)"')


def _body_bytes(body: object) -> bytes:
    """A body as the bytes that were (or will be) on the wire; text is taken as its UTF-8 encoding."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(
        f"body must be the exact bytes sent or received (or str, taken as UTF-8), not {type(body).__name__}; "
        "sign and verify the raw body, never a re-serialised dict"
    )


def request_message(method: str, target: str, timestamp: int | str, nonce: str, body: bytes | str = b"") -> bytes:
    """``METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n`` as bytes; ``target`` is the raw path+query sent."""
    return b"%s\n%s\n%s\n%s\n%s\n" % (
        method.upper().encode(),
        target.encode(),
        str(timestamp).encode(),
        nonce.encode(),
        body if type(body) is bytes else _body_bytes(body),
    )


def response_message(timestamp: int | str, nonce: str, body: bytes | str) -> bytes:
    """``TIMESTAMP\\nNONCE\\nBODY\\n``: what a response or notification signature covers (str body = UTF-8)."""
    data = body if type(body) is bytes else _body_bytes(body)
    return b"%s\n%s\n%s\n" % (str(timestamp).encode(), nonce.encode(), data)


def authorization(mchid: str, nonce: str, timestamp: int | str, serial: str, signature: str) -> str:
    """The Authorization header value, in the Go/Java order of fields."""
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",timestamp="{timestamp}",'
        f'serial_no="{serial}",signature="{signature}"'
    )


def parse_authorization(value: str) -> tuple[str, dict[str, str]]:
    """Split an Authorization value into its scheme and ``key → value`` pairs (for servers and tests)."""
    scheme, _, rest = value.strip().partition(" ")
    return scheme, dict(_AUTH_PAIR.findall(rest))


class Signer(Protocol):
    """Anything that can produce the Authorization value for a request (e.g. a KMS/HSM-backed signer)."""

    def __call__(self, method: str, target: str, body: bytes) -> str: ...


class RSASigner:
    """Signs requests with the merchant private key (SHA256withRSA).

    ``clock`` and ``nonce_factory`` are injectable for deterministic tests.
    """

    __slots__ = ("_key", "clock", "mchid", "nonce_factory", "serial")

    def __init__(
        self,
        mchid: str,
        serial: str,
        private_key: crypto.KeyInput,
        *,
        clock: Callable[[], float] = time.time,
        nonce_factory: Callable[[], str] = crypto.nonce,
    ) -> None:
        self.mchid = mchid
        self.serial = serial
        self._key = crypto.load_private_key(private_key)  # a key object passes through; a path or PEM is loaded
        self.clock = clock
        self.nonce_factory = nonce_factory

    def __call__(self, method: str, target: str, body: bytes) -> str:
        ts = int(self.clock())
        nonce = self.nonce_factory()
        signature = crypto.rsa_sign(request_message(method, target, ts, nonce, body), self._key)
        return authorization(self.mchid, nonce, ts, self.serial, signature)

    def __repr__(self) -> str:
        return f"RSASigner(mchid={self.mchid!r}, serial={self.serial!r})"


def _public_keys(keys: Mapping[str, object]) -> dict[str, rsa.RSAPublicKey]:
    """Key objects as given; certificates, paths and PEM loaded (errors name the serial)."""
    if all(isinstance(key, rsa.RSAPublicKey) for key in keys.values()):
        return cast("dict[str, rsa.RSAPublicKey]", dict(keys))
    return crypto.public_keys(cast("Mapping[str, crypto.PublicKeyInput]", keys))


class Verifier:
    """Verifies signed WeChat Pay responses and notifications against a ``serial → public key`` map.

    The map holds platform-certificate serials and ``PUB_KEY_ID_…`` public keys side by side; serials are
    compared as opaque strings. Fails closed: every failure is a :class:`VerificationError` with a reason.
    """

    __slots__ = ("_keys", "clock", "max_skew")

    def __init__(
        self,
        keys: Mapping[str, rsa.RSAPublicKey],
        *,
        clock: Callable[[], float] = time.time,
        max_skew: int = MAX_CLOCK_SKEW,
    ) -> None:
        self._keys = _public_keys(keys)
        self.clock = clock
        self.max_skew = max_skew

    @property
    def serials(self) -> tuple[str, ...]:
        """The serials currently trusted."""
        return tuple(self._keys)

    def key(self, serial: str) -> rsa.RSAPublicKey | None:
        return self._keys.get(serial)

    def update(self, keys: Mapping[str, rsa.RSAPublicKey]) -> None:
        """Add or replace keys (certificate rotation); existing serials stay trusted."""
        merged = dict(self._keys)
        merged.update(_public_keys(keys))
        self._keys = merged

    def replace(self, keys: Mapping[str, rsa.RSAPublicKey]) -> None:
        self._keys = _public_keys(keys)

    def verify(self, headers: Mapping[str, str], body: bytes, request_id: str | None = None) -> str:
        """Check the four ``Wechatpay-*`` headers, the clock window and the signature; return the serial."""
        ts = headers.get("Wechatpay-Timestamp", "").strip()
        nonce = headers.get("Wechatpay-Nonce", "").strip()
        signature = headers.get("Wechatpay-Signature", "").strip()
        serial = headers.get("Wechatpay-Serial", "").strip()
        if not (ts and nonce and signature and serial):
            missing = [
                name
                for name, value in (
                    ("Wechatpay-Timestamp", ts),
                    ("Wechatpay-Nonce", nonce),
                    ("Wechatpay-Signature", signature),
                    ("Wechatpay-Serial", serial),
                )
                if not value
            ]
            raise VerificationError(
                VerificationError.MISSING_HEADERS,
                f"response is not signed: missing {', '.join(missing)}",
                request_id or headers.get("Request-ID"),
            )
        if not (ts.isascii() and ts.isdigit()) or len(ts) > 12:  # "²".isdigit() is True, int("²") fails
            raise VerificationError(
                VerificationError.CLOCK_SKEW,
                f"Wechatpay-Timestamp {ts[:20]!r} is not Unix seconds",
                request_id or headers.get("Request-ID"),
            )
        skew = abs(self.clock() - int(ts))
        if skew >= self.max_skew:
            raise VerificationError(
                VerificationError.CLOCK_SKEW,
                f"signature timestamp is {int(skew)} s away from local time (limit {self.max_skew} s); check NTP",
                request_id or headers.get("Request-ID"),
            )
        key = self._keys.get(serial)
        if key is None:
            raise VerificationError(
                VerificationError.UNKNOWN_SERIAL,
                f"signed by serial {serial[:64]!r}, which is not among the trusted keys {sorted(self._keys)}",
                request_id or headers.get("Request-ID"),
            )
        if signature.startswith(PROBE_PREFIX):
            raise VerificationError(
                VerificationError.BAD_SIGNATURE,
                "signature probe (WECHATPAY/SIGNTEST/) rejected",
                request_id or headers.get("Request-ID"),
            )
        if not crypto.rsa_verify(response_message(ts, nonce, body), signature, key):
            raise VerificationError(
                VerificationError.BAD_SIGNATURE,
                f"signature does not match the body (serial {serial})",
                request_id or headers.get("Request-ID"),
            )
        return serial

    def __repr__(self) -> str:
        return f"Verifier(serials={sorted(self._keys)!r})"
