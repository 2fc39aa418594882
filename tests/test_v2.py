"""APIv2 through the chain: XML + MD5/HMAC signing, hardened parsing, answer verification, notifications."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import MCHID, REFERENCE, FakeWeChat, Keys, serve

from wechatpay_chain import APIv2Error, Client, ConfigError, DecryptionError, TemplateError, VerificationError, crypto
from wechatpay_chain.v2 import (
    HMAC_SHA256,
    MD5,
    XMLError,
    decrypt_refund_notification,
    parse_xml,
    reply,
    req_info_key,
    sign,
    string_to_sign,
    to_xml,
    verify,
    verify_notification,
)
from wechatpay_chain.v2.fake import V2Fake

VECTORS = json.loads((REFERENCE / "vectors.json").read_text())
KEY = "exposed0your0key0here0have0risks"  # 32 alphanumerics


# -- known-answer vectors ---------------------------------------------------------------------------------
def test_official_doc_vector_md5_and_hmac() -> None:
    vec = VECTORS["v2_sign_official_doc"]
    assert string_to_sign(vec["params"], vec["key"]) == vec["stringSignTemp"]
    assert sign(vec["params"], vec["key"]) == vec["MD5"]
    assert sign(vec["params"], vec["key"], HMAC_SHA256) == vec["HMAC-SHA256"]
    assert verify({**vec["params"], "sign": vec["MD5"]}, vec["key"])
    assert verify({**vec["params"], "sign": vec["HMAC-SHA256"].lower()}, vec["key"], HMAC_SHA256)
    assert not verify({**vec["params"], "sign": vec["HMAC-SHA256"]}, vec["key"])  # never chosen by length
    assert not verify({**vec["params"], "sign": vec["MD5"]}, "x" * 32)


def test_derived_vectors_and_filtering_rules() -> None:
    secret = "exposed_your_key_here_have_risks"
    data = {"mch_id": "1900000109", "body": "a&b<c>", "total_fee": 1, "nonce_str": "NONCE"}
    assert sign(data, secret, MD5) == "BCA12C20C1C271DF099BEAEC8362A8E4"
    assert to_xml({**data, "sign": "BCA12C20C1C271DF099BEAEC8362A8E4"}) == (
        b"<xml><mch_id>1900000109</mch_id><body><![CDATA[a&b<c>]]></body><total_fee>1</total_fee>"
        b"<nonce_str>NONCE</nonce_str><sign>BCA12C20C1C271DF099BEAEC8362A8E4</sign></xml>"
    )
    hmac_data = {"mch_id": "1900000109", "nonce_str": "3c2IQESVb0W5TWFGjyHX47xaJBO05SeY", "sign_type": HMAC_SHA256}
    assert sign(hmac_data, secret) == "949BF48C8F272D4768F0CB7B11E7A5696ADAC55BF102B2A85C6ED434D4762FE7"
    assert string_to_sign({"a": 1, "b": 3, "sign": 2}, "k") == "a=1&b=3&key=k"
    assert string_to_sign({"a": 1, "b": 3, "c": ""}, "k") == "a=1&b=3&key=k"
    assert string_to_sign({"a": 1, "b": None, "c": 2}, "k") == "a=1&c=2&key=k"
    assert string_to_sign({"bob": 1, "alice": None, "tom": "", "sign": "mock"}, "k") == "bob=1&key=k"
    # Byte order (wechatpay-php #41): "re_" sorts before "rem" because '_' (0x5F) < 'm' (0x6D).
    assert string_to_sign({"rem": 1, "re_openid": 2, "Z": 3}, "k") == "Z=3&re_openid=2&rem=1&key=k"


def test_aes_ecb_vectors_and_req_info() -> None:
    ecb = VECTORS["aes_ecb_php"]
    assert crypto.aes_ecb_encrypt(ecb["plaintext_utf8"], ecb["key_utf8"]) == ecb["ciphertext_b64"]
    vec = VECTORS["refund_req_info_derived"]
    assert req_info_key(vec["apiv2_key"]) == vec["aes_key_utf8"].encode()
    body = to_xml({"return_code": "SUCCESS", "mch_id": "10000100", "req_info": vec["req_info_b64"]})
    doc = decrypt_refund_notification(body, vec["apiv2_key"], mchid="10000100")
    assert doc["req_info"]["out_refund_no"] == "131811191610442717309"
    assert doc["req_info"]["refund_recv_accout"] == "支付用户零钱"
    with pytest.raises(DecryptionError):
        decrypt_refund_notification(body, "0" * 32)
    with pytest.raises(VerificationError):
        decrypt_refund_notification(body, vec["apiv2_key"], mchid="999")


# -- hardened XML -------------------------------------------------------------------------------------------
XXE = b"""<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b"]><xml><a>&lol9;</a></xml>"
)


