"""Issue 11 (outside security review): what a hostile server or network peer tried, against loopback servers.

Each test failed on the code the review looked at; the module docstrings of the fixes say why.
"""

from __future__ import annotations

import gzip
import logging
import time
from urllib.parse import unquote

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import FakeWeChat, serve
from wxfixtures import APIV3_KEY, CertRoute

from wechatpay_chain import (
    APIError,
    ConfigError,
    RSASigner,
    TemplateError,
    VerificationError,
    Verifier,
    WeChatPayMiddleware,
)
from wechatpay_chain.middleware import response_rule
from wechatpay_chain.testing import sign_response_headers

LIMIT = 64 * 1024


def gzipped(fake: FakeWeChat, status: int, plain: bytes, *, signed: bool = True) -> web.Response:
    """An answer whose body goes out gzip-compressed; the signature (if any) covers the inflated bytes."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    if signed:
        headers.update(sign_response_headers(plain, fake.keys.platform.private_key, fake.serial))
    return web.Response(status=status, body=gzip.compress(plain, 9), headers=headers)


# -- finding 2: max_response_size counts decoded bytes ---------------------------------------------------


@pytest.mark.parametrize("status", [200, 500, 400])
async def test_gzip_answer_cannot_inflate_past_max_response_size(fake: FakeWeChat, status: int) -> None:
    plain = b'{"code":"X","message":"' + b"A" * (4 * 1024 * 1024) + b'"}'  # 4 MiB inflated, ~4 KiB on the wire
    fake.routes[("GET", "/v3/bomb")] = lambda request, body: gzipped(fake, status, plain)
    async with fake.client(max_response_size=LIMIT, retry=None) as wxpay:
        with pytest.raises(VerificationError) as info:
            await wxpay.v3.bomb.get()
    assert info.value.reason == VerificationError.BAD_BODY
    assert f"{LIMIT}-byte limit" in str(info.value)


async def test_gzip_answer_within_the_limit_is_still_read(fake: FakeWeChat) -> None:
    plain = orjson.dumps({"n": "x" * 1000})
    fake.routes[("GET", "/v3/small")] = lambda request, body: gzipped(fake, 200, plain)
    fake.routes[("GET", "/v3/err")] = lambda request, body: gzipped(fake, 404, b'{"code":"NOT_FOUND","message":"m"}')
    async with fake.client(max_response_size=LIMIT, retry=None) as wxpay:
        assert (await wxpay.v3.small.get()).body == plain
        with pytest.raises(APIError) as info:
            await wxpay.v3.err.get()
    assert info.value.code == "NOT_FOUND"


# -- finding 5: only a GET on a documented download pattern goes unverified ------------------------------

UNSIGNED_FILE = b"\x89PNG not signed"


def unsigned(request: web.Request, body: bytes) -> web.Response:
    return web.Response(body=UNSIGNED_FILE, content_type="image/png")  # no Wechatpay-* headers at all


@pytest.mark.parametrize(
    ("method", "path", "decoded"),
    [
        ("GET", "v3/merchant-service/images/upload/", "/v3/merchant-service/images/upload/"),
        ("GET", "v3/merchant-service/images/%75pload", "/v3/merchant-service/images/upload"),
        ("GET", "v3/merchant-service/images/a/b", "/v3/merchant-service/images/a/b"),
        ("GET", "v3/merchant-service/images/a%2Fupload", "/v3/merchant-service/images/a/upload"),
        ("PATCH", "v3/merchant-service/images/MEDIA1", "/v3/merchant-service/images/MEDIA1"),
        ("POST", "v3/billdownload/file", "/v3/billdownload/file"),
        ("GET", "v3/billdownload/file/", "/v3/billdownload/file/"),
    ],
)
async def test_unsigned_answer_outside_the_documented_downloads_is_refused(
    fake: FakeWeChat, method: str, path: str, decoded: str
) -> None:
    fake.routes[(method, decoded)] = unsigned
    async with fake.client(retry=None) as wxpay:
        with pytest.raises(VerificationError) as info:
            await getattr(wxpay.chain(path), method.lower())()
    assert info.value.reason == VerificationError.MISSING_HEADERS
    assert fake.seen[-1].method == method  # it was sent (and answered): the refusal is the verification


@pytest.mark.parametrize(
    "path", ["v3/merchant-service/images/MEDIA-1_a%3D%3D", "v3/global/merchant-service/images/M2", "v3/billdownload/file"]
)
async def test_documented_unsigned_downloads_still_work(fake: FakeWeChat, path: str) -> None:
    fake.routes[("GET", unquote("/" + path))] = unsigned
    async with fake.client(retry=None) as wxpay:
        response = await wxpay.chain(path).get()
    assert response.body == UNSIGNED_FILE and response.verified_serial is None


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("GET", "/v3/merchant-service/images/%75pload", "verify"),
        ("GET", "/v3/merchant-service/images/upload", "verify"),
        ("GET", "/v3/merchant-service/images/M%31", "unsigned"),
        ("GET", "/v3/billdownload/fil%65", "unsigned"),
        ("PATCH", "/v3/merchant-service/images/M1", "verify"),
        ("GET", "/v3/global/statements", "statement"),
    ],
)
async def test_client_and_standalone_middleware_classify_the_same_path(
    fake: FakeWeChat, method: str, path: str, rule: str
) -> None:
    """The standalone middleware decides from the same (raw, decoded once) path as the Client."""
    assert response_rule(method, path) == rule
    fake.routes[(method, unquote(path))] = unsigned
    keys = fake.keys
    mw = WeChatPayMiddleware(
        RSASigner("1900000109", keys.merchant.serial, keys.merchant.private_key),
        Verifier({keys.platform.serial: keys.platform.public_key}),
        hosts={fake.base_url},
    )
    async with aiohttp.ClientSession(middlewares=(mw,)) as session:
        if rule != "unsigned":  # (a statement without its Wechatpay-Statement-Sha1 is verified as usual)
            with pytest.raises(VerificationError):
                await session.request(method, fake.base_url.rstrip("/") + path)
        else:
            async with session.request(method, fake.base_url.rstrip("/") + path) as resp:
                assert await resp.read() == UNSIGNED_FILE


# -- finding 8: origins are scheme + host + port; no userinfo; no http for WeChat Pay's hosts ---------------


class Recorder:
    """A second loopback server on another port that records what it was sent (it should be nothing)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return web.Response(text="{}", content_type="application/json")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def test_client_refuses_an_allowed_host_on_another_port(fake: FakeWeChat) -> None:
    other = Recorder()
    async with serve(other.app()) as server, fake.client(retry=None) as wxpay:
        elsewhere = str(server.make_url("/v3/pay/transactions/id/1"))
        assert elsewhere.startswith("http://127.0.0.1:") and not elsewhere.startswith(fake.base_url)
        with pytest.raises(TemplateError, match="scheme, host and port"):
            await wxpay.chain(elsewhere).get()
        with pytest.raises(TemplateError, match="scheme, host and port"):
            await wxpay.download(elsewhere, hash_value="0" * 40)
        with pytest.raises(TemplateError, match="scheme, host and port"):
            await wxpay.chain("https" + fake.base_url[4:] + "v3/x").get()  # same host and port, other scheme
    assert other.seen == []


