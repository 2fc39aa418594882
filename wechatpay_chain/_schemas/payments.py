"""Request/response specs of the payment lifecycle (基础支付), transcribed from the API tables.

Pages: ``pay/transactions/{jsapi,native,app,h5}`` and their service-provider twins under
``pay/partner/transactions/`` (``sp_*``/``sub_*`` instead of ``appid``/``mchid``), query by ``id/{transaction_id}``
and ``out-trade-no/{out_trade_no}``, ``…/close``; ``refund/domestic/refunds`` and ``refunds/{out_refund_no}``;
``bill/tradebill``, ``bill/fundflowbill``; ``certificates``; the resources of the ``TRANSACTION.SUCCESS`` and
``REFUND.*`` notifications.

Where the tables are silent the sandbox takes the limits of WeChat Pay's own pages: ``out_trade_no`` 6–32 of
``[0-9A-Za-z_-|*]``, ``out_refund_no`` 1–64 of ``[0-9A-Za-z_-|*@]``, ``description`` ≤ 127, ``attach`` ≤ 128
characters. Query answers also carry ``amount.payer_total``/``payer_currency`` (the notification table lists
them, the query table does not); docs/sandbox.md lists such choices.
"""

from __future__ import annotations

from .spec import Field, arr, boolean, integer, obj, string

__all__ = [
    "APP",
    "BILL_QUERY_FUNDFLOW",
    "BILL_QUERY_TRADE",
    "BILL_RESPONSE",
    "CERTIFICATES",
    "CLOSE",
    "H5",
    "JSAPI",
    "NATIVE",
    "ORDER",
    "PARTNER_APP",
    "PARTNER_CLOSE",
    "PARTNER_H5",
    "PARTNER_JSAPI",
    "PARTNER_NATIVE",
    "PARTNER_ORDER",
    "PARTNER_QUERY",
    "PREPAY_ANSWER",
    "QUERY",
    "REFUND",
    "REFUND_QUERY",
    "REFUND_REQUEST",
    "REFUND_RESOURCE",
    "REFUND_STATUSES",
    "TRADE_STATES",
    "TRADE_TYPES",
    "TRANSACTION_RESOURCE",
]

TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
TRADE_STATES = ("SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR")
REFUND_STATUSES = ("SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL")
LIMIT_PAY = ("no_balance", "no_credit", "no_debit", "balance_only")
ID_TYPES = (
    "IDCARD",
    "HONGKONG_MACAO",
    "HONGKONG_MACAO_RESIDENT",
    "TAIWAN_RESIDENT",
    "FOREIGN_RESIDENT",
    "OVERSEA_PASSPORT",
    "PHONE_NUMBER",
)
BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND", "ALL_SPECIAL", "SUC_SPECIAL", "REF_SPECIAL")
ACCOUNT_TYPES = ("BASIC", "OPERATION", "FEES")

OUT_TRADE_NO = string("商户订单号", required=True, min_length=6, max_length=32, pattern=r"[0-9A-Za-z_\-|*]+")
OUT_REFUND_NO = string("商户退款单号", required=True, min_length=1, max_length=64, pattern=r"[0-9A-Za-z_\-|*@]+")
_TIME = string(format="date-time")
_DATE = string(pattern=r"\d{4}-\d{2}-\d{2}")

# -- order pieces ---------------------------------------------------------------------------------------------
AMOUNT = obj(
    "订单金额", required=True, total=integer("总金额", required=True, minimum=1), currency=string(enum=("CNY",))
)
GOODS = obj(
    merchant_goods_id=string(required=True),
    wechatpay_goods_id=string(),
    goods_name=string(),
    quantity=integer(required=True, minimum=1),
    unit_price=integer(required=True, minimum=0),
)
DETAIL = obj("优惠功能", cost_price=integer(), invoice_id=string(), goods_detail=arr(GOODS))
STORE_INFO = obj(
    "商户门店信息",
    id=string(),
    name=string(required=True),
    area_code=string(required=True),
    address=string(required=True),
)
SCENE_INFO = obj("场景信息", payer_client_ip=string(), device_id=string(), store_info=STORE_INFO)
H5_INFO = obj(
    "H5场景信息", type=string(), app_name=string(), app_url=string(), bundle_id=string(), package_name=string()
)
IDENTITY = obj(
    "实名支付", type=string(required=True, enum=ID_TYPES), number=string(required=True), name=string(required=True)
)
SETTLE_INFO = obj("结算信息", profit_sharing=boolean())
PARTNER_SETTLE_INFO = SETTLE_INFO.extend(subsidy_amount=integer())
SUBSIDY_INFO = obj(
    "贴息信息(微信分付)",
    subsidy_detail=arr(
        obj(
            subsidy_period_type=string(required=True, enum=("DAILY", "PERIOD")),
            subsidy_plan=arr(
                obj(subsidy_installment_num=integer(required=True), subsidy_percent=integer(required=True)),
                required=True,
            ),
        )
    ),
)

