"""``WeChatPay\\Util\\MediaUtil`` over :class:`wechatpay_chain.media.Media`."""

from __future__ import annotations

import os
from typing import Any

from ..media import Media

__all__ = ["MediaUtil"]


class MediaUtil:
    """``new MediaUtil($filepath[, $fileStream])``: ``getMeta()``, ``getStream()``, ``getContentType()``.

    Port ``->post(['body' => $media->getStream(), 'headers' => ['Content-Type' => $media->getContentType()]])``
    as ``.post({"body": media.getStream(), "headers": {"Content-Type": media.getContentType()}})``: the
    stream is a :class:`~wechatpay_chain.media.Media`, signed over the meta JSON only.
    """

    __slots__ = ("_media",)

    def __init__(self, filepath: str | os.PathLike[str], fileStream: Any = None) -> None:
        if fileStream is None:
            self._media = Media(filepath)
            return
        data = fileStream.read() if hasattr(fileStream, "read") else fileStream
        self._media = Media(data, os.path.basename(os.fspath(filepath)))

    def getMeta(self) -> str:
        """The ``meta`` JSON (``{"filename":…,"sha256":…}`` unless :meth:`setMeta` replaced it)."""
        return self._media.meta.decode()

    def setMeta(self, json: str | None = None) -> int:
        """Replace the meta JSON (other endpoints' shapes); ``None`` restores the default. Returns its length."""
        self._media.meta = self._media._meta_bytes(json)
        return len(self._media.meta)

    def getStream(self) -> Media:
        """The upload body to pass as ``body``."""
        return self._media

    def getContentType(self) -> str:
        """``multipart/form-data; boundary=…`` of this body."""
        return self._media.multipart_content_type