async def test_standalone_middleware_does_not_sign_a_redirect_to_another_origin(fake: FakeWeChat) -> None:
    other = Recorder()
    async with serve(other.app()) as server:
        target = str(server.make_url("/v3/landing"))
        fake.routes[("GET", "/v3/moved")] = lambda request, body: web.Response(status=307, headers={"Location": target})
        same = fake.base_url + "v3/here"
        fake.routes[("GET", "/v3/moved-here")] = lambda request, body: web.Response(status=307, headers={"Location": same})
        keys = fake.keys
        mw = WeChatPayMiddleware(
            RSASigner("1900000109", keys.merchant.serial, keys.merchant.private_key),
            Verifier({keys.platform.serial: keys.platform.public_key}),
            # Both origins are trusted, and the bare host name too (as the middleware took it before issue 11).
            hosts={"127.0.0.1", fake.base_url, str(server.make_url("/"))},
        )
        async with aiohttp.ClientSession(middlewares=(mw,)) as session:
            with pytest.raises(TemplateError, match="redirect"):
                await session.get(fake.base_url + "v3/moved")
            async with session.get(fake.base_url + "v3/moved", allow_redirects=False) as resp:
                assert resp.status == 307  # seen, not followed; what comes next is another request
            with pytest.raises(VerificationError):  # signed (the recorder's answer is not)
                await session.get(str(server.make_url("/v3/other-path")))
            async with session.get(fake.base_url + "v3/moved-here") as resp:  # same origin: followed and signed
                assert resp.status == 200 and (await resp.json())["path"] == "/v3/here"
            with pytest.raises(VerificationError):  # asked for directly, it is signed (its answer is not)
                await session.get(target)
    assert [path for path, _ in other.seen] == ["/v3/other-path", "/v3/landing"]
    assert all(auth is not None for _, auth in other.seen)
    assert [s.target for s in fake.seen] == ["/v3/moved", "/v3/moved", "/v3/moved-here", "/v3/here"]


@pytest.mark.parametrize("option", ["base_url", "backup_base_url", "base_uri"])
async def test_userinfo_in_a_base_url_is_refused(fake: FakeWeChat, option: str) -> None:
    tricky = "http://api.mch.weixin.qq.com@" + fake.base_url.split("://", 1)[1]  # the host is 127.0.0.1
    if option == "base_uri":
        async with fake.client(retry=None) as wxpay:
            with pytest.raises(TemplateError, match="user information"):
                await wxpay.v3.x.get(base_uri=tricky)
            with pytest.raises(TemplateError, match="user information"):
                await wxpay.chain(tricky + "v3/x").get()
    else:
        with pytest.raises(ConfigError, match="user information"):
            fake.client(**{option: tricky})
    assert fake.seen == []


