"""The sandbox over real loopback HTTP: operations, business rules, signatures, modes, faults, notifications."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import REFERENCE, Keys, serve
from conftest import keyed_sandbox as sandbox
from test_schema import CALLS
from test_schema import CASES as SCHEMA_CASES

from wechatpay_chain import (
    APIError,
    Client,
    OutcomeUnknown,
    RetryPolicy,
    TransportError,
    VerificationError,
    crypto,
)
from wechatpay_chain.sandbox import Faults, Sandbox, SyncSandbox, samples
from wechatpay_chain.schema import validate_response
from wechatpay_chain.signing import RSASigner, Verifier, authorization, request_message
from wechatpay_chain.testing import generate_key_pair
from wechatpay_chain.types import CreateProductCouponRequest

PREFIX = "v3/marketing/partner/product-coupon/product-coupons"
BRAND = "120344"
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)


def coupon(out_request_no: str, usage_mode: str = "PROGRESSIVE_BUNDLE", **changes: Any) -> CreateProductCouponRequest:
    body: Any = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no=out_request_no, usage_mode=usage_mode, **changes)
    return body  # type: ignore[no-any-return]


def stock_request(out_request_no: str, brand_id: str = BRAND) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(samples.ADD_STOCK["json"])
    body.update(out_request_no=out_request_no, brand_id=brand_id)
    return body


def bundle_request(out_request_no: str, entries: int = 3) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(samples.ADD_STOCK_BUNDLE["json"])
    body["out_request_no"] = out_request_no
    body["brand_id"] = BRAND
    rule = body["stock_bundle"]["progressive_bundle_usage_rule"]
    for name in ("normal_coupon_list", "discount_coupon_list", "exchange_coupon_list"):
        rule[name] = [dict(rule[name][0], threshold=1000 * (i + 1)) for i in range(entries)]
    return body


async def create(wxpay: Client, out_request_no: str = "coupon_0001", **changes: Any) -> dict[str, Any]:
    r = await wxpay[PREFIX].post(json=coupon(out_request_no, **changes))
    doc: dict[str, Any] = r.json()
    return doc


# -- the six operations ----------------------------------------------------------------------------------------
async def test_every_operation_succeeds_with_documented_shapes(sb: Sandbox, wxpay: Client) -> None:
    created = await create(wxpay)
    validate_response("POST", PREFIX, created)
    cid = created["product_coupon_id"]
    assert created["state"] == "EFFECTIVE"
    assert created["stock"]["stock_id"] == f"{cid}001"
    assert created["stock"]["sent_count_info"] == {"total_count": 0, "today_count": 0}
    assert list(created)[:3] == ["product_coupon_id", "state", "brand_id"]  # table order

    added = (await wxpay[PREFIX + "/{id}/stocks"].post(id=cid, json=stock_request("stock_0001"))).json()
    validate_response("POST", PREFIX + "/{id}/stocks", added)
    assert (added["product_coupon_id"], added["brand_id"], added["state"]) == (cid, BRAND, "SENDING")

    listed = (await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query={"brand_id": BRAND})).json()
    validate_response("GET", PREFIX + "/{id}/stocks", listed)
    assert listed["total_count"] == 2
    assert "next_page_token" not in listed

    one = wxpay[PREFIX + "/{p}/stocks/{s}"]
    got = (await one.get(p=cid, s=added["stock_id"], query={"brand_id": BRAND})).json()
    validate_response("GET", PREFIX + "/{p}/stocks/{s}", got)
    assert got == added

    patch = copy.deepcopy(samples.PATCH_STOCK["json"])
    patch.update(out_request_no="patch_0001", remark="改", store_scope="SPECIFIC")
    patched = (await one.patch(p=cid, s=added["stock_id"], json=patch)).json()
    validate_response("PATCH", PREFIX + "/{p}/stocks/{s}", patched)
    assert (patched["remark"], patched["store_scope"]) == ("改", "SPECIFIC")
    assert patched["coupon_display_info"] == patch["coupon_display_info"]

    bundle = (await wxpay[PREFIX + "/{p}/stock-bundles"].post(p=cid, json=bundle_request("bundle_0001"))).json()
    validate_response("POST", PREFIX + "/{p}/stock-bundles", bundle)
    assert [s["stock_bundle_info"] for s in bundle["stock_list"]] == [
        {"stock_bundle_id": bundle["stock_bundle_id"], "stock_bundle_index": i} for i in range(3)
    ]
    rules = [s["progressive_bundle_usage_rule"] for s in bundle["stock_list"]]
    assert [r["normal_coupon"]["threshold"] for r in rules] == [1000, 2000, 3000]
    assert "normal_coupon_list" not in rules[0]
    listed = (await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query={"brand_id": BRAND, "page_size": 50})).json()
    assert listed["total_count"] == 5
    validate_response("GET", PREFIX + "/{id}/stocks", listed)


async def test_pagination_and_state_filter(sb: Sandbox, wxpay: Client) -> None:
    cid = (await create(wxpay))["product_coupon_id"]
    for n in range(6):
        await wxpay[PREFIX + "/{id}/stocks"].post(id=cid, json=stock_request(f"page_{n:04d}"))
    await sb.set_stock_state(cid, f"{cid}003", "PAUSED")
    seen: list[str] = []
    query: dict[str, Any] = {"brand_id": BRAND, "page_size": 3}
    totals = set()
    while True:
        page = (await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query=query)).json()
        totals.add(page["total_count"])
        seen += [s["stock_id"] for s in page["stock_list"]]
        if "next_page_token" not in page:
            break
        query["page_token"] = page["next_page_token"]
    assert seen == [f"{cid}{n:03d}" for n in range(1, 8)]
    assert totals == {7}
    paused = (await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query={"brand_id": BRAND, "state": "PAUSED"})).json()
    assert (paused["total_count"], [s["stock_id"] for s in paused["stock_list"]]) == (1, [f"{cid}003"])
    for bad in ({"page_token": "garbage!"}, {"page_size": 0}, {"page_size": 51}, {"page_size": "x"}, {"state": "NOPE"}):
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query={"brand_id": BRAND, **bad})
        assert (info.value.status, info.value.code, info.value.detail["location"]) == (400, "PARAM_ERROR", "query")
        assert info.value.detail["field"] == next(iter(bad))


async def test_not_found_and_brand_mismatch(wxpay: Client) -> None:
    cid = (await create(wxpay))["product_coupon_id"]
    calls = [
        wxpay[PREFIX + "/{id}/stocks"].post(id="404", json=stock_request("nf_00001")),
        wxpay[PREFIX + "/{id}/stocks"].get(id="404", query={"brand_id": BRAND}),
        wxpay[PREFIX + "/{p}/stocks/{s}"].get(p=cid, s="nope", query={"brand_id": BRAND}),
        wxpay[PREFIX + "/{p}/stocks/{s}"].get(p=cid, s=f"{cid}001", query={"brand_id": "999"}),
        wxpay[PREFIX + "/{id}/stocks"].post(id=cid, json=stock_request("nf_00002", brand_id="999")),
        wxpay.v3.no.such.api.get(),
    ]
    for call in calls:
        with pytest.raises(APIError) as info:
            await call
        assert (info.value.status, info.value.code) == (404, "NOT_FOUND")
    with pytest.raises(APIError, match="不属于品牌 999"):
        await wxpay[PREFIX + "/{id}/stocks"].get(id=cid, query={"brand_id": "999"})


async def test_business_rules(keys: Keys) -> None:
    async with sandbox(keys, brands=frozenset({BRAND})) as box, box.client(retry=None) as wxpay:
        single = (await create(wxpay, "single_0001", usage_mode="SINGLE"))["product_coupon_id"]
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX + "/{p}/stock-bundles"].post(p=single, json=bundle_request("bundle_0002"))
        assert (info.value.status, info.value.code) == (400, "INVALID_REQUEST")
        assert "PROGRESSIVE_BUNDLE" in str(info.value)
        body = stock_request("rule_00001")
        del body["stock"]["single_usage_rule"]
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX + "/{id}/stocks"].post(id=single, json=body)
        assert (info.value.code, info.value.detail["field"]) == ("INVALID_REQUEST", "/stock/single_usage_rule")
        sequential: Any = coupon("seq_000001", "SEQUENTIAL")
        del sequential["sequential_usage_info"]
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX].post(json=sequential)
        assert (info.value.code, info.value.detail["field"]) == ("INVALID_REQUEST", "/sequential_usage_info")
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX].post(json={**sequential, "sequential_usage_info": None})
        assert (info.value.code, info.value.detail["issue"]) == ("PARAM_ERROR", "must not be null (omit the member instead)")
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX].post(json=coupon("brand_0001", brand_id="777"))
        assert (info.value.status, info.value.code) == (403, "NO_AUTH")
        bundled = (await create(wxpay, "bundle_c01"))["product_coupon_id"]
        uneven = bundle_request("bundle_0003")
        uneven["stock_bundle"]["progressive_bundle_usage_rule"]["discount_coupon_list"].pop()
        with pytest.raises(APIError, match="one entry per stock"):
            await wxpay[PREFIX + "/{p}/stock-bundles"].post(p=bundled, json=uneven)
        with pytest.raises(APIError) as info:
            await wxpay[PREFIX + "/{p}/stock-bundles"].post(p=bundled, json=samples.ADD_STOCK_BUNDLE_000["json"])
        assert info.value.code == "PARAM_ERROR"
        assert info.value.detail["field"] == "/stock_bundle/stock_send_rule/progressive_bundle_usage_rule"
        for raw in (b"", b"not json", b"[1]"):
            with pytest.raises(APIError) as info:
                await wxpay[PREFIX].post(body=raw)
            assert info.value.code == "PARAM_ERROR"


@pytest.mark.parametrize(("name", "where", "doc", "expected"), SCHEMA_CASES[::7])
async def test_param_error_names_the_field(wxpay: Client, name: str, where: str, doc: Any, expected: str) -> None:
    """A sample of the table-driven cases of test_schema, sent to the server: same field, same rule."""
    method, template, options = CALLS[name]
    values = {k: v for k, v in options.items() if k not in ("json", "query")}
    with pytest.raises(APIError) as info:
        await getattr(wxpay.chain(template), method.lower())(**values, **{where: doc})
    assert (info.value.status, info.value.code) == (400, "PARAM_ERROR")
    field = expected.split(": ", 1)[0].split(".", 1)[1]
    assert info.value.detail["location"] == ("body" if where == "json" else "query")
    pointer = info.value.detail["field"]
    assert pointer.strip("/").replace("/", ".") == field.replace("[", ".").replace("]", "")


# -- idempotency and rate limits -------------------------------------------------------------------------------
async def test_idempotent_replay_and_already_exists(sb: Sandbox, wxpay: Client) -> None:
    first = await wxpay[PREFIX].post(json=coupon("idem_00001"))
    again = await wxpay[PREFIX].post(json=coupon("idem_00001"))
    assert again.body == first.body
    assert again.request_id != first.request_id
    assert sb.applied_writes("idem_00001") == 1
    assert len(sb.store.coupons) == 1
    with pytest.raises(APIError) as info:
        await wxpay[PREFIX].post(json=coupon("idem_00001", scope="SINGLE"))
    assert (info.value.status, info.value.code) == (400, "ALREADY_EXISTS")
    cid = first.json()["product_coupon_id"]
    patch = {"brand_id": BRAND, "out_request_no": "idem_patch1", "remark": "一"}
    one = wxpay[PREFIX + "/{p}/stocks/{s}"]
    assert (await one.patch(p=cid, s=f"{cid}001", json=patch)).json()["remark"] == "一"
    await one.patch(p=cid, s=f"{cid}001", json={**patch, "out_request_no": "idem_patch2", "remark": "二"})
    replay = (await one.patch(p=cid, s=f"{cid}001", json=patch)).json()
    assert replay["remark"] == "一"  # the stored answer of the first request, not re-applied
    assert sb.store.stocks[cid][f"{cid}001"]["remark"] == "二"
    assert sb.applied_writes("idem_patch1") == 1


async def test_rate_limit_on_bundles_under_a_burst(sb: Sandbox, wxpay: Client) -> None:
    cid = (await create(wxpay))["product_coupon_id"]
    node = wxpay[PREFIX + "/{p}/stock-bundles"]
    results = await asyncio.gather(
        *(node.post(p=cid, json=bundle_request(f"burst_{n:04d}", 1)) for n in range(25)), return_exceptions=True
    )
    limited = [r for r in results if isinstance(r, APIError)]
    assert len(limited) == 5
    assert {(e.status, e.code) for e in limited} == {(429, "RATELIMIT_EXCEEDED")}
    assert sum(sb.applied_writes(f"burst_{n:04d}") for n in range(25)) == 20


async def test_rate_limit_on_creation(keys: Keys) -> None:
    from wechatpay_chain.sandbox.product_coupon import DEFAULT_RATE_LIMITS

    assert DEFAULT_RATE_LIMITS == {
        "add_stock_bundle": (20, 1.0), "create_product_coupon": (1000, 60.0),
        "create_image_generation_task": (500, 1.0), "get_image_generation_task": (500, 1.0),
    }
    async with sandbox(keys, rate_limits={"create_product_coupon": (3, 60.0)}) as box:
        async with box.client(retry=None) as wxpay:
            for n in range(3):
                await create(wxpay, f"rl_{n:06d}")
            with pytest.raises(APIError) as info:
                await create(wxpay, "rl_000003")
            assert (info.value.status, info.value.code) == (429, "RATELIMIT_EXCEEDED")
        async with box.client(retry=RetryPolicy(attempts=2, backoff=0.0, max_backoff=0.0)) as wxpay:
            with pytest.raises(APIError, match="RATELIMIT_EXCEEDED"):  # 429 is retried, then surfaces
                await create(wxpay, "rl_000004")
        assert len(box.store.coupons) == 3


# -- request signatures ----------------------------------------------------------------------------------------
async def test_signature_failures_are_sign_error(sb: Sandbox, keys: Keys) -> None:
    other = generate_key_pair("impostor")
    certs = sb.certs()
    cases: list[Client] = [
        Client(sb.mchid, keys.merchant.serial, other.private_key, certs, base_url=sb.url, retry=None),
        Client(sb.mchid, keys.merchant.serial, keys.merchant.private_key, certs, base_url=sb.url, retry=None,
               clock=lambda: time.time() - 301),
        Client(sb.mchid, "0ABC", keys.merchant.private_key, certs, base_url=sb.url, retry=None),
        Client("1900000999", keys.merchant.serial, keys.merchant.private_key, certs, base_url=sb.url, retry=None),
    ]
    reasons = ["signature does not match", "timestamp", "unknown merchant certificate serial", "unknown merchant"]
    for client, reason in zip(cases, reasons, strict=True):
        async with client:
            with pytest.raises(APIError) as info:
                await client.v3.certificates.get()
            assert (info.value.status, info.value.code) == (401, "SIGN_ERROR")
            assert reason in str(info.value)
    async with Client(sb.mchid, keys.merchant.serial, keys.merchant.private_key, certs, base_url=sb.url,
                      retry=None, nonce_factory=lambda: "SAME_NONCE") as client:
        await client.v3.certificates.get()
        with pytest.raises(APIError, match="nonce_str was already used"):
            await client.v3.certificates.get()
    async with aiohttp.ClientSession() as session, session.get(sb.url + "v3/certificates") as resp:
        assert resp.status == 401


async def test_official_sdk_signatures_are_accepted_and_answers_verify() -> None:
    """V-AUTH-D1 (wechatpay-go key, fixed clock) and the wechatpay-php field order both pass."""
    keys_dir = REFERENCE / "keys"
    now = 1624523846
    box = Sandbox(mchid="1234567890", clock=lambda: now)
    box.trust_merchant("1234567890", "F5765756002FDD77", (keys_dir / "go_public_key.pem").read_bytes())
    header = orjson.loads((REFERENCE / "vectors.json").read_bytes())["auth_header_derived_get"]["header"]
    async with box, aiohttp.ClientSession() as session:
        async with session.get(box.url + "v3/certificates", headers={"Authorization": header}) as resp:
            body = await resp.read()
            assert resp.status == 200, body
            verifier = Verifier({box.platform.serial: box.platform.public_key}, clock=lambda: now)
            assert verifier.verify(resp.headers, body) == box.platform.serial
        key = crypto.load_private_key((keys_dir / "go_test_private_key.pem").read_bytes())
        ts, nonce = str(now), "PHPORDERNONCE0001"
        sig = crypto.rsa_sign(request_message("GET", "/v3/certificates", ts, nonce), key)
        php = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="1234567890",serial_no="F5765756002FDD77",timestamp="{ts}",'
            f'nonce_str="{nonce}",signature="{sig}"'
        )
        async with session.get(box.url + "v3/certificates", headers={"Authorization": php}) as resp:
            assert resp.status == 200
        go = authorization("1234567890", nonce + "2", ts, "F5765756002FDD77",
                           crypto.rsa_sign(request_message("GET", "/v3/certificates", ts, nonce + "2"), key))
        async with session.get(box.url + "v3/certificates", headers={"Authorization": go}) as resp:
            assert resp.status == 200


# -- signing modes and certificates ------------------------------------------------------------------------------
async def test_cert_mode_and_certificate_download(sb: Sandbox, wxpay: Client) -> None:
    r = await wxpay.v3.certificates.get()
    assert r.verified_serial == sb.platform.serial
    [entry] = r.json()["data"]
    enc = entry["encrypt_certificate"]
    assert (enc["algorithm"], enc["associated_data"], len(enc["nonce"])) == ("AEAD_AES_256_GCM", "certificate", 12)
    pem = crypto.aes_gcm_decrypt(enc["ciphertext"], sb.apiv3_key, enc["nonce"], enc["associated_data"])
    cert = crypto.load_certificate(pem)
    assert crypto.certificate_serial(cert) == entry["serial_no"] == sb.platform.serial
    assert entry["effective_time"].endswith("+08:00")


async def test_platform_key_rotation(sb: Sandbox, wxpay: Client) -> None:
    old = sb.platform
    new = sb.rotate_platform_key()
    assert sb.platform is new
    stale_options = {"retry": None, "apiv3_key": None, "certs": {old.serial: old.certificate}}
    async with sb.client(**stale_options) as stale:  # the old certificate only, and no way to fetch more
        with pytest.raises(VerificationError) as info:
            await stale.v3.certificates.get()
    assert info.value.reason == VerificationError.UNKNOWN_SERIAL
    # sb.client() carries the APIv3 key: the unknown serial makes it download the new certificate, once
    assert (await wxpay.v3.certificates.get()).verified_serial == new.serial
    assert wxpay.certificates is not None and wxpay.certificates.downloads == 1
    async with sb.client(retry=None) as fresh:  # trusts both, as a certificate manager would after downloading
        r = await fresh.v3.certificates.get()
        assert r.verified_serial == new.serial
        assert [d["serial_no"] for d in r.json()["data"]] == [new.serial, old.serial]
    sb.retire_platform_key(old.serial)
    assert [p.serial for p in sb.engine.platform] == [new.serial]
    with pytest.raises(ValueError, match="last"):
        sb.retire_platform_key(new.serial)
    listed_only = sb.rotate_platform_key(sign_with_new=False)
    assert sb.platform is new and listed_only in sb.engine.platform


async def test_pubkey_mode(keys: Keys) -> None:
    async with sandbox(keys, mode="pubkey") as box, box.client(retry=None) as wxpay:
        assert set(box.certs()) == {box.pub_key_id}
        created = await wxpay[PREFIX].post(json=coupon("pubkey_001"))
        assert created.verified_serial == box.pub_key_id
        assert created.headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")
        with pytest.raises(APIError) as info:
            await wxpay.v3.certificates.get()
        assert (info.value.status, info.value.code) == (404, "RESOURCE_NOT_EXISTS")


async def test_mixed_mode_follows_the_request_serial(keys: Keys) -> None:
    async with sandbox(keys, mode="mixed") as box, box.client(retry=None) as wxpay:
        assert set(box.certs()) == {box.pub_key_id, box.platform.serial}
        plain = await wxpay.v3.certificates.get(headers={"Wechatpay-Serial": box.platform.serial})
        asked = await wxpay.v3.certificates.get(headers={"Wechatpay-Serial": box.pub_key_id})
        assert (plain.verified_serial, asked.verified_serial) == (box.platform.serial, box.pub_key_id)
        async with aiohttp.ClientSession() as session:  # no Wechatpay-Serial at all: the certificate signs
            signer = RSASigner(box.mchid, box.merchant.serial, box.merchant.private_key)
            headers = {"Authorization": signer("GET", "/v3/certificates", b"")}
            async with session.get(box.url + "v3/certificates", headers=headers) as resp:
                assert resp.headers["Wechatpay-Serial"] == box.platform.serial
        async with box.client(retry=None, certs={box.platform.serial: box.platform.certificate}) as cert_only:
            with pytest.raises(VerificationError):
                await cert_only.v3.certificates.get(headers={"Wechatpay-Serial": box.pub_key_id})
    with pytest.raises(ValueError, match="mode"):
        sandbox(keys, mode="both")


# -- fault injection --------------------------------------------------------------------------------------------
async def test_fault_knobs(sb: Sandbox, wxpay: Client) -> None:
    sb.faults.update(latency=0.2)
    t0 = time.monotonic()
    await wxpay.v3.certificates.get()
    assert time.monotonic() - t0 >= 0.2
    sb.faults.clear()
    sb.faults.script("error", "ratelimit", "drop", "tamper", "probe", "ok")
    with pytest.raises(APIError) as info:
        await wxpay.v3.certificates.get()
    assert (info.value.status, info.value.code) == (500, "SYSTEM_ERROR")
    with pytest.raises(APIError) as info:
        await wxpay.v3.certificates.get()
    assert (info.value.status, info.value.code) == (429, "RATELIMIT_EXCEEDED")
    with pytest.raises(TransportError):  # a POST: aiohttp itself re-sends a GET once on a dropped keep-alive
        await wxpay[PREFIX].post(json=coupon("drop_00001"))
    assert sb.applied_writes("drop_00001") == 0
    with pytest.raises(VerificationError) as verr:
        await wxpay.v3.certificates.get()
    assert verr.value.reason == VerificationError.BAD_SIGNATURE
    with pytest.raises(VerificationError, match="SIGNTEST"):
        await wxpay.v3.certificates.get()
    assert (await wxpay.v3.certificates.get()).status == 200
    sb.faults.update(clock_skew=400)
    with pytest.raises(VerificationError) as verr:
        await wxpay.v3.certificates.get()
    assert verr.value.reason == VerificationError.CLOCK_SKEW
    sb.faults.update(clock_skew=0, error_rate=1.0)
    for _ in range(3):
        with pytest.raises(APIError, match="SYSTEM_ERROR"):
            await wxpay.v3.certificates.get()
    sb.faults.clear()
    assert (await wxpay.v3.certificates.get()).status == 200


def test_fault_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="phase"):
        Faults(phase="during")
    with pytest.raises(ValueError, match="unknown fault knob"):
        Faults().update(eror_rate=0.1)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults().script("explode")
    a, b = Faults(error_rate=0.5, seed=7), Faults(error_rate=0.5, seed=7)
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]
    assert 5 < sum(a.draw() == "error" for _ in range(200)) < 195


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("fault", ["error", "drop"])
async def test_writes_apply_at_most_once_under_faults(keys: Keys, phase: str, fault: str) -> None:
    async with sandbox(keys, faults={"phase": phase}) as box, box.client(retry=FAST_RETRY) as wxpay:
        cid = (await create(wxpay))["product_coupon_id"]
        box.faults.script(fault, fault)
        added = (await wxpay[PREFIX + "/{id}/stocks"].post(id=cid, json=stock_request("once_00001"))).json()
        assert box.applied_writes("once_00001") == 1
        assert list(box.store.stocks[cid]) == [f"{cid}001", f"{cid}002"]
        assert added["stock_id"] == f"{cid}002"
        writes = [s for s in box.seen if s.method == "POST" and s.target.endswith("/stocks")]
        assert len(writes) == 3  # two failed attempts, then the answer (stored or fresh)


async def test_a_write_without_request_number_is_outcome_unknown(sb: Sandbox, wxpay: Client) -> None:
    sb.faults.script("drop")
    with pytest.raises(OutcomeUnknown):
        await wxpay.v3.anything.post(json={"no": "merchant number"})


async def test_admin_routes_change_faults_at_runtime(sb: Sandbox, wxpay: Client) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(sb.url + "_sandbox/faults", json={"error_rate": 1.0, "script": ["ok"]}) as resp:
            assert resp.status == 200
            assert (await resp.json())["pending"] == ["ok"]
        await wxpay.v3.certificates.get()  # the scripted "ok"
        with pytest.raises(APIError, match="SYSTEM_ERROR"):
            await wxpay.v3.certificates.get()
        async with session.post(sb.url + "_sandbox/faults", json={"error_rate": 2}) as resp:
            assert resp.status == 400
        async with session.post(sb.url + "_sandbox/faults", json={"error_rate": 0}) as resp:
            assert (await resp.json())["error_rate"] == 0
        await create(wxpay, "admin_0001")
        async with session.get(sb.url + "_sandbox/applied") as resp:
            assert await resp.json() == {"admin_0001": 1}
        async with session.post(sb.url + "_sandbox/reset") as resp:
            assert resp.status == 200
    assert sb.store.coupons == {}
    assert sb.applied_writes("admin_0001") == 0


# -- exact wire format of the seed examples -----------------------------------------------------------------------
def seed_node(root: Any, template: str, style: str) -> Any:
    """The node of ``template`` reached the way a PHP example is ported: attributes, chain() or [...]."""
    if style == "attribute":
        node: Any = root
        for segment in template.split("/"):
            attr = segment
            if segment.startswith("{"):
                attr = "_" + segment[1:-1] + "_"
            elif "-" in segment:
                head, *rest = segment.split("-")
                attr = head + "".join(part.capitalize() for part in rest)
            node = getattr(node, attr)
        return node
    return root.chain(template) if style == "chain" else root[template]


def check_seed_wire(seen: Any, method: str, template: str, options: dict[str, Any]) -> None:
    """The request the sandbox received is exactly the seed document's method, path, query and JSON body."""
    url = urlsplit(seen.target)
    path = template
    for key in ("product_coupon_id", "stock_id"):
        path = path.replace("{" + key + "}", str(options.get(key, "")))
    assert (seen.method, unquote(url.path)) == (method, "/" + path)
    expected_query = [(k, str(v)) for k, v in options.get("query", {}).items()]
    assert parse_qsl(url.query) == expected_query
    if "json" in options:
        assert orjson.loads(seen.body) == options["json"]
        assert seen.headers["Content-Type"] == "application/json"
    else:
        assert seen.body == b""


