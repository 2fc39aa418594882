"""Faults and hostile answers on a real loopback server: every failure is a typed error, nothing leaks."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import FakeWeChat
from hypothesis import given
from hypothesis import strategies as st

from wechatpay_chain import (
    DecodeError,
    Response,
    RetryPolicy,
    TransportError,
    VerificationError,
    WeChatPayError,
)
from wechatpay_chain._chain import normalize

FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005)


async def test_truncated_body_is_a_transport_error(fake: FakeWeChat) -> None:
    async def truncated(request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "1000", "Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b'{"partial":')
        assert request.transport is not None
        request.transport.close()
        return resp

    fake.routes[("GET", "/v3/x")] = truncated
    async with fake.client(retry=None) as wxpay:
        with pytest.raises(TransportError):
            await wxpay.v3.x.get()


async def test_gigantic_answers_are_capped(fake: FakeWeChat) -> None:
    big = b'{"pad":"' + b"x" * 200_000 + b'"}'
    fake.routes[("GET", "/v3/big")] = lambda r, b: fake.signed(200, big)

    async def chunked(request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(50):
            await resp.write(b"x" * 10_000)
        await resp.write_eof()
        return resp

    fake.routes[("GET", "/v3/chunked")] = chunked
    async with fake.client(max_response_size=64 * 1024) as wxpay:
        for path in ("big", "chunked"):
            with pytest.raises(VerificationError) as info:
                await wxpay.v3[path].get()
            assert info.value.reason == "bad_body"
        assert (await wxpay.v3.small.get()).status == 200  # the pool still works afterwards


async def test_signed_but_not_json(fake: FakeWeChat) -> None:
    fake.routes[("GET", "/v3/html")] = lambda r, b: fake.signed(200, b"<html>oops</html>", "text/html")
    async with fake.client() as wxpay:
        r = await wxpay.v3.html.get()
        with pytest.raises(DecodeError, match="text/html"):
            r.json()


async def test_429_honours_retry_after_and_is_retried_even_for_writes(fake: FakeWeChat) -> None:
    calls = {"n": 0}

    def limited(request: web.Request, body: bytes) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(
                status=429, headers={"Retry-After": "0"}, body=b'{"code":"RATELIMIT_EXCEEDED","message":"slow"}'
            )
        return fake.signed(200, b"{}")

    fake.routes[("POST", "/v3/w")] = limited
    async with fake.client(retry=FAST) as wxpay:
        assert (await wxpay.v3.w.post(json={"no_merchant_number": 1})).status == 200
    assert calls["n"] == 2


def slow_route(fake: FakeWeChat) -> asyncio.Event:
    """``GET /v3/slow`` answers after 5 s; the event is set once a request has reached the server."""
    started = asyncio.Event()

    async def slow(request: web.Request, body: bytes) -> web.Response:
        started.set()
        await asyncio.sleep(5)
        return fake.signed(200, b"{}")

    fake.routes[("GET", "/v3/slow")] = slow
    return started


async def test_closing_with_requests_in_flight_fails_them_cleanly(fake: FakeWeChat) -> None:
    started = slow_route(fake)
    client = fake.client(retry=None)
    task = asyncio.create_task(client.v3.slow.get())
    await asyncio.wait_for(started.wait(), 2)
    await asyncio.wait_for(client.aclose(), 2)
    with pytest.raises(TransportError):
        await asyncio.wait_for(task, 2)


async def test_cancellation_leaks_no_connection(fake: FakeWeChat) -> None:
    started = slow_route(fake)
    async with fake.client() as wxpay:
        assert (await wxpay.v3.warm.get()).status == 200
        for _ in range(3):
            started.clear()
            task = asyncio.create_task(wxpay.v3.slow.get())
            await asyncio.wait_for(started.wait(), 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        session = wxpay._session
        assert session is not None and session.connector is not None
        await asyncio.sleep(0)
        assert len(session.connector._acquired) == 0  # nothing left checked out of the pool
        assert wxpay._inflight == 0
        assert (await wxpay.v3.after.get()).status == 200


def _php_normalize(name: str) -> str:
    """Reference model: wechatpay-php's three regex steps (anchors.md §1a), plus our keyword escape."""
    out = re.sub(r"^[A-Z]", lambda m: m.group(0).lower(), name)
    out = re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), out)
    return re.sub(r"^_(.*)_$", lambda m: "{" + m.group(1) + "}", out)


