"""Hostile answers from a real loopback server: absurd ``Retry-After`` values and secrets in exceptions."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from conftest import FakeWeChat

from wechatpay_chain import APIError, RetryPolicy

LIMITED = b'{"code":"FREQUENCY_LIMITED","message":"slow down"}'


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-5", "1e300", "99999999999", "1_0", "0x10", "Ｘ"])
async def test_unusable_retry_after_falls_back_to_the_normal_backoff(fake: FakeWeChat, value: str) -> None:
    """Finding 4: ``Retry-After: nan`` made the delay NaN, so the budget check never fired and the call hung."""
    calls = {"n": 0}

    def limited(request: web.Request, body: bytes) -> web.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return web.Response(status=429, headers={"Retry-After": value}, body=LIMITED)
        return fake.signed(200, b"{}")

    fake.routes[("GET", "/v3/limited")] = limited
    policy = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01, budget=5.0)
    async with fake.client(retry=policy) as wxpay:
        r = await asyncio.wait_for(wxpay.v3.limited.get(), 4.0)  # the budget is 5 s; NaN used to sleep for ever
    assert r.status == 200 and calls["n"] == 3
    assert all(0 <= policy.delay(1, value) <= 0.01 for _ in range(20))


async def test_the_budget_holds_whatever_retry_after_says(fake: FakeWeChat) -> None:
    answers = iter(["nan", "inf", "-1", "nan"] * 1000)

    def limited(request: web.Request, body: bytes) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": next(answers)}, body=LIMITED)

    fake.routes[("GET", "/v3/limited")] = limited
    policy = RetryPolicy(attempts=1000, backoff=0.02, max_backoff=0.05, budget=0.4)
    started = time.monotonic()
    async with fake.client(retry=policy) as wxpay:
        with pytest.raises(APIError) as info:
            await asyncio.wait_for(wxpay.v3.limited.get(), 10.0)
    assert info.value.status == 429
    assert time.monotonic() - started < 3.0  # the 0.4 s budget, with generous room for a loaded machine
    # Valid values are still honoured, bounded by 4 × max_backoff; a policy itself must be finite.
    assert policy.delay(1, "0.15") == 0.15 and policy.delay(1, " 0 ") == 0.0
    for bad in ({"backoff": float("nan")}, {"max_backoff": float("inf")}, {"budget": float("inf")}):
        with pytest.raises(ValueError, match="finite"):
            RetryPolicy(**bad)  # type: ignore[arg-type]
