"""``SyncClient``: the same chain with blocking verbs, for scripts and WSGI apps.

It runs a private event loop in a daemon thread, so callers need no loop of their own. Called from a thread
that runs an event loop, it raises :class:`EventLoopError` instead of blocking that loop (use ``Client`` and
``await`` there). Validation happens in the caller's thread, before any I/O.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from . import _loops
from ._chain import SyncNode
from ._client import Client
from ._keywords import check_keywords, parameters
from ._response import Response
from ._template import Template
from .errors import ConfigError, TransportError

__all__ = ["SyncClient"]

_CLIENT_KEYWORDS = parameters(Client.__init__)


class SyncClient:
    """Blocking twin of :class:`Client`: same constructor, same chain, verbs return :class:`Response`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_keywords("SyncClient", kwargs, _CLIENT_KEYWORDS)
        if kwargs.get("session") is not None:
            raise ConfigError("session", "SyncClient runs its own event loop and cannot share an aiohttp session")
        self._client = Client(*args, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wechatpay-chain-sync", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._root = SyncNode(self, "")

    @property
    def client(self) -> Client:
        """The underlying async client (settings, verifier)."""
        return self._client

    def __getattr__(self, name: str) -> SyncNode:
        if name.startswith("_"):
            raise AttributeError(name)
        node: SyncNode = getattr(self._root, name)
        self._root._cache.keep(self, name, node)  # next time a plain attribute hit (bounded)
        return node

    def __getitem__(self, path: str) -> SyncNode:
        return self._root[path]

    def chain(self, path: str) -> SyncNode:
        """The node for ``path`` taken literally."""
        return self._root[path]

    def _call(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
        return self._start(method, template, args, kwargs, blocking=True).result()

    def _start(
        self,
        method: str,
        template: Template,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        blocking: bool = False,
    ) -> concurrent.futures.Future[Response]:
        """Validate in this thread, then send on the loop thread (``postAsync`` promises wait on the future).

        ``blocking``: the caller will wait for the answer, which must not happen on a thread running a loop.
        """
        prepared = self._client._prepare(method, template, args, kwargs)
        if blocking:
            _loops.refuse_blocking(f"{method.lower()}()")
        if self._loop.is_closed():
            raise TransportError("this client is closed; create a new one")
        return asyncio.run_coroutine_threadsafe(self._client._send(prepared), self._loop)

    def parse_notification(self, headers: Any, body: bytes | str) -> Any:
        """Blocking :meth:`Client.parse_notification` (verify + decrypt a callback)."""
        return self.run(self._client.parse_notification(headers, body))

    def download(self, target: Any, **kwargs: Any) -> Any:
        """Blocking :meth:`Client.download` (bill and file downloads with hash check)."""
        return self.run(self._client.download(target, **kwargs))

    def encrypt(self, value: str, serial: str | None = None) -> Any:
        """:meth:`Client.encrypt` for a sensitive field (sets ``Wechatpay-Serial`` on the request using it)."""
        return self._client.encrypt(value, serial)

    def decrypt(self, ciphertext: str) -> str:
        """:meth:`Client.decrypt` of a sensitive answer field with the merchant key."""
        return self._client.decrypt(ciphertext)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the client's loop and wait for it (for helpers built on the async client)."""
        try:
            _loops.refuse_blocking(f"{getattr(coro, '__name__', 'run')}()")
        except BaseException:
            if asyncio.iscoroutine(coro):
                coro.close()  # never awaited: close it so Python does not warn about it
            raise
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Close the session and stop the loop thread. Idempotent."""
        with self._lock:
            if self._loop.is_closed():
                return
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._client).replace("<Client", "<SyncClient", 1)
