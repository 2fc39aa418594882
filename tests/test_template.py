"""Placeholder expansion: strict percent-encoding, reserved expansion, missing values, query encoding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wechatpay_chain import TemplateError
from wechatpay_chain._options import build_query, check_headers, split_options
from wechatpay_chain._template import parse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1217752501201407033233368018", "1217752501201407033233368018"),
        ("AbcdEF12345", "AbcdEF12345"),
        ("4200/00 +%2F", "4200%2F00%20%2B%252F"),
        ("张三", "%E5%BC%A0%E4%B8%89"),
        ("a?b#c", "a%3Fb%23c"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("a..b", "a..b"),
        ("~-._", "~-._"),
        (123, "123"),
        (Decimal("10.50"), "10.50"),
        (True, "true"),
    ],
)
def test_simple_expansion_encodes_everything_outside_unreserved(value: Any, expected: str) -> None:
    assert parse("v3/x/{id}/y").expand({"id": value}) == f"v3/x/{expected}/y"


def test_reserved_expansion_keeps_structure_characters() -> None:
    assert parse("{+url}").expand({"url": "https://apihk.mch.weixin.qq.com/v3/x?a=1"}) == (
        "https://apihk.mch.weixin.qq.com/v3/x?a=1"
    )
    assert parse("v3/{+rest}").expand({"rest": "4200/00 +%2F"}) == "v3/4200/00%20+%2F"


def test_same_placeholder_twice() -> None:
    assert parse("{a}/{a}/{b}").expand({"a": 1, "b": "x"}) == "1/1/x"


@pytest.mark.parametrize("values", [{}, {"id": None}, {"id": ""}])
def test_missing_placeholder_names_it(values: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match=r"\{id\}.*v3/x/\{id\}"):
        parse("v3/x/{id}").expand(values)


@pytest.mark.parametrize("value", [[1], {"a": 1}, object(), float("nan")])
def test_unsupported_value_types(value: Any) -> None:
    with pytest.raises(TemplateError, match="'id'"):
        parse("v3/x/{id}").expand({"id": value})


@pytest.mark.parametrize("source", ["v3/{/x}", "v3/{?x}", "v3/{x", "v3/x}", "v3/{}", "v3/{a b}"])
def test_bad_templates(source: str) -> None:
    with pytest.raises(TemplateError):
        parse(source)


@given(st.text())
def test_no_value_can_change_the_path_structure(value: str) -> None:
    if not value:
        return
    out = parse("v3/a/{id}/b").expand({"id": value})
    assert out.startswith("v3/a/") and out.endswith("/b")
    middle = out[len("v3/a/") : -len("/b")]
    assert all((c.isalnum() and c.isascii()) or c in "-._~%" for c in middle)
    assert middle not in (".", "..")


def test_split_options_php_array_and_keywords() -> None:
    tpl = parse("v3/x/{product_coupon_id}/stocks")
    values, opts = split_options(tpl, ({"product_coupon_id": "1", "json": {"a": 1}},), {"query": {"q": 1}})
    assert values == {"product_coupon_id": "1"}
    assert opts == {"json": {"a": 1}, "query": {"q": 1}}


def test_unknown_option_lists_valid_ones() -> None:
    tpl = parse("v3/x/{product_coupon_id}")
    with pytest.raises(TemplateError, match=r"unknown option 'product_couponid'.*placeholders: product_coupon_id"):
        split_options(tpl, (None,), {"product_couponid": "1"})
    with pytest.raises(TemplateError, match="given both"):
        split_options(tpl, ({"json": 1},), {"json": 2})
    with pytest.raises(TemplateError, match="mapping"):
        split_options(tpl, (["json"],), {})


def test_query_encoding_order_lists_booleans() -> None:
    assert build_query({"b": "中 文/+&", "a": True, "l": [1, 2], "n": None}) == (
        "b=%E4%B8%AD%20%E6%96%87%2F%2B%26&a=true&l=1&l=2"
    )
    assert build_query([("x", 1), ("x", 2)]) == "x=1&x=2"
    with pytest.raises(TemplateError):
        build_query("a=1")


@pytest.mark.parametrize(
    "headers",
    [{"X": "a\r\nInjected: 1"}, {"X\n": "a"}, {"Authorization": "x"}, {"X": b"bytes"}, ["X"]],
)
def test_bad_headers_refused(headers: Any) -> None:
    with pytest.raises(TemplateError):
        check_headers(headers)