@pytest.mark.parametrize(
    "payload",
    [
        XXE,
        LAUGHS,
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml><a>1</a></xml>',
        b"<xml><a>&undefined;</a></xml>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>'.encode("utf-16"),
        b"<xml><a>1</a>",
        b"<a>" * 20 + b"</a>" * 20,
    ],
)
def test_hostile_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(XMLError):
        parse_xml(payload)


def test_xml_round_trip_and_bad_requests() -> None:
    doc = {"a": "x]]>y<", "b": "中文", "c": 5}
    assert parse_xml(to_xml(doc)) == {"a": "x]]>y<", "b": "中文", "c": "5"}
    assert parse_xml(b"<xml>\n  <a>1</a>\n  <b/>\n</xml>") == {"a": "1", "b": ""}
    for bad in ({"a b": "1"}, {"a": {"nested": 1}}, {"a": "\x01"}, {"a": True}):
        with pytest.raises(TemplateError):
            to_xml(bad)


# -- end to end against the fake ---------------------------------------------------------------------------
@dataclass
class V2Server:
    fake: V2Fake
    headers: list[dict[str, str]] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    def client(self, **kwargs: Any) -> Client:
        return Client(MCHID, apiv2_key=kwargs.pop("apiv2_key", KEY), base_url=self.base_url, **kwargs)


@pytest.fixture
async def v2() -> AsyncIterator[V2Server]:
    state = V2Server(V2Fake(KEY, MCHID))

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        state.headers.append(dict(request.headers))
        return await handler(request)

    app = web.Application(middlewares=[record])
    state.fake.add_routes(app.router)
    async def custom(request: web.Request) -> web.Response:
        return await CUSTOM[request.path](request)

    app.router.add_route("*", "/{tail:.*}", custom)
    async with serve(app) as state.server:
        yield state


CUSTOM: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {}


async def test_v2_only_client_micropay_end_to_end(v2: V2Server) -> None:
    async with v2.client() as wxpay:
        r = await wxpay.v2.pay.micropay.post(
            {"xml": {"appid": "wxd678efh567hg6787", "mch_id": MCHID, "body": "a&b<c>", "out_trade_no": "T1",
                     "total_fee": 1, "auth_code": "134567890123456789", "spbill_create_ip": "127.0.0.1"}}
        )
        doc = r.xml()
        assert doc["result_code"] == "SUCCESS" and doc["out_trade_no"] == "T1"
        assert verify(doc, KEY)
        r = await wxpay.v2.pay.orderquery.post(xml={"out_trade_no": "T1", "sign_type": HMAC_SHA256})
        assert len(r.xml()["sign"]) == 64
    sent = v2.fake.seen
    assert sent[0]["body"] == "a&b<c>" and len(sent[0]["nonce_str"]) == 32 and len(sent[0]["sign"]) == 32
    assert len(sent[1]["sign"]) == 64
    assert all("Authorization" not in h for h in v2.headers)
    assert v2.headers[0]["Content-Type"].startswith("text/xml")


