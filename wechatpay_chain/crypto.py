"""Crypto toolkit: key loading, RSA-SHA256, RSA-OAEP, AES-GCM/ECB, digests, nonces.

Plain functions over ``cryptography`` key objects, so they are usable without a client
(notification handlers, scripts, the sandbox). Keys are loaded once; PEM text is not kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as _hmac
import os
import time
from collections.abc import Mapping
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12

from ._keyfile import Source, describe, pkcs12_hint, read_source
from .errors import DecryptionError

__all__ = [
    "PrivateKey",
    "PublicKey",
    "aes_ecb_decrypt",
    "aes_ecb_encrypt",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
    "certificate_serial",
    "hmac_sha256",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "md5",
    "nonce",
    "rsa_decrypt",
    "rsa_encrypt",
    "rsa_sign",
    "rsa_verify",
    "sha1",
    "sha256",
    "timestamp",
]

PrivateKey = rsa.RSAPrivateKey
PublicKey = rsa.RSAPublicKey
KeyInput = str | bytes | os.PathLike[str] | rsa.RSAPrivateKey | tuple[Any, Any]
"""What :func:`load_private_key` (and every function taking a merchant key) accepts."""
PublicKeyInput = str | bytes | os.PathLike[str] | rsa.RSAPublicKey | rsa.RSAPrivateKey | x509.Certificate

_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()

_PSEUDO_PRIVATE = ("private.pkcs1://", "private.pkcs8://")
_PSEUDO_PUBLIC = ("public.pkcs1://", "public.spki://")


def _b64der(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: the text after the prefix is not valid base64") from None


def load_private_key(thing: KeyInput, passphrase: str | bytes | None = None) -> rsa.RSAPrivateKey:
    """Load the merchant RSA private key from any form users keep it in.

    Accepts a key object, ``pathlib.Path``, a relative or absolute path, ``file:///path``, PEM text or bytes
    (PKCS#8, PKCS#1, encrypted PKCS#8 with ``passphrase``, or PHP's ``(key, passphrase)`` pair), DER bytes,
    ``private.pkcs1://``/``private.pkcs8://`` + base64 DER, or a PKCS#12 bundle with its password as
    ``passphrase``. Raises ``ValueError`` naming the file and saying what the input looked like.
    """
    if isinstance(thing, rsa.RSAPrivateKey):
        return thing
    if isinstance(thing, rsa.RSAPublicKey):
        raise ValueError("expected an RSA private key, got a public key")
    if isinstance(thing, x509.Certificate):
        raise ValueError(
            "expected a private key, got a certificate (apiclient_cert.pem is the public half; the key is "
            "apiclient_key.pem)"
        )
    if isinstance(thing, tuple):
        # PHP's ``[pem-or-file, passphrase]`` form for encrypted keys.
        if len(thing) != 2 or passphrase is not None:
            raise ValueError("expected (key, passphrase): a pair, and no separate passphrase argument")
        thing, passphrase = thing
    password = passphrase.encode() if isinstance(passphrase, str) else passphrase
    key: object
    if isinstance(thing, str) and thing.startswith(_PSEUDO_PRIVATE):
        prefix, rest = thing.split("://", 1)
        der = _b64der(rest, prefix)
        try:
            key = serialization.load_der_private_key(der, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(f"{prefix}:// payload is not a DER private key") from None
    else:
        source = read_source(cast("str | bytes | os.PathLike[str]", thing), "private key")
        key = _pem_private_key(source, password) if b"-----BEGIN" in source.data else _der_private_key(source, password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"expected an RSA private key, got {type(key).__name__}")
    return key


def _pem_private_key(source: Source, password: bytes | None) -> object:
    data, where = source.data, source.where()
    if (b"PUBLIC KEY-----" in data or b"CERTIFICATE-----" in data) and b"PRIVATE KEY-----" not in data:
        hint = "; the merchant key is apiclient_key.pem, not apiclient_cert.pem" if b"CERTIFICATE-----" in data else ""
        raise ValueError(f"expected a private key, got {describe(data)}{where} (that is the public half){hint}")
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        if "encrypted" in str(exc).lower() and password is None:
            raise ValueError(f"the private key{where} is encrypted: give its passphrase") from None
        raise ValueError(f"the private key{where} is not encrypted: drop the passphrase") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        encrypted = b"ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data
        # A wrong passphrase usually fails the padding check ("password" in the message), but about 1 in 256
        # decrypts to garbage with valid padding and then fails as unparsable DER: the same mistake.
        if password is not None and ("password" in str(exc).lower() or encrypted):
            raise ValueError(f"wrong passphrase for the encrypted private key{where}") from None
        raise ValueError(f"could not parse the private key{where} ({describe(data)})") from None


def _der_private_key(source: Source, password: bytes | None) -> object:
    """Binary input: a DER key, a PKCS#12 bundle (key read with ``password``), or a clear refusal."""
    data, where = source.data, source.where()
    if data[:1] == b"\x30":
        try:
            return serialization.load_der_private_key(data, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            pass
        try:
            x509.load_der_x509_certificate(data)
        except ValueError:
            pass
        else:
            raise ValueError(f"expected a private key, got a DER certificate{where} (the public half)")
        try:
            key, _cert, _extra = pkcs12.load_key_and_certificates(data, password)
        except ValueError as exc:
            if "password" in str(exc).lower():
                if password is not None:
                    raise ValueError(f"wrong passphrase for the PKCS#12 bundle{where}") from None
                raise ValueError(pkcs12_hint(source.path)) from None
        else:
            if key is None:
                raise ValueError(f"the PKCS#12 bundle{where} holds no private key")
            return key
    if source.path and source.path.lower().endswith((".p12", ".pfx")):
        raise ValueError(pkcs12_hint(source.path))
    raise ValueError(
        f"expected a PEM private key (BEGIN PRIVATE KEY / BEGIN RSA PRIVATE KEY), got {describe(data)}{where}"
    )


def load_certificate(thing: str | bytes | os.PathLike[str] | x509.Certificate) -> x509.Certificate:
    """Load an X.509 certificate from ``file://``, a path, PEM or DER bytes."""
    if isinstance(thing, x509.Certificate):
        return thing
    source = read_source(thing, "certificate")
    data = source.data
    try:
        if b"-----BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ValueError(f"expected an X.509 certificate, got {describe(data)}{source.where()}") from None


def load_public_key(thing: PublicKeyInput) -> rsa.RSAPublicKey:
    """Load an RSA public key: certificate (its key), SPKI, PKCS#1 public, key object or pseudo-protocol.

    ``public.spki://`` and ``public.pkcs1://`` take base64 DER. A PEM private key yields its public half.
    """
    if isinstance(thing, rsa.RSAPublicKey):
        return thing
    key: object
    if isinstance(thing, rsa.RSAPrivateKey | x509.Certificate):
        key = thing.public_key()
    elif isinstance(thing, str) and thing.startswith(_PSEUDO_PUBLIC):
        prefix, rest = thing.split("://", 1)
        der = _b64der(rest, prefix)
        try:
            key = (
                serialization.load_der_public_key(der)
                if prefix == "public.spki"
                else serialization.load_der_public_key(_pkcs1_public_to_spki(der))
            )
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError(f"{prefix}:// payload is not a DER public key") from None
    else:
        source = read_source(thing, "public key")
        data = source.data
        try:
            if b"-----BEGIN CERTIFICATE" in data:
                key = x509.load_pem_x509_certificate(data).public_key()
            elif b"PRIVATE KEY-----" in data:
                key = load_private_key(data).public_key()
            elif b"-----BEGIN" in data:
                key = serialization.load_pem_public_key(data)
            else:
                raise ValueError("not PEM")
        except UnsupportedAlgorithm:
            raise ValueError(
                f"expected an RSA public key, got {describe(data)}{source.where()} whose key algorithm is not "
                "supported (only RSA; national-crypto SM2 keys are not)"
            ) from None
        except ValueError:
            raise ValueError(
                "expected a certificate or public key (BEGIN CERTIFICATE / BEGIN PUBLIC KEY / "
                f"BEGIN RSA PUBLIC KEY), got {describe(data)}{source.where()}"
            ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"expected an RSA public key, got {type(key).__name__}")
    return key


def _pkcs1_public_to_spki(der: bytes) -> bytes:
    """Wrap a PKCS#1 RSAPublicKey DER in SubjectPublicKeyInfo (cryptography loads only SPKI DER)."""
    pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
    key = serialization.load_pem_public_key(pem)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate_serial(cert: x509.Certificate) -> str:
    """The certificate serial as WeChat Pay writes it: uppercase hex, no leading ``0x``."""
    return format(cert.serial_number, "X")


def rsa_sign(message: bytes | str, key: KeyInput) -> str:
    """SHA256withRSA (PKCS#1 v1.5) signature, base64. ``key``: a key object or what :func:`load_private_key` takes."""
    data = message.encode() if isinstance(message, str) else message
    try:
        raw = cast(rsa.RSAPrivateKey, key).sign(data, _PKCS1, _SHA256)
    except AttributeError:  # a path, file:// URL or PEM where a key object was expected: load it (or say why not)
        raw = load_private_key(key).sign(data, _PKCS1, _SHA256)
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(message: bytes | str, signature: str, key: PublicKeyInput) -> bool:
    """Check a base64 SHA256withRSA signature. Malformed base64 (e.g. probe signatures) is ``False``."""
    data = message.encode() if isinstance(message, str) else message
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        cast(rsa.RSAPublicKey, key).verify(raw, data, _PKCS1, _SHA256)
    except InvalidSignature:
        return False
    except AttributeError:  # not a key object: a certificate, path or PEM
        return rsa_verify(data, signature, load_public_key(key))
    return True


def rsa_encrypt(plaintext: str | bytes, key: PublicKeyInput) -> str:
    """RSA-OAEP (SHA-1, MGF1-SHA-1) for sensitive fields, base64. Empty input stays empty."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    if not data:
        return ""
    public = load_public_key(key)
    limit = public.key_size // 8 - 42
    if len(data) > limit:
        raise ValueError(f"RSA-OAEP can encrypt at most {limit} bytes with this key, got {len(data)}")
    return base64.b64encode(public.encrypt(data, _OAEP)).decode("ascii")


def rsa_decrypt(ciphertext: str, key: KeyInput) -> str:
    """Decrypt an RSA-OAEP (SHA-1) base64 ciphertext. PKCS#1 v1.5 padding is deliberately not offered."""
    if not ciphertext:
        return ""
    private = load_private_key(key)
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        return private.decrypt(raw, _OAEP).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise DecryptionError("RSA-OAEP decryption failed (wrong key or tampered ciphertext)") from None


def _aes_key(key: str | bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) not in (16, 24, 32):
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(raw)}")
    return raw


def aes_gcm_decrypt(ciphertext: str, key: str | bytes, nonce: str, associated_data: str | None = "") -> bytes:
    """AEAD_AES_256_GCM as WeChat uses it: text nonce, text AAD, base64(ciphertext ‖ 16-byte tag)."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        return AESGCM(_aes_key(key)).decrypt(nonce.encode(), raw, (associated_data or "").encode())
    except InvalidTag:
        raise DecryptionError("AES-GCM authentication failed: tampered data or wrong APIv3 key") from None
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError(f"AES-GCM input is malformed: {exc}") from None


def aes_gcm_encrypt(plaintext: str | bytes, key: str | bytes, nonce: str, associated_data: str | None = "") -> str:
    """Inverse of :func:`aes_gcm_decrypt` (used by the sandbox and tests to build notifications)."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    raw = AESGCM(_aes_key(key)).encrypt(nonce.encode(), data, (associated_data or "").encode())
    return base64.b64encode(raw).decode("ascii")


def aes_ecb_encrypt(plaintext: str | bytes, key: str | bytes) -> str:
    """AES-ECB with standard PKCS#7 padding, base64 (APIv2 refund ``req_info``)."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(_aes_key(key)), modes.ECB()).encryptor()  # noqa: S305
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")


def aes_ecb_decrypt(ciphertext: str, key: str | bytes) -> bytes:
    """Decrypt base64 AES-ECB/PKCS#7; a wrong key or tampering is a :class:`DecryptionError`."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        dec = Cipher(algorithms.AES(_aes_key(key)), modes.ECB()).decryptor()  # noqa: S305
        padded = dec.update(raw) + dec.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (binascii.Error, ValueError):
        raise DecryptionError("AES-ECB decryption failed (wrong key or tampered data)") from None


def md5(data: str | bytes) -> str:
    """Lowercase hex MD5 (APIv2 signing helper and ``req_info`` key derivation)."""
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()  # noqa: S324


def sha1(data: str | bytes) -> str:
    """Lowercase hex SHA-1 (bill ``hash_value``)."""
    return hashlib.sha1(data.encode() if isinstance(data, str) else data).hexdigest()  # noqa: S324


def sha256(data: str | bytes) -> str:
    """Lowercase hex SHA-256 (media ``meta.sha256``)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def hmac_sha256(data: str | bytes, key: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256."""
    k = key.encode() if isinstance(key, str) else key
    d = data.encode() if isinstance(data, str) else data
    return _hmac.new(k, d, hashlib.sha256).hexdigest()


def nonce(size: int = 32) -> str:
    """A CSPRNG nonce of ``size`` uppercase hex characters (32 = 128 bits, like the docs' example).

    Hex from ``os.urandom`` costs well under a microsecond, which matters on every request.
    """
    if size < 1:
        raise ValueError("nonce size must be at least 1")
    return os.urandom((size + 1) // 2).hex().upper()[:size]


def timestamp() -> int:
    """Unix time in seconds: WeChat Pay rejects milliseconds."""
    return int(time.time())


def public_keys(certs: Mapping[str, PublicKeyInput]) -> dict[str, rsa.RSAPublicKey]:
    """Load a ``serial → key`` mapping; errors name the serial."""
    out: dict[str, rsa.RSAPublicKey] = {}
    for serial, value in certs.items():
        try:
            out[str(serial)] = load_public_key(value)
        except ValueError as exc:
            raise ValueError(f"[{serial!r}]: {exc}") from None
    return out
