"""The sandbox clock: business time that tests move forward instead of sleeping.

Two times exist. *Protocol time* (the ``clock=`` callable, real time by default) is what signatures use: the
±300 s check of a request's ``Authorization`` and the ``Wechatpay-Timestamp`` of answers and notifications, so a
client with a real clock keeps verifying after ``advance``. *Business time* is protocol time plus an offset that
only grows (``advance``): validity windows, daily counters (reset at midnight China time), notification retries
and asynchronous tasks run on it. ``call_at`` schedules work at a business time; advancing past it runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["CHINA", "Clock", "rfc3339"]

#: China Standard Time (UTC+8, no daylight saving), the zone WeChat Pay writes and counts days in.
CHINA = _dt.timezone(_dt.timedelta(hours=8))


def rfc3339(when: float) -> str:
    """China Standard Time, as WeChat Pay writes times: ``2025-01-01T00:00:00+08:00``."""
    return _dt.datetime.fromtimestamp(when, CHINA).isoformat(timespec="seconds")


@dataclass(order=True)
class _Job:
    when: float
    order: int
    run: Callable[[], Awaitable[object] | object] = field(compare=False)


class Clock:
    """``now()`` (epoch seconds), ``advance(seconds | timedelta)``, China-time helpers and a scheduler."""

    def __init__(self, protocol: Callable[[], float] = time.time) -> None:
        self.protocol = protocol
        self.offset = 0.0
        self._jobs: list[_Job] = []
        self._order = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    # -- reading --------------------------------------------------------------------------------------------
    def now(self) -> float:
        """Business time, epoch seconds."""
        return self.protocol() + self.offset

    def china_now(self) -> _dt.datetime:
        """Business time as an aware datetime in China Standard Time."""
        return _dt.datetime.fromtimestamp(self.now(), CHINA)

    def china_date(self, when: float | None = None) -> _dt.date:
        """The China calendar day of ``when`` (default: now); daily counters reset when it changes."""
        return _dt.datetime.fromtimestamp(self.now() if when is None else when, CHINA).date()

    def next_china_midnight(self, when: float | None = None) -> float:
        """Epoch seconds of the next 00:00 China time after ``when`` (default: now)."""
        day = self.china_date(when) + _dt.timedelta(days=1)
        return _dt.datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp()

    def rfc3339(self, when: float | None = None) -> str:
        """``when`` (default: now) written the way WeChat Pay writes times."""
        return rfc3339(self.now() if when is None else when)

    # -- moving -----------------------------------------------------------------------------------------------
    def advance(self, delta: float | _dt.timedelta) -> float:
        """Move business time forward (never back) and run what became due; returns the new ``now()``.

        Safe to call from any thread: jobs run on the sandbox's event loop.
        """
        if isinstance(delta, _dt.timedelta):
            seconds = delta.total_seconds()
        elif isinstance(delta, (int, float)) and not isinstance(delta, bool):
            seconds = float(delta)
        else:
            raise TypeError(f"advance() takes seconds (int or float) or a timedelta, not {type(delta).__name__}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"the sandbox clock only moves forward by a finite amount; advance() got {seconds!r}")
        self.offset += seconds
        self._poke()
        return self.now()

    def set(self, when: float | _dt.datetime) -> float:
        """Jump to an absolute business time (not earlier than now)."""
        target = when.timestamp() if isinstance(when, _dt.datetime) else float(when)
        return self.advance(max(0.0, target - self.now()))

    # -- scheduling ---------------------------------------------------------------------------------------------
    def call_at(self, when: float, run: Callable[[], Awaitable[object] | object]) -> None:
        """Run ``run()`` (a function or a coroutine function) once business time reaches ``when``."""
        heapq.heappush(self._jobs, _Job(when, next(self._order), run))
        self._poke()

    def call_later(self, seconds: float, run: Callable[[], Awaitable[object] | object]) -> None:
        self.call_at(self.now() + seconds, run)

    @property
    def pending(self) -> int:
        """How many scheduled jobs have not run yet."""
        return len(self._jobs)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the sandbox's loop (called by ``Sandbox.start``)."""
        if self._runner is not None and not self._runner.done():
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._runner = loop.create_task(self._run())

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        tasks = [*self._running, *([runner] if runner is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S112 - shutting down
                continue
        self._loop = None

    def clear(self) -> None:
        """Forget scheduled jobs (``Sandbox.reset``); the offset stays."""
        self._jobs.clear()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start()
        while True:
            now = self.now()
            while self._jobs and self._jobs[0].when <= now:
                job = heapq.heappop(self._jobs)
                result = job.run()
                if asyncio.iscoroutine(result):
                    task: asyncio.Task[object] = asyncio.ensure_future(result)
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
            self._wake.clear()
            delay = None if not self._jobs else max(0.0, self._jobs[0].when - self.now())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
