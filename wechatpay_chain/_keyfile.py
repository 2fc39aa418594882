"""Where key material comes from: a path, a ``file://`` URL or inline PEM/DER, read once with errors that name it.

Users keep keys as ``./certs/apiclient_key.pem``, ``pathlib.Path`` objects, ``file:///…`` URLs (the PHP SDK's
form) or PEM text from a secret store. A string that looks like a path but names no file must say so, with
the directory a relative path was resolved from, instead of being parsed as (17 bytes of) key text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Source", "describe", "pkcs12_hint", "read_source"]

_PATH_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p12", ".pfx", ".txt")
_DRIVE = re.compile(r"^/?[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True)
class Source:
    """The bytes read and, when they came from a file, its path (for error messages)."""

    data: bytes
    path: str | None = None

    def where(self) -> str:
        """`` in file '…'`` when the data came from a file, else empty."""
        return f" in file {self.path!r}" if self.path else ""


def _looks_like_path(text: str) -> bool:
    if not text or "\n" in text or len(text) > 4096:
        return False
    lowered = text.lower()
    return (
        lowered.endswith(_PATH_SUFFIXES)
        or text.startswith(("/", "./", "../", "~", ".\\", "..\\"))
        or bool(_DRIVE.match(text))
        or ("/" in text and " " not in text and not text.startswith("MII"))
    )


def _file_url_path(url: str) -> str:
    """``file:///abs``, ``file://localhost/abs``, ``file://relative`` (PHP style); percent-escapes if needed."""
    path = url[len("file://") :]
    if path.startswith("localhost/"):
        path = path[len("localhost") :]
    if _DRIVE.match(path) and path.startswith("/"):
        path = path[1:]  # file:///C:/keys/... on Windows
    if "%" in path and not os.path.exists(path) and os.path.exists(unquote(path)):
        path = unquote(path)
    return path


def _read_file(path: str, what: str) -> Source:
    full = os.path.expanduser(path)
    try:
        with open(full, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        where = "" if os.path.isabs(full) else f" (a relative path is read from the current directory {os.getcwd()!r})"
        raise ValueError(f"cannot read {what} file {path!r}: no such file{where}") from None
    except IsADirectoryError:
        raise ValueError(f"cannot read {what} file {path!r}: it is a directory, not a file") from None
    except PermissionError:
        raise ValueError(f"cannot read {what} file {path!r}: permission denied for this process") from None
    except OSError as exc:
        raise ValueError(f"cannot read {what} file {path!r}: {exc.strerror or exc}") from None
    if not data.strip():
        raise ValueError(f"{what} file {path!r} is empty")
    return Source(data, path)


def read_source(thing: str | bytes | os.PathLike[str], what: str) -> Source:
    """Turn a path object, a ``file://`` URL, a path string or inline PEM/DER into bytes (and where they came from)."""
    if isinstance(thing, os.PathLike):
        return _read_file(os.fspath(thing), what)
    if isinstance(thing, str):
        if thing.startswith("file://"):
            return _read_file(_file_url_path(thing), what)
        if "-----BEGIN" not in thing and (_looks_like_path(thing) or os.path.isfile(thing)):
            return _read_file(thing, what)
        return Source(thing.encode())
    if isinstance(thing, bytes | bytearray | memoryview):
        return Source(bytes(thing))
    raise TypeError(
        f"expected {what} as PEM text, bytes, a path (str or pathlib.Path) or a file:// URL, got {type(thing).__name__}"
    )


def describe(data: bytes) -> str:
    """Say what an unusable key input looked like, without echoing key material."""
    head = data.lstrip()[:40]
    if head.startswith(b"-----BEGIN "):
        label = head[len(b"-----BEGIN ") :].split(b"-----", 1)[0].decode("ascii", "replace")
        return f"a PEM block labelled {label!r}"
    if not data.strip():
        return "an empty value"
    if head.startswith(b"MII"):
        return (
            f"{len(data)} bytes that are not PEM (they look like base64 DER without the -----BEGIN/END----- "
            "lines: keep the whole PEM file, or prefix the text with private.pkcs8:// / public.spki://)"
        )
    return f"{len(data)} bytes that are not PEM"


def pkcs12_hint(path: str | None) -> str:
    """How to get the PEM key out of ``apiclient_cert.p12`` (WeChat's password for it is the merchant id)."""
    name = path or "apiclient_cert.p12"
    return (
        f"{name!r} is a PKCS#12 bundle (certificate and key together), not a PEM private key: pass "
        "apiclient_key.pem from the same download, or passphrase=<the bundle's password, your mchid> to read "
        f"the key from the bundle, or extract it once with: openssl pkcs12 -in {name} -nocerts -nodes "
        "-out apiclient_key.pem (add -legacy on OpenSSL 3)"
    )
