"""Platform certificates that manage themselves: download, decrypt, verify, rotate.

``GET /v3/certificates`` answers with certificates AES-GCM-encrypted under the APIv3 key. The manager
decrypts them (the AEAD tag proves they come from WeChat Pay), then verifies the answer's own signature
against the certificates it just decrypted plus those already trusted, and only then merges them into the
client's :class:`~wechatpay_chain.Verifier`. Old and new serials overlap during a rotation; nothing is
removed before a replacement has been verified. Refreshes are single-flight and triggered by an unknown
serial (rate-limited). Only a client given no ``certs`` refreshes periodically (every 6 h by default;
WeChat Pay asks for less than 12 h): with ``certs`` the client makes no request the user did not ask for.

Merchants that only have a WeChat Pay public key (``PUB_KEY_ID_…``) get ``RESOURCE_NOT_EXISTS`` or
``NOT_FOUND``: that is an empty set, and the configured public keys keep working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import crypto
from ._template import parse
from .errors import APIError, ConfigError, DecryptionError, VerificationError, WeChatPayError, loggable
from .signing import Verifier

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "NO_CERTIFICATE_CODES",
    "CertificateManager",
    "PlatformCertificate",
    "decrypt_certificates",
    "verify_download",
]

logger = logging.getLogger("wechatpay_chain.certificates")

#: Error codes meaning "this merchant has no platform certificates (public-key mode)".
NO_CERTIFICATE_CODES = frozenset({"RESOURCE_NOT_EXISTS", "NOT_FOUND"})
WRONG_KEY = "decryption failed — check the APIv3 key"
_TEMPLATE = parse("v3/certificates")


@dataclass(frozen=True, slots=True)
class PlatformCertificate:
    """One decrypted platform certificate; ``serial`` is the ``serial_no`` WeChat Pay uses in headers."""

    serial: str
    effective_time: str
    expire_time: str
    certificate: x509.Certificate = field(repr=False, compare=False)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return crypto.load_public_key(self.certificate)

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def expired(self, now: float) -> bool:
        return self.not_after.timestamp() <= now


def _age(cert: PlatformCertificate) -> tuple[datetime, datetime, datetime]:
    """Sort key: ``effective_time`` as WeChat Pay states it, then the certificate's own validity."""
    try:
        effective = datetime.fromisoformat(cert.effective_time)
        if effective.tzinfo is None:
            raise ValueError
    except ValueError:
        effective = cert.certificate.not_valid_before_utc
    return effective, cert.certificate.not_valid_before_utc, cert.not_after


def _serial_matches(cert: x509.Certificate, serial_no: str) -> bool:
    try:
        return cert.serial_number == int(serial_no, 16)
    except ValueError:
        return False


