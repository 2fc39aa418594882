"""Porting wechatpay-php mechanically: the whole Builder::factory configuration, Guzzle options, promises."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import MCHID, FakeWeChat, Keys, serve
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from wechatpay_chain import (
    APIError,
    Builder,
    Client,
    ConfigError,
    EventLoopError,
    SyncClient,
    TemplateError,
    VerificationError,
)
from wechatpay_chain._response import Response
from wechatpay_chain._template import parse
from wechatpay_chain.php import Rsa
from wechatpay_chain.v2 import MerchantCertificate

V2KEY = "exposed0your0key0here0have0risks"


def _files(keys: Keys, tmp_path: Path) -> tuple[str, str]:
    cert = tmp_path / "apiclient_cert.pem"
    key = tmp_path / "apiclient_key.pem"
    cert.write_bytes(keys.merchant.certificate_pem())
    key.write_bytes(keys.merchant.private_pem())
    return str(cert), str(key)


# -- Builder.factory with the whole PHP configuration ------------------------------------------------------------
def test_factory_takes_readme_apiv2_config_with_placeholders_and_merchant(keys: Keys, tmp_path: Path) -> None:
    """README_APIv2 "V2初始化" as written: dummy APIv3 settings, `secret`, `merchant => [cert, key]`."""
    cert, key = _files(keys, tmp_path)
    wxpay = Builder.factory(
        {
            "mchid": MCHID,
            "serial": "nop",
            "privateKey": "any",
            "certs": {"any": None},
            "secret": V2KEY,
            "merchant": {"cert": cert, "key": key},
        }
    )
    assert isinstance(wxpay, Client) and wxpay.apiv2_key == V2KEY and wxpay.serial is None
    assert isinstance(wxpay._merchant_tls, MerchantCertificate)
    assert V2KEY not in repr(wxpay)


def test_factory_merchant_forms(keys: Keys, tmp_path: Path) -> None:
    cert, key = _files(keys, tmp_path)
    encrypted = tmp_path / "encrypted_key.pem"
    encrypted.write_bytes(
        keys.merchant.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        )
    )
    p12 = tmp_path / "apiclient_cert.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"m", keys.merchant.private_key, keys.merchant.certificate, None,
            serialization.BestAvailableEncryption(MCHID.encode()),
        )
    )
    base = {"mchid": MCHID, "secret": V2KEY}
    for merchant in (
        {"cert": f"file://{cert}", "key": f"file://{key}"},
        {"cert": cert, "key": [str(encrypted), "pw"]},
        {"cert": [str(p12), MCHID]},
        {"pfx": str(p12), "passphrase": MCHID},
    ):
        assert isinstance(Builder.factory({**base, "merchant": merchant})._merchant_tls, MerchantCertificate)
    bad: list[tuple[Any, str]] = [
        ({"cert": cert}, "merchant['key']"),
        ({"key": key}, "merchant['cert']"),
        ({"cert": cert, "key": key, "ca": "x"}, "merchant['ca']"),
        ({"cert": [cert, "a", "b"], "key": key}, "merchant['cert']"),
        ("apiclient_cert.pem", "merchant"),
    ]
    for merchant, field in bad:
        with pytest.raises(ConfigError) as info:
            Builder.factory({**base, "merchant": merchant})
        assert info.value.field == field
    with pytest.raises(ConfigError, match="passphrase"):
        Builder.factory({**base, "merchant": {"cert": cert, "key": str(encrypted)}})


def test_factory_apiv3_key_forms_and_placeholder_rules(keys: Keys, fake: FakeWeChat, tmp_path: Path) -> None:
    _, key = _files(keys, tmp_path)
    encrypted = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    platform = fake.certs()
    for private_key in (f"file://{key}", [encrypted, "pw"], Rsa.from_(f"file://{key}")):
        certs = {s: Rsa.from_(v, Rsa.KEY_TYPE_PUBLIC) for s, v in platform.items()}
        wxpay = Builder.factory(
            {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": private_key, "certs": certs, "secret": V2KEY}
        )
        assert wxpay.serial == keys.merchant.serial and wxpay.apiv2_key == V2KEY
    with pytest.raises(ConfigError, match="null placeholders") as info:
        Builder.factory({"mchid": MCHID, "serial": "nop", "privateKey": "any", "certs": {"any": None}})
    assert info.value.field == "certs"
    with pytest.raises(ConfigError) as info:
        Builder.factory(
            {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": f"file://{key}", "secret": V2KEY,
             "certs": {"any": None, **platform}}
        )
    assert info.value.field == "certs['any']"


async def test_factory_guzzle_client_options(fake: FakeWeChat, keys: Keys) -> None:
    base = {
        "mchid": MCHID,
        "serial": keys.merchant.serial,
        "privateKey": keys.merchant.private_pem().decode(),
        "certs": fake.certs(),
        "base_uri": fake.base_url,
    }
    wxpay = Builder.factory(
        {**base, "verify": True, "allow_redirects": False, "http_errors": True, "timeout": 5,
         "headers": {"user-agent": "ported/1.0", "X-Extra": "1"}}
    )
    async with wxpay:
        r = await wxpay.v3.x.get()
    assert r.json()["path"] == "/v3/x"
    assert fake.seen[-1].headers["User-Agent"] == "ported/1.0" and fake.seen[-1].headers["X-Extra"] == "1"
    refused = {
        "verify": (False, "cannot be turned off"),
        "allow_redirects": (True, "never follows"),
        "http_errors": ("no", "True or False"),
        "debug": (1, "text stream"),
        "connect_timeout": (0, "positive"),
        "handler": (object(), "hooks="),
        "proxy": ("http://127.0.0.1:3128", r"session=aiohttp\.ClientSession\(proxy="),
        "headers": ({"Authorization": "x"}, "Authorization"),
        "cookies": (True, "not a recognised configuration key"),
    }
    for name, (value, message) in refused.items():
        with pytest.raises(ConfigError, match=message) as info:
            Builder.factory({**base, name: value})
        assert info.value.field == name
    with pytest.raises(ConfigError, match="CA bundle") as info:
        Builder.factory({**base, "verify": "/nonexistent/ca.pem"})
    assert info.value.field == "verify"
    sync = Builder.factory({**base, "headers": {"X-Extra": "2"}}, sync=True)
    try:
        assert isinstance(sync, SyncClient) and sync.client._base_headers["X-Extra"] == "2"
    finally:
        sync.close()


async def test_guzzle_request_options_refused_with_the_python_way(fake: FakeWeChat) -> None:
    wxpay = fake.client()
    node = wxpay.v3.pay.transactions.native
    for name, value, message in (
        ("debug", 1, "True, False or a text stream"),
        ("handler", object(), "hooks="),
        ("proxy", "http://p", "session=aiohttp.ClientSession"),
        ("allow_redirects", True, "never follows"),
        ("allow_redirects", {"max": 5}, "never follows"),
        ("verify", False, "cannot be turned off"),
        ("http_errors", "no", "True or False"),
    ):
        with pytest.raises(TemplateError, match=message):
            await node.post({"json": {}, name: value})
    assert not fake.seen


# -- Guzzle request options that keep their meaning ---------------------------------------------------------------
async def test_sink_writes_the_answer_to_a_file(fake: FakeWeChat, tmp_path: Path) -> None:
    bill = "交易时间,商户号\n`2024-01-01,`1900000109\n".encode() * 2000

    async def file(request: web.Request, body: bytes) -> web.Response:
        return web.Response(body=bill, content_type="text/plain")  # downloads are unsigned

    fake.routes[("GET", "/v3/billdownload/file")] = file
    target = tmp_path / "bill.csv"
    async with fake.client() as wxpay:
        r = await wxpay.v3.billdownload.file.get({"query": {"token": "t"}, "sink": str(target)})
        assert r.status == 200 and r.body == b"" and target.read_bytes() == bill
        buffer = io.BytesIO()
        r = await wxpay.v3.pay.transactions.id._transaction_id_.get(transaction_id="42", sink=buffer)
        assert json.loads(buffer.getvalue())["path"] == "/v3/pay/transactions/id/42" and r.verified_serial
        # A signed answer that fails verification is never written.
        fake.tamper = lambda headers, body: (headers, body + b" ")
        bad = tmp_path / "bad.json"
        with pytest.raises(VerificationError):
            await wxpay.v3.pay.transactions.id._transaction_id_.get(transaction_id="42", sink=bad)
        assert not bad.exists() and not (tmp_path / "bad.json.part").exists()
        with pytest.raises(TemplateError, match="sink must be"):
            await wxpay.v3.x.get(sink=42)


async def test_sync_client_sink(fake: FakeWeChat, tmp_path: Path, keys: Keys) -> None:
    target = tmp_path / "answer.json"

    def script() -> Response:  # blocking code, in a thread so that the fake server's loop keeps running
        with SyncClient(MCHID, keys.merchant.serial, keys.merchant.private_key, fake.certs(), base_url=fake.base_url) as w:
            return w.v3.marketing.favor.stocks.post({"json": {"a": 1}, "sink": target})

    r = await asyncio.to_thread(script)
    assert r.body == b"" and json.loads(target.read_bytes())["json"] == {"a": 1}


async def test_http_errors_false_returns_the_error_answer(fake: FakeWeChat) -> None:
    async def missing(request: web.Request, body: bytes) -> web.Response:
        return web.json_response({"code": "ORDER_NOT_EXIST", "message": "no"}, status=404)

    fake.routes[("GET", "/v3/pay/transactions/id/1")] = missing
    async with fake.client() as wxpay:
        node = wxpay.v3.pay.transactions.id._transaction_id_
        r = await node.get(transaction_id="1", http_errors=False)
        assert r.status == 404 and r.json()["code"] == "ORDER_NOT_EXIST" and r.verified_serial is None
        with pytest.raises(APIError) as info:
            await node.get(transaction_id="1", http_errors=True)
        assert info.value.status == 404


async def test_verify_takes_a_ca_bundle_per_call(fake: FakeWeChat, keys: Keys, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(keys.platform.certificate_pem())
    wxpay = fake.client()
    template = parse("v3/x")
    assert wxpay._prepare("GET", template, ({"verify": str(ca)},), {}).ssl is not None
    assert wxpay._prepare("GET", template, ({"verify": True, "allow_redirects": False},), {}).ssl is None
    with pytest.raises(TemplateError, match="CA bundle"):
        wxpay._prepare("GET", template, ({"verify": str(tmp_path / "missing.pem")},), {})


async def test_apiv2_sink_writes_the_bill(tmp_path: Path) -> None:
    csv = "交易时间,公众账号ID\n`2024-01-01 00:00:00,`wx1\n".encode()

    async def downloadbill(request: web.Request) -> web.Response:
        return web.Response(body=csv, content_type="text/plain")

    app = web.Application()
    app.router.add_post("/pay/downloadbill", downloadbill)
    async with serve(app) as server, Client(MCHID, apiv2_key=V2KEY, base_url=str(server.make_url("/"))) as wxpay:
        target = tmp_path / "bill.csv"
        r = await wxpay.v2.pay.downloadbill.post(xml={"bill_date": "20240101", "bill_type": "ALL"}, sink=target)
    assert r.status == 200 and target.read_bytes() == csv


# -- promise-style async (postAsync(...)->then(...)->otherwise(...)->wait()) -------------------------------------------
ORDER = {"appid": "wxd678efh567hg6787", "mchid": MCHID, "description": "Image形象店", "out_trade_no": "1217752501",
         "amount": {"total": 100, "currency": "CNY"}, "notify_url": "https://www.weixin.qq.com/wxpay/pay.php"}


async def test_promise_verbs_are_awaitable_and_chain_like_guzzle(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        r = await wxpay.v3.pay.transactions.native.postAsync({"json": ORDER})
        assert r.json()["json"] == ORDER and fake.seen[-1].method == "POST"
        echoed = await (
            wxpay.chain("v3/pay/transactions/id/{transaction_id}")
            .getAsync({"transaction_id": "42", "query": {"mchid": MCHID}})
            .then(lambda response: response.json())
            .then(lambda data: data["path"])
        )
        assert echoed == "/v3/pay/transactions/id/42"
        # A rejection skips on_fulfilled and reaches otherwise(); a returned promise is awaited (a chained request).
        fake.routes[("DELETE", "/v3/x")] = lambda request, body: web.json_response({"code": "NOT_FOUND"}, status=404)
        seen: list[Any] = []
        result = await (
            wxpay["v3/x"].deleteAsync()
            .then(lambda response: seen.append("fulfilled"))
            .otherwise(lambda exc: wxpay.v3.y.putAsync(json={"after": type(exc).__name__}))
            .then(lambda response: response.json()["json"])
        )
        assert result == {"after": "APIError"} and seen == []
        with pytest.raises(ZeroDivisionError):
            await wxpay.v3.z.patchAsync(json={}).then(lambda response: 1 / 0)
        recovered = await wxpay.v3.z.patchAsync(json={}).then(lambda response: 1 / 0).otherwise(lambda exc: "ok")
        assert recovered == "ok"  # an error in on_fulfilled rejects the next promise (not its sibling on_rejected)
        async def later(response: Any) -> int:
            return int(response.status)

        assert await wxpay.v3.z.getAsync().then(later) == 200
        # Bad input is a rejected promise before any I/O, as in Guzzle.
        before = len(fake.seen)
        refused = wxpay.v3.pay.transactions.native.postAsync({"jsno": ORDER})
        assert await refused.otherwise(lambda exc: type(exc).__name__) == "TemplateError"
        assert len(fake.seen) == before
        pending = wxpay.v3.z.getAsync()
        with pytest.raises(EventLoopError, match="await"):
            pending.wait()
        assert (await pending).status == 200  # still pending after the refused wait()


def test_promise_attribute_paths_are_unchanged(fake: FakeWeChat) -> None:
    wxpay = fake.client()
    assert str(wxpay.v3.postAsync.x) == "v3/post-async/x"  # still a segment when not called
    assert str(wxpay.v3.a.deleteAsync) == "v3/a/delete-async"
    assert repr(wxpay.v3.getAsync("bad")) == "<Promise pending>"  # type: ignore[arg-type]


async def test_wait_blocks_where_no_loop_runs(fake: FakeWeChat, keys: Keys) -> None:
    def script() -> list[Any]:  # a PHP-style script: no event loop in this thread
        wxpay = Client(MCHID, keys.merchant.serial, keys.merchant.private_key, fake.certs(), base_url=fake.base_url)
        first = (
            wxpay.v3.pay.transactions.native.postAsync({"json": ORDER})
            .then(lambda response: response.json()["json"]["out_trade_no"])
            .otherwise(lambda exc: None)
            .wait()
        )
        second = wxpay.v3.pay.transactions.native.postAsync({"json": ORDER}).wait().status  # the client is reusable
        rejected = wxpay.v3.pay.transactions.native.postAsync({"jsno": ORDER})
        assert rejected.wait(unwrap=False) is None
        try:
            rejected.wait()
        except TemplateError as exc:
            return [first, second, type(exc).__name__]
        return []

    assert await asyncio.to_thread(script) == ["1217752501", 200, "TemplateError"]


async def test_sync_client_promises(fake: FakeWeChat, keys: Keys) -> None:
    fake.routes[("GET", "/v3/missing")] = lambda request, body: web.json_response({"code": "NOT_FOUND"}, status=404)

    def script() -> list[Any]:
        with Builder.factory(
            {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": keys.merchant.private_pem().decode(),
             "certs": fake.certs(), "base_uri": fake.base_url},
            sync=True,
        ) as wxpay:
            promise = wxpay.v3.pay.transactions.native.postAsync({"json": ORDER})
            pending = [wxpay.v3.n.postAsync(json={"i": i}) for i in range(3)]  # sent at once, concurrently
            out = promise.then(lambda response: response.json()["json"]["mchid"]).wait()
            code = wxpay.v3.missing.getAsync().otherwise(lambda exc: getattr(exc, "code", None)).wait()
            chained = wxpay.v3.a.getAsync().then(lambda response: wxpay.v3.b.getAsync()).wait().json()["path"]
            return [out, code, chained, [p.wait().json()["json"]["i"] for p in pending]]

    assert await asyncio.to_thread(script) == [MCHID, "NOT_FOUND", "/v3/b", [0, 1, 2]]


async def test_debug_prints_each_attempt_without_secrets(
    fake: FakeWeChat, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's first example: ``->chain('v3/certificates')->get(['debug' => true])``."""
    async with fake.client() as wxpay:
        await wxpay.chain("v3/certificates").get({"debug": True})
        stream = io.StringIO()
        await wxpay.v3.pay.transactions.native.post({"json": ORDER, "debug": stream})
        await wxpay.v3.x.get(debug=False)
    err = capsys.readouterr().err
    assert err.startswith("* wechatpay-chain: GET http://") and "/v3/certificates attempt=1 status=200" in err
    line = stream.getvalue()
    assert "POST" in line and "/v3/pay/transactions/native" in line and "Request-ID=req-" in line
    for secret in (fake.seen[-2].headers["Authorization"], keys.merchant.private_pem().decode()[30:90]):
        assert secret not in err + line
    assert len(err.splitlines()) == 1


async def test_factory_guzzle_options_are_every_calls_defaults(
    fake: FakeWeChat, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(keys.platform.certificate_pem())
    fake.routes[("GET", "/v3/missing")] = lambda request, body: web.json_response({"code": "NOT_FOUND"}, status=404)
    config = {
        "mchid": MCHID, "serial": keys.merchant.serial, "privateKey": keys.merchant.private_pem().decode(),
        "certs": fake.certs(), "base_uri": fake.base_url, "http_errors": False, "debug": True,
    }
    wxpay = Builder.factory({**config, "verify": str(ca), "timeout": 7, "connect_timeout": 2})
    assert wxpay.timeout.total == 7 and wxpay.timeout.sock_connect == 2
    assert wxpay._prepare("GET", parse("v3/x"), (), {}).ssl is not None  # the CA bundle, for every call
    async with Builder.factory(config) as client:
        r = await client.v3.missing.get()
        assert r.status == 404  # returned, not raised
        with pytest.raises(APIError):
            await client.v3.missing.get(http_errors=True)  # the call's own option wins
    assert capsys.readouterr().err.count("* wechatpay-chain: GET") == 2
