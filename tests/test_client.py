"""End to end against a loopback server that re-verifies every signature from the bytes it received."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import MCHID, PUB_KEY_ID, REFERENCE, FakeWeChat, Keys
from cryptography.hazmat.primitives import serialization
from multidict import CIMultiDict

from wechatpay_chain import (
    APIError,
    Builder,
    Client,
    ConfigError,
    OutcomeUnknown,
    RequestEvent,
    RequestTimeout,
    Response,
    RetryPolicy,
    SyncClient,
    TemplateError,
    TransportError,
    VerificationError,
    crypto,
)

KEYS = REFERENCE / "keys"
VECTORS: dict[str, Any] = json.loads((REFERENCE / "vectors.json").read_text())
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005)


async def test_derived_vectors_on_the_wire(fake: FakeWeChat) -> None:
    """The DERIVED Authorization vectors must come out of the full client pipeline byte for byte."""
    go_key = crypto.load_private_key(f"file://{KEYS / 'go_test_private_key.pem'}")
    fake.merchants = {("1234567890", "F5765756002FDD77"): go_key.public_key()}
    fake.clock = lambda: 1624523846
    client = Client(
        "1234567890", "F5765756002FDD77", go_key, fake.certs(),
        base_url=fake.base_url, clock=fake.clock, nonce_factory=lambda: "A1B2C3D4E5F6G7",
    )
    async with client as wxpay:
        await wxpay.v3.certificates.get()
        assert fake.seen[-1].headers["Authorization"] == VECTORS["auth_header_derived_get"]["header"]
        body = VECTORS["auth_sig_derived_post"]["message"].split("\n")[4]
        await wxpay.v3.pay.transactions.native.post(json=json.loads(body))
        assert fake.seen[-1].body == body.encode()
        assert fake.seen[-1].auth["signature"] == VECTORS["auth_sig_derived_post"]["signature_b64"]
        await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
            out_trade_no="ORDER_1", query={"mchid": "1900000001"}
        )
        assert fake.seen[-1].target == "/v3/pay/transactions/out-trade-no/ORDER_1?mchid=1900000001"
        assert fake.seen[-1].auth["signature"] == VECTORS["auth_sig_derived_query"]["signature_b64"]


async def test_three_styles_put_the_same_request_on_the_wire(fake: FakeWeChat) -> None:
    payload = {"brand_id": "120344", "out_request_no": "34657_20250101_123456", "stock": {"remark": "疯狂星期四"}}
    path = "v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}/stocks"
    async with fake.client() as wxpay:
        await wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.post(
            {"product_coupon_id": "1000000013", "json": payload}
        )
        await wxpay.chain(path).post(product_coupon_id="1000000013", json=payload)
        await wxpay[path].post({"product_coupon_id": "1000000013"}, json=payload)
    targets = {(s.method, s.target, s.body) for s in fake.seen}
    assert targets == {
        ("POST", "/v3/marketing/partner/product-coupon/product-coupons/1000000013/stocks", orjson.dumps(payload))
    }
    assert len(fake.seen) == 3
    seen = fake.seen[0].headers
    assert seen["Content-Type"] == "application/json"
    assert seen["Accept"] == "application/json"
    assert seen["User-Agent"].startswith("wechatpay-chain/") and "aiohttp/" in seen["User-Agent"]
    assert seen["Authorization"].startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="')
    assert len(fake.seen[0].auth["nonce_str"]) == 32
    assert len({s.auth["nonce_str"] for s in fake.seen}) == 3


async def test_hostile_placeholders_and_queries_are_encoded_and_signed(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        r = await wxpay.v3.x._id_.get(id="../../v3/refund?x=1#y", query={"q": "中 文/+&=", "flag": False})
        assert r.status == 200
    assert fake.seen[-1].target == "/v3/x/..%2F..%2Fv3%2Frefund%3Fx%3D1%23y?q=%E4%B8%AD%20%E6%96%87%2F%2B%26%3D&flag=false"


async def test_capital_ids_survive_through_chain(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        await wxpay.chain("v3/pay/transactions/out-trade-no/N123ABC").get(query={"mchid": MCHID})
        await wxpay.v3.pay.transactions.outTradeNo["N123ABC"].get()
    assert [s.target.split("?")[0] for s in fake.seen] == ["/v3/pay/transactions/out-trade-no/N123ABC"] * 2


async def test_empty_204_is_verified(fake: FakeWeChat) -> None:
    fake.routes[("PATCH", "/v3/x")] = lambda request, body: fake.signed(204, b"")
    async with fake.client() as wxpay:
        r = await wxpay.v3.x.patch(json={"a": 1})
    assert r.status == 204 and r.body == b"" and r.json() is None
    assert r.verified_serial == fake.keys.platform.serial


async def test_public_key_mode_and_mixed_certs(fake: FakeWeChat) -> None:
    fake.mode = "pubkey"
    async with fake.client() as wxpay:
        r = await wxpay.v3.x.get()
    assert r.verified_serial == PUB_KEY_ID
    mixed = {PUB_KEY_ID: fake.keys.platform.public_pem().decode(), fake.keys.platform2.serial: fake.keys.platform2.certificate}
    async with fake.client(certs=mixed) as wxpay:
        assert (await wxpay.v3.x.get()).verified_serial == PUB_KEY_ID


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b + b" "), "bad_signature"),
        (lambda h, b: ({**h, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + h["Wechatpay-Signature"]}, b), "bad_signature"),
        (lambda h, b: ({**h, "Wechatpay-Timestamp": str(int(h["Wechatpay-Timestamp"]) - 600)}, b), "clock_skew"),
        (lambda h, b: ({**h, "Wechatpay-Serial": "ABCDEF"}, b), "unknown_serial"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "Wechatpay-Nonce"}, b), "missing_headers"),
    ],
)
async def test_tampered_responses_fail_closed(fake: FakeWeChat, tamper: Any, reason: str) -> None:
    fake.tamper = tamper
    async with fake.client() as wxpay:
        with pytest.raises(VerificationError) as info:
            await wxpay.v3.x.get()
    assert info.value.reason == reason


async def test_api_errors_carry_code_detail_and_request_id(fake: FakeWeChat) -> None:
    body = orjson.dumps({"code": "NOT_FOUND", "message": "商品券不存在", "detail": {"field": "/id"}})
    fake.routes[("GET", "/v3/x")] = lambda request, b: web.Response(
        status=404, body=body, headers={"Request-ID": "abc-123"}, content_type="application/json"
    )
    async with fake.client() as wxpay:
        with pytest.raises(APIError) as info:
            await wxpay.v3.x.get()
    err = info.value
    assert (err.status, err.code, err.message, err.detail, err.request_id) == (
        404, "NOT_FOUND", "商品券不存在", {"field": "/id"}, "abc-123"
    )
    assert str(err).startswith("404 NOT_FOUND: 商品券不存在") and str(err).endswith("(Request-ID abc-123)")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.status, clone.code, clone.body) == (404, "NOT_FOUND", body)


async def test_5xx_retried_for_reads_and_outcome_unknown_for_plain_writes(fake: FakeWeChat) -> None:
    calls = {"n": 0}

    def flaky(request: web.Request, body: bytes) -> web.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return web.Response(status=500, body=b'{"code":"SYSTEM_ERROR","message":"x"}', content_type="application/json")
        return fake.signed(200, b'{"ok":true}')

    fake.routes[("GET", "/v3/x")] = flaky
    fake.routes[("POST", "/v3/y")] = lambda r, b: web.Response(status=500, body=b'{"code":"SYSTEM_ERROR","message":"x"}')
    async with fake.client(retry=FAST_RETRY) as wxpay:
        r = await wxpay.v3.x.get()
        assert r.json() == {"ok": True} and calls["n"] == 3
        nonces = [s.auth["nonce_str"] for s in fake.seen]
        assert len(set(nonces)) == 3  # every attempt re-signed
        with pytest.raises(OutcomeUnknown, match="may or may not"):
            await wxpay.v3.y.post(json={"a": 1})
        assert sum(1 for s in fake.seen if s.target == "/v3/y") == 1
        with pytest.raises(APIError, match="SYSTEM_ERROR"):
            await wxpay.v3.y.post(json={"out_request_no": "R1"})
        assert sum(1 for s in fake.seen if s.target == "/v3/y") == 4


async def test_4xx_never_retried(fake: FakeWeChat) -> None:
    fake.routes[("GET", "/v3/x")] = lambda r, b: web.Response(status=400, body=b'{"code":"PARAM_ERROR","message":"m"}')
    async with fake.client(retry=FAST_RETRY) as wxpay:
        with pytest.raises(APIError):
            await wxpay.v3.x.get()
    assert len(fake.seen) == 1


async def test_bad_input_raises_before_any_io(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        with pytest.raises(TemplateError, match=r"\{product_coupon_id\}"):
            await wxpay.v3.coupons._product_coupon_id_.get()
        with pytest.raises(TemplateError, match="unknown option 'jsno'"):
            await wxpay.v3.coupons.post(jsno={"a": 1})
        with pytest.raises(TemplateError, match=r"evil\.example"):
            await wxpay.chain("{+url}").get(url="https://evil.example/v3/x")
        with pytest.raises(TemplateError, match="json"):
            await wxpay.v3.x.post(json={"a": object()})
        with pytest.raises(TemplateError, match=r"either json or body"):
            await wxpay.v3.x.post(json={}, body=b"{}")
    assert fake.seen == []


async def test_per_request_base_uri_and_raw_body(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        await wxpay.v3.statements.get(base_uri=fake.base_url + "hk/")
        assert fake.seen[-1].target == "/hk/v3/statements"
        await wxpay.v3.x.post(body='{"raw": "中"}')
        assert fake.seen[-1].body == '{"raw": "中"}'.encode()


async def test_injected_session_is_not_closed_and_use_after_close(fake: FakeWeChat) -> None:
    async with aiohttp.ClientSession() as session:
        client = fake.client(session=session)
        async with client as wxpay:
            assert (await wxpay.v3.x.get()).status == 200
        assert not session.closed
        assert client.closed
        with pytest.raises(TransportError, match="closed"):
            await client.v3.x.get()


async def test_timeout_and_connection_refused(fake: FakeWeChat, unused_tcp_port: int) -> None:
    async def slow(request: web.Request, body: bytes) -> web.Response:
        await asyncio.sleep(1)
        return fake.signed(200, b"{}")

    fake.routes[("GET", "/v3/slow")] = slow
    async with fake.client(retry=None) as wxpay:
        with pytest.raises(RequestTimeout):
            await wxpay.v3.slow.get(timeout=0.05)
    dead = f"http://127.0.0.1:{unused_tcp_port}/"
    async with fake.client(base_url=dead, retry=None) as wxpay:
        with pytest.raises(TransportError, match="cannot connect"):
            await wxpay.v3.x.get()
    # Failover: the primary refuses connections, the backup answers; the same signature is valid there.
    async with fake.client(base_url=dead, backup_base_url=fake.base_url, retry=None) as wxpay:
        assert (await wxpay.v3.x.get()).status == 200


async def test_hooks_and_debug_log_never_leak_secrets(fake: FakeWeChat, caplog: pytest.LogCaptureFixture) -> None:
    events: list[RequestEvent] = []
    caplog.set_level(logging.DEBUG, logger="wechatpay_chain")
    async with fake.client(hooks=[events.append]) as wxpay:
        await wxpay.v3.x._id_.get(id="1")
        fake.tamper = lambda h, b: (h, b + b"!")
        with pytest.raises(VerificationError) as info:
            await wxpay.v3.x._id_.get(id="2")
        text = repr(wxpay) + str(info.value) + repr(info.value) + caplog.text + repr(events)
    assert [(e.method, e.template, e.attempt, e.status) for e in events] == [
        ("GET", "v3/x/{id}", 1, 200),
        ("GET", "v3/x/{id}", 1, 200),
    ]
    assert events[1].error == "bad_signature"
    for seen in fake.seen:
        assert seen.auth["signature"] not in text
    assert "PRIVATE KEY" not in text and "BEGIN" not in text


def test_sync_client_without_an_event_loop(fake_sync: tuple[str, Keys, dict[str, Any]]) -> None:
    base_url, keys, certs = fake_sync
    with SyncClient(MCHID, keys.merchant.serial, keys.merchant.private_key, certs, base_url=base_url) as wxpay:
        r = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.get(
            product_coupon_id="1000000013", query={"page_size": 10}
        )
        assert isinstance(r, Response) and r.status == 200
        assert r.json()["path"] == "/v3/marketing/partner/product-coupon/product-coupons/1000000013/stocks"
        assert wxpay.chain("v3/x/{id}").delete(id="A B").json()["path"] == "/v3/x/A B"
        with pytest.raises(TemplateError):
            wxpay.v3.x._id_.get()
    with pytest.raises(TransportError):
        wxpay.v3.x.get()
    wxpay.close()


def test_config_errors_name_the_field(keys: Keys, tmp_path: Any) -> None:
    good: dict[str, Any] = {
        "mchid": MCHID, "serial": keys.merchant.serial, "private_key": keys.merchant.private_key,
        "certs": {keys.platform.serial: keys.platform.certificate},
    }
    encrypted = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mchid": None}, "mchid"),
        ({"mchid": "12ab"}, "mchid"),
        ({"serial": None}, "serial"),
        ({"serial": "not-hex!"}, "serial"),
        ({"private_key": None}, "private_key"),
        ({"private_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "private_key"),
        ({"private_key": encrypted}, "encrypted"),
        ({"private_key": f"file://{tmp_path}/missing.pem"}, "cannot read"),
        ({"certs": {}}, "certs"),
        ({"certs": {keys.merchant.serial: keys.merchant.certificate}}, "merchant's own"),
        ({"certs": {"X": "garbage"}}, "certs['X']"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"timeout": -1}, "timeout"),
        ({"apiv3_key": "short"}, "apiv3_key"),
        ({"hooks": ["not callable"]}, "hooks"),
        ({"retry": 3}, "retry"),
        ({"limit": -1}, "limit"),
        ({"max_response_size": 10}, "max_response_size"),
    ]
    for change, needle in cases:
        with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")) as info:
            Client(**{**good, **change})
        assert isinstance(info.value, ValueError)
        assert "MII" not in str(info.value)  # no key material echoed
    key_pem = keys.merchant.private_pem().decode()
    assert Client(**{**good, "private_key": encrypted, "passphrase": "pw"}).serial == keys.merchant.serial
    path = tmp_path / "apiclient_key.pem"
    path.write_text(key_pem)
    assert Client(**{**good, "private_key": f"file://{path}"}).mchid == MCHID


def test_builder_factory_ports_php_config(keys: Keys) -> None:
    client = Builder.factory(
        {
            "mchid": MCHID,
            "serial": keys.merchant.serial,
            "privateKey": keys.merchant.private_pem().decode(),
            "certs": {keys.platform.serial: keys.platform.certificate_pem()},
        }
    )
    assert isinstance(client, Client) and client.serial == keys.merchant.serial
    assert "PRIVATE" not in repr(client)
    with pytest.raises(ConfigError, match="handler"):
        Builder.factory({"mchid": MCHID, "handler": object()})


def test_response_is_immutable() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    r = Response(200, CIMultiDictProxy(CIMultiDict({"Request-ID": "x"})), b'{"a":1}')
    assert r.json() == {"a": 1} and r.request_id == "x" and r.text == '{"a":1}'
    with pytest.raises(AttributeError):
        r.status = 500  # type: ignore[misc]


@pytest.fixture
def fake_sync(fake_thread: FakeWeChat) -> Any:
    """A FakeWeChat running in its own thread, for the blocking client."""
    return fake_thread.base_url, fake_thread.keys, fake_thread.certs()


async def test_default_headers_on_injected_sessions_and_public_key_serial(fake: FakeWeChat) -> None:
    fake.mode = "pubkey"
    async with aiohttp.ClientSession() as session, fake.client(session=session) as wxpay:
        await wxpay.v3.x.get()
        await wxpay.v3.x.get(headers={"wechatpay-serial": "OVERRIDE", "accept": "*/*"})
    first, second = (CIMultiDict(s.headers) for s in fake.seen)
    assert first["Accept"] == "application/json"
    assert first["User-Agent"].startswith("wechatpay-chain/")
    assert first["Wechatpay-Serial"] == PUB_KEY_ID
    assert second["Wechatpay-Serial"] == "OVERRIDE"
    assert second["Accept"] == "*/*"