_ORDER_COMMON: dict[str, Field] = {
    "description": string("商品描述", required=True, max_length=127),
    "attach": string("附加数据", max_length=128),
    "out_trade_no": OUT_TRADE_NO,
    "amount": AMOUNT,
    "time_expire": _TIME,
    "notify_url": string("通知地址", required=True, max_length=256),
    "goods_tag": string(),
    "limit_pay": arr(string(enum=LIMIT_PAY)),
    "support_fapiao": boolean(),
    "detail": DETAIL,
    "scene_info": SCENE_INFO,
}
_DIRECT_IDS: dict[str, Field] = {
    "appid": string("公众号ID", required=True),
    "mchid": string("直连商户号", required=True),
}
_PARTNER_IDS: dict[str, Field] = {
    "sp_appid": string("服务商公众号ID", required=True),
    "sp_mchid": string("服务商户号", required=True),
    "sub_appid": string("子商户公众号ID"),
    "sub_mchid": string("子商户号", required=True),
    "settle_info": PARTNER_SETTLE_INFO,
}
_PAYER = obj("支付者", identity=IDENTITY)

JSAPI = obj().extend(
    **_DIRECT_IDS,
    **_ORDER_COMMON,
    payer=_PAYER.extend(openid=string("用户标识", required=True)).req(),
    settle_info=SETTLE_INFO,
    subsidy_info=SUBSIDY_INFO,
)
NATIVE = obj().extend(**_DIRECT_IDS, **_ORDER_COMMON, payer=_PAYER, settle_info=SETTLE_INFO)
APP = NATIVE.extend(subsidy_info=SUBSIDY_INFO)
H5 = NATIVE.extend(scene_info=SCENE_INFO.extend(h5_info=H5_INFO).req())

#: The partner tables mark ``sp_openid`` required and ``sub_openid`` optional (followed as written).
PARTNER_JSAPI = obj().extend(
    **_PARTNER_IDS,
    **_ORDER_COMMON,
    payer=_PAYER.extend(sp_openid=string("用户服务标识", required=True), sub_openid=string()).req(),
    subsidy_info=SUBSIDY_INFO,
)
PARTNER_NATIVE = obj().extend(**_PARTNER_IDS, **_ORDER_COMMON, payer=_PAYER)
PARTNER_APP = PARTNER_NATIVE.extend(subsidy_info=SUBSIDY_INFO)
PARTNER_H5 = PARTNER_NATIVE.extend(scene_info=SCENE_INFO.extend(h5_info=H5_INFO).req())

#: One answer per kind: JSAPI/APP ``prepay_id``, Native ``code_url``, H5 ``h5_url``.
PREPAY_ANSWER = {
    "jsapi": obj(prepay_id=string("预支付交易会话标识", required=True)),
    "app": obj(prepay_id=string("预支付交易会话标识", required=True)),
    "native": obj(code_url=string("二维码链接", required=True)),
    "h5": obj(h5_url=string("支付跳转链接", required=True)),
}

QUERY = obj(mchid=string("直连商户号", required=True))
PARTNER_QUERY = obj(sp_mchid=string("服务商户号", required=True), sub_mchid=string("子商户号", required=True))
CLOSE = QUERY
PARTNER_CLOSE = PARTNER_QUERY

_ORDER_STATE: dict[str, Field] = {
    "transaction_id": string("微信支付订单号"),
    "trade_type": string("交易类型", enum=TRADE_TYPES),
    "trade_state": string("交易状态", enum=TRADE_STATES),
    "trade_state_desc": string("交易状态描述"),
    "bank_type": string("付款银行"),
    "success_time": _TIME,
}
_ANSWER_AMOUNT = AMOUNT.extend(payer_total=integer(), payer_currency=string())
_ANSWER_ORDER: dict[str, Field] = {
    **_ORDER_COMMON,
    "out_trade_no": string("商户订单号", required=True),
    "amount": _ANSWER_AMOUNT,
    "scene_info": SCENE_INFO.extend(h5_info=H5_INFO),
    "installment_info": obj(use_subsidy=boolean(required=True), selected_installment_number=integer(required=True)),
}
#: The query answer (by transaction id or out_trade_no), direct merchant.
ORDER = obj().extend(
    **_ORDER_STATE,
    **_DIRECT_IDS,
    **_ANSWER_ORDER,
    payer=obj("支付者", openid=string(required=True)),
)
#: The query answer, service provider.
PARTNER_ORDER = obj().extend(
    **_PARTNER_IDS,
    **_ORDER_STATE,
    **_ANSWER_ORDER,
    payer=obj("支付者", sp_openid=string(required=True), sub_openid=string()),
)