async def test_v2_business_and_communication_failures_are_typed(v2: V2Server) -> None:
    async with v2.client() as wxpay:
        with pytest.raises(APIv2Error) as info:
            await wxpay.v2.pay.micropay.post(xml={"auth_code": "000", "total_fee": 1})
        assert info.value.err_code == "AUTH_CODE_INVALID" and info.value.code == "AUTH_CODE_INVALID"
        assert info.value.result_code == "FAIL" and info.value.err_code_des == "付款码无效"
        clone = pickle.loads(pickle.dumps(info.value))
        assert clone.err_code == "AUTH_CODE_INVALID" and str(clone) == str(info.value)
    async with v2.client(apiv2_key="0" * 32) as wxpay:
        with pytest.raises(APIv2Error) as info:
            await wxpay.v2.pay.micropay.post(xml={"auth_code": "134567890123456789"})
        assert info.value.return_code == "FAIL" and info.value.return_msg == "签名错误"
    assert KEY not in repr(info.value) and KEY not in str(info.value)


async def test_v2_answer_sign_mismatch_and_hostile_answers_are_rejected(v2: V2Server) -> None:
    good = v2.fake.signed({"return_code": "SUCCESS", "result_code": "SUCCESS", "total_fee": "1"})

    async def tampered(request: web.Request) -> web.Response:
        return web.Response(body=good.replace(b"<total_fee>1<", b"<total_fee>100<"), content_type="text/xml")

    async def unsigned(request: web.Request) -> web.Response:
        return web.Response(body=to_xml({"return_code": "SUCCESS", "result_code": "SUCCESS"}), content_type="text/xml")

    async def xxe(request: web.Request) -> web.Response:
        return web.Response(body=XXE, content_type="text/xml")

    CUSTOM.update({"/pay/tampered": tampered, "/pay/unsigned": unsigned, "/pay/xxe": xxe,
                   "/mmpaymkttransfers/promotion/transfers": unsigned,
                   "/pay/downloadbill": _csv})
    async with v2.client() as wxpay:
        for path, reason in (("tampered", "bad_signature"), ("unsigned", "bad_signature"), ("xxe", "bad_body")):
            with pytest.raises(VerificationError) as info:
                await wxpay.chain(f"v2/pay/{path}").post(xml={"a": "1"})
            assert info.value.reason == reason
        # Documented sign-less endpoints are accepted without a sign ...
        r = await wxpay.v2.mmpaymkttransfers.promotion.transfers.post(xml={"mch_appid": "wx1", "mchid": MCHID})
        assert r.xml()["result_code"] == "SUCCESS"
        # ... and the bill download answers the CSV itself.
        r = await wxpay.v2.pay.downloadbill.post(xml={"bill_date": "20240101", "bill_type": "ALL"})
        assert r.body.startswith(b"\xe4\xba\xa4")


async def _csv(request: web.Request) -> web.Response:
    return web.Response(body="交易时间,商户号\n`2024,`1\n".encode(), content_type="text/plain")


async def test_v2_request_options_and_validation(v2: V2Server, fake: FakeWeChat) -> None:
    async with v2.client() as wxpay:
        with pytest.raises(TemplateError, match="differs"):
            await wxpay.v2.pay.micropay.post(xml={"mch_id": "1"})
        with pytest.raises(TemplateError, match="APIv3-only"):
            await wxpay.v2.pay.micropay.post(json={"a": 1})
        with pytest.raises(TemplateError, match="sign_type"):
            await wxpay.v2.pay.micropay.post(xml={"sign_type": "SHA1"})
        with pytest.raises(ConfigError, match="merchant_cert"):
            await wxpay.v2.secapi.pay.refund.post(xml={"out_refund_no": "R1"}, security=True)
        with pytest.raises(ConfigError, match="serial"):
            await wxpay.v3.pay.transactions.id._transaction_id_.get(transaction_id="1")
        await wxpay.v2.pay.micropay.post(xml={"auth_code": "134567890123456789", "nonce_str": "N"}, nonceless=True)
        assert v2.fake.seen[-1]["nonce_str"] == "N"
    assert len(v2.headers) == 1  # only the valid call reached the server
    async with fake.client() as v3_only:
        with pytest.raises(ConfigError, match="apiv2_key"):
            await v3_only.v2.pay.micropay.post(xml={"a": "1"})
    assert not fake.seen