@given(st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,20}", fullmatch=True))
def test_attribute_rules_match_the_php_model(name: str) -> None:
    if name.endswith("_") and name[:-1] in {"global", "return", "import", "try", "class", "def", "from"}:
        return
    assert normalize(name) == _php_normalize(name)


@given(st.from_regex(r"_[a-z][a-z0-9_]{0,15}_", fullmatch=True))
def test_placeholder_rule_matches_the_php_model(name: str) -> None:
    inner = name[1:-1]
    if inner.startswith(("repr_", "ipython_", "_", "pytest", "mock_", "jupyter", "fields")):
        with pytest.raises(AttributeError):
            normalize(name)
    else:
        assert normalize(name) == _php_normalize(name)


async def test_secrets_never_reach_logs_reprs_or_tracebacks(
    fake: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    apiv3_key = "0123456789abcdefghijABCDEFGHIJ01"
    texts: list[str] = []

    def tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]}, body

    async with fake.client(apiv3_key=apiv3_key, retry=FAST) as wxpay:
        texts.append(repr(wxpay))
        await wxpay.v3.ok.get()
        fake.tamper = tamper
        calls: list[Callable[[], Coroutine[Any, Any, Response]]] = [
            lambda: wxpay.v3.a.get(),
            lambda: wxpay.v3.b._id_.get(),
            lambda: wxpay.v3.c.post(jsno=1),
            lambda: wxpay.chain("{+u}").get(u="https://evil.example/"),
        ]
        for call in calls:
            try:
                await call()
            except WeChatPayError as exc:
                texts.append("".join(traceback.format_exception(exc)))
                texts.append(repr(exc))
    texts.append(caplog.text)
    blob = "\n".join(texts)
    for seen in fake.seen:
        assert seen.auth["signature"] not in blob
        assert seen.headers["Authorization"] not in blob
    pem = fake.keys.merchant.private_pem().decode()
    body_lines = [line for line in pem.splitlines() if "-----" not in line]
    assert not any(line in blob for line in body_lines)
    assert "PRIVATE KEY" not in blob
    assert apiv3_key not in blob


async def test_connection_pool_limits_are_applied(fake: FakeWeChat) -> None:
    in_flight = {"now": 0, "peak": 0}

    async def count(request: web.Request, body: bytes) -> web.Response:
        in_flight["now"] += 1
        in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        await asyncio.sleep(0.02)
        in_flight["now"] -= 1
        return fake.signed(200, b"{}")

    fake.routes[("GET", "/v3/c")] = count
    async with fake.client(limit=4, limit_per_host=4) as wxpay:
        results = await asyncio.gather(*(wxpay.v3.c.get() for _ in range(20)))
    assert all(r.status == 200 for r in results)
    assert in_flight["peak"] <= 4


async def test_standalone_middleware_with_own_session(fake: FakeWeChat) -> None:
    """The middleware alone signs and verifies on a user's own ClientSession."""
    from wechatpay_chain import RSASigner, Verifier, WeChatPayMiddleware

    keys = fake.keys
    mw = WeChatPayMiddleware(
        RSASigner("1900000109", keys.merchant.serial, keys.merchant.private_key),
        Verifier({keys.platform.serial: keys.platform.public_key}),
        hosts={fake.base_url},  # an origin: scheme, host and port
    )
    async with aiohttp.ClientSession(middlewares=(mw,)) as session:
        async with session.get(fake.base_url + "v3/own?a=%20b") as resp:
            assert resp.status == 200
            assert (await resp.json())["path"] == "/v3/own"
        fake.tamper = lambda h, b: (h, b + b"x")
        with pytest.raises(VerificationError):
            async with session.get(fake.base_url + "v3/own"):
                pass
