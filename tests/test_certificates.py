"""The platform-certificate manager against a loopback server that encrypts, signs and rotates."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import PUB_KEY_ID, FakeWeChat, Keys
from wxfixtures import APIV3_KEY, CertRoute, certificates_body

from wechatpay_chain import ConfigError, DecryptionError, VerificationError
from wechatpay_chain.certificates import WRONG_KEY, CertificateManager, decrypt_certificates, verify_download
from wechatpay_chain.testing import sign_response_headers

CERTS = ("GET", "/v3/certificates")


def serve(fake: FakeWeChat, route: CertRoute) -> CertRoute:
    fake.routes[CERTS] = route
    return route


def sign_with(fake: FakeWeChat, keys: Keys, which: str) -> None:
    """Make the server sign ordinary answers with ``keys.<which>`` (a platform-key swap)."""
    pair = getattr(keys, which)

    def tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return sign_response_headers(body, pair.private_key, pair.serial), body

    fake.tamper = tamper


async def test_first_request_downloads_verifies_and_installs(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        manager = client.certificates
        assert isinstance(manager, CertificateManager) and manager.newest() is None
        resp = await client.v3.pay.transactions.id._transaction_id_.get(transaction_id="1")
        assert resp.verified_serial == keys.platform.serial
        assert manager.loaded and [c.serial for c in manager.certificates] == [keys.platform.serial]
        assert client.verifier is not None and client.verifier.serials == (keys.platform.serial,)
        await client.v3.x.get()
        assert route.downloads == 1
    # the download itself was a signed request like any other
    download = [s for s in fake.seen if s.target == "/v3/certificates"]
    assert len(download) == 1 and download[0].auth["mchid"] == "1900000109"


async def test_download_must_verify_with_the_certificates_it_carries(fake: FakeWeChat, keys: Keys) -> None:
    # listed: platform; but the answer is signed by platform2, which is neither listed nor known
    serve(fake, CertRoute([keys.platform], keys.platform2))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        with pytest.raises(VerificationError) as info:
            await client.v3.x.get()
        assert info.value.reason == VerificationError.UNKNOWN_SERIAL
        assert client.verifier is not None and client.verifier.serials == ()


async def test_wrong_apiv3_key_is_a_clear_error(fake: FakeWeChat, keys: Keys) -> None:
    serve(fake, CertRoute([keys.platform], keys.platform, apiv3_key="Z" * 32))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        with pytest.raises(DecryptionError, match=WRONG_KEY) as info:
            await client.v3.x.get()
        assert APIV3_KEY not in str(info.value) and "Z" * 32 not in str(info.value)


async def test_rotation_overlap_and_refresh_on_unknown_serial(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        assert (await client.v3.x.get()).verified_serial == keys.platform.serial
        # WeChat Pay lists the new certificate, then starts signing with it
        route.listed = [keys.platform, keys.platform2]
        route.signer = keys.platform2
        sign_with(fake, keys, "platform2")
        assert (await client.v3.x.get()).verified_serial == keys.platform2.serial
        assert route.downloads == 2
        assert client.certificates is not None
        assert client.certificates.newest() is not None
        # the old certificate stays trusted after it is no longer listed (answers in flight may carry it)
        route.listed = [keys.platform2]
        await client.certificates.refresh()
        assert set(client.verifier.serials) == {keys.platform.serial, keys.platform2.serial}  # type: ignore[union-attr]
        sign_with(fake, keys, "platform")
        assert (await client.v3.x.get()).verified_serial == keys.platform.serial


async def test_unknown_serial_refresh_is_rate_limited(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        await client.v3.x.get()
        sign_with(fake, keys, "merchant")  # a serial WeChat Pay never lists
        for _ in range(3):
            with pytest.raises(VerificationError) as info:
                await client.v3.x.get()
            assert info.value.reason == VerificationError.UNKNOWN_SERIAL
        assert route.downloads == 2  # one retry download, then the per-serial limit


async def test_failed_refresh_never_clears_the_current_set(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        await client.v3.x.get()
        assert client.certificates is not None
        route.signer = keys.merchant  # signed by a key that is neither listed nor known
        route.listed = [keys.platform2]
        with pytest.raises(VerificationError):
            await client.certificates.refresh()
        route.apiv3_key = "W" * 32
        with pytest.raises(DecryptionError):
            await client.certificates.refresh()
        assert client.verifier is not None and client.verifier.serials == (keys.platform.serial,)
        assert (await client.v3.x.get()).verified_serial == keys.platform.serial


@pytest.mark.parametrize("code", ["RESOURCE_NOT_EXISTS", "NOT_FOUND"])
async def test_public_key_merchant_without_certificates(fake: FakeWeChat, keys: Keys, code: str) -> None:
    fake.mode = "pubkey"
    route = serve(fake, CertRoute([], keys.platform, missing=code))
    async with fake.client(apiv3_key=APIV3_KEY) as client:
        assert (await client.v3.x.get()).verified_serial == PUB_KEY_ID
        assert client.certificates is not None
        assert await client.certificates.refresh() == []
        assert client.certificates.loaded and client.certificates.certificates == ()
        assert client.verifier is not None and client.verifier.serials == (PUB_KEY_ID,)
        assert route.downloads >= 1


async def test_public_key_merchant_without_any_key_is_told_what_to_configure(fake: FakeWeChat, keys: Keys) -> None:
    serve(fake, CertRoute([], keys.platform, missing="RESOURCE_NOT_EXISTS"))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        with pytest.raises(ConfigError, match="PUB_KEY_ID_"):
            await client.v3.x.get()


async def test_certificates_and_public_key_side_by_side(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform2], keys.platform2))
    fake.mode = "pubkey"  # ordinary answers: PUB_KEY_ID (keys.platform); the download: certificate platform2
    async with fake.client(apiv3_key=APIV3_KEY) as client:
        await client.certificates.refresh()  # type: ignore[union-attr]
        assert set(client.verifier.serials) == {PUB_KEY_ID, keys.platform2.serial}  # type: ignore[union-attr]
        assert (await client.v3.x.get()).verified_serial == PUB_KEY_ID
        assert route.downloads == 1


async def test_concurrent_requests_share_one_download(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform, delay=0.1))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        results = await asyncio.gather(*(client.v3.x.get() for _ in range(20)))
        assert {r.verified_serial for r in results} == {keys.platform.serial}
        assert route.downloads == 1
        assert client.certificates is not None
        both = await asyncio.gather(client.certificates.refresh(), client.certificates.refresh())
        assert both[0] == both[1] and route.downloads == 2


async def test_periodic_refresh_and_cancel_on_close(fake: FakeWeChat, keys: Keys) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    client = fake.client(apiv3_key=APIV3_KEY, certs=None)
    manager = client.certificates
    assert manager is not None
    manager.interval = 0.03
    await client.v3.x.get()
    await asyncio.sleep(0.2)
    assert route.downloads >= 3
    background = manager._background
    assert background is not None and not background.done()
    await client.aclose()
    assert background.cancelled()
    count = route.downloads
    await asyncio.sleep(0.1)
    assert route.downloads == count


async def test_background_failures_are_logged_not_raised(
    fake: FakeWeChat, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    route = serve(fake, CertRoute([keys.platform], keys.platform))
    async with fake.client(apiv3_key=APIV3_KEY, certs=None) as client:
        manager = client.certificates
        assert manager is not None
        manager.interval = manager.retry_delay = 0.03
        await client.v3.x.get()
        route.apiv3_key = "Q" * 32
        with caplog.at_level(logging.WARNING, logger="wechatpay_chain.certificates"):
            await asyncio.sleep(0.15)
        assert WRONG_KEY in caplog.text
        assert (await client.v3.x.get()).verified_serial == keys.platform.serial


def test_interval_is_bounded(fake: FakeWeChat, keys: Keys) -> None:
    with pytest.raises(ConfigError, match="12 hours"):
        CertificateManager(None, None, APIV3_KEY, interval=13 * 3600)  # type: ignore[arg-type]


def test_decrypt_and_verify_download_helpers(keys: Keys) -> None:
    body = certificates_body([keys.platform, keys.platform2], APIV3_KEY)
    certs = decrypt_certificates(body, APIV3_KEY)
    assert [c.serial for c in certs] == [keys.platform.serial, keys.platform2.serial]
    headers = sign_response_headers(body, keys.platform2.private_key, keys.platform2.serial)
    assert verify_download(headers, body, certs) == keys.platform2.serial
    with pytest.raises(VerificationError):
        verify_download(headers, body, certs[:1])
    with pytest.raises(VerificationError, match="data list"):
        decrypt_certificates(b'{"code":"x"}', APIV3_KEY)
    swapped = body.replace(keys.platform.serial.encode(), keys.platform2.serial.encode(), 1)
    with pytest.raises(VerificationError, match="does not match serial_no"):
        decrypt_certificates(swapped, APIV3_KEY)


async def test_against_the_sandbox_rotation_and_wrong_key() -> None:
    sandbox = pytest.importorskip("wechatpay_chain.sandbox")
    async with sandbox.Sandbox(port=0) as sb:
        async with sb.client(apiv3_key=sb.apiv3_key, certs=None) as client:
            first = (await client.chain("v3/certificates").get()).verified_serial
            assert first is not None and client.verifier is not None
            assert client.verifier.serials == (first,)
            new = sb.rotate_platform_key()  # listed and signing from now on
            assert (await client.chain("v3/certificates").get()).verified_serial == new.serial
            assert set(client.verifier.serials) == {first, new.serial}
        async with sb.client(apiv3_key="x" * 32, certs=None) as client:
            with pytest.raises(DecryptionError, match=WRONG_KEY):
                await client.chain("v3/certificates").get()
