"""The reference clients wechatpay-chain is measured against.

* :class:`FloorClient` — the *floor*: hand-written aiohttp that does, per request, exactly one
  ``orjson.dumps`` (POST), one RSA-2048 sign and one RSA verify of the answer, and nothing else (no option
  parsing, no URL building — the URL and signing target are precomputed —, no timestamp window, no
  error mapping). No WeChat Pay client can do less work and still be correct on the wire.
* :class:`BareClient` — the HTTP floor: the same aiohttp requests with no crypto at all.
* ``FloorClient(sign_threads=N)`` — the floor with RSA signing offloaded to an N-thread pool
  (cryptography releases the GIL while signing), to test whether that beats one core.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import orjson
import yarl
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from workload import BODY, MCHID, PATH, QUERY_STRING, KeyFiles

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


class BareClient:
    """aiohttp with no signing and no verification: what the HTTP round trip alone costs."""

    def __init__(self, base_url: str) -> None:
        self.get_url = yarl.URL(base_url.rstrip("/") + PATH + "?" + QUERY_STRING, encoded=True)
        self.post_url = yarl.URL(base_url.rstrip("/") + PATH, encoded=True)
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BareClient:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def get(self) -> bytes:
        assert self.session is not None
        async with self.session.get(self.get_url, headers={"Accept": "application/json"}) as resp:
            return await resp.read()

    async def post(self) -> bytes:
        assert self.session is not None
        data = orjson.dumps(BODY)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        async with self.session.post(self.post_url, data=data, headers=headers) as resp:
            return await resp.read()


class FloorClient:
    """One orjson dump, one sign, one verify per request — the CPU floor of a correct client."""

    def __init__(
        self,
        base_url: str,
        keys: KeyFiles,
        sign_threads: int = 0,
        *,
        limit: int = 100,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        key = load_pem_private_key(keys.merchant_key.read_bytes(), None)
        pub = load_pem_public_key(keys.platform_public.read_bytes())
        assert isinstance(key, rsa.RSAPrivateKey)
        assert isinstance(pub, rsa.RSAPublicKey)
        self.key = key
        self.pub = pub
        self.serial = keys.merchant_serial
        self.get_target = PATH + "?" + QUERY_STRING
        self.get_url = yarl.URL(base_url.rstrip("/") + self.get_target, encoded=True)
        self.post_url = yarl.URL(base_url.rstrip("/") + PATH, encoded=True)
        self.pool = ThreadPoolExecutor(sign_threads, "floor-sign") if sign_threads else None
        self.limit = limit
        self.extra = extra_headers or {}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FloorClient:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.limit))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.pool is not None:
            self.pool.shutdown()

    async def _authorization(self, method: str, target: str, body: bytes) -> str:
        ts = str(int(time.time()))
        nonce = os.urandom(16).hex()
        message = b"%s\n%s\n%s\n%s\n%s\n" % (method.encode(), target.encode(), ts.encode(), nonce.encode(), body)
        if self.pool is None:
            raw = self.key.sign(message, _PKCS1, _SHA256)
        else:
            raw = await asyncio.get_running_loop().run_in_executor(self.pool, self.key.sign, message, _PKCS1, _SHA256)
        signature = base64.b64encode(raw).decode()
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="{nonce}",timestamp="{ts}",'
            f'serial_no="{self.serial}",signature="{signature}"'
        )

    def _verify(self, headers: Any, raw: bytes) -> None:
        message = b"%s\n%s\n%s\n" % (
            headers["Wechatpay-Timestamp"].encode(),
            headers["Wechatpay-Nonce"].encode(),
            raw,
        )
        self.pub.verify(base64.b64decode(headers["Wechatpay-Signature"]), message, _PKCS1, _SHA256)

    async def get(self) -> bytes:
        assert self.session is not None
        authorization = await self._authorization("GET", self.get_target, b"")
        headers = {"Accept": "application/json", "Authorization": authorization}
        if self.extra:
            headers.update(self.extra)
        async with self.session.get(self.get_url, headers=headers) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"floor GET got {resp.status}: {raw[:200]!r}")
            self._verify(resp.headers, raw)
            return raw

    async def post(self) -> bytes:
        assert self.session is not None
        data = orjson.dumps(BODY)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": await self._authorization("POST", PATH, data),
        }
        async with self.session.post(self.post_url, data=data, headers=headers) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"floor POST got {resp.status}: {raw[:200]!r}")
            self._verify(resp.headers, raw)
            return raw
