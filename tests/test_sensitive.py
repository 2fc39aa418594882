"""Sensitive fields: the server decrypts with the platform private key and checks Wechatpay-Serial."""

from __future__ import annotations

import pickle
from typing import Any

import orjson
import pytest
from aiohttp import web
from conftest import PUB_KEY_ID, FakeWeChat, Keys
from wxfixtures import APIV3_KEY, CertRoute

from wechatpay_chain import ConfigError, DecryptionError, TemplateError, crypto
from wechatpay_chain.sensitive import Ciphertext, Encryptor, payload_serial
from wechatpay_chain.testing import generate_key_pair

APPLYMENT = ("POST", "/v3/applyment4sub/applyment/")


def decrypting_route(fake: FakeWeChat, keys: Keys) -> list[dict[str, Any]]:
    """Like WeChat Pay: pick the private key by Wechatpay-Serial, decrypt every ``enc_`` field, echo them."""
    private = {keys.platform.serial: keys.platform.private_key, PUB_KEY_ID: keys.platform2.private_key}
    got: list[dict[str, Any]] = []

    def reply(request: web.Request, body: bytes) -> web.Response:
        serial = request.headers.get("Wechatpay-Serial", "")
        key = private.get(serial)
        if key is None:
            return web.Response(status=400, body=b'{"code":"PARAM_ERROR","message":"Wechatpay-Serial"}')
        doc = orjson.loads(body)
        plain = {name: crypto.rsa_decrypt(value, key) for name, value in doc["contact"].items()}
        got.append({"serial": serial, **plain})
        return fake.signed(200, orjson.dumps({"applyment_id": 1}))

    fake.routes[APPLYMENT] = reply
    return got


async def test_encrypted_fields_set_the_serial_header_automatically(fake: FakeWeChat, keys: Keys) -> None:
    got = decrypting_route(fake, keys)
    async with fake.client() as client:
        body = {"contact": {"name": client.encrypt("张三"), "mobile": client.encrypt("13800138000")}}
        await client.chain("v3/applyment4sub/applyment/").post(json=body)
    assert got == [{"serial": keys.platform.serial, "name": "张三", "mobile": "13800138000"}]
    assert fake.seen[-1].headers["Wechatpay-Serial"] == keys.platform.serial


async def test_public_key_is_preferred_and_encrypt_fields_copies(fake: FakeWeChat, keys: Keys) -> None:
    got = decrypting_route(fake, keys)
    certs = {keys.platform.serial: keys.platform.certificate, PUB_KEY_ID: keys.platform2.public_key}
    async with fake.client(certs=certs) as client:
        enc = client.encryptor()
        assert enc.serial == PUB_KEY_ID and enc.headers == {"Wechatpay-Serial": PUB_KEY_ID}
        original: dict[str, Any] = {"contact": {"name": "李四", "id": "110101199003071234"}, "n": 1}
        payload = enc.encrypt_fields(original, ["contact.name", "contact.id"])
        assert original["contact"]["name"] == "李四"  # untouched
        await client.chain("v3/applyment4sub/applyment/").post(json=payload)
        # explicit serial choice
        payload = client.encryptor(keys.platform.serial).encrypt_fields(original, ["contact.name", "contact.id"])
        await client.chain("v3/applyment4sub/applyment/").post(json=payload)
    assert got == [
        {"serial": PUB_KEY_ID, "name": "李四", "id": "110101199003071234"},
        {"serial": keys.platform.serial, "name": "李四", "id": "110101199003071234"},
    ]


async def test_mixing_keys_is_refused_before_io(fake: FakeWeChat, keys: Keys) -> None:
    certs = {keys.platform.serial: keys.platform.certificate, PUB_KEY_ID: keys.platform2.public_key}
    async with fake.client(certs=certs) as client:
        mixed = {"a": client.encrypt("x"), "b": [client.encrypt("y", serial=keys.platform.serial)]}
        with pytest.raises(TemplateError, match="different WeChat Pay keys"):
            await client.chain("v3/applyment4sub/applyment/").post(json=mixed)
        conflicting = {"a": client.encrypt("x")}
        with pytest.raises(TemplateError, match="Wechatpay-Serial is"):
            await client.v3.x.post(json=conflicting, headers={"wechatpay-serial": keys.platform.serial})
        # an explicit header that agrees is fine
        await client.v3.x.post(json=conflicting, headers={"Wechatpay-Serial": PUB_KEY_ID})
    assert [s.target for s in fake.seen] == ["/v3/x"]


async def test_encryptor_selection_errors(fake: FakeWeChat, keys: Keys) -> None:
    two = {keys.platform.serial: keys.platform.certificate, keys.platform2.serial: keys.platform2.certificate}
    async with fake.client(certs=two) as client:
        with pytest.raises(ConfigError, match="pass serial="):
            client.encryptor()
        with pytest.raises(ConfigError, match="not among the trusted"):
            client.encryptor("ABC")
        assert client.encryptor(keys.platform2.serial).serial == keys.platform2.serial
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        with pytest.raises(ConfigError, match=r"certificates\.refresh"):
            client.encrypt("x")


async def test_newest_downloaded_certificate_is_used(fake: FakeWeChat, keys: Keys) -> None:
    newer = generate_key_pair("platform-3", days=730)  # same effective time, later expiry
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform, newer], keys.platform)
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        assert client.certificates is not None
        await client.certificates.refresh()
        newest = client.certificates.newest()
        assert newest is not None and client.encryptor().serial == newest.serial
        assert newest.serial == newer.serial


async def test_decrypt_sensitive_answer_fields_with_the_merchant_key(fake: FakeWeChat, keys: Keys) -> None:
    secret = crypto.rsa_encrypt("13800138000", keys.merchant.public_key)
    fake.routes[("GET", "/v3/profile")] = lambda r, b: fake.signed(200, orjson.dumps({"mobile": secret}))
    async with fake.client() as client:
        doc = (await client.v3.profile.get()).json()
        assert client.decrypt(doc["mobile"]) == "13800138000"
        with pytest.raises(DecryptionError):
            client.decrypt(crypto.rsa_encrypt("x", keys.platform.public_key))


def test_ciphertext_is_a_str_that_keeps_its_serial(keys: Keys) -> None:
    enc = Encryptor("SERIAL1", keys.platform.certificate)
    ct = enc.encrypt("v")
    assert isinstance(ct, str) and isinstance(ct, Ciphertext) and ct.serial == "SERIAL1"
    assert orjson.loads(orjson.dumps({"x": ct})) == {"x": str(ct)}
    again = pickle.loads(pickle.dumps(ct))
    assert again == ct and again.serial == "SERIAL1"
    assert enc.encrypt("") == "" and payload_serial({"x": enc.encrypt("")}) is None
    assert payload_serial({"x": ("a", [ct])}) == "SERIAL1"
    assert repr(enc) == "Encryptor(serial='SERIAL1')"


@pytest.mark.parametrize(
    ("fields", "message"),
    [(["a.b"], "does not lead"), (["missing"], "not in the payload"), (["n"], "not a string")],
)
def test_encrypt_fields_errors(keys: Keys, fields: list[str], message: str) -> None:
    enc = Encryptor("S", keys.platform.public_key)
    with pytest.raises(TemplateError, match=message):
        enc.encrypt_fields({"a": "x", "n": 1}, fields)


def test_encryptor_arguments(keys: Keys) -> None:
    with pytest.raises(ConfigError, match="serial"):
        Encryptor("", keys.platform.public_key)
    with pytest.raises(TypeError, match="strings"):
        Encryptor("S", keys.platform.public_key).encrypt(5)  # type: ignore[arg-type]
