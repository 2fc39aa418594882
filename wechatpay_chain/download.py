"""Bill and fund-flow downloads: a signed GET whose unsigned answer is checked by its ``hash_value``.

Step 1 (``GET v3/bill/tradebill?...``) is an ordinary verified call returning ``download_url``,
``hash_type`` and ``hash_value``. Step 2 streams the file: gunzipped when it is gzip (``tar_type=GZIP``,
detected from its magic bytes unless ``gzip=`` says), hashed on the uncompressed bytes (SHA1, or SM3), never
held whole in memory. A mismatch, a truncated or corrupt gzip stream is a
:class:`~wechatpay_chain.errors.VerificationError` with reason ``bad_body``; when writing to ``dest`` the
partial file is removed, so a file at ``dest`` is always a verified bill.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from cryptography.hazmat.primitives import hashes

from ._files import replacing
from ._response import Response
from ._template import parse
from .errors import RequestTimeout, TemplateError, TransportError, VerificationError

if TYPE_CHECKING:
    from ._client import Client
    from ._prepare import Prepared

__all__ = ["DEADLINE", "MAX_FILE_SIZE", "MAX_MEMORY_SIZE", "Downloaded", "download", "save", "stream"]

Progress = Callable[[int, "int | None"], None]
_CHUNK = 64 * 1024
_MAX_PIECE = 128 * 1024  # at most this much decompressed output per step (gzip bombs stay bounded)
_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=60.0)

#: Largest file (uncompressed bytes) streamed or written to disk unless ``max_size=`` says otherwise.
MAX_FILE_SIZE = 4 * 1024**3
#: Largest file (uncompressed bytes) :func:`download` keeps in memory (no ``dest``) unless ``max_size=`` says.
MAX_MEMORY_SIZE = 256 * 1024**2
#: Seconds a whole download may take (``deadline=``): a peer dripping one byte a minute cannot hold it forever.
DEADLINE = 1800.0


class _SM3:
    def __init__(self) -> None:
        self._h = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


def _hasher(hash_type: str) -> Any:
    kind = hash_type.upper()
    if kind == "SHA1":
        return hashlib.sha1()  # noqa: S324 - the digest WeChat publishes for bills
    if kind == "SHA256":
        return hashlib.sha256()
    if kind == "SM3":
        return _SM3()
    raise TemplateError(f"hash_type must be SHA1 or SM3, got {hash_type!r}")


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What :func:`download` fetched: ``path`` (or ``content`` when no ``dest``), sizes and the checked digest."""

    path: str | None
    size: int
    received: int
    digest: str
    content: bytes | None = None

    def __repr__(self) -> str:
        return f"<Downloaded {self.path or 'in memory'} {self.size} bytes>"


