"""Callback notifications: verified exactly like a response, decrypted, typed; the aiohttp handler."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import PUB_KEY_ID, REFERENCE, FakeWeChat, Keys, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from wxfixtures import APIV3_KEY, CertRoute, notification

from wechatpay_chain import DecryptionError, VerificationError, Verifier, WeChatPayError, crypto
from wechatpay_chain.notify import Notification, aiohttp_handler, parse_notification

V: dict[str, Any] = json.loads((REFERENCE / "vectors.json").read_text())
GO = V["notification_go"]
GO_CERT = crypto.load_public_key(f"file://{REFERENCE / 'keys' / 'go_platform_cert_D7CE59D1F522D701.pem'}")
PINNED = 1624523846


def go_verifier(now: float = PINNED) -> Verifier:
    return Verifier({"D7CE59D1F522D701": GO_CERT}, clock=lambda: now)


def verifier(keys: Keys, now: float | None = None) -> Verifier:
    trusted = {keys.platform.serial: keys.platform.public_key, PUB_KEY_ID: keys.platform2.public_key}
    return Verifier(trusted) if now is None else Verifier(trusted, clock=lambda: now)


# -- the vector, through every header container ------------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda h: h, id="dict"),
        pytest.param(lambda h: {k.lower(): v for k, v in h.items()}, id="lowercase-dict"),
        pytest.param(lambda h: {k.upper(): v for k, v in h.items()}, id="uppercase-dict"),
        pytest.param(lambda h: CIMultiDict(h), id="multidict"),
        pytest.param(lambda h: [(k.lower().encode(), v.encode()) for k, v in h.items()], id="asgi-pairs"),
    ],
)
def test_vector_v_notify_1(wrap: Callable[[dict[str, str]], Any]) -> None:
    note = parse_notification(wrap(GO["headers"]), GO["body"].encode(), go_verifier(), GO["apiv3_key_utf8"])
    assert isinstance(note, Notification)
    assert note.id == "3119dfba-e649-5eec-ab1e-3412bc4d2e17"
    assert note.create_time == "2021-06-24T16:37:26+08:00" and note.created.utcoffset() is not None
    assert note.event_type == "PAYSCORE.USER_OPEN_SERVICE"
    assert note.resource_type == "encrypt-resource"
    assert note.summary == "签约成功"
    assert note.original_type == "payscore"
    assert note.resource == json.loads(GO["expected_plaintext"])
    assert note.original["resource"]["nonce"] == "Kj7QIyUiYx1q"
    assert note.body == GO["body"].encode()
    with pytest.raises(AttributeError):
        note.id = "x"  # type: ignore[misc]
    assert "Kj7Q" not in repr(note) and GO["apiv3_key_utf8"] not in repr(note)


def test_vector_str_body_is_accepted() -> None:
    assert parse_notification(GO["headers"], GO["body"], go_verifier(), GO["apiv3_key_utf8"]).summary == "签约成功"


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (299, True), (300, False), (-300, False), (10_000, False)])
def test_vector_clock_window(offset: int, ok: bool) -> None:
    if ok:
        parse_notification(GO["headers"], GO["body"].encode(), go_verifier(PINNED + offset), GO["apiv3_key_utf8"])
    else:
        with pytest.raises(VerificationError) as info:
            parse_notification(GO["headers"], GO["body"].encode(), go_verifier(PINNED + offset), GO["apiv3_key_utf8"])
        assert info.value.reason == VerificationError.CLOCK_SKEW


def test_vector_tampered_body_fails_signature() -> None:
    body = GO["body"].replace("签约成功", "签约失败").encode()
    with pytest.raises(VerificationError) as info:
        parse_notification(GO["headers"], body, go_verifier(), GO["apiv3_key_utf8"])
    assert info.value.reason == VerificationError.BAD_SIGNATURE


def test_vector_reencoded_json_fails() -> None:
    body = json.dumps(json.loads(GO["body"])).encode()  # what a framework that re-serialises would hand over
    with pytest.raises(VerificationError):
        parse_notification(GO["headers"], body, go_verifier(), GO["apiv3_key_utf8"])


def test_vector_wrong_apiv3_key() -> None:
    with pytest.raises(DecryptionError, match="APIv3 key"):
        parse_notification(GO["headers"], GO["body"].encode(), go_verifier(), "testMchAPIv3Key1")


def test_vector_probe_signature_rejected() -> None:
    headers = dict(GO["headers"], **{"Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + GO["headers"]["Wechatpay-Signature"]})
    with pytest.raises(VerificationError, match="probe") as info:
        parse_notification(headers, GO["body"].encode(), go_verifier(), GO["apiv3_key_utf8"])
    assert info.value.reason == VerificationError.BAD_SIGNATURE


def test_vector_unknown_serial() -> None:
    headers = dict(GO["headers"], **{"Wechatpay-Serial": "F5765756002FDD77"})
    with pytest.raises(VerificationError) as info:
        parse_notification(headers, GO["body"].encode(), go_verifier(), GO["apiv3_key_utf8"])
    assert info.value.reason == VerificationError.UNKNOWN_SERIAL


@pytest.mark.parametrize("missing", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"])
def test_vector_missing_header(missing: str) -> None:
    headers = {k: v for k, v in GO["headers"].items() if k != missing}
    with pytest.raises(VerificationError) as info:
        parse_notification(headers, GO["body"].encode(), go_verifier(), GO["apiv3_key_utf8"])
    assert info.value.reason == VerificationError.MISSING_HEADERS


def test_unsupported_signature_type_rejected() -> None:
    headers = dict(GO["headers"], **{"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"})
    with pytest.raises(VerificationError, match="SM2"):
        parse_notification(headers, GO["body"].encode(), go_verifier(), GO["apiv3_key_utf8"])


# -- fresh notifications: certificates and public keys side by side, tampering after signing ------------------


def test_certificate_and_public_key_side_by_side(keys: Keys) -> None:
    h1, b1 = notification(keys.platform, {"out_trade_no": "A"})
    h2, b2 = notification(keys.platform2, {"out_trade_no": "B"}, serial=PUB_KEY_ID)
    v = verifier(keys)
    assert parse_notification(h1, b1, v, APIV3_KEY).resource == {"out_trade_no": "A"}
    note = parse_notification(h2, b2, v, APIV3_KEY)
    assert note.resource == {"out_trade_no": "B"} and note.serial == PUB_KEY_ID
    # a public-key id signed by the certificate key is a bad signature, not a fallback to "try every key"
    h3, b3 = notification(keys.platform, {"x": 1}, serial=PUB_KEY_ID)
    with pytest.raises(VerificationError, match="does not match"):
        parse_notification(h3, b3, v, APIV3_KEY)


def _resign(keys: Keys, doc: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    from wechatpay_chain.testing import sign_response_headers

    body = orjson.dumps(doc)
    return sign_response_headers(body, keys.platform.private_key, keys.platform.serial), body


def test_tampered_resource_signed_by_the_platform_is_a_decryption_error(keys: Keys) -> None:
    _, body = notification(keys.platform, {"amount": 1})
    doc = orjson.loads(body)
    raw = bytearray(base64.b64decode(doc["resource"]["ciphertext"]))
    raw[3] ^= 0x40
    doc["resource"]["ciphertext"] = base64.b64encode(raw).decode()
    with pytest.raises(DecryptionError):
        parse_notification(*_resign(keys, doc), verifier(keys), APIV3_KEY)
    doc = orjson.loads(body)
    doc["resource"]["associated_data"] = "refund"
    with pytest.raises(DecryptionError):
        parse_notification(*_resign(keys, doc), verifier(keys), APIV3_KEY)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d["resource"].update(algorithm="AEAD_SM4_GCM"), DecryptionError),
        (lambda d: d.pop("resource"), VerificationError),
        (lambda d: d["resource"].pop("nonce"), DecryptionError),
        (lambda d: d.update(id=5), VerificationError),
    ],
)
def test_malformed_but_signed_envelopes(keys: Keys, change: Callable[[dict[str, Any]], object], error: type[Exception]) -> None:
    _, body = notification(keys.platform, {"amount": 1})
    doc = orjson.loads(body)
    change(doc)
    with pytest.raises(error):
        parse_notification(*_resign(keys, doc), verifier(keys), APIV3_KEY)


def test_resource_not_json_after_decryption(keys: Keys) -> None:
    _, body = notification(keys.platform, {})
    doc = orjson.loads(body)
    doc["resource"]["ciphertext"] = crypto.aes_gcm_encrypt(b"not json", APIV3_KEY, doc["resource"]["nonce"], "transaction")
    with pytest.raises(DecryptionError, match="not JSON"):
        parse_notification(*_resign(keys, doc), verifier(keys), APIV3_KEY)


def test_signed_non_json_body(keys: Keys) -> None:
    from wechatpay_chain.testing import sign_response_headers

    headers = sign_response_headers(b"<xml/>", keys.platform.private_key, keys.platform.serial)
    with pytest.raises(VerificationError) as info:
        parse_notification(headers, b"<xml/>", verifier(keys), APIV3_KEY)
    assert info.value.reason == VerificationError.BAD_BODY


header_values = st.one_of(st.text(max_size=40), st.sampled_from(["1624523846", "WECHATPAY/SIGNTEST/AAAA", "D7CE59D1F522D701"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.dictionaries(
        st.sampled_from(["Wechatpay-Timestamp", "wechatpay-nonce", "Wechatpay-Signature", "WECHATPAY-SERIAL", "X"]),
        header_values,
    ),
    body=st.one_of(st.binary(max_size=300), st.just(GO["body"].encode()), st.just(b'{"resource":{}}')),
)
def test_garbage_only_raises_library_errors(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(WeChatPayError):
        parse_notification(headers, body, go_verifier(), GO["apiv3_key_utf8"])


@pytest.mark.parametrize("headers", [None, 5, [("a",)], {"Wechatpay-Serial": 5}])
def test_unusable_header_containers(headers: Any) -> None:
    with pytest.raises(WeChatPayError):
        parse_notification(headers, b"{}", go_verifier(), GO["apiv3_key_utf8"])


# -- through the client and the aiohttp handler --------------------------------------------------------


@pytest.fixture
async def receiver(fake: FakeWeChat, keys: Keys) -> AsyncIterator[tuple[str, list[Notification], dict[str, Any]]]:
    """A notify_url served by ``aiohttp_handler`` around a client with apiv3_key."""
    route = CertRoute([keys.platform], keys.platform)
    fake.routes[("GET", "/v3/certificates")] = route
    seen: list[Notification] = []
    state: dict[str, Any] = {"fail": False, "route": route}

    async def on_notification(note: Notification) -> None:
        if state["fail"]:
            raise RuntimeError("database down")
        seen.append(note)

    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        state["client"] = client
        app = web.Application()
        app.router.add_post("/notify", aiohttp_handler(client, on_notification))
        async with serve(app) as server:
            yield str(server.make_url("/notify")), seen, state


async def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.read()


async def test_handler_accepts_with_204(receiver: tuple[str, list[Notification], dict[str, Any]], keys: Keys) -> None:
    url, seen, state = receiver
    headers, body = notification(keys.platform, {"out_trade_no": "1217752501201407033233368018"})
    status, reply = await _post(url, headers, body)
    assert (status, reply) == (204, b"")
    assert [n.resource["out_trade_no"] for n in seen] == ["1217752501201407033233368018"]
    assert state["route"].downloads == 1  # the client downloaded certificates first (it had none)


async def test_handler_rejects_forgery_and_probe_with_fail_json(receiver: tuple[str, list[Notification], dict[str, Any]], keys: Keys) -> None:
    url, seen, _ = receiver
    headers, body = notification(keys.platform, {"x": 1})
    status, reply = await _post(url, headers, body.replace(b"EV-", b"XX-"))
    assert status == 401 and orjson.loads(reply) == {"code": "FAIL", "message": "verification failed: bad_signature"}
    probe = dict(headers, **{"Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]})
    status, reply = await _post(url, probe, body)
    assert status == 401 and orjson.loads(reply)["code"] == "FAIL"
    status, reply = await _post(url, {}, b"")
    assert status == 401 and orjson.loads(reply)["message"] == "verification failed: missing_headers"
    assert seen == []


async def test_handler_wrong_key_is_400(receiver: tuple[str, list[Notification], dict[str, Any]], keys: Keys) -> None:
    url, seen, _ = receiver
    headers, body = notification(keys.platform, {"x": 1}, apiv3_key="X" * 32)
    status, reply = await _post(url, headers, body)
    assert status == 400 and orjson.loads(reply) == {"code": "FAIL", "message": "decryption failed"}
    assert seen == []


async def test_handler_callback_failure_is_500_so_wechat_retries(
    receiver: tuple[str, list[Notification], dict[str, Any]], keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    url, _, state = receiver
    state["fail"] = True
    headers, body = notification(keys.platform, {"x": 1})
    status, reply = await _post(url, headers, body)
    assert status == 500 and orjson.loads(reply) == {"code": "FAIL", "message": "handler failed"}
    assert "database down" not in reply.decode()
    assert "notification handler failed" in caplog.text


async def test_client_refreshes_on_unknown_notification_serial(
    receiver: tuple[str, list[Notification], dict[str, Any]], keys: Keys
) -> None:
    url, seen, state = receiver
    route: CertRoute = state["route"]
    headers, body = notification(keys.platform, {"n": 1})
    assert (await _post(url, headers, body))[0] == 204
    # WeChat Pay rotates: the new certificate is listed and starts signing callbacks.
    route.listed = [keys.platform, keys.platform2]
    headers, body = notification(keys.platform2, {"n": 2})
    assert (await _post(url, headers, body))[0] == 204
    assert [n.resource["n"] for n in seen] == [1, 2] and route.downloads == 2
    # an unknown serial nobody lists: one more download at most, then rate-limited
    forged, fbody = notification(keys.merchant, {"n": 3}, serial="ABCDEF")
    assert (await _post(url, forged, fbody))[0] == 401
    assert (await _post(url, forged, fbody))[0] == 401
    assert route.downloads <= 3


async def test_client_parse_notification_needs_apiv3_key(fake: FakeWeChat, keys: Keys) -> None:
    headers, body = notification(keys.platform, {})
    async with fake.client() as client:
        with pytest.raises(WeChatPayError, match="apiv3_key"):
            await client.parse_notification(headers, body)
