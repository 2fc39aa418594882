"""Memory with many requests in flight through one client.

    python benchmarks/memory.py [--requests 10000] [--json]

For each contender, in a fresh process against a fresh ``server.py --hold N`` (which answers nothing until
all N requests have arrived): build the client, warm it, take the RSS baseline, start N concurrent GETs,
sample RSS every 20 ms until all are answered (and once when the server reports all N arrived; it then
holds them one more second), and report ``(peak − baseline) / N`` — the memory one in-flight request costs. Contenders:

* ``chain`` — ``Client(limit=0)``: every request has its own socket, all N are on the wire at once (the
  worst case; with the default ``limit=100`` the rest would wait, already signed, in aiohttp's connector
  queue, which a holding server cannot tell apart from a stall);
* ``floor`` — the hand-written floor client with ``limit=0``, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import COUPON_ID, QUERY, KeyFiles, chain_options, make_keys

CONTENDERS = ("chain", "floor")
_PAGE = os.sysconf("SC_PAGE_SIZE")
HOLD = {"X-Bench-Hold": "1"}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


async def _arrived(port: int) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/__bench/stats") as r:
        return int((await r.json())["requests"])


async def _measure(call: Callable[[bool], Awaitable[Any]], n: int, port: int) -> dict[str, Any]:
    for _ in range(50):
        await call(False)
    gc.collect()
    baseline = rss_bytes()
    peak = baseline
    at_full: int | None = None
    done = asyncio.Event()
    start = await _arrived(port)

    async def sample() -> None:
        # RSS every 20 ms, and once when the server reports all n requests arrived (it then holds them 1 s).
        nonlocal peak, at_full
        while not done.is_set():
            peak = max(peak, rss_bytes())
            if at_full is None and await _arrived(port) - start >= n:
                at_full = rss_bytes()
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    results = await asyncio.gather(*(call(True) for _ in range(n)), return_exceptions=True)
    elapsed = time.perf_counter() - t0
    done.set()
    await sampler
    peak = max(peak, rss_bytes())
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "requests": n,
        "errors": len(errors),
        "first_error": repr(errors[0])[:300] if errors else None,
        "seconds": elapsed,
        "baseline_mb": baseline / 2**20,
        "peak_mb": peak / 2**20,
        "all_in_flight_mb": at_full / 2**20 if at_full is not None else None,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "per_request_kb": (peak - baseline) / n / 1024,
    }


async def _contender(name: str, port: int, keys: KeyFiles, n: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/"
    if name == "chain":
        from wechatpay_chain import Client

        async with Client(
            **chain_options(keys, base),
            limit=0,
            timeout=300,
        ) as client:
            stocks = client.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks

            async def call(hold: bool) -> Any:
                if hold:
                    return await stocks.get(product_coupon_id=COUPON_ID, query=QUERY, headers=HOLD)
                return await stocks.get(product_coupon_id=COUPON_ID, query=QUERY)

            return await _measure(call, n, port)
    from floor import FloorClient

    async with FloorClient(base, keys, limit=0) as plain, FloorClient(base, keys, limit=0, extra_headers=HOLD) as held:

        async def floor_call(hold: bool) -> Any:
            return await (held.get() if hold else plain.get())

        return await _measure(floor_call, n, port)


def run_all(n: int, contenders: tuple[str, ...], keys_dir: Path | None = None) -> dict[str, Any]:
    from server import spawn, stop

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeyFiles(keys_dir) if keys_dir else make_keys(Path(tmp) / "keys")
        for name in contenders:
            proc, port = spawn(keys.directory, "--hold", str(n), "--hold-timeout", "120", "--check-every", "64")
            try:
                child = subprocess.run(
                    [sys.executable, __file__, "--child", name, "--port", str(port), "--keys", str(keys.directory),
                     "--requests", str(n)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
            finally:
                stop(proc)
            if child.returncode != 0:
                out[name] = {"error": child.stderr.strip()[-1000:]}
            else:
                out[name] = orjson.loads(child.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = asyncio.run(_contender(args.child, args.port, KeyFiles(args.keys), args.requests))
        print(orjson.dumps(result).decode(), flush=True)
        return
    results = run_all(args.requests, tuple(args.contenders.split(",")), args.keys)
    if args.json:
        print(orjson.dumps(results).decode())
        return
    print(format_table(results))


def format_table(results: dict[str, Any]) -> str:
    lines = [
        f"{'client':16s} {'in flight':>9s} {'errors':>6s} {'seconds':>7s} {'base MB':>8s} {'peak MB':>8s} "
        f"{'KB/request':>10s}"
    ]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:16s} failed: {r['error'][-300:]}")
            continue
        lines.append(
            f"{name:16s} {r['requests']:9d} {r['errors']:6d} {r['seconds']:7.1f} {r['baseline_mb']:8.1f} "
            f"{r['peak_mb']:8.1f} {r['per_request_kb']:10.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
