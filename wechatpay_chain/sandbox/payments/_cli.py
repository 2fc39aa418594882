"""``python -m wechatpay_chain.sandbox payer …``: play the payer of a running sandbox from a shell.

``payer pay OUT_TRADE_NO [--amount FEN] [--openid ID]``, ``payer fail …``, ``payer cancel …``,
``payer settle-refund OUT_REFUND_NO [--outcome SUCCESS|ABNORMAL|CLOSED]`` and ``payer orders`` talk to the
loopback-only admin interface (``/_sandbox/payments/…``) and print its JSON answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from ._ledger import REFUND_OUTCOMES

__all__ = ["payer_command", "unreachable"]


def unreachable(url: str, exc: BaseException) -> str:
    """What to say when no sandbox answers at ``url``: the usual cause is another port than the default."""
    return (
        f"error: no sandbox answers at {url} ({getattr(exc, 'reason', exc)}): start one with "
        "`wechatpay-chain sandbox`, and give --url the address it printed ('WeChat Pay sandbox listening on …', "
        "or base_url in its config.json) when it is not the default http://127.0.0.1:8080/"
    )


def _call(url: str, data: dict[str, Any] | None) -> tuple[int, str]:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method="GET" if data is None else "POST",  # noqa: S310 - admin URL
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - admin URL
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def payer_command(argv: list[str], prog: str = "python -m wechatpay_chain.sandbox") -> int:
    parser = argparse.ArgumentParser(prog=f"{prog} payer", description=__doc__)
    parser.add_argument("action", choices=("pay", "fail", "cancel", "settle-refund", "orders"))
    parser.add_argument("number", nargs="?", help="out_trade_no (or prepay_id with --prepay), or out_refund_no")
    parser.add_argument("--prepay", action="store_true", help="the number is a prepay_id")
    parser.add_argument("--amount", type=int, help="fen the payer pays (default: the order total)")
    parser.add_argument("--openid", help="the payer's openid")
    parser.add_argument("--outcome", choices=REFUND_OUTCOMES, help="settle-refund: the refund's outcome")
    parser.add_argument("--url", default="http://127.0.0.1:8080/", help="the sandbox's base URL")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/") + "/_sandbox/payments/"
    if args.action == "orders":
        doc = None
    elif not args.number:
        wanted = "out_refund_no" if args.action == "settle-refund" else "out_trade_no (or prepay_id with --prepay)"
        parser.error(f"{args.action} needs the number: {args.action} NUMBER, NUMBER = its {wanted}")
    elif args.action == "settle-refund":
        doc = {"out_refund_no": args.number, **({"outcome": args.outcome} if args.outcome else {})}
    else:
        doc = {"prepay_id" if args.prepay else "out_trade_no": args.number}
        if args.action == "pay":
            doc.update({k: v for k, v in (("amount", args.amount), ("openid", args.openid)) if v is not None})
    try:
        status, text = _call(base + args.action, doc)
    except (urllib.error.URLError, OSError) as exc:
        print(unreachable(args.url, exc), file=sys.stderr)
        return 1
    print(text)
    return 0 if status < 400 else 1