# -- refunds ----------------------------------------------------------------------------------------------------
_FROM = arr(obj(account=string(required=True, enum=("AVAILABLE", "UNAVAILABLE")), amount=integer(required=True)))
_REFUND_GOODS = obj(
    merchant_goods_id=string(required=True),
    wechatpay_goods_id=string(),
    goods_name=string(),
    unit_price=integer(required=True),
    refund_amount=integer(required=True),
    refund_quantity=integer(required=True),
)
REFUND_REQUEST = obj(
    sub_mchid=string("子商户号"),
    transaction_id=string("微信支付订单号"),
    out_trade_no=string("商户订单号", min_length=6, max_length=32),
    out_refund_no=OUT_REFUND_NO,
    reason=string("退款原因", max_length=80),
    notify_url=string("退款结果回调url", max_length=256),
    funds_account=string("退款资金来源", enum=("AVAILABLE", "UNSETTLED")),
    amount=obj("金额信息", required=True).extend(
        **{
            "refund": integer("退款金额", required=True, minimum=1),
            "from": _FROM,
            "total": integer("原订单金额", required=True, minimum=1),
            "currency": string("退款币种", required=True, enum=("CNY",)),
        }
    ),
    goods_detail=arr(_REFUND_GOODS),
)
REFUND_QUERY = obj(sub_mchid=string("子商户号"))
REFUND = obj(
    refund_id=string("微信支付退款号", required=True),
    out_refund_no=string(required=True),
    transaction_id=string(required=True),
    out_trade_no=string(required=True),
    channel=string("退款渠道", required=True, enum=("ORIGINAL", "BALANCE", "OTHER_BALANCE", "OTHER_BANKCARD")),
    user_received_account=string("退款入账账户", required=True),
    success_time=_TIME,
    create_time=_TIME.req(),
    status=string("退款状态", required=True, enum=REFUND_STATUSES),
    funds_account=string(),
    amount=obj("金额信息", required=True).extend(
        total=integer(required=True),
        refund=integer(required=True),
        **{"from": _FROM},
        payer_total=integer(required=True),
        payer_refund=integer(required=True),
        settlement_refund=integer(required=True),
        settlement_total=integer(required=True),
        discount_refund=integer(required=True),
        currency=string(required=True),
        refund_fee=integer(),
    ),
    promotion_detail=arr(
        obj(
            promotion_id=string(required=True),
            scope=string(required=True),
            type=string(required=True),
            amount=integer(required=True),
            refund_amount=integer(required=True),
            goods_detail=arr(_REFUND_GOODS),
        )
    ),
)

# -- bills ------------------------------------------------------------------------------------------------------
BILL_QUERY_TRADE = obj(
    bill_date=_DATE.req(), sub_mchid=string(), bill_type=string(enum=BILL_TYPES), tar_type=string(enum=("GZIP",))
)
BILL_QUERY_FUNDFLOW = obj(
    bill_date=_DATE.req(), sub_mchid=string(), account_type=string(enum=ACCOUNT_TYPES), tar_type=string(enum=("GZIP",))
)
BILL_RESPONSE = obj(
    hash_type=string("哈希类型", required=True), hash_value=string(required=True), download_url=string(required=True)
)
BILL_DOWNLOAD_QUERY = obj(token=string(required=True), tartype=string())

# -- certificates -----------------------------------------------------------------------------------------------
CERTIFICATES = obj(
    data=arr(
        obj(
            serial_no=string(required=True),
            effective_time=_TIME.req(),
            expire_time=_TIME.req(),
            encrypt_certificate=obj(
                required=True,
                algorithm=string(required=True),
                nonce=string(required=True),
                associated_data=string(required=True),
                ciphertext=string(required=True),
            ),
        ),
        required=True,
    )
)

# -- notification resources (the decrypted ``resource.ciphertext``) -----------------------------------------------
#: TRANSACTION.SUCCESS for an ordinary (direct or service-provider) payment. The page's table merges several
#: products (profit sharing, parking, combined orders); these are the members a basic payment carries.
TRANSACTION_RESOURCE = obj(
    appid=string(),
    mchid=string(),
    sp_appid=string(),
    sp_mchid=string(),
    sub_appid=string(),
    sub_mchid=string(),
    out_trade_no=string(required=True),
    transaction_id=string(required=True),
    trade_type=string(required=True, enum=TRADE_TYPES),
    trade_state=string(required=True, enum=("SUCCESS",)),
    trade_state_desc=string(),
    bank_type=string(),
    attach=string(),
    success_time=_TIME.req(),
    payer=obj(openid=string(), sp_openid=string(), sub_openid=string()),
    amount=obj(
        required=True,
        total=integer(required=True),
        payer_total=integer(required=True),
        currency=string(required=True),
        payer_currency=string(required=True),
    ),
)
#: REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED.
REFUND_RESOURCE = obj(
    mchid=string(),
    sp_mchid=string(),
    sub_mchid=string(),
    out_trade_no=string(required=True),
    transaction_id=string(required=True),
    out_refund_no=string(required=True),
    refund_id=string(required=True),
    refund_status=string(required=True, enum=("SUCCESS", "CLOSED", "ABNORMAL")),
    success_time=_TIME,
    user_received_account=string(required=True),
    amount=obj(
        required=True,
        total=integer(required=True),
        refund=integer(required=True),
        payer_total=integer(required=True),
        payer_refund=integer(required=True),
    ),
)