@pytest.mark.parametrize("name", list(samples.SEED_CALLS))
@pytest.mark.parametrize("style", ["attribute", "chain", "item"])
async def test_seed_calls_on_the_wire(sb: Sandbox, wxpay: Client, name: str, style: str) -> None:
    method, template, options = samples.SEED_CALLS[name]
    verb = getattr(seed_node(wxpay, template, style), method.lower())
    try:
        status = (await verb(copy.deepcopy(options))).status
    except APIError as exc:
        status = exc.status
    assert status == (200 if name == "create_product_coupon" else 404)  # the documented ids do not exist here
    check_seed_wire(sb.seen[-1], method, template, options)


# -- notifications, sync form, state ------------------------------------------------------------------------------
@pytest.fixture
async def receiver() -> AsyncIterator[tuple[TestServer, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify", handle)
    async with serve(app) as server:
        yield server, got


async def test_notifications_are_signed_and_encrypted(
    keys: Keys, receiver: tuple[TestServer, list[tuple[dict[str, str], bytes]]]
) -> None:
    server, got = receiver
    url = str(server.make_url("/notify"))
    async with sandbox(keys, mode="mixed", notify_url=url) as box:
        result = await box.notify(url, event_type="COUPON.USE", resource={"coupon_code": "123"}, summary="核销")
        assert result.status == 204
        headers, body = got[-1]
        verifier = Verifier({box.platform.serial: box.platform.public_key, box.pub_key_id: box.public_key.public_key})
        assert verifier.verify(headers, body) == box.platform.serial
        doc = orjson.loads(body)
        assert (doc["id"], doc["event_type"], doc["resource_type"]) == (result.id, "COUPON.USE", "encrypt-resource")
        res = doc["resource"]
        plain = crypto.aes_gcm_decrypt(res["ciphertext"], box.apiv3_key, res["nonce"], res["associated_data"])
        assert orjson.loads(plain) == {"coupon_code": "123"}
        await box.notify(url, event_type="COUPON.USE", resource={}, signer="pubkey")
        assert verifier.verify(*got[-1]) == box.pub_key_id
        for fault in ("tamper", "probe"):
            await box.notify(url, event_type="COUPON.USE", resource={}, fault=fault)
            with pytest.raises(VerificationError):
                verifier.verify(*got[-1])
        async with box.client(retry=None) as wxpay:
            created = await create(wxpay)
        cid = created["product_coupon_id"]
        sent = await box.set_stock_state(cid, f"{cid}001", "PAUSED")
        assert sent is not None
        event = orjson.loads(got[-1][1])
        assert event["event_type"] == "PRODUCT_COUPON.STOCK_STATE_CHANGED"
        res = event["resource"]
        plain = crypto.aes_gcm_decrypt(res["ciphertext"], box.apiv3_key, res["nonce"], res["associated_data"])
        assert orjson.loads(plain) == {"product_coupon_id": cid, "stock_id": f"{cid}001", "state": "PAUSED"}
        assert box.store.stocks[cid][f"{cid}001"]["state"] == "PAUSED"
        await box.set_stock_state(cid, f"{cid}001", "DEACTIVATED", reason="测试")
        stock = box.store.stocks[cid][f"{cid}001"]
        assert stock["deactivate_reason"] == "测试"
        validate_response("GET", PREFIX + "/{p}/stocks/{s}", stock)


def test_sync_sandbox_and_sync_client(keys: Keys) -> None:
    with SyncSandbox(merchant=keys.merchant, platform=keys.platform, public_key=keys.platform2) as box:
        with box.client(retry=None) as wxpay:
            doc = wxpay[PREFIX].post(json=coupon("sync_00001")).json()
            assert doc["state"] == "EFFECTIVE"
            assert box.applied_writes("sync_00001") == 1
        box.reset()
        assert box.store.coupons == {}
        assert "SyncSandbox" in repr(box)
    box.close()  # idempotent


async def test_config_builds_a_client_and_reset_clears_state(sb: Sandbox, tmp_path: Path) -> None:
    async with Client(**sb.config) as wxpay:
        await create(wxpay, "cfg_000001")
    path = sb.write_config(tmp_path / "cfg")
    config = orjson.loads(path.read_bytes())
    assert set(config) == {"mchid", "serial", "private_key", "certs", "apiv3_key", "base_url"}
    assert (path.parent / "apiclient_key.pem").stat().st_mode & 0o077 == 0
    async with Client(**config) as wxpay:
        assert (await wxpay.v3.certificates.get()).status == 200
    assert sb.seen and sb.store.coupons
    sb.reset()
    assert (list(sb.seen), sb.store.coupons, sb.applied_writes("cfg_000001")) == ([], {}, 0)
    assert "PRIVATE" not in repr(sb) and sb.apiv3_key not in repr(sb)


async def test_non_ascii_digits_are_rejected_cleanly(sb: Sandbox, wxpay: Client) -> None:
    """'²'.isdigit() is True but int('²') fails: such input must be a 400/401, never a 500."""
    from wechatpay_chain.testing import RequestCheckError, check_request

    with pytest.raises(RequestCheckError, match="Unix seconds"):
        check_request(
            "GET", "/v3/x", b"",
            'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="²",serial_no="S",signature="x"',
            {},
        )
    coupon = sb.seed_product_coupon(samples.CREATE_PRODUCT_COUPON["json"])
    node = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
    with pytest.raises(APIError) as info:
        await node.get(product_coupon_id=coupon["product_coupon_id"], query={"brand_id": "120344", "page_size": "²"})
    assert (info.value.status, info.value.code) == (400, "PARAM_ERROR")


async def test_apiv2_surface_end_to_end(sb: Sandbox, wxpay: Client) -> None:
    """The sandbox verifies the APIv2 sign and answers signed XML; refunds notify with an encrypted req_info."""
    from wechatpay_chain.v2 import decrypt_refund_notification, reply

    r = await wxpay.v2.pay.micropay.post(
        {"xml": {"appid": "wxd678efh567hg6787", "mch_id": sb.mchid, "auth_code": "134567890123456789",
                 "out_trade_no": "T1", "total_fee": 1, "body": "咖啡", "spbill_create_ip": "127.0.0.1"}}
    )
    doc = r.xml()
    assert doc["result_code"] == "SUCCESS"
    assert doc["out_trade_no"] == "T1"
    assert sb.v2.seen[-1]["sign"]  # the sandbox checked a real sign
    received: list[bytes] = []

    async def notify_url(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(body=reply(True), content_type="text/xml")

    app = web.Application()
    app.router.add_post("/notify", notify_url)
    async with serve(app) as server, aiohttp.ClientSession() as session:
        status, _ = await sb.v2.send_refund_notification(
            session, str(server.make_url("/notify")), out_refund_no="R1", out_trade_no="T1"
        )
    assert status == 200
    refund = decrypt_refund_notification(received[0], sb.apiv2_key, mchid=sb.mchid)
    assert refund["req_info"]["out_refund_no"] == "R1"


async def test_jitter_and_injected_fault_counts(sb: Sandbox, wxpay: Client) -> None:
    sb.faults.update(jitter=0.05, seed=7)
    delays = [sb.faults.delay() for _ in range(50)]
    assert all(0 <= d <= 0.05 for d in delays)
    assert len(set(delays)) > 40  # drawn per request, not a constant
    sb.faults.update(jitter=0.0)
    sb.faults.script("error", "ok", "ratelimit")
    for _ in range(3):
        with contextlib.suppress(APIError):
            await wxpay.v3.certificates.get()
    assert sb.faults.injected == {"error": 1, "ratelimit": 1}
    async with aiohttp.ClientSession() as session, session.get(sb.url + "_sandbox/faults") as resp:
        doc = await resp.json()
    assert doc["injected"] == sb.faults.injected
    with pytest.raises(ValueError, match="jitter"):
        sb.faults.update(jitter=-1)
