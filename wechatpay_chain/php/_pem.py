"""``WeChatPay\\Util\\PemUtil`` over :mod:`wechatpay_chain.crypto`."""

from __future__ import annotations

import os
from typing import Any

from cryptography import x509

from .. import crypto
from ._crypto import Rsa

__all__ = ["PemUtil"]


class PemUtil:
    """``PemUtil::loadCertificate/loadCertificateFromString/parseCertificateSerialNo`` (and the deprecated
    ``loadPrivateKey*``, which are ``Rsa.from_``)."""

    @staticmethod
    def loadCertificate(filepath: str | os.PathLike[str]) -> x509.Certificate:
        """An X.509 certificate from a path or ``file://`` URL."""
        path = os.fspath(filepath)
        return crypto.load_certificate(path if path.startswith("file://") else f"file://{path}")

    @staticmethod
    def loadCertificateFromString(content: str | bytes | x509.Certificate) -> x509.Certificate:
        """An X.509 certificate from PEM (or DER) text."""
        return crypto.load_certificate(content.encode() if isinstance(content, str) else content)

    @staticmethod
    def parseCertificateSerialNo(certificate: Any) -> str:
        """The serial as WeChat Pay writes it (uppercase hex) of a certificate, its PEM, a path or ``file://``."""
        if isinstance(certificate, str) and "-----BEGIN" in certificate:
            certificate = certificate.encode()
        return crypto.certificate_serial(crypto.load_certificate(certificate))

    @staticmethod
    def loadPrivateKey(filepath: str | os.PathLike[str]) -> Any:
        """Deprecated in PHP since 1.2: ``Rsa.from_(file)``."""
        path = os.fspath(filepath)
        return Rsa.from_(path if path.startswith("file://") else f"file://{path}")

    @staticmethod
    def loadPrivateKeyFromString(content: Any) -> Any:
        """Deprecated in PHP since 1.2: ``Rsa.from_(content)``."""
        return Rsa.from_(content)