def decrypt_certificates(body: bytes, apiv3_key: str | bytes) -> list[PlatformCertificate]:
    """Parse a ``/v3/certificates`` answer and decrypt every entry.

    A GCM failure means the APIv3 key is wrong (or the data was tampered with): :class:`DecryptionError`
    with :data:`WRONG_KEY`. A decrypted certificate whose serial differs from ``serial_no`` is refused.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise VerificationError(VerificationError.BAD_BODY, "/v3/certificates answer is not JSON") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise VerificationError(VerificationError.BAD_BODY, "/v3/certificates answer has no data list")
    out: list[PlatformCertificate] = []
    for i, item in enumerate(data):
        enc = item.get("encrypt_certificate") if isinstance(item, dict) else None
        serial = item.get("serial_no") if isinstance(item, dict) else None
        if not isinstance(enc, dict) or not isinstance(serial, str) or not serial:
            raise VerificationError(VerificationError.BAD_BODY, f"data[{i}] lacks serial_no/encrypt_certificate")
        ciphertext, nonce, aad = (enc.get(k) for k in ("ciphertext", "nonce", "associated_data"))
        if not isinstance(ciphertext, str) or not isinstance(nonce, str) or not isinstance(aad, str | None):
            raise VerificationError(VerificationError.BAD_BODY, f"data[{i}].encrypt_certificate is incomplete")
        try:
            pem = crypto.aes_gcm_decrypt(ciphertext, apiv3_key, nonce, aad)
        except DecryptionError:
            raise DecryptionError(f"{WRONG_KEY} (certificate {serial})") from None
        try:
            cert = crypto.load_certificate(pem)
            crypto.load_public_key(cert)
        except ValueError:
            raise DecryptionError(f"certificate {serial} did not decrypt to an RSA certificate") from None
        if not _serial_matches(cert, serial):
            raise VerificationError(
                VerificationError.BAD_BODY,
                f"certificate serial {crypto.certificate_serial(cert)} does not match serial_no {serial}",
            )
        effective = item.get("effective_time", "")
        expire = item.get("expire_time", "")
        out.append(
            PlatformCertificate(
                serial=serial,
                effective_time=effective if isinstance(effective, str) else "",
                expire_time=expire if isinstance(expire, str) else "",
                certificate=cert,
            )
        )
    return out


def verify_download(
    headers: Mapping[str, str],
    body: bytes,
    certificates: Iterable[PlatformCertificate],
    known: Mapping[str, rsa.RSAPublicKey] | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> str:
    """Verify the download's signature with (known keys ∪ the certificates it carried); return the serial."""
    keys = dict(known or {})
    keys.update({c.serial: c.public_key for c in certificates})
    return Verifier(keys, clock=clock).verify(headers, body)


