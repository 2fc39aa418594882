"""One contender, one workload, one concurrency — in a fresh process, so CPU and RSS are its own.

    python benchmarks/contenders.py CONTENDER --workload get|post --concurrency N --port P --keys DIR

Drives ``N`` concurrent request loops (for sync clients: ``N`` threads sharing one client) for ``--warmup`` then
``--duration`` seconds and prints one JSON line: requests, errors, wall and process-CPU seconds of the
timed phase only (imports, key loading and warm-up excluded), p50/p99 latency and peak RSS.
``--profile FILE`` writes a cProfile of the timed phase instead of being a fair measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import resource
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import BareClient, FloorClient
from workload import BODY, COUPON_ID, MCHID, PATH, PUB_KEY_ID, QUERY, QUERY_STRING, KeyFiles, chain_options

AsyncCall = Callable[[], Awaitable[Any]]
SyncCall = Callable[[], Any]

ASYNC = ("chain", "floor", "bare", "floor-pool2", "wechatpayv3-async")
SYNC = ("chain-sync", "chain-sync-handoff", "wechatpayv3-sync")
THREADED = ("chain-sync", "chain-sync-handoff")  # may share one client between threads (concurrency > 1)
ALL = ASYNC + SYNC


# -- contenders -------------------------------------------------------------------------------------------
@asynccontextmanager
async def chain(base_url: str, keys: KeyFiles, workload: str) -> AsyncIterator[AsyncCall]:
    from wechatpay_chain import Client

    async with Client(**chain_options(keys, base_url)) as client:
        stocks = client.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks

        async def get() -> Any:
            return await stocks.get(product_coupon_id=COUPON_ID, query=QUERY)

        async def post() -> Any:
            return await stocks.post(product_coupon_id=COUPON_ID, json=BODY)

        yield get if workload == "get" else post


def _blocking_calls(client: Any, workload: str) -> SyncCall:
    stocks = client.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks

    def get() -> Any:
        return stocks.get(product_coupon_id=COUPON_ID, query=QUERY)

    def post() -> Any:
        return stocks.post(product_coupon_id=COUPON_ID, json=BODY)

    return get if workload == "get" else post


@contextmanager
def chain_sync(base_url: str, keys: KeyFiles, workload: str) -> Iterator[SyncCall]:
    from wechatpay_chain import SyncClient

    with SyncClient(**chain_options(keys, base_url)) as client:
        yield _blocking_calls(client, workload)


@contextmanager
def chain_sync_handoff(base_url: str, keys: KeyFiles, workload: str) -> Iterator[SyncCall]:
    """The SyncClient design before issue 16 (a loop thread and a hand-off per call): ``handoff.py``."""
    from handoff import HandoffSyncClient

    with HandoffSyncClient(**chain_options(keys, base_url)) as client:
        yield _blocking_calls(client, workload)


@asynccontextmanager
async def floor(base_url: str, keys: KeyFiles, workload: str, threads: int = 0) -> AsyncIterator[AsyncCall]:
    async with FloorClient(base_url, keys, sign_threads=threads) as client:
        yield client.get if workload == "get" else client.post


@asynccontextmanager
async def bare(base_url: str, keys: KeyFiles, workload: str) -> AsyncIterator[AsyncCall]:
    async with BareClient(base_url) as client:
        yield client.get if workload == "get" else client.post


def _wechatpayv3_config(keys: KeyFiles) -> dict[str, Any]:
    return {
        "mchid": MCHID,
        "private_key": keys.merchant_key.read_text(),
        "cert_serial_no": keys.merchant_serial,
        "appid": "wxd678efh567hg6787",
        "apiv3_key": "0123456789abcdef0123456789abcdef",
        "public_key": keys.platform_public.read_text(),
        "public_key_id": PUB_KEY_ID,
    }


@contextmanager
def wechatpayv3_sync(base_url: str, keys: KeyFiles, workload: str) -> Iterator[SyncCall]:
    from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped]
    from wechatpayv3.type import RequestType  # type: ignore[import-untyped]

    wx = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, timeout=(5, 15), **_wechatpayv3_config(keys))
    # Its only way to reach another host: the gateway attribute of its core (no base-URL option).
    wx._core._gate_way = base_url.rstrip("/")
    core = wx._core

    def get() -> Any:
        code, text = core.request(PATH + "?" + QUERY_STRING)
        if code != 200:
            raise RuntimeError(f"wechatpayv3 GET got {code}: {str(text)[:200]}")

    def post() -> Any:
        code, text = core.request(PATH, method=RequestType.POST, data=BODY)
        if code != 200:
            raise RuntimeError(f"wechatpayv3 POST got {code}: {str(text)[:200]}")

    yield get if workload == "get" else post


@asynccontextmanager
async def wechatpayv3_async(base_url: str, keys: KeyFiles, workload: str) -> AsyncIterator[AsyncCall]:
    from wechatpayv3.async_ import AsyncWeChatPay  # type: ignore[import-untyped]
    from wechatpayv3.async_.type import RequestType, WeChatPayType  # type: ignore[import-untyped]

    wx = AsyncWeChatPay(wechatpay_type=WeChatPayType.NATIVE, timeout=(5, 15), **_wechatpayv3_config(keys))
    wx._core._gate_way = base_url.rstrip("/")
    async with wx:
        core = wx._core

        async def get() -> Any:
            code, text = await core.request(PATH + "?" + QUERY_STRING)
            if code != 200:
                raise RuntimeError(f"wechatpayv3 GET got {code}: {str(text)[:200]}")

        async def post() -> Any:
            code, text = await core.request(PATH, method=RequestType.POST, data=BODY)
            if code != 200:
                raise RuntimeError(f"wechatpayv3 POST got {code}: {str(text)[:200]}")

        yield get if workload == "get" else post


# -- drivers ----------------------------------------------------------------------------------------------
class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:300]


async def _loop(call: AsyncCall, deadline: float, tally: Tally) -> None:
    clock = time.perf_counter
    append = tally.latencies.append
    while clock() < deadline:
        t0 = clock()
        try:
            await call()
        except Exception as exc:
            tally.fail(exc)
            await asyncio.sleep(0.01)
            continue
        append(clock() - t0)


async def drive_async(call: AsyncCall, concurrency: int, warmup: float, duration: float,
                      profile: cProfile.Profile | None) -> tuple[Tally, float, float]:
    warm = Tally()
    deadline = time.perf_counter() + warmup
    await asyncio.gather(*(_loop(call, deadline, warm) for _ in range(concurrency)))
    tally = Tally()
    tally.errors = warm.errors
    tally.first_error = warm.first_error
    if profile is not None:
        profile.enable()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(_loop(call, t0 + duration, tally) for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if profile is not None:
        profile.disable()
    return tally, wall, cpu


def _sync_loop(call: SyncCall, deadline: float, tally: Tally) -> None:
    clock = time.perf_counter
    append = tally.latencies.append
    while clock() < deadline:
        s = clock()
        try:
            call()
        except Exception as exc:
            tally.fail(exc)
            time.sleep(0.01)
            continue
        append(clock() - s)


def _sync_phase(call: SyncCall, threads: int, span: float, tally: Tally) -> None:
    """``threads`` blocking loops (the calling thread is one of them) until ``span`` seconds from now."""
    deadline = time.perf_counter() + span
    if threads == 1:
        _sync_loop(call, deadline, tally)
        return
    tallies = [Tally() for _ in range(threads - 1)]
    others = [threading.Thread(target=_sync_loop, args=(call, deadline, t)) for t in tallies]
    for t in others:
        t.start()
    _sync_loop(call, deadline, tally)
    for t in others:
        t.join()
    for t in tallies:
        tally.latencies.extend(t.latencies)
        tally.errors += t.errors
        tally.first_error = tally.first_error or t.first_error


def drive_sync(call: SyncCall, warmup: float, duration: float,
               profile: cProfile.Profile | None, threads: int = 1) -> tuple[Tally, float, float]:
    warm = Tally()
    _sync_phase(call, threads, warmup, warm)
    tally = Tally()
    tally.errors, tally.first_error = warm.errors, warm.first_error
    if profile is not None:
        profile.enable()
    cpu0, t0 = time.process_time(), time.perf_counter()
    _sync_phase(call, threads, duration, tally)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if profile is not None:
        profile.disable()
    return tally, wall, cpu


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def run(args: argparse.Namespace) -> dict[str, Any]:
    keys = KeyFiles(args.keys)
    base_url = f"http://127.0.0.1:{args.port}/"
    profile = cProfile.Profile() if args.profile else None
    name = args.contender
    if name in SYNC:
        if args.concurrency != 1 and name not in THREADED:
            raise SystemExit(f"{name} is measured at concurrency 1 only")
        factory = {"chain-sync": chain_sync, "chain-sync-handoff": chain_sync_handoff}.get(name, wechatpayv3_sync)
        with factory(base_url, keys, args.workload) as call:
            tally, wall, cpu = drive_sync(call, args.warmup, args.duration, profile, threads=args.concurrency)
    else:

        async def main() -> tuple[Tally, float, float]:
            contexts: dict[str, Any] = {
                "chain": lambda: chain(base_url, keys, args.workload),
                "floor": lambda: floor(base_url, keys, args.workload),
                "floor-pool2": lambda: floor(base_url, keys, args.workload, threads=2),
                "bare": lambda: bare(base_url, keys, args.workload),
                "wechatpayv3-async": lambda: wechatpayv3_async(base_url, keys, args.workload),
            }
            async with contexts[name]() as call:
                return await drive_async(call, args.concurrency, args.warmup, args.duration, profile)

        tally, wall, cpu = asyncio.run(main())
    if profile is not None:
        profile.dump_stats(args.profile)
    lat = sorted(tally.latencies)
    n = len(lat)
    return {
        "contender": name,
        "workload": args.workload,
        "concurrency": args.concurrency,
        "requests": n,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "wall_s": wall,
        "cpu_s": cpu,
        "rps": n / wall if wall else 0.0,
        "cpu_us": cpu / n * 1e6 if n else float("nan"),
        "p50_ms": percentile(lat, 0.50) * 1e3,
        "p99_ms": percentile(lat, 0.99) * 1e3,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("contender", choices=ALL)
    parser.add_argument("--workload", choices=("get", "post"), default="get")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--profile", help="write a cProfile of the timed phase to this file")
    args = parser.parse_args(argv)
    print(orjson.dumps(run(args)).decode(), flush=True)


if __name__ == "__main__":
    main()
