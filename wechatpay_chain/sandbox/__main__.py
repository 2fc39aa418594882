"""``python -m wechatpay_chain.sandbox`` (also ``wechatpay-chain sandbox``): serve the sandbox until SIGINT/SIGTERM,
logging one line per request.

It writes fresh merchant/platform keys and ``config.json`` (mchid, serial, private_key, certs, apiv3_key,
base_url) once it is listening, so another process can build a client from it: into ``--write-config DIR``,
or else into a private temporary folder that is removed when the sandbox stops. Either way it prints the path.
``python -m wechatpay_chain.sandbox clock [advance SECONDS] [--url URL]`` reads or moves a running sandbox's
clock through its loopback admin interface; ``… payer pay OUT_TRADE_NO`` (``fail``, ``cancel``,
``settle-refund``, ``orders``) plays the payer of a running sandbox the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import shutil
import signal
import sys
import tempfile
import urllib.error
import urllib.request

from ..cli import quiet_broken_pipe
from ._engine import MODES
from ._faults import Faults
from ._server import DEFAULT_MCHID, Sandbox
from .payments._cli import unreachable

PROG = "python -m wechatpay_chain.sandbox"
DESCRIPTION = """\
Run the local WeChat Pay simulator until Ctrl+C (SIGINT) or SIGTERM, logging one line per request.

Once listening it writes fresh keys and config.json (mchid, serial, private_key,
certs, apiv3_key, base_url) and prints where: into --write-config DIR, or else into
a private temporary folder removed when the sandbox stops.
In Python: Client(**json.load(open(path))) talks to it.

Subcommands for a running sandbox:
  clock [advance SECONDS] [--url URL]                 read or move its business clock
  payer pay|fail|cancel|settle-refund|orders ...      play the payer"""


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = any free port; default 8080)")
    parser.add_argument(
        "--write-config", metavar="DIR", help="write config.json and PEM files into DIR (default: a temporary folder)"
    )
    parser.add_argument("--mchid", default=DEFAULT_MCHID)
    parser.add_argument("--mode", choices=MODES, default="cert", help="how answers are signed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many more seconds, random per answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500 SYSTEM_ERROR")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections dropped")
    parser.add_argument("--ratelimit-rate", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--tamper-rate", type=float, default=0.0, help="fraction with a wrong signature")
    parser.add_argument("--probe-rate", type=float, default=0.0, help="fraction signed WECHATPAY/SIGNTEST/")
    parser.add_argument("--clock-skew", type=float, default=0.0, help="seconds added to answer timestamps")
    parser.add_argument("--fault-phase", choices=("before", "after"), default="before")
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault RNG")
    parser.add_argument("--notify-url", default=None, help="default URL for notifications (PRODUCT_COUPON_SP.*)")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines on stderr")
    return parser.parse_args(argv)


def clock_command(argv: list[str], prog: str = PROG) -> int:
    """``clock [advance SECONDS] [--url URL]``: show or move the business clock of a running sandbox."""
    parser = argparse.ArgumentParser(prog=f"{prog} clock")
    parser.add_argument("action", nargs="?", choices=("show", "advance"), default="show")
    parser.add_argument("seconds", nargs="?", type=float, default=0.0)
    parser.add_argument("--url", default="http://127.0.0.1:8080/", help="the sandbox's base URL")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/") + "/_sandbox/clock"
    if args.action == "advance":
        data = json.dumps({"seconds": args.seconds}).encode()
        req = urllib.request.Request(base + "/advance", data=data, method="POST",  # noqa: S310 - admin URL
                                     headers={"Content-Type": "application/json"})
    else:
        req = urllib.request.Request(base)  # noqa: S310 - admin URL
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - admin URL
            print(resp.read().decode())
    except (urllib.error.URLError, OSError) as exc:
        print(unreachable(args.url, exc), file=sys.stderr)
        return 1
    return 0


async def serve(args: argparse.Namespace) -> None:
    faults = Faults(
        latency=args.latency,
        jitter=args.jitter,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        ratelimit_rate=args.ratelimit_rate,
        tamper_rate=args.tamper_rate,
        probe_rate=args.probe_rate,
        clock_skew=args.clock_skew,
        phase=args.fault_phase,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still raises KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        sandbox_log = logging.getLogger("wechatpay_chain.sandbox")
        sandbox_log.addHandler(handler)
        sandbox_log.setLevel(logging.INFO)
    temporary = None if args.write_config else tempfile.mkdtemp(prefix="wechatpay-sandbox-")  # mode 0700
    directory = str(args.write_config or temporary)
    try:
        async with Sandbox(
            host=args.host, port=args.port, mchid=args.mchid, mode=args.mode, faults=faults, notify_url=args.notify_url
        ) as sb:
            path = sb.write_config(directory)
            note = " (removed when the sandbox stops)" if temporary else ""
            print(f"wrote {path}{note}", flush=True)
            print(f"WeChat Pay sandbox listening on {sb.url} (mode {args.mode}, mchid {sb.mchid})", flush=True)
            await stop.wait()
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    print("sandbox stopped", flush=True)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Exit status: 0 after a clean stop, 1 when it cannot listen, 2 for bad options, 141 for a closed pipe."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["clock"]:
        return clock_command(argv[1:], prog)
    if argv[:1] == ["payer"]:
        from .payments._cli import payer_command

        return payer_command(argv[1:], prog)
    args = parse_args(argv, prog)
    try:
        asyncio.run(serve(args))
    except BrokenPipeError:
        return quiet_broken_pipe()
    except OSError as exc:  # busy port, address not available, unwritable --write-config
        if exc.filename:
            print(f"{prog}: error: cannot write the settings: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
            return 1
        cause = "the port is in use (--port 0 picks a free one)" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"{prog}: error: cannot listen on {args.host}:{args.port}: {cause or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
