"""APIv2 signing as wechatpay-php 1.4.12 does it: GET query as the data, sign in place, nonceless, mch_id check.

A local server recomputes every ``sign`` from the bytes it received (query string or XML body).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import MCHID, serve

from wechatpay_chain import Client, TemplateError
from wechatpay_chain.v2 import HMAC_SHA256, MD5, algorithm_for, parse_xml, sign, to_xml, verify

KEY = "exposed0your0key0here0have0risks"
SEEN: list[tuple[str, list[tuple[str, str]], dict[str, Any]]] = []


async def _echo(request: web.Request) -> web.Response:
    """Recompute the sign from the received bytes; answer a signed document naming what was checked."""
    pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)
    raw = await request.read()
    data = parse_xml(raw) if raw else dict(pairs)
    SEEN.append((request.method, pairs, data))
    received = data.get("sign", "")
    ok = verify(data, KEY) and algorithm_for(received) == data.get("sign_type", MD5)
    doc = {"return_code": "SUCCESS", "result_code": "SUCCESS" if ok else "FAIL", "nonce_str": "n"}
    doc["sign"] = sign(doc, KEY, data.get("sign_type", MD5))  # answered the way the request was signed
    return web.Response(body=to_xml(doc), content_type="text/xml")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    SEEN.clear()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    async with serve(app) as srv:
        yield srv


def _client(server: TestServer) -> Client:
    return Client(MCHID, apiv2_key=KEY, base_url=str(server.make_url("/")))


async def test_get_query_is_the_signed_data_with_sign_replaced_in_place(server: TestServer) -> None:
    """README_APIv2-style ``GET v2/appauth/getaccesstoken`` with a stale ``sign`` and ``sign_type`` HMAC-SHA256."""
    query = {"mch_id": MCHID, "appid": "wx8888888888888888", "sign_type": HMAC_SHA256, "sign": "STALE"}
    async with _client(server) as wxpay:
        r = await wxpay.v2.appauth.getaccesstoken.get({"query": query})
    assert r.xml()["result_code"] == "SUCCESS"
    method, pairs, data = SEEN[-1]
    names = [k for k, _ in pairs]
    assert method == "GET" and names == ["mch_id", "appid", "sign_type", "sign", "nonce_str"]  # sign in place, once
    assert len(data["sign"]) == 64 and data["sign"] != "STALE" and verify(data, KEY)
    assert data["sign"] == sign({k: v for k, v in data.items() if k != "sign"}, KEY, HMAC_SHA256)


async def test_sign_inside_xml_is_overwritten_and_nonceless_counts_when_present(server: TestServer) -> None:
    async with _client(server) as wxpay:
        await wxpay.v2.pay.orderquery.post(xml={"mch_id": MCHID, "out_trade_no": "T1", "sign": "x"})
        assert SEEN[-1][2]["sign"] != "x" and "nonce_str" in SEEN[-1][2]
        # isset($options['nonceless']): any value but None means "do not add nonce_str", even False.
        for flag in (True, False, 0, ""):
            await wxpay.v2.pay.orderquery.post(xml={"mch_id": MCHID, "out_trade_no": "T1"}, nonceless=flag)
            assert "nonce_str" not in SEEN[-1][2]
        await wxpay.v2.pay.orderquery.post(xml={"mch_id": MCHID, "out_trade_no": "T1"}, nonceless=None)
        assert "nonce_str" in SEEN[-1][2]
    assert all(verify(data, KEY) for _, _, data in SEEN)


async def test_only_the_first_merchant_field_present_is_checked(server: TestServer) -> None:
    async with _client(server) as wxpay:
        # mch_id matches; a different mchid after it is the payee's business, not checked (as PHP's `??` chain).
        await wxpay.v2.pay.orderquery.post(xml={"mch_id": MCHID, "mchid": "1", "combine_mch_id": "2"})
        await wxpay.v2.mmpaymkttransfers.promotion.transfers.post(xml={"mchid": MCHID, "combine_mch_id": "2"})
        await wxpay.v2.pay.orderquery.get(query={"combine_mch_id": MCHID})
        sent = len(SEEN)
        for doc in ({"mch_id": "1", "mchid": MCHID}, {"mchid": "1"}, {"combine_mch_id": "1"}):
            with pytest.raises(TemplateError, match="differs"):
                await wxpay.v2.pay.orderquery.post(xml=doc)
        with pytest.raises(TemplateError, match="differs"):
            await wxpay.v2.pay.orderquery.get(query={"mch_id": "1"})
        with pytest.raises(TemplateError, match="not both"):
            await wxpay.v2.pay.orderquery.get(query={"mch_id": MCHID}, xml={"mch_id": MCHID})
    assert len(SEEN) == sent  # refused before any I/O


async def test_get_with_xml_still_signs_into_the_query(server: TestServer) -> None:
    async with _client(server) as wxpay:
        r = await wxpay.v2.risk.getviolation.get(xml={"mch_id": MCHID, "note": "a b&c"})
    assert r.xml()["result_code"] == "SUCCESS"
    assert dict(SEEN[-1][1])["note"] == "a b&c"
