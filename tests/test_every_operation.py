"""Every documented operation answers as its page documents: one successful call of each of the 35 product-coupon
operations and of each payment operation against the running sandbox — 2xx, signature verified by the client,
answer conforming to the page's response table. A new operation in the schema fails this test until it is
exercised here."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import Keys, serve
from test_payments import APPID as PAY_APPID
from test_payments import MCHID, T0, order, refund_body
from test_payments import Inbox as PayInbox
from test_product_coupon_family import APPID, BRAND, Inbox, ref, send_body, stock

from wechatpay_chain import APIError, Client
from wechatpay_chain._schemas.spec import response_issue
from wechatpay_chain.media import Media
from wechatpay_chain.sandbox import Sandbox, samples
from wechatpay_chain.schema import (
    OPERATIONS,
    PAYMENT_OPERATIONS,
    arr,
    boolean,
    integer,
    issues,
    obj,
    string,
    validate_response,
)

OPS = {op.name: op for op in (*OPERATIONS, *PAYMENT_OPERATIONS)}
SUB = "1900000110"


class Exercise:
    """Calls an operation by its schema name, checks the answer and remembers that the operation was exercised."""

    def __init__(self, wxpay: Client) -> None:
        self.wxpay = wxpay
        self.done: set[str] = set()

    async def __call__(self, name: str, **options: Any) -> dict[str, Any]:
        op = OPS[name]
        r = await getattr(self.wxpay.chain(op.template), op.method.lower())(**options)  # raises if unsigned
        assert 200 <= r.status < 300, (name, r.status)
        doc: dict[str, Any] = r.json() if r.body else {}
        if r.body:
            validate_response(op.method, op.template, doc)
        self.done.add(name)
        return doc


@pytest.fixture
async def sb(keys: Keys) -> AsyncIterator[Sandbox]:
    frozen = time.time()  # business time moves, protocol time does not (signatures stay fresh)
    async with Sandbox(merchant=keys.merchant, platform=keys.platform, clock=lambda: frozen) as box:
        box.clock.set(T0)
        yield box


async def product_coupons(sb: Sandbox, call: Exercise, notify_url: str) -> None:
    await call("set_notify_config", json={"notify_url": notify_url})
    await call("get_notify_config")
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no="all_c00001", usage_mode="SINGLE", stock=stock(sb, scope="SPECIFIC"))
    body.pop("sequential_usage_info")
    made = await call("create_product_coupon", json=body)
    cid, sid = made["product_coupon_id"], made["stock"]["stock_id"]
    brand = {"brand_id": BRAND}
    got = await call("get_product_coupon", product_coupon_id=cid, query=brand)
    await call("patch_product_coupon", product_coupon_id=cid,
               json={**brand, "out_request_no": "all_p00001", "display_info": got["display_info"]})
    ids = {"product_coupon_id": cid, "stock_id": sid}
    await call("list_stocks", product_coupon_id=cid, query=brand)
    await call("get_stock", **ids, query=brand)
    await call("update_stock_budget", **ids, json={**brand, "out_request_no": "all_b00001", "update_mode": "MAX_COUNT",
                                                    "current_max_count": 100, "target_max_count": 200})
    stores = {**brand, "store_list": [{"store_id": "1001"}, {"store_id": "1002"}]}
    await call("associate_stock_stores", **ids, json=stores)
    await call("list_stock_stores", **ids, query=brand)
    await call("disassociate_stock_stores", **ids, json={**brand, "store_list": [{"store_id": "1002"}]})
    await call("patch_stock", **ids, json={**samples.PATCH_STOCK["json"], "out_request_no": "all_ps0001"})

    # a user coupon's whole life
    user = {"openid": "o_all_1"}
    await call("pre_send_user_coupon", **user, json=send_body(cid, sid, "all_pre001"))
    code = (await call("send_user_coupon", **user, json=send_body(cid, sid, "all_snd001")))["coupon_code"]
    coupon = {**user, "coupon_code": code}
    await call("confirm_user_coupon", **coupon, json=ref(cid, sid, "all_cnf001"))
    await call("get_user_coupon", **coupon, query={**brand, "product_coupon_id": cid, "stock_id": sid, "appid": APPID})
    await call("use_user_coupon", **coupon, json=ref(cid, sid, "all_use001", use_time=sb.clock.rfc3339(),
                                                     associated_order_info={"transaction_id": "42"}))
    await call("return_user_coupon", **coupon, json=ref(cid, sid, "all_ret001"))
    await call("deactivate_user_coupon", **coupon, json=ref(cid, sid, "all_dea001", deactivate_reason="测试"))
    await call("list_user_coupons", **user, query={**brand, "appid": APPID})

    # upload mode
    upload = copy.deepcopy(samples.ADD_STOCK["json"])
    upload.update(brand_id=BRAND, out_request_no="all_s00002", stock=stock(sb, mode="UPLOAD"))
    sid2 = (await call("add_stock", product_coupon_id=cid, json=upload))["stock_id"]
    await call("upload_coupon_codes", product_coupon_id=cid, stock_id=sid2,
               json={**brand, "out_request_no": "all_u00001", "code_list": ["ALL001", "ALL002"]})
    await call("deactivate_stock", product_coupon_id=cid, stock_id=sid2,
               json={**brand, "out_request_no": "all_d00001", "deactivate_reason": "测试"})
    await bundles(sb, call)
    await call("deactivate_product_coupon", product_coupon_id=cid,
               json={**brand, "out_request_no": "all_r00001", "deactivate_reason": "活动结束"})

    # images
    image = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    url = (await call("upload_image", body=Media(image, filename="logo.png")))["media_url"]
    task = {**brand, "task_id": "all_task01", "image_generation_type": "CUT_OUT", "cut_out": {"image_url": url}}
    await call("create_image_generation_task", json=task)
    await call("get_image_generation_task", task_id="all_task01", query={**brand, "image_generation_type": "CUT_OUT"})


async def bundles(sb: Sandbox, call: Exercise) -> None:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no="all_c00002", usage_mode="PROGRESSIVE_BUNDLE", stock=stock(sb))
    cid = (await call("create_product_coupon", json=body))["product_coupon_id"]
    bundle = copy.deepcopy(samples.ADD_STOCK_BUNDLE["json"])
    bundle.update(brand_id=BRAND, out_request_no="all_bd0001")
    rule = bundle["stock_bundle"]
    rule.update(coupon_code_mode="WECHATPAY", stock_send_rule={"max_count": 10, "max_count_per_user": 1})
    rule["progressive_bundle_usage_rule"] = {
        "coupon_available_period": stock(sb)["single_usage_rule"]["coupon_available_period"],
        "normal_coupon_list": [{"threshold": 100, "discount_amount": 10}, {"threshold": 200, "discount_amount": 30}],
    }
    bid = (await call("add_stock_bundle", product_coupon_id=cid, json=bundle))["stock_bundle_id"]
    ids = {"product_coupon_id": cid, "stock_bundle_id": bid}
    brand = {"brand_id": BRAND}
    await call("patch_stock_bundle", **ids, json={**brand, "out_request_no": "all_bp0001", "remark": "新备注"})
    await call("update_stock_bundle_budget", **ids, json={
        **brand, "out_request_no": "all_bb0001", "update_mode": "MAX_COUNT", "current_max_count": 10,
        "target_max_count": 20})
    stores = {**brand, "store_list": [{"store_id": "1001"}]}
    await call("associate_stock_bundle_stores", **ids, json=stores)
    await call("disassociate_stock_bundle_stores", **ids, json=stores)
    send = {**brand, "product_coupon_id": cid, "stock_bundle_id": bid, "appid": APPID}
    await call("pre_send_user_coupon_bundle", openid="o_all_b", json={**send, "send_request_no": "all_bs0000"})
    sent = await call("send_user_coupon_bundle", openid="o_all_b", json={**send, "send_request_no": "all_bs0001"})
    await call("deactivate_user_coupon_bundle", openid="o_all_b", user_coupon_bundle_id=sent["user_coupon_bundle_id"],
               json={**send, "out_request_no": "all_bd0002", "deactivate_reason": "测试"})


async def payments(sb: Sandbox, call: Exercise, inbox: PayInbox) -> None:
    kinds: dict[str, dict[str, Any]] = {"jsapi": {"payer": {"openid": "o_pay"}}, "native": {}, "app": {},
             "h5": {"scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}}}
    for n, (kind, more) in enumerate(kinds.items()):
        await call(f"{kind}_prepay", json=order(inbox, f"ALLPAY-{n}", **more))
        partner = {"sp_appid": PAY_APPID, "sp_mchid": MCHID, "sub_mchid": SUB, "description": "服务商下单",
                   "out_trade_no": f"ALLSP-{n}", "amount": {"total": 100}, "notify_url": inbox.url, **more}
        if kind == "jsapi":
            partner["payer"] = {"sp_openid": "o_sp"}
        await call(f"partner_{kind}_prepay", json=partner)
    direct, sp = {"mchid": MCHID}, {"sp_mchid": MCHID, "sub_mchid": SUB}
    await call("close", out_trade_no="ALLPAY-3", json=direct)
    await call("partner_close", out_trade_no="ALLSP-3", json=sp)
    for no in ("ALLPAY-0", "ALLSP-0"):
        sb.pay(no)
    await call("query_by_out_trade_no", out_trade_no="ALLPAY-0", query=direct)
    await call("query_by_id", transaction_id=sb.payments.order("ALLPAY-0").transaction_id, query=direct)
    await call("partner_query_by_out_trade_no", out_trade_no="ALLSP-0", query=sp)
    await call("partner_query_by_id", transaction_id=sb.payments.order("ALLSP-0").transaction_id, query=sp)
    await call("refund", json=refund_body(inbox, "ALLREF-1", 50, out_trade_no="ALLPAY-0"))
    await call("query_refund", out_refund_no="ALLREF-1")
    await call("tradebill", query={"bill_date": "2030-01-01"})
    await call("fundflowbill", query={"bill_date": "2030-01-01"})


async def test_every_operation_answers_as_documented(sb: Sandbox) -> None:
    inbox = Inbox()
    async with sb.client(retry=None) as wxpay, serve(inbox.app(wxpay)) as server:
        call = Exercise(wxpay)
        await product_coupons(sb, call, str(server.make_url("/notify")))
        await payments(sb, call, PayInbox(url=str(server.make_url("/notify"))))
    assert len(OPERATIONS) == 35
    assert sorted(set(OPS) - call.done) == []  # a new schema operation must be exercised here
    assert call.done == set(OPS)
    assert set(OPS) <= {route.name for route in sb.routes}  # the sandbox serves every schema operation


@pytest.mark.parametrize("check", [True, False])
async def test_an_answer_that_breaks_its_table_is_a_loud_sandbox_bug(
    keys: Keys, check: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async with Sandbox(merchant=keys.merchant, platform=keys.platform, check_responses=check) as box:
        spec = obj(order_id=string(required=True), state=string(required=True, enum=("OPEN", "CLOSED")),
                   items=arr(obj(qty=integer(required=True))))
        answers: Iterator[dict[str, Any]] = iter([{"order_id": "1", "state": "OPEN", "extra": "tolerated"},
                        {"order_id": "1", "state": "OPEN", "items": [{"qty": "2"}]},
                        {"order_id": "1", "state": "GONE"}])
        box.route("GET", "/v3/my/orders/{order_id}", lambda call: next(answers), name="get_my_order", response=spec)
        async with box.client(retry=None) as wxpay:
            node = wxpay.chain("v3/my/orders/{order_id}")
            assert (await node.get(order_id="1")).json()["extra"] == "tolerated"  # unknown members are fine
            if not check:
                assert (await node.get(order_id="1")).json()["items"] == [{"qty": "2"}]
                return
            with pytest.raises(APIError) as info:
                await node.get(order_id="1")
            assert (info.value.status, info.value.code) == (500, "SANDBOX_BAD_ANSWER")
            assert "get_my_order" in str(info.value.message) and "items[0].qty: must be integer" in str(info.value.message)
            assert "sandbox bug" in caplog.text and "get_my_order" in caplog.text
            with pytest.raises(APIError) as info:
                await node.get(order_id="1")
            assert "state: must be one of OPEN | CLOSED" in str(info.value.message)


SPEC = obj(id=string(required=True), state=string(enum=("A", "B")), n=integer(minimum=1), flag=boolean(),
           list=arr(obj(at=string(format="date-time", required=True)), max_items=2))


@pytest.mark.parametrize("doc", [
    {"id": "1", "state": "A", "n": 2, "flag": True, "list": [{"at": "2030-01-01T00:00:00+08:00"}], "more": 1},
    {}, {"id": None}, {"id": 1}, {"id": "1", "state": "C"}, {"id": "1", "n": 0}, {"id": "1", "n": True},
    {"id": "1", "flag": 1}, {"id": "1", "list": [{}]}, {"id": "1", "list": [None]}, {"id": "1", "list": [{}] * 3},
    {"id": "1", "list": [{"at": "yesterday"}]}, [], None,
])
def test_the_fast_answer_check_agrees_with_the_table_check(doc: Any) -> None:
    slow = next((i for i in issues(SPEC, doc) if not i.problem.startswith("unknown field")), None)
    fast = response_issue(SPEC, doc)
    assert (fast and (fast.path, fast.problem)) == (slow and (slow.path, slow.problem))