class CertificateManager:
    """Keeps a client's verifier supplied with current platform certificates.

    Created by :class:`~wechatpay_chain.Client` when ``apiv3_key`` is given. Every refresh is signed,
    decrypted and verified before any key is trusted; concurrent callers share one download. When the
    verifier already holds keys (``certs`` were given) the manager is passive: it downloads only for an
    answer or notification signed with a serial it does not know, never in the background.
    """

    def __init__(
        self,
        client: Client,
        verifier: Verifier,
        apiv3_key: str,
        *,
        interval: float = 6 * 3600,
        retry_delay: float = 300.0,
        unknown_serial_interval: float = 60.0,
        unknown_global_interval: float = 5.0,
    ) -> None:
        if not 0 < interval <= 12 * 3600:
            raise ConfigError("certificate interval", "must be positive and at most 12 hours")
        self._client = client
        self._verifier = verifier
        self._apiv3_key = apiv3_key
        self.interval = interval
        self.retry_delay = retry_delay
        self.unknown_serial_interval = unknown_serial_interval
        self.unknown_global_interval = unknown_global_interval
        self._managed: dict[str, PlatformCertificate] = {}
        self._loaded = False
        self._inflight: asyncio.Task[list[PlatformCertificate]] | None = None
        self._background: asyncio.Task[None] | None = None
        self._unknown_tried: dict[str, float] = {}
        self._unknown_last = float("-inf")
        self._closed = False
        #: True when the client was given no keys: the manager is then their only source and keeps them fresh.
        self.periodic = not verifier.serials
        self.downloads = 0

    # -- state ------------------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """True once a download has succeeded (possibly with an empty, public-key-only answer)."""
        return self._loaded

    @property
    def certificates(self) -> tuple[PlatformCertificate, ...]:
        """The certificates from the downloads (old and new during a rotation), newest first."""
        return tuple(sorted(self._managed.values(), key=_age, reverse=True))

    def newest(self) -> PlatformCertificate | None:
        """The certificate to encrypt with: the latest ``effective_time`` (WeChat Pay and Go agree)."""
        certs = self.certificates
        return certs[0] if certs else None

    # -- refresh ----------------------------------------------------------------------------------------
    async def refresh(self) -> list[PlatformCertificate]:
        """Download now (or join the download in flight) and return the certificates it carried."""
        if self._closed:
            raise WeChatPayError("the client is closed")
        task = self._inflight
        if task is None:
            task = self._inflight = asyncio.ensure_future(self._download())
            task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Task[list[PlatformCertificate]]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here so a caller that went away leaves no warning

    async def _download(self) -> list[PlatformCertificate]:
        client = self._client
        prepared = client._prepare("GET", _TEMPLATE, (), {})
        prepared.verify = False  # verified below, against the certificates it carries
        self.downloads += 1
        try:
            resp = await client._send(prepared)
        except APIError as exc:
            if exc.code in NO_CERTIFICATE_CODES:
                logger.info("wechatpay_chain: no platform certificates (%s); public-key mode", exc.code)
                if not self._verifier.serials:
                    raise ConfigError(
                        "certs",
                        f"/v3/certificates answered {exc.code}: this merchant uses the WeChat Pay public key; "
                        "pass certs={'PUB_KEY_ID_...': 'file:///path/pub_key.pem'}",
                    ) from None
                self._loaded = True
                return []
            raise
        known = {s: k for s in self._verifier.serials if (k := self._verifier.key(s)) is not None}
        certs = decrypt_certificates(resp.body, self._apiv3_key)
        verify_download(resp.headers, resp.body, certs, known, clock=self._verifier.clock)
        self._install(certs)
        self._loaded = True
        logger.info("wechatpay_chain: platform certificates %s", [c.serial for c in certs])
        return certs

    def _install(self, certs: list[PlatformCertificate]) -> None:
        now = self._verifier.clock()
        fresh = {c.serial: c for c in certs if not c.expired(now)}
        keys = {s: k for s in self._verifier.serials if (k := self._verifier.key(s)) is not None}
        for serial, old in list(self._managed.items()):
            if serial not in fresh and old.expired(now):
                keys.pop(serial, None)
                del self._managed[serial]
        self._managed.update(fresh)
        keys.update({s: c.public_key for s, c in fresh.items()})
        self._verifier.replace(keys)

    async def ensure_loaded(self) -> None:
        """Before a verified request of a client given no ``certs``: start the periodic refresh, and wait
        for the first download if the verifier has nothing to verify with yet. A no-op otherwise."""
        if self._closed or not self.periodic:
            return
        self._start()
        if self._loaded or self._verifier.serials:
            return
        await self.refresh()

    async def on_unknown_serial(self, serial: str) -> bool:
        """Middleware hook: re-download for a serial we do not know; ``True`` if it is now trusted.

        At most once per ``unknown_serial_interval`` per serial and once per ``unknown_global_interval``
        overall, so forged notifications with random serials cannot make us hammer WeChat Pay.
        """
        if self._closed:
            return False
        now = time.monotonic()
        last = self._unknown_tried.get(serial)
        if last is not None and now - last < self.unknown_serial_interval:
            return False
        if self._inflight is None and now - self._unknown_last < self.unknown_global_interval:
            return False
        if len(self._unknown_tried) > 1024:
            self._unknown_tried.clear()
        self._unknown_tried[serial] = now
        self._unknown_last = now
        try:
            await self.refresh()
        except WeChatPayError as exc:
            logger.warning("wechatpay_chain: certificate refresh for unknown serial failed: %s", loggable(exc))
            return False
        return self._verifier.key(serial) is not None

    def settled(self) -> bool:
        """True when :meth:`ensure_loaded` has nothing to do (so a caller on another loop may skip it)."""
        if self._closed or not self.periodic:
            return True
        return self._background is not None and (self._loaded or bool(self._verifier.serials))

    def forget_tasks(self) -> None:
        """In a forked child: drop the parent's refresh tasks (they belong to its loop) so refreshes start afresh."""
        self._background = None
        self._inflight = None

    # -- background -------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._background is None and not self._closed:
            self._background = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = 0.0 if not self._loaded else self.interval
        while True:
            await asyncio.sleep(delay)
            try:
                await self.refresh()
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("wechatpay_chain: periodic certificate refresh failed: %s", loggable(exc))
                delay = self.retry_delay

    async def aclose(self) -> None:
        """Cancel the periodic refresh and any download in flight."""
        self._closed = True
        tasks = [t for t in (self._background, self._inflight) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._background = None

    def __repr__(self) -> str:
        return f"CertificateManager(serials={sorted(self._managed)!r}, loaded={self._loaded})"

