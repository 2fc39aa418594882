"""The six seed operations in the three call styles through the blocking SyncClient: same wire requests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from test_sandbox import check_seed_wire, seed_node

from wechatpay_chain import APIError, SyncClient
from wechatpay_chain.sandbox import SyncSandbox, samples


@pytest.fixture(scope="module")
def box() -> Iterator[tuple[SyncSandbox, SyncClient]]:
    with SyncSandbox() as sb:
        client = sb.client()
        try:
            yield sb, client
        finally:
            client.close()


@pytest.mark.parametrize("name", list(samples.SEED_CALLS))
@pytest.mark.parametrize("style", ["attribute", "chain", "item"])
def test_seed_calls_on_the_wire_sync(box: tuple[SyncSandbox, SyncClient], name: str, style: str) -> None:
    sb, wxpay = box
    method, template, options = samples.SEED_CALLS[name]
    verb: Any = getattr(seed_node(wxpay, template, style), method.lower())
    try:
        status = verb(copy.deepcopy(options)).status
    except APIError as exc:
        status = exc.status
    assert status in (200, 404)  # the documented ids do not exist in a fresh sandbox
    check_seed_wire(sb.seen[-1], method, template, options)
