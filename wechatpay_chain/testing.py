"""Building blocks for a fake WeChat Pay server: key material, request checking, response signing.

Used by the embedded sandbox and the test suite, and public so that users can build their own test doubles
that behave like WeChat Pay on the wire (the idea of botocore's Stubber, for this protocol).
"""

from __future__ import annotations

import datetime as _dt
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import crypto
from .signing import AUTH_SCHEME, parse_authorization, request_message, response_message

__all__ = [
    "KeyPair",
    "RequestCheckError",
    "build_notification",
    "check_request",
    "generate_key_pair",
    "sign_response_headers",
]


@dataclass(frozen=True)
class KeyPair:
    """An RSA-2048 key with a self-signed certificate whose serial is ``serial`` (uppercase hex)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)
    serial: str

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def generate_key_pair(
    common_name: str = "wechatpay-chain test", *, serial: int | None = None, days: int = 365
) -> KeyPair:
    """A fresh key pair and self-signed certificate (about 50 ms)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    number = serial if serial is not None else int.from_bytes(os.urandom(19), "big") | (1 << 151)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(number)
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert, crypto.certificate_serial(cert))


def sign_response_headers(
    body: bytes,
    private_key: rsa.RSAPrivateKey,
    serial: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat Pay puts on a signed answer or notification."""
    ts = int(time.time()) if timestamp is None else timestamp
    nc = nonce or crypto.nonce()
    return {
        "Wechatpay-Timestamp": str(ts),
        "Wechatpay-Nonce": nc,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": crypto.rsa_sign(response_message(ts, nc, body), private_key),
        "Wechatpay-Signature-Type": AUTH_SCHEME,
    }


class RequestCheckError(Exception):
    """A request's Authorization is wrong; ``str()`` is the reason WeChat Pay would give (SIGN_ERROR)."""


def check_request(
    method: str,
    target: str,
    body: bytes,
    authorization: str | None,
    merchant_keys: Callable[[str, str], rsa.RSAPublicKey | None] | Mapping[tuple[str, str], rsa.RSAPublicKey],
    *,
    now: float | None = None,
    max_skew: int = 300,
) -> dict[str, str]:
    """Recompute a request's signature from the bytes received; return the parsed Authorization fields.

    ``merchant_keys`` maps ``(mchid, serial)`` to the merchant's public key (or is a lookup function).
    """
    if not authorization:
        raise RequestCheckError("missing Authorization header")
    scheme, fields = parse_authorization(authorization)
    if scheme != AUTH_SCHEME:
        raise RequestCheckError(f"unsupported authorization scheme {scheme!r}")
    for name in ("mchid", "nonce_str", "timestamp", "serial_no", "signature"):
        if not fields.get(name):
            raise RequestCheckError(f"Authorization lacks {name}")
    if not (fields["timestamp"].isascii() and fields["timestamp"].isdigit()):
        raise RequestCheckError("timestamp is not Unix seconds")
    clock = time.time() if now is None else now
    if abs(clock - int(fields["timestamp"])) > max_skew:
        raise RequestCheckError("timestamp is more than 5 minutes away from the server clock")
    lookup = merchant_keys if callable(merchant_keys) else (lambda m, s: merchant_keys.get((m, s)))
    key = lookup(fields["mchid"], fields["serial_no"])
    if key is None:
        raise RequestCheckError(
            f"unknown merchant certificate serial {fields['serial_no']!r} for mchid {fields['mchid']!r}"
        )
    message = request_message(method, target, fields["timestamp"], fields["nonce_str"], body)
    if not crypto.rsa_verify(message, fields["signature"], key):
        raise RequestCheckError("signature does not match the request (method, path+query, body)")
    return fields


def build_notification(
    event_type: str,
    resource: Mapping[str, Any],
    apiv3_key: str,
    private_key: rsa.RSAPrivateKey,
    serial: str,
    *,
    summary: str = "",
    original_type: str = "transaction",
    notification_id: str | None = None,
    create_time: str | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of a callback as WeChat Pay POSTs it to a ``notify_url``.

    ``resource`` is AEAD_AES_256_GCM-encrypted with ``apiv3_key`` (associated data = ``original_type``) and
    the body is signed with ``private_key`` under ``serial`` (a platform certificate serial or a
    ``PUB_KEY_ID_…``), so :meth:`wechatpay_chain.Client.parse_notification` accepts it.
    """
    nonce = crypto.nonce(12)
    when = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=8)))
    body = orjson.dumps(
        {
            "id": notification_id or str(uuid.uuid4()),
            "create_time": create_time or when.isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": crypto.aes_gcm_encrypt(orjson.dumps(dict(resource)), apiv3_key, nonce, original_type),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
    )
    headers = sign_response_headers(body, private_key, serial, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    headers["Request-ID"] = os.urandom(16).hex()
    return headers, body
