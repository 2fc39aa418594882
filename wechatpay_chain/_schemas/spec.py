"""A tiny declarative field-spec format and its validator.

One ``Field`` tree per request/response body, transcribed from the API tables, drives three things: the
sandbox's ``PARAM_ERROR`` answers, the client's optional ``validate=True`` check and a test that keeps the
``TypedDict``s in :mod:`wechatpay_chain.types` in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Field", "Issue", "arr", "boolean", "check", "first_issue", "integer", "obj", "response_issue", "string"]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class Field:
    """One member of a JSON body: its type and the constraints the table states."""

    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    format: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    items: Field | None = None
    min_items: int | None = None
    max_items: int | None = None
    fields: Mapping[str, Field] | None = None
    #: ``name → hint`` for members that other documents put here by mistake (said in the error).
    misplaced: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def req(self) -> Field:
        return replace(self, required=True)

    def opt(self) -> Field:
        return replace(self, required=False)

    def extend(self, **more: Field) -> Field:
        """A copy of this object spec with extra (or replaced) members."""
        return replace(self, fields={**(self.fields or {}), **more})

    def without(self, *names: str) -> Field:
        return replace(self, fields={k: v for k, v in (self.fields or {}).items() if k not in names})

    def child(self, name: str) -> Field:
        """The spec of member ``name`` (``KeyError`` if the table has no such member)."""
        if self.fields is None:
            raise KeyError(name)
        return self.fields[name]


def string(doc: str = "", *, required: bool = False, enum: tuple[str, ...] | None = None, **kw: Any) -> Field:
    return Field("string", required, enum, doc=doc, **kw)


def integer(doc: str = "", *, required: bool = False, **kw: Any) -> Field:
    return Field("integer", required, doc=doc, **kw)


def boolean(doc: str = "", *, required: bool = False) -> Field:
    return Field("boolean", required, doc=doc)


def obj(doc: str = "", *, required: bool = False, misplaced: Mapping[str, str] | None = None, **fields: Field) -> Field:
    return Field("object", required, fields=fields, misplaced=dict(misplaced or {}), doc=doc)


def arr(items: Field, doc: str = "", *, required: bool = False, **kw: Any) -> Field:
    return Field("array", required, items=items, doc=doc, **kw)


@dataclass(frozen=True)
class Issue:
    """One validation failure: where (path segments) and what."""

    path: tuple[str | int, ...]
    problem: str
    value: Any = None
    #: The full character count of a string that is too long (``value`` is cut to 40 characters).
    length: int | None = None

    @property
    def dotted(self) -> str:
        """``stock.stock_send_rule.max_count`` / ``list[0].x`` (the form used in exception messages)."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    @property
    def pointer(self) -> str:
        """RFC 6901 JSON pointer (``/stock/stock_send_rule/max_count``), as WeChat Pay's ``detail.field``."""
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in self.path)

    def __str__(self) -> str:
        return f"{self.dotted or '(body)'}: {self.problem}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for name, kinds in _TYPES.items():
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def check(spec: Field, value: Any, path: tuple[str | int, ...] = ()) -> Iterator[Issue]:
    """Yield every issue of ``value`` against ``spec``, depth first, in table order."""
    item: Any
    if _type_name(value) != spec.type:
        yield Issue(path, f"must be {spec.type}, got {_type_name(value)}", value)
        return
    if spec.type == "string":
        yield from _check_string(spec, value, path)
    elif spec.type == "integer":
        if spec.minimum is not None and value < spec.minimum:
            yield Issue(path, f"must be ≥ {spec.minimum}", value)
        if spec.maximum is not None and value > spec.maximum:
            yield Issue(path, f"must be ≤ {spec.maximum}", value)
    elif spec.type == "array":
        if spec.min_items is not None and len(value) < spec.min_items:
            yield Issue(path, f"must have at least {spec.min_items} item(s)", None)
        if spec.max_items is not None and len(value) > spec.max_items:
            yield Issue(path, f"must have at most {spec.max_items} item(s)", None)
        if spec.items is not None:
            for i, item in enumerate(value):
                yield from check(spec.items, item, (*path, i))
    elif spec.type == "object" and spec.fields is not None:
        for name, sub in spec.fields.items():
            if name not in value:
                if sub.required:
                    yield Issue((*path, name), "required")
                continue
            if value[name] is None:
                yield Issue((*path, name), "must not be null (omit the member instead)")
                continue
            yield from check(sub, value[name], (*path, name))
        for name in value:
            if name not in spec.fields:
                hint = spec.misplaced.get(name)
                yield Issue((*path, name), f"unknown field{'; ' + hint if hint else ''}", None)


def _check_string(spec: Field, value: str, path: tuple[str | int, ...]) -> Iterator[Issue]:
    if spec.enum is not None and value not in spec.enum:
        yield Issue(path, f"must be one of {' | '.join(spec.enum)}, got {value[:40]!r}", value)
        return
    if spec.min_length is not None and len(value) < spec.min_length:
        yield Issue(path, f"must be at least {spec.min_length} characters", value)
    if spec.max_length is not None and len(value) > spec.max_length:
        yield Issue(path, f"must be at most {spec.max_length} characters", value[:40], len(value))
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        yield Issue(path, f"must match {spec.pattern}", value[:40])
    if spec.format == "date-time" and not _DATE_TIME.match(value):
        yield Issue(path, "must be an RFC 3339 time such as 2025-08-01T00:00:00+08:00", value[:40])


def response_issue(spec: Field, value: Any, path: tuple[str | int, ...] = ()) -> Issue | None:
    """The first issue of an answer; members the table does not list are tolerated (WeChat Pay adds them).

    Same verdict as :func:`check` without its unknown-field issues, but a plain recursion that stops at the
    first issue and skips unconstrained scalars: the sandbox runs it on every answer, big lists included.
    """
    kind = type(value)
    if spec.type == "object" and spec.fields is not None and kind is dict:
        for name, sub in spec.fields.items():
            member = value.get(name, _MISSING)
            if member is _MISSING:
                if sub.required:
                    return Issue((*path, name), "required")
            elif member is None:
                return Issue((*path, name), "must not be null (omit the member instead)")
            else:
                issue = response_issue(sub, member, (*path, name))
                if issue is not None:
                    return issue
        return None
    if spec.type == "array" and kind is list and spec.min_items is None and spec.max_items is None:
        if spec.items is not None:
            for i, item in enumerate(value):
                issue = response_issue(spec.items, item, (*path, i))
                if issue is not None:
                    return issue
        return None
    if _PLAIN.get(spec.type) is kind and spec.min_length is None and spec.max_length is None \
            and spec.pattern is None and spec.format is None and spec.minimum is None and spec.maximum is None \
            and (spec.enum is None or value in spec.enum):
        return None
    return next((i for i in check(spec, value, path) if not i.problem.startswith("unknown field")), None)


_MISSING = object()
_PLAIN: dict[str, type] = {"string": str, "integer": int, "boolean": bool}


def first_issue(spec: Field, value: Any, path: tuple[str | int, ...] = ()) -> Issue | None:
    """The first issue (what a server reports), or ``None`` when ``value`` conforms."""
    return next(check(spec, value, path), None)