async def test_v2_get_puts_the_signed_fields_in_the_query(v2: V2Server) -> None:
    async def echo(request: web.Request) -> web.Response:
        data = dict(request.query)
        assert verify(data, KEY)
        return web.Response(body=v2.fake.signed({"return_code": "SUCCESS", **data}), content_type="text/xml")

    CUSTOM["/risk/getviolation"] = echo
    async with v2.client() as wxpay:
        r = await wxpay.v2.risk.getviolation.get(xml={"mch_id": MCHID, "note": "a b&c"})
    assert r.xml()["note"] == "a b&c"


# -- notifications ---------------------------------------------------------------------------------------
def test_payment_notification_verification_and_reply() -> None:
    fake = V2Fake(KEY, MCHID)
    for sign_type in (MD5, HMAC_SHA256):
        body = fake.payment_notification(sign_type, out_trade_no="T1", total_fee="1")
        assert verify_notification(body, KEY)["out_trade_no"] == "T1"
        with pytest.raises(VerificationError):
            verify_notification(body.replace(b"<total_fee>1<", b"<total_fee>2<"), KEY)
    with pytest.raises(VerificationError):
        verify_notification(to_xml({"return_code": "SUCCESS"}), KEY)
    with pytest.raises(VerificationError):
        verify_notification(XXE, KEY)
    assert reply() == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    )
    assert parse_xml(reply(False, "签名失败"))["return_msg"] == "签名失败"


async def test_refund_notification_sent_to_a_merchant_handler() -> None:
    fake = V2Fake(KEY, MCHID)
    received: list[dict[str, Any]] = []

    async def notify(request: web.Request) -> web.Response:
        try:
            doc = decrypt_refund_notification(await request.read(), KEY, mchid=MCHID)
        except (VerificationError, DecryptionError):
            return web.Response(status=400, body=reply(False, "bad"), content_type="text/xml")
        received.append(doc)
        return web.Response(body=reply(), content_type="text/xml")

    app = web.Application()
    app.router.add_post("/notify", notify)
    async with serve(app) as server, aiohttp.ClientSession() as session:
        status, answer = await fake.send_refund_notification(
            session, str(server.make_url("/notify")), out_refund_no="R1", refund_fee="5"
        )
        assert status == 200 and parse_xml(answer)["return_code"] == "SUCCESS"
        forged = V2Fake("f" * 32, MCHID)
        status, _ = await forged.send_refund_notification(session, str(server.make_url("/notify")))
        assert status == 400
    assert received[0]["req_info"]["out_refund_no"] == "R1"
    assert received[0]["req_info"]["refund_status"] == "SUCCESS"


async def test_combined_client_sends_v2_without_the_apiv3_authorization(v2: V2Server, keys: Keys) -> None:
    """One client for both protocols: v2 calls skip the APIv3 middleware (no Authorization, no v3 verify)."""
    async with v2.client(
        serial=keys.merchant.serial,
        private_key=keys.merchant.private_key,
        certs={keys.platform.serial: keys.platform.certificate},
    ) as wxpay:
        r = await wxpay.v2.pay.micropay.post(xml={"auth_code": "134567890123456789", "total_fee": 1})
        assert r.verified_serial is None and r.xml()["result_code"] == "SUCCESS"
    assert "Authorization" not in v2.headers[-1]


# -- issue 11: flat documents only, signed with the request's algorithm, v2 idempotency ------------------
@dataclass
class NotifyServer:
    """A merchant's v2 notify endpoint: records what ``verify_notification`` said and how long it took."""

    url: str = ""
    outcomes: list[tuple[str, float]] = field(default_factory=list)


@pytest.fixture
async def notify_endpoint() -> AsyncIterator[NotifyServer]:
    state = NotifyServer()

    async def notify(request: web.Request) -> web.Response:
        body = await request.read()
        pinned = request.query.get("sign_type")
        started = time.perf_counter()
        try:
            doc = verify_notification(body, KEY, sign_type=pinned) if pinned else verify_notification(body, KEY)
        except VerificationError as exc:
            state.outcomes.append((f"{exc.reason}: {exc.message}", time.perf_counter() - started))
            return web.Response(status=400, body=reply(False, exc.reason), content_type="text/xml")
        state.outcomes.append((f"ok {json.dumps(doc, sort_keys=True)}", time.perf_counter() - started))
        return web.Response(body=reply(), content_type="text/xml")

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/notify", notify)
    async with serve(app) as server:
        state.url = str(server.make_url("/notify"))
        yield state


