"""The checkout page a Native ``code_url`` / H5 ``h5_url`` opens: the order, its QR code, Pay and Cancel.

Plain HTML forms (no script): *Pay* posts to ``…/pay`` and *Cancel* to ``…/cancel``; the sandbox answers with a
redirect back to the page, which then shows the new state. The QR code (of the ``code_url`` itself) is drawn
with ``segno`` when it is installed (``pip install "wechatpay-chain[sandbox]"``); without it the page shows the
link as text, and everything else works the same.
"""

from __future__ import annotations

import html
from typing import Any

from ._bills import yuan
from ._ledger import Order

__all__ = ["qr_svg", "render"]

_STYLE = """
body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;background:#ededed;margin:0}
main{max-width:420px;margin:32px auto;background:#fff;border-radius:12px;padding:24px 28px;
box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:15px;color:#666;font-weight:normal;margin:0 0 4px}.amount{font-size:36px;font-weight:600;margin:4px 0 16px}
.qr{text-align:center;margin:8px 0}.qr svg{width:196px;height:196px}
dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px;font-size:13px;color:#333}dt{color:#888}
dd{margin:0;word-break:break-all}.state{font-weight:600}.state.SUCCESS,.state.REFUND{color:#07c160}
.state.CLOSED,.state.PAYERROR{color:#fa5151}.actions{display:flex;gap:12px;margin-top:20px;align-items:center}
.actions form{flex:1}.actions form.minor{flex:0 0 auto}
button{width:100%;font-size:16px;padding:10px 0;border-radius:8px;border:0;cursor:pointer}
#pay{background:#07c160;color:#fff}#cancel{background:#f2f2f2;color:#333}#fail{background:none;color:#999;
font-size:12px;padding:10px 4px}.note{font-size:12px;color:#999;margin-top:14px}
"""


def qr_svg(text: str) -> str | None:
    """An inline SVG QR code of ``text``, or ``None`` without ``segno``."""
    try:
        import segno
    except ImportError:  # pragma: no cover - the page falls back to the link
        return None
    return str(segno.make(text, error="m").svg_inline(scale=4, dark="#111"))


def render(order: Order, page_url: str, *, message: str = "") -> str:
    """The page of ``order``; ``page_url`` is its own address (the forms post below it)."""
    body: dict[str, Any] = order.body
    merchant = f"{body['sp_mchid']} / {body['sub_mchid']}" if order.partner else str(body["mchid"])
    esc = html.escape
    svg = qr_svg(page_url) if order.kind in ("native", "h5") else None
    qr = (
        f'<div class="qr" id="qr" title="{esc(page_url)}">{svg}</div>'
        if svg is not None
        else f'<p class="note">Link: <a href="{esc(page_url)}">{esc(page_url)}</a></p>'
    )
    rows = [
        ("商户 Merchant", merchant),
        ("商品 Description", str(body["description"])),
        ("订单号 out_trade_no", order.out_trade_no),
        ("类型 Trade type", order.kind.upper()),
    ]
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    if order.transaction_id:
        details += f'<dt>微信支付单号 transaction_id</dt><dd id="transaction-id">{esc(order.transaction_id)}</dd>'

    state = f'<dt>状态 State</dt><dd class="state {esc(order.state)}" id="state">{esc(order.state)}</dd>'
    desc = f'<dt>说明</dt><dd id="state-desc">{esc(order.state_desc)}</dd>'
    if order.state == "NOTPAY":
        buttons = (("", "pay", "Pay 支付"), ("", "cancel", "Cancel 取消"), (' class="minor"', "fail", "fail"))
        actions = '<div class="actions">' + "".join(
            f'<form{cls} method="post" action="{esc(page_url)}/{name}"><button id="{name}" type="submit">{label}'
            "</button></form>"
            for cls, name, label in buttons
        ) + "</div>"
    else:
        actions = ""
    note = f'<p class="note" id="message">{esc(message)}</p>' if message else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>WeChat Pay sandbox checkout {esc(order.out_trade_no)}</title><style>{_STYLE}</style></head>"
        f'<body><main><h1>WeChat Pay sandbox · 微信支付沙箱</h1><div class="amount" id="amount">¥{yuan(order.total)}'
        f"</div>{qr}<dl>{details}{state}{desc}</dl>{actions}{note}"
        '<p class="note">Offline simulator: no money moves. Pay fires TRANSACTION.SUCCESS to the order\'s '
        "notify_url.</p></main></body></html>"
    )