class _Gunzip:
    """Streaming gunzip (multi-member aware) that fails on corrupt or truncated input."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while data:
                piece = self._d.decompress(data, _MAX_PIECE)
                if piece:
                    yield piece
                if self._d.unconsumed_tail:
                    data = self._d.unconsumed_tail
                elif self._d.eof and self._d.unused_data:
                    data = self._d.unused_data
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    data = b""
        except zlib.error as exc:
            raise VerificationError(VerificationError.BAD_BODY, f"the gzip bill is corrupt ({exc})") from None

    def finish(self) -> None:
        if not self._d.eof:
            raise VerificationError(VerificationError.BAD_BODY, "the gzip bill is truncated")


def _request(client: Client, url: str, timeout: Any, deadline: float | None) -> Prepared:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TemplateError("download_url must be the absolute URL returned by the bill API")
    opts: dict[str, Any] = {"url": url, "headers": {"Accept": "*/*"}}
    if timeout is not None:
        opts["timeout"] = timeout
    req = client._prepare("GET", parse("{+url}"), (opts,), {})
    limits = req.timeout or _DOWNLOAD_TIMEOUT
    if deadline is not None and (limits.total is None or limits.total > deadline):
        # aiohttp's total covers reading the body too, so this bounds the whole download, however slow.
        limits = aiohttp.ClientTimeout(
            total=deadline,
            connect=limits.connect,
            sock_read=limits.sock_read,
            sock_connect=limits.sock_connect,
            ceil_threshold=limits.ceil_threshold,
        )
    req.timeout = limits
    return req


def _limits(max_size: Any, default: int, deadline: Any) -> tuple[int, float | None]:
    """Check ``max_size=`` and ``deadline=`` before any I/O."""
    if max_size is None:
        max_size = default
    if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
        raise TemplateError(f"max_size must be a positive number of bytes, got {max_size!r}")
    if deadline is not None and (
        not isinstance(deadline, int | float) or isinstance(deadline, bool) or not 0 < deadline < float("inf")
    ):
        raise TemplateError(f"deadline must be a positive number of seconds or None, got {deadline!r}")
    return max_size, None if deadline is None else float(deadline)


def _too_big(max_size: int) -> VerificationError:
    return VerificationError(
        VerificationError.BAD_BODY, f"the file is larger than max_size={max_size} bytes (uncompressed)"
    )


def _fields(
    target: str | Mapping[str, Any], hash_type: str | None, hash_value: str | None
) -> tuple[str, str, str | None]:
    if isinstance(target, Mapping):  # the step-1 answer as a dict
        url = target.get("download_url")
        hash_type = hash_type or target.get("hash_type")
        hash_value = hash_value or target.get("hash_value")
    else:
        url = target
    if not isinstance(url, str):
        raise TemplateError("download_url is missing")
    return url, hash_type or "SHA1", hash_value


async def stream(
    client: Client,
    target: str | Mapping[str, Any],
    *,
    hash_value: str | None = None,
    hash_type: str | None = None,
    gzip: bool | None = None,
    progress: Progress | None = None,
    timeout: Any = None,
    unchecked: bool = False,
    max_size: int | None = None,
    deadline: float | None = DEADLINE,
) -> AsyncIterator[bytes]:
    """Yield the uncompressed bill in chunks; raise ``VerificationError(bad_body)`` at the end on a mismatch.

    ``target`` is the step-1 answer (a dict with ``download_url``/``hash_type``/``hash_value``) or the URL
    plus ``hash_value=``. Treat what you receive as provisional until the iteration ends without an error.
    ``unchecked=True`` is required to fetch a file that publishes no digest. ``progress(received, total)``
    counts wire bytes (``total`` from Content-Length, or ``None``). More than ``max_size`` uncompressed
    bytes (default :data:`MAX_FILE_SIZE`) is ``VerificationError(bad_body)``; the whole download must end
    within ``deadline`` seconds (default :data:`DEADLINE`; ``None`` = only the per-read timeout), else
    :class:`~wechatpay_chain.errors.RequestTimeout`.
    """
    url, kind, expected = _fields(target, hash_type, hash_value)
    if expected is None and not unchecked:
        raise TemplateError("hash_value is required (pass the step-1 answer, or hash_value=...), or unchecked=True")
    limit, deadline = _limits(max_size, MAX_FILE_SIZE, deadline)
    hasher = _hasher(kind)
    req = _request(client, url, timeout, deadline)
    size = 0
    async with client._open(req) as (resp, ctx):
        total = resp.content_length
        received = 0
        decoded = "gzip" in resp.headers.get("Content-Encoding", "").lower()  # aiohttp already gunzipped
        gunzip: _Gunzip | None = None
        head = b""
        started = gzip is False or decoded
        try:
            chunks: AsyncIterator[bytes] = (
                _one(await resp.read()) if ctx.verified_serial is not None else resp.content.iter_chunked(_CHUNK)
            )
            async for chunk in chunks:
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
                if not started:
                    head += chunk
                    if len(head) < 2:
                        continue
                    chunk, head, started = head, b"", True
                    if gzip or chunk[:2] == b"\x1f\x8b":
                        gunzip = _Gunzip()
                for piece in gunzip.feed(chunk) if gunzip is not None else (chunk,):
                    size += len(piece)
                    if size > limit:
                        raise _too_big(limit)
                    hasher.update(piece)
                    yield piece
            if head:  # a body shorter than the gzip magic
                if gzip:
                    raise VerificationError(VerificationError.BAD_BODY, "the gzip bill is truncated")
                if size + len(head) > limit:
                    raise _too_big(limit)
                hasher.update(head)
                yield head
            if gunzip is not None:
                gunzip.finish()
            elif gzip and not decoded and received == 0:
                raise VerificationError(VerificationError.BAD_BODY, "the gzip bill is empty")
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RequestTimeout(f"download of {req.url.path} timed out after {received} bytes") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"download of {req.url.path} failed after {received} bytes: {exc}") from exc
    if expected is not None and not hmac.compare_digest(hasher.hexdigest(), expected.strip().lower()):
        raise VerificationError(
            VerificationError.BAD_BODY,
            f"the downloaded bill's {kind} does not match hash_value",
            resp.headers.get("Request-ID"),
        )


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``chunks`` as they come, refusing more than ``limit`` (decoded) bytes in all."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_big(limit)
        yield chunk


async def _one(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), _CHUNK):
        yield data[i : i + _CHUNK]


async def download(
    client: Client,
    target: str | Mapping[str, Any],
    *,
    hash_value: str | None = None,
    hash_type: str | None = None,
    dest: str | os.PathLike[str] | None = None,
    gzip: bool | None = None,
    progress: Progress | None = None,
    timeout: Any = None,
    unchecked: bool = False,
    max_size: int | None = None,
    deadline: float | None = DEADLINE,
) -> Downloaded:
    """Download to ``dest`` or into memory; ``max_size``/``deadline`` as for :func:`stream`.

    With ``dest``, the file is written to a new 0600 temporary file beside it (never following a symlink) and
    renamed over ``dest`` only once the hash matched, so a failed download leaves ``dest`` as it was. In memory
    the default ``max_size`` is :data:`MAX_MEMORY_SIZE`.
    """
    url, kind, expected = _fields(target, hash_type, hash_value)
    if expected is None and not unchecked:
        raise TemplateError("hash_value is required (pass the step-1 answer, or hash_value=...), or unchecked=True")
    limit, deadline = _limits(max_size, MAX_FILE_SIZE if dest is not None else MAX_MEMORY_SIZE, deadline)
    hasher = _hasher(kind)
    received = [0]

    def counting(done: int, total: int | None) -> None:
        received[0] = done
        if progress is not None:
            progress(done, total)

    size = 0
    chunks = stream(
        client,
        url,
        hash_value=expected,
        hash_type=kind,
        gzip=gzip,
        progress=counting,
        timeout=timeout,
        unchecked=True,
        max_size=limit,
        deadline=deadline,
    )

    async def hashed() -> AsyncIterator[bytes]:
        nonlocal size
        async for piece in chunks:
            hasher.update(piece)
            size += len(piece)
            yield piece

    if dest is None:
        content = b"".join([piece async for piece in hashed()])
        return Downloaded(None, size, received[0], hasher.hexdigest(), content)
    path = await _write(os.fspath(dest), hashed())
    return Downloaded(path, size, received[0], hasher.hexdigest())


async def _write(sink: Any, chunks: AsyncIterator[bytes]) -> str | None:
    """Write ``chunks`` to a binary file object, or to a path through :func:`._files.replacing` (a new 0600
    file beside it, never through a planted symlink, renamed over the path only once complete; removed on any
    failure, so a file at the path is always whole). Returns the path."""
    loop = asyncio.get_running_loop()
    if not isinstance(sink, str):
        async for piece in chunks:
            await loop.run_in_executor(None, sink.write, piece)
        return None
    with replacing(sink, sync=False) as fh:  # issue 11
        async for piece in chunks:
            await loop.run_in_executor(None, fh.write, piece)
    return sink


async def save(client: Client, req: Prepared) -> Response:
    """Guzzle's ``sink`` option: send ``req`` once and write the answer body to ``req.sink`` (a path or a binary
    file object). The returned :class:`Response` has an empty ``body``; the file holds it.

    A bodiless APIv3 GET is streamed (a signed answer is still verified before it is written); APIv2 calls and
    requests with a body go through the ordinary pipeline (verified, capped by ``max_response_size``) and are
    written afterwards.
    """
    sink, req.sink = req.sink, None
    if req.v2 or req.body or req.payload is not None or req.method != "GET":
        answer = await client._send(req)
        await _write(sink, _one(answer.body))
        return Response(answer.status, answer.headers, b"", answer.raw_url, answer.verified_serial)
    async with client._open(req) as (resp, ctx):
        chunks = _one(await resp.read()) if ctx.verified_serial is not None else resp.content.iter_chunked(_CHUNK)
        try:
            await _write(sink, _capped(chunks, MAX_FILE_SIZE))
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RequestTimeout(f"{req.method} {req.url.path}: writing the answer to sink timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{req.method} {req.url.path} failed while streaming to sink: {exc}") from exc
        return Response(resp.status, resp.headers, b"", req.url, ctx.verified_serial)
