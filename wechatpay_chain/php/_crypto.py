"""``WeChatPay\\Crypto\\{Rsa, AesGcm, AesEcb, Hash}`` as static-method classes over :mod:`wechatpay_chain.crypto`."""

from __future__ import annotations

import base64
import binascii
import hmac as _hmac
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .. import crypto

__all__ = ["OPENSSL_PKCS1_OAEP_PADDING", "OPENSSL_PKCS1_PADDING", "AesEcb", "AesGcm", "Hash", "Rsa"]

#: PHP's ``OPENSSL_PKCS1_OAEP_PADDING`` / ``OPENSSL_PKCS1_PADDING`` constants (same values as ext-openssl).
OPENSSL_PKCS1_PADDING = 1
OPENSSL_PKCS1_OAEP_PADDING = 4


def _oaep_only(padding: int) -> None:
    if padding != OPENSSL_PKCS1_OAEP_PADDING:
        raise ValueError(
            "only OPENSSL_PKCS1_OAEP_PADDING is supported: PKCS#1 v1.5 decryption is a padding oracle "
            "(wechatpay-php dropped it in 1.4.10)"
        )


class Rsa:
    """``Rsa::from/fromPkcs1/fromPkcs8/fromSpki/pkcs1ToSpki/encrypt/decrypt/sign/verify``.

    Keys may be given in every form ``from_`` accepts (PHP hands strings straight to ext-openssl too).
    """

    KEY_TYPE_PUBLIC = "public"
    KEY_TYPE_PRIVATE = "private"

    @staticmethod
    def from_(thing: Any, type: str = KEY_TYPE_PRIVATE) -> Any:
        """``Rsa::from($thing, $type)``: ``file://``, PEM (PKCS#1/PKCS#8/SPKI/certificate), the
        ``private.pkcs1://``-style pseudo-protocols, ``[pem, passphrase]`` or a key object.

        Returns an ``RSAPrivateKey`` or ``RSAPublicKey``; raises ``ValueError`` (PHP: ``UnexpectedValueException``).
        """
        try:
            if type == Rsa.KEY_TYPE_PUBLIC:
                return crypto.load_public_key(thing)
            if type == Rsa.KEY_TYPE_PRIVATE:
                if isinstance(thing, list):
                    thing = tuple(thing)
                return crypto.load_private_key(thing)
        except TypeError as exc:
            raise ValueError(f"Rsa.from_: cannot load a {type} key from {exc}") from None
        raise ValueError(f"Rsa.from_: type must be Rsa.KEY_TYPE_PUBLIC or Rsa.KEY_TYPE_PRIVATE, got {type!r}")

    @staticmethod
    def fromPkcs1(thing: str, type: str = KEY_TYPE_PRIVATE) -> Any:
        """Bare base64 DER of a PKCS#1 key (no PEM lines)."""
        protocol = "public.pkcs1" if type == Rsa.KEY_TYPE_PUBLIC else "private.pkcs1"
        return Rsa.from_(f"{protocol}://{thing}", type)

    @staticmethod
    def fromPkcs8(thing: str) -> rsa.RSAPrivateKey:
        """Bare base64 DER of a PKCS#8 private key."""
        key: rsa.RSAPrivateKey = Rsa.from_(f"private.pkcs8://{thing}", Rsa.KEY_TYPE_PRIVATE)
        return key

    @staticmethod
    def fromSpki(thing: str) -> rsa.RSAPublicKey:
        """Bare base64 DER of a SubjectPublicKeyInfo public key."""
        key: rsa.RSAPublicKey = Rsa.from_(f"public.spki://{thing}", Rsa.KEY_TYPE_PUBLIC)
        return key

    @staticmethod
    def pkcs1ToSpki(thing: str) -> str:
        """Base64 PKCS#1 ``RSAPublicKey`` DER → base64 SPKI DER."""
        try:
            der = base64.b64decode(thing, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("Rsa.pkcs1ToSpki: the input is not base64") from None
        try:
            return base64.b64encode(crypto._pkcs1_public_to_spki(der)).decode("ascii")
        except ValueError:
            raise ValueError("Rsa.pkcs1ToSpki: the input is not a PKCS#1 RSA public key") from None

    @staticmethod
    def encrypt(plaintext: str | bytes, publicKey: Any, padding: int = OPENSSL_PKCS1_OAEP_PADDING) -> str:
        """RSA-OAEP (SHA-1) → base64, for sensitive fields; send the key's serial as ``Wechatpay-Serial``."""
        _oaep_only(padding)
        return crypto.rsa_encrypt(plaintext, Rsa.from_(publicKey, Rsa.KEY_TYPE_PUBLIC))

    @staticmethod
    def decrypt(ciphertext: str, privateKey: Any, padding: int = OPENSSL_PKCS1_OAEP_PADDING) -> str:
        """Base64 RSA-OAEP (SHA-1) → text; a wrong key is a :class:`~wechatpay_chain.errors.DecryptionError`."""
        _oaep_only(padding)
        return crypto.rsa_decrypt(ciphertext, Rsa.from_(privateKey, Rsa.KEY_TYPE_PRIVATE))

    @staticmethod
    def sign(message: str | bytes, privateKey: Any) -> str:
        """SHA256withRSA → base64."""
        return crypto.rsa_sign(message, Rsa.from_(privateKey, Rsa.KEY_TYPE_PRIVATE))

    @staticmethod
    def verify(message: str | bytes, signature: str, publicKey: Any) -> bool:
        """Check a base64 SHA256withRSA signature."""
        return crypto.rsa_verify(message, signature, Rsa.from_(publicKey, Rsa.KEY_TYPE_PUBLIC))


class _Aes:
    """``AesInterface`` constants."""

    BLOCK_SIZE = 16
    KEY_LENGTH_BYTE = 32
    AUTH_TAG_LENGTH_BYTE = 16
    ALGO_AES_256_GCM = "aes-256-gcm"
    ALGO_AES_256_ECB = "aes-256-ecb"


class AesGcm(_Aes):
    """``AesGcm::encrypt($plaintext, $key, $iv, $aad)`` / ``decrypt($ciphertext, $key, $iv, $aad)``."""

    @staticmethod
    def encrypt(plaintext: str | bytes, key: str | bytes, iv: str = "", aad: str = "") -> str:
        """base64(ciphertext ‖ 16-byte tag)."""
        return crypto.aes_gcm_encrypt(plaintext, key, iv, aad)

    @staticmethod
    def decrypt(ciphertext: str, key: str | bytes, iv: str = "", aad: str = "") -> str:
        """The plaintext; tampering or a wrong key is a :class:`~wechatpay_chain.errors.DecryptionError`."""
        return crypto.aes_gcm_decrypt(ciphertext, key, iv, aad).decode("utf-8")


class AesEcb(_Aes):
    """``AesEcb::encrypt($plaintext, $key)`` / ``decrypt($ciphertext, $key)`` (PKCS#7; the IV is unused in ECB)."""

    @staticmethod
    def encrypt(plaintext: str | bytes, key: str | bytes, iv: str = "") -> str:
        return crypto.aes_ecb_encrypt(plaintext, key)

    @staticmethod
    def decrypt(ciphertext: str, key: str | bytes, iv: str = "") -> str:
        return crypto.aes_ecb_decrypt(ciphertext, key).decode("utf-8")


class Hash:
    """``Hash::md5/hmac/sign/equals`` (APIv2 and WeCom signatures)."""

    ALGO_MD5 = "MD5"
    ALGO_HMAC_SHA256 = "HMAC-SHA256"

    @staticmethod
    def md5(thing: str | bytes, key: str = "", agency: bool | int | str = False) -> str:
        """Lowercase hex MD5 of ``thing``, then ``&key=<key>`` (``&secret=`` when ``agency``) if a key is given."""
        data = thing.encode() if isinstance(thing, str) else thing
        if key:
            data += (b"&secret=" if agency else b"&key=") + key.encode()
        return crypto.md5(data)

    @staticmethod
    def hmac(thing: str | bytes, key: str, algorithm: str = "sha256") -> str:
        """Lowercase hex HMAC of ``thing + "&key=" + key`` keyed with ``key``."""
        data = (thing.encode() if isinstance(thing, str) else thing) + b"&key=" + key.encode()
        if algorithm.lower() == "sha256":
            return crypto.hmac_sha256(data, key)
        return _hmac.new(key.encode(), data, algorithm.lower()).hexdigest()  # ValueError for an unknown name

    @staticmethod
    def sign(type: str, data: str, key: str) -> str | None:
        """Uppercase ``md5``/``hmac`` of ``data`` for ``MD5``/``HMAC-SHA256``; ``None`` for any other type (as PHP)."""
        if type == Hash.ALGO_MD5:
            return Hash.md5(data, key).upper()
        if type == Hash.ALGO_HMAC_SHA256:
            return Hash.hmac(data, key).upper()
        return None

    @staticmethod
    def equals(known: str | None, user: str | None = None) -> bool:
        """Constant-time comparison (``hash_equals``); ``None`` on either side is ``False``."""
        if not isinstance(known, str) or not isinstance(user, str):
            return False
        return _hmac.compare_digest(known.encode(), user.encode())
