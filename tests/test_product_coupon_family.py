"""The product-coupon family against the running sandbox: every published example, the user-coupon lifecycle,
budgets on the sandbox clock, idempotency, notifications, stores, bundles, codes, images, limits."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import Keys, serve
from conftest import keyed_sandbox as box
from test_schema import CALLS

from wechatpay_chain import APIError, Client
from wechatpay_chain._schemas.spec import check
from wechatpay_chain.media import Media
from wechatpay_chain.notify import Notification, aiohttp_handler
from wechatpay_chain.sandbox import COUPON_SCHEDULE, Sandbox, samples
from wechatpay_chain.schema import NOTIFICATIONS, validate_response

PC = "v3/marketing/partner/product-coupon"
BRAND = "120344"
APPID = "wx233544546545989"


def stock(sb: Sandbox, *, max_count: int = 100, per_day: int | None = None, per_user: int | None = None,
          mode: str = "WECHATPAY", wait_days: int = 0, days: int = 30, scope: str = "ALL") -> dict[str, Any]:
    now = sb.clock.now()
    rule: dict[str, Any] = {"max_count": max_count}
    if per_day:
        rule["max_count_per_day"] = per_day
    if per_user:
        rule["max_count_per_user"] = per_user
    base = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"]["stock"])
    return {
        "coupon_code_mode": mode,
        "stock_send_rule": rule,
        "single_usage_rule": {
            "coupon_available_period": {
                "available_begin_time": sb.clock.rfc3339(now - 3600),
                "available_end_time": sb.clock.rfc3339(now + 90 * 86400),
                "available_days": days,
                "wait_days_after_receive": wait_days,
            },
            "normal_coupon": {"threshold": 10000, "discount_amount": 500},
        },
        "usage_rule_display_info": base["usage_rule_display_info"],
        "coupon_display_info": base["coupon_display_info"],
        "notify_config": base["notify_config"],
        "store_scope": scope,
    }


async def create(wxpay: Client, sb: Sandbox, no: str, **options: Any) -> tuple[str, str]:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no=no, usage_mode="SINGLE", stock=stock(sb, **options))
    body.pop("sequential_usage_info")
    doc = (await wxpay.chain(PC + "/product-coupons").post(json=body)).json()
    return doc["product_coupon_id"], doc["stock"]["stock_id"]


def send_body(cid: str, sid: str, no: str, **more: Any) -> dict[str, Any]:
    return {"brand_id": BRAND, "product_coupon_id": cid, "stock_id": sid, "appid": APPID, "send_request_no": no,
            **more}


async def send(wxpay: Client, openid: str, cid: str, sid: str, no: str, **more: Any) -> dict[str, Any]:
    r = await wxpay.chain(PC + "/users/{openid}/coupons").post(openid=openid, json=send_body(cid, sid, no, **more))
    doc: dict[str, Any] = r.json()
    validate_response("POST", PC + "/users/{openid}/coupons", doc)
    return doc


def ref(cid: str, sid: str, no: str, **more: Any) -> dict[str, Any]:
    return {"brand_id": BRAND, "product_coupon_id": cid, "stock_id": sid, "appid": APPID, "out_request_no": no,
            **more}


async def refused(call: Any, code: str = "INVALID_REQUEST") -> APIError:
    with pytest.raises(APIError) as info:
        await call
    assert info.value.code == code, (info.value.code, info.value.message)
    return info.value


# -- every page --------------------------------------------------------------------------------------------------
async def test_every_published_example_passes_validation_on_the_sandbox(wxpay: Client) -> None:
    """The current example call of each page gets past validation: an answer, or a business error (its ids do
    not exist here), never PARAM_ERROR."""
    codes = {}
    for name, (method, template, options) in CALLS.items():
        try:
            await getattr(wxpay.chain(template), method.lower())(**options)
            codes[name] = "OK"
        except APIError as exc:
            codes[name] = f"{exc.code} {exc.message}"
    assert not [c for c in codes.values() if c.startswith("PARAM_ERROR")], codes
    assert len(codes) == 34  # + the multipart upload, tested below


# -- the lifecycle -----------------------------------------------------------------------------------------------
class Inbox:
    def __init__(self) -> None:
        self.notes: list[Notification] = []
        self.fail_next = 0

    def app(self, wxpay: Client) -> web.Application:
        accept = aiohttp_handler(wxpay, self.notes.append)

        async def handler(request: web.Request) -> web.StreamResponse:
            if self.fail_next:
                self.fail_next -= 1
                return web.Response(status=500)
            return await accept(request)

        app = web.Application()
        app.router.add_post("/notify", handler)
        return app


async def test_user_coupon_lifecycle_and_send_notification(sb: Sandbox) -> None:
    inbox = Inbox()
    async with sb.client(retry=None) as wxpay, serve(inbox.app(wxpay)) as server:
        url = str(server.make_url("/notify"))
        configured = (await wxpay.chain(PC + "/notify-configs").post(json={"notify_url": url})).json()
        assert configured["notify_url"] == url
        assert (await wxpay.chain(PC + "/notify-configs").get()).json()["notify_url"] == url
        cid, sid = await create(wxpay, sb, "life_00001", wait_days=1)
        sent = await send(wxpay, "o_user_1", cid, sid, "send_00001", attach="订单A")
        code = sent["coupon_code"]
        assert sent["coupon_state"] == "CONFIRMING" and sent["stock"]["sent_count_info"]["total_count"] == 1
        [delivery] = await sb.notifications.wait("PRODUCT_COUPON_SP.SEND")
        note = inbox.notes[0]
        assert note.id == delivery.id and note.event_type == "PRODUCT_COUPON_SP.SEND"
        assert not list(check(NOTIFICATIONS["PRODUCT_COUPON_SP.SEND"], note.resource))
        assert (note.resource["coupon_code"], note.resource["openid"], note.resource["attach"]) == (
            code, "o_user_1", "订单A")
        node = wxpay.chain(PC + "/users/{openid}/coupons/{code}/{action}")
        await refused(node.post(openid="o_user_1", code=code, action="use",
                                json=ref(cid, sid, "use_000001", use_time=sb.clock.rfc3339(),
                                         associated_order_info={"transaction_id": "42"})))
        confirmed = (await node.post(openid="o_user_1", code=code, action="confirm",
                                     json=ref(cid, sid, "conf_00001"))).json()
        assert (confirmed["coupon_state"], confirmed["confirm_request_no"]) == ("PENDING", "conf_00001")
        use = ref(cid, sid, "use_000001", use_time=sb.clock.rfc3339(), associated_order_info={"transaction_id": "42"})
        await refused(node.post(openid="o_user_1", code=code, action="use", json=use))  # wait_days_after_receive
        sb.clock.advance(dt.timedelta(days=1))
        one = wxpay.chain(PC + "/users/{openid}/coupons/{code}")
        query = {"brand_id": BRAND, "product_coupon_id": cid, "stock_id": sid, "appid": APPID}
        assert (await one.get(openid="o_user_1", code=code, query=query)).json()["coupon_state"] == "EFFECTIVE"
        used = (await node.post(openid="o_user_1", code=code, action="use", json=use)).json()
        assert used["coupon_state"] == "USED" and used["single_usage_detail"]["use_request_no"] == "use_000001"
        await refused(node.post(openid="o_user_1", code=code, action="use", json={**use, "out_request_no": "use_000002"}))
        back = (await node.post(openid="o_user_1", code=code, action="return", json=ref(cid, sid, "ret_000001"))).json()
        assert back["coupon_state"] == "EFFECTIVE" and back["single_usage_detail"]["return_request_no"] == "ret_000001"
        await refused(node.post(openid="o_user_1", code=code, action="return", json=ref(cid, sid, "ret_000002")))
        gone = (await node.post(openid="o_user_1", code=code, action="deactivate",
                                json=ref(cid, sid, "deac_00001", deactivate_reason="测试失效"))).json()
        assert gone["coupon_state"] == "DEACTIVATED" and gone["deactivate_reason"] == "测试失效"
        listed = (await wxpay.chain(PC + "/users/{openid}/coupons").get(
            openid="o_user_1", query={"brand_id": BRAND, "appid": APPID, "coupon_state": "DEACTIVATED"})).json()
        assert [c["coupon_code"] for c in listed["user_coupon_list"]] == [code] and listed["total_count"] == 1
        validate_response("GET", PC + "/users/{openid}/coupons", listed)


async def test_expiry_on_the_clock(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "exp_000001", days=2)
    code = (await send(wxpay, "o_exp", cid, sid, "send_exp01"))["coupon_code"]
    node = wxpay.chain(PC + "/users/{openid}/coupons/{code}/{action}")
    await node.post(openid="o_exp", code=code, action="confirm", json=ref(cid, sid, "conf_exp01"))
    sb.clock.advance(dt.timedelta(days=2, seconds=1))
    use = ref(cid, sid, "use_exp001", use_time=sb.clock.rfc3339(), associated_order_info={})
    error = await refused(node.post(openid="o_exp", code=code, action="use", json=use))
    assert "EXPIRED" in str(error.message)


# -- budgets, idempotency, tokens -----------------------------------------------------------------------------
async def test_send_budgets_daily_reset_and_budget_compare_and_set(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "budget_001", max_count=3, per_day=2, per_user=1)
    await send(wxpay, "u1", cid, sid, "b_send_01")
    error = await refused(send(wxpay, "u1", cid, sid, "b_send_02"))
    assert "max_count_per_user" in str(error.message)
    await send(wxpay, "u2", cid, sid, "b_send_03")
    assert "max_count_per_day" in str((await refused(send(wxpay, "u3", cid, sid, "b_send_04"))).message)
    sb.clock.set(sb.clock.next_china_midnight())  # today_count resets at 00:00 China time
    third = await send(wxpay, "u3", cid, sid, "b_send_05")
    assert third["stock"]["sent_count_info"] == {"total_count": 3, "today_count": 1}
    assert "max_count" in str((await refused(send(wxpay, "u4", cid, sid, "b_send_06"))).message)
    budget = wxpay.chain(PC + "/product-coupons/{cid}/stocks/{sid}/update-budget")
    stale = {"brand_id": BRAND, "out_request_no": "budget_02", "update_mode": "MAX_COUNT", "current_max_count": 2,
             "target_max_count": 5}
    await refused(budget.post(cid=cid, sid=sid, json=stale))
    await refused(budget.post(cid=cid, sid=sid, json={**stale, "out_request_no": "budget_03", "current_max_count": 3,
                                                      "target_max_count": 2}))  # below what was sent
    raised = (await budget.post(cid=cid, sid=sid, json={**stale, "out_request_no": "budget_04",
                                                        "current_max_count": 3})).json()
    assert raised["stock_send_rule"]["max_count"] == 5
    await send(wxpay, "u4", cid, sid, "b_send_07")
    await sb.set_stock_state(cid, sid, "PAUSED")
    assert "PAUSED" in str((await refused(send(wxpay, "u5", cid, sid, "b_send_08"))).message)


async def test_send_request_no_idempotency_and_pre_send_tokens(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "idem_c0001")
    node = wxpay.chain(PC + "/users/{openid}/coupons")
    first = await node.post(openid="o1", json=send_body(cid, sid, "idem_send1"))
    again = await node.post(openid="o1", json=send_body(cid, sid, "idem_send1"))
    assert again.body == first.body and sb.applied_writes("idem_send1") == 1
    clash = await refused(node.post(openid="o1", json=send_body(cid, sid, "idem_send1", attach="x")), "ALREADY_EXISTS")
    assert clash.status == 400
    pre = wxpay.chain(PC + "/users/{openid}/pre-send-coupon")
    one = (await pre.post(openid="o2", json=send_body(cid, sid, "pre_00001"))).json()["token"]
    two = (await pre.post(openid="o2", json=send_body(cid, sid, "pre_00002"))).json()["token"]
    other = (await pre.post(openid="o3", json=send_body(cid, sid, "pre_00003"))).json()["token"]
    assert one == two != other
    assert sb.store.stocks[cid][sid]["sent_count_info"]["total_count"] == 1  # a pre-send consumes nothing


async def test_upload_mode_sends_uploaded_codes_only(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "upload_c01", mode="UPLOAD")
    await refused(send(wxpay, "o1", cid, sid, "up_send_1"))
    up = wxpay.chain(PC + "/product-coupons/{cid}/stocks/{sid}/upload-coupon-codes")
    doc = (await up.post(cid=cid, sid=sid, json={"brand_id": BRAND, "out_request_no": "codes_0001",
                                                  "code_list": ["C001", "C002", "C001", "bad code!"]})).json()
    assert (doc["total_count"], doc["success_code_list"], doc["duplicate_code_list"], doc["failed_code_list"]) == (
        3, ["C001", "C002"], ["C001"], ["bad code!"])
    again = (await up.post(cid=cid, sid=sid, json={"brand_id": BRAND, "out_request_no": "codes_0002",
                                                    "code_list": ["C002"]})).json()
    assert again["already_exist_code_list"] == ["C002"]
    assert (await send(wxpay, "o1", cid, sid, "up_send_2"))["coupon_code"] == "C001"
    got = await send(wxpay, "o2", cid, sid, "up_send_3")
    assert got["coupon_code"] == "C002" and got["stock"]["coupon_code_count_info"]["available_count"] == 0
    assert "用完" in str((await refused(send(wxpay, "o3", cid, sid, "up_send_4"))).message)


# -- coupons, stocks, stores, bundles -------------------------------------------------------------------------
async def test_deactivating_a_coupon_deactivates_every_stock(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "deac_c0001")
    added = (await wxpay.chain(PC + "/product-coupons/{cid}/stocks").post(
        cid=cid, json={"brand_id": BRAND, "out_request_no": "deac_s0001", "stock": stock(sb)})).json()
    body = {"brand_id": BRAND, "out_request_no": "deac_r0001", "deactivate_reason": "活动结束"}
    doc = (await wxpay.chain(PC + "/product-coupons/{cid}/deactivate").post(cid=cid, json=body)).json()
    assert (doc["state"], doc["deactivate_reason"]) == ("DEACTIVATED", "活动结束")
    states = {s["state"] for s in (await wxpay.chain(PC + "/product-coupons/{cid}/stocks").get(
        cid=cid, query={"brand_id": BRAND})).json()["stock_list"]}
    assert states == {"DEACTIVATED"} and added["stock_id"] in sb.store.stocks[cid]
    await refused(send(wxpay, "o1", cid, sid, "deac_snd1"))
    got = (await wxpay.chain(PC + "/product-coupons/{cid}").get(cid=cid, query={"brand_id": BRAND})).json()
    assert got["deactivate_request_no"] == "deac_r0001"
    patched = {"brand_id": BRAND, "out_request_no": "deac_p0001", "display_info": got["display_info"]}
    await refused(wxpay.chain(PC + "/product-coupons/{cid}").patch(cid=cid, json=patched))


async def test_store_association_answers_partial_success(sb: Sandbox, wxpay: Client) -> None:
    cid, sid = await create(wxpay, sb, "store_c001", scope="SPECIFIC")
    node = wxpay.chain(PC + "/product-coupons/{cid}/stocks/{sid}/{action}")
    stores = [{"store_id": "1001"}, {"store_id": "1001"}, {"store_id": "bad id!"}, {"store_id": "1002"}]
    doc = (await node.post(cid=cid, sid=sid, action="associate-stores",
                           json={"brand_id": BRAND, "store_list": stores})).json()
    assert doc["total_count"] == 3 and [s["store_id"] for s in doc["success_store_list"]] == ["1001", "1002"]
    assert [(f["store_id"], f["code"]) for f in doc["failed_store_list"]] == [("bad id!", "STORE_NOT_EXIST")]
    listed = (await node.get(cid=cid, sid=sid, action="associated-stores", query={"brand_id": BRAND})).json()
    assert [s["store_id"] for s in listed["store_list"]] == ["1001", "1002"]
    off = (await node.post(cid=cid, sid=sid, action="disassociate-stores",
                           json={"brand_id": BRAND, "store_list": [{"store_id": "1001"}, {"store_id": "9"}]})).json()
    assert [f["code"] for f in off["failed_store_list"]] == ["STORE_NOT_ASSOCIATED"]
    cid2, sid2 = await create(wxpay, sb, "store_c002", scope="ALL")
    await refused(node.post(cid=cid2, sid=sid2, action="associate-stores",
                            json={"brand_id": BRAND, "store_list": [{"store_id": "1"}]}))


async def test_exchange_needs_scope_single_and_the_stock_cap(sb: Sandbox, wxpay: Client) -> None:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no="exch_00001", type="EXCHANGE", scope="ALL", usage_mode="SINGLE", stock=stock(sb))
    error = await refused(wxpay.chain(PC + "/product-coupons").post(json=body))
    assert error.detail["field"] == "/scope"
    sb.store.max_stocks = 2
    cid, _ = await create(wxpay, sb, "cap_000001")
    stocks = wxpay.chain(PC + "/product-coupons/{cid}/stocks")
    await stocks.post(cid=cid, json={"brand_id": BRAND, "out_request_no": "cap_s00001", "stock": stock(sb)})
    error = await refused(stocks.post(cid=cid, json={"brand_id": BRAND, "out_request_no": "cap_s00002",
                                                     "stock": stock(sb)}))
    assert "at most 2" in str(error.message)


async def test_bundle_send_patch_budget_and_deactivate(sb: Sandbox, wxpay: Client) -> None:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    body.update(out_request_no="bund_c0001", usage_mode="PROGRESSIVE_BUNDLE", stock=stock(sb))
    cid = (await wxpay.chain(PC + "/product-coupons").post(json=body)).json()["product_coupon_id"]
    bundle = copy.deepcopy(samples.ADD_STOCK_BUNDLE["json"])
    bundle.update(brand_id=BRAND, out_request_no="bund_b0001")
    rule = bundle["stock_bundle"]
    rule.update(coupon_code_mode="WECHATPAY", stock_send_rule={"max_count": 10, "max_count_per_user": 1})
    period = stock(sb)["single_usage_rule"]["coupon_available_period"]
    rule["progressive_bundle_usage_rule"] = {
        "coupon_available_period": period,
        "normal_coupon_list": [{"threshold": 100, "discount_amount": 10}, {"threshold": 200, "discount_amount": 30}],
    }
    made = (await wxpay.chain(PC + "/product-coupons/{cid}/stock-bundles").post(cid=cid, json=bundle)).json()
    bid = made["stock_bundle_id"]
    node = wxpay.chain(PC + "/product-coupons/{cid}/stock-bundles/{bid}")
    patched = (await node.patch(cid=cid, bid=bid, json={"brand_id": BRAND, "out_request_no": "bund_p0001",
                                                         "remark": "新备注"})).json()
    assert [s["remark"] for s in patched["stock_list"]] == ["新备注", "新备注"]
    budget = {"brand_id": BRAND, "out_request_no": "bund_u0001", "update_mode": "MAX_COUNT",
              "current_max_count": 10, "target_max_count": 20}
    raised = (await wxpay.chain(PC + "/product-coupons/{cid}/stock-bundles/{bid}/update-budget").post(
        cid=cid, bid=bid, json=budget)).json()
    assert {s["stock_send_rule"]["max_count"] for s in raised["stock_list"]} == {20}
    send_bundle = {"brand_id": BRAND, "product_coupon_id": cid, "stock_bundle_id": bid, "appid": APPID,
                   "send_request_no": "bund_s0001"}
    sent = (await wxpay.chain(PC + "/users/{openid}/coupon-bundles").post(openid="o_b", json=send_bundle)).json()
    assert [c["user_product_coupon_bundle_info"]["user_coupon_bundle_index"] for c in sent["user_product_coupon_list"]
            ] == [0, 1]
    validate_response("POST", PC + "/users/{openid}/coupon-bundles", sent)
    await refused(wxpay.chain(PC + "/users/{openid}/coupon-bundles").post(
        openid="o_b", json={**send_bundle, "send_request_no": "bund_s0002"}))  # max_count_per_user 1
    deactivate = {"brand_id": BRAND, "product_coupon_id": cid, "stock_bundle_id": bid, "appid": APPID,
                  "out_request_no": "bund_d0001", "deactivate_reason": "测试"}
    gone = (await wxpay.chain(PC + "/users/{openid}/coupon-bundles/{ubid}/deactivate").post(
        openid="o_b", ubid=sent["user_coupon_bundle_id"], json=deactivate)).json()
    assert {c["coupon_state"] for c in gone["user_product_coupon_list"]} == {"DEACTIVATED"}


# -- images ------------------------------------------------------------------------------------------------------
async def test_image_upload_and_generation_task_on_the_clock(sb: Sandbox) -> None:
    inbox = Inbox()
    async with sb.client(retry=None) as wxpay, serve(inbox.app(wxpay)) as server:
        await wxpay.chain(PC + "/notify-configs").post(json={"notify_url": str(server.make_url("/notify"))})
        image = b"\x89PNG\r\n\x1a\n" + b"x" * 100
        url = (await wxpay.chain(PC + "/media/upload-image").post(body=Media(image, filename="logo.png"))).json()[
            "media_url"]
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert (resp.status, await resp.read()) == (200, image)
        bad = Media(image, filename="logo.gif")
        await refused(wxpay.chain(PC + "/media/upload-image").post(body=bad), "PARAM_ERROR")
        task = {"brand_id": BRAND, "task_id": "task_0001", "image_generation_type": "CUT_OUT",
                "cut_out": {"image_url": url}}
        created = (await wxpay.chain(PC + "/image-generation-tasks").post(json=task)).json()
        assert created == {"task_id": "task_0001", "brand_id": BRAND}
        query = {"brand_id": BRAND, "image_generation_type": "CUT_OUT"}
        get = wxpay.chain(PC + "/image-generation-tasks/{task_id}")
        assert (await get.get(task_id="task_0001", query=query)).json()["task_state"] == "PROCESSING"
        inbox.fail_next = 1
        sb.clock.advance(10)
        await sb.notifications.wait("PRODUCT_COUPON_SP.IMAGE_GENERATION", delivered=False)
        done = (await get.get(task_id="task_0001", query=query)).json()
        assert done["task_state"] == "SUCCESS" and done["cut_out_result"]["image_url"].startswith(sb.url)
        sb.clock.advance(COUPON_SCHEDULE[0])  # the first delivery got 500: retried 60 s later
        [delivery] = await sb.notifications.wait("PRODUCT_COUPON_SP.IMAGE_GENERATION")
        assert [a.status for a in delivery.attempts] == [500, 204]
        assert inbox.notes[0].resource["task_state"] == "SUCCESS"
        await refused(wxpay.chain(PC + "/image-generation-tasks").post(json={**task, "cut_out": {"image_url": "x"}}),
                      "ALREADY_EXISTS")


# -- limits the docs state elsewhere -----------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda b: b["display_info"].update(name="名" * 16), "/display_info/name", "字符数 16，大于最大值 15"),
    (lambda b: b["stock"]["stock_send_rule"].update(max_count=-5), "/stock/stock_send_rule/max_count", "值低于最小值 1"),
    (lambda b: b["single_usage_info"]["discount_coupon"].update(percent_off=150),
     "/single_usage_info/discount_coupon/percent_off", "值高于最大值 99"),
    (lambda b: b["display_info"].update(detail_image_url_list=["u"] * 9), "/display_info/detail_image_url_list",
     "at most 8"),
    (lambda b: b.update(out_request_no="has space!"), "/out_request_no", "must match"),
])
async def test_documented_limits(wxpay: Client, change: Any, field: str, words: str) -> None:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    change(body)
    error = await refused(wxpay.chain(PC + "/product-coupons").post(json=body), "PARAM_ERROR")
    assert error.detail["field"] == field and words in str(error.message), error.message


async def test_sequential_coupon_counts_uses(sb: Sandbox, wxpay: Client) -> None:
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    seq_stock = stock(sb)
    rule = seq_stock.pop("single_usage_rule")
    seq_stock["sequential_usage_rule"] = {"coupon_available_period": {
        k: v for k, v in rule["coupon_available_period"].items() if k != "available_days"},
        "normal_coupon_list": [{"threshold": 100, "discount_amount": 10}]}
    body.update(out_request_no="seq_c00001", usage_mode="SEQUENTIAL", stock=seq_stock,
                sequential_usage_info={"type": "EQUAL", "count": 2, "available_days": 30})
    created = (await wxpay.chain(PC + "/product-coupons").post(json=body)).json()
    cid, sid = created["product_coupon_id"], created["stock"]["stock_id"]
    code = (await send(wxpay, "o_seq", cid, sid, "seq_send01"))["coupon_code"]
    node = wxpay.chain(PC + "/users/{openid}/coupons/{code}/{action}")
    await node.post(openid="o_seq", code=code, action="confirm", json=ref(cid, sid, "seq_conf01"))

    def use(n: int, index: int) -> Any:
        return node.post(openid="o_seq", code=code, action="use", json=ref(
            cid, sid, f"seq_use_{n:03d}", use_time=sb.clock.rfc3339(), associated_order_info={},
            sequential_coupon_index=index))

    first = (await use(1, 0)).json()
    assert (first["coupon_state"], first["sequential_usage_detail"]["used_count"]) == ("EFFECTIVE", 1)
    await refused(use(2, 0))  # index 0 was used: the next is 1
    last = (await use(3, 1)).json()
    assert (last["coupon_state"], last["sequential_usage_detail"]["used_count"]) == ("USED", 2)
    validate_response("POST", PC + "/users/{openid}/coupons/{coupon_code}/use", last)
    assert {(i["valid_begin_time"], i["valid_end_time"]) for i in last["sequential_usage_detail"]["detail_item_list"]
            } == {(last["valid_begin_time"], last["valid_end_time"])}
    await refused(use(4, 2))


async def test_constructor_notify_url_is_the_default(keys: Keys) -> None:
    got: list[bytes] = []

    async def accept(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/n", accept)
    async with serve(app) as server:
        url = str(server.make_url("/n"))
        async with box(keys, notify_url=url) as sandbox, sandbox.client(retry=None) as wxpay:
            assert (await wxpay.chain(PC + "/notify-configs").get()).json()["notify_url"] == url
            cid, sid = await create(wxpay, sandbox, "dflt_c0001")
            await send(wxpay, "o_d", cid, sid, "dflt_send1")
            await sandbox.notifications.wait("PRODUCT_COUPON_SP.SEND")
            assert len(got) == 1
        async with box(keys) as bare, bare.client(retry=None) as wxpay:
            await refused(wxpay.chain(PC + "/notify-configs").get(), "NOT_FOUND")
            cid, sid = await create(wxpay, bare, "dflt_c0002")
            await send(wxpay, "o_d", cid, sid, "dflt_send2")  # no URL: nothing is sent
            assert bare.notifications.log == []


async def test_weekly_days_hours_and_irregular_periods_apply_at_use(sb: Sandbox, wxpay: Client) -> None:
    sb.clock.set(sb.clock.next_china_midnight() + 10 * 3600)  # 10:00 China time, some weekday
    today = sb.clock.china_now().weekday()
    days = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
    tomorrow = days[(today + 1) % 7]
    body = copy.deepcopy(samples.CREATE_PRODUCT_COUPON["json"])
    weekly = stock(sb)
    weekly["single_usage_rule"]["coupon_available_period"]["weekly_available_period"] = {
        "day_list": [tomorrow], "day_period_list": [{"begin_time": 9 * 3600, "end_time": 12 * 3600}]}
    body.update(out_request_no="week_c0001", usage_mode="SINGLE", stock=weekly)
    created = (await wxpay.chain(PC + "/product-coupons").post(json=body)).json()
    cid, sid = created["product_coupon_id"], created["stock"]["stock_id"]
    code = (await send(wxpay, "o_w", cid, sid, "week_send1"))["coupon_code"]
    node = wxpay.chain(PC + "/users/{openid}/coupons/{code}/{action}")
    await node.post(openid="o_w", code=code, action="confirm", json=ref(cid, sid, "week_conf1"))

    def use(n: int) -> Any:
        return node.post(openid="o_w", code=code, action="use", json=ref(
            cid, sid, f"week_use_{n}", use_time=sb.clock.rfc3339(), associated_order_info={}))

    assert f"only on {tomorrow}" in str((await refused(use(1))).message)
    sb.clock.advance(dt.timedelta(days=1, hours=3))  # tomorrow 13:00: the right day, outside the hours
    assert "time of day" in str((await refused(use(2))).message)
    sb.clock.advance(dt.timedelta(days=7, hours=-2))  # a week later, 11:00
    assert (await use(3)).json()["coupon_state"] == "USED"


async def test_validate_checks_an_upload_meta_before_sending(wxpay: Client) -> None:
    from wechatpay_chain import TemplateError

    node = wxpay.chain(PC + "/media/upload-image")
    with pytest.raises(TemplateError, match=r"json\.sha256: required"):
        await node.post(body=Media(b"img", filename="a.png", meta={"filename": "a.png"}), validate=True)
    assert (await node.post(body=Media(b"img", filename="a.png"), validate=True)).json()["media_url"]
