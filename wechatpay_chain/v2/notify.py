"""APIv2 notifications: verify a payment notification, decrypt a refund ``req_info``, build the reply.

Framework-free: give the raw request body bytes. Verify before you act on anything in the document.
"""

from __future__ import annotations

from typing import Any

from .. import crypto
from ..errors import DecryptionError, VerificationError
from ._sign import verify
from ._xml import _INVALID_CHARS as _INVALID
from ._xml import XMLError, parse_xml

__all__ = ["decrypt_refund_notification", "reply", "req_info_key", "verify_notification"]


def _parse(body: bytes | str) -> dict[str, Any]:
    try:
        return parse_xml(body)
    except XMLError as exc:
        raise VerificationError(VerificationError.BAD_BODY, f"APIv2 notification: {exc}") from None


def verify_notification(body: bytes | str, apiv2_key: str, *, sign_type: str | None = None) -> dict[str, Any]:
    """Parse a payment (or other signed) notification and check its ``sign``; return the fields.

    The algorithm is ``sign_type`` when given (pin the one your order used), else the notification's own
    ``sign_type`` field, which the sign covers, else MD5 (WeChat signs some notifications with MD5 and no
    ``sign_type`` although HMAC-SHA256 was asked for). It is never guessed from the sign's length. Only a flat
    document passes. A missing or wrong ``sign`` is a :class:`VerificationError` — answer with ``reply(False)``.
    """
    data = _parse(body)
    if not verify(data, apiv2_key, sign_type):
        reason = "lacks a sign" if not data.get("sign") else "sign does not match"
        raise VerificationError(VerificationError.BAD_SIGNATURE, f"APIv2 notification {reason}")
    return data


def req_info_key(apiv2_key: str) -> bytes:
    """The AES-256 key for ``req_info``: the 32 ASCII characters of the lowercase hex MD5 of the APIv2 key."""
    return crypto.md5(apiv2_key).encode("ascii")


def decrypt_refund_notification(body: bytes | str, apiv2_key: str, *, mchid: str | None = None) -> dict[str, Any]:
    """Decrypt a refund notification: the outer fields plus ``req_info`` decrypted into a dict.

    Refund notifications carry no ``sign``; their authenticity rests on ``req_info`` decrypting (AES-256-ECB,
    PKCS#7) under a key only you and WeChat know, so a failed decryption is a :class:`DecryptionError`. If a
    ``sign`` is present it is checked too; ``mchid`` (if given) must match the notification's ``mch_id``.
    """
    outer = _parse(body)
    if outer.get("sign") and not verify(outer, apiv2_key):
        raise VerificationError(VerificationError.BAD_SIGNATURE, "APIv2 refund notification sign does not match")
    if mchid is not None and outer.get("mch_id") not in (None, mchid):
        raise VerificationError(VerificationError.BAD_BODY, "refund notification is for another merchant")
    if outer.get("return_code") != "SUCCESS":
        return outer
    encrypted = outer.get("req_info")
    if not isinstance(encrypted, str) or not encrypted:
        raise DecryptionError("refund notification has no req_info")
    plain = crypto.aes_ecb_decrypt(encrypted, req_info_key(apiv2_key))
    try:
        inner = parse_xml(plain)
    except XMLError:
        raise DecryptionError("req_info decrypted to something that is not XML (wrong APIv2 key?)") from None
    return {**outer, "req_info": inner}


def reply(success: bool = True, message: str | None = None) -> bytes:
    """The XML answer WeChat expects: ``SUCCESS``/``OK`` or ``FAIL`` with a message (it retries on FAIL)."""
    code = "SUCCESS" if success else "FAIL"
    text = message if message is not None else ("OK" if success else "FAIL")
    if _INVALID.search(text):
        raise ValueError("reply message contains a control character XML cannot carry")
    msg = text.replace("]]>", "]]]]><![CDATA[>")
    return (
        f"<xml><return_code><![CDATA[{code}]]></return_code><return_msg><![CDATA[{msg}]]></return_msg></xml>"
    ).encode()
