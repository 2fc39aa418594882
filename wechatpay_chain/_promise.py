"""Guzzle-style promises for ``getAsync``/``postAsync``/…: ``->then()->otherwise()->wait()`` ported as is.

A :class:`Promise` is awaitable (``await node.postAsync({...})``) and chains like Guzzle's: ``then(on_fulfilled,
on_rejected)`` and ``otherwise(on_rejected)`` return new promises; a callback's return value (or the awaited
result of a returned promise/coroutine) fulfils the next one, an exception rejects it, and ``on_rejected`` returning
normally recovers. ``wait()`` blocks for the outcome: on a :class:`SyncClient` (outside event loops, like its
other calls); on an async :class:`Client` where no event loop is running, on a loop of its own (inside one it
raises :class:`~.errors.EventLoopError`: ``await`` the promise instead).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from . import _loops
from .errors import EventLoopError

__all__ = ["Promise", "start"]

OnFulfilled = Callable[[Any], Any] | None
OnRejected = Callable[[Exception], Any] | None


class Promise:
    """The outcome of one request, or of a callback chained on one (see the module docstring)."""

    __slots__ = ("_coro", "_error", "_future", "_on_fulfilled", "_on_rejected", "_outcome", "_parent", "_runner",
                 "_sent")

    def __init__(self, runner: Any, *, coro: Coroutine[Any, Any, Any] | None = None,
                 sent: concurrent.futures.Future[Any] | None = None, error: Exception | None = None,
                 parent: Promise | None = None, on_fulfilled: OnFulfilled = None,
                 on_rejected: OnRejected = None) -> None:
        self._runner = runner  # the Client or SyncClient the chain started from
        self._coro = coro  # async Client: the request, not started until awaited
        self._sent = sent  # SyncClient: the request, already running on the client's loop thread
        self._error = error  # refused before any I/O (bad option, closed client...)
        self._parent = parent
        self._on_fulfilled = on_fulfilled
        self._on_rejected = on_rejected
        self._future: asyncio.Future[Any] | None = None
        self._outcome: tuple[bool, Any] | None = None  # settled by wait(): (fulfilled?, value or exception)

    # -- Guzzle's PromiseInterface ---------------------------------------------------------------------------
    def then(self, on_fulfilled: OnFulfilled = None, on_rejected: OnRejected = None) -> Promise:
        """A promise for ``on_fulfilled(value)`` (or ``on_rejected(exception)``); a missing callback passes through."""
        return Promise(self._runner, parent=self, on_fulfilled=on_fulfilled, on_rejected=on_rejected)

    def otherwise(self, on_rejected: Callable[[Exception], Any]) -> Promise:
        """``then(None, on_rejected)``: handle (or re-raise) an exception of the chain so far."""
        return self.then(None, on_rejected)

    def wait(self, unwrap: bool = True) -> Any:
        """Block until settled; return the value or raise the exception (``unwrap=False``: return ``None``)."""
        if self._outcome is None:
            self._outcome = self._settle()
        fulfilled, value = self._outcome
        if not unwrap:
            return None
        if not fulfilled:
            raise value
        return value

    def __await__(self) -> Generator[Any, None, Any]:
        if self._outcome is not None:
            return self._settled().__await__()
        if self._future is None:
            self._future = asyncio.ensure_future(self._run())
        return self._future.__await__()

    def __repr__(self) -> str:
        state = "pending" if self._outcome is None else ("fulfilled" if self._outcome[0] else "rejected")
        return f"<Promise {state}>"

    # -- resolution -------------------------------------------------------------------------------------------
    async def _settled(self) -> Any:
        assert self._outcome is not None  # noqa: S101 - only called once settled
        fulfilled, value = self._outcome
        if not fulfilled:
            raise value
        return value

    async def _run(self) -> Any:
        if self._error is not None:
            raise self._error
        if self._coro is not None:
            return await self._coro
        if self._sent is not None:
            return await asyncio.wrap_future(self._sent)
        assert self._parent is not None  # noqa: S101 - the four kinds are exhaustive
        try:
            value = await self._parent
        except Exception as exc:  # a rejection (never CancelledError): on_rejected may recover it
            result = self._callback(None, exc)
        else:
            result = self._callback(value, None)
        return await result if inspect.isawaitable(result) else result

    def _callback(self, value: Any, error: Exception | None) -> Any:
        """This link's callback applied to the parent's outcome; an unhandled rejection is raised on."""
        if error is not None:
            if self._on_rejected is None:
                raise error
            return self._on_rejected(error)
        return value if self._on_fulfilled is None else self._on_fulfilled(value)

    def _settle(self) -> tuple[bool, Any]:
        blocking = hasattr(self._runner, "_start")  # SyncClient: callbacks run here, in the waiting thread
        if blocking:
            _loops.refuse_blocking("…Async(...).wait()")  # waiting would freeze the loop this thread runs
        else:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:  # raised, not settled: the promise stays pending, to be awaited
                raise EventLoopError(
                    "Promise.wait() cannot block inside a running event loop (it would stall that loop): `await` "
                    "the promise, or use a SyncClient (Builder.factory(config, sync=True)) in blocking code"
                )
        try:
            return True, (self._blocking() if blocking else asyncio.run(_detached(self, self._runner)))
        except Exception as exc:
            return False, exc

    def _blocking(self) -> Any:
        if self._error is not None:
            raise self._error
        if self._sent is not None:
            return self._sent.result()
        assert self._parent is not None  # noqa: S101 - a SyncClient chain has no unstarted coroutine
        try:
            value = self._parent.wait()
        except Exception as exc:
            result = self._callback(None, exc)
        else:
            result = self._callback(value, None)
        if isinstance(result, Promise):
            return result.wait()
        if inspect.isawaitable(result):
            return self._runner.run(_awaited(result))
        return result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def _detached(promise: Promise, client: Any) -> Any:
    """Run a chain on a loop of its own (``wait()`` with no running loop) and close the session it opened, which
    belongs to that loop, so the client can be used again afterwards."""
    fresh = client._session is None
    try:
        return await promise
    finally:
        if fresh and client._owns_session and client._session is not None:
            session, client._session = client._session, None
            await session.close()


def start(runner: Any, method: str, template: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Promise:
    """Start one request as a promise. A call refused before I/O gives a rejected promise, as Guzzle does."""
    try:
        if hasattr(runner, "_start"):
            return Promise(runner, sent=runner._start(method, template, args, kwargs))
        return Promise(runner, coro=runner._call(method, template, args, kwargs))
    except Exception as exc:
        return Promise(runner, error=exc)
