"""Media uploads: the multipart layout, a signature over the meta JSON only, resends and one-shot streams."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import MCHID, REFERENCE, Keys, serve

from wechatpay_chain import APIError, Client, RetryPolicy, RSASigner, TemplateError, Verifier, WeChatPayMiddleware
from wechatpay_chain.crypto import load_private_key
from wechatpay_chain.media import Media
from wechatpay_chain.testing import RequestCheckError, check_request, sign_response_headers

VECTORS = json.loads((REFERENCE / "vectors.json").read_text())
LOGO = REFERENCE / "keys" / "logo.png"


def split_multipart(content_type: str, body: bytes) -> dict[str, tuple[dict[str, str], bytes]]:
    """A strict parser for the test server: name → (headers, bytes), checking the framing byte by byte."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    for chunk in body[: -len(b"--\r\n")].split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, content = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        name = headers["Content-Disposition"].split('name="', 1)[1].split('"', 1)[0]
        parts[name] = (headers, content)
    return parts


@dataclass
class UploadServer:
    """Re-verifies each upload: signature over the received meta part, meta.sha256 over the file part."""

    keys: Keys
    clock: float | None = None
    fail_first: int = 0
    attempts: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    merchant: Any = None
    server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self.attempts <= self.fail_first:
            return web.Response(status=503, body=b'{"code":"SYSTEM_ERROR","message":"busy"}')
        parts = split_multipart(request.headers["Content-Type"], body)
        assert list(parts) == ["meta", "file"], "meta must come first, then file"
        meta_headers, meta = parts["meta"]
        file_headers, content = parts["file"]
        assert meta_headers["Content-Type"] == "application/json"
        try:
            auth = check_request(
                request.method,
                request.raw_path,
                meta,
                request.headers.get("Authorization"),
                {(MCHID, self.merchant[0]): self.merchant[1]},
                now=self.clock,
            )
        except RequestCheckError as exc:
            return web.Response(status=401, body=orjson.dumps({"code": "SIGN_ERROR", "message": str(exc)}))
        doc = orjson.loads(meta)
        digest = doc.get("sha256") or doc.get("file_digest")
        if hashlib.sha256(content).hexdigest() != digest:
            return web.Response(status=400, body=b'{"code":"PARAM_ERROR","message":"sha256"}')
        self.seen.append({"meta": meta, "auth": auth, "file": content, "file_headers": file_headers,
                          "length": request.content_length, "path": request.path})
        answer = orjson.dumps({"media_id": "MEDIA-" + digest[:8]})
        ts = int(self.clock) if self.clock is not None else None
        headers = sign_response_headers(answer, self.keys.platform.private_key, self.keys.platform.serial, timestamp=ts)
        return web.Response(body=answer, headers=headers, content_type="application/json")

    def client(self, **kwargs: Any) -> Client:
        assert self.server is not None
        options: dict[str, Any] = {
            "base_url": str(self.server.make_url("/")),
            "certs": {self.keys.platform.serial: self.keys.platform.certificate},
        }
        options.update(kwargs)
        return Client(MCHID, self.merchant[0], self.merchant[2], **options)


@pytest.fixture
async def uploads(keys: Keys) -> AsyncIterator[UploadServer]:
    state = UploadServer(keys)
    state.merchant = (keys.merchant.serial, keys.merchant.public_key, keys.merchant.private_key)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", state.handle)
    async with serve(app) as state.server:
        yield state


async def test_media_vector_v_media_d1(uploads: UploadServer) -> None:
    vec = VECTORS["media_upload_derived"]
    key = load_private_key(f"file://{REFERENCE / 'keys' / 'go_test_private_key.pem'}")
    media = Media(LOGO)
    assert media.size == vec["file_len"]
    assert media.sha256 == vec["file_sha256_hex"]
    assert media.meta == vec["meta"].encode()
    uploads.clock = 1624523846.0
    uploads.merchant = ("ABCDEF0123", key.public_key(), key)
    async with uploads.client(clock=lambda: 1624523846.0, nonce_factory=lambda: "A1B2C3D4E5F6G7") as wxpay:
        r = await wxpay.v3.merchant.media.upload.post(body=media)
    assert r.json() == {"media_id": "MEDIA-01c9b115"}
    seen = uploads.seen[0]
    assert seen["auth"]["signature"] == vec["signature_b64"]
    assert seen["meta"] == vec["meta"].encode()
    assert seen["file"] == LOGO.read_bytes()
    assert seen["file_headers"]["Content-Type"] == "image/png"
    assert seen["file_headers"]["Content-Disposition"] == 'form-data; name="file"; filename="logo.png"'


