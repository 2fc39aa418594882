"""The example calls of the five seed pages, as call options (``{"product_coupon_id": ..., "json": ...}``).

Transcribed from the PHP/curl examples of each page so tests can check that every call style sends exactly
the documented method, path, query and body. ``ADD_STOCK_BUNDLE`` is the official page (002);
``ADD_STOCK_BUNDLE_000`` is the mirror page's shape, which nests the usage rules inside ``stock_send_rule``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ADD_STOCK",
    "ADD_STOCK_BUNDLE",
    "ADD_STOCK_BUNDLE_000",
    "CREATE_PRODUCT_COUPON",
    "GET_STOCK",
    "LIST_STOCKS",
    "PATCH_STOCK",
    "SEED_CALLS",
]

_PREFIX = "v3/marketing/partner/product-coupon/product-coupons"

#: seed 003
CREATE_PRODUCT_COUPON: dict[str, Any] = {
    "json": {
        "brand_id": "120344",
        "out_request_no": "12345_20250101_A3489",
        "scope": "ALL",
        "type": "NORMAL",
        "usage_mode": "SINGLE",
        "single_usage_info": {
            "normal_coupon": {
                "threshold": 10000,
                "discount_amount": 1,
            },
            "discount_coupon": {
                "threshold": 10000,
                "percent_off": 20,
            },
        },
        "sequential_usage_info": {
            "type": "INCREMENTAL",
            "count": 15,
            "available_days": 365,
            "interval_days": 0,
        },
        "display_info": {
            "name": "全场满100立打8折",
            "image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
            "background_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
            "detail_image_url_list": ["https://wxpaylogo.qpic.cn/wxpayl"],
            "original_price": 10000,
            "combo_package_list": [
                {
                    "name": "咖啡2选1",
                    "pick_count": 3,
                    "choice_list": [
                        {
                            "name": "美式",
                            "price": 10000,
                            "count": 2,
                            "image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
                            "mini_program_appid": "wx4fd12345678",
                            "mini_program_path": "/pages/index/index",
                        },
                    ],
                },
            ],
        },
        "out_product_no": "Product_1234567890",
        "stock": {
            "remark": "",
            "coupon_code_mode": "WECHATPAY",
            "stock_send_rule": {
                "max_count": 100000,
                "max_count_per_day": 100000000,
                "max_count_per_user": 5,
            },
            "single_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2025-08-01T00:00:00+08:00",
                    "available_end_time": "2025-08-31T23:59:59+08:00",
                    "available_days": 30,
                    "wait_days_after_receive": 1,
                    "weekly_available_period": {
                        "day_list": ["MONDAY"],
                        "day_period_list": [
                            {
                                "begin_time": 60,
                                "end_time": 86399,
                            },
                        ],
                    },
                    "irregular_available_period_list": [
                        {
                            "begin_time": "2025-08-01T00:00:00+08:00",
                            "end_time": "2025-08-31T23:59:59+08:00",
                        },
                    ],
                },
                "normal_coupon": {
                    "threshold": 10000,
                    "discount_amount": 1,
                },
                "discount_coupon": {
                    "threshold": 10000,
                    "percent_off": 20,
                },
                "exchange_coupon": {
                    "threshold": 10000,
                    "exchange_price": 20,
                },
            },
            "sequential_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2025-08-01T00:00:00+08:00",
                    "available_end_time": "2025-08-31T23:59:59+08:00",
                    "wait_days_after_receive": 30,
                    "weekly_available_period": {
                        "day_list": ["MONDAY"],
                        "day_period_list": [
                            {
                                "begin_time": 60,
                                "end_time": 86399,
                            },
                        ],
                    },
                    "irregular_available_period_list": [
                        {
                            "begin_time": "2025-08-01T00:00:00+08:00",
                            "end_time": "2025-08-31T23:59:59+08:00",
                        },
                    ],
                },
                "normal_coupon_list": [
                    {
                        "threshold": 10000,
                        "discount_amount": 1,
                    },
                ],
                "discount_coupon_list": [
                    {
                        "threshold": 10000,
                        "percent_off": 20,
                    },
                ],
                "exchange_coupon_list": [
                    {
                        "threshold": 10000,
                        "exchange_price": 20,
                    },
                ],
                "special_first": True,
            },
            "usage_rule_display_info": {
                "coupon_usage_method_list": ["OFFLINE"],
                "mini_program_appid": "wx1234567890",
                "mini_program_path": "/pages/index/product",
                "app_path": "",
                "usage_description": "工作日可用",
                "coupon_available_store_info": {
                    "description": "所有门店可用,可使用小程序查看门店列表",
                    "mini_program_appid": "wx1234567890",
                    "mini_program_path": "/pages/index/product",
                },
            },
            "coupon_display_info": {
                "code_display_mode": "QRCODE",
                "background_color": "Color020",
                "entrance_mini_program": {
                    "appid": "wx234545656765876",
                    "path": "/path/index/index",
                    "entrance_wording": "欢迎选购",
                    "guidance_wording": "获取更多优惠",
                },
                "entrance_official_account": {
                    "appid": "wx1234567890",
                },
                "entrance_finder": {
                    "finder_id": "gh_12345678",
                    "finder_video_id": "UDFsdf24df34dD456Hdf34",
                    "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
                },
            },
            "notify_config": {
                "notify_appid": "wx23232232323",
            },
            "store_scope": "NONE",
        },
    },
}

#: seed 001
ADD_STOCK: dict[str, Any] = {
    "product_coupon_id": "1000000013",
    "json": {
        "brand_id": "120344",
        "out_request_no": "34657_20250101_123456",
        "stock": {
            "remark": "疯狂星期四项目专用",
            "coupon_code_mode": "WECHATPAY",
            "stock_send_rule": {
                "max_count": 100000,
                "max_count_per_day": 100000000,
                "max_count_per_user": 5,
            },
            "single_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2025-08-01T00:00:00+08:00",
                    "available_end_time": "2025-08-31T23:59:59+08:00",
                    "available_days": 30,
                    "wait_days_after_receive": 1,
                    "weekly_available_period": {
                        "day_list": ["MONDAY"],
                        "day_period_list": [
                            {
                                "begin_time": 60,
                                "end_time": 86399,
                            },
                        ],
                    },
                    "irregular_available_period_list": [
                        {
                            "begin_time": "2025-08-01T00:00:00+08:00",
                            "end_time": "2025-08-31T23:59:59+08:00",
                        },
                    ],
                },
                "normal_coupon": {
                    "threshold": 10000,
                    "discount_amount": 1,
                },
                "discount_coupon": {
                    "threshold": 10000,
                    "percent_off": 20,
                },
                "exchange_coupon": {
                    "threshold": 10000,
                    "exchange_price": 20,
                },
            },
            "sequential_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2025-08-01T00:00:00+08:00",
                    "available_end_time": "2025-08-31T23:59:59+08:00",
                    "wait_days_after_receive": 1,
                    "weekly_available_period": {
                        "day_list": ["MONDAY"],
                        "day_period_list": [
                            {
                                "begin_time": 60,
                                "end_time": 86399,
                            },
                        ],
                    },
                    "irregular_available_period_list": [
                        {
                            "begin_time": "2025-08-01T00:00:00+08:00",
                            "end_time": "2025-08-31T23:59:59+08:00",
                        },
                    ],
                },
                "normal_coupon_list": [
                    {
                        "threshold": 10000,
                        "discount_amount": 1,
                    },
                ],
                "discount_coupon_list": [
                    {
                        "threshold": 10000,
                        "percent_off": 20,
                    },
                ],
                "exchange_coupon_list": [
                    {
                        "threshold": 10000,
                        "exchange_price": 20,
                    },
                ],
                "special_first": True,
            },
            "usage_rule_display_info": {
                "coupon_usage_method_list": ["OFFLINE"],
                "mini_program_appid": "wx1234567890",
                "mini_program_path": "/pages/index/product",
                "app_path": "",
                "usage_description": "工作日可用",
                "coupon_available_store_info": {
                    "description": "所有门店可用，可使用小程序查看门店列表",
                    "mini_program_appid": "wx1234567890",
                    "mini_program_path": "/pages/index/product",
                },
            },
            "coupon_display_info": {
                "code_display_mode": "QRCODE",
                "background_color": "Color020",
                "entrance_mini_program": {
                    "appid": "wx234545656765876",
                    "path": "/path/index/index",
                    "entrance_wording": "欢迎选购",
                    "guidance_wording": "获取更多优惠",
                },
                "entrance_official_account": {
                    "appid": "wx1234567890",
                },
                "entrance_finder": {
                    "finder_id": "gh_12345678",
                    "finder_video_id": "UDFsdf24df34dD456Hdf34",
                    "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
                },
            },
            "notify_config": {
                "notify_appid": "wx23232232323",
            },
            "store_scope": "NONE",
        },
    },
}

#: seed 001
LIST_STOCKS: dict[str, Any] = {
    "product_coupon_id": "1000000013",
    "query": {
        "state": "AUDITING",
        "page_size": 20,
        "page_token": "MTIzMjUK",
        "brand_id": "120344",
    },
}

#: seed 004
GET_STOCK: dict[str, Any] = {
    "product_coupon_id": "1000000013",
    "stock_id": "1000000013001",
    "query": {
        "brand_id": "120344",
    },
}

#: seed 004
PATCH_STOCK: dict[str, Any] = {
    "product_coupon_id": "1000000013",
    "stock_id": "1000000013001",
    "json": {
        "brand_id": "120344",
        "out_request_no": "34657_20250101_123456",
        "remark": "疯狂星期四项目专用",
        "usage_rule_display_info": {
            "coupon_usage_method_list": ["OFFLINE"],
            "mini_program_appid": "wx1234567890",
            "mini_program_path": "/pages/index/product",
            "app_path": "",
            "usage_description": "工作日可用",
            "coupon_available_store_info": {
                "description": "所有门店可用，可使用小程序查看门店列表",
                "mini_program_appid": "wx1234567890",
                "mini_program_path": "/pages/index/product",
            },
        },
        "coupon_display_info": {
            "code_display_mode": "QRCODE",
            "background_color": "Color020",
            "entrance_mini_program": {
                "appid": "wx234545656765876",
                "path": "/path/index/index",
                "entrance_wording": "欢迎选购",
                "guidance_wording": "获取更多优惠",
            },
            "entrance_official_account": {
                "appid": "wx1234567890",
            },
            "entrance_finder": {
                "finder_id": "gh_12345678",
                "finder_video_id": "UDFsdf24df34dD456Hdf34",
                "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
            },
        },
        "notify_config": {
            "notify_appid": "wx23232232323",
        },
        "store_scope": "NONE",
    },
}

#: seed 002
ADD_STOCK_BUNDLE: dict[str, Any] = {
    "product_coupon_id": "200000001",
    "json": {
        "out_request_no": "34657_20250101_123456",
        "stock_bundle": {
            "remark": "满减券",
            "coupon_code_mode": "UPLOAD",
            "stock_send_rule": {
                "max_count": 10000000,
                "max_count_per_day": 10000,
                "max_count_per_user": 1,
            },
            "progressive_bundle_usage_rule": {
                "coupon_available_period": {
                    "available_begin_time": "2025-01-01T00:00:00+08:00",
                    "available_end_time": "2025-10-01T00:00:00+08:00",
                    "available_days": 10,
                    "wait_days_after_receive": 1,
                    "weekly_available_period": {
                        "day_list": ["MONDAY"],
                        "day_period_list": [
                            {
                                "begin_time": 60,
                                "end_time": 86399,
                            },
                        ],
                    },
                    "irregular_available_period_list": [
                        {
                            "begin_time": "2025-01-01T00:00:00+08:00",
                            "end_time": "2025-10-01T00:00:00+08:00",
                        },
                    ],
                },
                "normal_coupon_list": [
                    {
                        "threshold": 10000,
                        "discount_amount": 100,
                    },
                ],
                "discount_coupon_list": [
                    {
                        "threshold": 10000,
                        "percent_off": 30,
                    },
                ],
                "exchange_coupon_list": [
                    {
                        "threshold": 10000,
                        "exchange_price": 100,
                    },
                ],
            },
            "usage_rule_display_info": {
                "coupon_usage_method_list": ["MINI_PROGRAM"],
                "mini_program_appid": "wx1234567890",
                "mini_program_path": "/pages/index/product",
                "app_path": "https://www.example.com/jump-to-app",
                "usage_description": "全场可用",
                "coupon_available_store_info": {
                    "description": "可在上海市区的所有门店使用,详细列表参考小程序内信息为准",
                    "mini_program_appid": "wx1234567890",
                    "mini_program_path": "/pages/index/store-list",
                },
            },
            "coupon_display_info": {
                "code_display_mode": "QRCODE",
                "background_color": "Color010",
                "entrance_mini_program": {
                    "appid": "wx1234567890",
                    "path": "/pages/index/product",
                    "entrance_wording": "欢迎选购",
                    "guidance_wording": "获取更多优惠",
                },
                "entrance_official_account": {
                    "appid": "wx1234567890",
                },
                "entrance_finder": {
                    "finder_id": "gh_12345678",
                    "finder_video_id": "UDFsdf24df34dD456Hdf34",
                    "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
                },
            },
            "notify_config": {
                "notify_appid": "wx4fd12345678",
            },
            "store_scope": "SPECIFIC",
        },
        "brand_id": "120344",
    },
}

#: seed 000
ADD_STOCK_BUNDLE_000: dict[str, Any] = {
    "product_coupon_id": "1000000013",
    "json": {
        "brand_id": "120344",
        "out_request_no": "34657_20250101_123456",
        "stock_bundle": {
            "remark": "疯狂星期四项目专用",
            "coupon_code_mode": "WECHATPAY",
            "stock_send_rule": {
                "max_count": 100000,
                "max_count_per_day": 100000000,
                "max_count_per_user": 5,
                "progressive_bundle_usage_rule": {
                    "coupon_available_period": {
                        "available_begin_time": "2025-08-01T00:00:00+08:00",
                        "available_end_time": "2025-08-31T23:59:59+08:00",
                        "available_days": 30,
                        "wait_days_after_receive": 1,
                        "weekly_available_period": {
                            "day_list": ["MONDAY"],
                            "day_period_list": [
                                {
                                    "begin_time": 60,
                                    "end_time": 86399,
                                },
                            ],
                        },
                        "irregular_available_period_list": [
                            {
                                "begin_time": "2025-08-01T00:00:00+08:00",
                                "end_time": "2025-08-31T23:59:59+08:00",
                            },
                        ],
                    },
                    "normal_coupon": {
                        "threshold": 10000,
                        "discount_amount": 1,
                    },
                    "discount_coupon": {
                        "threshold": 10000,
                        "percent_off": 20,
                    },
                    "exchange_coupon": {
                        "threshold": 10000,
                        "exchange_price": 20,
                    },
                },
                "stock_bundle_info": {
                    "stock_bundle_id": "712315129419284901",
                    "stock_bundle_index": 0,
                },
                "usage_rule_display_info": {
                    "coupon_usage_method_list": ["OFFLINE"],
                    "mini_program_appid": "wx1234567890",
                    "mini_program_path": "/pages/index/product",
                    "app_path": "",
                    "usage_description": "工作日可用",
                    "coupon_available_store_info": {
                        "description": "所有门店可用，可使用小程序查看门店列表",
                        "mini_program_appid": "wx1234567890",
                        "mini_program_path": "/pages/index/product",
                    },
                },
                "coupon_display_info": {
                    "code_display_mode": "QRCODE",
                    "background_color": "Color020",
                    "entrance_mini_program": {
                        "appid": "wx234545656765876",
                        "path": "/path/index/index",
                        "entrance_wording": "欢迎选购",
                        "guidance_wording": "获取更多优惠",
                    },
                    "entrance_official_account": {
                        "appid": "wx1234567890",
                    },
                    "entrance_finder": {
                        "finder_id": "gh_12345678",
                        "finder_video_id": "UDFsdf24df34dD456Hdf34",
                        "finder_video_cover_image_url": "https://wxpaylogo.qpic.cn/wxpaylogo/xxxxx/xxx",
                    },
                },
                "notify_config": {
                    "notify_appid": "wx23232232323",
                },
                "store_scope": "NONE",
            },
        },
    },
}

#: ``operation name → (method, template, options)`` for the six operations (002 shape for bundles).
SEED_CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create_product_coupon": ("POST", _PREFIX, CREATE_PRODUCT_COUPON),
    "add_stock": ("POST", _PREFIX + "/{product_coupon_id}/stocks", ADD_STOCK),
    "list_stocks": ("GET", _PREFIX + "/{product_coupon_id}/stocks", LIST_STOCKS),
    "get_stock": ("GET", _PREFIX + "/{product_coupon_id}/stocks/{stock_id}", GET_STOCK),
    "patch_stock": ("PATCH", _PREFIX + "/{product_coupon_id}/stocks/{stock_id}", PATCH_STOCK),
    "add_stock_bundle": ("POST", _PREFIX + "/{product_coupon_id}/stock-bundles", ADD_STOCK_BUNDLE),
}
