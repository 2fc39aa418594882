"""APIv2 XML: build flat ``<xml>`` documents and parse answers with a hardened expat parser.

The parser refuses any DOCTYPE, entity declaration or external entity reference *while parsing* (expat
handlers), so the check cannot be dodged with another encoding the way a text search could. Without a DTD,
expat knows no entity but the five predefined ones, so XXE and billion-laughs payloads fail before any
expansion. ``defusedxml`` does the same with the same handlers; doing it here avoids a dependency.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Mapping
from typing import Any

from ..errors import TemplateError

__all__ = ["XMLError", "parse_xml", "to_xml"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CDATA_TRIGGER = re.compile(r"[<>&\"']")
MAX_XML_SIZE = 4 * 1024 * 1024
#: More elements than any APIv2 answer has (the longest lists, e.g. refund queries, stay far below).
MAX_ELEMENTS = 10_000


class XMLError(ValueError):
    """A document is not acceptable APIv2 XML (malformed, DTD/entities, nested or repeated elements, too large)."""


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TemplateError(f"xml field {key!r} must be a string or an integer, not {type(value).__name__}")
    text = str(value)
    if _INVALID_CHARS.search(text):
        raise TemplateError(f"xml field {key!r} contains a control character XML cannot carry")
    return text


def to_xml(data: Mapping[str, Any], root: str = "xml") -> bytes:
    """Serialise a flat mapping as ``<xml><k>v</k>…</xml>`` (UTF-8). ``None`` values are left out.

    Values containing markup characters go in CDATA (``]]>`` inside is split across sections).
    """
    parts = [f"<{root}>"]
    for key, value in data.items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise TemplateError(f"xml field name {key!r} is not a valid element name")
        if value is None:
            continue
        text = _text(key, value)
        if _CDATA_TRIGGER.search(text):
            text = "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        parts.append(f"<{key}>{text}</{key}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode()


def _refuse(what: str) -> Any:
    def handler(*_args: Any) -> Any:
        raise XMLError(f"refused: the document contains {what}")

    return handler


def _blank(texts: list[str]) -> None:
    if "".join(texts).strip():
        raise XMLError("refused: text outside the fields (APIv2 documents are flat)")


def parse_xml(data: bytes | str, *, max_elements: int = MAX_ELEMENTS) -> dict[str, str]:
    """Parse a flat APIv2 document into ``{name: text}`` for the root's children, in linear time.

    APIv2 documents are flat (protocol §9.1), and only flat fields can be covered by ``sign``, so a nested
    element, a repeated name, text beside the fields, or more than ``max_elements`` elements is refused
    (:class:`XMLError`), as are DTDs, entity declarations, external and unknown entities.
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_XML_SIZE:
        raise XMLError(f"document larger than {MAX_XML_SIZE} bytes")
    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE")
    parser.EntityDeclHandler = _refuse("an ENTITY declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed ENTITY declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    result: dict[str, str] = {}
    texts: list[str] = []
    depth = 0
    count = 0

    def start(name: str, _attrs: dict[str, str]) -> None:
        nonlocal depth, count
        count += 1
        if count > max_elements:
            raise XMLError(f"document has more than {max_elements} elements")
        if depth >= 2:
            raise XMLError(f"refused: nested element <{name}> (APIv2 documents are flat)")
        if depth == 1:
            _blank(texts)
            if name in result:
                raise XMLError(f"refused: repeated element <{name}> (APIv2 documents are flat)")
            result[name] = ""
        texts.clear()
        depth += 1

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if depth == 1:
            result[name] = "".join(texts)
        else:
            _blank(texts)
        texts.clear()

    def chars(text: str) -> None:
        if depth:
            texts.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError as exc:
        raise XMLError(f"malformed XML: {exc}") from None
    return result
