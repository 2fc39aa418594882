"""Issue 10, "Errors that mislead": what a new user gets wrong first, and the error that must explain it.

Keys are read from files the way users keep them (relative paths, ``pathlib.Path``, ``file://``, PKCS#12), and
the errors name the file and the problem; key-taking helpers accept the same forms; string bodies, the
``prepay_id=`` package form and option typos are accepted or refused clearly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import MCHID, FakeWeChat, Keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from wechatpay_chain import (
    APIError,
    Builder,
    Client,
    ConfigError,
    EventLoopError,
    SyncClient,
    TemplateError,
    crypto,
    paysign,
    signing,
)
from wechatpay_chain.sandbox import Sandbox, SyncSandbox
from wechatpay_chain.signing import Verifier
from wechatpay_chain.testing import sign_response_headers


def _client(keys: Keys, private_key: Any, **extra: Any) -> Client:
    certs = {keys.platform.serial: keys.platform.certificate}
    return Client(MCHID, keys.merchant.serial, private_key, certs, **extra)


def _same(a: Any, b: Any) -> bool:
    return bool(a.private_numbers() == b.private_numbers())


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with ``certs/apiclient_key.pem`` and ``certs/apiclient_cert.pem`` in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "certs").mkdir()
    return tmp_path


# -- 1. private_key as a file ------------------------------------------------------------------------------


def test_relative_and_path_object_keys_load(keys: Keys, in_tmp: Path) -> None:
    (in_tmp / "certs" / "apiclient_key.pem").write_bytes(keys.merchant.private_pem())
    for source in (
        "./certs/apiclient_key.pem",
        "certs/apiclient_key.pem",
        Path("certs/apiclient_key.pem"),
        in_tmp / "certs" / "apiclient_key.pem",
        f"file://{in_tmp}/certs/apiclient_key.pem",
        "file://certs/apiclient_key.pem",  # wechatpay-php's relative form
    ):
        assert _same(_client(keys, source)._private_key, keys.merchant.private_key), source


def test_missing_key_file_names_the_file_and_the_directory(keys: Keys, in_tmp: Path) -> None:
    for source in ("./certs/apiclient_key.pem", Path("certs/apiclient_key.pem"), "certs/apiclient_key.pem"):
        with pytest.raises(ConfigError, match="private_key: cannot read private key file") as info:
            _client(keys, source)
        text = str(info.value)
        assert "apiclient_key.pem" in text and "no such file" in text, text
        assert repr(str(in_tmp)) in text or str(in_tmp) in text, text  # where a relative path was looked for
        assert "not PEM" not in text
    with pytest.raises(ConfigError, match=r"no such file") as info:
        _client(keys, f"file://{in_tmp}/nope/apiclient_key.pem")
    assert "current directory" not in str(info.value)  # absolute: no cwd talk


def test_unusable_key_files_say_what_is_wrong(keys: Keys, in_tmp: Path) -> None:
    certs = in_tmp / "certs"
    (certs / "empty.pem").write_bytes(b"")
    (certs / "apiclient_cert.pem").write_bytes(keys.merchant.certificate_pem())
    encrypted = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    (certs / "locked.pem").write_bytes(encrypted)
    cases = [
        ("certs", "it is a directory"),
        ("certs/empty.pem", "'certs/empty.pem' is empty"),
        ("certs/apiclient_cert.pem", r"in file 'certs/apiclient_cert.pem' \(that is the public half\).*apiclient_key"),
        ("certs/locked.pem", "in file 'certs/locked.pem' is encrypted: give its passphrase"),
    ]
    for source, message in cases:
        with pytest.raises(ConfigError, match=message):
            _client(keys, Path(source) if source == "certs" else source)
    with pytest.raises(ConfigError, match=r"wrong passphrase .*locked\.pem"):
        _client(keys, "certs/locked.pem", passphrase="nope")
    assert _same(_client(keys, "certs/locked.pem", passphrase="pw")._private_key, keys.merchant.private_key)


def test_pkcs12_bundle_gets_a_hint_or_is_read_with_its_password(keys: Keys, in_tmp: Path) -> None:
    bundle = pkcs12.serialize_key_and_certificates(
        b"Tenpay Certificate", keys.merchant.private_key, keys.merchant.certificate, None,
        serialization.BestAvailableEncryption(MCHID.encode()),
    )
    (in_tmp / "certs" / "apiclient_cert.p12").write_bytes(bundle)
    with pytest.raises(ConfigError, match="PKCS#12") as info:
        _client(keys, "certs/apiclient_cert.p12")
    assert "openssl pkcs12 -in certs/apiclient_cert.p12 -nocerts -nodes" in str(info.value)
    assert "passphrase=" in str(info.value)
    with pytest.raises(ConfigError, match="wrong passphrase for the PKCS#12 bundle"):
        _client(keys, "certs/apiclient_cert.p12", passphrase="0000")
    loaded = _client(keys, "certs/apiclient_cert.p12", passphrase=MCHID)._private_key
    assert _same(loaded, keys.merchant.private_key)


def test_der_key_and_bare_base64_text(keys: Keys, in_tmp: Path) -> None:
    der = keys.merchant.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (in_tmp / "certs" / "apiclient_key.der").write_bytes(der)
    assert _same(_client(keys, "certs/apiclient_key.der")._private_key, keys.merchant.private_key)
    body = "".join(keys.merchant.private_pem().decode().splitlines()[1:-1])
    with pytest.raises(ConfigError, match="without the -----BEGIN/END----- lines") as info:
        _client(keys, body)
    assert "MII" not in str(info.value)


def test_key_helpers_take_the_same_forms_as_the_client(keys: Keys, in_tmp: Path) -> None:
    (in_tmp / "certs" / "apiclient_key.pem").write_bytes(keys.merchant.private_pem())
    (in_tmp / "certs" / "platform.pem").write_bytes(keys.platform.certificate_pem())
    url = f"file://{in_tmp}/certs/apiclient_key.pem"
    params = paysign.jsapi_params("wx8888888888888888", "wx201410272009395522657a690389285100", url, nonce="N", timestamp=1)
    message = paysign.jsapi_message("wx8888888888888888", "1", "N", params["package"])
    assert crypto.rsa_verify(message, params["paySign"], keys.merchant.public_key)
    app = paysign.app_params("wx8888888888888888", MCHID, "wx2014", "certs/apiclient_key.pem", nonce="N", timestamp=1)
    assert crypto.rsa_verify(paysign.app_message("wx8888888888888888", "1", "N", "wx2014"), app["sign"], url)
    assert crypto.rsa_verify(b"m", crypto.rsa_sign(b"m", Path("certs/apiclient_key.pem")), "certs/platform.pem") is False
    secret = crypto.rsa_encrypt("张三", keys.merchant.certificate_pem())
    assert crypto.rsa_decrypt(secret, url) == "张三"
    signer = signing.RSASigner(MCHID, keys.merchant.serial, url)
    assert signer("GET", "/v3/x", b"").startswith(signing.AUTH_SCHEME)
    with pytest.raises(ValueError, match="no such file"):
        paysign.jsapi_params("wx8888888888888888", "wx2014", "file:///nonexistent/apiclient_key.pem")
    with pytest.raises(ValueError, match="got a public key"):
        crypto.rsa_sign(b"m", keys.merchant.public_key)  # type: ignore[arg-type]


def test_verifier_takes_certificates_and_paths(keys: Keys, in_tmp: Path) -> None:
    (in_tmp / "certs" / "platform.pem").write_bytes(keys.platform.certificate_pem())
    body = b'{"a":1}'
    headers = sign_response_headers(body, keys.platform.private_key, keys.platform.serial)
    for value in ("certs/platform.pem", keys.platform.certificate, keys.platform.certificate_pem()):
        assert Verifier({keys.platform.serial: value}).verify(headers, body) == keys.platform.serial  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"\['X'\]: .*no such file"):
        Verifier({"X": "certs/missing.pem"})  # type: ignore[dict-item]


# -- 6. other wrong-argument forms ---------------------------------------------------------------------------


def test_signing_messages_take_str_bodies_and_refuse_dicts() -> None:
    assert signing.response_message(1, "n", '{"总":1}') == signing.response_message("1", "n", '{"总":1}'.encode())
    assert signing.request_message("post", "/v3/x", 1, "n", "{}") == b"POST\n/v3/x\n1\nn\n{}\n"
    with pytest.raises(TypeError, match="exact bytes sent or received"):
        signing.response_message(1, "n", {"a": 1})  # type: ignore[arg-type]


def test_jsapi_params_take_the_package_form_without_doubling_it(keys: Keys) -> None:
    key = keys.merchant.private_key
    bare = paysign.jsapi_params("wx8888888888888888", "wx2014", key, nonce="N", timestamp=1)
    for form in ("prepay_id=wx2014", {"prepay_id": "wx2014"}):
        same = paysign.jsapi_params("wx8888888888888888", form, key, nonce="N", timestamp=1)
        assert same["package"] == "prepay_id=wx2014"
        assert same["paySign"] == bare["paySign"]
    assert paysign.app_params("wx1", MCHID, "prepay_id=wx2014", key)["prepayid"] == "wx2014"
    for wrong, message in (("prepay_id=", "prepay_id must be"), ({"code": "x"}, "no 'prepay_id'"), (12, "not int")):
        with pytest.raises(ValueError, match=message):
            paysign.jsapi_params("wx1", wrong, key)  # type: ignore[arg-type]


# -- 5. did you mean ------------------------------------------------------------------------------------------


async def test_unknown_options_and_placeholders_suggest_the_close_one(fake: FakeWeChat) -> None:
    async with fake.client() as wxpay:
        node = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
        cases: list[tuple[dict[str, Any], str]] = [
            ({"productCouponId": "1"}, "did you mean the placeholder 'product_coupon_id'"),
            ({"product_coupon_ids": "1"}, "did you mean the placeholder 'product_coupon_id'"),
            ({"product_coupon_id": "1", "jsno": {}}, "unknown option 'jsno' .*did you mean the option 'json'"),
            ({"product_coupon_id": "1", "querry": {}}, "did you mean the option 'query'"),
            ({"product_coupon_id": "1", "Headers": {}}, "did you mean the option 'headers'"),
        ]
        for kwargs, message in cases:
            with pytest.raises(TemplateError, match=message):
                await node.get(**kwargs)
        with pytest.raises(TemplateError) as info:
            await node.get(product_coupon_id="1", zzz=1)
        assert "did you mean" not in str(info.value) and "placeholders: product_coupon_id" in str(info.value)
    assert fake.seen == []


# -- 4. what json= accepts --------------------------------------------------------------------------------------


class _Scene(enum.Enum):
    H5 = "H5"


async def test_json_dates_are_rfc3339_and_amounts_integer_fen(fake: FakeWeChat) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    async with fake.client() as wxpay:
        payload = {
            "time_expire": dt.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=shanghai),
            "utc": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "bill_date": dt.date(2026, 1, 2),
            "out_trade_no": uuid.UUID(int=1),
            "scene": _Scene.H5,
            "amount": {"total": 990, "currency": "CNY"},
        }
        r = await wxpay.v3.pay.transactions.native.post(json=payload)
        assert fake.seen[-1].body == (
            b'{"time_expire":"2026-01-01T00:00:00+08:00","utc":"2026-01-01T00:00:00+00:00","bill_date":"2026-01-02",'
            b'"out_trade_no":"00000000-0000-0000-0000-000000000001","scene":"H5","amount":{"total":990,"currency":"CNY"}}'
        )
        assert r.json()["json"]["time_expire"] == "2026-01-01T00:00:00+08:00"
        refused: list[tuple[dict[str, Any], str]] = [
            ({"detail": [{"at": dt.datetime(2026, 1, 1)}]}, r"json\.detail\[0\]\.at: naive datetime .* UTC offset"),
            ({"amount": {"total": Decimal("9.90")}}, r"json\.amount\.total: Decimal 9\.90 .*integer fen.*990"),
            ({"amount": {"total": 9.9}}, r"json\.amount\.total: a float .*integer fen"),
            ({"amount": 9.9}, r"json\.amount: a float"),
            ({"ids": {"a", "b"}}, r"json\.ids: a set .*dict"),
            ({"n": object()}, r"json\.n: object has no JSON form"),
        ]
        for body, message in refused:
            with pytest.raises(TemplateError, match=message):
                await wxpay.v3.pay.transactions.native.post(json=body)
    assert len(fake.seen) == 1


# -- 3. event loops ------------------------------------------------------------------------------------------------


def test_one_client_across_two_asyncio_runs_says_why() -> None:
    with SyncSandbox() as sb:
        wxpay = Client(**sb.sandbox.client_options())

        async def call() -> int:
            return (await wxpay.v3.certificates.get()).status

        async def first() -> int:
            status = await call()
            assert wxpay._session is not None
            await wxpay._session.close()  # only so the test leaks no socket; the client still belongs to this loop
            return status

        assert asyncio.run(first()) == 200
        with pytest.raises(EventLoopError, match=r"asyncio\.run\(\).*async with Client.*lifespan") as info:
            asyncio.run(call())
        assert isinstance(info.value, RuntimeError)
        asyncio.run(wxpay.aclose())  # closing it afterwards does not fail either
        assert wxpay.closed


async def test_sync_client_inside_a_running_loop_raises_at_once(fake: FakeWeChat, keys: Keys) -> None:
    # The server lives on this very loop: a blocking call would hang until its timeout.
    wxpay = SyncClient(MCHID, keys.merchant.serial, keys.merchant.private_key, fake.certs(),
                       base_url=fake.base_url, timeout=2, apiv3_key="0123456789abcdefghijklmnopqrstuv")
    try:
        started = time.monotonic()
        with pytest.raises(EventLoopError, match=r"inside a running event loop.*await wxpay"):
            wxpay.v3.certificates.get()
        with pytest.raises(EventLoopError, match="parse_notification"):
            wxpay.parse_notification({}, b"{}")
        assert time.monotonic() - started < 1.0
        assert fake.seen == []
        async with fake.client() as client:  # the fix the message gives works on the same loop
            assert (await client.v3.certificates.get()).status == 200
    finally:
        await asyncio.to_thread(wxpay.close)


# -- 2. SIGN_ERROR and the merchant certificate ------------------------------------------------------------------


async def test_sign_error_lists_likely_causes_without_secrets(keys: Keys) -> None:
    async with Sandbox() as sb:
        wrong_key = keys.platform2.private_key  # not the key of sb.merchant.serial
        async with sb.client(private_key=wrong_key, retry=None) as wxpay:
            with pytest.raises(APIError) as info:
                await wxpay.v3.certificates.get()
    text = str(info.value)
    assert (info.value.status, info.value.code) == (401, "SIGN_ERROR")
    for cause in ("serial", "merchant_cert=", "mchid", "clock", "proxy"):
        assert cause in (info.value.hint or ""), cause
    assert "hint:" in text
    assert "MII" not in text and "signature=" not in text and signing.AUTH_SCHEME not in text


def _certificate(key: Any, serial: int, common_name: str) -> Any:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(serial).not_valid_before(now - dt.timedelta(days=1))
    return builder.not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())


def test_merchant_cert_checks_key_certificate_and_serial(keys: Keys, in_tmp: Path) -> None:
    merchant = keys.merchant
    (in_tmp / "certs" / "apiclient_cert.pem").write_bytes(merchant.certificate_pem())
    (in_tmp / "certs" / "apiclient_key.pem").write_bytes(merchant.private_pem())
    for form in ("certs/apiclient_cert.pem", merchant.certificate, ("certs/apiclient_cert.pem", "certs/apiclient_key.pem")):
        assert _client(keys, merchant.private_key, merchant_cert=form)._merchant_tls is not None
    other = keys.platform2
    with pytest.raises(ConfigError, match=f"serial: is {merchant.serial} but merchant_cert .* serial {other.serial}"):
        _client(keys, merchant.private_key, merchant_cert=other.certificate)
    with pytest.raises(ConfigError, match="serial: is"):  # a consistent (cert, key) pair of another certificate
        _client(keys, merchant.private_key, merchant_cert=(other.certificate_pem().decode(), other.private_pem()))
    same_serial_other_key = _certificate(other.private_key, int(merchant.serial, 16), "merchant")
    with pytest.raises(ConfigError, match="private_key: does not belong to merchant_cert"):
        _client(keys, merchant.private_key, merchant_cert=same_serial_other_key)
    issued_to_other = _certificate(merchant.private_key, int(merchant.serial, 16), "1900000999")
    with pytest.raises(ConfigError, match=f"mchid: is {MCHID} but merchant_cert was issued to merchant 1900000999"):
        _client(keys, merchant.private_key, merchant_cert=issued_to_other)


def test_more_wrong_argument_forms_are_explained(keys: Keys) -> None:
    certs = {keys.platform.serial: keys.platform.certificate}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"serial": "serial=" + keys.merchant.serial}, "drop the 'serial=' / '0x' prefix"),
        ({"serial": "PUB_KEY_ID_0119000001092025111200181700000000"}, "it goes in certs"),
        ({"certs": "file:///pub_key.pem"}, r"not str, e\.g\. \{'PUB_KEY_ID_"),
    ]
    for change, message in cases:
        options: dict[str, Any] = {"serial": keys.merchant.serial, "certs": certs, **change}
        with pytest.raises(ConfigError, match=message):
            Client(MCHID, private_key=keys.merchant.private_key, **options)


async def test_notification_body_must_be_the_raw_bytes(keys: Keys) -> None:
    async with Sandbox() as sb, sb.client() as wxpay:
        body = sb.notification(event_type="COUPON.USE", resource={"stock_id": "1"})
        headers = sign_response_headers(body, sb.platform.private_key, sb.platform.serial)
        assert (await wxpay.parse_notification(headers, body.decode())).resource == {"stock_id": "1"}
        with pytest.raises(TypeError, match=r"raw request body .*not dict.*await request\.body\(\)"):
            await wxpay.parse_notification(headers, json.loads(body))


async def test_sync_client_promise_is_awaitable_but_never_waited_inside_a_loop(fake: FakeWeChat, keys: Keys) -> None:
    wxpay = SyncClient(MCHID, keys.merchant.serial, keys.merchant.private_key, fake.certs(), base_url=fake.base_url)
    try:
        promise = wxpay.v3.pay.transactions.native.postAsync({"json": {"out_trade_no": "T1"}})
        with pytest.raises(EventLoopError, match="wait"):
            promise.wait()
        assert (await promise).status == 200  # starting one does not block: awaiting it here is fine
    finally:
        await asyncio.to_thread(wxpay.close)


def test_builder_config_typos_suggest_the_key(keys: Keys) -> None:
    config = {"mchid": MCHID, "serial": keys.merchant.serial, "privateKey": keys.merchant.private_key,
              "certs": {keys.platform.serial: keys.platform.certificate}}
    for typo, meant in (("privatekey", "privateKey"), ("mchId", "mchid"), ("base_uri_", "base_uri")):
        wrong = {k: v for k, v in config.items() if k != meant}
        wrong[typo] = config.get(meant, "https://api.mch.weixin.qq.com/")
        with pytest.raises(ConfigError, match=f"{typo}: is not a recognised configuration key; did you mean '{meant}'"):
            Builder.factory(wrong)


def test_every_wrong_passphrase_is_called_one(keys: Keys) -> None:
    pem = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    for attempt in range(5000):  # ~1 in 256 wrong passphrases decrypt to garbage with valid padding
        guess = f"wrong-{attempt}".encode()
        try:
            serialization.load_pem_private_key(pem, guess)
        except ValueError as exc:
            if "password" in str(exc).lower():
                continue
        break
    else:
        pytest.fail("no wrong passphrase got past the padding check")
    with pytest.raises(ValueError, match="wrong passphrase for the encrypted private key"):
        crypto.load_private_key(pem, guess)


async def test_validate_checks_the_body_as_sent(fake: FakeWeChat) -> None:
    order = {
        "appid": "wxd678efh567hg6787", "mchid": MCHID, "description": "Image形象店", "out_trade_no": "1217752501",
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php", "amount": {"total": 1, "currency": "CNY"},
        "time_expire": dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    }
    async with fake.client(validate=True) as wxpay:
        await wxpay.v3.pay.transactions.native.post(json=order)  # a datetime is the RFC 3339 string WeChat reads
        with pytest.raises(TemplateError, match="time_expire"):
            await wxpay.v3.pay.transactions.native.post(json={**order, "time_expire": "tomorrow"})
    assert b'"time_expire":"2026-01-01T00:00:00+08:00"' in fake.seen[-1].body and len(fake.seen) == 1


def test_one_client_in_two_live_loops_says_why() -> None:
    with SyncSandbox() as sb:
        other = asyncio.new_event_loop()
        thread = threading.Thread(target=other.run_forever, daemon=True)
        thread.start()
        wxpay = Client(**sb.sandbox.client_options())
        try:
            first = asyncio.run_coroutine_threadsafe(wxpay.v3.certificates.get(), other).result(10)
            assert first.status == 200

            async def here() -> None:
                await wxpay.v3.certificates.get()

            with pytest.raises(EventLoopError, match="in use by another event loop"):
                asyncio.run(here())
        finally:
            asyncio.run_coroutine_threadsafe(wxpay.aclose(), other).result(10)
            other.call_soon_threadsafe(other.stop)
            thread.join()
            other.close()
