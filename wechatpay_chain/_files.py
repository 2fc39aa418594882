"""Writing keys, certificates and downloaded files without the classic local-file traps.

A fresh temporary file is created beside the target with ``O_CREAT|O_EXCL|O_NOFOLLOW`` (``tempfile.mkstemp``),
mode 0600 from its first byte, and renamed over the target only once everything was written. So a symlink
planted at the target or at a predictable ``.part`` name is never written through, a failed write leaves the
old target untouched, and a secret is never readable by others, not even between a write and a ``chmod``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["replacing", "write_file"]


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], mode: int = 0o600, *, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to fill; on a clean exit it replaces ``path`` (given ``mode``), on an error it is removed.

    ``sync=False`` skips the ``fsync`` (a large download written from the event loop must not block it).
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode != 0o600:
            os.chmod(temporary, mode)  # widening a file that holds no secret (a public certificate)
        os.replace(temporary, target)  # replaces a symlink at ``target`` itself, never what it points to
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_file(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`."""
    with replacing(path, mode) as fh:
        fh.write(data)
