"""Request/response specs of the six product-coupon (商品券) operations, transcribed from the API tables.

Sources (the five seed pages): 003 create product coupon (rendered without required markers, so the
required flags are those of the same members in 001), 001 add/list stocks (doc/v3/partner/4015781304,
4015781553), 004 patch/get one stock (4015781556, 4015781542/4016434649), 002 add stock bundle (official page
4016280622, 2025-11-20; it wins over the 000 mirror on nesting and ``*_coupon_list`` naming, see
docs/sandbox.md).
``out_request_no``'s length and alphabet (6–40 of ``[0-9A-Za-z_-]``) are stated on 002 and applied to every
operation that carries one.
"""

from __future__ import annotations

from .spec import arr, boolean, integer, obj, string

__all__ = [
    "ADD_STOCK",
    "ADD_STOCK_BUNDLE",
    "BUNDLE_STOCK",
    "CREATE_PRODUCT_COUPON",
    "GET_STOCK_QUERY",
    "LIST_STOCKS",
    "LIST_STOCKS_QUERY",
    "PATCH_STOCK",
    "PRODUCT_COUPON",
    "STOCK",
    "STOCK_BUNDLE_RESULT",
    "STOCK_STATES",
]

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
USAGE_METHODS = ("OFFLINE", "MINI_PROGRAM", "APP", "PAYMENT_CODE")
CODE_DISPLAY_MODES = ("INVISIBLE", "BARCODE", "QRCODE")
COLORS = tuple(f"Color{n:03d}" for n in range(10, 101, 10))
STORE_SCOPES = ("NONE", "ALL", "SPECIFIC")
STOCK_STATES = ("AUDITING", "SENDING", "PAUSED", "STOPPED", "DEACTIVATED")
COUPON_STATES = ("AUDITING", "EFFECTIVE", "DEACTIVATED")
CODE_MODES = ("WECHATPAY", "UPLOAD", "API_ASSIGN")
#: 003 lists SINGLE | SEQUENTIAL; 002 (newer) names the 多次优惠 mode PROGRESSIVE_BUNDLE. Both are accepted.
USAGE_MODES = ("SINGLE", "SEQUENTIAL", "PROGRESSIVE_BUNDLE")

OUT_REQUEST_NO = string("请求单号", required=True, min_length=6, max_length=40, pattern=r"[0-9A-Za-z_\-]+")
BRAND_ID = string("品牌ID", required=True)
_TIME = string(format="date-time")

# -- shared pieces ----------------------------------------------------------------------------------------
NORMAL_COUPON = obj("满减券使用规则", threshold=integer(required=True), discount_amount=integer(required=True))
DISCOUNT_COUPON = obj("折扣券使用规则", threshold=integer(required=True), percent_off=integer(required=True))
EXCHANGE_COUPON = obj("兑换券使用规则", threshold=integer(required=True), exchange_price=integer(required=True))

WEEKLY_PERIOD = obj(
    "每周固定可用时间",
    day_list=arr(string(enum=DAYS)),
    day_period_list=arr(obj(begin_time=integer(required=True), end_time=integer(required=True))),
)
IRREGULAR_PERIODS = arr(obj(begin_time=_TIME.req(), end_time=_TIME.req()), "无规律的可用时间段")
AVAILABLE_PERIOD = obj(
    "券可核销时间",
    required=True,
    available_begin_time=_TIME.req(),
    available_end_time=_TIME.req(),
    available_days=integer(),
    wait_days_after_receive=integer(),
    weekly_available_period=WEEKLY_PERIOD,
    irregular_available_period_list=IRREGULAR_PERIODS,
)
SEQUENTIAL_PERIOD = AVAILABLE_PERIOD.without("available_days")

SINGLE_USAGE_RULE = obj(
    "单券使用规则",
    coupon_available_period=AVAILABLE_PERIOD,
    normal_coupon=NORMAL_COUPON,
    discount_coupon=DISCOUNT_COUPON,
    exchange_coupon=EXCHANGE_COUPON,
)
SEQUENTIAL_USAGE_RULE = obj(
    "多次优惠使用规则",
    coupon_available_period=SEQUENTIAL_PERIOD,
    normal_coupon_list=arr(NORMAL_COUPON),
    discount_coupon_list=arr(DISCOUNT_COUPON),
    exchange_coupon_list=arr(EXCHANGE_COUPON),
    special_first=boolean(),
)
#: 002 request: lists (one entry per stock of the bundle); 002 response: one rule per stock.
BUNDLE_USAGE_RULE_REQUEST = obj(
    "多次优惠使用规则",
    coupon_available_period=AVAILABLE_PERIOD,
    normal_coupon_list=arr(NORMAL_COUPON),
    discount_coupon_list=arr(DISCOUNT_COUPON),
    exchange_coupon_list=arr(EXCHANGE_COUPON),
)
BUNDLE_USAGE_RULE = obj(
    "多次优惠使用规则",
    coupon_available_period=AVAILABLE_PERIOD,
    normal_coupon=NORMAL_COUPON,
    discount_coupon=DISCOUNT_COUPON,
    exchange_coupon=EXCHANGE_COUPON,
)

