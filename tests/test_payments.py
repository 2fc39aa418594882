"""The payment family against the running sandbox: every order/refund transition and refusal, notifications,
bills reconciled with ``Client.download`` + the bill parser, the payer's admin interface and CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from cdp import CHROMIUM, Chromium
from conftest import Keys, serve
from test_sandbox_cli import start as start_standalone
from test_sandbox_cli import wait_for as wait_for_config

from wechatpay_chain import APIError, Client, crypto, paysign
from wechatpay_chain._schemas import payments as ps
from wechatpay_chain._schemas.spec import Field, first_issue
from wechatpay_chain.bill import parse_bill
from wechatpay_chain.notify import Notification, aiohttp_handler
from wechatpay_chain.sandbox import Failure, Sandbox, SyncSandbox
from wechatpay_chain.sandbox.payments import Ledger

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
CST = dt.timezone(dt.timedelta(hours=8))
#: Business time of every test: the sandbox clock is moved here (protocol time stays real, so signatures verify).
T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=CST).timestamp()


@dataclass
class Inbox:
    """A merchant notify endpoint: verifies with the client, records what arrived, answers per ``replies``."""

    url: str = ""
    notes: list[Notification] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)


@pytest.fixture
async def sb(keys: Keys) -> AsyncIterator[Sandbox]:
    frozen = time.time()
    async with Sandbox(merchant=keys.merchant, platform=keys.platform, clock=lambda: frozen) as box:
        box.clock.set(T0)
        yield box


@pytest.fixture
async def inbox(wxpay: Client) -> AsyncIterator[Inbox]:
    box = Inbox()
    verified = aiohttp_handler(wxpay, box.notes.append)

    async def handler(request: web.Request) -> web.Response:
        if box.replies:
            status = box.replies.pop(0)
            return web.json_response({"code": "FAIL", "message": "busy"}, status=status)
        return await verified(request)

    app = web.Application()
    app.router.add_post("/notify", handler)
    async with serve(app) as server:
        box.url = str(server.make_url("/notify"))
        yield box


def conforms(spec: Field, doc: Any) -> None:
    issue = first_issue(spec, doc)
    assert issue is None, f"{issue} in {doc}"


def order(inbox: Inbox, out_trade_no: str = "T20260101000001", total: int = 100, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appid": APPID,
        "mchid": MCHID,
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no,
        "amount": {"total": total, "currency": "CNY"},
        "notify_url": inbox.url,
        "attach": "自定义数据",
    }
    body.update(more)
    return body


async def native(wxpay: Client, body: dict[str, Any]) -> str:
    r = await wxpay.v3.pay.transactions.native.post(json=body)
    assert r.status == 200
    return str(r.json()["code_url"])


async def query(wxpay: Client, out_trade_no: str) -> dict[str, Any]:
    r = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
        out_trade_no=out_trade_no, query={"mchid": MCHID}
    )
    doc: dict[str, Any] = r.json()
    conforms(ps.ORDER, doc)
    return doc


async def refused(call: Any) -> APIError:
    with pytest.raises(APIError) as info:
        await call
    return info.value


async def notes(sb: Sandbox, inbox: Inbox, event: str, count: int = 1) -> list[Notification]:
    await sb.notifications.wait(event, count=count)
    found = [n for n in inbox.notes if n.event_type == event]
    assert len(found) >= count
    return found


# -- orders --------------------------------------------------------------------------------------------------
async def test_native_order_pay_notify_query(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    code_url = await native(wxpay, order(inbox))
    assert code_url.startswith(sb.url + "_sandbox/checkout/wx")
    before = await query(wxpay, "T20260101000001")
    assert before["trade_state"] == "NOTPAY" and "transaction_id" not in before
    paid = sb.pay("T20260101000001", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert paid["trade_state"] == "SUCCESS"
    [note] = await notes(sb, inbox, "TRANSACTION.SUCCESS")
    conforms(ps.TRANSACTION_RESOURCE, note.resource)
    assert note.original_type == "transaction" and note.summary == "支付成功"
    resource = note.resource
    assert resource["out_trade_no"] == "T20260101000001" and resource["mchid"] == MCHID
    assert resource["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert resource["amount"] == {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"}
    assert resource["attach"] == "自定义数据" and resource["success_time"] == "2030-01-01T12:00:00+08:00"
    after = await query(wxpay, "T20260101000001")
    assert after["trade_state"] == "SUCCESS" and after["transaction_id"] == resource["transaction_id"]
    by_id = await wxpay.v3.pay.transactions.id._transaction_id_.get(
        transaction_id=resource["transaction_id"], query={"mchid": MCHID}
    )
    assert by_id.json() == after


async def test_each_kind_answers_its_own_field(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    jsapi = order(inbox, "T-JSAPI-0001", payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
    r = await wxpay.v3.pay.transactions.jsapi.post(json=jsapi)
    conforms(ps.PREPAY_ANSWER["jsapi"], r.json())
    prepay_id = r.json()["prepay_id"]
    # The front end gets paySign parameters; WeChat checks them with the merchant's public key.
    params = paysign.jsapi_params(APPID, prepay_id, sb.merchant.private_key)
    message = paysign.jsapi_message(APPID, params["timeStamp"], params["nonceStr"], params["package"])
    assert params["package"] == f"prepay_id={prepay_id}"
    assert crypto.rsa_verify(message, params["paySign"], sb.merchant.public_key)
    app = await wxpay.v3.pay.transactions.app.post(json=order(inbox, "T-APP-00001"))
    assert set(app.json()) == {"prepay_id"}
    h5_body = order(inbox, "T-H5-000001", scene_info={"payer_client_ip": "14.23.150.211", "h5_info": {"type": "Wap"}})
    h5 = await wxpay.v3.pay.transactions.h5.post(json=h5_body)
    assert h5.json()["h5_url"].startswith(sb.url + "_sandbox/checkout/")
    sb.pay(prepay_id=prepay_id)
    [note] = await notes(sb, inbox, "TRANSACTION.SUCCESS")
    assert note.resource["trade_type"] == "JSAPI"
    assert note.resource["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert (await query(wxpay, "T-H5-000001"))["trade_type"] == "MWEB"


async def test_partner_orders_live_under_the_sub_merchant(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    body = {
        "sp_appid": APPID, "sp_mchid": MCHID, "sub_mchid": "1900000110", "description": "服务商下单",
        "out_trade_no": "P-0000000001", "amount": {"total": 250}, "notify_url": inbox.url,
        "payer": {"sp_openid": "oSP_0001"},
    }
    await wxpay.v3.pay.partner.transactions.jsapi.post(json=body)
    sb.pay("P-0000000001")
    [note] = await notes(sb, inbox, "TRANSACTION.SUCCESS")
    assert note.resource["sp_mchid"] == MCHID and note.resource["sub_mchid"] == "1900000110"
    assert note.resource["payer"] == {"sp_openid": "oSP_0001"}
    r = await wxpay.v3.pay.partner.transactions.outTradeNo._out_trade_no_.get(
        out_trade_no="P-0000000001", query={"sp_mchid": MCHID, "sub_mchid": "1900000110"}
    )
    conforms(ps.PARTNER_ORDER, r.json())
    assert r.json()["trade_state"] == "SUCCESS"
    other = await refused(wxpay.v3.pay.partner.transactions.outTradeNo._out_trade_no_.get(
        out_trade_no="P-0000000001", query={"sp_mchid": MCHID, "sub_mchid": "1900000111"}))
    assert (other.status, other.code) == (404, "ORDER_NOT_EXIST")
    direct = await refused(wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
        out_trade_no="P-0000000001", query={"mchid": MCHID}))
    assert direct.status == 404
    closed = await refused(wxpay.v3.pay.partner.transactions.outTradeNo._out_trade_no_.close.post(
        out_trade_no="P-0000000001", json={"sp_mchid": MCHID, "sub_mchid": "1900000110"}))
    assert closed.code == "ORDERPAID"


async def test_resubmission_is_idempotent_and_reuse_is_refused(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    body = order(inbox)
    first = await native(wxpay, body)
    assert await native(wxpay, body) == first
    changed = await refused(wxpay.v3.pay.transactions.native.post(json={**body, "amount": {"total": 101}}))
    assert (changed.status, changed.code) == (403, "OUT_TRADE_NO_USED")
    other_kind = await refused(wxpay.v3.pay.transactions.app.post(json=body))
    assert other_kind.code == "OUT_TRADE_NO_USED"
    sb.pay(body["out_trade_no"])
    paid = await refused(wxpay.v3.pay.transactions.native.post(json=body))
    assert (paid.status, paid.code) == (400, "ORDERPAID")
    await native(wxpay, order(inbox, "T-CLOSE-0001"))
    await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post(
        out_trade_no="T-CLOSE-0001", json={"mchid": MCHID})
    closed = await refused(wxpay.v3.pay.transactions.native.post(json=order(inbox, "T-CLOSE-0001")))
    assert closed.code == "ORDER_CLOSED"


async def test_close_transitions_and_refusals(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox))
    close = wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close
    r = await close.post(out_trade_no="T20260101000001", json={"mchid": MCHID})
    assert r.status == 204 and r.body == b""
    assert (await query(wxpay, "T20260101000001"))["trade_state"] == "CLOSED"
    again = await close.post(out_trade_no="T20260101000001", json={"mchid": MCHID})
    assert again.status == 204
    with pytest.raises(Failure) as info:
        sb.pay("T20260101000001")
    assert info.value.code == "ORDER_CLOSED"
    closed_refund = await refused(wxpay.v3.refund.domestic.refunds.post(json={
        "out_trade_no": "T20260101000001", "out_refund_no": "R-CLOSED", "amount": {"refund": 1, "total": 100,
                                                                                   "currency": "CNY"}}))
    assert (closed_refund.status, closed_refund.code) == (400, "INVALID_REQUEST")
    missing = await refused(close.post(out_trade_no="T-NOPE-00001", json={"mchid": MCHID}))
    assert (missing.status, missing.code) == (404, "ORDER_NOT_EXIST")
    wrong = await refused(close.post(out_trade_no="T20260101000001", json={"mchid": "1900000999"}))
    assert (wrong.code, wrong.detail["field"]) == ("PARAM_ERROR", "/mchid")


async def test_time_expire_closes_the_order_on_the_clock(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    expire = dt.datetime.fromtimestamp(sb.clock.now() + 120, CST).isoformat(timespec="seconds")
    await native(wxpay, order(inbox, time_expire=expire))
    sb.clock.advance(119)
    assert (await query(wxpay, "T20260101000001"))["trade_state"] == "NOTPAY"
    sb.clock.advance(1)
    doc = await query(wxpay, "T20260101000001")
    assert doc["trade_state"] == "CLOSED" and doc["time_expire"] == expire
    with pytest.raises(Failure):
        sb.pay("T20260101000001")
    past = dt.datetime.fromtimestamp(sb.clock.now() - 1, CST).isoformat(timespec="seconds")
    stale = await refused(wxpay.v3.pay.transactions.native.post(json=order(inbox, "T-PAST-00001", time_expire=past)))
    assert (stale.code, stale.detail["field"]) == ("PARAM_ERROR", "/time_expire")


async def test_fail_and_cancel(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox, "T-FAIL-00001"))
    await native(wxpay, order(inbox, "T-CANCEL-001"))
    sb.cancel_payment("T-CANCEL-001")
    cancelled = await query(wxpay, "T-CANCEL-001")
    assert (cancelled["trade_state"], cancelled["trade_state_desc"]) == ("NOTPAY", "用户取消支付")
    sb.fail_payment("T-FAIL-00001")
    assert (await query(wxpay, "T-FAIL-00001"))["trade_state"] == "PAYERROR"
    with pytest.raises(Failure):
        sb.pay("T-FAIL-00001")
    r = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post(
        out_trade_no="T-FAIL-00001", json={"mchid": MCHID})
    assert r.status == 204 and (await query(wxpay, "T-FAIL-00001"))["trade_state"] == "CLOSED"
    sb.pay("T-CANCEL-001")  # cancelled is still payable
    assert not [n for n in inbox.notes if n.resource["out_trade_no"] == "T-FAIL-00001"]


@pytest.mark.parametrize(
    ("kind", "change", "field_"),
    [
        ("native", lambda b: b.pop("description"), "/description"),
        ("native", lambda b: b.update(out_trade_no="short"), "/out_trade_no"),
        ("native", lambda b: b["amount"].update(total=0), "/amount/total"),
        ("native", lambda b: b.update(time_expire="tomorrow"), "/time_expire"),
        ("jsapi", lambda b: None, "/payer"),
        ("h5", lambda b: None, "/scene_info"),
    ],
)
async def test_schema_refusals(wxpay: Client, inbox: Inbox, kind: str, change: Callable[[dict[str, Any]], Any],
                               field_: str) -> None:
    body = order(inbox)
    change(body)
    err = await refused(wxpay.v3.pay.transactions[kind].post(json=body))
    assert (err.status, err.code, err.detail["field"]) == (400, "PARAM_ERROR", field_)


async def test_unknown_orders_and_foreign_mchid(wxpay: Client) -> None:
    missing = await refused(wxpay.v3.pay.transactions.id._transaction_id_.get(
        transaction_id="4200000000000000000000000000", query={"mchid": MCHID}))
    assert (missing.status, missing.code) == (404, "ORDER_NOT_EXIST")
    foreign = await refused(wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
        out_trade_no="T20260101000001", query={"mchid": "1900000999"}))
    assert (foreign.code, foreign.detail["field"]) == ("PARAM_ERROR", "mchid")


# -- refunds -------------------------------------------------------------------------------------------------
def refund_body(inbox: Inbox, out_refund_no: str, refund: int, total: int = 100, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "out_trade_no": "T20260101000001", "out_refund_no": out_refund_no, "reason": "商品已售完",
        "notify_url": inbox.url, "amount": {"refund": refund, "total": total, "currency": "CNY"},
    }
    body.update(more)
    return body


async def test_refund_lifecycle(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    refunds = wxpay.v3.refund.domestic.refunds
    await native(wxpay, order(inbox))
    unpaid = await refused(refunds.post(json=refund_body(inbox, "R-0001", 30)))
    assert (unpaid.status, unpaid.code) == (400, "INVALID_REQUEST")
    sb.pay("T20260101000001")
    first = (await refunds.post(json=refund_body(inbox, "R-0001", 30))).json()
    conforms(ps.REFUND, first)
    assert first["status"] == "PROCESSING" and first["amount"]["refund"] == 30
    assert (await query(wxpay, "T20260101000001"))["trade_state"] == "REFUND"
    again = (await refunds.post(json=refund_body(inbox, "R-0001", 30))).json()
    assert again["refund_id"] == first["refund_id"] and sb.applied_writes("R-0001") == 1
    reused = await refused(refunds.post(json=refund_body(inbox, "R-0001", 31)))
    assert reused.code == "INVALID_REQUEST" and reused.detail["field"] == "/out_refund_no"
    wrong_total = await refused(refunds.post(json=refund_body(inbox, "R-0002", 10, total=99)))
    assert (wrong_total.code, wrong_total.detail["field"]) == ("PARAM_ERROR", "/amount/total")
    second = (await refunds.post(json=refund_body(inbox, "R-0002", 50))).json()
    too_much = await refused(refunds.post(json=refund_body(inbox, "R-0003", 21)))
    assert (too_much.code, too_much.detail["field"]) == ("INVALID_REQUEST", "/amount/refund")
    # The outcome falls due on the sandbox clock (default: 1 s after the application).
    sb.clock.advance(1)
    done = await notes(sb, inbox, "REFUND.SUCCESS", count=2)
    for note in done:
        conforms(ps.REFUND_RESOURCE, note.resource)
        assert note.original_type == "refund" and note.summary == "退款成功"
    assert {n.resource["out_refund_no"] for n in done} == {"R-0001", "R-0002"}
    got = (await refunds._out_refund_no_.get(out_refund_no="R-0002")).json()
    assert got["status"] == "SUCCESS" and got["refund_id"] == second["refund_id"]
    assert got["success_time"] == dt.datetime.fromtimestamp(sb.clock.now(), CST).isoformat(timespec="seconds")
    last = (await refunds.post(json=refund_body(inbox, "R-0003", 20))).json()  # exactly what is left
    assert last["status"] == "PROCESSING"
    none_left = await refused(refunds.post(json=refund_body(inbox, "R-0004", 1)))
    assert none_left.code == "INVALID_REQUEST"
    missing = await refused(refunds._out_refund_no_.get(out_refund_no="R-9999"))
    assert (missing.status, missing.code) == (404, "RESOURCE_NOT_EXISTS")


@pytest.mark.parametrize("outcome", ["ABNORMAL", "CLOSED"])
async def test_refund_outcomes_are_selectable(sb: Sandbox, wxpay: Client, inbox: Inbox, outcome: str) -> None:
    await native(wxpay, order(inbox))
    sb.pay("T20260101000001")
    sb.payments.ledger.refund_outcome = outcome
    await wxpay.v3.refund.domestic.refunds.post(json=refund_body(inbox, "R-0001", 100))
    sb.clock.advance(1)
    [note] = await notes(sb, inbox, f"REFUND.{outcome}")
    assert note.resource["refund_status"] == outcome
    left = await wxpay.v3.refund.domestic.refunds._out_refund_no_.get(out_refund_no="R-0001")
    assert left.json()["status"] == outcome
    retry = wxpay.v3.refund.domestic.refunds.post(json=refund_body(inbox, "R-0002", 100))
    if outcome == "CLOSED":  # a closed refund gives its amount back
        assert (await retry).json()["status"] == "PROCESSING"
    else:
        assert (await refused(retry)).code == "INVALID_REQUEST"


async def test_refund_without_notify_url_goes_to_the_configured_url(keys: Keys) -> None:
    nowhere = Inbox(url="http://127.0.0.1:9/notify")  # nothing listens: the first attempt is what counts
    configured = "http://127.0.0.1:9/refunds"
    async with Sandbox(merchant=keys.merchant, platform=keys.platform, notify_url=configured) as box, \
            box.client(retry=None) as client:
        await native(client, order(nowhere))
        box.pay("T20260101000001")
        body = refund_body(nowhere, "R-0001", 10)
        del body["notify_url"]
        await client.v3.refund.domestic.refunds.post(json=body)
        box.settle_refund("R-0001")
        [delivery] = await box.notifications.wait("REFUND.SUCCESS", delivered=False)
    assert delivery.url == configured and delivery.resource["out_refund_no"] == "R-0001"


async def test_settle_refund_now_and_by_transaction_id(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox))
    transaction_id = sb.pay("T20260101000001")["transaction_id"]
    body = refund_body(inbox, "R-0001", 40)
    del body["out_trade_no"]
    body["transaction_id"] = transaction_id
    await wxpay.v3.refund.domestic.refunds.post(json=body)
    doc = sb.settle_refund("R-0001", "SUCCESS")
    assert doc["status"] == "SUCCESS"
    [note] = await notes(sb, inbox, "REFUND.SUCCESS")
    assert note.resource["transaction_id"] == transaction_id
    assert sb.settle_refund("R-0001", "CLOSED")["status"] == "SUCCESS"  # an outcome is final
    neither = refund_body(inbox, "R-0002", 1)
    del neither["out_trade_no"]
    err = await refused(wxpay.v3.refund.domestic.refunds.post(json=neither))
    assert err.code == "PARAM_ERROR"


async def test_partner_refund_and_bill_are_per_sub_merchant(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    for sub, no in (("1900000110", "P-0000000001"), ("1900000111", "P-0000000002")):
        await wxpay.v3.pay.partner.transactions.native.post(json={
            "sp_appid": APPID, "sp_mchid": MCHID, "sub_mchid": sub, "description": "服务商下单", "out_trade_no": no,
            "amount": {"total": 500}, "notify_url": inbox.url})
        sb.pay(no)
    body = {"sub_mchid": "1900000110", "out_trade_no": "P-0000000001", "out_refund_no": "PR-1",
            "notify_url": inbox.url, "amount": {"refund": 100, "total": 500, "currency": "CNY"}}
    wrong_sub = await refused(wxpay.v3.refund.domestic.refunds.post(json={**body, "sub_mchid": "1900000111"}))
    assert wrong_sub.code == "ORDER_NOT_EXIST"
    await wxpay.v3.refund.domestic.refunds.post(json=body)
    sb.settle_refund("PR-1")
    [note] = await notes(sb, inbox, "REFUND.SUCCESS")
    assert (note.resource["sp_mchid"], note.resource["sub_mchid"]) == (MCHID, "1900000110")
    got = await wxpay.v3.refund.domestic.refunds._out_refund_no_.get(
        out_refund_no="PR-1", query={"sub_mchid": "1900000110"})
    assert got.json()["status"] == "SUCCESS"
    elsewhere = await refused(wxpay.v3.refund.domestic.refunds._out_refund_no_.get(out_refund_no="PR-1"))
    assert elsewhere.status == 404
    step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2030-01-01", "sub_mchid": "1900000110"})).json()
    rows = parse_bill((await wxpay.download(step1)).content).rows
    assert {(r["特约商户号"], r["交易状态"]) for r in rows} == {("1900000110", "SUCCESS"), ("1900000110", "REFUND")}
    everything = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2030-01-01"})).json()
    assert len(parse_bill((await wxpay.download(everything)).content).rows) == 3


def test_sync_sandbox_plays_the_payer(keys: Keys) -> None:
    with SyncSandbox(merchant=keys.merchant, platform=keys.platform) as sb, sb.client(retry=None) as wxpay:
        body = {"appid": APPID, "mchid": MCHID, "description": "同步", "out_trade_no": "S-0000000001",
                "amount": {"total": 1}, "notify_url": "http://127.0.0.1:9/notify"}
        wxpay.v3.pay.transactions.native.post(json=body)
        assert sb.pay("S-0000000001")["trade_state"] == "SUCCESS"
        wxpay.v3.refund.domestic.refunds.post(json={
            "out_trade_no": "S-0000000001", "out_refund_no": "S-R-1", "amount": {"refund": 1, "total": 1,
                                                                                  "currency": "CNY"}})
        assert sb.settle_refund("S-R-1", "ABNORMAL")["status"] == "ABNORMAL"
        r = wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(out_trade_no="S-0000000001",
                                                                     query={"mchid": MCHID})
        assert r.json()["trade_state"] == "REFUND"


# -- notifications -------------------------------------------------------------------------------------------
async def test_transaction_notification_is_retried_on_the_payment_schedule(
    sb: Sandbox, wxpay: Client, inbox: Inbox
) -> None:
    await native(wxpay, order(inbox))
    inbox.replies = [500, 503]
    sb.pay("T20260101000001")
    await sb.notifications.wait("TRANSACTION.SUCCESS", delivered=False)
    sb.clock.advance(15)
    await sb.notifications.wait(lambda d: len(d.attempts) >= 2, delivered=False)
    sb.clock.advance(15)
    [delivery] = await sb.notifications.wait("TRANSACTION.SUCCESS")
    assert [a.status for a in delivery.attempts] == [500, 503, 204]
    assert [a.at - T0 for a in delivery.attempts] == [0, 15, 30]
    assert len(inbox.notes) == 1


# -- bills ---------------------------------------------------------------------------------------------------
async def pay_day(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox, "T-BILL-00001", total=12345, description="商品,含逗号"))
    await native(wxpay, order(inbox, "T-BILL-00002", total=200))
    await native(wxpay, order(inbox, "T-BILL-00003", total=300))  # never paid: not in the bill
    sb.pay("T-BILL-00001")
    sb.pay("T-BILL-00002", amount=150)
    sb.clock.advance(60)
    await wxpay.v3.refund.domestic.refunds.post(json={
        "out_trade_no": "T-BILL-00001", "out_refund_no": "R-BILL-1", "amount": {"refund": 345, "total": 12345,
                                                                                "currency": "CNY"}})
    sb.settle_refund("R-BILL-1")


@pytest.mark.parametrize("tar_type", [None, "GZIP"])
async def test_trade_bill_reconciles(sb: Sandbox, wxpay: Client, inbox: Inbox, tar_type: str | None) -> None:
    await pay_day(sb, wxpay, inbox)
    query = {"bill_date": "2030-01-01", **({"tar_type": tar_type} if tar_type else {})}
    step1 = (await wxpay.v3.bill.tradebill.get(query=query)).json()
    conforms(ps.BILL_RESPONSE, step1)
    assert step1["hash_type"] == "SHA1" and step1["download_url"].startswith(sb.url + "v3/billdownload/file?token=")
    result = await wxpay.download(step1)
    bill = parse_bill(result.content)
    rows = {(r["商户订单号"], r["交易状态"]): r for r in bill.rows}
    assert set(rows) == {("T-BILL-00001", "SUCCESS"), ("T-BILL-00002", "SUCCESS"), ("T-BILL-00001", "REFUND")}
    first = rows["T-BILL-00001", "SUCCESS"]
    paid = sb.payments.order("T-BILL-00001")
    assert first["微信订单号"] == paid.transaction_id and first["商品名称"] == "商品,含逗号"
    assert first["订单金额"] == "123.45" and first["应结订单金额"] == "123.45" and first["手续费"] == "0.74"
    assert rows["T-BILL-00002", "SUCCESS"]["代金券金额"] == "0.50"
    refund = rows["T-BILL-00001", "REFUND"]
    assert (refund["商户退款单号"], refund["退款金额"], refund["退款状态"]) == ("R-BILL-1", "3.45", "SUCCESS")
    assert bill.summary == {"总交易单数": "3", "应结订单总金额": "124.95", "退款总金额": "3.45",
                            "充值券退款总金额": "0.00", "手续费总金额": "0.73", "订单总金额": "125.45",
                            "申请退款总金额": "3.45"}
    success = await wxpay.download((await wxpay.v3.bill.tradebill.get(
        query={"bill_date": "2030-01-01", "bill_type": "SUCCESS"})).json())
    assert {r["交易状态"] for r in parse_bill(success.content).rows} == {"SUCCESS"}
    refunds = await wxpay.download((await wxpay.v3.bill.tradebill.get(
        query={"bill_date": "2030-01-01", "bill_type": "REFUND"})).json())
    [only] = parse_bill(refunds.content).rows
    assert (only["交易时间"], only["退款申请时间"]) == ("2030-01-01 12:00:00", "2030-01-01 12:01:00")


async def test_fundflow_bill_and_refusals(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await pay_day(sb, wxpay, inbox)
    step1 = (await wxpay.v3.bill.fundflowbill.get(query={"bill_date": "2030-01-01", "tar_type": "GZIP"})).json()
    bill = parse_bill((await wxpay.download(step1)).content)
    assert [(r["业务名称"], r["收支类型"], r["收支金额（元）"]) for r in bill.rows] == [
        ("交易", "收入", "123.45"), ("扣除交易手续费", "支出", "0.74"), ("交易", "收入", "1.50"),
        ("扣除交易手续费", "支出", "0.01"), ("退款", "支出", "3.45"),
    ]
    assert bill.rows[-1]["账户结余（元）"] == "120.75"
    assert bill.summary == {"资金流水总笔数": "5", "收入笔数": "2", "收入金额": "124.95", "支出笔数": "3",
                            "支出金额": "4.20"}
    empty = await refused(wxpay.v3.bill.tradebill.get(query={"bill_date": "2029-12-31"}))
    assert (empty.status, empty.code) == (400, "NO_STATEMENT_EXIST")
    future = await refused(wxpay.v3.bill.tradebill.get(query={"bill_date": "2030-01-02"}))
    assert future.code == "INVALID_REQUEST"
    operation = await refused(wxpay.v3.bill.fundflowbill.get(
        query={"bill_date": "2030-01-01", "account_type": "OPERATION"}))
    assert operation.code == "NO_STATEMENT_EXIST"
    bad = await refused(wxpay.v3.bill.tradebill.get(query={"bill_date": "2030-01-01", "bill_type": "DAILY"}))
    assert bad.code == "PARAM_ERROR"
    sb.clock.advance(300)  # the download URL lives 5 minutes
    expired = await refused(wxpay.download(step1))
    assert (expired.status, expired.code) == (400, "INVALID_REQUEST")


async def test_bill_file_is_unsigned_and_only_for_its_merchant(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await pay_day(sb, wxpay, inbox)
    step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2030-01-01"})).json()
    await wxpay.download(step1)
    file_answer = sb.seen[-1]
    assert file_answer.target.startswith("/v3/billdownload/file?token=")
    other = Ledger(clock=sb.clock.now)
    assert other.orders == {}  # a ledger is per sandbox
    sb.trust_merchant("1900000222", sb.merchant.serial, sb.merchant.public_key)
    async with Client("1900000222", sb.merchant.serial, sb.merchant.private_key, base_url=sb.url, certs=sb.certs(),
                      retry=None) as stranger:
        err = await refused(stranger.download(step1))
    assert (err.status, err.code) == (403, "NO_AUTH")


async def test_certificates_answer_conforms(wxpay: Client) -> None:
    r = await wxpay.v3.certificates.get()
    conforms(ps.CERTIFICATES, r.json())


# -- the payer's admin interface and CLI -----------------------------------------------------------------------
async def test_admin_interface_pays_fails_and_settles(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox))
    await native(wxpay, order(inbox, "T-ADMIN-FAIL"))
    base = sb.url + "_sandbox/payments/"
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "pay", json={"out_trade_no": "T20260101000001", "amount": 80}) as r:
            assert r.status == 200 and (await r.json())["amount"]["payer_total"] == 80
        async with http.post(base + "pay", json={"out_trade_no": "T20260101000001"}) as r:
            assert r.status == 400 and (await r.json())["code"] == "ORDERPAID"
        async with http.post(base + "fail", json={"out_trade_no": "T-ADMIN-FAIL"}) as r:
            assert (await r.json())["trade_state"] == "PAYERROR"
        async with http.post(base + "pay", json={"out_trade_no": "T-NOPE"}) as r:
            assert r.status == 400
        await wxpay.v3.refund.domestic.refunds.post(json=refund_body(inbox, "R-0001", 10))
        async with http.post(base + "settle-refund", json={"out_refund_no": "R-0001", "outcome": "ABNORMAL"}) as r:
            assert (await r.json())["status"] == "ABNORMAL"
        async with http.get(base + "orders") as r:
            states = {o["out_trade_no"]: o["trade_state"] for o in await r.json()}
    assert states == {"T20260101000001": "REFUND", "T-ADMIN-FAIL": "PAYERROR"}
    await notes(sb, inbox, "REFUND.ABNORMAL")


async def test_payer_cli(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    await native(wxpay, order(inbox))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wechatpay_chain.sandbox", "payer", *args, "--url", sb.url],
                              capture_output=True, text=True, timeout=60, check=False)

    done = await asyncio.to_thread(run, "pay", "T20260101000001", "--openid", "o-cli")
    assert done.returncode == 0, done.stderr
    assert '"trade_state":"SUCCESS"' in done.stdout.replace(" ", "")
    again = await asyncio.to_thread(run, "pay", "T20260101000001")
    assert again.returncode == 1 and "ORDERPAID" in again.stdout
    [note] = await notes(sb, inbox, "TRANSACTION.SUCCESS")
    assert note.resource["payer"]["openid"] == "o-cli"


async def test_checkout_page_over_http(sb: Sandbox, wxpay: Client, inbox: Inbox) -> None:
    code_url = await native(wxpay, order(inbox, total=12345))
    async with aiohttp.ClientSession() as http:
        async with http.get(code_url) as r:
            page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        assert "¥123.45" in page and "Image形象店-深圳腾大-QQ公仔" in page and 'id="state"' in page
        assert "<svg" in page and 'id="pay"' in page
        async with http.post(code_url + "/cancel", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith(code_url + "?message=")
        async with http.post(code_url + "/pay") as r:
            page = await r.text()
        assert 'id="state">SUCCESS<' in page and 'id="pay"' not in page
        async with http.post(code_url + "/pay") as r:
            assert "ORDERPAID" in await r.text()
        async with http.get(sb.url + "_sandbox/checkout/wx-unknown") as r:
            assert r.status == 404
    await notes(sb, inbox, "TRANSACTION.SUCCESS")


async def test_whole_integration_against_a_standalone_sandbox(tmp_path: Path) -> None:
    """A separate sandbox process: config.json → Client, the payer from the CLI, callbacks, refund, bill."""
    proc = start_standalone(tmp_path, "--quiet")
    try:
        config = wait_for_config(tmp_path / "config.json", proc)
        async with Client(**config) as wxpay:  # type: ignore[arg-type]
            arrived: asyncio.Queue[Notification] = asyncio.Queue()
            app = web.Application()
            app.router.add_post("/notify", aiohttp_handler(wxpay, arrived.put_nowait))
            async with serve(app) as server:
                url = str(server.make_url("/notify"))
                base = str(config["base_url"])
                code_url = (await wxpay.v3.pay.transactions.native.post(json={
                    "appid": APPID, "mchid": config["mchid"], "description": "独立沙箱", "out_trade_no": "SA-00000001",
                    "amount": {"total": 300}, "notify_url": url})).json()["code_url"]
                async with aiohttp.ClientSession() as http, http.get(code_url) as page:
                    assert page.status == 200 and "¥3.00" in await page.text()

                def cli(*args: str) -> subprocess.CompletedProcess[str]:
                    return subprocess.run([sys.executable, "-m", "wechatpay_chain", "sandbox", "payer", *args,
                                           "--url", base], capture_output=True, text=True, timeout=60, check=False)

                paid = await asyncio.to_thread(cli, "pay", "SA-00000001", "--openid", "o-standalone")
                assert paid.returncode == 0, paid.stderr + paid.stdout
                note = await asyncio.wait_for(arrived.get(), 15)
                assert (note.event_type, note.resource["payer"]["openid"]) == ("TRANSACTION.SUCCESS", "o-standalone")
                await wxpay.v3.refund.domestic.refunds.post(json={
                    "out_trade_no": "SA-00000001", "out_refund_no": "SA-R-1", "notify_url": url,
                    "amount": {"refund": 300, "total": 300, "currency": "CNY"}})
                settled = await asyncio.to_thread(cli, "settle-refund", "SA-R-1", "--outcome", "SUCCESS")
                assert settled.returncode == 0, settled.stderr + settled.stdout
                note = await asyncio.wait_for(arrived.get(), 15)
                assert (note.event_type, note.resource["refund_status"]) == ("REFUND.SUCCESS", "SUCCESS")
                r = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
                    out_trade_no="SA-00000001", query={"mchid": config["mchid"]})
                assert r.json()["trade_state"] == "REFUND"
                day = r.json()["success_time"][:10]  # the sandbox's China-time day of the payment
                step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": day})).json()
                bill = parse_bill((await wxpay.download(step1)).content)
                assert {(row["商户订单号"], row["交易状态"]) for row in bill.rows} == {
                    ("SA-00000001", "SUCCESS"), ("SA-00000001", "REFUND")}
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


# -- the checkout page in a real browser -------------------------------------------------------------------------
@pytest.fixture
def chromium_present() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.mark.usefixtures("chromium_present")
async def test_checkout_page_in_headless_chromium(sb: Sandbox, wxpay: Client, inbox: Inbox, tmp_path: Path) -> None:
    code_url = await native(wxpay, order(inbox, total=12345))
    async with Chromium.launch() as page:
        await page.goto(code_url)
        assert await page.text("#amount") == "¥123.45"
        assert await page.text("#state") == "NOTPAY"
        assert await page.evaluate("document.querySelector('#qr svg path') !== null")
        assert await page.evaluate("document.querySelector('#qr').title") == code_url
        await page.screenshot(tmp_path / "before.png")
        await page.click("#pay")
        assert await page.text("#state") == "SUCCESS"
        assert await page.evaluate("location.href") == code_url + "?message=" + quote("支付成功 Paid")
        assert await page.evaluate("document.querySelector('#pay')") is None
        await page.screenshot(tmp_path / "after.png")
        transaction_id = await page.text("#transaction-id")
    [note] = await notes(sb, inbox, "TRANSACTION.SUCCESS")
    assert note.resource["out_trade_no"] == "T20260101000001"
    assert note.resource["transaction_id"] == transaction_id
    assert (await query(wxpay, "T20260101000001"))["trade_state"] == "SUCCESS"
    assert (tmp_path / "after.png").read_bytes().startswith(b"\x89PNG")
