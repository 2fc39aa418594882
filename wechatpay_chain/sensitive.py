"""Sensitive fields: encrypt names/ID numbers/phones for a request, decrypt those in answers.

WeChat Pay must be told which of its keys encrypted a request's fields (``Wechatpay-Serial``), and one
request must not mix keys. So :meth:`Encryptor.encrypt` returns a :class:`Ciphertext` — a ``str`` that
remembers its key's serial — and the client, when it serialises a ``json=`` payload, collects those serials:
one serial sets ``Wechatpay-Serial`` automatically, two different ones (or a conflicting explicit header)
are refused before any I/O. Nothing to remember, nothing to get wrong::

    await wxpay.v3.applyment4sub.applyment_.post(json={"contact_info": {"contact_name": wxpay.encrypt("张三")}})

For a raw ``body=`` the header cannot be inferred: pass ``headers=encryptor.headers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import crypto
from .errors import ConfigError, TemplateError

__all__ = ["Ciphertext", "Encryptor", "apply_serial", "choose_key", "decrypt", "payload_serial"]

_HEADER = "Wechatpay-Serial"
_issued = False  # no payload walking until a Ciphertext has ever been made


class Ciphertext(str):
    """A base64 RSA-OAEP ciphertext that knows the serial of the key it was made with."""

    serial: str

    def __new__(cls, value: str, serial: str) -> Ciphertext:
        global _issued
        obj = super().__new__(cls, value)
        obj.serial = serial
        _issued = True
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ciphertext, (str(self), self.serial))


class Encryptor:
    """Encrypts with one WeChat Pay key (platform certificate or ``PUB_KEY_ID_…`` public key)."""

    __slots__ = ("key", "serial")

    def __init__(self, serial: str, public_key: crypto.PublicKeyInput) -> None:
        if not isinstance(serial, str) or not serial.strip():
            raise ConfigError("serial", "the WeChat Pay key's serial (or PUB_KEY_ID_...) is required")
        self.serial = serial.strip()
        self.key: rsa.RSAPublicKey = crypto.load_public_key(public_key)

    @property
    def headers(self) -> dict[str, str]:
        """The header a request carrying these ciphertexts needs (added automatically for ``json=``)."""
        return {_HEADER: self.serial}

    def encrypt(self, value: str) -> Ciphertext:
        """RSA-OAEP(SHA-1) + base64. An empty string stays empty (WeChat Pay's convention)."""
        if not isinstance(value, str):
            raise TypeError(f"sensitive values are strings, got {type(value).__name__}")
        return Ciphertext(crypto.rsa_encrypt(value, self.key), self.serial)

    def encrypt_fields(self, payload: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        """A copy of ``payload`` with each dotted path (``"contact_info.contact_name"``) encrypted."""
        out: dict[str, Any] = _copy(payload)
        for path in fields:
            node: Any = out
            parts = path.split(".")
            for part in parts[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    raise TemplateError(f"encrypt_fields: {path!r} does not lead to an object field")
            last = parts[-1]
            if last not in node:
                raise TemplateError(f"encrypt_fields: {path!r} is not in the payload")
            if not isinstance(node[last], str):
                raise TemplateError(f"encrypt_fields: {path!r} is {type(node[last]).__name__}, not a string")
            node[last] = self.encrypt(node[last])
        return out

    def __repr__(self) -> str:
        return f"Encryptor(serial={self.serial!r})"


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def payload_serial(payload: Any) -> str | None:
    """The one serial the payload's ciphertexts were made with, ``None`` if none; mixing is an error."""
    if not _issued:
        return None
    found: set[str] = set()
    stack = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, Ciphertext):
            if item:
                found.add(item.serial)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    if len(found) > 1:
        raise TemplateError(
            f"json: sensitive fields were encrypted with different WeChat Pay keys {sorted(found)}; "
            "one request must use one key (Wechatpay-Serial)"
        )
    return found.pop() if found else None


def apply_serial(payload: Any, headers: MutableMapping[str, str]) -> None:
    """Set ``Wechatpay-Serial`` from the payload's ciphertexts; refuse a conflicting explicit header."""
    serial = payload_serial(payload)
    if serial is None:
        return
    for name, value in headers.items():
        if name.lower() == _HEADER.lower():
            if value.strip() != serial:
                raise TemplateError(
                    f"headers: {_HEADER} is {value!r} but the sensitive fields were encrypted for {serial!r}"
                )
            return
    headers[_HEADER] = serial


def choose_key(
    keys: Mapping[str, rsa.RSAPublicKey], newest_certificate: str | None, serial: str | None = None
) -> Encryptor:
    """Pick the key to encrypt with: ``serial`` if given; else the ``PUB_KEY_ID_…`` public key; else the
    newest downloaded platform certificate; else the only key configured."""
    if serial is not None:
        key = keys.get(serial)
        if key is None:
            raise ConfigError("serial", f"{serial!r} is not among the trusted WeChat Pay keys {sorted(keys)}")
        return Encryptor(serial, key)
    public = sorted(s for s in keys if s.startswith("PUB_KEY_ID_"))
    if len(public) == 1:
        return Encryptor(public[0], keys[public[0]])
    if newest_certificate is not None and newest_certificate in keys:
        return Encryptor(newest_certificate, keys[newest_certificate])
    if len(keys) == 1:
        only = next(iter(keys))
        return Encryptor(only, keys[only])
    if not keys:
        raise ConfigError(
            "certs",
            "no WeChat Pay key to encrypt with yet: give certs, or `await client.certificates.refresh()` "
            "to download the platform certificates first",
        )
    raise ConfigError("serial", f"several WeChat Pay keys are trusted {sorted(keys)}: pass serial=...")


def decrypt(ciphertext: str, private_key: rsa.RSAPrivateKey) -> str:
    """Decrypt a sensitive field of an answer with the merchant private key (RSA-OAEP SHA-1)."""
    return crypto.rsa_decrypt(ciphertext, private_key)
