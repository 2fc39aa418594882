"""Chain grammar: attribute → segment rules, literal access, verbs as segments, probes, immutability."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref
from typing import Any

import pytest
from conftest import FakeWeChat

from wechatpay_chain import Node, SyncNode
from wechatpay_chain._chain import CACHE_LIMIT, ChildCache, normalize
from wechatpay_chain._template import Template


class Recorder:
    """A dispatcher that records calls instead of sending them (chain rules need no network)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []

    def _call(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        self.calls.append((method, template.source, args, kwargs))
        return "sent"


@pytest.fixture
def root() -> Node:
    return Node(Recorder(), "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("v3", "v3"),
        ("productCoupon", "product-coupon"),
        ("ProductCoupon", "product-coupon"),
        ("productCoupons", "product-coupons"),
        ("_product_coupon_id_", "{product_coupon_id}"),
        ("_productCouponId_", "{product-coupon-id}"),
        ("mchId", "mch-id"),
        ("complaintsV2", "complaints-v2"),
        ("x9Y", "x9-y"),
        ("a_b", "a_b"),
        ("business_code", "business_code"),
        ("h5", "h5"),
        ("applyment4sub", "applyment4sub"),
        ("UPPER", "u-p-p-e-r"),
        ("global_", "global"),
        ("return_", "return"),
        ("import_", "import"),
        ("try_", "try"),
        ("close", "close"),
        ("items", "items"),
        ("id", "id"),
    ],
)
def test_normalize_table(name: str, segment: str) -> None:
    assert normalize(name) == segment


def test_seed_path_by_attributes(root: Node) -> None:
    node = root.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
    assert str(node) == "v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}/stocks"
    assert repr(node) == "<Node v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}/stocks>"


def test_literal_access_is_not_normalised(root: Node) -> None:
    assert str(root["v3/pay/transactions/out-trade-no/N123123"]) == "v3/pay/transactions/out-trade-no/N123123"
    assert str(root.v3["merchantService"]["complaints-v2"]) == "v3/merchantService/complaints-v2"
    assert str(root["v3/applyment4sub/applyment/"]) == "v3/applyment4sub/applyment/"


def test_keyword_segments(root: Node) -> None:
    assert str(root.v3.global_.statements) == "v3/global/statements"
    assert str(root.v3.ecommerce.subsidies.return_) == "v3/ecommerce/subsidies/return"


def test_verbs_are_segments_and_calls(root: Node) -> None:
    recorder: Recorder = root._client
    result: object = root.v3.profitsharing.receivers.delete.post()
    assert result == "sent"
    assert recorder.calls[-1][:2] == ("POST", "v3/profitsharing/receivers/delete")
    sent: object = root.v3.x.delete()
    assert sent == "sent"
    assert recorder.calls[-1][:2] == ("DELETE", "v3/x")
    sent_get: object = root.v3.x.get.get()
    assert sent_get == "sent"
    assert recorder.calls[-1][:2] == ("GET", "v3/x/get")
    sent2: object = root.v3.x.patch({"a": 1}, b=2)
    assert sent2 == "sent"
    assert recorder.calls[-1] == ("PATCH", "v3/x", ({"a": 1},), {"b": 2})
    assert str(root.v3.x.put.items.close) == "v3/x/put/items/close"


@pytest.mark.parametrize(
    "probe",
    [
        "__await__",
        "__aiter__",
        "__anext__",
        "__deepcopy__x",
        "__fspath__",
        "_repr_html_",
        "_repr_mimebundle_",
        "_ipython_display_",
        "_ipython_canary_method_should_not_exist_",
        "_is_coroutine",
        "_fields",
        "_",
        "__",
        "_a",
    ],
)
def test_probes_never_become_segments(root: Node, probe: str) -> None:
    with pytest.raises(AttributeError):
        getattr(root.v3, probe)
    assert not hasattr(root.v3, probe)


async def test_await_node_does_not_send(root: Node) -> None:
    recorder: Recorder = root._client
    with pytest.raises(TypeError):
        await root.v3  # type: ignore[misc]
    with pytest.raises(TypeError):
        iter(root.v3)
    assert recorder.calls == []
    assert not callable(root.v3)
    assert callable(root.v3.get)


def test_nodes_are_immutable_and_cached(root: Node) -> None:
    node = root.v3.pay
    with pytest.raises(AttributeError):
        node.foo = 1
    with pytest.raises(AttributeError):
        del node.pay
    assert root.v3.pay is node
    assert copy.copy(node) is node
    assert copy.deepcopy(node) is node
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(node)


def test_public_surface_is_the_five_verbs(root: Node) -> None:
    public = {n for n in dir(Node) if not n.startswith("_")}
    verbs = {"get", "post", "put", "patch", "delete"}
    assert public == verbs | {f"{verb}Async" for verb in verbs}  # wechatpay-php's promise verbs
    assert {n for n in dir(SyncNode) if not n.startswith("_")} == public
    assert sorted(dir(root.v3)) == sorted(public)


def test_item_access_requires_strings(root: Node) -> None:
    with pytest.raises(TypeError):
        root[1]  # type: ignore[index]


# -- issue 11 finding 12: the cache of attribute-reached children is bounded ---------------------------------
async def test_walking_ever_new_names_keeps_a_bounded_cache(fake: FakeWeChat) -> None:
    """250k distinct names used to keep 250k nodes (107 MiB) for the client's lifetime."""
    created: list[weakref.ref[Node]] = []
    async with fake.client() as wxpay:
        hot = wxpay.v3.pay.transactions.id
        for i in range(3 * CACHE_LIMIT):
            created.append(weakref.ref(getattr(wxpay.v3, f"n{i}")))
            created.append(weakref.ref(getattr(getattr(wxpay, f"top{i}"), f"deep{i}")))
        gc.collect()
        alive = sum(ref() is not None for ref in created)
        assert alive <= CACHE_LIMIT, alive  # 4 × 4096 were cached before the bound
        assert len(wxpay.v3.__dict__) <= CACHE_LIMIT + 8 and len(wxpay.__dict__) <= 200
        # Still a working chain against the server, and a hot path is cached again on its next walk.
        r = await wxpay.v3.pay.transactions.id._transaction_id_.get(transaction_id="42")
        assert r.json()["path"] == "/v3/pay/transactions/id/42"
        assert wxpay.v3.pay.transactions.id is wxpay.v3.pay.transactions.id
        assert str(hot) == str(wxpay.v3.pay.transactions.id) == "v3/pay/transactions/id"


def test_child_cache_drops_everything_when_full() -> None:
    cache = ChildCache(limit=3)
    root = Node(Recorder(), "", cache)  # type: ignore[arg-type]
    a, b = root.a, root.b
    assert root.a is a and a.x is a.x  # a, b, a.x cached: full
    c = root.c  # the fourth: everything is dropped first, then c is kept
    assert len(cache) == 1 and root.c is c and "a" not in root.__dict__ and "x" not in a.__dict__
    assert root.a is not a and str(root.a.x) == "a/x" and root.b is not b
