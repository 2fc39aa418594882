"""The load target: a WeChat-Pay-shaped loopback server that costs the client-under-test nothing.

Run by ``run.py`` / ``memory.py`` as a separate process tree: a parent that owns the listening socket
and ``--workers`` forked children that accept on it. Each worker answers the product-coupon endpoint
(GET: list stocks, POST: add a stock) from a small pool of **pre-signed** answers that a background task
re-signs every ``RESIGN_EVERY`` seconds, so the ±300 s timestamp check passes while the server does no
RSA work per request. Requests get a cheap sanity check (scheme, mchid) and every ``--check-every``-th
signed request is fully re-verified from the bytes received; a failure is answered 401 SIGN_ERROR and
counted, so a contender that signs the wrong bytes cannot post a good number unnoticed.

``--hold N`` keeps every request that carries ``X-Bench-Hold`` open until N such requests are in flight
(for the memory benchmark; headers are not signed, so the header changes nothing else).

    python benchmarks/server.py --keys DIR [--port 0] [--workers 1] [--check-every 16] [--hold N]

prints ``READY <port>`` once every worker listens; ``GET /__bench/stats`` returns the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import ADD_ANSWER, LIST_ANSWER, MCHID, PATH, PUB_KEY_ID, KeyFiles

from wechatpay_chain import crypto
from wechatpay_chain.signing import AUTH_SCHEME
from wechatpay_chain.testing import RequestCheckError, check_request, sign_response_headers

RESIGN_EVERY = 20.0
POOL = 16
# Counter slots per worker, in this order.
COUNTERS = ("requests", "signed", "checked", "failed", "unsigned")
_AUTH_PREFIX = f'{AUTH_SCHEME} mchid="{MCHID}",'


class Worker:
    """One accepting process: pre-signed answer pools, counters in shared memory, the request handler."""

    def __init__(self, index: int, keys: KeyFiles, counters: Any, args: argparse.Namespace) -> None:
        self.base = index * len(COUNTERS)
        self.counters = counters
        self.platform_key = crypto.load_private_key(keys.platform_key.read_bytes())
        self.merchant = {(MCHID, keys.merchant_serial): crypto.load_public_key(keys.merchant_public.read_bytes())}
        self.check_every = max(1, args.check_every)
        self.hold = args.hold
        self.hold_timeout = args.hold_timeout
        self.hold_linger = args.hold_linger
        self.held = 0
        self.release = asyncio.Event()
        self.pools: dict[str, list[CIMultiDict[str]]] = {}
        self.turn = 0
        self.signed_seen = 0
        self.resign()

    def resign(self) -> None:
        pools: dict[str, list[CIMultiDict[str]]] = {}
        for name, body in (("GET", LIST_ANSWER), ("POST", ADD_ANSWER)):
            pool = []
            for _ in range(POOL):
                headers = CIMultiDict(sign_response_headers(body, self.platform_key, PUB_KEY_ID))
                headers["Content-Type"] = "application/json"
                headers["Request-ID"] = "08F4B7C0A1B2C3D4E5F6" + os.urandom(8).hex().upper()
                pool.append(headers)
            pools[name] = pool
        self.pools = pools

    async def resign_forever(self) -> None:
        while True:
            await asyncio.sleep(RESIGN_EVERY)
            self.resign()

    def count(self, name: str, n: int = 1) -> None:
        self.counters[self.base + COUNTERS.index(name)] += n

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/__bench/stats":
            totals = {name: 0 for name in COUNTERS}
            per = len(COUNTERS)
            for i, value in enumerate(self.counters[:]):
                totals[COUNTERS[i % per]] += value
            return web.Response(body=orjson.dumps(totals), content_type="application/json")
        self.count("requests")
        body = await request.read()
        auth = request.headers.get("Authorization")
        if auth is None:
            self.count("unsigned")
        else:
            self.count("signed")
            self.signed_seen += 1
            problem = None
            if not auth.startswith(_AUTH_PREFIX):
                problem = "Authorization has the wrong scheme or mchid"
            elif self.signed_seen % self.check_every == 0:
                self.count("checked")
                try:
                    check_request(request.method, request.raw_path, body, auth, self.merchant)
                except RequestCheckError as exc:
                    problem = str(exc)
            if problem is not None:
                self.count("failed")
                answer = orjson.dumps({"code": "SIGN_ERROR", "message": problem})
                return web.Response(status=401, body=answer, content_type="application/json")
        if self.hold and "X-Bench-Hold" in request.headers:
            self.held += 1
            if self.held == self.hold:
                # Keep all N open a little longer so the client can measure itself at the peak.
                asyncio.get_running_loop().call_later(self.hold_linger, self.release.set)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.hold_timeout)
        if request.path != PATH or request.method not in self.pools:
            answer = orjson.dumps({"code": "NOT_FOUND", "message": f"{request.method} {request.path}"})
            return web.Response(status=404, body=answer, content_type="application/json")
        pool = self.pools[request.method]
        self.turn += 1
        headers = pool[self.turn % POOL]
        body_out = LIST_ANSWER if request.method == "GET" else ADD_ANSWER
        return web.Response(body=body_out, headers=headers)


def _serve(index: int, sock: socket.socket, keys: KeyFiles, counters: Any,
           args: argparse.Namespace, ready: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def main() -> None:
        worker = Worker(index, keys, counters, args)
        server = web.Server(worker.handle, access_log=None)
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(server, sock=sock, backlog=16384)
        resigner = asyncio.create_task(worker.resign_forever())
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        ready.release()
        await stop.wait()
        resigner.cancel()
        srv.close()
        await server.shutdown(0.5)

    asyncio.run(main())


def spawn(keys: Path, *extra: str, workers: int = 1) -> tuple[subprocess.Popen[str], int]:
    """Start this server as a child process; return it and its port once every worker listens."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--keys", str(keys), "--workers", str(workers), *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"the benchmark server did not start: {line!r}")
    return proc, int(line.split()[1])


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop a server started by :func:`spawn`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", required=True, type=Path, help="directory written by workload.make_keys")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--check-every", type=int, default=16, help="fully re-verify every N-th signed request")
    parser.add_argument("--hold", type=int, default=0, help="hold X-Bench-Hold requests until N are in flight")
    parser.add_argument("--hold-timeout", type=float, default=120.0)
    parser.add_argument("--hold-linger", type=float, default=1.0, help="seconds to keep all N open once they are in")
    args = parser.parse_args(argv)
    keys = KeyFiles(args.keys)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(16384)
    sock.setblocking(False)
    port = sock.getsockname()[1]

    ctx = multiprocessing.get_context("fork")
    counters = ctx.Array("q", args.workers * len(COUNTERS), lock=False)
    ready = ctx.Semaphore(0)
    workers = [
        ctx.Process(target=_serve, args=(i, sock, keys, counters, args, ready), daemon=True)
        for i in range(args.workers)
    ]
    for proc in workers:
        proc.start()
    deadline = time.monotonic() + 30
    for _ in workers:
        if not ready.acquire(timeout=max(0.1, deadline - time.monotonic())):
            raise SystemExit("server workers did not start")
    print(f"READY {port}", flush=True)

    def stop_workers(*_: object) -> None:
        for proc in workers:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_workers)
    signal.signal(signal.SIGINT, stop_workers)
    for proc in workers:
        proc.join()


if __name__ == "__main__":
    main()
