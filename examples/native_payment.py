"""A whole Native (扫码) payment against the in-process sandbox, the way a merchant backend does it:

order → the payer pays → TRANSACTION.SUCCESS on our notify endpoint → query → refund → REFUND.SUCCESS →
the day's trade bill downloaded, hash-checked and parsed.

    python examples/native_payment.py            # the payer is played by sb.pay(...)
    python examples/native_payment.py --browser  # open the printed code_url page and click Pay yourself

Against WeChat Pay the code is the same minus the sandbox: a person scans ``code_url`` with WeChat.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import time

from aiohttp import web

from wechatpay_chain import Client
from wechatpay_chain.bill import parse_bill
from wechatpay_chain.notify import Notification, aiohttp_handler
from wechatpay_chain.sandbox import Sandbox
from wechatpay_chain.types import NativeOrderRequest

APPID = "wxd678efh567hg6787"


async def notify_endpoint(wxpay: Client, inbox: asyncio.Queue[Notification]) -> tuple[web.AppRunner, str]:
    """Our ``notify_url``: verifies the signature, decrypts, queues the event, answers 204."""
    app = web.Application()
    app.router.add_post("/wechatpay/notify", aiohttp_handler(wxpay, inbox.put_nowait))
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}/wechatpay/notify"


async def main(browser: bool) -> None:
    async with Sandbox() as sb, sb.client() as wxpay:
        print(f"using the sandbox at {sb.url}")
        inbox: asyncio.Queue[Notification] = asyncio.Queue()
        runner, notify_url = await notify_endpoint(wxpay, inbox)
        try:
            out_trade_no = f"N{time.time_ns() // 1000}"
            order: NativeOrderRequest = {  # a TypedDict: mypy and the IDE know every member
                "appid": APPID, "mchid": sb.mchid, "description": "Image形象店-深圳腾大-QQ公仔",
                "out_trade_no": out_trade_no, "amount": {"total": 100, "currency": "CNY"},
                "notify_url": notify_url,
            }
            r = await wxpay.v3.pay.transactions.native.post(json=order, validate=True)
            code_url = r.json()["code_url"]
            print(f"1. ordered {out_trade_no}: code_url {code_url}")

            if browser:
                print("   open that URL in a browser and click Pay (waiting up to 10 minutes)")
            else:
                sb.pay(out_trade_no, openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
            note = await asyncio.wait_for(inbox.get(), 600 if browser else 10)
            paid = note.resource
            print(f"2. {note.event_type}: {paid['out_trade_no']} paid {paid['amount']['payer_total']} fen, "
                  f"transaction {paid['transaction_id']}")

            r = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get(
                out_trade_no=out_trade_no, query={"mchid": sb.mchid})
            print(f"3. query: trade_state {r.json()['trade_state']}")

            r = await wxpay.v3.refund.domestic.refunds.post(json={
                "transaction_id": paid["transaction_id"], "out_refund_no": f"R{out_trade_no}",
                "reason": "顾客退货", "notify_url": notify_url,
                "amount": {"refund": 30, "total": 100, "currency": "CNY"},
            })
            print(f"4. refund {r.json()['out_refund_no']}: {r.json()['status']}")
            sb.clock.advance(60)  # refunds settle asynchronously; move the sandbox clock instead of waiting
            note = await asyncio.wait_for(inbox.get(), 10)
            print(f"5. {note.event_type}: {note.resource['refund_status']} {note.resource['amount']['refund']} fen")

            today = dt.datetime.fromtimestamp(sb.clock.now(), dt.timezone(dt.timedelta(hours=8))).date()
            query = {"bill_date": today.isoformat(), "tar_type": "GZIP"}
            step1 = (await wxpay.v3.bill.tradebill.get(query=query)).json()
            bill = parse_bill((await wxpay.download(step1)).content)  # gunzipped and SHA1-checked
            for row in bill.rows:
                print(f"6. bill row: {row['商户订单号']} {row['交易状态']} 订单金额 {row['订单金额']} "
                      f"退款金额 {row['退款金额']}")
            print(f"   summary: {bill.summary}")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browser", action="store_true", help="pay on the checkout page yourself")
    asyncio.run(main(parser.parse_args().browser))
