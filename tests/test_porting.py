"""Porting wechatpay-php mechanically: the whole Builder::factory configuration, Guzzle options, promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from conftest import MCHID, FakeWeChat, Keys
from wechatpay_chain import Builder, Client, ConfigError, SyncClient, TemplateError
from wechatpay_chain.php import Rsa
from wechatpay_chain.v2 import MerchantCertificate

V2KEY = "exposed0your0key0here0have0risks"


def _files(keys: Keys, tmp_path: Path) -> tuple[str, str]:
    cert = tmp_path / "apiclient_cert.pem"
    key = tmp_path / "apiclient_key.pem"
    cert.write_bytes(keys.merchant.certificate_pem())
    key.write_bytes(keys.merchant.private_pem())
    return str(cert), str(key)


# -- Builder.factory with the whole PHP configuration ------------------------------------------------------------
def test_factory_takes_readme_apiv2_config_with_placeholders_and_merchant(keys: Keys, tmp_path: Path) -> None:
    """README_APIv2 "V2初始化" as written: dummy APIv3 settings, `secret`, `merchant => [cert, key]`."""
    cert, key = _files(keys, tmp_path)
    wxpay = Builder.factory(
        {
            "mchid": MCHID,
            "serial": "nop",
            "privateKey": "any",
            "certs": {"any": None},
            "secret": V2KEY,
            "merchant": {"cert": cert, "key": key},
        }
    )
    assert isinstance(wxpay, Client) and wxpay.apiv2_key == V2KEY and wxpay.serial is None
    assert isinstance(wxpay._merchant_tls, MerchantCertificate)
    assert V2KEY not in repr(wxpay)


def test_factory_merchant_forms(keys: Keys, tmp_path: Path) -> None:
    cert, key = _files(keys, tmp_path)
    encrypted = tmp_path / "encrypted_key.pem"
    encrypted.write_bytes(
        keys.merchant.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        )
    )
    p12 = tmp_path / "apiclient_cert.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"m", keys.merchant.private_key, keys.merchant.certificate, None,
            serialization.BestAvailableEncryption(MCHID.encode()),
        )
    )
    base = {"mchid": MCHID, "secret": V2KEY}
    for merchant in (
        {"cert": f"file://{cert}", "key": f"file://{key}"},
        {"cert": cert, "key": [str(encrypted), "pw"]},
        {"cert": [str(p12), MCHID]},
        {"pfx": str(p12), "passphrase": MCHID},
    ):
        assert isinstance(Builder.factory({**base, "merchant": merchant})._merchant_tls, MerchantCertificate)
    for merchant, field in (
        ({"cert": cert}, "merchant['key']"),
        ({"key": key}, "merchant['cert']"),
        ({"cert": cert, "key": key, "ca": "x"}, "merchant['ca']"),
        ({"cert": [cert, "a", "b"], "key": key}, "merchant['cert']"),
        ("apiclient_cert.pem", "merchant"),
    ):
        with pytest.raises(ConfigError) as info:
            Builder.factory({**base, "merchant": merchant})
        assert info.value.field == field
    with pytest.raises(ConfigError, match="passphrase"):
        Builder.factory({**base, "merchant": {"cert": cert, "key": str(encrypted)}})


def test_factory_apiv3_key_forms_and_placeholder_rules(keys: Keys, fake: FakeWeChat, tmp_path: Path) -> None:
    cert, key = _files(keys, tmp_path)
    encrypted = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    platform = fake.certs()
    for private_key in (f"file://{key}", [encrypted, "pw"], Rsa.from_(f"file://{key}")):
        certs = {s: Rsa.from_(v, Rsa.KEY_TYPE_PUBLIC) for s, v in platform.items()}
        wxpay = Builder.factory(
            {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": private_key, "certs": certs, "secret": V2KEY}
        )
        assert wxpay.serial == keys.merchant.serial and wxpay.apiv2_key == V2KEY
    with pytest.raises(ConfigError, match="null placeholders") as info:
        Builder.factory({"mchid": MCHID, "serial": "nop", "privateKey": "any", "certs": {"any": None}})
    assert info.value.field == "certs"
    with pytest.raises(ConfigError) as info:
        Builder.factory(
            {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": f"file://{key}", "secret": V2KEY,
             "certs": {"any": None, **platform}}
        )
    assert info.value.field == "certs['any']"


async def test_factory_guzzle_client_options(fake: FakeWeChat, keys: Keys) -> None:
    base = {
        "mchid": MCHID,
        "serial": keys.merchant.serial,
        "privateKey": keys.merchant.private_pem().decode(),
        "certs": fake.certs(),
        "base_uri": fake.base_url,
    }
    wxpay = Builder.factory(
        {**base, "verify": True, "allow_redirects": False, "http_errors": True, "timeout": 5,
         "headers": {"user-agent": "ported/1.0", "X-Extra": "1"}}
    )
    async with wxpay:
        r = await wxpay.v3.x.get()
    assert r.json()["path"] == "/v3/x"
    assert fake.seen[-1].headers["User-Agent"] == "ported/1.0" and fake.seen[-1].headers["X-Extra"] == "1"
    refused = {
        "verify": (False, "cannot be turned off"),
        "allow_redirects": (True, "never follows"),
        "http_errors": (False, "per call"),
        "debug": (True, "logging"),
        "handler": (object(), "hooks="),
        "proxy": ("http://127.0.0.1:3128", r"session=aiohttp\.ClientSession\(proxy="),
        "headers": ({"Authorization": "x"}, "Authorization"),
        "cookies": (True, "not a recognised configuration key"),
    }
    for name, (value, message) in refused.items():
        with pytest.raises(ConfigError, match=message) as info:
            Builder.factory({**base, name: value})
        assert info.value.field == name
    with pytest.raises(ConfigError, match="per call"):
        Builder.factory({**base, "verify": "/etc/ssl/certs/ca-certificates.crt"})
    sync = Builder.factory({**base, "headers": {"X-Extra": "2"}}, sync=True)
    try:
        assert isinstance(sync, SyncClient) and sync.client._base_headers["X-Extra"] == "2"
    finally:
        sync.close()


async def test_guzzle_request_options_refused_with_the_python_way(fake: FakeWeChat) -> None:
    wxpay = fake.client()
    node = wxpay.v3.pay.transactions.native
    for name, value, message in (
        ("debug", True, "logging.getLogger"),
        ("handler", object(), "hooks="),
        ("proxy", "http://p", "session=aiohttp.ClientSession"),
        ("allow_redirects", True, "never follows"),
        ("allow_redirects", {"max": 5}, "never follows"),
        ("verify", False, "cannot be turned off"),
        ("http_errors", "no", "True or False"),
    ):
        with pytest.raises(TemplateError, match=message):
            node.post({"json": {}, name: value})
    assert not fake.seen
