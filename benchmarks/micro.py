"""Micro-figures: what wechatpay-chain adds around the two RSA operations, in µs per call.

    python benchmarks/micro.py [--quick] [--json] [--port P --keys DIR]

* chain + template: ``client.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks``
  → verb call → cached template parse → option split → expansion of the one placeholder, with cached
  child nodes (``warm``, the steady state) and from a fresh root (``cold``, lru-cached normalisation only);
* ``Client._prepare`` for the GET (query) and POST (≈3 KB JSON) requests: everything before I/O;
* signing-message assembly and the Authorization value (no RSA), the whole ``RSASigner`` call, and the
  bare RSA sign it wraps; response verification (``Verifier.verify``) against the bare RSA verify;
* with ``--port``: Python allocations per request (tracemalloc) for the chain client and the floor,
  against a running ``server.py``: the transient peak of one request and what stays allocated per request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import statistics
import sys
import tempfile
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from multidict import CIMultiDict, CIMultiDictProxy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import BODY, COUPON_ID, MCHID, PATH, PUB_KEY_ID, QUERY, QUERY_STRING, KeyFiles, chain_options, make_keys

from wechatpay_chain import Client
from wechatpay_chain._chain import Node
from wechatpay_chain._options import split_options
from wechatpay_chain._template import Template, parse
from wechatpay_chain.signing import RSASigner, Verifier, authorization, request_message
from wechatpay_chain.testing import sign_response_headers


class _Expand:
    """A dispatcher that does what the client does with a verb call up to the expanded path."""

    def _call(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        values, _ = split_options(template, args, kwargs)
        return template.expand(values)


def per_call_us(fn: Callable[[], Any], quick: bool) -> float:
    """Median over repeats of the per-call time, in µs (timeit's auto-ranged loop count)."""
    timer = timeit.Timer(fn)
    loops, _ = timer.autorange()
    loops = max(1, loops // (4 if quick else 1))
    runs = timer.repeat(repeat=3 if quick else 7, number=loops)
    return statistics.median(runs) / loops * 1e6


def timings(keys: KeyFiles, quick: bool) -> dict[str, float]:
    dispatcher = _Expand()
    warm_root = Node(dispatcher, "")  # type: ignore[arg-type]
    want = "v3/marketing/partner/product-coupon/product-coupons/1000000013/stocks"

    def chain_warm() -> Any:
        return warm_root.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.post(
            product_coupon_id=COUPON_ID
        )

    def chain_cold() -> Any:
        root = Node(dispatcher, "")  # type: ignore[arg-type]
        return root.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks.post(
            product_coupon_id=COUPON_ID
        )

    assert chain_warm() == want, chain_warm()
    assert chain_cold() == want, chain_cold()

    client = Client(
        MCHID,
        keys.merchant_serial,
        "file://" + str(keys.merchant_key),
        {PUB_KEY_ID: "file://" + str(keys.platform_public)},
        base_url="http://127.0.0.1:9/",
    )
    template = parse("v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}/stocks")
    get_kwargs = {"product_coupon_id": COUPON_ID, "query": QUERY}
    post_kwargs = {"product_coupon_id": COUPON_ID, "json": BODY}
    assert client._prepare("GET", template, (None,), get_kwargs).url.raw_path_qs == PATH + "?" + QUERY_STRING

    signer = client._signer
    assert isinstance(signer, RSASigner)
    key = signer._key
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    body = orjson.dumps(BODY)
    target = PATH
    nonce = "593BEC0C930BF1AFEB40B4A08C8FB242"
    serial = keys.merchant_serial

    def assemble() -> str:
        message = request_message("POST", target, 1700000000, nonce, body)
        signature = base64.b64encode(message[:256]).decode()  # stands in for the RSA step
        return authorization(MCHID, nonce, 1700000000, serial, signature)

    platform = client._verifier
    assert isinstance(platform, Verifier)
    from wechatpay_chain import crypto

    platform_key = crypto.load_private_key(keys.platform_key.read_bytes())
    answer = b'{"stock_id":"123456789","state":"AVAILABLE"}' * 60
    headers = CIMultiDictProxy(CIMultiDict(sign_response_headers(answer, platform_key, PUB_KEY_ID)))
    pub = platform.key(PUB_KEY_ID)
    assert pub is not None
    raw_signature = base64.b64decode(headers["Wechatpay-Signature"])
    verify_message = b"%s\n%s\n%s\n" % (
        headers["Wechatpay-Timestamp"].encode(),
        headers["Wechatpay-Nonce"].encode(),
        answer,
    )

    results = {
        "chain_template_warm_us": per_call_us(chain_warm, quick),
        "chain_template_cold_us": per_call_us(chain_cold, quick),
        "prepare_get_us": per_call_us(lambda: client._prepare("GET", template, (None,), get_kwargs), quick),
        "prepare_post_us": per_call_us(lambda: client._prepare("POST", template, (None,), post_kwargs), quick),
        "orjson_dumps_body_us": per_call_us(lambda: orjson.dumps(BODY), quick),
        "sign_message_assembly_us": per_call_us(assemble, quick),
        "nonce_us": per_call_us(crypto.nonce, quick),
        "rsa_sign_bare_us": per_call_us(lambda: key.sign(body, pkcs1, sha256), quick),
        "rsa_signer_call_post_us": per_call_us(lambda: signer("POST", target, body), quick),
        "rsa_verify_bare_us": per_call_us(lambda: pub.verify(raw_signature, verify_message, pkcs1, sha256), quick),
        "verifier_verify_us": per_call_us(lambda: platform.verify(headers, answer), quick),
    }
    results["signer_overhead_us"] = results["rsa_signer_call_post_us"] - results["rsa_sign_bare_us"]
    results["verifier_overhead_us"] = results["verifier_verify_us"] - results["rsa_verify_bare_us"]
    return results


async def _allocations(call: Callable[[], Any], warm: int, measured: int) -> dict[str, float]:
    for _ in range(warm):
        await call()
    gc.collect()
    tracemalloc.start(1)
    try:
        peaks = []
        for _ in range(min(200, measured)):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            await call()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        gc.collect()
        first = tracemalloc.take_snapshot()
        for _ in range(measured):
            await call()
        gc.collect()
        second = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    diff = second.compare_to(first, "filename")
    return {
        "peak_bytes_per_request": statistics.median(peaks),
        "retained_bytes_per_request": sum(d.size_diff for d in diff) / measured,
        "retained_blocks_per_request": sum(d.count_diff for d in diff) / measured,
    }


async def allocations(port: int, keys: KeyFiles, quick: bool) -> dict[str, dict[str, float]]:
    from floor import FloorClient

    base = f"http://127.0.0.1:{port}/"
    warm, measured = (100, 300) if quick else (300, 1000)
    out: dict[str, dict[str, float]] = {}
    async with Client(
        **chain_options(keys, base),
    ) as client:
        stocks = client.v3.marketing.partner.productCoupon.productCoupons._product_coupon_id_.stocks
        get, post = stocks.get, stocks.post
        out["chain_get"] = await _allocations(lambda: get(product_coupon_id=COUPON_ID, query=QUERY), warm, measured)
        out["chain_post"] = await _allocations(lambda: post(product_coupon_id=COUPON_ID, json=BODY), warm, measured)
    async with FloorClient(base, keys) as floor:
        out["floor_get"] = await _allocations(floor.get, warm, measured)
        out["floor_post"] = await _allocations(floor.post, warm, measured)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--port", type=int, help="a running server.py, for the allocation figures")
    parser.add_argument("--keys", type=Path, help="the key directory that server uses")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeyFiles(args.keys) if args.keys else make_keys(Path(tmp))
        result: dict[str, Any] = {"timings_us": timings(keys, args.quick)}
        if args.port:
            result["allocations"] = asyncio.run(allocations(args.port, keys, args.quick))
    if args.json:
        print(orjson.dumps(result).decode())
        return
    for name, value in result["timings_us"].items():
        print(f"{name:32s} {value:9.2f}")
    for name, figures in result.get("allocations", {}).items():
        print(f"{name:12s} " + "  ".join(f"{k}={v:,.0f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
