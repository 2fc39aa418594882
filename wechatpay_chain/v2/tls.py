"""The merchant TLS client certificate (双向证书) for APIv2 ``security`` calls (refunds, red packets ...).

An :class:`ssl.SSLContext` is built once per client. ``ssl`` only loads certificate chains from files, so
PEM text and PKCS#12 bundles are written to a private temporary directory (mode 0700) for the duration of
``load_cert_chain``, the key re-encrypted with a one-time password, and deleted at once.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from ..errors import ConfigError

__all__ = ["MerchantCertificate"]


def _read(thing: Any, field: str) -> bytes:
    if isinstance(thing, bytes):
        return thing
    if isinstance(thing, os.PathLike):
        thing = os.fspath(thing)
    if not isinstance(thing, str) or not thing:
        raise ConfigError(field, f"must be a file:// path, a path or PEM text, not {type(thing).__name__}")
    if "-----BEGIN" in thing:
        return thing.encode()
    path = thing[len("file://") :] if thing.startswith("file://") else thing
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(field, f"cannot read {path!r}: {exc.strerror or exc}") from None


class MerchantCertificate:
    """``apiclient_cert.pem`` + ``apiclient_key.pem`` (or ``apiclient_cert.p12``) as an SSL context.

    ``cafile`` replaces the system trust store (tests, private gateways); WeChat's hosts use public CAs.
    """

    __slots__ = ("_context", "certificate")

    def __init__(
        self,
        cert: Any = None,
        key: Any = None,
        *,
        passphrase: str | bytes | None = None,
        pkcs12_data: Any = None,
        pkcs12_password: str | bytes | None = None,
        cafile: str | None = None,
    ) -> None:
        password = passphrase.encode() if isinstance(passphrase, str) else passphrase
        if pkcs12_data is not None:
            raw = _read(pkcs12_data, "merchant_pkcs12")
            p12pw = pkcs12_password.encode() if isinstance(pkcs12_password, str) else pkcs12_password
            try:
                pkey, certificate, extra = pkcs12.load_key_and_certificates(raw, p12pw)
            except (ValueError, TypeError):
                raise ConfigError("merchant_pkcs12", "cannot open the PKCS#12 file (wrong password?)") from None
            if pkey is None or certificate is None:
                raise ConfigError("merchant_pkcs12", "the PKCS#12 file lacks the certificate or the private key")
            self.certificate: x509.Certificate = certificate
            cert_pem = certificate.public_bytes(serialization.Encoding.PEM) + b"".join(
                c.public_bytes(serialization.Encoding.PEM) for c in extra or ()
            )
        else:
            if cert is None or key is None:
                raise ConfigError("merchant_cert", "give (cert, key) — apiclient_cert.pem and apiclient_key.pem")
            cert_pem = cert.public_bytes(serialization.Encoding.PEM) if isinstance(cert, x509.Certificate) else _read(
                cert, "merchant_cert"
            )
            try:
                self.certificate = x509.load_pem_x509_certificate(cert_pem)
            except ValueError:
                raise ConfigError("merchant_cert", "is not a PEM certificate (apiclient_cert.pem)") from None
            if isinstance(key, rsa.RSAPrivateKey):
                pkey = key
            else:
                key_pem = _read(key, "merchant_cert")
                try:
                    pkey = serialization.load_pem_private_key(key_pem, password)
                except (ValueError, TypeError):
                    raise ConfigError("merchant_cert", "cannot load the merchant private key (passphrase?)") from None
        once = os.urandom(24).hex().encode()
        key_out = pkey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(once),
        )
        context = ssl.create_default_context(cafile=cafile)
        with tempfile.TemporaryDirectory(prefix="wechatpay-tls-") as tmp:
            cert_path = os.path.join(tmp, "cert.pem")
            key_path = os.path.join(tmp, "key.pem")
            for path, content in ((cert_path, cert_pem), (key_path, key_out)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
            try:
                context.load_cert_chain(cert_path, key_path, password=once)
            except ssl.SSLError as exc:
                raise ConfigError("merchant_cert", f"certificate and key do not form a pair ({exc.reason})") from None
        self._context = context

    @classmethod
    def coerce(
        cls, merchant_cert: Any, merchant_pkcs12: Any, cafile: str | None = None, key: Any = None
    ) -> MerchantCertificate | None:
        """From the Client arguments ``merchant_cert=(cert, key[, passphrase])`` / ``merchant_pkcs12=(p12, pw)``.

        ``merchant_cert`` alone (not a pair) is the certificate of ``key``, the client's ``private_key``.
        """
        if isinstance(merchant_cert, MerchantCertificate):
            return merchant_cert
        if merchant_cert is not None and merchant_pkcs12 is not None:
            raise ConfigError("merchant_cert", "give merchant_cert or merchant_pkcs12, not both")
        if merchant_cert is not None and not isinstance(merchant_cert, tuple | list):
            if key is None:
                raise ConfigError("merchant_cert", "a certificate alone needs private_key (or give (cert, key))")
            return cls(merchant_cert, key, cafile=cafile)
        if merchant_cert is not None:
            if not isinstance(merchant_cert, tuple | list) or len(merchant_cert) not in (2, 3):
                raise ConfigError("merchant_cert", "must be (cert, key) or (cert, key, passphrase)")
            passphrase = merchant_cert[2] if len(merchant_cert) == 3 else None
            return cls(merchant_cert[0], merchant_cert[1], passphrase=passphrase, cafile=cafile)
        if merchant_pkcs12 is not None:
            if not isinstance(merchant_pkcs12, tuple | list) or len(merchant_pkcs12) != 2:
                raise ConfigError(
                    "merchant_pkcs12", "must be (path_or_bytes, password); the password is usually the mchid"
                )
            return cls(pkcs12_data=merchant_pkcs12[0], pkcs12_password=merchant_pkcs12[1], cafile=cafile)
        return None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._context

    def __repr__(self) -> str:
        return "<MerchantCertificate (loaded)>"
