"""Hostile answers from a real loopback server: absurd ``Retry-After`` values and secrets in exceptions."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from conftest import FakeWeChat

from wechatpay_chain import APIError, RetryPolicy, WeChatPayError

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


# -- finding 9: no exception leads to the Authorization value ---------------------------------------------
BROKEN_ANSWERS = {
    "bad status line": b"HTTP/1.1 abc OK\r\n\r\n",
    "not HTTP": b"garbage\r\n\r\n",
    "bad Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "bad gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
    "header too long": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
    "unsigned 2xx": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "truncated body": b"HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n{",
    "closed": b"",
    "silent": None,
}


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # some objects cannot describe themselves; they cannot leak either
        return ""


def reachable_text(error: BaseException) -> Iterator[str]:
    """Everything an error handler, logger or crash reporter can reach from ``error``: the exception graph
    (cause, context, attributes, aiohttp ``request_info``) and the local variables of every traceback frame."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield _safe_repr(exc)
        yield str(exc)
        todo += [exc.__cause__, exc.__context__]
        attributes = list(vars(exc).values()) if hasattr(exc, "__dict__") else []
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_globals.get("__name__") != __name__:  # this test's own frames hold what it received
                attributes += tb.tb_frame.f_locals.values()
            tb = tb.tb_next
        for value in attributes:
            yield _safe_repr(value)
            for name in ("headers", "request_info", "history", "_request_info"):
                inner = getattr(value, name, None)
                if inner is not None:
                    yield _safe_repr(inner)
                    yield _safe_repr(getattr(inner, "headers", None))
            if isinstance(value, BaseException):
                todo.append(value)


@pytest.mark.parametrize("case", list(BROKEN_ANSWERS))
async def test_no_error_leads_to_the_authorization(fake: FakeWeChat, case: str) -> None:
    """Finding 9: aiohttp's ``request_info.headers`` (in ``err.__cause__``) held the signed Authorization."""
    answer = BROKEN_ANSWERS[case]
    received: list[bytes] = []
    finished = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        received.append(head)
        if answer is None:
            await finished.wait()  # never answers; released when the test is done
        else:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    errors: list[BaseException] = []
    try:
        async with fake.client(
            base_url=f"http://127.0.0.1:{port}/", retry=RetryPolicy(attempts=1), timeout=0.3
        ) as wxpay:
            for call in (
                lambda: wxpay.v3.pay.transactions.id._id_.get(id="1"),
                lambda: wxpay.v3.refund.domestic.refunds.post(json={"amount": 1}),  # no merchant number
                lambda: wxpay.download(f"http://127.0.0.1:{port}/v3/billdownload/file", unchecked=True, timeout=0.3),
            ):
                try:
                    await call()
                except WeChatPayError as exc:
                    errors.append(exc)
    finally:
        finished.set()
        server.close()
        await server.wait_closed()
    assert len(errors) >= 2  # only the unsigned bill download may accept "unsigned 2xx"
    secrets = [found.group(1).decode() for head in received if (found := re.search(rb'signature="([^"]+)"', head))]
    assert len(secrets) == len(received) >= 2
    for error in errors:
        leaks = [text for text in reachable_text(error) if any(secret in text for secret in secrets)]
        assert not leaks, f"{case}: {type(error).__name__} leads to the Authorization: {leaks[0][:300]}"
