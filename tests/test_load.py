"""Load: one client, many signed-and-verified requests at high concurrency against the sandbox.

CI runs a small size; ``WECHATPAY_LOAD_N`` / ``WECHATPAY_LOAD_C`` scale it (``benchmarks/reliability.py`` runs
the issue's 20,000 at 256 with the sandbox in its own process and reports throughput and memory).
"""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import Keys
from reliability_workload import LISTS_PER_10, WRITES_PER_10, Tally, drive, leftover_tasks, pool_in_use, seed_coupon

from wechatpay_chain.sandbox import Sandbox

N = int(os.environ.get("WECHATPAY_LOAD_N", "1000"))
C = int(os.environ.get("WECHATPAY_LOAD_C", "64"))


@pytest.mark.slow
async def test_load_mixed_reads_and_writes_without_errors_or_leaks(keys: Keys) -> None:
    async with Sandbox(merchant=keys.merchant, platform=keys.platform, public_key=keys.platform2) as sb:
        coupon_id, first_stock = seed_coupon(sb)
        tally = Tally()
        before = set(asyncio.all_tasks())
        async with sb.client(limit=C, hooks=[tally.hook]) as wxpay:
            await drive(wxpay, coupon_id, first_stock, N, C, tally)
            await asyncio.sleep(0)
            assert pool_in_use(wxpay) == 0  # every answer read and its connection handed back
            assert wxpay._inflight == 0
            assert leftover_tasks(before) == []
            assert not wxpay.closed
        await asyncio.sleep(0.05)  # let the server's connection handlers see the client's close
        assert leftover_tasks(before) == []

        assert dict(tally.errors) == {}
        assert tally.requests == N and sum(tally.ok.values()) == N
        assert tally.retries == 0  # a healthy server: one attempt per request
        writes = tally.calls["add"]
        assert writes == sum(1 for i in range(N) if i % 10 < WRITES_PER_10)
        assert tally.calls["list"] == sum(1 for i in range(N) if WRITES_PER_10 <= i % 10 < WRITES_PER_10 + LISTS_PER_10)
        # The sandbox holds exactly the seeded stock plus one per write, each applied once, ids as answered.
        stocks = sb.store.stocks[coupon_id]
        assert len(stocks) == 1 + writes
        assert set(stocks) == {first_stock, *tally.written.values()}
        assert len(set(tally.written.values())) == writes
        assert all(sb.applied_writes(number) == 1 for number in tally.written)
        assert sum(sb.store.applied.values()) == writes
        # Every request reached the server signed and was accepted (it re-verifies each signature).
        assert len(sb.seen) == min(N, sb.seen.maxlen or N) and all(seen.status == 200 for seen in sb.seen)
