"""A strict RFC 6570 subset for request paths: ``{name}`` and ``{+name}``.

``{name}`` percent-encodes every byte outside the unreserved set, so a value can never add a path
segment, a query or a fragment. ``{+name}`` keeps reserved characters (for a whole dynamic URL).
A missing or ``None`` value is an error, never an empty segment.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from .errors import TemplateError

_EXPR = re.compile(r"\{([^{}]*)\}")
_VARNAME = re.compile(r"^[A-Za-z0-9_.%-]+$")
_PCT = re.compile(r"(%[0-9A-Fa-f]{2})")
_RESERVED = ":/?#[]@!$&'()*+,;="
_UNSUPPORTED_OPS = "/?#.;&=,!@|"
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


def encode(text: str) -> str:
    """Percent-encode everything outside the RFC 3986 unreserved set (a fast path for plain IDs)."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def _literal(text: str) -> str:
    # Literal template text may carry reserved characters; anything else is percent-encoded.
    return "".join(
        part if _PCT.fullmatch(part) else quote(part, safe=_RESERVED)
        for part in _PCT.split(text)
        if part
    )


def _reserved(value: str) -> str:
    # Reserved expansion: reserved characters and existing %XX triplets pass through unchanged.
    return "".join(
        part if _PCT.fullmatch(part) else quote(part, safe=_RESERVED)
        for part in _PCT.split(value)
        if part
    )


def format_value(name: str, value: Any) -> str:
    """Render a placeholder or query value: str, int, Decimal, finite float, bool (true/false), date
    (YYYY-MM-DD)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) or (isinstance(value, float) and value == value and abs(value) != float("inf")):
        return str(value)
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date too
        raise TemplateError(
            f"{name!r} is a datetime: give a date (value.date() → YYYY-MM-DD, as bill_date takes) or the text the "
            "API documents for it"
        )
    if isinstance(value, datetime.date):
        return value.isoformat()  # bill_date=2026-01-02, as json= renders a date
    raise TemplateError(f"{name!r} must be a string, a number or a date, not {type(value).__name__}")


class Template:
    """A parsed path template. Parse once (cached), expand per request."""

    __slots__ = ("names", "parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | tuple[bool, str]] = []
        names: list[str] = []
        pos = 0
        for match in _EXPR.finditer(source):
            if match.start() > pos:
                parts.append(_literal(source[pos : match.start()]))
            expr = match.group(1)
            reserved = expr.startswith("+")
            name = expr[1:] if reserved else expr
            if not name:
                raise TemplateError(f"empty placeholder in {source!r}")
            if name[0] in _UNSUPPORTED_OPS:
                raise TemplateError(f"placeholder {{{expr}}} in {source!r}: only {{name}} and {{+name}} are supported")
            if not _VARNAME.match(name):
                raise TemplateError(f"placeholder {{{expr}}} in {source!r} has an invalid name")
            parts.append((reserved, name))
            if name not in names:
                names.append(name)
            pos = match.end()
        rest = source[pos:]
        if "{" in rest or "}" in rest:
            raise TemplateError(f"unbalanced brace in template {source!r}")
        if rest:
            parts.append(_literal(rest))
        self.parts = tuple(parts)
        self.names = frozenset(names)

    def expand(self, values: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            reserved, name = part
            value = values.get(name)
            if value is None:
                raise TemplateError(
                    f"placeholder {{{name}}} of {self.source!r} has no value: pass {name}=..."
                )
            text = format_value(name, value)
            if reserved:
                out.append(_reserved(text))
            elif text in ("", ".", ".."):
                # An empty or dot segment would silently change which resource the path names.
                if not text:
                    raise TemplateError(f"placeholder {{{name}}} of {self.source!r} is an empty string")
                out.append(text.replace(".", "%2E"))
            else:
                out.append(encode(text))
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


@lru_cache(maxsize=2048)
def parse(source: str) -> Template:
    """Parse (and cache) a template string."""
    return Template(source)
