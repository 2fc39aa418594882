"""APIv2 ``security=True``: mutual TLS with the merchant certificate against a server that requires one."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import MCHID, serve
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from wechatpay_chain import Client, ConfigError, TransportError
from wechatpay_chain._template import parse
from wechatpay_chain.v2 import MerchantCertificate
from wechatpay_chain.v2.fake import V2Fake

KEY = "exposed0your0key0here0have0risks"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@dataclass
class PKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_p12: bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("test CA", ca_key, _name("test CA"), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(MCHID, client_key, ca.subject, ca_key, ca=False)
    files = {
        "ca.pem": ca.public_bytes(serialization.Encoding.PEM),
        "server.pem": server.public_bytes(serialization.Encoding.PEM),
        "server.key": _pem(server_key),
        "client.pem": client.public_bytes(serialization.Encoding.PEM),
        "client.key": _pem(client_key),
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    p12 = pkcs12.serialize_key_and_certificates(
        b"merchant", client_key, client, None, serialization.BestAvailableEncryption(MCHID.encode())
    )
    return PKI(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key", p12)


@pytest.fixture
async def tls_server(pki: PKI) -> AsyncIterator[tuple[TestServer, V2Fake]]:
    fake = V2Fake(KEY, MCHID)
    app = web.Application()
    fake.add_routes(app.router)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
    async with serve(app, ssl=context) as server:
        yield server, fake


REFUND = {"out_trade_no": "T1", "out_refund_no": "R1", "total_fee": 1, "refund_fee": 1}


@pytest.mark.parametrize("form", ["pem-files", "pem-text", "pkcs12"])
async def test_refund_over_mutual_tls(tls_server: tuple[TestServer, V2Fake], pki: PKI, form: str) -> None:
    server, fake = tls_server
    if form == "pem-files":
        cert = MerchantCertificate(f"file://{pki.client_cert}", str(pki.client_key), cafile=str(pki.ca))
    elif form == "pem-text":
        cert = MerchantCertificate(pki.client_cert.read_text(), pki.client_key.read_bytes(), cafile=str(pki.ca))
    else:
        cert = MerchantCertificate(pkcs12_data=pki.client_p12, pkcs12_password=MCHID, cafile=str(pki.ca))
    async with Client(MCHID, apiv2_key=KEY, base_url=str(server.make_url("/")), merchant_cert=cert) as wxpay:
        r = await wxpay.v2.secapi.pay.refund.post({"xml": REFUND, "security": True})
        assert r.xml()["out_refund_no"] == "R1"
        again = wxpay._prepare("POST", parse("v2/secapi/pay/refund"), ({"xml": REFUND, "security": True},), {})
        assert again.ssl is cert.ssl_context  # built once per client
    assert fake.seen[-1]["out_refund_no"] == "R1"


async def test_without_the_client_certificate_the_server_refuses(
    tls_server: tuple[TestServer, V2Fake], pki: PKI
) -> None:
    server, fake = tls_server
    trusting = ssl.create_default_context(cafile=str(pki.ca))  # trusts the server, presents no certificate
    async with aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            async with session.post(server.make_url("/secapi/pay/refund"), data=b"<xml/>", ssl=trusting) as resp:
                await resp.read()
    async with Client(MCHID, apiv2_key=KEY, base_url=str(server.make_url("/"))) as wxpay:
        with pytest.raises(TransportError):  # no security=True: the public trust store and no client cert
            await wxpay.v2.secapi.pay.refund.post(xml=REFUND)
    assert not fake.seen


def test_merchant_certificate_errors(pki: PKI, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="merchant_pkcs12"):
        MerchantCertificate(pkcs12_data=pki.client_p12, pkcs12_password="wrong")
    other = tmp_path / "other.key"
    other.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigError, match="pair"):
        MerchantCertificate(str(pki.client_cert), str(other))
    with pytest.raises(ConfigError, match="cannot read"):
        MerchantCertificate(str(tmp_path / "missing.pem"), str(other))
    with pytest.raises(ConfigError, match="merchant_cert"):
        Client(MCHID, apiv2_key=KEY, merchant_cert=("only-one",))
    with pytest.raises(ConfigError, match="not both"):
        Client(MCHID, apiv2_key=KEY, merchant_cert=(str(pki.client_cert), str(other)), merchant_pkcs12=(b"", ""))
    assert "BEGIN" not in repr(MerchantCertificate(str(pki.client_cert), str(pki.client_key)))
