"""Known-answer vectors for signing and verification (tests/vectors/vectors.json)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REFERENCE

from wechatpay_chain import RSASigner, VerificationError, Verifier, crypto
from wechatpay_chain.signing import authorization, parse_authorization, request_message, response_message
from wechatpay_chain.testing import sign_response_headers

VECTORS: dict[str, Any] = json.loads((REFERENCE / "vectors.json").read_text())
KEYS = REFERENCE / "keys"


def test_rsa_sign_go_vector() -> None:
    v = VECTORS["rsa_sign_go"]
    key = crypto.load_private_key(f"file://{KEYS / 'go_test_private_key.pem'}")
    assert crypto.rsa_sign(v["message_utf8"], key) == v["signature_b64"]
    for name in ("go_public_key.pem", "go_platform_cert_F5765756002FDD77.pem", "go_platform_cert_D7CE59D1F522D701.pem"):
        assert crypto.rsa_verify(v["message_utf8"], v["signature_b64"], crypto.load_public_key(f"file://{KEYS / name}"))


def test_rsa_sign_java_vector_and_negative() -> None:
    v = VECTORS["rsa_sign_java"]
    key = crypto.load_private_key(f"file://{KEYS / 'merchant_private_key.pem'}")
    assert crypto.rsa_sign(v["message_utf8"], key) == v["signature_b64"]
    cert = crypto.load_certificate(f"file://{KEYS / 'merchant_certificate.pem'}")
    assert crypto.certificate_serial(cert) == "5F1C72E2A8931B72A2E13AF8DEE92471EB397115"
    assert crypto.rsa_verify(v["message_utf8"], v["signature_b64"], crypto.load_public_key(cert))
    other = crypto.load_public_key(f"file://{KEYS / 'wechat_pay_public_key.pem'}")
    assert not crypto.rsa_verify(v["message_utf8"], v["signature_b64"], other)


def test_authorization_format_mock_vector() -> None:
    expected = VECTORS["auth_header_go_mock"]["expected"]
    message = request_message("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", b"").decode()
    header = authorization("1234567890", "A1B2C3D4E5F6G7", 1624523846, "0123456789ABC", "Sign:" + message)
    # The vector writes the message's newlines as the two characters backslash-n.
    assert header.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-Mock") == expected.replace("\\n", "\n")
    body_message = request_message("POST", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", b"Hello World!\n")
    assert body_message == b"POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n"


def _signer() -> RSASigner:
    key = crypto.load_private_key(f"file://{KEYS / 'go_test_private_key.pem'}")
    return RSASigner("1234567890", "F5765756002FDD77", key, clock=lambda: 1624523846, nonce_factory=lambda: "A1B2C3D4E5F6G7")


def test_derived_get_header() -> None:
    v = VECTORS["auth_header_derived_get"]
    assert request_message("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7").decode() == v["message"]
    assert _signer()("GET", "/v3/certificates", b"") == v["header"]


@pytest.mark.parametrize("name", ["auth_sig_derived_post", "auth_sig_derived_query"])
def test_derived_signatures(name: str) -> None:
    v = VECTORS[name]
    method, target, ts, nonce, body, _ = v["message"].split("\n")
    header = _signer()(method, target, body.encode())
    _, fields = parse_authorization(header)
    assert fields["signature"] == v["signature_b64"]
    assert request_message(method, target, ts, nonce, body.encode()).decode() == v["message"]


def test_notification_vector_verifies() -> None:
    v = VECTORS["notification_go"]
    cert = crypto.load_certificate(f"file://{KEYS / 'go_platform_cert_D7CE59D1F522D701.pem'}")
    verifier = Verifier({"D7CE59D1F522D701": cert.public_key()}, clock=lambda: 1624523846)  # type: ignore[dict-item]
    headers = v["headers"]
    assert verifier.verify(headers, v["body"].encode()) == "D7CE59D1F522D701"


def _verifier_and_headers(body: bytes, now: int = 1_700_000_000) -> tuple[Verifier, dict[str, str]]:
    key = crypto.load_private_key(f"file://{KEYS / 'go_test_private_key.pem'}")
    headers = sign_response_headers(body, key, "F5765756002FDD77", timestamp=now, nonce="N")
    verifier = Verifier({"F5765756002FDD77": key.public_key()}, clock=lambda: now)
    return verifier, headers


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.pop("Wechatpay-Signature"), "missing_headers"),
        (lambda h: h.update({"Wechatpay-Nonce": ""}), "missing_headers"),
        (lambda h: h.update({"Wechatpay-Timestamp": str(1_700_000_000 - 300)}), "clock_skew"),
        (lambda h: h.update({"Wechatpay-Timestamp": str(1_700_000_000 + 301)}), "clock_skew"),
        (lambda h: h.update({"Wechatpay-Timestamp": "17000000000000"}), "clock_skew"),
        (lambda h: h.update({"Wechatpay-Timestamp": "abc"}), "clock_skew"),
        (lambda h: h.update({"Wechatpay-Serial": "PUB_KEY_ID_0000"}), "unknown_serial"),
        (lambda h: h.update({"Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + h["Wechatpay-Signature"]}), "bad_signature"),
        (lambda h: h.update({"Wechatpay-Signature": "not base64 !!"}), "bad_signature"),
        (lambda h: h.update({"Wechatpay-Nonce": "M"}), "bad_signature"),
    ],
)
def test_verifier_fails_closed(mutate: Any, reason: str) -> None:
    verifier, headers = _verifier_and_headers(b'{"a":1}')
    mutate(headers)
    with pytest.raises(VerificationError) as info:
        verifier.verify(headers, b'{"a":1}')
    assert info.value.reason == reason


def test_verifier_tampered_body_and_skew_boundary() -> None:
    verifier, headers = _verifier_and_headers(b'{"a":1}')
    with pytest.raises(VerificationError, match="bad_signature"):
        verifier.verify(headers, b'{"a":2}')
    verifier, headers = _verifier_and_headers(b"", now=1_700_000_000)
    assert verifier.verify(headers, b"") == "F5765756002FDD77"
    assert response_message(1, "n", b"") == b"1\nn\n\n"
