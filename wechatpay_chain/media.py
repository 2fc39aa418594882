"""Multipart media uploads: a ``meta`` JSON part then a ``file`` part, signed over the meta JSON only.

WeChat Pay's upload endpoints (``v3/merchant/media/upload``, ``.../video_upload``,
``v3/marketing/favor/media/image-upload``, ``v3/merchant-service/images/upload``) sign line 5 of the
canonical request with the exact ``meta`` bytes, not with the multipart body. :class:`Media` builds both
from one source, hashing the file once, and streams it from disk on every attempt::

    media = Media("/path/logo.png")
    r = await wxpay.v3.merchant.media.upload.post(body=media)
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterable, Callable, Mapping
from typing import Any, Union

import orjson
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from .errors import TemplateError

__all__ = ["Media", "MediaPayload"]

_CHUNK = 64 * 1024
MetaSpec = Mapping[str, Any] | bytes | str | Callable[[str, str], Mapping[str, Any]] | None
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, AsyncIterable[bytes]]
_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".bmp": "image/bmp",
          ".gif": "image/gif", ".mp4": "video/mp4", ".avi": "video/x-msvideo", ".pdf": "application/pdf"}


def _content_type(filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower()
    return _TYPES.get(ext) or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _check_filename(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise TemplateError("media filename must be a non-empty string (with the extension WeChat expects)")
    if any(c in name for c in '"\r\n\0\\/'):
        raise TemplateError(f"media filename {name!r} must not contain quotes, slashes or line breaks")
    return name


class Media:
    """An upload body: ``meta`` (default ``{"filename", "sha256"}``) then ``file``.

    ``source`` is a path, bytes, or an async byte stream. A stream can only be sent once: give its
    ``sha256`` (and ``size`` if known), or use :meth:`from_stream` to buffer it so retries can resend it.
    ``meta`` overrides the meta document: a mapping, exact JSON bytes/str, or ``f(filename, sha256)`` →
    mapping for endpoints with another shape (``file_name``/``file_digest``, extra ``bank_type`` ...).
    """

    __slots__ = ("_data", "_path", "_stream", "boundary", "content_type", "filename", "meta", "sha256", "size")

    def __init__(
        self,
        source: Source,
        filename: str | None = None,
        *,
        meta: MetaSpec = None,
        content_type: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
    ) -> None:
        self._data: bytes | None = None
        self._path: str | None = None
        self._stream: AsyncIterable[bytes] | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            self._data = bytes(source)
            self.size: int | None = len(self._data)
            digest = hashlib.sha256(self._data).hexdigest()
        elif isinstance(source, str | os.PathLike):
            self._path = os.fspath(source)
            if self._path.startswith("file://"):
                self._path = self._path[len("file://") :]
            filename = filename or os.path.basename(self._path)
            try:
                self.size = os.path.getsize(self._path)
                digest = _hash_file(self._path)
            except OSError as exc:
                raise TemplateError(f"media file {self._path!r}: {exc.strerror or exc}") from None
        elif isinstance(source, AsyncIterable):
            if not sha256:
                raise TemplateError(
                    "an async stream needs sha256= (hex of its bytes), or use await Media.from_stream(...)"
                )
            self._stream = source
            self.size = size
            digest = sha256
        else:
            raise TemplateError(
                f"media source must be a path, bytes or an async byte stream, not {type(source).__name__}"
            )
        if sha256 is not None and sha256.lower() != digest:
            raise TemplateError("media sha256= does not match the file's SHA-256")
        self.filename = _check_filename(filename)
        self.sha256 = digest.lower()
        self.content_type = content_type or _content_type(self.filename)
        self.meta = self._meta_bytes(meta)
        self.boundary = os.urandom(16).hex()

    @classmethod
    async def from_stream(
        cls, stream: AsyncIterable[bytes], filename: str, *, max_size: int = 32 * 1024 * 1024, **kwargs: Any
    ) -> Media:
        """Read an async stream once (hashing as it goes) into a resendable :class:`Media`."""
        buf = bytearray()
        async for chunk in stream:
            buf += chunk
            if len(buf) > max_size:
                raise TemplateError(f"media stream exceeds max_size={max_size} bytes")
        return cls(bytes(buf), filename, **kwargs)

    def _meta_bytes(self, meta: MetaSpec) -> bytes:
        if meta is None:
            doc: Any = {"filename": self.filename, "sha256": self.sha256}
        elif callable(meta):
            doc = meta(self.filename, self.sha256)
        elif isinstance(meta, bytes):
            return meta
        elif isinstance(meta, str):
            return meta.encode()
        else:
            doc = meta
        if not isinstance(doc, Mapping):
            raise TemplateError(f"media meta must be a JSON object, not {type(doc).__name__}")
        try:
            return orjson.dumps(dict(doc))
        except TypeError as exc:
            raise TemplateError(f"media meta: cannot serialise ({exc})") from None

    @property
    def resendable(self) -> bool:
        """False for a one-shot async stream: such a request is never retried."""
        return self._stream is None

    @property
    def multipart_content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def head(self) -> bytes:
        """Everything before the file bytes (the meta part and the file part's headers)."""
        b = self.boundary.encode()
        return (
            b"--%s\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
            b"%s\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            b"Content-Type: %s\r\n\r\n"
        ) % (b, self.meta, b, self.filename.encode(), self.content_type.encode())

    def tail(self) -> bytes:
        return b"\r\n--%s--\r\n" % self.boundary.encode()

    def payload(self) -> MediaPayload:
        """A fresh aiohttp payload for one attempt (signing body: :attr:`meta`)."""
        return MediaPayload(self)

    def __repr__(self) -> str:
        return f"<Media {self.filename!r} {self.size} bytes sha256={self.sha256[:12]}…>"


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class MediaPayload(Payload):
    """The multipart body of a :class:`Media`, streamed. ``wechatpay_sign_body`` tells the middleware what to sign."""

    def __init__(self, media: Media) -> None:
        size = None if media.size is None else len(media.head()) + media.size + len(media.tail())
        super().__init__(media, content_type=media.multipart_content_type)
        self._size = size
        self._media = media
        self.wechatpay_sign_body = media.meta

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a media upload is streamed; its signed body is the meta JSON")

    async def write(self, writer: AbstractStreamWriter) -> None:
        media = self._media
        await writer.write(media.head())
        h = hashlib.sha256()
        sent = 0
        async for chunk in self._chunks():
            h.update(chunk)
            sent += len(chunk)
            await writer.write(chunk)
        if h.hexdigest() != media.sha256 or (media.size is not None and sent != media.size):
            # Abort mid-body: the server never sees a complete request whose meta lies about the file.
            raise TemplateError(f"media {media.filename!r} changed while uploading (sha256/size mismatch)")
        await writer.write(media.tail())

    async def _chunks(self) -> AsyncIterable[bytes]:
        media = self._media
        if media._data is not None:
            for i in range(0, len(media._data), _CHUNK):
                yield media._data[i : i + _CHUNK]
        elif media._path is not None:
            loop = asyncio.get_running_loop()
            fh = await loop.run_in_executor(None, open, media._path, "rb")
            try:
                while chunk := await loop.run_in_executor(None, fh.read, _CHUNK):
                    yield chunk
            finally:
                fh.close()
        else:
            assert media._stream is not None  # noqa: S101 - the three sources are exhaustive
            async for chunk in media._stream:
                yield bytes(chunk)