async def _post(url: str, body: bytes) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as resp:
        await resp.read()
        return resp.status


def _inject(document: bytes, extra: bytes) -> bytes:
    return document.replace(b"</xml>", extra + b"</xml>")


async def test_repeated_elements_are_refused_fast_before_the_sign_check(notify_endpoint: NotifyServer) -> None:
    """Finding 1: 40k repeated elements used to take seconds of event-loop time (quadratic), unauthenticated."""
    genuine = V2Fake(KEY, MCHID).payment_notification(out_trade_no="T1", total_fee="1")
    for extra in (b"<attach>x</attach>" * 40_000, b"".join(b"<f%d>1</f%d>" % (i, i) for i in range(40_000))):
        assert await _post(notify_endpoint.url, _inject(genuine, extra)) == 400
    (repeated, t1), (too_many, t2) = notify_endpoint.outcomes
    assert repeated.startswith("bad_body") and "repeated element <attach>" in repeated
    assert too_many.startswith("bad_body") and "more than 10000 elements" in too_many
    assert t1 < 1.0 and t2 < 1.0  # generous: linear parsing refuses these in milliseconds
    with pytest.raises(XMLError, match="more than 3 elements"):
        parse_xml(b"<xml><a>1</a><b>2</b><c>3</c></xml>", max_elements=3)


async def test_only_flat_signed_strings_pass_verification(v2: V2Server, notify_endpoint: NotifyServer) -> None:
    """Finding 3: nested and repeated elements were skipped by the sign check but returned as verified."""
    fake = v2.fake
    signed = fake.signed({"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": "T1"})
    forgeries = {
        "/pay/repeated": _inject(signed, b"<total_fee>100000</total_fee><total_fee>100000</total_fee>"),
        "/pay/nested": _inject(signed, b"<attach><order>free</order></attach>"),
        "/pay/mixed": _inject(signed, b"free"),
    }
    for path, forged in forgeries.items():
        CUSTOM[path] = _serving(forged)
    async with v2.client() as wxpay:
        for path in forgeries:
            with pytest.raises(VerificationError) as info:
                await wxpay.chain("v2" + path).post(xml={"out_trade_no": "T1"})
            assert info.value.reason == "bad_body", path
    genuine = fake.payment_notification(out_trade_no="T1", total_fee="1")
    for extra in (b"<total_fee>9</total_fee>", b"<cash_fee>9</cash_fee><cash_fee>9</cash_fee>",
                  b"<attach><order>free</order></attach>"):
        assert await _post(notify_endpoint.url, _inject(genuine, extra)) == 400
    assert all(outcome.startswith("bad_body") for outcome, _ in notify_endpoint.outcomes)
    # verify() on a mapping built elsewhere refuses what the sign cannot cover.
    doc = parse_xml(signed)
    assert verify(doc, KEY)
    for extra_value in (["1", "2"], {"order": "free"}, None, True, 1.5):
        assert not verify({**doc, "total_fee": extra_value}, KEY)


