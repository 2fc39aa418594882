"""Fault injection: what can go wrong on the way to WeChat Pay and back, on demand.

Rates are fractions (0 … 1) drawn from a seeded RNG; :meth:`Faults.script` queues exact faults for the next
requests, so tests stay deterministic. ``phase`` decides whether an injected 500 or dropped connection happens
before a write is applied (no side effect) or after it (the write stands; a retry with the same
``out_request_no`` replays the stored answer).
"""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["KINDS", "Faults"]

#: Scriptable fault kinds: 500 SYSTEM_ERROR, dropped connection, 429, tampered or probe response signature.
KINDS = ("error", "drop", "ratelimit", "tamper", "probe")
PHASES = ("before", "after")


@dataclass
class Faults:
    """Mutable fault settings; change them at any time (``sb.faults.error_rate = 0.2``)."""

    latency: float = 0.0  # seconds added before every answer
    jitter: float = 0.0  # up to this many more seconds, drawn uniformly per request
    error_rate: float = 0.0  # fraction answered 500 SYSTEM_ERROR
    drop_rate: float = 0.0  # fraction whose connection is closed without an answer
    ratelimit_rate: float = 0.0  # fraction answered 429 RATELIMIT_EXCEEDED (never applied)
    tamper_rate: float = 0.0  # fraction of 2xx answers whose signature does not match
    probe_rate: float = 0.0  # fraction of 2xx answers signed WECHATPAY/SIGNTEST/...
    clock_skew: float = 0.0  # seconds added to Wechatpay-Timestamp of answers and notifications
    phase: str = "before"  # when an injected 500/drop hits a write: "before" or "after" applying it
    seed: int | None = None
    _queue: deque[str] = field(default_factory=deque, repr=False)
    _injected: Counter[str] = field(default_factory=Counter, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.check()
        if self.seed is not None:
            self._rng.seed(self.seed)

    def check(self) -> None:
        """Raise ``ValueError`` naming the knob that is out of range."""
        for name in ("error_rate", "drop_rate", "ratelimit_rate", "tamper_rate", "probe_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"faults.{name} must be a fraction between 0 and 1, got {value!r}")
        for name in ("latency", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"faults.{name} must be non-negative seconds, got {value!r}")
        if self.phase not in PHASES:
            raise ValueError(f"faults.phase must be 'before' or 'after', got {self.phase!r}")

    def update(self, **changes: Any) -> None:
        """Set several knobs at once (unknown names raise ``ValueError``)."""
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}; knobs: {', '.join(sorted(known))}")
            setattr(self, name, value)
        self.check()
        if "seed" in changes and self.seed is not None:
            self._rng.seed(self.seed)

    def clear(self) -> None:
        """Back to a well-behaved server."""
        self.update(
            latency=0.0, jitter=0.0, error_rate=0.0, drop_rate=0.0, ratelimit_rate=0.0, tamper_rate=0.0, probe_rate=0.0,
            clock_skew=0.0, phase="before",
        )
        self._queue.clear()

    def script(self, *kinds: str) -> None:
        """Queue exact faults for the next requests, in order (``"ok"`` = one well-behaved request)."""
        for kind in kinds:
            if kind not in (*KINDS, "ok"):
                raise ValueError(f"unknown fault {kind!r}; one of {', '.join(KINDS)} or 'ok'")
        self._queue.extend(kinds)

    @property
    def injected(self) -> dict[str, int]:
        """How many faults of each kind were injected so far (scripted or drawn)."""
        return dict(self._injected)

    def delay(self) -> float:
        """The latency for one answer: ``latency`` plus a uniform draw up to ``jitter``."""
        return self.latency + (self._rng.uniform(0.0, self.jitter) if self.jitter else 0.0)

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(self._queue)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def draw(self) -> str | None:
        """The fault for one request: the next scripted one, else one drawn from the rates (or ``None``)."""
        kind = self._draw()
        if kind is not None:
            self._injected[kind] += 1
        return kind

    def _draw(self) -> str | None:
        if self._queue:
            kind = self._queue.popleft()
            return None if kind == "ok" else kind
        for kind, rate in (
            ("ratelimit", self.ratelimit_rate),
            ("error", self.error_rate),
            ("drop", self.drop_rate),
            ("tamper", self.tamper_rate),
            ("probe", self.probe_rate),
        ):
            if rate and self._rng.random() < rate:
                return kind
        return None
