"""The payment state machines and the bill/page builders without HTTP: an injected clock, exact numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from wechatpay_chain.bill import parse_bill
from wechatpay_chain.sandbox import Failure
from wechatpay_chain.sandbox.payments import Ledger, fundflow_bill, render, trade_bill

CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=CST).timestamp()
BASE = "http://127.0.0.1:1/"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def body(out_trade_no: str = "T0000000001", total: int = 100, **more: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"appid": "wx1", "mchid": "1900000109", "description": "<b>公仔</b>, 大号",
                           "out_trade_no": out_trade_no, "amount": {"total": total}, "notify_url": "http://n/"}
    doc.update(more)
    return doc


def refund(no: str, amount: int, total: int = 100, **more: Any) -> dict[str, Any]:
    return {"out_trade_no": "T0000000001", "out_refund_no": no,
            "amount": {"refund": amount, "total": total, "currency": "CNY"}, **more}


def test_order_states() -> None:
    clock = Clock()
    ledger = Ledger(clock=clock)
    answer = ledger.place("native", body(), "1900000109", BASE)
    assert answer["code_url"].startswith(BASE + "_sandbox/checkout/wx20300101120000")
    order = ledger.order_for(out_trade_no="T0000000001")
    assert (order.state, order.document()["trade_state_desc"]) == ("NOTPAY", "未支付")
    ledger.cancel(order)
    assert (order.state, order.state_desc) == ("NOTPAY", "用户取消支付")
    clock.now += 5
    ledger.pay(order, openid="o1", amount=90)
    doc = order.document()
    assert doc["trade_state"] == "SUCCESS" and doc["success_time"] == "2030-01-01T12:00:05+08:00"
    assert doc["amount"] == {"total": 100, "currency": "CNY", "payer_total": 90, "payer_currency": "CNY"}
    assert ledger.find("1900000109", transaction_id=order.transaction_id) is order
    with pytest.raises(Failure) as info:
        ledger.pay(order)
    assert info.value.code == "ORDERPAID"
    with pytest.raises(Failure):
        ledger.close("1900000109", "T0000000001")
    ledger.place("app", body("T0000000002"), "1900000109", BASE)
    with pytest.raises(ValueError, match="amount"):
        ledger.pay(ledger.order_for(out_trade_no="T0000000002"), amount=101)
    failed = ledger.order_for(out_trade_no="T0000000002")
    ledger.fail(failed)
    assert failed.state == "PAYERROR"
    ledger.close("1900000109", "T0000000002")
    assert failed.state == "CLOSED"


def test_expiry_and_reuse() -> None:
    clock = Clock()
    ledger = Ledger(clock=clock)
    expire = dt.datetime.fromtimestamp(T0 + 60, CST).isoformat()
    first = ledger.place("jsapi", body(time_expire=expire, payer={"openid": "o"}), "1900000109", BASE)
    assert ledger.place("jsapi", body(time_expire=expire, payer={"openid": "o"}), "1900000109", BASE) == first
    with pytest.raises(Failure) as info:
        ledger.place("jsapi", body(total=1, time_expire=expire, payer={"openid": "o"}), "1900000109", BASE)
    assert (info.value.status, info.value.code) == (403, "OUT_TRADE_NO_USED")
    clock.now = T0 + 60
    assert ledger.query("1900000109", out_trade_no="T0000000001")["trade_state"] == "CLOSED"
    with pytest.raises(Failure) as info:
        ledger.place("jsapi", body(time_expire=expire, payer={"openid": "o"}), "1900000109", BASE)
    assert info.value.code == "ORDER_CLOSED"
    with pytest.raises(Failure) as info:
        ledger.place("native", body("T0000000009"), "1900000999", BASE)
    assert info.value.detail == {"field": "/mchid", "location": "body",
                                 "issue": "must be the merchant that signed the request (1900000999)"}


def test_refunds_on_the_clock() -> None:
    clock = Clock()
    ledger = Ledger(clock=clock, refund_delay=30)
    ledger.place("native", body(), "1900000109", BASE)
    ledger.pay(ledger.order_for(out_trade_no="T0000000001"), amount=80)
    first = ledger.refund(refund("R1", 50), "1900000109")
    assert ledger.refund(refund("R1", 50), "1900000109") is first
    second = ledger.refund(refund("R2", 50), "1900000109", outcome="CLOSED")
    with pytest.raises(Failure) as info:
        ledger.refund(refund("R3", 1), "1900000109")
    assert info.value.detail is not None and info.value.detail["issue"] == "must be ≤ 0"
    assert ledger.next_due() == T0 + 30
    clock.now += 29
    assert ledger.due_refunds() == []
    clock.now += 1
    assert ledger.due_refunds() == [first, second]
    assert (first.status, second.status) == ("SUCCESS", "CLOSED")
    doc = first.document()
    assert doc["amount"]["payer_refund"] == 40 and doc["amount"]["discount_refund"] == 10
    assert doc["success_time"] == "2030-01-01T12:00:30+08:00" and "success_time" not in second.document()
    assert ledger.refund(refund("R3", 50), "1900000109").status == "PROCESSING"  # CLOSED gave 50 back
    assert ledger.next_due() == T0 + 60
    assert not ledger.settle_refund(first, "ABNORMAL")


def test_bills_parse_back() -> None:
    clock = Clock()
    ledger = Ledger(clock=clock)
    ledger.place("native", body(total=12345), "1900000109", BASE)
    ledger.pay(ledger.order_for(out_trade_no="T0000000001"))
    ledger.refund(refund("R1", 345, total=12345), "1900000109")
    ledger.settle_refund(ledger.refunds["1900000109", "R1"])
    text = trade_bill(ledger, "2030-01-01", "1900000109")
    assert text.startswith("交易时间,公众账号ID,商户号".encode()) and text.endswith(b"\r\n")
    bill = parse_bill(text)
    assert [r["交易状态"] for r in bill.rows] == ["SUCCESS", "REFUND"]
    assert bill.rows[0]["商品名称"] == "<b>公仔</b>, 大号" and bill.rows[1]["手续费"] == "-0.02"
    assert bill.summary["手续费总金额"] == "0.72"
    assert trade_bill(ledger, "2030-01-02", "1900000109") == b""
    assert trade_bill(ledger, "2030-01-01", "1900000110") == b""
    flow = parse_bill(fundflow_bill(ledger, "2030-01-01", "1900000109"))
    assert [r["账户结余（元）"] for r in flow.rows] == ["123.45", "122.71", "119.26"]


def test_checkout_page_escapes_and_offers_actions() -> None:
    ledger = Ledger(clock=Clock())
    ledger.place("native", body(), "1900000109", BASE)
    order = ledger.order_for(out_trade_no="T0000000001")
    page = render(order, BASE + "_sandbox/checkout/" + order.prepay_id, message="<script>")
    assert "<b>公仔</b>" not in page and "&lt;b&gt;公仔&lt;/b&gt;, 大号" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert 'id="pay"' in page and 'id="cancel"' in page and "¥1.00" in page
    ledger.pay(order)
    paid = render(order, BASE + "_sandbox/checkout/" + order.prepay_id)
    assert 'id="pay"' not in paid and 'id="state">SUCCESS<' in paid and order.transaction_id in paid


def test_payment_bodies_are_checked_before_sending() -> None:
    from wechatpay_chain import TemplateError
    from wechatpay_chain.schema import PAYMENT_OPERATIONS, find_operation, validate_query, validate_request

    assert len({op.name for op in PAYMENT_OPERATIONS}) == len(PAYMENT_OPERATIONS) == 18
    good = body(payer={"openid": "o"})
    validate_request("POST", "v3/pay/transactions/jsapi", good)
    with pytest.raises(TemplateError, match=r"^json\.payer: required"):
        validate_request("POST", "/v3/pay/transactions/jsapi", {k: v for k, v in good.items() if k != "payer"})
    with pytest.raises(TemplateError, match=r"^json\.amount\.currency: must be one of CNY"):
        validate_request("POST", "v3/refund/domestic/refunds", refund("R1", 1) | {"amount": {
            "refund": 1, "total": 1, "currency": "USD"}})
    with pytest.raises(TemplateError, match=r"^query\.bill_type"):
        validate_query("GET", "v3/bill/tradebill", {"bill_date": "2030-01-01", "bill_type": "DAILY"})
    op = find_operation("GET", "v3/pay/partner/transactions/out-trade-no/{x}")
    assert op is not None and op.name == "partner_query_by_out_trade_no"
