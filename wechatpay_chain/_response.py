"""The immutable result of a request: status, headers and the exact (verified) body bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import yarl
from multidict import CIMultiDictProxy

from .errors import APIError, DecodeError

__all__ = ["Response", "error_from_answer", "safe_headers"]


@dataclass(frozen=True, slots=True)
class Response:
    """A WeChat Pay answer. ``body`` is exactly what was verified; ``json()`` parses it on demand.

    ``verified_serial`` names the key whose signature was checked (``None`` for the documented unsigned
    download endpoints).
    """

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes = field(repr=False)
    raw_url: yarl.URL | str = ""
    verified_serial: str | None = None

    @property
    def url(self) -> str:
        """The URL the answer came from (after any failover); built on demand, off the hot path."""
        return str(self.raw_url)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("Request-ID")

    def json(self) -> Any:
        """The body parsed with orjson; ``None`` for an empty (e.g. 204) body."""
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(
                f"answer body is not JSON ({exc}); content-type {self.headers.get('Content-Type')!r}"
            ) from None

    def xml(self) -> dict[str, Any]:
        """An APIv2 body parsed by the hardened XML parser (no DTD, no entities): ``{field: text}``."""
        from .v2._xml import parse_xml

        return parse_xml(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes Request-ID={self.request_id}>"


def error_from_answer(status: int, raw: bytes, headers: Mapping[str, str]) -> APIError:
    code = message = None
    detail: Any = None
    try:
        doc = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        code = doc.get("code") if isinstance(doc.get("code"), str) else None
        message = doc.get("message") if isinstance(doc.get("message"), str) else None
        detail = doc.get("detail")
    elif raw:
        message = raw[:200].decode("utf-8", "replace")
    return APIError(status, code, message, detail, headers.get("Request-ID"), raw[:65536], safe_headers(headers))


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("set-cookie", "authorization")}
