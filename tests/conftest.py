"""Shared fixtures: fresh keys per session and a fake WeChat Pay server that checks signatures for real."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from wechatpay_chain import Client
from wechatpay_chain.sandbox import Sandbox
from wechatpay_chain.testing import KeyPair, RequestCheckError, check_request, generate_key_pair, sign_response_headers

#: Known-answer vectors and keys from the official SDKs, kept inside the repository (see vectors/README.md).
REFERENCE = Path(__file__).resolve().parent / "vectors"
MCHID = "1900000109"
PUB_KEY_ID = "PUB_KEY_ID_0119000001092025111200181700000000"


@dataclass
class Keys:
    merchant: KeyPair
    platform: KeyPair
    platform2: KeyPair


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(generate_key_pair("merchant"), generate_key_pair("platform"), generate_key_pair("platform-2"))


@dataclass
class Seen:
    method: str
    target: str
    body: bytes
    headers: dict[str, str]
    auth: dict[str, str]


Reply = Callable[[web.Request, bytes], Awaitable[web.StreamResponse] | web.StreamResponse]


@dataclass
class FakeWeChat:
    """Records every request, checks its signature from the received bytes, signs its answers."""

    keys: Keys
    mode: str = "cert"  # "cert" | "pubkey"
    seen: list[Seen] = field(default_factory=list)
    routes: dict[tuple[str, str], Reply] = field(default_factory=dict)
    tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]] | None = None
    server: TestServer | None = None
    clock: Callable[[], float] = time.time
    merchants: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    @property
    def serial(self) -> str:
        return PUB_KEY_ID if self.mode == "pubkey" else self.keys.platform.serial

    def certs(self) -> dict[str, Any]:
        if self.mode == "pubkey":
            return {PUB_KEY_ID: self.keys.platform.public_key}
        return {self.keys.platform.serial: self.keys.platform.certificate}

    def client(self, **kwargs: Any) -> Client:
        options: dict[str, Any] = {"base_url": self.base_url, "certs": self.certs(), "clock": self.clock}
        options.update(kwargs)
        return Client(MCHID, self.keys.merchant.serial, self.keys.merchant.private_key, **options)

    def signed(self, status: int, body: bytes, content_type: str = "application/json") -> web.Response:
        headers = sign_response_headers(
            body, self.keys.platform.private_key, self.serial, timestamp=int(self.clock())
        )
        headers["Request-ID"] = f"req-{len(self.seen)}"
        if self.tamper is not None:
            headers, body = self.tamper(headers, body)
        return web.Response(status=status, body=body, headers=headers, content_type=content_type if body else None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            auth = check_request(
                request.method,
                request.raw_path,
                body,
                request.headers.get("Authorization"),
                self.merchants or {(MCHID, self.keys.merchant.serial): self.keys.merchant.public_key},
                now=self.clock(),
            )
        except RequestCheckError as exc:
            payload = orjson.dumps({"code": "SIGN_ERROR", "message": str(exc)})
            return web.Response(status=401, body=payload, content_type="application/json")
        self.seen.append(Seen(request.method, request.raw_path, body, dict(request.headers), auth))
        reply = self.routes.get((request.method, request.path))
        if reply is not None:
            result = reply(request, body)
            return await result if isinstance(result, Awaitable) else result
        echo = {"method": request.method, "path": request.path, "query": request.query_string}
        if body:
            echo["json"] = orjson.loads(body)
        return self.signed(200, orjson.dumps(echo))


@asynccontextmanager
async def serve(app: web.Application, **start: Any) -> AsyncIterator[TestServer]:
    """A real loopback server for ``app`` (``start`` goes to ``start_server``, e.g. ``ssl=``), closed afterwards."""
    server = TestServer(app, scheme="https" if start.get("ssl") else "http")
    await server.start_server(**start)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def fake(keys: Keys) -> AsyncIterator[FakeWeChat]:
    state = FakeWeChat(keys)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    async with serve(app) as state.server:
        yield state


@pytest.fixture
def fake_thread(keys: Keys) -> Iterator[FakeWeChat]:
    """A FakeWeChat served from a thread of its own, so blocking clients can call it from any thread."""
    loop = asyncio.new_event_loop()
    state = FakeWeChat(keys)
    ready = threading.Event()

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", state.handle)
        state.server = TestServer(app)
        await state.server.start_server()

    def run() -> None:
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield state
    assert state.server is not None
    asyncio.run_coroutine_threadsafe(state.server.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def keyed_sandbox(keys: Keys, **options: Any) -> Sandbox:
    """A sandbox holding this session's merchant, platform and public keys (fresh keys cost ~100 ms each)."""
    return Sandbox(merchant=keys.merchant, platform=keys.platform, public_key=keys.platform2, **options)


@pytest.fixture
async def sb(keys: Keys) -> AsyncIterator[Sandbox]:
    """A running sandbox; modules that need a frozen protocol clock or extra routes override it."""
    async with keyed_sandbox(keys) as box:
        yield box


@pytest.fixture
async def wxpay(sb: Sandbox) -> AsyncIterator[Client]:
    """``sb.client()`` without retries, so a test sees every answer as sent."""
    async with sb.client(retry=None) as client:
        yield client
