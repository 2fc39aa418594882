"""The ``wechatpay-chain`` command line: download platform certificates, make a signed call, run the sandbox.

User mistakes (bad options, unreadable keys, WeChat Pay errors, failed verification) end with one line
``wechatpay-chain: error: <cause>`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ._client import Client
from ._files import write_file
from ._response import Response
from .certificates import PlatformCertificate
from .errors import TemplateError, WeChatPayError

__all__ = ["main"]

PROG = "wechatpay-chain"
_PLACEHOLDER_HINT = re.compile(r"pass (\w+)=\.\.\.")


class UsageError(Exception):
    """A command-line mistake: printed as one line."""


# -- argument parsing ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="WeChat Pay APIv3 from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{certs,request,download,sandbox,tour}")

    certs = sub.add_parser("certs", help="platform certificates")
    certs_sub = certs.add_subparsers(dest="action", required=True, metavar="{download}")
    dl = certs_sub.add_parser(
        "download",
        help="download, decrypt and verify the platform certificates; write wechatpay_<serial>.pem",
    )
    _merchant_options(dl, required=True, php=True)
    _secret_options(
        dl, APIV3_KEY, "the 32-character APIv3 key (asked for on a terminal when not given)", aliases=("--key",)
    )
    dl.add_argument("-o", "--output", help="directory for wechatpay_<serial>.pem (default: print PEM)")

    req = sub.add_parser("request", help="a signed, verified call: request v3.pay.transactions.id._id_ ...")
    req.add_argument("uri", help="dotted (v3.marketing.partner.productCoupon.productCoupons) or slashed path")
    req.add_argument("-X", "--method", help="HTTP method (default GET, or POST with --data)")
    req.add_argument("-q", "--query", action="append", default=[], help="k=v (repeatable) or a JSON object")
    req.add_argument("-d", "--data", help="JSON body, or @file.json")
    req.add_argument("-H", "--header", action="append", default=[], help="'Name: value' (repeatable)")
    req.add_argument("-p", "--param", action="append", default=[], help="placeholder value name=value")
    req.add_argument("-c", "--config", help="config.json with mchid, serial, private_key, certs, apiv3_key, base_url")
    _merchant_options(req, required=False)
    _secret_options(req, APIV3_KEY, "APIv3 key (downloads platform certificates when certs are absent)")

    down = sub.add_parser("download", help="download a bill file (download_url) with hash check and progress bar")
    down.add_argument("url", help="the download_url from the bill application answer")
    down.add_argument("--hash-value", help="hash_value from the same answer (required unless --unchecked)")
    down.add_argument("--hash-type", default="SHA1", help="hash_type from the same answer (SHA1 or SM3)")
    down.add_argument(
        "-o", "--output", required=True, help="file to write (a temporary file beside it, renamed when verified)"
    )
    down.add_argument("--unchecked", action="store_true", help="the file has no digest: skip the hash check")
    down.add_argument("-c", "--config", help="config.json with mchid, serial, private_key, certs, apiv3_key, base_url")
    _merchant_options(down, required=False)
    _secret_options(down, APIV3_KEY, "APIv3 key (downloads platform certificates when certs are absent)")

    sub.add_parser("sandbox", help="run the local WeChat Pay simulator (options: sandbox --help)")
    sub.add_parser("tour", help="run the product-coupon tour against the embedded sandbox (no credentials needed)")
    return parser


#: wechatpay-php's CertificateDownloader spells these long options differently; accepted as aliases.
_PHP_ALIASES = {"--serial": ("--serialno",), "--private-key": ("--privatekey",), "--base-url": ("--baseuri",)}


def _merchant_options(parser: argparse.ArgumentParser, *, required: bool, php: bool = False) -> None:
    def names(short: str, long: str) -> tuple[str, ...]:
        return (short, long, *(_PHP_ALIASES.get(long, ()) if php else ()))

    parser.add_argument("-m", "--mchid", required=required, help="merchant id")
    parser.add_argument(
        *names("-s", "--serial"), dest="serial", required=required, help="merchant API certificate serial"
    )
    parser.add_argument(
        *names("-f", "--private-key"), dest="private_key", required=required, help="merchant private key file (PEM)"
    )
    _secret_options(parser, PASSPHRASE, "passphrase of an encrypted private key")
    parser.add_argument(
        *names("-u", "--base-url"), dest="base_url", help="API base URL (default https://api.mch.weixin.qq.com/)"
    )


class _Secret:
    """A secret the command line can take four ways; the value itself on the command line is the least safe."""

    def __init__(self, name: str, flags: tuple[str, ...], env: str, label: str) -> None:
        self.name = name  # the argparse destination, e.g. "apiv3_key"
        self.metavar = name.split("_")[-1].upper()
        self.flags = flags
        self.env = env
        self.label = label

    @property
    def option(self) -> str:
        return self.flags[-1]


APIV3_KEY = _Secret("apiv3_key", ("-k", "--apiv3-key"), "WECHATPAY_APIV3_KEY", "APIv3 key")
PASSPHRASE = _Secret("passphrase", ("--passphrase",), "WECHATPAY_KEY_PASSPHRASE", "private key passphrase")


def _secret_options(
    parser: argparse.ArgumentParser, secret: _Secret, help_text: str, aliases: tuple[str, ...] = ()
) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        *secret.flags,
        *aliases,
        dest=secret.name,
        metavar=secret.metavar,
        help=f"{help_text}. Unsafe on a shared machine: other users see it in the process list "
        f"(/proc/<pid>/cmdline) and it stays in your shell history; prefer {secret.option}-file, "
        f"${secret.env} or {secret.option}-prompt",
    )
    group.add_argument(
        f"{secret.option}-file", dest=f"{secret.name}_file", metavar="FILE",
        help=f"read the {secret.label} from FILE (one line; keep the file 0600)",
    )  # fmt: skip
    group.add_argument(
        f"{secret.option}-prompt", dest=f"{secret.name}_prompt", action="store_true",
        help=f"ask for the {secret.label} on the terminal, without echo",
    )  # fmt: skip


def _secret(args: argparse.Namespace, secret: _Secret, *, required: bool = False) -> str | None:
    """The secret from its option, file, prompt or environment variable (in that order), else ``None``."""
    path = getattr(args, f"{secret.name}_file", None)
    if path is not None:
        try:
            text = Path(path).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise UsageError(f"cannot read {secret.option}-file {path!r}: {reason}") from None
        value: str | None = text.rstrip("\r\n")
    elif getattr(args, f"{secret.name}_prompt", False) or (
        required and getattr(args, secret.name, None) is None and not os.environ.get(secret.env) and _interactive()
    ):
        value = getpass.getpass(f"{secret.label}: ")
    else:
        value = getattr(args, secret.name, None) or os.environ.get(secret.env) or None
    if not value and required:
        raise UsageError(
            f"the {secret.label} is required: give {secret.option}-file, ${secret.env}, {secret.option}-prompt "
            f"or {secret.option}"
        )
    return value or None


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


# -- commands ----------------------------------------------------------------------------------------------


async def _download(args: argparse.Namespace) -> list[PlatformCertificate]:
    options: dict[str, Any] = {"apiv3_key": args.apiv3_key, "passphrase": args.passphrase}
    if args.base_url:
        options["base_url"] = args.base_url
    async with Client(args.mchid, args.serial, _key_source(args.private_key), None, **options) as client:
        manager = client.certificates
        assert manager is not None  # noqa: S101 - apiv3_key given
        return await manager.refresh()


def _certs_download(args: argparse.Namespace) -> int:
    """Like wechatpay-php's CertificateDownloader: the download is verified with what it carries."""
    certs = asyncio.run(_download(args))
    if not certs:
        raise UsageError("WeChat Pay listed no platform certificates")
    rows = [("serial", "effective", "expires", "file")]
    for cert in certs:
        target = "-"
        if args.output:
            out = Path(args.output)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"wechatpay_{cert.serial}.pem"
            write_file(path, cert.pem(), 0o644)  # replaces a planted symlink instead of writing through it
            target = str(path)
        rows.append((cert.serial, cert.effective_time, cert.expire_time, target))
    _table(rows)
    if not args.output:
        for cert in certs:
            sys.stdout.write(cert.pem().decode())
    return 0


