"""``json=`` → the exact bytes signed and sent: what Python values mean on the wire, and clear refusals.

orjson writes ``str``/``int``/``float``/``bool``/``None``/``dict``/``list``/``tuple``, ``UUID`` (its text),
``Enum`` (its value) and dataclasses natively, at full speed. Dates are routed through :func:`_default`
(``OPT_PASSTHROUGH_DATETIME``) because WeChat Pay wants RFC 3339 *with* an offset, and a naive ``datetime``
would silently be read in some other zone. Amounts are integer fen (分): a ``Decimal`` anywhere, or a float
as an order's ``amount``, is refused with that hint. A refusal names the member (``json.amount.total``),
found by walking the payload only after encoding failed, so the common path costs one ``orjson.dumps``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from .errors import TemplateError

__all__ = ["encode", "plain"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
_PLAIN = (str, int, float, bool, type(None))
_FEN = "amounts are integer fen (分, 1 元 = 100 分)"


def _default(value: Any) -> Any:
    """The non-native values ``json=`` accepts; anything else raises ``TypeError`` saying what to send."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TypeError(
                f"naive datetime {value.isoformat(sep=' ')} has no UTC offset; WeChat Pay wants RFC 3339 with one "
                "(e.g. 2026-01-01T00:00:00+08:00): give it a tzinfo, e.g. ZoneInfo('Asia/Shanghai')"
            )
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, Decimal):
        fen = value * 100
        example = f"; {value} 元 is {int(fen)}" if fen == fen.to_integral_value() else ""
        raise TypeError(f"Decimal {value} is not sent: {_FEN}, as int{example}")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        raise TypeError("a set has no order and no JSON form (did you write {...} without ':' for a dict?)")
    if isinstance(value, bytes | bytearray):
        raise TypeError("bytes have no JSON form: decode text to str (base64-encode binary data)")
    raise TypeError(f"{type(value).__name__} has no JSON form (send str, int, bool, None, dict, list or datetime)")


def _member(path: str, key: object) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _find(value: Any, path: str) -> tuple[str, str] | None:
    """The first member that cannot be encoded, as ``(path, problem)``; walked only after a failure."""
    if isinstance(value, _PLAIN):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            return path, f"integer {value} does not fit in 64 bits"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"keys must be str, got {type(key).__name__} {key!r:.40}"
            found = _find(item, _member(path, key))
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, _member(path, index))
            if found:
                return found
        return None
    try:
        converted = _default(value)
    except TypeError as exc:
        return path, str(exc)
    return _find(converted, path) if converted is not value else None


def plain(value: Any) -> bool:
    """Only JSON's own types (str, int, float, bool, None, dict, list): the payload reads back as itself."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, dict):
        return all(plain(item) for item in value.values())
    if isinstance(value, list):
        return all(plain(item) for item in value)
    return False


def _float_amount(payload: dict[str, Any]) -> str | None:
    """``amount`` (or a member of it) given as a float: the usual 元-for-分 mistake (looked at only if present)."""
    amount = payload["amount"]
    if type(amount) is float:
        return "json.amount"
    if type(amount) is dict:
        for key, item in amount.items():
            if type(item) is float:
                return f"json.amount.{key}"
    return None


def encode(payload: Any) -> bytes:
    """Serialise ``json=`` once; a value WeChat Pay cannot take is a :class:`TemplateError` naming its member."""
    if isinstance(payload, str | bytes | bytearray):  # json=json.dumps(body) would send a JSON *string*
        raise TemplateError(
            f"json: is {type(payload).__name__}, and every WeChat Pay body is a JSON object: pass the dict itself "
            "(json=body), or already-serialised text as body=... (signed and sent as given)"
        )
    try:
        body = orjson.dumps(payload, default=_default, option=_OPTIONS)
    except TypeError as exc:
        found = _find(payload, "json")
        if found is None:
            raise TemplateError(f"json: cannot serialise ({exc})") from None
        raise TemplateError(f"{found[0]}: {found[1]}") from None
    if type(payload) is dict and "amount" in payload and (member := _float_amount(payload)) is not None:
        raise TemplateError(f"{member}: a float is not sent: {_FEN}, as int (9.9 元 → 990)")
    return body
