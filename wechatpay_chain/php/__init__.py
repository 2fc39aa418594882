"""wechatpay-php's utility classes under their PHP names, for porting PHP code line for line.

``Rsa::from($pem, Rsa::KEY_TYPE_PUBLIC)`` → ``Rsa.from_(pem, Rsa.KEY_TYPE_PUBLIC)``;
``PemUtil::parseCertificateSerialNo($file)`` → ``PemUtil.parseCertificateSerialNo(file)``;
``Formatter::nonce()`` → ``Formatter.nonce()``; ``new MediaUtil($file)`` → ``MediaUtil(file)``. Same argument
order and meaning as PHP (``from`` is a Python keyword, hence ``from_``). Every method is a thin shim over the
Pythonic functions in :mod:`wechatpay_chain.crypto`, :mod:`wechatpay_chain.signing`, :mod:`wechatpay_chain.v2`
and :mod:`wechatpay_chain.media`, which stay the primary API (the mapping is in docs/porting.md).
"""

from ._crypto import OPENSSL_PKCS1_OAEP_PADDING, OPENSSL_PKCS1_PADDING, AesEcb, AesGcm, Hash, Rsa
from ._formatter import Formatter, Transformer
from ._media import MediaUtil
from ._pem import PemUtil

__all__ = [
    "OPENSSL_PKCS1_OAEP_PADDING",
    "OPENSSL_PKCS1_PADDING",
    "AesEcb",
    "AesGcm",
    "Formatter",
    "Hash",
    "MediaUtil",
    "PemUtil",
    "Rsa",
    "Transformer",
]
