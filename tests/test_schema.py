"""The bundled schemas: seed examples conform, every required field and enum is enforced, TypedDicts agree."""

from __future__ import annotations

import copy
import json
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wechatpay_chain.types as wtypes
from wechatpay_chain import Client, TemplateError
from wechatpay_chain._schemas import _gen
from wechatpay_chain._schemas.spec import Field, Issue, arr, integer, obj, string
from wechatpay_chain.sandbox import samples
from wechatpay_chain.schema import OPERATIONS, find_operation, issues, validate_query, validate_request

ROOT = Path(__file__).resolve().parents[1]


def walk(spec: Field, value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Field]]:
    """Every member of ``value`` that the spec describes, with its spec (depth first)."""
    if spec.type == "object" and spec.fields and isinstance(value, dict):
        for name, sub in spec.fields.items():
            if name in value:
                yield (*path, name), sub
                yield from walk(sub, value[name], (*path, name))
    elif spec.type == "array" and spec.items is not None and isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(spec.items, item, (*path, i))


def delete(doc: Any, path: tuple[str | int, ...]) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return out


def assign(doc: Any, path: tuple[str | int, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def dotted(path: tuple[str | int, ...]) -> str:
    return Issue(path, "").dotted


#: The published example call of every operation (``python -m wechatpay_chain._schemas._pages`` extracts them).
EXAMPLES: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "product_coupon_examples.json").read_text())
#: ``name → (method, template, options)`` like ``samples.SEED_CALLS``; the upload is multipart (tested apart).
CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    name: (ex["method"], ex["template"], ex["options"]) for name, ex in EXAMPLES.items() if name != "upload_image"
}


def _cases() -> Iterator[Any]:
    for name, (method, template, options) in CALLS.items():
        op = find_operation(method, template)
        assert op is not None
        if "json" not in options and "query" not in options:
            continue
        spec, where = (op.request, "json") if "json" in options else (op.query, "query")
        assert spec is not None
        doc = options[where]
        for path, sub in walk(spec, doc):
            if sub.required:
                yield pytest.param(name, where, delete(doc, path), f"{where}.{dotted(path)}: required",
                                   id=f"{name}-required-{dotted(path)}")
            if sub.enum:
                yield pytest.param(name, where, assign(doc, path, "NOT_AN_ENUM"), f"{where}.{dotted(path)}: must be one of",
                                   id=f"{name}-enum-{dotted(path)}")


#: (operation, "json"|"query", bad document, expected message prefix): every required field and enum of the
#: current pages that the published examples use, removed or replaced one at a time.
CASES = list(_cases())


def test_the_table_covers_every_operation() -> None:
    assert len(OPERATIONS) == len(EXAMPLES) == 35
    assert {op.name for op in OPERATIONS} == set(EXAMPLES)
    covered = {case.values[0] for case in CASES}
    assert covered == {name for name, (_, _, o) in CALLS.items() if "json" in o or "query" in o}
    assert len(CASES) > 300


@pytest.mark.parametrize("name", list(samples.SEED_CALLS))
def test_seed_examples_conform(name: str) -> None:
    method, template, options = samples.SEED_CALLS[name]
    validate_request(method, template, options.get("json"))
    validate_query(method, template, options.get("query"))


@pytest.mark.parametrize("name", list(CALLS))
def test_published_examples_conform(name: str) -> None:
    method, template, options = CALLS[name]
    assert find_operation(method, template) is not None
    validate_request(method, template, options.get("json"))
    validate_query(method, template, options.get("query"))


@pytest.mark.parametrize(("name", "where", "doc", "expected"), CASES)
def test_required_fields_and_enums(name: str, where: str, doc: Any, expected: str) -> None:
    method, template, _ = CALLS[name]
    check = validate_request if where == "json" else validate_query
    with pytest.raises(TemplateError) as info:
        check(method, template, doc)
    assert str(info.value).startswith(expected)


def test_000_shape_is_rejected_with_a_hint() -> None:
    method, template, _ = samples.SEED_CALLS["add_stock_bundle"]
    with pytest.raises(TemplateError, match=r"stock_send_rule\.progressive_bundle_usage_rule: unknown field; 002"):
        validate_request(method, template, samples.ADD_STOCK_BUNDLE_000["json"])


def test_types_lengths_patterns_and_formats() -> None:
    method, template, options = samples.SEED_CALLS["add_stock"]
    body = options["json"]
    bad = [
        (assign(body, ("out_request_no",), "abc"), "json.out_request_no: must be at least 6 characters"),
        (assign(body, ("out_request_no",), "x" * 41), "json.out_request_no: must be at most 40 characters"),
        (assign(body, ("out_request_no",), "has space!"), "json.out_request_no: must match"),
        (assign(body, ("stock", "stock_send_rule", "max_count"), "1"), "json.stock.stock_send_rule.max_count: must be integer"),
        (assign(body, ("stock", "stock_send_rule", "max_count"), True), "must be integer, got boolean"),
        (assign(body, ("stock", "usage_rule_display_info", "coupon_usage_method_list"), "OFFLINE"), "must be array"),
        (
            assign(body, ("stock", "single_usage_rule", "coupon_available_period", "available_begin_time"), "2025-08-01"),
            "json.stock.single_usage_rule.coupon_available_period.available_begin_time: must be an RFC 3339 time",
        ),
        (
            assign(body, ("stock", "single_usage_rule", "coupon_available_period", "weekly_available_period",
                          "day_list"), ["MONDAY", "FUNDAY"]),
            "json.stock.single_usage_rule.coupon_available_period.weekly_available_period.day_list[1]: must be one of",
        ),
        (assign(body, ("stock", "stok_send_rule"), {}), "json.stock.stok_send_rule: unknown field"),
        ([], "json: must be object, got array"),
    ]
    for doc, expected in bad:
        with pytest.raises(TemplateError) as info:
            validate_request(method, template, doc)
        assert expected in str(info.value), (str(info.value), expected)


