"""Notification set-up mistakes fail loudly and at once; a client makes no request it was not asked for.

Issue 10 ("Silent failures"): ``sb.client()`` lacked ``apiv3_key`` so every notification was answered 500
(visible only in a log line), and a client given ``certs`` still fetched ``/v3/certificates`` in the background,
toward the real API host when ``base_url`` was left at its default.
"""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from conftest import FakeWeChat, Keys, serve
from wxfixtures import APIV3_KEY, notification

from wechatpay_chain import Client, ConfigError, SyncClient
from wechatpay_chain.notify import Notification, aiohttp_handler, respond, respond_sync
from wechatpay_chain.sandbox import Sandbox, SyncSandbox

DOCS = Path(__file__).resolve().parent.parent / "docs" / "callbacks.md"
PAID = {"out_trade_no": "T-1001", "trade_state": "SUCCESS"}


async def notify_app(wxpay: Any, seen: list[Notification], *, fail: bool = False) -> web.Application:
    async def on_paid(note: Notification) -> None:
        if fail:
            raise RuntimeError("database is down")
        seen.append(note)

    app = web.Application()
    app.router.add_post("/wxpay/notify", aiohttp_handler(wxpay, on_paid))
    return app


# -- the sandbox's own client checks notifications ---------------------------------------------------------


async def test_sandbox_client_checks_notifications(sb: Sandbox) -> None:
    seen: list[Notification] = []
    async with sb.client() as wxpay, serve(await notify_app(wxpay, seen)) as server:
        result = await sb.notify(str(server.make_url("/wxpay/notify")), event_type="TRANSACTION.SUCCESS", resource=PAID)
        assert (result.status, result.body) == (204, b"")
        assert [n.resource for n in seen] == [PAID] and seen[0].id == result.id
    assert not any(s.target == "/v3/certificates" for s in sb.seen)


def test_sync_sandbox_client_checks_notifications(keys: Keys) -> None:
    with SyncSandbox(merchant=keys.merchant, platform=keys.platform) as box, box.client() as wxpay:
        headers, body = box.signed_notification(event_type="TRANSACTION.SUCCESS", resource=PAID)
        seen: list[Notification] = []
        assert respond_sync(wxpay, headers, body, seen.append) == (204, b"")
        assert seen[0].resource == PAID


# -- a client without apiv3_key is refused when the handler is built ---------------------------------------


