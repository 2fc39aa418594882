"""APIv2 signatures: ``k=v&…&key=APIV2_KEY`` over the sorted non-empty fields, MD5 or HMAC-SHA256.

Sorting is by byte order of the names (Python's ``sorted`` on ``str`` compares code points, which for the
ASCII names WeChat uses is byte order — the rule wechatpay-php had to fix in its issue #41).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from ..errors import TemplateError

__all__ = ["HMAC_SHA256", "MD5", "algorithm_for", "query_string_like", "sign", "string_to_sign", "verify"]

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"


def query_string_like(data: Mapping[str, Any]) -> str:
    """``k=v&…`` of the fields in their given order, leaving out ``sign`` and empty or nested values."""
    return "&".join(
        f"{k}={v}"
        for k, v in data.items()
        if k != "sign" and v is not None and v != "" and not isinstance(v, dict | list)
    )


def string_to_sign(data: Mapping[str, Any], key: str) -> str:
    """``stringSignTemp``: byte-sorted ``k=v`` of non-empty fields except ``sign``, then ``&key=<key>``."""
    pairs = query_string_like(dict(sorted(data.items(), key=lambda kv: kv[0].encode())))
    return f"{pairs}&key={key}" if pairs else f"key={key}"


def sign(data: Mapping[str, Any], key: str, sign_type: str | None = None) -> str:
    """The uppercase hex ``sign`` of ``data``; ``sign_type`` defaults to ``data["sign_type"]`` or MD5."""
    algo = sign_type or data.get("sign_type") or MD5
    message = string_to_sign(data, key).encode()
    if algo == MD5:
        return hashlib.md5(message).hexdigest().upper()  # noqa: S324 - the protocol's algorithm
    if algo == HMAC_SHA256:
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest().upper()
    raise TemplateError(f"sign_type must be {MD5!r} or {HMAC_SHA256!r}, got {algo!r}")


def algorithm_for(signature: str) -> str:
    """A guess at what produced a received ``sign`` from its length (64 hex digits: HMAC-SHA256, else MD5).

    Informational only: :func:`verify` never uses it, since trusting the received length would let an MD5
    sign stand in where HMAC-SHA256 was asked for.
    """
    return HMAC_SHA256 if len(signature) == 64 else MD5


def verify(data: Mapping[str, Any], key: str, sign_type: str | None = None) -> bool:
    """Recompute ``data["sign"]`` with ``sign_type`` and compare in constant time.

    ``sign_type`` should be the algorithm your request used; ``None`` means the document's own ``sign_type``
    field (which the sign covers), else MD5. Fails unless every field is a flat string (or integer) value:
    anything else would be returned without being covered by the sign.
    """
    received = data.get("sign")
    if not isinstance(received, str) or not received:
        return False
    for name, value in data.items():
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, str | int):
            return False
    algo = sign_type or data.get("sign_type") or MD5
    if sign_type is None and algo not in (MD5, HMAC_SHA256):
        return False  # an unknown algorithm named by the received document
    expected = sign(data, key, algo)
    return hmac.compare_digest(expected.encode(), received.upper().encode())
