"""wechatpay_chain.php: wechatpay-php's utility classes under their PHP names, against known-answer vectors.

Vectors are from tests/vectors/vectors.json (the SDKs' own test data) and, where marked, from
wechatpay-php / wechatpay-axios-plugin tests (hash.test.js, aes.test.js, FormatterTest.php, AesEcbTest.php).
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

import pytest
from conftest import REFERENCE
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wechatpay_chain.errors import DecryptionError
from wechatpay_chain.media import Media
from wechatpay_chain.php import (
    OPENSSL_PKCS1_PADDING,
    AesEcb,
    AesGcm,
    Formatter,
    Hash,
    MediaUtil,
    PemUtil,
    Rsa,
    Transformer,
)

KEYS = REFERENCE / "keys"
V: dict[str, Any] = json.loads((REFERENCE / "vectors.json").read_text())
V2KEY = "exposed_your_key_here_have_risks"  # the placeholder APIv2 key of the PHP/Node READMEs and tests
AES_KEY = "0123456789abcdef0123456789abcdef"


def _der_b64(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


# -- Rsa -----------------------------------------------------------------------------------------------------
def test_rsa_from_every_form_signs_the_go_vector(tmp_path: Any) -> None:
    v = V["rsa_sign_go"]
    pem = (KEYS / "go_test_private_key.pem").read_text()
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    forms = [
        f"file://{KEYS / 'go_test_private_key.pem'}",
        pem,
        pkcs1,
        Rsa.fromPkcs8(_der_b64(pem)),
        Rsa.fromPkcs1(_der_b64(pkcs1)),
        [encrypted, "pw"],
        key,
    ]
    for form in forms:
        loaded = Rsa.from_(form) if not isinstance(form, rsa.RSAPrivateKey) else form
        assert Rsa.sign(v["message_utf8"], loaded) == v["signature_b64"]
        assert Rsa.sign(v["message_utf8"], form) == v["signature_b64"]  # PHP passes strings straight through


def test_rsa_public_forms_verify_the_go_vector() -> None:
    v = V["rsa_sign_go"]
    spki_pem = (KEYS / "go_public_key.pem").read_text()
    public = Rsa.from_(spki_pem, Rsa.KEY_TYPE_PUBLIC)
    pkcs1_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    forms = [
        f"file://{KEYS / 'go_public_key.pem'}",
        f"file://{KEYS / 'go_platform_cert_F5765756002FDD77.pem'}",
        spki_pem,
        pkcs1_pem,
        Rsa.fromSpki(_der_b64(spki_pem)),
        Rsa.fromPkcs1(_der_b64(pkcs1_pem), Rsa.KEY_TYPE_PUBLIC),
        Rsa.fromSpki(Rsa.pkcs1ToSpki(_der_b64(pkcs1_pem))),
    ]
    for form in forms:
        assert Rsa.verify(v["message_utf8"], v["signature_b64"], form) is True
        assert Rsa.verify("tampered", v["signature_b64"], form) is False
    assert Rsa.pkcs1ToSpki(_der_b64(pkcs1_pem)) == _der_b64(spki_pem)
    java = V["rsa_sign_java"]
    assert Rsa.verify(java["message_utf8"], java["signature_b64"], f"file://{KEYS / 'merchant_certificate.pem'}")


def test_rsa_decrypt_the_oaep_vectors_and_round_trip() -> None:
    go, java = V["oaep_go"], V["oaep_java"]
    assert Rsa.decrypt(go["ciphertext_b64"], f"file://{KEYS / 'go_test_private_key.pem'}") == go["plaintext_utf8"]
    assert Rsa.decrypt(java["ciphertext_b64"], f"file://{KEYS / 'merchant_private_key.pem'}") == java["plaintext_utf8"]
    cipher = Rsa.encrypt("张三", Rsa.from_(f"file://{KEYS / 'go_public_key.pem'}", Rsa.KEY_TYPE_PUBLIC))
    assert Rsa.decrypt(cipher, f"file://{KEYS / 'go_test_private_key.pem'}") == "张三"
    with pytest.raises(DecryptionError):
        Rsa.decrypt(cipher, f"file://{KEYS / 'merchant_private_key.pem'}")


def test_rsa_refuses_pkcs1_padding_and_bad_input() -> None:
    with pytest.raises(ValueError, match="OAEP"):
        Rsa.encrypt("x", f"file://{KEYS / 'go_public_key.pem'}", OPENSSL_PKCS1_PADDING)
    with pytest.raises(ValueError, match="OAEP"):
        Rsa.decrypt("eA==", f"file://{KEYS / 'go_test_private_key.pem'}", OPENSSL_PKCS1_PADDING)
    with pytest.raises(ValueError, match="KEY_TYPE"):
        Rsa.from_("x", "secret")
    with pytest.raises(ValueError, match="public half"):
        Rsa.from_((KEYS / "go_public_key.pem").read_text())
    with pytest.raises(ValueError, match="cannot load"):
        Rsa.from_(12345)


# -- AesGcm / AesEcb ---------------------------------------------------------------------------------------
def test_aes_gcm_vectors() -> None:
    # wechatpay-axios-plugin tests/lib/aes.test.js (16-byte IV), and wechatpay-java's AeadAesCipherTest.
    assert AesGcm.encrypt("", AES_KEY, "0123456789abcdef", "") == "GvpmmdtYwexXIPhySs9Tlg=="
    assert AesGcm.encrypt("hello", AES_KEY, "0123456789abcdef", "world") == "APoZlYpivU3HjbAiB4CvW1rAFr8J"
    assert AesGcm.decrypt("APoZlYpivU3HjbAiB4CvW1rAFr8J", AES_KEY, "0123456789abcdef", "world") == "hello"
    j = V["gcm_java"]
    assert AesGcm.decrypt(j["ciphertext_b64"], j["key_utf8"], j["nonce_utf8"], j["aad_utf8"]) == j["plaintext_utf8"]
    with pytest.raises(DecryptionError):
        AesGcm.decrypt("APoZlYpivU3HjbAiB4CvW1rAFr8J", AES_KEY, "0123456789abcdef", "other")
    assert AesGcm.BLOCK_SIZE == 16 and AesGcm.KEY_LENGTH_BYTE == 32


def test_aes_ecb_vectors_and_refund_req_info() -> None:
    v = V["aes_ecb_php"]
    assert AesEcb.encrypt(v["plaintext_utf8"], v["key_utf8"]) == v["ciphertext_b64"]
    assert AesEcb.decrypt(v["ciphertext_b64"], v["key_utf8"]) == v["plaintext_utf8"]
    # Standard PKCS#7 adds a full block for a 16-byte plaintext (anchors §3.3 item 4).
    assert AesEcb.encrypt("0123456789abcdef", AES_KEY) == "+DyaYNwM25ghn3nW1dsWNYqjYkH96N8FTcMlxsaVuJ4="
    r = V["refund_req_info_derived"]
    assert Hash.md5(r["apiv2_key"]) == r["aes_key_utf8"]
    assert AesEcb.decrypt(r["req_info_b64"], Hash.md5(r["apiv2_key"])) == r["plaintext_utf8"]


# -- Hash ------------------------------------------------------------------------------------------------------
def test_hash_vectors() -> None:
    # wechatpay-axios-plugin tests/lib/hash.test.js
    assert Hash.md5(V2KEY) == "4ad14ac334ab13540eb6c5479512a8e8"
    assert Hash.md5("") == "d41d8cd98f00b204e9800998ecf8427e"
    assert Hash.md5("", V2KEY) == "b3d43c8390f26e2030d4d17bd580fbc8"
    assert Hash.md5("", V2KEY, True) == "7831c3ff1bde78fd0ac1107e00ac92e6"
    doc = V["v2_sign_official_doc"]
    assert Hash.sign(Hash.ALGO_MD5, doc["stringA"], doc["key"]) == doc["MD5"]
    assert Hash.sign(Hash.ALGO_HMAC_SHA256, doc["stringA"], doc["key"]) == doc["HMAC-SHA256"]
    assert Hash.hmac(doc["stringA"], doc["key"]).upper() == doc["HMAC-SHA256"]
    expected = hmac.new(doc["key"].encode(), (doc["stringA"] + "&key=" + doc["key"]).encode(), "sha512").hexdigest()
    assert Hash.hmac(doc["stringA"], doc["key"], "sha512") == expected
    with pytest.raises(ValueError, match="unsupported"):
        Hash.hmac("x", "k", "nope")
    message = "mch_id=1900000109&nonce_str=3c2IQESVb0W5TWFGjyHX47xaJBO05SeY&sign_type=HMAC-SHA256"
    assert Hash.sign("HMAC-SHA256", message, V2KEY) == (
        "949BF48C8F272D4768F0CB7B11E7A5696ADAC55BF102B2A85C6ED434D4762FE7"
    )
    assert Hash.sign("SHA1", message, V2KEY) is None  # PHP returns null for an unknown type
    assert Hash.equals(doc["MD5"], doc["MD5"]) and not Hash.equals(doc["MD5"], doc["MD5"].lower())
    assert not Hash.equals(doc["MD5"], None)


# -- Formatter -------------------------------------------------------------------------------------------------
def test_formatter_vectors() -> None:
    # wechatpay-php tests/FormatterTest.php / axios-plugin formatter tests (anchors §3.3 item 5)
    assert Formatter.authorization("1", "2", "3", "4", "5") == (
        'WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="5",timestamp="4",nonce_str="2",signature="3"'
    )
    assert Formatter.request("1", "2", "3", "4", "5") == "1\n2\n3\n4\n5\n"
    assert Formatter.request("6", "7", "8", "9") == "6\n7\n8\n9\n\n"
    assert Formatter.response("3", "2", "1") == "3\n2\n1\n"
    assert Formatter.response("3", "2", b"\xff") == b"3\n2\n\xff\n"
    assert Formatter.joinedByLineFeed("a", 1, "") == "a\n1\n\n"
    assert Formatter.joinedByLineFeed() == ""
    assert Formatter.queryStringLike({"appid": 3, "mchid": 2, "openid": "", "sign": 0}) == "appid=3&mchid=2"
    # Byte order, not natural order: wechatpay-php issue #41 ("re_" sorts before "rem").
    assert list(Formatter.ksort({"rem": 1, "re_openid": 2, "act_name": 3, "Z": 4})) == ["Z", "act_name", "re_openid", "rem"]
    nonce = Formatter.nonce()
    assert len(nonce) == 32 and nonce.isalnum() and nonce != Formatter.nonce()
    assert len(Formatter.nonce(7)) == 7
    with pytest.raises(ValueError, match="at least 1"):
        Formatter.nonce(0)
    assert abs(Formatter.timestamp() - time.time()) < 5


def test_formatter_request_signs_the_derived_authorization_vector() -> None:
    v = V["auth_sig_derived_post"]
    method, uri, ts, nonce, body = v["message"].split("\n")[:5]
    message = Formatter.request(method, uri, ts, nonce, body)
    assert message == v["message"]
    assert Rsa.sign(message, f"file://{KEYS / 'go_test_private_key.pem'}") == v["signature_b64"]


def test_busifavor_sign_example_from_readme_apiv2() -> None:
    """README_APIv2 "商家券-H5发券APIv2密钥签名", ported: same recipe as the official signature page."""
    doc = V["v2_sign_official_doc"]
    params = dict(doc["params"])
    params["sign"] = Hash.sign(Hash.ALGO_MD5, Formatter.queryStringLike(Formatter.ksort(params)), doc["key"])
    assert params["sign"] == doc["MD5"]
    assert Formatter.queryStringLike(Formatter.ksort(doc["params"])) == doc["stringA"]


# -- Transformer -----------------------------------------------------------------------------------------------
def test_transformer_vectors() -> None:
    assert Transformer.toXml({"mch_id": "1900000109", "sign": "mock"}) == (
        "<xml><mch_id>1900000109</mch_id><sign>mock</sign></xml>"
    )
    assert Transformer.toXml({}) == "<xml/>"
    assert Transformer.toXml({"return_code": "SUCCESS"}, False).startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert Transformer.toXml({"body": "a&b<c>"}) == "<xml><body><![CDATA[a&b<c>]]></body></xml>"
    xml = Transformer.toXml({"return_code": "SUCCESS", "return_msg": "OK", "total_fee": 1})
    assert Transformer.toArray(xml) == {"return_code": "SUCCESS", "return_msg": "OK", "total_fee": "1"}
    assert Transformer.toArray("<xml><a><![CDATA[x&y]]></a></xml>") == {"a": "x&y"}
    # Like PHP: anything that is not acceptable XML (here an XXE attempt and a fragment) is an empty array.
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>'
    assert Transformer.toArray(xxe) == {}
    assert Transformer.toArray("<xml><a>") == {}
    assert Transformer.toArray() == {}


# -- MediaUtil -------------------------------------------------------------------------------------------------
def test_media_util_meta_and_stream(tmp_path: Any) -> None:
    v = V["media_upload_derived"]
    media = MediaUtil(str(KEYS / "logo.png"))
    assert media.getMeta() == v["meta"]
    stream = media.getStream()
    assert isinstance(stream, Media) and stream.meta == v["meta"].encode()
    assert media.getContentType() == f"multipart/form-data; boundary={stream.boundary}"
    with open(KEYS / "logo.png", "rb") as fh:
        from_stream = MediaUtil("logo.png", fh)
    assert from_stream.getMeta() == v["meta"]
    media.setMeta('{"file_name":"logo.png"}')
    assert media.getMeta() == '{"file_name":"logo.png"}' and stream.meta == b'{"file_name":"logo.png"}'
    media.setMeta()
    assert media.getMeta() == v["meta"]
    # The signature of the upload covers the meta JSON only (the derived vector).
    message = Formatter.request("POST", "/v3/merchant/media/upload", "1624523846", "A1B2C3D4E5F6G7", media.getMeta())
    assert message == v["message"]
    assert Rsa.sign(message, f"file://{KEYS / 'go_test_private_key.pem'}") == v["signature_b64"]
    assert base64.b64decode(v["signature_b64"])


# -- PemUtil ----------------------------------------------------------------------------------------------------
def test_pem_util_serials_and_loaders() -> None:
    # Serials as the SDKs' fixtures name them (vectors.json: rsa_sign_java, rsa_sign_go).
    java = KEYS / "merchant_certificate.pem"
    assert PemUtil.parseCertificateSerialNo(f"file://{java}") == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    assert PemUtil.parseCertificateSerialNo(str(KEYS / "go_platform_cert_F5765756002FDD77.pem")) == "F5765756002FDD77"
    assert PemUtil.parseCertificateSerialNo(java.read_text()) == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    cert = PemUtil.loadCertificate(java)
    assert PemUtil.parseCertificateSerialNo(cert) == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    assert PemUtil.loadCertificateFromString(java.read_text()) == cert
    v = V["rsa_sign_java"]
    assert Rsa.verify(v["message_utf8"], v["signature_b64"], cert)
    assert Rsa.sign(v["message_utf8"], PemUtil.loadPrivateKey(KEYS / "merchant_private_key.pem")) == v["signature_b64"]
    pem = (KEYS / "merchant_private_key.pem").read_text()
    assert Rsa.sign(v["message_utf8"], PemUtil.loadPrivateKeyFromString(pem)) == v["signature_b64"]
    with pytest.raises(ValueError, match="certificate"):
        PemUtil.parseCertificateSerialNo((KEYS / "go_public_key.pem").read_text())