@pytest.mark.parametrize(
    "path",
    [
        "v3/merchant/media/upload",
        "v3/merchant/media/video_upload",
        "v3/marketing/favor/media/image-upload",
        "v3/merchant-service/images/upload",
    ],
)
async def test_upload_endpoints_stream_a_file(uploads: UploadServer, tmp_path: Path, path: str) -> None:
    big = tmp_path / "clip.mp4"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    media = Media(str(big))
    async with uploads.client() as wxpay:
        r = await wxpay.chain(path).post(body=media)
    assert r.verified_serial == uploads.keys.platform.serial
    seen = uploads.seen[0]
    assert seen["path"] == "/" + path
    assert seen["file"] == big.read_bytes()
    assert seen["file_headers"]["Content-Type"] == "video/mp4"
    assert seen["length"] == len(media.head()) + len(big.read_bytes()) + len(media.tail())  # not chunked


async def test_custom_meta_shape_is_what_is_signed(uploads: UploadServer) -> None:
    data = b"%PDF-1.4 fake"
    media = Media(
        data, "proof.pdf", meta=lambda name, digest: {"file_name": name, "file_digest": digest, "bank_type": "LQT"}
    )
    async with uploads.client() as wxpay:
        await wxpay.v3.merchant.media.upload.post(body=media)
    meta = orjson.loads(uploads.seen[0]["meta"])
    assert meta == {"file_name": "proof.pdf", "file_digest": hashlib.sha256(data).hexdigest(), "bank_type": "LQT"}


async def test_resendable_upload_is_retried_with_the_whole_body(uploads: UploadServer) -> None:
    uploads.fail_first = 1
    async with uploads.client(retry=RetryPolicy(attempts=3, backoff=0)) as wxpay:
        await wxpay.v3.merchant.media.upload.post(body=Media(LOGO))
    assert uploads.attempts == 2
    assert uploads.seen[0]["file"] == LOGO.read_bytes()


async def test_one_shot_stream_is_sent_once_and_never_retried(uploads: UploadServer) -> None:
    data = LOGO.read_bytes()

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    async with uploads.client(retry=RetryPolicy(attempts=3, backoff=0)) as wxpay:
        r = await wxpay.v3.merchant.media.upload.post(
            body=Media(gen(), "logo.png", sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        )
        assert r.status == 200
        uploads.fail_first = 2
        with pytest.raises(APIError) as info:
            await wxpay.v3.merchant.media.upload.post(
                body=Media(gen(), "logo.png", sha256=hashlib.sha256(data).hexdigest(), size=len(data))
            )
    assert info.value.status == 503
    assert uploads.attempts == 2  # one success, then exactly one failed attempt


async def test_from_stream_buffers_once_and_hashes() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    media = await Media.from_stream(gen(), "x.png")
    assert media.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert media.resendable
    with pytest.raises(TemplateError, match="max_size"):
        await Media.from_stream(gen(), "x.png", max_size=4)


def test_bad_inputs_fail_before_io(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="sha256"):
        Media(_agen(), "x.png")
    with pytest.raises(TemplateError, match="filename"):
        Media(b"x", 'bad"name.png')
    with pytest.raises(TemplateError, match="filename"):
        Media(b"x")
    with pytest.raises(TemplateError, match="does not match"):
        Media(b"x", "x.png", sha256="00" * 32)
    with pytest.raises(TemplateError, match="media file"):
        Media(str(tmp_path / "missing.png"))
    assert Media(b"x", "a.JPG").content_type == "image/jpeg"
    assert "sha256=" in repr(Media(b"x", "a.png"))


async def _agen() -> AsyncIterator[bytes]:
    yield b""


async def test_standalone_middleware_signs_only_the_meta(uploads: UploadServer) -> None:
    """A hand-built aiohttp.MultipartWriter and a MediaPayload both sign the meta part's bytes."""
    keys = uploads.keys
    assert uploads.server is not None
    mw = WeChatPayMiddleware(
        RSASigner(MCHID, keys.merchant.serial, keys.merchant.private_key),
        Verifier({keys.platform.serial: keys.platform.public_key}),
        hosts={str(uploads.server.make_url("/"))},  # an origin: scheme, host and port
    )
    url = str(uploads.server.make_url("/v3/merchant/media/upload"))
    data = LOGO.read_bytes()
    meta = orjson.dumps({"filename": "logo.png", "sha256": hashlib.sha256(data).hexdigest()})
    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(meta, {"Content-Type": "application/json"})
    part.set_content_disposition("form-data", name="meta")
    part = writer.append(data, {"Content-Type": "image/png"})
    part.set_content_disposition("form-data", name="file", filename="logo.png")
    async with aiohttp.ClientSession(middlewares=(mw,)) as session:
        async with session.post(url, data=writer) as resp:
            assert resp.status == 200, await resp.text()
        async with session.post(url, data=Media(data, "logo.png").payload()) as resp:
            assert resp.status == 200, await resp.text()
        no_meta = aiohttp.MultipartWriter("form-data")
        no_meta.append(b"x").set_content_disposition("form-data", name="file")
        with pytest.raises(TemplateError, match="meta"):
            await session.post(url, data=no_meta)
    assert [s["meta"] for s in uploads.seen] == [meta, meta]
