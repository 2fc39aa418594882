"""The page → schema generator (``_schemas/_pages.py``) on a small page in the official layout, written here
(tests never read the docs mirror): tables, indentation, required markers, enums, limits, examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wechatpay_chain._schemas import _pages
from wechatpay_chain._schemas.spec import check

PAGE = """---
title: 核销用户商品券
description: 示例
---

# {{ $frontmatter.title }} {#post}

| 请求参数 | 类型 {.type} | 描述 {.desc}
| --- | --- | ---
| openid {data-required} | string | 用户OpenID
| coupon_code {data-required} | string | 用户商品券Code
| json {data-required} | object {data-tooltip="对应PHP的array"} | 声明请求的`JSON`数据结构
| brand_id {data-required data-indent=1} | string | 品牌ID
| out_request_no {data-required data-indent=1} | string | 核销请求单号
| use_time {data-required data-indent=1} | string | 核销时间
| associated_order_info {data-indent=1} | object {data-tooltip="对应PHP的array"} | 关联微信支付订单信息
| transaction_id {data-indent=2} | string | 微信支付单号
| tags {data-indent=1} | string[] | 标签<br/>`A` \\| `B` 枚举值之一

{.im-table #request}

::: code-group

```php [异步声明式]
$instance->chain('v3/marketing/partner/product-coupon/users/{openid}/coupons/{coupon_code}/use')->postAsync([
  'openid' => 'oh-394z',
  'coupon_code' => '123',
  'json' => [
    'brand_id'              => '120344',
    'out_request_no'        => '34657_20250101_123456',
    'use_time'              => '2025-07-24T00:00+08:00',
    'associated_order_info' => [
      'transaction_id' => '42',
    ],
    'tags'                  => ['A', 'B'],
  ],
])
->then(static function(\\Psr\\Http\\Message\\ResponseInterface $response) {
  print_r(json_decode((string) $response->getBody(), true));
})
->wait();
```

:::

| 返回字典 | 类型 {.type} | 描述 {.desc}
| --- | --- | ---
| coupon_code {data-required} | string | 用户商品券Code
| coupon_state {data-required} | string | 状态<br/>`USED` \\| `EFFECTIVE` 枚举值之一

{.im-table #response}
"""


def test_a_page_becomes_specs_and_an_example(tmp_path: Path) -> None:
    page = tmp_path / "use.md"
    page.write_text(PAGE)
    [op] = _pages.read_page(page, "users/{openid}/coupons/{coupon_code}/use")
    assert (op.name, op.method, op.title) == ("use_user_coupon", "POST", "核销用户商品券")
    assert op.request is not None and op.request.fields is not None
    body = op.request.fields
    assert list(body) == ["brand_id", "out_request_no", "use_time", "associated_order_info", "tags"]
    assert body["brand_id"].required and not body["associated_order_info"].required
    assert body["associated_order_info"].fields is not None
    assert list(body["associated_order_info"].fields) == ["transaction_id"]
    assert (body["out_request_no"].min_length, body["out_request_no"].max_length) == (6, 40)  # LIMITS
    assert body["use_time"].format == "date-time" and body["use_time"].doc == "核销时间"
    assert body["tags"].type == "array" and body["tags"].items is not None and body["tags"].items.enum == ("A", "B")
    assert op.response is not None and op.response.fields is not None
    assert op.response.fields["coupon_state"].enum == ("USED", "EFFECTIVE")
    assert op.example is not None
    assert op.example["openid"] == "oh-394z" and op.example["json"]["tags"] == ["A", "B"]
    assert list(check(op.request, op.example["json"])) == []
    source = _pages.render([op], {})
    scope: dict[str, Any] = {}
    exec(compile(source.replace("from .spec import Field", "from wechatpay_chain._schemas.spec import Field"),  # noqa: S102
                 "generated", "exec"), scope)
    [generated] = scope["OPERATIONS"]
    assert generated.request == op.request and generated.response == op.response
