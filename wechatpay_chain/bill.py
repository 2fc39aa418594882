"""Parse WeChat Pay bill CSV (trade and fund-flow bills) into rows and a summary, incrementally.

Layout: a header line, detail lines whose every cell starts with a back-quote (so spreadsheets keep long
numbers as text), then a summary header line and one summary line (back-quoted again)::

    交易时间,公众账号ID,商户号,...
    `2024-01-01 09:00:00,`wx...,`1900000109,...
    总交易单数,应结订单总金额,...
    `3,`0.03,...

Cells are split on ``,``` (a comma followed by the back-quote), so commas inside product names survive.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["Bill", "BillFormatError", "BillParser", "parse_bill"]


class BillFormatError(ValueError):
    """The text is not a bill: a detail line has a different number of cells than the header."""


@dataclass
class Bill:
    """A parsed bill: ``rows`` are ``{header: cell}`` dicts; ``summary`` maps the totals' headers to values."""

    headers: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    summary_headers: list[str] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)


def _cells(line: str) -> list[str]:
    return line[1:].split(",`")


class BillParser:
    """Feed text (or bytes, via :meth:`feed_bytes`) in any chunking; completed rows come back from each call."""

    def __init__(self) -> None:
        self.bill = Bill()
        self._buffer = ""
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._in_summary = False
        self._line_no = 0

    @property
    def headers(self) -> list[str]:
        return self.bill.headers

    @property
    def summary(self) -> dict[str, str]:
        return self.bill.summary

    def feed(self, text: str) -> list[dict[str, str]]:
        return list(self._rows(text))

    def feed_bytes(self, data: bytes) -> list[dict[str, str]]:
        return list(self._rows(self._decoder.decode(data)))

    def _rows(self, text: str) -> Iterator[dict[str, str]]:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            row = self._line(line)
            if row is not None:
                yield row

    def close(self) -> list[dict[str, str]]:
        """Flush the last line (the file may not end with a newline)."""
        rest = self._buffer + self._decoder.decode(b"", final=True)
        self._buffer = ""
        return [row for row in map(self._line, rest.split("\n")) if row is not None]

    async def aiter(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, str]]:
        """Rows from a byte stream such as ``client.stream(...)``; :attr:`summary` is filled at the end."""
        async for chunk in chunks:
            for row in self._rows(self._decoder.decode(chunk)):
                yield row
        for row in self.close():
            yield row

    def _line(self, line: str) -> dict[str, str] | None:
        self._line_no += 1
        line = line.rstrip("\r").lstrip("\ufeff")
        if not line.strip():
            return None
        bill = self.bill
        if not bill.headers:
            bill.headers = line.split(",")
            return None
        if not line.startswith("`"):
            bill.summary_headers = line.split(",")
            self._in_summary = True
            return None
        cells = _cells(line)
        if self._in_summary:
            bill.summary = dict(zip(bill.summary_headers, cells, strict=False))
            return None
        if len(cells) != len(bill.headers):
            raise BillFormatError(f"line {self._line_no}: {len(cells)} cells, header has {len(bill.headers)}")
        return dict(zip(bill.headers, cells, strict=True))


def parse_bill(data: bytes | str | Iterable[bytes]) -> Bill:
    """Parse a whole bill held in memory (for big files use :meth:`BillParser.aiter` on the stream)."""
    parser = BillParser()
    chunks: Iterable[bytes] = [data.encode()] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
    for chunk in chunks:
        parser.bill.rows.extend(parser.feed_bytes(chunk))
    parser.bill.rows.extend(parser.close())
    return parser.bill