async def test_handlers_refuse_a_client_without_apiv3_key(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        with pytest.raises(ConfigError) as info:
            aiohttp_handler(wxpay, print)  # no await, no request: refused while building
        assert info.value.field == "apiv3_key" and "apiv3_key=" in str(info.value)
        headers, body = notification(fake.keys.platform, PAID)
        with pytest.raises(ConfigError, match="apiv3_key"):
            await respond(wxpay, headers, body, print)
    assert fake.seen == []


def test_sync_handlers_refuse_a_sync_client_without_apiv3_key(fake: FakeWeChat) -> None:
    with SyncClient(**sync_options(fake)) as wxpay:
        with pytest.raises(ConfigError, match="apiv3_key"):
            respond_sync(wxpay, {}, b"{}", print)
        with pytest.raises(ConfigError, match="apiv3_key"):
            aiohttp_handler(wxpay, print)


def sync_options(fake: FakeWeChat) -> dict[str, Any]:
    return {
        "mchid": "1900000109",
        "serial": fake.keys.merchant.serial,
        "private_key": fake.keys.merchant.private_key,
        "certs": fake.certs(),
        "base_url": fake.base_url,
    }


# -- the documented reply table is what the handler answers ------------------------------------------------


def documented_replies() -> dict[str, tuple[str, str]]:
    """``outcome → (status, body)`` from the table under "## Replying" in docs/callbacks.md."""
    section = DOCS.read_text().split("## Replying", 1)[1]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| outcome", "| ---")):
            if rows and not line.startswith("|"):
                break
            continue
        outcome, status, body = (cell.strip() for cell in line.strip("|").split("|")[:3])
        rows[outcome] = (status, body)
    return rows


async def answer_for(outcome: str, sb: Sandbox) -> tuple[str, str]:
    """Produce ``outcome`` for real and return what was answered, rendered like the table's cells."""
    seen: list[Notification] = []
    options: dict[str, Any] = {"retry": None}
    event: dict[str, Any] = {"event_type": "TRANSACTION.SUCCESS", "resource": PAID}
    if outcome.startswith("failed verification"):
        event["fault"] = "tamper"
    elif outcome.startswith("failed decryption"):
        options["apiv3_key"] = "W" * 32
    elif outcome.startswith("could not be checked"):
        options["certs"] = None  # the client must download them, and WeChat Pay answers 500
        sb.faults.update(error_rate=1.0)
    elif outcome.startswith("client without"):
        options["apiv3_key"] = None
    async with sb.client(**options) as wxpay:
        try:
            app = await notify_app(wxpay, seen, fail=outcome.startswith("`on_notification` raised"))
        except ConfigError as exc:
            return "—", f"`ConfigError` ({exc.field})"
        async with serve(app) as server:
            result = await sb.notify(str(server.make_url("/wxpay/notify")), **event)
    sb.faults.clear()
    assert bool(seen) == (result.status == 204)
    body = "empty" if not result.body else f"`{result.body.decode()}`"
    return str(result.status), body


async def test_reply_table_matches_the_handler(sb: Sandbox) -> None:
    rows = documented_replies()
    assert len(rows) == 6, rows
    for outcome, (status, body) in rows.items():
        got_status, got_body = await answer_for(outcome, sb)
        assert got_status == status, outcome
        if got_status == "—":
            assert got_body.split()[0] == body.split()[0] and "apiv3_key" in body, outcome
            continue
        pattern = re.escape(body.split(" (")[0]).replace(re.escape("<reason>"), "[a-z_]+")
        assert re.fullmatch(pattern, got_body), (outcome, got_body)
        if got_body != "empty":
            assert orjson.loads(got_body.strip("`"))["code"] == "FAIL"


# -- no request the user did not ask for -------------------------------------------------------------------


async def test_certs_given_means_no_background_certificate_download(fake: FakeWeChat, keys: Keys) -> None:
    """A counting server: with certs and apiv3_key, a call and a notification make exactly one request."""
    async with fake.client(apiv3_key=APIV3_KEY) as wxpay:
        manager = wxpay.certificates
        assert manager is not None and not manager.periodic
        await wxpay.v3.anything.get()
        headers, body = notification(keys.platform, PAID)
        assert (await wxpay.parse_notification(headers, body)).resource == PAID
        for _ in range(20):  # let any background task run
            await asyncio.sleep(0.01)
        assert manager.downloads == 0
    assert [s.target for s in fake.seen] == ["/v3/anything"]


class CountingResolver(AbstractResolver):
    """Resolves every host name to a local listener, so any connection toward a real host is counted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hosts: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.hosts.append(host)
        return [{"hostname": host, "host": "127.0.0.1", "port": self.port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


async def test_sandbox_settings_with_default_base_url_never_reach_the_real_host(sb: Sandbox) -> None:
    """The issue's case: the sandbox's keys, certs and apiv3_key, but ``base_url`` left at the real API."""
    connections: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    listener = await asyncio.start_server(count, "127.0.0.1", 0)
    resolver = CountingResolver(listener.sockets[0].getsockname()[1])
    config = {k: v for k, v in sb.config.items() if k != "base_url"}
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver)) as session,
            Client(**config, session=session) as wxpay,
        ):
            assert wxpay.base_url.startswith("https://api.mch.weixin.qq.com")
            for fault in (None, "tamper"):
                headers, body = sb.signed_notification(event_type="TRANSACTION.SUCCESS", resource=PAID, fault=fault)
                status, _ = await respond(wxpay, headers, body, lambda note: None)
                assert status == (204 if fault is None else 401)
            for _ in range(20):
                await asyncio.sleep(0.01)
    finally:
        listener.close()
        await listener.wait_closed()
    assert resolver.hosts == [] and connections == []


async def test_unknown_serial_refresh_goes_to_the_sandbox_only(sb: Sandbox) -> None:
    """After a key rotation the sandbox client re-downloads the certificates: from the sandbox it was given."""
    resolver = CountingResolver(9)  # discard port: nothing may be resolved at all
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver)) as session,
        sb.client(session=session) as wxpay,
    ):
        sb.rotate_platform_key()
        headers, body = sb.signed_notification(event_type="TRANSACTION.SUCCESS", resource=PAID)
        seen: list[Notification] = []
        assert await respond(wxpay, headers, body, seen.append) == (204, b"")
    assert [s.target for s in sb.seen] == ["/v3/certificates"] and resolver.hosts == []