def test_limits_of_the_spec_format() -> None:
    spec = obj(n=integer(minimum=1, maximum=3), items=arr(string(), min_items=1, max_items=2))
    assert [str(i) for i in issues(spec, {"n": 0, "items": []})] == ["n: must be ≥ 1", "items: must have at least 1 item(s)"]
    assert [str(i) for i in issues(spec, {"n": 4, "items": ["a", "b", "c"]})] == [
        "n: must be ≤ 3", "items: must have at most 2 item(s)"
    ]
    assert Issue(("a/b", 0, "c~d"), "x").pointer == "/a~1b/0/c~0d"


def test_lookup_normalises_templates() -> None:
    body = samples.ADD_STOCK["json"]
    for template in (
        "v3/marketing/partner/product-coupon/product-coupons/{id}/stocks",
        "/v3/marketing/partner/product-coupon/product-coupons/{+product_coupon_id}/stocks",
        "https://api.mch.weixin.qq.com/v3/marketing/partner/product-coupon/product-coupons/{x}/stocks",
    ):
        with pytest.raises(TemplateError):
            validate_request("post", template, delete(body, ("stock",)))
    validate_request("POST", "v3/profitsharing/orders", {"anything": 1})  # not bundled: not checked
    assert find_operation("DELETE", "v3/marketing/partner/product-coupon/product-coupons") is None


async def test_client_validates_before_any_io() -> None:
    body = delete(samples.ADD_STOCK["json"], ("stock", "stock_send_rule", "max_count"))
    closed_port = "http://127.0.0.1:9/"  # discard port: a request would fail with a TransportError, not this
    from wechatpay_chain.testing import generate_key_pair

    pair = generate_key_pair()
    async with Client("1900000109", pair.serial, pair.private_key, {"ABCDEF": pair.certificate},
                      base_url=closed_port, validate=True) as wxpay:
        node = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
        with pytest.raises(TemplateError, match=r"^json\.stock\.stock_send_rule\.max_count: required$"):
            await node.post(product_coupon_id="1", json=body)
    async with Client("1900000109", pair.serial, pair.private_key, {"ABCDEF": pair.certificate},
                      base_url=closed_port) as wxpay:
        node = wxpay.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
        with pytest.raises(TemplateError, match="max_count: required"):
            await node.post(product_coupon_id="1", json=body, validate=True)
        with pytest.raises(TemplateError, match=r"^query\.state"):
            await node.get(product_coupon_id="1", query={"brand_id": "120344", "state": "BOGUS"}, validate=True)


# -- TypedDicts ---------------------------------------------------------------------------------------------
def test_types_module_is_generated_from_the_specs() -> None:
    assert (ROOT / "wechatpay_chain" / "types.py").read_text() == _gen.render()


def _typed_keys(cls: Any, spec: Field, where: str) -> None:
    hints = typing.get_type_hints(cls, include_extras=True)
    assert spec.fields is not None
    assert list(hints) == list(spec.fields), where
    for name, hint in hints.items():
        wrapper = typing.get_origin(hint)
        if wrapper is typing.Required if sys.version_info >= (3, 11) else False:
            assert spec.fields[name].required, f"{where}.{name} is Required but optional in the table"
        inner = typing.get_args(hint)[0]
        sub = spec.fields[name]
        while sub.type == "array":
            assert sub.items is not None
            inner, sub = typing.get_args(inner)[0], sub.items
        if sub.type == "object":
            _typed_keys(inner, sub, f"{where}.{name}")


@pytest.mark.parametrize(("name", "spec"), [(name, spec) for name, spec, _ in _gen.ROOTS])
def test_typeddict_keys_equal_spec_keys(name: str, spec: Field) -> None:
    _typed_keys(getattr(wtypes, name), spec, name)


def test_mypy_flags_a_misspelt_key(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from wechatpay_chain.types import NewStock\n"
        "stock: NewStock = {'coupon_code_mode': 'WECHATPAY', 'stock_send_rule': {'max_count': 1},\n"
        "    'usage_rule_display_info': {'coupon_usage_method_list': ['OFFLINE'], 'usage_description': 'x'},\n"
        "    'coupon_display_info': {}, 'notify_config': {}, 'store_scope': 'ALL', 'stok_send_rule': {}}\n"
    )
    out, _, status = api.run([str(snippet), "--no-error-summary", "--cache-dir", str(tmp_path / ".mypy")])
    assert status == 1
    assert '"stok_send_rule"' in out
