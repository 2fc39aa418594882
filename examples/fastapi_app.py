"""A FastAPI backend that owns one ``Client`` for its whole life (``lifespan``) and takes WeChat Pay's callbacks.

Routes: ``POST /orders`` (Native: answers the ``code_url`` to show as a QR code), ``POST /orders/jsapi`` (answers
the ``wx.requestPayment`` parameters, ``paySign`` included, for a Mini Program / Official Account page),
``POST /orders/app`` (the signed ``PayReq`` parameters for the WeChat SDK in a mobile app),
``GET /orders/{out_trade_no}`` (what the callbacks told us, and what a query says), ``POST /wechatpay/notify``.
It needs FastAPI and uvicorn, which wechatpay-chain does not install: ``pip install fastapi uvicorn``.

    python examples/fastapi_app.py      # serves it with uvicorn against an in-process sandbox, pays three orders
    WECHATPAY_CONFIG=./sandbox-config/config.json uvicorn fastapi_app:app --app-dir examples
                                        # next to `python -m wechatpay_chain.sandbox --write-config ./sandbox-config`
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

try:
    import uvicorn
    from fastapi import FastAPI, Request, Response
except ImportError as exc:  # not dependencies of wechatpay-chain itself
    missing = f"this example needs FastAPI and uvicorn ({exc.name} is missing): pip install fastapi uvicorn"
    raise SystemExit(missing) from exc

from wechatpay_chain import Client, crypto, paysign
from wechatpay_chain.notify import Notification, respond
from wechatpay_chain.sandbox import Sandbox

APPID = "wxd678efh567hg6787"


def create_app(config: Mapping[str, Any], public_url: str) -> FastAPI:
    """``config``: ``Client(**config)`` keywords (mchid, serial, private_key, certs, apiv3_key, base_url).
    ``public_url``: where WeChat Pay reaches this app (the ``notify_url`` base)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Client(**config) as wxpay:  # one connection pool and certificate cache for every request
            app.state.wxpay = wxpay
            app.state.private_key = crypto.load_private_key(config["private_key"])
            app.state.events = {}
            yield

    app = FastAPI(lifespan=lifespan)

    def wxpay_of(request: Request) -> Client:
        return request.app.state.wxpay  # type: ignore[no-any-return]

    def order_body(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "appid": APPID, "mchid": config["mchid"], "description": str(data.get("description", "商品")),
            "out_trade_no": f"F{time.time_ns() // 1000}", "amount": {"total": int(data["total"]), "currency": "CNY"},
            "notify_url": public_url + "/wechatpay/notify",
        }

    @app.post("/orders")
    async def native_order(request: Request) -> dict[str, str]:
        body = order_body(await request.json())
        r = await wxpay_of(request).v3.pay.transactions.native.post(json=body)
        return {"out_trade_no": body["out_trade_no"], "code_url": r.json()["code_url"]}

    @app.post("/orders/jsapi")
    async def jsapi_order(request: Request) -> dict[str, Any]:
        data = await request.json()
        body = {**order_body(data), "payer": {"openid": str(data["openid"])}}
        r = await wxpay_of(request).v3.pay.transactions.jsapi.post(json=body)
        # What the page passes to wx.requestPayment / WeixinJSBridge: signed with the merchant key.
        params = paysign.jsapi_params(APPID, r.json()["prepay_id"], request.app.state.private_key)
        return {"out_trade_no": body["out_trade_no"], "pay_params": params}

    @app.post("/orders/app")
    async def app_order(request: Request) -> dict[str, Any]:
        body = order_body(await request.json())
        r = await wxpay_of(request).v3.pay.transactions.app.post(json=body)
        # What the mobile app hands to the WeChat SDK's PayReq (partnerid is the merchant id).
        params = paysign.app_params(APPID, config["mchid"], r.json()["prepay_id"], request.app.state.private_key)
        return {"out_trade_no": body["out_trade_no"], "pay_params": params}

    @app.get("/orders/{out_trade_no}")
    async def order_state(out_trade_no: str, request: Request) -> dict[str, Any]:
        r = await wxpay_of(request).v3.pay.transactions.outTradeNo._out_trade_no_.get(
            out_trade_no=out_trade_no, query={"mchid": config["mchid"]})
        return {"trade_state": r.json()["trade_state"], "events": request.app.state.events.get(out_trade_no, [])}

    @app.post("/wechatpay/notify")
    async def notify(request: Request) -> Response:
        events: dict[str, list[str]] = request.app.state.events

        def on_notification(note: Notification) -> None:  # keep it fast and idempotent (dedupe on note.id)
            events.setdefault(note.resource["out_trade_no"], []).append(note.event_type)

        status, body = await respond(wxpay_of(request), request.headers, await request.body(), on_notification)
        return Response(status_code=status, content=body, media_type="application/json" if body else None)

    return app


def _config_from_env() -> dict[str, Any]:
    with open(os.environ["WECHATPAY_CONFIG"]) as f:
        return dict(json.load(f))


def __getattr__(name: str) -> Any:  # `uvicorn fastapi_app:app` builds the app from WECHATPAY_CONFIG
    if name == "app":
        return create_app(_config_from_env(), os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000"))
    raise AttributeError(name)


async def demo() -> None:
    async with Sandbox() as sb:
        print(f"using the sandbox at {sb.url}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(sb.config, base), log_level="warning", lifespan="on"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        try:
            async with aiohttp.ClientSession(base) as http:
                async with http.post("/orders", json={"description": "QQ公仔", "total": 100}) as r:
                    native = await r.json()
                print(f"native order {native['out_trade_no']}: show {native['code_url']} as a QR code")
                buyer = {"total": 200, "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
                async with http.post("/orders/jsapi", json=buyer) as r:
                    jsapi = await r.json()
                print(f"jsapi order {jsapi['out_trade_no']}: wx.requestPayment({jsapi['pay_params']})")
                async with http.post("/orders/app", json={"total": 300}) as r:
                    app_pay = await r.json()
                print(f"app order {app_pay['out_trade_no']}: PayReq {app_pay['pay_params']}")
                for order in (native, jsapi, app_pay):
                    sb.pay(order["out_trade_no"])  # the sandbox plays the payer
                await sb.notifications.wait("TRANSACTION.SUCCESS", count=3)
                for order in (native, jsapi, app_pay):
                    async with http.get(f"/orders/{order['out_trade_no']}") as r:
                        print(f"{order['out_trade_no']}: {await r.json()}")
        finally:
            server.should_exit = True
            await serving


if __name__ == "__main__":
    asyncio.run(demo())
