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

__all__ = ["MAX_LINE", "Bill", "BillFormatError", "BillParser", "parse_bill"]


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


#: Longest line :class:`BillParser` accepts by default (real bill lines are well under 4 KiB).
MAX_LINE = 1024 * 1024


class BillParser:
    """Feed text (or bytes, via :meth:`feed_bytes`) in any chunking; completed rows come back from each call.

    Linear in the input however it is chunked: a partial line is kept as a list of pieces and joined once,
    when its newline arrives. A line longer than ``max_line`` characters is a :class:`BillFormatError`, so
    a file without newlines cannot grow memory without bound (issue 11).
    """

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        if not isinstance(max_line, int) or isinstance(max_line, bool) or max_line < 1:
            raise ValueError(f"max_line must be a positive number of characters, got {max_line!r}")
        self.bill = Bill()
        self.max_line = max_line
        self._pending: list[str] = []  # the unfinished last line, in pieces
        self._pending_size = 0
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
        if "\n" not in text:
            self._keep(text)
            return
        first, *lines, rest = text.split("\n")
        if self._pending:
            self._pending.append(first)
            first = "".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
        self._keep(rest)
        for line in (first, *lines):
            row = self._line(line)
            if row is not None:
                yield row

    def _keep(self, piece: str) -> None:
        if piece:
            self._pending_size += len(piece)
            self._check_length(self._pending_size)
            self._pending.append(piece)

    def _check_length(self, size: int) -> None:
        if size > self.max_line:
            raise BillFormatError(f"line {self._line_no + 1}: longer than max_line={self.max_line} characters")

    def close(self) -> list[dict[str, str]]:
        """Flush the last line (the file may not end with a newline)."""
        rest = self._decoder.decode(b"", final=True)
        rows = list(self._rows(rest)) if rest else []
        last = "".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        row = self._line(last) if last else None
        return [*rows, row] if row is not None else rows

    async def aiter(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, str]]:
        """Rows from a byte stream such as ``client.stream(...)``; :attr:`summary` is filled at the end."""
        async for chunk in chunks:
            for row in self._rows(self._decoder.decode(chunk)):
                yield row
        for row in self.close():
            yield row

    def _line(self, line: str) -> dict[str, str] | None:
        self._check_length(len(line))
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


def parse_bill(data: bytes | str | Iterable[bytes], *, max_line: int = MAX_LINE) -> Bill:
    """Parse a whole bill held in memory (for big files use :meth:`BillParser.aiter` on the stream)."""
    parser = BillParser(max_line=max_line)
    chunks: Iterable[bytes] = [data.encode()] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
    for chunk in chunks:
        parser.bill.rows.extend(parser.feed_bytes(chunk))
    parser.bill.rows.extend(parser.close())
    return parser.bill
