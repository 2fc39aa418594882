"""``WeChatPay\\Formatter`` and ``WeChatPay\\Transformer`` over :mod:`wechatpay_chain.signing` and :mod:`.v2`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from .. import crypto, signing
from ..v2._sign import query_string_like
from ..v2._xml import XMLError, parse_xml, to_xml

__all__ = ["Formatter", "Transformer"]


class Formatter:
    """``Formatter::nonce/timestamp/authorization/request/response/joinedByLineFeed/ksort/queryStringLike``."""

    @staticmethod
    def nonce(size: int = 32) -> str:
        """``size`` random characters from ``[0-9A-Z]`` (a subset of PHP's base62; 32 = 128 bits)."""
        return crypto.nonce(size)

    @staticmethod
    def timestamp() -> int:
        """Unix seconds."""
        return crypto.timestamp()

    @staticmethod
    def authorization(mchid: str, nonce: str, signature: str, timestamp: str | int, serial: str) -> str:
        """The APIv3 ``Authorization`` value, fields in wechatpay-php's order (the argument order differs)."""
        return (
            f'{signing.AUTH_SCHEME} mchid="{mchid}",serial_no="{serial}",timestamp="{timestamp}",'
            f'nonce_str="{nonce}",signature="{signature}"'
        )

    @overload
    @staticmethod
    def request(method: str, uri: str, timestamp: str | int, nonce: str, body: str = "") -> str: ...

    @overload
    @staticmethod
    def request(method: str, uri: str, timestamp: str | int, nonce: str, body: bytes) -> bytes: ...

    @staticmethod
    def request(method: str, uri: str, timestamp: str | int, nonce: str, body: str | bytes = "") -> str | bytes:
        """``METHOD\\nURI\\nTIMESTAMP\\nNONCE\\nBODY\\n``, what ``Rsa.sign`` signs (bytes in, bytes out)."""
        raw = body.encode() if isinstance(body, str) else body
        message = signing.request_message(str(method), str(uri), timestamp, str(nonce), raw)
        return message.decode() if isinstance(body, str) else message

    @overload
    @staticmethod
    def response(timestamp: str | int, nonce: str, body: str = "") -> str: ...

    @overload
    @staticmethod
    def response(timestamp: str | int, nonce: str, body: bytes) -> bytes: ...

    @staticmethod
    def response(timestamp: str | int, nonce: str, body: str | bytes = "") -> str | bytes:
        """``TIMESTAMP\\nNONCE\\nBODY\\n``, what ``Rsa.verify`` checks for answers and callbacks."""
        raw = body.encode() if isinstance(body, str) else body
        message = signing.response_message(timestamp, str(nonce), raw)
        return message.decode() if isinstance(body, str) else message

    @staticmethod
    def joinedByLineFeed(*pieces: Any) -> str:
        """Every piece followed by ``\\n``."""
        return "".join(f"{piece}\n" for piece in pieces)

    @staticmethod
    def ksort(thing: Mapping[Any, Any] | None = None) -> dict[Any, Any]:
        """A copy sorted by key in byte order (PHP ``SORT_STRING``, the APIv2 signing order)."""
        return dict(sorted((thing or {}).items(), key=lambda kv: str(kv[0]).encode()))

    @staticmethod
    def queryStringLike(thing: Mapping[str, Any] | None = None) -> str:
        """``k=v&…`` in the given order without ``sign`` and empty values."""
        return query_string_like(thing or {})


class Transformer:
    """``Transformer::toArray($xml)`` / ``Transformer::toXml($array)``, with the hardened APIv2 parser."""

    @staticmethod
    def toArray(xml: str | bytes = "<xml/>") -> dict[str, Any]:
        """The root's children as a dict; ``{}`` when the text is not acceptable XML (as PHP returns ``[]``)."""
        try:
            return parse_xml(xml)
        except XMLError:
            return {}

    @staticmethod
    def toXml(
        data: Mapping[str, Any], headless: bool = True, indent: bool = False, root: str = "xml", item: str = "item"
    ) -> str:
        """``<xml><k>v</k>…</xml>``; values with markup characters go in CDATA. Flat mappings only."""
        if indent:
            raise ValueError("Transformer.toXml: indent=True is not supported (WeChat Pay reads compact XML)")
        text = to_xml(data, root).decode() if data else f"<{root}/>"
        return text if headless else f'<?xml version="1.0" encoding="utf-8"?>\n{text}'
