"""Trade and fund-flow bills of one day, in WeChat Pay's CSV layout, built from the ledger's real orders.

Layout (what :mod:`wechatpay_chain.bill` parses): a header line, one line per row whose every cell starts with a
back-quote, a summary header line and one back-quoted summary line, ``\\r\\n`` line ends, amounts in yuan with
two decimals. The service fee is the sandbox's flat 0.60 % rounded half up to the fen.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ._ledger import KINDS, Ledger, Order, Refund

__all__ = ["FEE_RATE", "FUNDFLOW_HEADERS", "TRADE_HEADERS", "fundflow_bill", "trade_bill"]

FEE_RATE = "0.60%"
_CST = _dt.timezone(_dt.timedelta(hours=8))
_ALL = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
    "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
    "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
    "申请退款金额", "费率备注",
]
_REFUND_ONLY = ("微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "申请退款金额")
#: Column sets by ``bill_type`` (``*_SPECIAL`` and ``RECHARGE_REFUND`` use the layout of their base type).
TRADE_HEADERS = {
    "ALL": _ALL,
    "SUCCESS": [h for h in _ALL if h not in _REFUND_ONLY],
    "REFUND": [*_ALL[:14], "退款申请时间", "退款成功时间", *_ALL[14:]],
}
TRADE_SUMMARY = [
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额",
    "申请退款总金额",
]
FUNDFLOW_HEADERS = [
    "记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型", "收支金额（元）",
    "账户结余（元）", "资金变更提交申请人", "备注", "业务凭证号",
]
FUNDFLOW_SUMMARY = ["资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"]
_BASE_TYPE = {"ALL_SPECIAL": "ALL", "SUC_SPECIAL": "SUCCESS", "REF_SPECIAL": "REFUND", "RECHARGE_REFUND": "REFUND"}


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def fee(fen: int) -> int:
    """0.60 % of ``fen``, rounded half up to the fen (negative for a refund's fee given back)."""
    sign = -1 if fen < 0 else 1
    return sign * ((abs(fen) * 6 + 500) // 1000)


def _day(when: float) -> str:
    return _dt.datetime.fromtimestamp(when, _CST).strftime("%Y-%m-%d")


def _clock(when: float | None) -> str:
    return "" if when is None else _dt.datetime.fromtimestamp(when, _CST).strftime("%Y-%m-%d %H:%M:%S")


def _line(cells: Iterable[str]) -> str:
    return ",".join("`" + cell for cell in cells)


def _text(headers: list[str], rows: list[list[str]], summary_headers: list[str], summary: list[str]) -> bytes:
    lines = [",".join(headers), *(_line(r) for r in rows), ",".join(summary_headers), _line(summary)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _mine(order: Order, mchid: str, sub_mchid: str | None) -> bool:
    body = order.body
    if order.partner:
        return body["sp_mchid"] == mchid and sub_mchid in (None, body["sub_mchid"])
    return body["mchid"] == mchid and sub_mchid is None


def _ids(order: Order) -> list[str]:
    body = order.body
    merchant, special = (body["sp_mchid"], body["sub_mchid"]) if order.partner else (body["mchid"], "0")
    device = body.get("scene_info", {}).get("device_id", "")
    return [order.appid, merchant, special, device, order.transaction_id, order.out_trade_no, order.openid,
            KINDS[order.kind]]


@dataclass
class _Row:
    """One trade-bill row: a payment, or a refund of one (``refund`` set)."""

    order: Order
    refund: Refund | None = None

    def cells(self, layout: str) -> dict[str, str]:
        order, refund = self.order, self.refund
        keys = ("公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型")
        cells = dict(zip(keys, _ids(order), strict=True))
        cells.update(付款银行=order.bank_type, 货币种类="CNY", 商品名称=str(order.body["description"]),
                     商户数据包=str(order.body.get("attach", "")), 费率=FEE_RATE, 费率备注="")
        if refund is None:
            settled = order.payer_total
            cells.update(交易时间=_clock(order.success_time), 交易状态="SUCCESS", 应结订单金额=yuan(settled),
                         代金券金额=yuan(order.total - order.payer_total), 手续费=yuan(fee(settled)),
                         订单金额=yuan(order.total), 微信退款单号="0", 商户退款单号="0", 退款金额="0.00",
                         充值券退款金额="0.00", 退款类型="", 退款状态="", 申请退款金额="0.00")
        else:
            paid = layout == "REFUND"
            cells.update(交易时间=_clock(order.success_time if paid else refund.created), 交易状态="REFUND",
                         应结订单金额=yuan(order.payer_total) if paid else "0.00",
                         代金券金额=yuan(order.total - order.payer_total) if paid else "0.00",
                         退款申请时间=_clock(refund.created), 退款成功时间=_clock(refund.success_time),
                         微信退款单号=refund.refund_id, 商户退款单号=refund.out_refund_no,
                         退款金额=yuan(refund.amount), 充值券退款金额="0.00", 退款类型="ORIGINAL",
                         退款状态=refund.status, 手续费=yuan(-fee(refund.amount)),
                         订单金额=yuan(order.total) if paid else "0.00", 申请退款金额=yuan(refund.amount))
        return cells


def _trade_rows(ledger: Ledger, day: str, mchid: str, sub_mchid: str | None, layout: str) -> Iterator[_Row]:
    events: list[tuple[float, _Row]] = []
    for order in ledger.orders.values():
        if order.success_time is None or not _mine(order, mchid, sub_mchid):
            continue
        if layout != "REFUND" and _day(order.success_time) == day:
            events.append((order.success_time, _Row(order)))
        if layout != "SUCCESS":
            events.extend((r.created, _Row(order, r)) for r in order.refunds if _day(r.created) == day)
    for _, row in sorted(events, key=lambda e: e[0]):
        yield row


def trade_bill(ledger: Ledger, day: str, mchid: str, *, bill_type: str = "ALL", sub_mchid: str | None = None) -> bytes:
    """The trade bill (交易账单) of ``day`` (``YYYY-MM-DD``, China time); empty bytes when it has no rows."""
    layout = _BASE_TYPE.get(bill_type, bill_type)
    headers = TRADE_HEADERS[layout]
    rows = [row.cells(layout) for row in _trade_rows(ledger, day, mchid, sub_mchid, layout)]
    if not rows or bill_type == "RECHARGE_REFUND":
        return b""

    def total(name: str) -> str:
        return yuan(sum(round(float(r[name]) * 100) for r in rows))

    summary = [str(len(rows)), total("应结订单金额"), total("退款金额"), total("充值券退款金额"), total("手续费"),
               total("订单金额"), total("申请退款金额")]
    return _text(headers, [[r[h] for h in headers] for r in rows], TRADE_SUMMARY, summary)


def fundflow_bill(
    ledger: Ledger, day: str, mchid: str, *, account_type: str = "BASIC", sub_mchid: str | None = None
) -> bytes:
    """The fund-flow bill (资金账单) of ``day`` for the basic account; empty bytes when it has no rows."""
    if account_type != "BASIC":
        return b""
    events: list[tuple[float, str, str, str, str, int, str]] = []
    for order in ledger.orders.values():
        if order.success_time is None or not _mine(order, mchid, sub_mchid):
            continue
        paid = order.payer_total
        events.append((order.success_time, order.transaction_id, "交易", "交易", "收入", paid, order.out_trade_no))
        events.append((order.success_time, order.transaction_id, "扣除交易手续费", "扣除交易手续费", "支出",
                       fee(paid), order.out_trade_no))
        for refund in order.refunds:
            if refund.status == "SUCCESS" and refund.success_time is not None:
                events.append((refund.success_time, refund.refund_id, "退款", "退款", "支出", refund.amount,
                               refund.out_refund_no))
    balance = 0
    rows: list[list[str]] = []
    for n, (when, number, name, kind, direction, amount, voucher) in enumerate(sorted(events, key=lambda e: e[0])):
        balance += amount if direction == "收入" else -amount
        if _day(when) == day:
            rows.append([_clock(when), number, f"{number[-12:]}{n:06d}", name, kind, direction, yuan(amount),
                         yuan(balance), "system", "", voucher])
    if not rows:
        return b""
    income = [r for r in rows if r[5] == "收入"]
    spent = [r for r in rows if r[5] == "支出"]

    def total(items: list[list[str]]) -> str:
        return yuan(sum(round(float(r[6]) * 100) for r in items))

    summary = [str(len(rows)), str(len(income)), total(income), str(len(spent)), total(spent)]
    return _text(FUNDFLOW_HEADERS, rows, FUNDFLOW_SUMMARY, summary)
