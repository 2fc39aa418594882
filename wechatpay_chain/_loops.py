"""Event-loop ownership: a ``Client`` serves the loop it was first used in; a ``SyncClient`` never blocks one.

An aiohttp session (its connections, timers, locks) belongs to one loop. A module-level client used by two
``asyncio.run()`` calls would otherwise fail deep inside aiohttp with ``RuntimeError: Event loop is closed``;
a blocking ``SyncClient`` call made on a loop's own thread freezes that loop, and hangs until the timeout when
the server it calls lives on it. Both are refused here with what to do instead.
"""

from __future__ import annotations

import asyncio

from .errors import EventLoopError

__all__ = ["adopt", "refuse_blocking"]

_FIX = (
    "create the Client inside the loop that uses it: `async with Client(...) as wxpay:` inside the coroutine "
    "you give asyncio.run(), or in the app's startup (FastAPI/Starlette lifespan, aiohttp cleanup_ctx); "
    "synchronous code can use SyncClient, which runs its own loop"
)


def adopt(bound: asyncio.AbstractEventLoop | None, current: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The loop a client serves from now on: ``current`` if nothing binds it (``bound`` is ``None`` while the
    client holds no session), else an :class:`EventLoopError`."""
    if bound is None:
        return current
    if bound.is_closed():
        raise EventLoopError(
            "this Client was first used in an event loop that is now closed (e.g. by an earlier asyncio.run()); "
            f"its connections died with that loop and cannot move to this one: {_FIX}"
        )
    raise EventLoopError(
        "this Client is in use by another event loop (another thread's); an aiohttp session serves one loop: "
        f"{_FIX}"
    )


def refuse_blocking(what: str) -> None:
    """Raise :class:`EventLoopError` if the calling thread runs an event loop (a blocking call would freeze it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise EventLoopError(
        f"SyncClient.{what} was called from inside a running event loop: blocking here would freeze every task "
        "of that loop (and hang until the timeout if the server it calls runs on it). In async code use Client "
        "and `await wxpay.v3....get(...)`; to keep a blocking call, run it in a thread: "
        "`await asyncio.to_thread(...)`"
    )