USAGE_RULE_DISPLAY_INFO = obj(
    "券使用规则展示信息",
    coupon_usage_method_list=arr(string(enum=USAGE_METHODS), required=True),
    mini_program_appid=string(),
    mini_program_path=string(),
    app_path=string(),
    usage_description=string(required=True),
    coupon_available_store_info=obj(
        "券可用门店信息", description=string(required=True), mini_program_appid=string(), mini_program_path=string()
    ),
)
ENTRANCE_MINI_PROGRAM = obj(
    "小程序入口",
    appid=string(required=True),
    path=string(required=True),
    entrance_wording=string(required=True),
    guidance_wording=string(required=True),
)
COUPON_DISPLAY_INFO = obj(
    "用户商品券展示信息",
    code_display_mode=string(enum=CODE_DISPLAY_MODES),
    background_color=string(enum=COLORS),
    entrance_mini_program=ENTRANCE_MINI_PROGRAM,
    entrance_official_account=obj("公众号入口", appid=string(required=True)),
    entrance_finder=obj(
        "视频号入口",
        finder_id=string(required=True),
        finder_video_id=string(required=True),
        finder_video_cover_image_url=string(required=True),
    ),
)
#: 001 marks ``entrance_mini_program.guidance_wording`` optional; 000/002/004 mark it required.
COUPON_DISPLAY_INFO_001 = COUPON_DISPLAY_INFO.extend(
    entrance_mini_program=ENTRANCE_MINI_PROGRAM.extend(guidance_wording=string())
)
NOTIFY_CONFIG = obj("事件通知配置", notify_appid=string())
STORE_SCOPE = string("可用门店范围", enum=STORE_SCOPES)

# -- stock (批次) ------------------------------------------------------------------------------------------
STOCK_REQUEST = obj(
    "批次信息",
    required=True,
    remark=string(),
    coupon_code_mode=string(required=True, enum=CODE_MODES),
    stock_send_rule=obj(
        "发放规则",
        required=True,
        max_count=integer(required=True),
        max_count_per_day=integer(),
        max_count_per_user=integer(),
    ),
    single_usage_rule=SINGLE_USAGE_RULE,
    sequential_usage_rule=SEQUENTIAL_USAGE_RULE,
    usage_rule_display_info=USAGE_RULE_DISPLAY_INFO.req(),
    coupon_display_info=COUPON_DISPLAY_INFO_001.req(),
    notify_config=NOTIFY_CONFIG.req(),
    store_scope=STORE_SCOPE.req(),
)

_STOCK_COMMON = {
    "product_coupon_id": string(required=True),
    "stock_id": string(required=True),
    "remark": string(),
    "coupon_code_mode": string(required=True, enum=CODE_MODES),
    "coupon_code_count_info": obj(
        "品牌方预上传的券Code数量信息", total_count=integer(required=True), available_count=integer(required=True)
    ),
    "stock_send_rule": STOCK_REQUEST.child("stock_send_rule"),
}
_STOCK_TAIL = {
    "usage_rule_display_info": USAGE_RULE_DISPLAY_INFO.req(),
    "coupon_display_info": COUPON_DISPLAY_INFO_001.req(),
    "notify_config": NOTIFY_CONFIG.req(),
    "store_scope": STORE_SCOPE.req(),
    "sent_count_info": obj(
        "已发放次数", required=True, total_count=integer(required=True), today_count=integer(required=True)
    ),
    "state": string("批次状态", required=True, enum=STOCK_STATES),
    "deactivate_request_no": string(),
    "deactivate_time": string(),
    "deactivate_reason": string(),
    "brand_id": BRAND_ID,
}
#: The stock resource of 001/004. Stocks created by a bundle also carry the two members 002 adds.
STOCK = obj("批次").extend(
    **_STOCK_COMMON,
    single_usage_rule=SINGLE_USAGE_RULE,
    sequential_usage_rule=SEQUENTIAL_USAGE_RULE,
    progressive_bundle_usage_rule=BUNDLE_USAGE_RULE,
    stock_bundle_info=obj(
        "批次组信息", stock_bundle_id=string(required=True), stock_bundle_index=integer(required=True)
    ),
    **_STOCK_TAIL,
)
#: A stock as the 002 (000) bundle response lists it.
BUNDLE_STOCK = obj("批次").extend(
    **_STOCK_COMMON,
    progressive_bundle_usage_rule=BUNDLE_USAGE_RULE,
    stock_bundle_info=STOCK.child("stock_bundle_info").req(),
    **_STOCK_TAIL,
).extend(
    stock_send_rule=STOCK_REQUEST.child("stock_send_rule").extend(max_count_per_user=integer(required=True)),
    coupon_display_info=COUPON_DISPLAY_INFO.req(),
    coupon_code_mode=string(required=True, enum=("WECHATPAY", "UPLOAD")),
)