@pytest.mark.parametrize("host", ["api.mch.weixin.qq.com", "API2.mch.weixin.qq.com", "api.wechatpay.cn"])
async def test_http_downgrade_for_wechat_pay_hosts_is_refused(fake: FakeWeChat, host: str) -> None:
    with pytest.raises(ConfigError, match="https only"):
        fake.client(base_url=f"http://{host}/")
    async with fake.client(retry=None) as wxpay:
        with pytest.raises(TemplateError, match="https only"):
            await wxpay.v3.x.get(base_uri=f"http://{host}/")
        with pytest.raises(TemplateError, match="scheme, host and port"):  # a download_url downgraded to http
            await wxpay.download(f"http://{host.lower()}/v3/billdownload/file?token=t", hash_value="0" * 40)


# -- finding 11: unverified error text cannot forge log lines ----------------------------------------------


async def test_unverified_error_text_is_logged_on_one_line(fake: FakeWeChat, caplog: pytest.LogCaptureFixture) -> None:
    keys = fake.keys
    forged = "ok\n2026-11-28 WARNING wechatpay_chain: all good\r\x1b[2K" + "x" * 5000
    route = CertRoute([keys.platform], keys.platform)
    fake.routes[("GET", "/v3/certificates")] = route
    async with fake.client(apiv3_key=APIV3_KEY, certs=None, retry=None) as wxpay:
        assert (await wxpay.v3.x.get()).verified_serial == keys.platform.serial
        body = orjson.dumps({"code": "SYSTEM_ERROR", "message": forged})
        fake.routes[("GET", "/v3/certificates")] = lambda request, _: web.Response(status=500, body=body)
        fake.tamper = lambda headers, body: (  # answers now signed by a serial the client does not know yet
            sign_response_headers(body, keys.merchant.private_key, keys.merchant.serial),
            body,
        )
        with caplog.at_level(logging.WARNING, logger="wechatpay_chain"), pytest.raises(VerificationError):
            await wxpay.v3.x.get()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "refresh for unknown serial failed" in warnings[0], warnings
    assert warnings[0].isprintable() and len(warnings[0]) < 600
    assert "all good\\r\\x1b" in warnings[0]  # still readable, escaped


# -- what held (docs/reliability.md "Threat model"): claims the review confirmed, kept true here ---------------


async def test_client_never_follows_a_redirect(fake: FakeWeChat) -> None:
    """Not even to an allowed origin: a 3xx is an APIError, and the Location is never contacted."""
    other = Recorder()
    async with serve(other.app()) as server:
        target = str(server.make_url("/v3/elsewhere"))
        for path in ("/v3/moved", "/v3/billdownload/file"):
            fake.routes[("GET", path)] = lambda request, body: web.Response(status=307, headers={"Location": target})
        async with fake.client(retry=None, base_url=fake.base_url, backup_base_url=str(server.make_url("/"))) as wxpay:
            with pytest.raises(APIError) as info:
                await wxpay.v3.moved.get()
            assert info.value.status == 307
            with pytest.raises(APIError):
                await wxpay.download(fake.base_url + "v3/billdownload/file?token=t", hash_value="0" * 40)
    assert other.seen == []


async def test_notification_sender_with_random_serials_costs_at_most_one_download(
    fake: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    """Forged notifications naming serials nobody lists are refused; together they trigger one refresh."""
    from wxfixtures import notification

    from wechatpay_chain.notify import respond

    keys = fake.keys
    route = CertRoute([keys.platform], keys.platform)
    fake.routes[("GET", "/v3/certificates")] = route
    seen: list[object] = []
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        genuine_headers, genuine = notification(keys.platform, {"n": 1})
        assert (await respond(client, genuine_headers, genuine, seen.append))[0] == 204
        downloads = route.downloads
        with caplog.at_level(logging.WARNING, logger="wechatpay_chain"):
            for i in range(20):
                headers, body = notification(keys.merchant, {"n": 2}, serial=f"{i:040X}")
                headers["Request-ID"] = f"forged-{i}\x1b[2K"
                assert (await respond(client, headers, body, seen.append))[0] == 401
        assert route.downloads <= downloads + 1
        # a genuine notification replayed after the 300 s window is refused as well
        old_headers, old = notification(keys.platform, {"n": 1}, timestamp=int(time.time()) - 400)
        assert (await respond(client, old_headers, old, seen.append))[0] == 401
    assert len(seen) == 1
    assert all(r.getMessage().isprintable() for r in caplog.records)


def test_the_threat_model_names_only_tests_that_exist() -> None:
    """docs/reliability.md points each claim at tests; a renamed or deleted test must not leave it dangling."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent
    text = (root.parent / "docs" / "reliability.md").read_text()
    section = text[text.index("### Threat model") : text.index("### In CI")]
    current = ""
    named: list[tuple[str, str]] = []
    for file, name in re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?", section):
        current = file or current
        if name:
            named.append((current, name))
        elif file:
            assert (root / file).is_file(), file
    assert len(named) > 30
    missing = [f"{f}::{n}" for f, n in named if not re.search(rf"^(async )?def {n}\(", (root / f).read_text(), re.M)]
    assert missing == []