def _serving(body: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/xml")

    return answer


async def test_answers_are_verified_with_the_requests_algorithm(v2: V2Server, notify_endpoint: NotifyServer) -> None:
    """Finding 13: the algorithm came from the received sign's length, so MD5 passed where HMAC was asked."""
    fake = v2.fake
    answer = {"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": "T1"}
    CUSTOM["/pay/md5answer"] = _serving(fake.signed(answer, MD5))
    CUSTOM["/pay/hmacanswer"] = _serving(fake.signed(answer, HMAC_SHA256))
    async with v2.client() as wxpay:
        for path, asked in (("md5answer", HMAC_SHA256), ("hmacanswer", MD5)):
            with pytest.raises(VerificationError) as info:
                await wxpay.chain(f"v2/pay/{path}").post(xml={"sign_type": asked})
            assert info.value.reason == "bad_signature"
        assert (await wxpay.v2.pay.md5answer.post(xml={})).xml()["out_trade_no"] == "T1"
        r = await wxpay.v2.pay.hmacanswer.post(xml={"sign_type": HMAC_SHA256})
        assert len(r.xml()["sign"]) == 64
    # Notifications: the document's own (signed) sign_type decides, MD5 when it names none; a pin overrides.
    md5_claiming_hmac = fake.signed({**fake._common({}), "sign_type": HMAC_SHA256, "out_trade_no": "T1"}, MD5)
    plain_md5 = fake.payment_notification(MD5, out_trade_no="T2")
    hmac_notification = fake.payment_notification(HMAC_SHA256, out_trade_no="T3")
    assert await _post(notify_endpoint.url, md5_claiming_hmac) == 400
    assert await _post(notify_endpoint.url, plain_md5) == 200  # WeChat's MD5-signed notifications still pass
    assert await _post(notify_endpoint.url + "?sign_type=HMAC-SHA256", plain_md5) == 400
    assert await _post(notify_endpoint.url + "?sign_type=HMAC-SHA256", hmac_notification) == 200
    assert [o.split(":")[0].split(" ")[0] for o, _ in notify_endpoint.outcomes] == ["bad_signature", "ok",
                                                                                     "bad_signature", "ok"]
    assert not verify(parse_xml(plain_md5), KEY, HMAC_SHA256) and verify(parse_xml(plain_md5), KEY)


@pytest.fixture
async def flaky_v2() -> AsyncIterator[tuple[V2Server, dict[str, int]]]:
    """The fake behind a front that answers 500 to the first call of each path."""
    state = V2Server(V2Fake(KEY, MCHID))
    calls: dict[str, int] = {}
    state.fake.handlers["/mmpaymkttransfers/promotion/transfers"] = state.fake._common
    state.fake.handlers["/pay/refundquery"] = state.fake._common

    async def front(request: web.Request) -> web.Response:
        calls[request.path] = calls.get(request.path, 0) + 1
        if calls[request.path] == 1:
            return web.Response(status=500, body=b"<xml><return_code>FAIL</return_code></xml>")
        return await state.fake.handle(request, request.path)

    app = web.Application()
    app.router.add_post("/{tail:.*}", front)
    async with serve(app) as state.server:
        yield state, calls


async def test_v2_retries_follow_merchant_numbers_and_queries_are_reads(
    flaky_v2: tuple[V2Server, dict[str, int]],
) -> None:
    """Finding 14: every v2 call counted as non-idempotent, so a 500 on micropay with out_trade_no was final."""
    from wechatpay_chain import OutcomeUnknown, RetryPolicy

    v2, calls = flaky_v2
    async with v2.client(retry=RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005)) as wxpay:
        r = await wxpay.v2.pay.micropay.post(xml={"out_trade_no": "T1", "auth_code": "134567890123456789"})
        assert r.xml()["out_trade_no"] == "T1"
        await wxpay.v2.pay.orderquery.post(xml={"transaction_id": "4200000001"})  # a query: a read
        await wxpay.v2.pay.refundquery.post(xml={"refund_id": "5030000001"})
        await wxpay.v2.mmpaymkttransfers.promotion.transfers.post(xml={"partner_trade_no": "P1", "mchid": MCHID})
        with pytest.raises(OutcomeUnknown, match="merchant request number"):
            await wxpay.v2.secapi.pay.reverse.post(xml={"transaction_id": "4200000001"})
        with pytest.raises(OutcomeUnknown):
            await wxpay.v2.pay.closeorder.post(xml={"out_trade_no": "T1"}, idempotent=False)
    assert calls == {"/pay/micropay": 2, "/pay/orderquery": 2, "/pay/refundquery": 2,
                     "/mmpaymkttransfers/promotion/transfers": 2, "/secapi/pay/reverse": 1, "/pay/closeorder": 1}
