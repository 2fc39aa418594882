"""Helpers for the issue-4 tests: an encrypted ``/v3/certificates`` route and signed notifications."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from wechatpay_chain import crypto
from wechatpay_chain.testing import KeyPair, sign_response_headers

APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"


def certificates_body(pairs: list[KeyPair], apiv3_key: str) -> bytes:
    data = []
    for pair in pairs:
        nonce = crypto.nonce(12)
        cert = pair.certificate
        data.append(
            {
                "serial_no": pair.serial,
                "effective_time": cert.not_valid_before_utc.isoformat(),
                "expire_time": cert.not_valid_after_utc.isoformat(),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": crypto.aes_gcm_encrypt(pair.certificate_pem(), apiv3_key, nonce, "certificate"),
                },
            }
        )
    return orjson.dumps({"data": data})


@dataclass
class CertRoute:
    """What the loopback server's ``GET /v3/certificates`` answers; tests mutate it to rotate keys."""

    listed: list[KeyPair]
    signer: KeyPair
    apiv3_key: str = APIV3_KEY
    missing: str | None = None  # e.g. "RESOURCE_NOT_EXISTS"
    delay: float = 0.0
    downloads: int = 0
    clock: Any = field(default=time.time)

    async def __call__(self, request: web.Request, body: bytes) -> web.Response:
        self.downloads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.missing:
            payload = orjson.dumps({"code": self.missing, "message": "无可用的平台证书"})
            return web.Response(status=404, body=payload, content_type="application/json")
        answer = certificates_body(self.listed, self.apiv3_key)
        headers = sign_response_headers(answer, self.signer.private_key, self.signer.serial, timestamp=int(self.clock()))
        return web.Response(status=200, body=answer, headers=headers, content_type="application/json")


def notification(
    signer: KeyPair,
    resource: Any,
    *,
    serial: str | None = None,
    apiv3_key: str = APIV3_KEY,
    timestamp: int | None = None,
    event_type: str = "TRANSACTION.SUCCESS",
) -> tuple[dict[str, str], bytes]:
    """A signed, encrypted notification as WeChat Pay would POST it."""
    nonce = crypto.nonce(12)
    doc = {
        "id": "EV-2018022511223320873",
        "create_time": "2015-05-20T13:29:35+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": crypto.aes_gcm_encrypt(orjson.dumps(resource), apiv3_key, nonce, "transaction"),
            "associated_data": "transaction",
            "nonce": nonce,
        },
    }
    body = orjson.dumps(doc)
    headers = sign_response_headers(body, signer.private_key, serial or signer.serial, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    headers["Request-ID"] = "notify-1"
    return headers, body