def _client(args: argparse.Namespace) -> Client:
    """A client from --config and the merchant options (options win)."""
    config = _load_config(args.config) if args.config else {}
    for name in ("mchid", "serial", "private_key", "apiv3_key", "base_url", "passphrase"):
        value = getattr(args, name)
        if value is not None:
            config[name] = value
    for name in ("mchid", "serial", "private_key"):
        if not config.get(name):
            raise UsageError(f"{name} is required: give --{name.replace('_', '-')} or --config")
    extra = {k: config[k] for k in ("apiv3_key", "base_url", "passphrase") if config.get(k)}
    certs = config.get("certs") or None
    return Client(config["mchid"], config["serial"], _key_source(config["private_key"]), certs, **extra)


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (not into logs or pipes)."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last = -1
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        self.drawn = True
        if total:
            filled = min(self.width, done * self.width // total)
            percent = min(100, done * 100 // total)
            if percent == self.last:
                return
            self.last = percent
            bar = "#" * filled + "." * (self.width - filled)
            line = f"\r[{bar}] {percent:3d}% {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"\r{done / 1e6:.1f} MB"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


async def _bill_download(args: argparse.Namespace) -> int:
    if not args.unchecked and not args.hash_value:
        raise UsageError("--hash-value is required (from the bill application answer), or --unchecked")
    bar = _ProgressBar()
    async with _client(args) as client:
        try:
            result = await client.download(
                args.url,
                hash_value=args.hash_value,
                hash_type=args.hash_type,
                dest=args.output,
                progress=bar,
                unchecked=args.unchecked,
            )
        finally:
            bar.close()
    print(f"{result.path}: {result.size} bytes, {args.hash_type} {'unchecked' if args.unchecked else 'verified'}")
    return 0


async def _request(args: argparse.Namespace) -> int:
    body = _data(args.data)
    method = (args.method or ("POST" if body is not None else "GET")).upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise UsageError(f"--method must be GET, POST, PUT, PATCH or DELETE, not {method!r}")
    options: dict[str, Any] = dict(_pairs(args.param, "--param", "="))
    query = _query(args.query)
    if query:
        options["query"] = query
    if args.header:
        options["headers"] = dict(_pairs(args.header, "--header", ":"))
    if body is not None:
        options["json"] = body
    async with _client(args) as client:
        node = _node(client, args.uri)
        response: Response = await getattr(node, method.lower())(**options)
    _print_response(response)
    return 0


def _sandbox(rest: list[str]) -> int:
    try:
        module = importlib.import_module("wechatpay_chain.sandbox.__main__")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("wechatpay_chain.sandbox"):
            raise UsageError("the sandbox (wechatpay_chain.sandbox) is not part of this installation") from None
        raise
    return int(module.main(rest, prog=f"{PROG} sandbox") or 0)


# -- helpers -----------------------------------------------------------------------------------------------


def _key_source(value: str) -> str:
    """A key given on the command line or in a config is a path unless it is PEM or a pseudo-protocol."""
    if "-----BEGIN" in value or "://" in value:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"private key file {value!r} does not exist")
    return f"file://{path.resolve()}"


def _load_config(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read --config {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--config {path!r} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"--config {path!r} must hold a JSON object")
    return doc


def _data(data: str | None) -> Any:
    if data is None:
        return None
    text = data
    if data.startswith("@"):
        try:
            text = Path(data[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read --data file {data[1:]!r}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--data is not JSON: {exc}") from None
    if not isinstance(doc, dict | list):  # e.g. a doubly quoted object from a shell script
        kind = {str: "string", bool: "true/false", int: "number", float: "number"}.get(type(doc), "null")
        raise UsageError(f"--data must be a JSON object ({{...}}), not a JSON {kind}")
    return doc


def _pairs(items: Sequence[str], option: str, sep: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            raise UsageError(f"{option} {item!r}: expected name{sep}value")
        out.append((name.strip(), value.strip()))
    return out


def _query(items: Sequence[str]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                doc = json.loads(item)
            except ValueError as exc:
                raise UsageError(f"--query is not a JSON object: {exc}") from None
            out.extend(doc.items())
        else:
            out.extend(_pairs([item], "--query", "="))
    return out


def _node(client: Client, uri: str) -> Any:
    """Slashed paths are taken literally; dotted ones go through attribute normalisation like the chain."""
    uri = uri.strip()
    if not uri:
        raise UsageError("the uri is empty")
    if "/" in uri or "{" in uri:
        return client.chain(uri.lstrip("/"))
    node: Any = client
    for part in uri.split("."):
        try:
            node = getattr(node, part)
        except AttributeError:
            raise UsageError(f"{part!r} in {uri!r} is not a path segment") from None
    return node


def _print_response(response: Response) -> None:
    print(f"HTTP {response.status}")
    for name in ("Request-ID", "Wechatpay-Serial", "Content-Type"):
        if name in response.headers:
            print(f"{name}: {response.headers[name]}")
    print(f"Verified-Serial: {response.verified_serial or '-'}")
    print()
    if not response.body:
        return
    try:
        doc = response.json()
    except orjson.JSONDecodeError:
        print(response.text)
        return
    print(json.dumps(doc, ensure_ascii=False, indent=2))


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and ``python -m wechatpay_chain``; returns the exit status."""
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # inside the try: a reader that went away is noticed here, not at exit
    except BrokenPipeError:
        return quiet_broken_pipe()
    return status


def _run(argv: list[str]) -> int:
    try:
        if argv[:1] == ["sandbox"]:  # every option after it belongs to the sandbox
            return _sandbox(argv[1:])
        if argv[:1] == ["tour"]:
            from .tour import main as tour

            return tour(argv[1:], prog=f"{PROG} tour")
        args = _parser().parse_args(argv)
        if hasattr(args, "apiv3_key"):  # every command but the sandbox takes the secrets
            args.passphrase = _secret(args, PASSPHRASE)
            args.apiv3_key = _secret(args, APIV3_KEY, required=args.command == "certs")
        if args.command == "certs":
            return _certs_download(args)
        if args.command == "download":
            return asyncio.run(_bill_download(args))
        return asyncio.run(_request(args))
    except BrokenPipeError:
        raise
    except (UsageError, WeChatPayError, ValueError, OSError) as exc:
        message = str(exc)
        if isinstance(exc, TemplateError):  # the library says name=...; on the command line it is -p name=...
            message = _PLACEHOLDER_HINT.sub(r"pass -p \1=...", message)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


#: What a shell reports for a command killed by SIGPIPE (128 + 13), as ``git log | head`` does.
SIGPIPE_STATUS = 141


def quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop writing, no traceback, and the status a shell gives SIGPIPE."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush has nowhere to fail
        os.close(devnull)
    return SIGPIPE_STATUS
