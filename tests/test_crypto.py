"""The crypto toolkit against every relevant known-answer vector, and every key-loading form."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REFERENCE
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wechatpay_chain import DecryptionError, VerificationError, Verifier, crypto, paysign, signing
from wechatpay_chain.certificates import WRONG_KEY, decrypt_certificates
from wechatpay_chain.notify import parse_notification

KEYS = REFERENCE / "keys"
V: dict[str, Any] = json.loads((REFERENCE / "vectors.json").read_text())
GO_KEY = crypto.load_private_key(f"file://{KEYS / 'go_test_private_key.pem'}")
JAVA_KEY = crypto.load_private_key(f"file://{KEYS / 'merchant_private_key.pem'}")


def pem(name: str) -> str:
    return (KEYS / name).read_text()


# -- RSA signatures ------------------------------------------------------------------------------------


def test_rsa_sign_go_vector_and_its_verifiers() -> None:
    v = V["rsa_sign_go"]
    assert crypto.rsa_sign(v["message_utf8"], GO_KEY) == v["signature_b64"]
    for source in ("go_public_key.pem", "go_platform_cert_F5765756002FDD77.pem", "go_platform_cert_D7CE59D1F522D701.pem"):
        assert crypto.rsa_verify(b"source", v["signature_b64"], crypto.load_public_key(f"file://{KEYS / source}"))
    assert not crypto.rsa_verify(b"source!", v["signature_b64"], GO_KEY.public_key())


def test_rsa_sign_java_vector_and_negative() -> None:
    v = V["rsa_sign_java"]
    assert crypto.rsa_sign(v["message_utf8"].encode(), JAVA_KEY) == v["signature_b64"]
    merchant_cert = crypto.load_public_key(pem("merchant_certificate.pem"))
    assert crypto.rsa_verify(v["message_utf8"], v["signature_b64"], merchant_cert)
    # the same signature must not verify under the Java "WeChat Pay" key (cert serial 4400…13FD)
    assert not crypto.rsa_verify(v["message_utf8"], v["signature_b64"], crypto.load_public_key(pem("wechat_pay_public_key.pem")))
    assert not crypto.rsa_verify(v["message_utf8"], v["signature_b64"], crypto.load_public_key(pem("wechat_pay_certificate.pem")))


@pytest.mark.parametrize("bad", ["", "WECHATPAY/SIGNTEST/abcd", "not base64 at all!", "QUJD"])
def test_rsa_verify_malformed_is_false_not_an_exception(bad: str) -> None:
    assert crypto.rsa_verify(b"x", bad, GO_KEY.public_key()) is False


def test_certificate_serials_are_uppercase_hex() -> None:
    assert crypto.certificate_serial(crypto.load_certificate(pem("go_platform_cert_D7CE59D1F522D701.pem"))) == "D7CE59D1F522D701"
    assert (
        crypto.certificate_serial(crypto.load_certificate(f"file://{KEYS / 'merchant_certificate.pem'}"))
        == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    )


# -- canonical messages and the Authorization header -----------------------------------------------------


def test_auth_header_go_mock_vector() -> None:
    message = signing.request_message("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7")
    header = signing.authorization("1234567890", "A1B2C3D4E5F6G7", 1624523846, "0123456789ABC", "Sign:" + message.decode())
    expected = V["auth_header_go_mock"]["expected"].replace("\\n", "\n")  # vectors.json spells the LFs as \n
    assert header.replace(signing.AUTH_SCHEME, "WECHATPAY2-Mock", 1) == expected
    post = signing.request_message("POST", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", b"Hello World!\n")
    assert post == b"POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n"


def test_auth_header_derived_get_is_reproduced_byte_for_byte() -> None:
    v = V["auth_header_derived_get"]
    signer = signing.RSASigner("1234567890", "F5765756002FDD77", GO_KEY, clock=lambda: 1624523846, nonce_factory=lambda: "A1B2C3D4E5F6G7")
    assert signing.request_message("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7").decode() == v["message"]
    assert signer("GET", "/v3/certificates", b"") == v["header"]
    assert (KEYS / "derived_authorization_get.txt").read_text().strip() == v["header"]
    scheme, fields = signing.parse_authorization(v["header"])
    assert scheme == signing.AUTH_SCHEME and fields["serial_no"] == "F5765756002FDD77"


@pytest.mark.parametrize("name", ["auth_sig_derived_post", "auth_sig_derived_query"])
def test_auth_signature_derived(name: str) -> None:
    v = V[name]
    method, target, ts, nonce, body, _ = v["message"].split("\n", 5)
    message = signing.request_message(method, target, ts, nonce, body.encode())
    assert message.decode() == v["message"]
    assert crypto.rsa_sign(message, GO_KEY) == v["signature_b64"]


def test_response_message_format() -> None:
    assert signing.response_message(3, "2", b"1") == b"3\n2\n1\n"
    assert signing.response_message("1", "n", b"") == b"1\nn\n\n"


# -- AES-GCM ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gcm_go_utils", "gcm_java"])
def test_gcm_vectors_both_directions(name: str) -> None:
    v = V[name]
    plain = crypto.aes_gcm_decrypt(v["ciphertext_b64"], v["key_utf8"], v["nonce_utf8"], v["aad_utf8"])
    assert plain.decode() == v["plaintext_utf8"]
    assert crypto.aes_gcm_encrypt(v["plaintext_utf8"], v["key_utf8"], v["nonce_utf8"], v["aad_utf8"]) == v["ciphertext_b64"]


def test_gcm_negatives() -> None:
    v = V["gcm_java"]
    wrong_key = "b" + v["key_utf8"][1:]
    with pytest.raises(DecryptionError, match="APIv3 key"):
        crypto.aes_gcm_decrypt(v["ciphertext_b64"], wrong_key, v["nonce_utf8"], v["aad_utf8"])
    with pytest.raises(DecryptionError):
        crypto.aes_gcm_decrypt(v["ciphertext_b64"], v["key_utf8"], v["nonce_utf8"], "other aad")
    with pytest.raises(DecryptionError):
        crypto.aes_gcm_decrypt(v["ciphertext_b64"], v["key_utf8"], "uluk4a9R25RX", v["aad_utf8"])
    raw = bytearray(base64.b64decode(v["ciphertext_b64"]))
    raw[0] ^= 1
    with pytest.raises(DecryptionError):
        crypto.aes_gcm_decrypt(base64.b64encode(raw).decode(), v["key_utf8"], v["nonce_utf8"], v["aad_utf8"])
    with pytest.raises(DecryptionError, match="malformed"):
        crypto.aes_gcm_decrypt("***", v["key_utf8"], v["nonce_utf8"], v["aad_utf8"])
    with pytest.raises(DecryptionError, match="16, 24 or 32"):
        crypto.aes_gcm_decrypt(v["ciphertext_b64"], "short", v["nonce_utf8"], v["aad_utf8"])


def test_gcm_missing_aad_is_empty() -> None:
    ct = crypto.aes_gcm_encrypt("x", "k" * 32, "n" * 12, None)
    assert crypto.aes_gcm_decrypt(ct, "k" * 32, "n" * 12, "") == b"x"


# -- certificate downloads --------------------------------------------------------------------------------


def test_cert_download_java() -> None:
    v = V["cert_download_java"]
    [cert] = decrypt_certificates(v["response_body"].encode(), v["key_utf8"])
    assert cert.serial == "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC"
    assert crypto.certificate_serial(cert.certificate) == cert.serial
    saved = crypto.load_certificate(pem("java_downloaded_platform_cert_5DEA10EF.pem"))
    assert saved == cert.certificate
    assert cert.effective_time.startswith("2023-09-19")


def test_cert_download_go_16_byte_key() -> None:
    v = V["cert_download_go"]
    [cert] = decrypt_certificates(v["response_body"].encode(), v["key_utf8"])
    assert cert.serial == "D7CE59D1F522D701"
    assert cert.certificate == crypto.load_certificate(pem("go_platform_cert_D7CE59D1F522D701.pem"))


def test_cert_download_wrong_key_says_so() -> None:
    v = V["cert_download_java"]
    with pytest.raises(DecryptionError, match=WRONG_KEY):
        decrypt_certificates(v["response_body"].encode(), "0" * 32)


# -- notification end to end ------------------------------------------------------------------------------


def test_notification_go_vector_end_to_end() -> None:
    v = V["notification_go"]
    platform = crypto.load_public_key(pem("go_platform_cert_D7CE59D1F522D701.pem"))
    verifier = Verifier({"D7CE59D1F522D701": platform}, clock=lambda: 1624523846)
    note = parse_notification(v["headers"], v["body"].encode(), verifier, v["apiv3_key_utf8"])
    assert note.resource == json.loads(v["expected_plaintext"])
    assert note.event_type == "PAYSCORE.USER_OPEN_SERVICE" and note.summary == "签约成功"
    assert note.serial == "D7CE59D1F522D701"


def test_notification_go_vector_rejected_after_five_minutes() -> None:
    v = V["notification_go"]
    platform = crypto.load_public_key(pem("go_platform_cert_D7CE59D1F522D701.pem"))
    verifier = Verifier({"D7CE59D1F522D701": platform}, clock=lambda: 1624523846 + 300)
    with pytest.raises(VerificationError) as info:
        parse_notification(v["headers"], v["body"].encode(), verifier, v["apiv3_key_utf8"])
    assert info.value.reason == VerificationError.CLOCK_SKEW


# -- RSA-OAEP --------------------------------------------------------------------------------------------


def test_oaep_go_and_java_vectors() -> None:
    assert crypto.rsa_decrypt(V["oaep_go"]["ciphertext_b64"], GO_KEY) == "hello world"
    assert crypto.rsa_decrypt(V["oaep_java"]["ciphertext_b64"], JAVA_KEY) == "plaintext"


def test_oaep_java_vector_is_not_oaep_sha256() -> None:
    raw = base64.b64decode(V["oaep_java"]["ciphertext_b64"])
    sha256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    with pytest.raises(ValueError, match="Decryption failed"):
        JAVA_KEY.decrypt(raw, sha256)


def test_oaep_round_trip_and_limits() -> None:
    pub = GO_KEY.public_key()
    ct = crypto.rsa_encrypt("张三", pub)
    assert ct != crypto.rsa_encrypt("张三", pub)  # randomised
    assert crypto.rsa_decrypt(ct, GO_KEY) == "张三"
    assert crypto.rsa_encrypt("", pub) == "" and crypto.rsa_decrypt("", GO_KEY) == ""
    assert crypto.rsa_decrypt(crypto.rsa_encrypt("a" * 214, pub), GO_KEY) == "a" * 214
    with pytest.raises(ValueError, match="at most 214 bytes"):
        crypto.rsa_encrypt("a" * 215, pub)
    with pytest.raises(DecryptionError):
        crypto.rsa_decrypt(ct, JAVA_KEY)


def test_pkcs1v15_decryption_is_not_offered() -> None:
    legacy = base64.b64encode(GO_KEY.public_key().encrypt(b"secret", padding.PKCS1v15())).decode()
    with pytest.raises(DecryptionError):
        crypto.rsa_decrypt(legacy, GO_KEY)
    assert not [name for name in dir(crypto) if "pkcs1v15" in name.lower() or "pkcs1_v15" in name.lower()]


# -- AES-ECB, APIv2 helpers, digests ----------------------------------------------------------------------


def test_aes_ecb_php_vector_both_directions() -> None:
    v = V["aes_ecb_php"]
    assert crypto.aes_ecb_encrypt(v["plaintext_utf8"], v["key_utf8"]) == v["ciphertext_b64"]
    assert crypto.aes_ecb_decrypt(v["ciphertext_b64"], v["key_utf8"]) == b"hello"
    with pytest.raises(DecryptionError):
        crypto.aes_ecb_decrypt(v["ciphertext_b64"], "1" * 32)


def test_refund_req_info_derived() -> None:
    v = V["refund_req_info_derived"]
    key = crypto.md5(v["apiv2_key"])
    assert key == v["aes_key_utf8"]
    assert crypto.aes_ecb_decrypt(v["req_info_b64"], key).decode() == v["plaintext_utf8"]
    assert crypto.aes_ecb_encrypt(v["plaintext_utf8"], key) == v["req_info_b64"]
    assert (KEYS / "derived_refund_req_info.b64").read_text().strip() == v["req_info_b64"]


def test_v2_sign_official_doc_md5_and_hmac() -> None:
    v = V["v2_sign_official_doc"]
    string_a = "&".join(f"{k}={val}" for k, val in sorted(v["params"].items()) if val != "")
    assert string_a == v["stringA"]
    temp = string_a + "&key=" + v["key"]
    assert temp == v["stringSignTemp"]
    assert crypto.md5(temp).upper() == v["MD5"]
    assert crypto.hmac_sha256(temp, v["key"]).upper() == v["HMAC-SHA256"]


def test_sha_java_and_anchor_digests() -> None:
    v = V["sha_java"]
    assert crypto.sha1(v["input"]) == v["sha1"]
    assert crypto.sha256(v["input"].encode()) == v["sha256"]
    assert crypto.md5("") == "d41d8cd98f00b204e9800998ecf8427e"
    assert crypto.md5("exposed_your_key_here_have_risks") == "4ad14ac334ab13540eb6c5479512a8e8"
    media = V["media_upload_derived"]
    assert crypto.sha256((KEYS / "logo.png").read_bytes()) == media["file_sha256_hex"]


def test_nonce_and_timestamp() -> None:
    n = crypto.nonce()
    assert len(n) == 32 and n.isalnum() and n != crypto.nonce()
    assert len(crypto.nonce(7)) == 7
    with pytest.raises(ValueError, match="at least 1"):
        crypto.nonce(0)
    assert isinstance(crypto.timestamp(), int) and crypto.timestamp() > 1_700_000_000


# -- client-side payment signatures (Appendix B) ---------------------------------------------------------


def test_jsapi_pay_sign() -> None:
    params = paysign.jsapi_params("wx8888888888888888", "wx201410272009395522657a690389285100", GO_KEY, timestamp=1624523846, nonce="A1B2C3D4E5F6G7")
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["signType"] == "RSA" and params["timeStamp"] == "1624523846"
    message = b"wx8888888888888888\n1624523846\nA1B2C3D4E5F6G7\nprepay_id=wx201410272009395522657a690389285100\n"
    assert crypto.rsa_verify(message, params["paySign"], GO_KEY.public_key())
    assert params["paySign"] == crypto.rsa_sign(message, GO_KEY)
    assert list(params) == ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"]


def test_app_pay_sign() -> None:
    params = paysign.app_params("wx8888888888888888", "1900000109", "WX1217752501201407033233368018", GO_KEY, timestamp="1624523846", nonce="N")
    assert params["package"] == "Sign=WXPay" and params["partnerid"] == "1900000109"
    message = b"wx8888888888888888\n1624523846\nN\nWX1217752501201407033233368018\n"
    assert crypto.rsa_verify(message, params["sign"], GO_KEY.public_key())
    fresh = paysign.app_params("wx8888888888888888", "1900000109", "WX1", GO_KEY)
    assert len(fresh["noncestr"]) == 32 and fresh["timestamp"].isdigit()


@pytest.mark.parametrize("bad", ["", "a\nb"])
def test_pay_sign_rejects_bad_fields(bad: str) -> None:
    with pytest.raises(ValueError, match="prepay_id"):
        paysign.jsapi_params("wx1", bad, GO_KEY)


# -- key loading ----------------------------------------------------------------------------------------


def _same(a: rsa.RSAPrivateKey | rsa.RSAPublicKey, b: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bool:
    pa = a.public_key() if isinstance(a, rsa.RSAPrivateKey) else a
    pb = b.public_key() if isinstance(b, rsa.RSAPrivateKey) else b
    return pa.public_numbers() == pb.public_numbers()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PRIV_PKCS1_PEM = GO_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
PRIV_PKCS8_DER = GO_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
PRIV_PKCS1_DER = GO_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
PRIV_ENCRYPTED = GO_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret"))
PUB = GO_KEY.public_key()
PUB_PKCS1_PEM = PUB.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
PUB_PKCS1_DER = PUB.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
PUB_SPKI_DER = PUB.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(f"file://{KEYS / 'go_test_private_key.pem'}", id="file-url"),
        pytest.param(str(KEYS / "go_test_private_key.pem"), id="path-str"),
        pytest.param(KEYS / "go_test_private_key.pem", id="pathlike"),
        pytest.param(pem("go_test_private_key.pem"), id="pkcs8-pem-str"),
        pytest.param(pem("go_test_private_key.pem").encode(), id="pkcs8-pem-bytes"),
        pytest.param(PRIV_PKCS1_PEM.decode(), id="pkcs1-pem"),
        pytest.param("private.pkcs8://" + _b64(PRIV_PKCS8_DER), id="pseudo-pkcs8"),
        pytest.param("private.pkcs1://" + _b64(PRIV_PKCS1_DER), id="pseudo-pkcs1"),
        pytest.param(GO_KEY, id="key-object"),
        pytest.param((PRIV_ENCRYPTED, "s3cret"), id="php-pair"),
    ],
)
def test_private_key_forms(source: Any) -> None:
    assert _same(crypto.load_private_key(source), GO_KEY)


def test_encrypted_pkcs8_with_and_without_passphrase() -> None:
    assert _same(crypto.load_private_key(PRIV_ENCRYPTED, "s3cret"), GO_KEY)
    assert _same(crypto.load_private_key(PRIV_ENCRYPTED.decode(), b"s3cret"), GO_KEY)
    with pytest.raises(ValueError, match="encrypted: give its passphrase"):
        crypto.load_private_key(PRIV_ENCRYPTED)
    with pytest.raises(ValueError, match="wrong passphrase"):
        crypto.load_private_key(PRIV_ENCRYPTED, "nope")
    with pytest.raises(ValueError, match="not encrypted: drop the passphrase"):
        crypto.load_private_key(PRIV_PKCS1_PEM, "s3cret")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "got an empty value"),
        ("apiclient_key", "13 bytes that are not PEM"),
        ("file:///nonexistent/apiclient_key.pem", "cannot read private key file"),
        (pem("go_public_key.pem"), "labelled 'PUBLIC KEY' \\(that is the public half\\)"),
        (pem("merchant_certificate.pem"), "labelled 'CERTIFICATE'"),
        ("private.pkcs1://@@@", "not valid base64"),
        ("private.pkcs8://" + _b64(b"\x30\x03\x02\x01\x00"), "not a DER private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "could not parse the private key"),
        ((PRIV_ENCRYPTED, "s3cret", "x"), "a pair"),
    ],
)
def test_private_key_wrong_inputs_say_what_they_saw(source: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crypto.load_private_key(source)


def test_private_key_wrong_types() -> None:
    with pytest.raises(TypeError, match="got int"):
        crypto.load_private_key(12)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got a public key"):
        crypto.load_private_key(PUB)  # type: ignore[arg-type]


def test_private_key_errors_never_echo_key_material() -> None:
    text = pem("go_test_private_key.pem").replace("MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd", "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dXXXX")
    with pytest.raises(ValueError, match="could not parse") as info:
        crypto.load_private_key(text)
    assert "MII" not in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(f"file://{KEYS / 'go_public_key.pem'}", id="spki-file"),
        pytest.param(pem("go_public_key.pem"), id="spki-pem"),
        pytest.param(PUB_PKCS1_PEM, id="pkcs1-public-pem"),
        pytest.param(pem("go_platform_cert_F5765756002FDD77.pem"), id="x509"),
        pytest.param(crypto.load_certificate(pem("go_platform_cert_F5765756002FDD77.pem")), id="x509-object"),
        pytest.param("public.spki://" + _b64(PUB_SPKI_DER), id="pseudo-spki"),
        pytest.param("public.pkcs1://" + _b64(PUB_PKCS1_DER), id="pseudo-pkcs1"),
        pytest.param(pem("go_test_private_key.pem"), id="private-pem-yields-public-half"),
        pytest.param(PUB, id="key-object"),
        pytest.param(Path(KEYS / "go_public_key.pem"), id="pathlike"),
    ],
)
def test_public_key_forms(source: Any) -> None:
    assert _same(crypto.load_public_key(source), PUB)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "expected a certificate or public key .* got an empty value"),
        ("PUB_KEY_ID_0116571234562024052000123400000000", "bytes that are not PEM"),
        ("public.spki://%%%", "not valid base64"),
        ("public.spki://" + _b64(b"junk"), "not a DER public key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "labelled 'PUBLIC KEY'"),
        ("file:///nonexistent/pub_key.pem", "cannot read public key file"),
        (pem("sm_wechat_pay_certificate.pem"), "expected an RSA public key"),
    ],
)
def test_public_key_wrong_inputs(source: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crypto.load_public_key(source)


def test_certificate_loading_errors() -> None:
    with pytest.raises(ValueError, match=r"expected an X\.509 certificate, got a PEM block labelled 'PUBLIC KEY'"):
        crypto.load_certificate(pem("go_public_key.pem"))
    der = crypto.load_certificate(pem("merchant_certificate.pem")).public_bytes(serialization.Encoding.DER)
    assert crypto.certificate_serial(crypto.load_certificate(der)) == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"


def test_public_keys_mapping_names_the_serial() -> None:
    with pytest.raises(ValueError, match=r"\['PUB_KEY_ID_1'\]"):
        crypto.public_keys({"PUB_KEY_ID_1": "nope"})
    assert list(crypto.public_keys({"A": PUB})) == ["A"]
