"""A fake APIv2 endpoint set that behaves like WeChat on the wire, for tests and the sandbox.

It recomputes the ``sign`` of every request from the bytes received (refusing a bad one the way WeChat
does, with an unsigned ``FAIL``), answers signed XML in the request's ``sign_type``, and builds signed
payment notifications and encrypted refund notifications. Mount it on any aiohttp application::

    fake = V2Fake(apiv2_key, mchid)
    fake.add_routes(app.router)                 # /pay/micropay, /pay/orderquery, /secapi/pay/refund
    app.add_subapp("/v2/", fake.app())          # or as a sub-application under a prefix
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from .. import crypto
from ._sign import sign, verify
from ._xml import XMLError, parse_xml, to_xml
from .notify import req_info_key

__all__ = ["V2Fake"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class V2Fake:
    """State and handlers of the fake. ``seen`` records every verified request document."""

    apiv2_key: str = field(repr=False)
    mchid: str
    appid: str = "wxd678efh567hg6787"
    seen: list[dict[str, Any]] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.handlers.setdefault("/pay/micropay", self._micropay)
        self.handlers.setdefault("/pay/orderquery", self._orderquery)
        self.handlers.setdefault("/secapi/pay/refund", self._refund)

    # -- wiring -------------------------------------------------------------------------------------------
    def add_routes(self, router: web.UrlDispatcher, prefix: str = "") -> None:
        """Add one POST route per handler (``prefix`` + path) to an existing router."""
        for path in self.handlers:
            router.add_post(prefix + path, self._endpoint(path))

    def _endpoint(self, path: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            return await self.handle(request, path)

        return endpoint

    def app(self) -> web.Application:
        """A sub-application with the routes at its root, for ``app.add_subapp(prefix, fake.app())``."""
        sub = web.Application()
        self.add_routes(sub.router)
        return sub

    # -- the protocol -------------------------------------------------------------------------------------
    def signed(self, data: Mapping[str, Any], sign_type: str | None = None) -> bytes:
        doc = {k: v for k, v in data.items() if v is not None}
        doc.setdefault("nonce_str", crypto.nonce(32))
        doc["sign"] = sign(doc, self.apiv2_key, sign_type)
        return to_xml(doc)

    @staticmethod
    def _xml_response(body: bytes) -> web.Response:
        return web.Response(body=body, content_type="text/xml", charset="utf-8")

    def _fail(self, message: str) -> web.Response:
        return self._xml_response(to_xml({"return_code": "FAIL", "return_msg": message}))

    async def handle(self, request: web.Request, path: str) -> web.Response:
        """Verify the request's ``sign`` and answer ``handlers[path]``'s document, signed."""
        body = await request.read()
        try:
            data = parse_xml(body)
        except XMLError:
            return self._fail("XML格式错误")
        if not isinstance(data.get("sign"), str) or not verify(data, self.apiv2_key):
            return self._fail("签名错误")
        if str(data.get("mch_id", self.mchid)) != self.mchid:
            return self._fail("mch_id参数格式错误")
        transport = request.transport
        has_cert = transport is not None and bool(transport.get_extra_info("peercert"))
        if path.startswith("/secapi/") and request.secure and not has_cert:
            return self._fail("证书错误")  # the TLS layer normally refuses first
        self.seen.append(data)
        answer = self.handlers[path](data)
        sign_type = data.get("sign_type") if data.get("sign_type") in ("MD5", "HMAC-SHA256") else "MD5"
        return self._xml_response(self.signed(answer, sign_type))

    def _common(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": data.get("appid", self.appid),
            "mch_id": self.mchid,
            "result_code": "SUCCESS",
        }

    def _micropay(self, data: dict[str, Any]) -> dict[str, Any]:
        answer = self._common(data)
        if str(data.get("auth_code", "")).startswith("13"):
            answer.update(
                {
                    "transaction_id": "4200000000" + os.urandom(9).hex()[:18],
                    "out_trade_no": data.get("out_trade_no"),
                    "total_fee": data.get("total_fee"),
                    "trade_type": "MICROPAY",
                    "trade_state": "SUCCESS",
                }
            )
        else:
            answer.update({"result_code": "FAIL", "err_code": "AUTH_CODE_INVALID", "err_code_des": "付款码无效"})
        return answer

    def _orderquery(self, data: dict[str, Any]) -> dict[str, Any]:
        answer = self._common(data)
        answer.update({"out_trade_no": data.get("out_trade_no"), "trade_state": "SUCCESS", "total_fee": "1"})
        return answer

    def _refund(self, data: dict[str, Any]) -> dict[str, Any]:
        answer = self._common(data)
        answer.update(
            {
                "out_trade_no": data.get("out_trade_no"),
                "out_refund_no": data.get("out_refund_no"),
                "refund_id": "5030" + os.urandom(8).hex()[:16],
                "refund_fee": data.get("refund_fee"),
                "total_fee": data.get("total_fee"),
            }
        )
        return answer

    # -- notifications ------------------------------------------------------------------------------------
    def payment_notification(self, sign_type: str = "MD5", **fields: Any) -> bytes:
        """A signed payment-result notification (``transaction_id``, ``out_trade_no`` ... from ``fields``)."""
        doc = {**self._common(fields), "trade_type": "JSAPI", **fields}
        if sign_type != "MD5":
            doc["sign_type"] = sign_type
        return self.signed(doc, sign_type)

    def refund_notification(self, **fields: Any) -> bytes:
        """A refund-result notification whose ``req_info`` is AES-256-ECB encrypted as WeChat does it."""
        inner = {"refund_status": "SUCCESS", "success_time": "2024-01-01 12:00:00", **fields}
        req_info = crypto.aes_ecb_encrypt(to_xml(inner, root="root"), req_info_key(self.apiv2_key))
        return to_xml(
            {
                "return_code": "SUCCESS",
                "appid": self.appid,
                "mch_id": self.mchid,
                "nonce_str": crypto.nonce(32),
                "req_info": req_info,
            }
        )

    async def send_refund_notification(
        self, session: aiohttp.ClientSession, url: str, **fields: Any
    ) -> tuple[int, bytes]:
        """POST a refund notification to the merchant's ``notify_url``; return its status and reply."""
        body = self.refund_notification(**fields)
        async with session.post(url, data=body, headers={"Content-Type": "text/xml"}) as resp:
            return resp.status, await resp.read()