# -- 003 create product coupon ----------------------------------------------------------------------------
_COUPON_FIELDS = {
    "scope": string("优惠范围", required=True, enum=("ALL", "SINGLE")),
    "type": string("商品券类型", required=True, enum=("NORMAL", "DISCOUNT", "EXCHANGE")),
    "usage_mode": string("使用模式", required=True, enum=USAGE_MODES),
    "single_usage_info": obj("单券模式信息", normal_coupon=NORMAL_COUPON, discount_coupon=DISCOUNT_COUPON),
    "sequential_usage_info": obj(
        "多次优惠模式信息",
        type=string(required=True, enum=("INCREMENTAL", "EQUAL")),
        count=integer(required=True),
        available_days=integer(),
        interval_days=integer(),
    ),
    "display_info": obj(
        "展示信息",
        required=True,
        name=string(required=True),
        image_url=string(required=True),
        background_url=string(),
        detail_image_url_list=arr(string()),
        original_price=integer(),
        combo_package_list=arr(
            obj(
                name=string(required=True),
                pick_count=integer(required=True),
                choice_list=arr(
                    obj(
                        name=string(required=True),
                        price=integer(required=True),
                        count=integer(required=True),
                        image_url=string(),
                        mini_program_appid=string(),
                        mini_program_path=string(),
                    ),
                    required=True,
                ),
            )
        ),
    ),
    "out_product_no": string("外部商品ID"),
}
CREATE_PRODUCT_COUPON = obj().extend(
    brand_id=BRAND_ID, out_request_no=OUT_REQUEST_NO, **_COUPON_FIELDS, stock=STOCK_REQUEST.req()
)
PRODUCT_COUPON = obj().extend(
    product_coupon_id=string(required=True),
    state=string("商品券状态", required=True, enum=COUPON_STATES),
    brand_id=BRAND_ID,
    **_COUPON_FIELDS,
    stock=STOCK.req(),
)

# -- 001 add stock / list stocks ----------------------------------------------------------------------------
ADD_STOCK = obj(brand_id=BRAND_ID, out_request_no=OUT_REQUEST_NO, stock=STOCK_REQUEST)
LIST_STOCKS_QUERY = obj(
    state=string(enum=STOCK_STATES), page_size=integer(), page_token=string(), brand_id=BRAND_ID
)
LIST_STOCKS = obj(total_count=integer(required=True), next_page_token=string(), stock_list=arr(STOCK))

# -- 004 patch / get one stock ------------------------------------------------------------------------------
PATCH_STOCK = obj(
    brand_id=BRAND_ID,
    out_request_no=OUT_REQUEST_NO,
    remark=string(),
    usage_rule_display_info=USAGE_RULE_DISPLAY_INFO,
    coupon_display_info=COUPON_DISPLAY_INFO,
    notify_config=NOTIFY_CONFIG,
    store_scope=STORE_SCOPE,
)
GET_STOCK_QUERY = obj(brand_id=BRAND_ID)

# -- 002 add stock bundle -----------------------------------------------------------------------------------
_MOVED = "002 (the official page) puts it in stock_bundle, not in stock_send_rule"
ADD_STOCK_BUNDLE = obj(
    out_request_no=OUT_REQUEST_NO,
    stock_bundle=obj(
        "批次组",
        required=True,
        remark=string(),
        coupon_code_mode=string(required=True, enum=("WECHATPAY", "UPLOAD")),
        stock_send_rule=obj(
            "发放规则",
            required=True,
            misplaced={
                name: _MOVED
                for name in (
                    "progressive_bundle_usage_rule",
                    "usage_rule_display_info",
                    "coupon_display_info",
                    "notify_config",
                    "store_scope",
                )
            },
            max_count=integer(required=True),
            max_count_per_day=integer(),
            max_count_per_user=integer(required=True),
        ),
        progressive_bundle_usage_rule=BUNDLE_USAGE_RULE_REQUEST,
        usage_rule_display_info=USAGE_RULE_DISPLAY_INFO,
        coupon_display_info=COUPON_DISPLAY_INFO,
        notify_config=NOTIFY_CONFIG,
        store_scope=STORE_SCOPE,
    ),
    brand_id=BRAND_ID,
)
STOCK_BUNDLE_RESULT = obj(stock_bundle_id=string(required=True), stock_list=arr(BUNDLE_STOCK, required=True))
