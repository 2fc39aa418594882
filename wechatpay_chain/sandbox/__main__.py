"""``python -m wechatpay_chain.sandbox``: serve the sandbox until SIGINT/SIGTERM.

With ``--write-config DIR`` it writes fresh merchant/platform keys and ``DIR/config.json`` (mchid, serial,
private_key, certs, apiv3_key, base_url) once it is listening, so another process can build a client from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._app import MODES
from ._faults import Faults
from ._server import DEFAULT_MCHID, Sandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wechatpay_chain.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = any free port; default 8080)")
    parser.add_argument("--write-config", metavar="DIR", help="write config.json and PEM files into DIR")
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
    return parser.parse_args(argv)


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
    async with Sandbox(host=args.host, port=args.port, mchid=args.mchid, mode=args.mode, faults=faults) as sb:
        if args.write_config:
            path = sb.write_config(args.write_config)
            print(f"wrote {path}", flush=True)
        print(f"WeChat Pay sandbox listening on {sb.url} (mode {args.mode}, mchid {sb.mchid})", flush=True)
        await stop.wait()
    print("sandbox stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
