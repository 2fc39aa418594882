"""The SyncClient design before issue 16, kept runnable for comparison only (never imported by the library).

One private event loop runs in a daemon thread; every blocking call is validated in the caller's thread,
then handed to that loop with ``run_coroutine_threadsafe`` and waited for. Threads share one session.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from wechatpay_chain import Client, SyncClient, _loops
from wechatpay_chain._chain import SyncNode
from wechatpay_chain._response import Response
from wechatpay_chain._template import Template

__all__ = ["HandoffSyncClient"]


class HandoffSyncClient(SyncClient):
    """Blocking verbs through a thread hand-off per call (the old ``SyncClient``; the chain is inherited)."""

    def __init__(self, **options: Any) -> None:  # no per-thread pool: deliberately not SyncClient.__init__
        self._client = Client(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="handoff-loop", daemon=True)
        self._thread.start()
        self._root = SyncNode(self, "")

    def _call(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
        prepared = self._client._prepare(method, template, args, kwargs)
        _loops.refuse_blocking(f"{method.lower()}()")
        return asyncio.run_coroutine_threadsafe(self._client._send(prepared), self._loop).result()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

