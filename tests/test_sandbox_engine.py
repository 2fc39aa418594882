"""The sandbox engine's extension API: user routes, WeChat-shaped validation, idempotency, clock, notifications,
logging — every piece exercised over real loopback HTTP, the way the built-in families use it."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import Keys, serve
from conftest import keyed_sandbox as box

from wechatpay_chain import APIError, Client
from wechatpay_chain.media import Media
from wechatpay_chain.notify import parse_notification
from wechatpay_chain.sandbox import (
    CHINA,
    COUPON_SCHEDULE,
    PAYMENT_SCHEDULE,
    Call,
    Failure,
    Idempotency,
    Sandbox,
    SyncSandbox,
)
from wechatpay_chain.schema import arr, integer, obj, string
from wechatpay_chain.signing import Verifier

PAY = obj(
    appid=string("公众号ID", required=True),
    mchid=string("直连商户号", required=True),
    out_trade_no=string("商户订单号", required=True, min_length=6, max_length=32),
    description=string("商品描述", min_length=1, max_length=127),
    amount=obj("订单金额", required=True, total=integer("总金额", required=True, minimum=1)),
    tags=arr(string("标签"), max_items=2),
)
ORDER = {"appid": "wx1", "mchid": "1900000109", "out_trade_no": "T_000001", "amount": {"total": 100}}


@pytest.fixture
async def sb(keys: Keys) -> AsyncIterator[Sandbox]:
    async with box(keys) as sandbox:
        calls: list[Call] = []

        @sandbox.route("POST", "/v3/demo/pay/{out_trade_no}", request=PAY, name="demo_pay",
                       idempotency=Idempotency("out_trade_no", conflict=(400, "INVALID_REQUEST", "{key} 重复")))
        async def pay(call: Call) -> Any:
            calls.append(call)
            return {"prepay_id": "wx" + call.params["out_trade_no"], "at": call.clock.rfc3339()}

        sandbox.calls = calls  # type: ignore[attr-defined]
        yield sandbox


async def error(call: Any) -> APIError:
    with pytest.raises(APIError) as info:
        await call
    return info.value


# -- routes ------------------------------------------------------------------------------------------------
async def test_user_route_gets_a_verified_call(sb: Sandbox, wxpay: Client) -> None:
    r = await wxpay.chain("v3/demo/pay/{no}").post(no="T 1/x", json=ORDER)
    assert r.json()["prepay_id"] == "wxT 1/x"  # path values arrive percent-decoded
    call = sb.calls[-1]  # type: ignore[attr-defined]
    assert (call.mchid, call.json, call.route.name, call.params) == (sb.mchid, ORDER, "demo_pay", {"out_trade_no": "T 1/x"})
    async with aiohttp.ClientSession() as session, session.post(sb.url + "v3/demo/pay/T1", json=ORDER) as resp:
        assert (resp.status, (await resp.json())["code"]) == (401, "SIGN_ERROR")  # unsigned: never reaches it
    assert len(sb.calls) == 1  # type: ignore[attr-defined]


async def test_routes_override_and_prefer_literal_segments(sb: Sandbox, wxpay: Client) -> None:
    sb.route("GET", "/v3/demo/items/{item_id}", lambda call: {"kind": "by-id", "id": call.params["item_id"]})
    sb.route("GET", "/v3/demo/items/special", lambda call: (200, {"kind": "literal"}))
    assert (await wxpay.v3.demo.items.special.get()).json() == {"kind": "literal"}
    assert (await wxpay.v3.demo.items._id_.get(id="7")).json() == {"kind": "by-id", "id": "7"}
    sb.route("GET", "/v3/certificates", lambda call: (204, None))  # a built-in route, replaced
    r = await wxpay.v3.certificates.get()
    assert (r.status, r.body) == (204, b"")
    assert (await error(wxpay.v3.demo.items._id_.post(id="7", json={}))).code == "NOT_FOUND"


async def test_user_routes_get_faults_rate_limits_and_failures(keys: Keys) -> None:
    async with box(keys, rate_limits={"demo_limited": (2, 60.0)}) as sandbox, sandbox.client(retry=None) as wxpay:

        @sandbox.route("GET", "/v3/demo/limited", name="demo_limited", rate_limit=(100, 1.0))
        def limited(call: Call) -> Any:
            if "boom" in call.query:
                raise Failure(403, "NO_AUTH", "没有权限", {"why": "demo"})
            return {"ok": True}

        sandbox.faults.script("error")
        assert (await error(wxpay.v3.demo.limited.get())).code == "SYSTEM_ERROR"
        failure = await error(wxpay.v3.demo.limited.get(query={"boom": "1"}))
        assert (failure.status, failure.code, failure.detail) == (403, "NO_AUTH", {"why": "demo"})
        assert (await error(wxpay.v3.demo.limited.get())).code == "RATELIMIT_EXCEEDED"  # override: 2 per minute
        sandbox.clock.advance(60)  # the window runs on the sandbox clock
        assert (await wxpay.v3.demo.limited.get()).json() == {"ok": True}


# -- validation ------------------------------------------------------------------------------------------------
async def test_param_error_shapes_mirror_wechat_pay(wxpay: Client) -> None:
    node = wxpay.chain("v3/demo/pay/{no}")
    unknown = await error(node.post(no="T1", json={**ORDER, "mchid_x": "1", "amount": {"total": 1, "currency": "CNY"}}))
    assert (unknown.status, unknown.code, unknown.message) == (400, "PARAM_ERROR", "请求中含有未在API文档中定义的参数")
    assert unknown.detail["location"] is None
    assert sorted(unknown.detail["value"]) == ["/body/amount/currency", "/body/mchid_x"]
    # The client refuses a float amount before sending (wechatpay_chain._jsonbody); raw bytes reach the sandbox.
    wrong = await error(node.post(no="T1", body=orjson.dumps({**ORDER, "amount": {"total": 0.01}})))
    assert wrong.message == "无法将 JSON 输入源“/body/amount/total”映射到目标字段“总金额”中，此字段需要一个合法的 64 位有符号整数"
    assert (wrong.detail["location"], wrong.detail["value"], wrong.detail["field"]) == ("body", 0.01, "/amount/total")
    body = dict(ORDER)
    del body["appid"]
    missing = await error(node.post(no="T1", json=body))
    assert missing.message == "输入源“/appid”映射到字段“公众号ID”必填性规则校验失败,此字段为必填项"
    short = await error(node.post(no="T1", json={**ORDER, "description": ""}))
    assert short.message == "输入源“/body/description”映射到字段“商品描述”字符串规则校验失败，字符数 0，小于最小值 1"
    long = await error(node.post(no="T1", json={**ORDER, "description": "长" * 5000}))
    assert str(long.message).endswith("字符数 5000，大于最大值 127") and long.detail["field"] == "/description"
    low = await error(node.post(no="T1", json={**ORDER, "amount": {"total": -5}}))
    assert low.message == "输入源“/body/amount/total”映射到字段“总金额”规则校验失败,值低于最小值 1"
    many = await error(node.post(no="T1", json={**ORDER, "tags": ["a", "b", "c"]}))
    assert many.detail["field"] == "/tags" and "at most 2" in str(many.message)


# -- idempotency -----------------------------------------------------------------------------------------------
async def test_idempotency_helper(sb: Sandbox, wxpay: Client) -> None:
    node = wxpay.chain("v3/demo/pay/{no}")
    first = await node.post(no="T1", json=ORDER)
    sb.clock.advance(5)
    again = await node.post(no="T1", json=ORDER)
    assert again.body == first.body and again.headers["Request-ID"] != first.headers["Request-ID"]
    assert sb.applied_writes("T_000001") == 1 and len(sb.calls) == 1  # type: ignore[attr-defined]
    clash = await error(node.post(no="T1", json={**ORDER, "description": "另一个"}))
    assert (clash.status, clash.code, clash.message) == (400, "INVALID_REQUEST", "out_trade_no T_000001 重复")
    other_path = await error(node.post(no="T2", json=ORDER))  # same number on another resource: a reuse
    assert other_path.code == "INVALID_REQUEST"
    sb.reset()
    assert (await node.post(no="T2", json=ORDER)).status == 200


# -- clock -------------------------------------------------------------------------------------------------------
async def test_clock_advances_schedules_and_knows_china_midnight(sb: Sandbox) -> None:
    clock = sb.clock
    start = clock.now()
    ran: list[float] = []
    clock.call_later(3600, lambda: ran.append(clock.now()))
    await asyncio.sleep(0)
    assert ran == [] and clock.pending == 1
    clock.advance(dt.timedelta(hours=1))
    for _ in range(50):
        if ran:
            break
        await asyncio.sleep(0.01)
    assert ran and ran[0] >= start + 3600
    midnight = clock.next_china_midnight()
    assert dt.datetime.fromtimestamp(midnight, CHINA).time() == dt.time(0, 0)
    assert 0 < midnight - clock.now() <= 86400
    day = clock.china_date()
    clock.set(midnight)
    assert clock.china_date() == day + dt.timedelta(days=1)
    assert clock.china_now().utcoffset() == dt.timedelta(hours=8) and clock.rfc3339().endswith("+08:00")
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    before = clock.offset
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            clock.advance(bad)
    for wrong in ("60", True, None):
        with pytest.raises(TypeError, match="seconds"):
            clock.advance(wrong)  # type: ignore[arg-type]
    assert clock.offset == before  # nothing half-done


async def test_admin_clock_is_loopback_http(sb: Sandbox, wxpay: Client) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(sb.url + "_sandbox/clock/advance", json={"seconds": 86400}) as resp:
            doc = await resp.json()
        assert resp.status == 200 and doc["offset"] == 86400
        async with session.post(sb.url + "_sandbox/clock/advance", json={"seconds": "x"}) as resp:
            assert resp.status == 400
    # signatures stay on real time: the client still verifies answers a day "later"
    assert (await wxpay.v3.certificates.get()).status == 200


# -- notifications -----------------------------------------------------------------------------------------------
class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.got: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 204
        if status == 0:
            await asyncio.sleep(1)  # longer than the sandbox's timeout below
            status = 204
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver([])
    app = web.Application()
    app.router.add_post("/notify", rec.handle)
    async with serve(app) as server:
        yield rec, str(server.make_url("/notify"))


async def test_notification_is_signed_encrypted_and_retried_on_the_clock(
    sb: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    rec.statuses[:] = [500, 0]  # a 500, then a timeout, then accepted
    sb.notifications.timeout = 0.2
    delivery = sb.notifications.send(url, "PRODUCT_COUPON_SP.SEND", {"coupon_code": "C1"}, summary="发券")
    await sb.notifications.wait(lambda d: len(d.attempts) == 1, delivered=False)
    assert [a.status for a in delivery.attempts] == [500] and not delivery.delivered
    await asyncio.sleep(0.05)
    assert len(delivery.attempts) == 1  # nothing happens until the sandbox clock moves
    sb.clock.advance(COUPON_SCHEDULE[0])
    await sb.notifications.wait(lambda d: len(d.attempts) == 2, delivered=False)
    assert (delivery.attempts[1].status, delivery.attempts[1].error) == (0, "TimeoutError")
    sb.clock.advance(60)
    assert (await sb.notifications.wait("PRODUCT_COUPON_SP.SEND"))[0] is delivery
    assert [a.status for a in delivery.attempts] == [500, 0, 204]
    headers, body = rec.got[-1]
    note = parse_notification(headers, body, Verifier({sb.platform.serial: sb.platform.public_key}), sb.apiv3_key)
    assert (note.event_type, note.resource, note.summary, note.id) == (
        "PRODUCT_COUPON_SP.SEND", {"coupon_code": "C1"}, "发券", delivery.id)
    doc = orjson.loads(body)
    assert set(doc) == {"id", "create_time", "resource_type", "event_type", "summary", "resource"}
    assert set(doc["resource"]) == {"original_type", "algorithm", "ciphertext", "associated_data", "nonce"}
    async with aiohttp.ClientSession() as session, session.get(sb.url + "_sandbox/notifications") as resp:
        log = await resp.json()
    assert log[0]["delivered"] and [a["status"] for a in log[0]["attempts"]] == [500, 0, 204]


async def test_notification_gives_up_after_the_schedule(keys: Keys, receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.statuses[:] = [503] * 20
    async with box(keys, mode="pubkey") as sandbox:
        delivery = sandbox.notifications.send(url, "X.Y", {}, schedule=PAYMENT_SCHEDULE[:3])
        for n in range(1, 5):
            await sandbox.notifications.wait(lambda d, n=n: len(d.attempts) == n, delivered=False)  # type: ignore[misc]
            sandbox.clock.advance(3600)
        await asyncio.sleep(0.05)
        assert len(delivery.attempts) == 4 and delivery.finished and not delivery.delivered
        assert sandbox.clock.pending == 0
        assert rec.got[0][0]["Wechatpay-Serial"] == sandbox.pub_key_id  # the signing mode's key
    assert len(COUPON_SCHEDULE) + 1 == 11 and sum(PAYMENT_SCHEDULE) == 15 + 15 + 30 + 180 + 600 + 1200 + 5400 + 3600 + 32400 + 43200


def test_sync_sandbox_waits_for_notifications(keys: Keys) -> None:
    got: list[bytes] = []

    async def accept(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(status=204)

    with SyncSandbox(merchant=keys.merchant, platform=keys.platform, public_key=keys.platform2) as sandbox:
        app = web.Application()
        app.router.add_post("/n", accept)
        runner = web.AppRunner(app)
        sandbox._run(runner.setup())  # reuse the sandbox's loop thread for the receiver
        site = web.TCPSite(runner, "127.0.0.1", 0)
        sandbox._run(site.start())
        port = runner.addresses[0][1]
        sandbox._loop.call_soon_threadsafe(
            lambda: sandbox.notifications.send(f"http://127.0.0.1:{port}/n", "A.B", {"k": 1})
        )
        [delivery] = sandbox.wait_notifications("A.B")
        assert delivery.delivered and len(got) == 1
        sandbox._run(runner.cleanup())


# -- multipart and logging ---------------------------------------------------------------------------------------
async def test_multipart_route_checks_the_meta_signature(sb: Sandbox, wxpay: Client) -> None:
    seen: list[Call] = []

    @sb.route("POST", "/v3/demo/upload", request=obj(filename=string(required=True), sha256=string(required=True)),
              multipart=True)
    def upload(call: Call) -> Any:
        seen.append(call)
        return {"media_url": "https://example.invalid/" + call.meta["filename"]}

    r = await wxpay.v3.demo.upload.post(body=Media(b"\x89PNG....", filename="logo.png"))
    assert r.json() == {"media_url": "https://example.invalid/logo.png"}
    assert seen[0].files["file"] == ("logo.png", b"\x89PNG....")
    assert seen[0].meta["sha256"] == hashlib.sha256(b"\x89PNG....").hexdigest()
    tampered = Media(b"\x89PNG....", filename="logo.png", meta=b'{"filename":"x.png","sha256":"00"}')
    assert tampered.meta != Media(b"\x89PNG....", filename="logo.png").meta


async def test_one_log_line_per_request(sb: Sandbox, wxpay: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wechatpay_chain.sandbox")
    r = await wxpay.chain("v3/demo/pay/{no}").post(no="T1", json=ORDER)
    await error(wxpay.chain("v3/demo/pay/{no}").post(no="T1", json={}))
    async with aiohttp.ClientSession() as session, session.get(sb.url + "v3/certificates") as resp:
        assert resp.status == 401
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "wechatpay_chain.sandbox"]
    assert lines[0] == f"POST /v3/demo/pay/T1 200 - sig=ok request-id={r.headers['Request-ID']}"
    assert lines[1].startswith("POST /v3/demo/pay/T1 400 PARAM_ERROR sig=ok request-id=")
    assert lines[2].startswith("GET /v3/certificates 401 SIGN_ERROR sig=bad (")
    assert len(lines) == 3
    assert sb.merchant.private_pem().decode() not in "".join(lines)


def test_docs_extension_example_runs() -> None:
    """docs/sandbox.md "Extending the sandbox": the example runs as written and prints what it says."""
    text = (Path(__file__).parent.parent / "docs" / "sandbox.md").read_text()
    block = re.search(r"## Extending the sandbox.*?```python\n(.*?)```", text, re.S)
    assert block is not None
    out = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "PARAM_ERROR {'location': None, 'value': ['/body/oops']" in out.stdout
    assert "[500, 204] {'out_trade_no': 'T1'}" in out.stdout


def _outward_address() -> str | None:
    """A non-loopback address of this machine, if it has one (the admin interface must refuse it)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address: str = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


async def test_admin_interface_answers_loopback_only(keys: Keys) -> None:
    address = _outward_address()
    if address is None:
        pytest.skip("no non-loopback interface")
    async with box(keys, host="0.0.0.0", port=0) as sandbox, aiohttp.ClientSession() as session:  # noqa: S104
        outside = f"http://{address}:{sandbox.port}/_sandbox/clock/advance"
        async with session.post(outside, json={"seconds": 3600}) as resp:
            assert resp.status == 403
        assert sandbox.clock.offset == 0
        async with session.post(f"http://127.0.0.1:{sandbox.port}/_sandbox/clock/advance", json={"seconds": 1}) as resp:
            assert resp.status == 200
        assert sandbox.clock.offset == 1
