"""Faults: 500s, dropped connections, 429s and random latency from the sandbox; failover; hostile answers.

Idempotent requests (reads, writes carrying ``out_request_no``) must all succeed within their retry budget;
writes the caller marked ``idempotent=False`` must succeed or raise ``OutcomeUnknown``; no write may be applied
twice. ``WECHATPAY_FAULTS_N`` scales the mix (``benchmarks/reliability.py`` runs thousands).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest
from conftest import FakeWeChat, Keys
from conftest import keyed_sandbox as sandbox
from reliability_workload import (
    BRAND,
    PATIENT,
    STOCK,
    STOCKS,
    CountingFaults,
    leftover_tasks,
    pool_in_use,
    run_fault_mix,
    seed_coupon,
    stock_body,
    unused_port,
)

from wechatpay_chain import OutcomeUnknown, RequestEvent, RequestTimeout, VerificationError
from wechatpay_chain.sandbox import Sandbox
from wechatpay_chain.signing import parse_authorization

N = int(os.environ.get("WECHATPAY_FAULTS_N", "400"))
C = int(os.environ.get("WECHATPAY_FAULTS_C", "32"))
#: Enough attempts that an idempotent request failing 20 times in a row (p ≈ 0.45²⁰) does not happen.


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["before", "after"])
async def test_fault_mix_retries_what_is_safe_and_applies_each_write_once(keys: Keys, phase: str) -> None:
    faults = CountingFaults(seed=6, phase=phase)
    async with sandbox(keys, faults=faults) as sb:
        run = await run_fault_mix(sb, faults, N, C, phase)
        coupon_id, tally = run.coupon_id, run.tally
        assert run.in_use == 0 and run.inflight == 0
        assert run.leftover == []
        await asyncio.sleep(0.05)
        assert leftover_tasks(run.before) == []

    # The faults really happened, in about the asked-for shares.
    drawn = sum(faults.drawn.values())
    assert 0.22 < faults.drawn["error"] / drawn < 0.38
    assert 0.05 < faults.drawn["drop"] / drawn < 0.15
    assert 0.02 < faults.drawn["ratelimit"] / drawn < 0.09
    assert tally.failed_attempts["500"] and tally.failed_attempts["429"] and tally.failed_attempts["ServerDisconnectedError"]

    # Every idempotent request succeeded; the unmarked writes succeeded or are honestly "outcome unknown".
    for kind in ("add", "list", "get"):
        assert tally.ok[kind] == tally.calls[kind] > 0, tally.errors
    assert set(tally.errors) <= {"add_unmarked: OutcomeUnknown"}
    assert tally.unknown, "the mix should leave some unmarked write in doubt"
    assert tally.ok["add_unmarked"] + len(tally.unknown) == tally.calls["add_unmarked"]
    assert tally.retries > 0

    # No duplicate side effects: each out_request_no applied at most once, exactly once when answered.
    assert max(sb.store.applied.values()) == 1
    assert all(sb.applied_writes(number) == 1 for number in tally.written)
    expected_unknown = 0 if phase == "before" else 1  # the fault hit before / after the write was applied
    assert {sb.applied_writes(number) for number in tally.unknown} == {expected_unknown}
    assert len(sb.store.stocks[coupon_id]) == 1 + len(tally.written) + expected_unknown * len(tally.unknown)
    # Every attempt was signed afresh (the sandbox refuses a replayed nonce, so a reuse would show as 401).
    nonces = [parse_authorization(seen.headers["Authorization"])[1]["nonce_str"] for seen in sb.seen]
    assert len(set(nonces)) == len(nonces)
    assert all(seen.status != 401 for seen in sb.seen)
    if phase == "after":  # some writes were applied, lost their answer, and were replayed from the record
        posts = Counter(seen.body for seen in sb.seen if seen.method == "POST")
        assert max(posts.values()) > 1


async def test_failover_when_the_primary_port_is_closed(sb: Sandbox) -> None:
    coupon_id, first_stock = seed_coupon(sb)
    events: list[RequestEvent] = []
    primary = f"http://127.0.0.1:{unused_port()}/"
    async with sb.client(base_url=primary, backup_base_url=sb.url, retry=None, hooks=[events.append]) as wxpay:
        listed = await wxpay[STOCKS].get(product_coupon_id=coupon_id, query={"brand_id": BRAND})
        assert listed.json()["total_count"] == 1
        assert listed.url.startswith(sb.url)
        added = await wxpay[STOCKS].post(product_coupon_id=coupon_id, json=stock_body("failover_0001"))
        # A write the caller will not have repeated also moves: a refused connection sent nothing.
        unmarked = await wxpay[STOCKS].post(
            product_coupon_id=coupon_id, json=stock_body("failover_0002"), idempotent=False
        )
        got = await wxpay[STOCK].get(product_coupon_id=coupon_id, stock_id=first_stock, query={"brand_id": BRAND})
        assert got.json()["stock_id"] == first_stock
    assert [(e.attempt, e.error, e.url.startswith(primary)) for e in events] == [
        (1, "connect", True),
        (2, None, False),
    ] * 4
    assert (sb.applied_writes("failover_0001"), sb.applied_writes("failover_0002")) == (1, 1)
    assert {added.json()["stock_id"], unmarked.json()["stock_id"]} == set(sb.store.stocks[coupon_id]) - {first_stock}


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose accept queue is full, so a new connection hangs until the connect timeout (a dead link)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_failover_when_the_primary_does_not_answer_the_connect(sb: Sandbox, blackhole: int) -> None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", blackhole), 0.3)
    except TimeoutError:
        pass
    else:
        writer.close()
        await writer.wait_closed()
        pytest.skip("this OS accepts connections beyond a full backlog; no black hole to test with")
    coupon_id, _ = seed_coupon(sb)
    events: list[RequestEvent] = []
    timeout = aiohttp.ClientTimeout(total=5, sock_connect=0.2)
    options = {"base_url": f"http://127.0.0.1:{blackhole}/", "backup_base_url": sb.url, "timeout": timeout}
    async with sb.client(retry=None, hooks=[events.append], **options) as wxpay:
        answer = await wxpay[STOCKS].post(
            product_coupon_id=coupon_id, json=stock_body("blackhole_0001"), idempotent=False
        )
    assert answer.status == 200 and answer.url.startswith(sb.url)
    assert [(e.attempt, e.error) for e in events] == [(1, "connect_timeout"), (2, None)]
    assert sb.applied_writes("blackhole_0001") == 1
    async with sb.client(retry=None, timeout=timeout, base_url=options["base_url"]) as alone:
        with pytest.raises(RequestTimeout, match="cannot connect") as info:  # nothing sent: never "unknown"
            await alone[STOCKS].post(product_coupon_id=coupon_id, json=stock_body("x_0001"), idempotent=False)
        assert not isinstance(info.value, OutcomeUnknown)


async def test_a_dropped_put_that_is_not_idempotent_is_sent_once(sb: Sandbox) -> None:
    async with sb.client(retry=None) as wxpay:
        await wxpay.v3.certificates.get()  # a kept-alive connection for aiohttp to reuse
        sb.faults.script("drop")
        with pytest.raises(OutcomeUnknown, match="not re-sent"):
            await wxpay.v3.some.resource.put(json={"note": "no merchant number"}, idempotent=False)
        assert [s.method for s in sb.seen] == ["GET", "PUT"]
        # A read on a dropped connection is still re-sent once by aiohttp, re-signed with a fresh nonce.
        sb.faults.script("drop")
        assert (await wxpay.v3.certificates.get()).status == 200
        last = list(sb.seen)[-2:]
        again = [parse_authorization(s.headers["Authorization"])[1]["nonce_str"] for s in last]
        assert [s.method for s in last] == ["GET", "GET"] and again[0] != again[1]
        assert pool_in_use(wxpay) == 0


@pytest.mark.parametrize(
    ("knobs", "reason", "text"),
    [
        ({"tamper_rate": 1.0}, VerificationError.BAD_SIGNATURE, "does not match"),
        ({"probe_rate": 1.0}, VerificationError.BAD_SIGNATURE, "SIGNTEST"),
        ({"clock_skew": 400}, VerificationError.CLOCK_SKEW, "away from local time"),
        ({"clock_skew": -400}, VerificationError.CLOCK_SKEW, "away from local time"),
    ],
)
async def test_hostile_answers_are_refused_not_retried(
    sb: Sandbox, knobs: dict[str, float], reason: str, text: str
) -> None:
    coupon_id, first_stock = seed_coupon(sb)
    query = {"brand_id": BRAND}
    async with sb.client(retry=PATIENT) as wxpay:
        sb.faults.update(**knobs)
        with pytest.raises(VerificationError, match=text) as info:
            await wxpay[STOCK].get(product_coupon_id=coupon_id, stock_id=first_stock, query=query)
        assert info.value.reason == reason
        with pytest.raises(VerificationError) as info:
            await wxpay[STOCKS].post(product_coupon_id=coupon_id, json=stock_body("hostile_0001"))
        assert info.value.reason == reason
        assert len(sb.seen) == 2  # a forged answer is not a transient fault: never retried
        assert pool_in_use(wxpay) == 0  # the refused answers were released
        # The write itself stood; asking again with the same out_request_no yields its verified answer.
        sb.faults.clear()
        replay = await wxpay[STOCKS].post(product_coupon_id=coupon_id, json=stock_body("hostile_0001"))
        assert replay.json()["stock_id"] in sb.store.stocks[coupon_id]
        assert sb.applied_writes("hostile_0001") == 1


async def test_an_unknown_signing_serial_is_refused(sb: Sandbox) -> None:
    coupon_id, first_stock = seed_coupon(sb)
    async with sb.client(retry=PATIENT, apiv3_key=None) as wxpay:  # no key: it cannot download the new one
        sb.rotate_platform_key()  # answers now signed by a certificate this client was never given
        with pytest.raises(VerificationError) as info:
            await wxpay[STOCK].get(product_coupon_id=coupon_id, stock_id=first_stock, query={"brand_id": BRAND})
        assert info.value.reason == VerificationError.UNKNOWN_SERIAL
        assert len(sb.seen) == 1


@pytest.mark.parametrize("timestamp", ["²", "١٧٠٠٠٠٠٠٠٠", "17e8", " "])
async def test_a_non_ascii_timestamp_is_a_verification_error(fake: FakeWeChat, timestamp: str) -> None:
    """Found by the property tests at a larger size: ``"²".isdigit()`` holds but ``int("²")`` raises."""
    fake.tamper = lambda headers, body: ({**headers, "Wechatpay-Timestamp": timestamp}, body)
    async with fake.client(retry=PATIENT) as wxpay:
        with pytest.raises(VerificationError) as info:
            await wxpay.v3.anything.get()
        assert info.value.reason in (VerificationError.CLOCK_SKEW, VerificationError.MISSING_HEADERS)
        assert len(fake.seen) == 1 and pool_in_use(wxpay) == 0
