"""The workload shared by the load and fault suites and ``benchmarks/reliability.py``.

One client drives a fixed mix of signed reads and writes against the sandbox (add a stock with a unique
``out_request_no``, list the stocks, get one stock) at a bounded concurrency, and tallies what happened so the
callers can assert (tests) or report (benchmark) on the very same run.
"""

from __future__ import annotations

import asyncio
import copy
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from wechatpay_chain import APIError, Client, OutcomeUnknown, RequestEvent, RetryPolicy, WeChatPayError
from wechatpay_chain.sandbox import Faults, Sandbox, samples

PREFIX = "v3/marketing/partner/product-coupon/product-coupons"
STOCKS = PREFIX + "/{product_coupon_id}/stocks"
STOCK = PREFIX + "/{product_coupon_id}/stocks/{stock_id}"
BRAND = "120344"
#: Share (out of 10) of each operation in the mix; the rest are reads split between list and get.
WRITES_PER_10 = 4
LISTS_PER_10 = 3


def coupon_body(out_request_no: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no=out_request_no, usage_mode="PROGRESSIVE_BUNDLE", brand_id=BRAND)
    return body


def stock_body(out_request_no: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(samples.ADD_STOCK["json"])
    body.update(out_request_no=out_request_no, brand_id=BRAND)
    return body


def unused_port() -> int:
    """A loopback port nothing listens on (bound, read, released): a primary host that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class CountingFaults(Faults):
    """Faults that count every fault drawn, and whose ``latency`` is a seeded random draw per read.

    The sandbox's own ``latency`` is a constant; the fault suite wants random latency, so reading the attribute
    returns ``uniform(0, max_latency)`` here. Only the test side changes; the sandbox is used as shipped.
    """

    def __post_init__(self) -> None:
        self.drawn: Counter[str] = Counter()
        self._latency_rng = random.Random(self.seed)
        super().__post_init__()

    @property
    def latency(self) -> float:
        top = self.__dict__.get("_max_latency", 0.0)
        return self._latency_rng.uniform(0.0, top) if top else 0.0

    @latency.setter
    def latency(self, value: float) -> None:
        self.__dict__["_max_latency"] = value

    def draw(self) -> str | None:
        kind = super().draw()
        self.drawn[kind or "none"] += 1
        return kind


def fault_mix(error: float, drop: float, ratelimit: float) -> dict[str, float]:
    """Knob values that give these *overall* shares: the sandbox draws 429, then 500, then drop, in turn."""
    rest = 1.0 - ratelimit
    error_rate = error / rest
    drop_rate = drop / (rest * (1.0 - error_rate))
    return {"ratelimit_rate": ratelimit, "error_rate": error_rate, "drop_rate": drop_rate}


@dataclass
class Tally:
    """What one run did, per operation kind (``add``, ``add_unmarked``, ``list``, ``get``)."""

    calls: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "kind: ErrorType detail" → count
    unknown: list[str] = field(default_factory=list)  # out_request_no of writes that ended OutcomeUnknown
    written: dict[str, str] = field(default_factory=dict)  # out_request_no → stock_id answered
    attempts: int = 0  # attempts the client reported through its hook
    max_attempt: int = 0  # the most attempts one request needed
    failed_attempts: Counter[str] = field(default_factory=Counter)  # status or error of attempts that failed
    elapsed: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    @property
    def retries(self) -> int:
        return self.attempts - self.requests

    def hook(self, event: RequestEvent) -> None:
        self.attempts += 1
        self.max_attempt = max(self.max_attempt, event.attempt)
        if event.error is not None:
            self.failed_attempts[event.error] += 1
        elif event.status is not None and not 200 <= event.status < 300:
            self.failed_attempts[str(event.status)] += 1


def kind_of(index: int, unmarked_every: int) -> str:
    """The operation of request ``index``: a fixed, interleaved mix (deterministic, so runs compare)."""
    slot = index % 10
    if slot < WRITES_PER_10:
        write_no = (index // 10) * WRITES_PER_10 + slot
        return "add_unmarked" if unmarked_every and write_no % unmarked_every == 0 else "add"
    return "list" if slot < WRITES_PER_10 + LISTS_PER_10 else "get"


def seed_coupon(sandbox: Sandbox, out_request_no: str = "seed_coupon_0001") -> tuple[str, str]:
    """Create (without HTTP, so without faults) the coupon the workload adds stocks to: its id, first stock."""
    doc = sandbox.seed_product_coupon(coupon_body(out_request_no))
    sandbox.store.max_stocks = 1_000_000  # the workload adds more stocks than the 200 one coupon may hold
    return doc["product_coupon_id"], doc["stock"]["stock_id"]


async def drive(
    client: Client,
    coupon_id: str,
    first_stock: str,
    total: int,
    concurrency: int,
    tally: Tally,
    *,
    tag: str = "load",
    unmarked_every: int = 0,
) -> Tally:
    """Send ``total`` requests with ``concurrency`` workers; every answer is checked, every error tallied.

    ``unmarked_every``: every n-th write is sent with ``idempotent=False`` (the caller's explicit "do not
    retry"), so it must either succeed or raise :class:`OutcomeUnknown`.
    """
    stocks = client[STOCKS]
    one = client[STOCK]
    query = {"brand_id": BRAND}
    next_index = iter(range(total))

    async def call(index: int) -> None:
        kind = kind_of(index, unmarked_every)
        tally.calls[kind] += 1
        try:
            if kind.startswith("add"):
                number = f"{tag}_{index:07d}"
                options: dict[str, Any] = {"idempotent": False} if kind == "add_unmarked" else {}
                try:
                    doc = (await stocks.post(product_coupon_id=coupon_id, json=stock_body(number), **options)).json()
                except OutcomeUnknown:
                    tally.unknown.append(number)
                    raise
                if doc.get("product_coupon_id") != coupon_id or not doc.get("stock_id"):
                    raise AssertionError(f"{number}: unexpected answer {doc!r}")
                tally.written[number] = doc["stock_id"]
            elif kind == "list":
                doc = (await stocks.get(product_coupon_id=coupon_id, query=query)).json()
                if not isinstance(doc.get("total_count"), int) or doc["total_count"] < 1:
                    raise AssertionError(f"list: unexpected answer {doc!r}")
            else:
                doc = (await one.get(product_coupon_id=coupon_id, stock_id=first_stock, query=query)).json()
                if doc.get("stock_id") != first_stock:
                    raise AssertionError(f"get: unexpected answer {doc!r}")
        except (WeChatPayError, AssertionError) as exc:
            detail = exc.code if isinstance(exc, APIError) else getattr(exc, "reason", "")
            tally.errors[f"{kind}: {type(exc).__name__} {detail}".rstrip()] += 1
            return
        tally.ok[kind] += 1

    async def worker() -> None:
        for index in next_index:
            await call(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    tally.elapsed += time.perf_counter() - started
    return tally


def leftover_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks created since ``before`` that are still pending, excluding the sandbox's own connection handlers."""
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task not in before and task is not current and not task.done() and not _is_server_task(task)
    ]


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", "")
    return name.startswith(("RequestHandler.", "BaseProtocol."))


def pool_in_use(client: Client) -> int:
    """Connections checked out of the client's pool (0 once every answer was read or released)."""
    session = client._session
    if session is None or session.connector is None:
        return 0
    return len(session.connector._acquired)


#: Enough attempts for the fault mix below: every idempotent request gets through, quickly.
PATIENT = RetryPolicy(attempts=20, backoff=0.001, max_backoff=0.01, budget=20.0)


@dataclass
class FaultRun:
    """One run of the fault mix, for the suite to assert on and the benchmark to report."""

    coupon_id: str
    tally: Tally
    in_use: int  # connections still checked out after the run
    inflight: int  # calls the client still counts as in flight
    leftover: list[asyncio.Task[Any]]  # pending tasks created by the run, client still open
    before: set[asyncio.Task[Any]]  # tasks that existed before it (to check again after closing)


async def run_fault_mix(sb: Sandbox, faults: Faults, total: int, concurrency: int, tag: str) -> FaultRun:
    """30 % 500s, 10 % dropped connections, 5 % 429s (overall shares) with latency, through one patient client."""
    coupon_id, first_stock = seed_coupon(sb)
    faults.update(latency=0.005, **fault_mix(error=0.30, drop=0.10, ratelimit=0.05))
    tally = Tally()
    before = set(asyncio.all_tasks())
    async with sb.client(retry=PATIENT, limit=concurrency, hooks=[tally.hook]) as wxpay:
        await drive(wxpay, coupon_id, first_stock, total, concurrency, tally, tag=tag, unmarked_every=4)
        await asyncio.sleep(0)
        return FaultRun(coupon_id, tally, pool_in_use(wxpay), wxpay._inflight, leftover_tasks(before), before)
