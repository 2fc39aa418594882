"""The chainable URI builder: ``client.v3.pay.transactions._out_trade_no_.get(...)``.

A node is an immutable path. Attribute access appends a normalised segment (camelCase → kebab-case,
``_x_`` → ``{x}``, ``global_`` → ``global``); item access appends text literally. The only public
attributes are the five verbs, and each verb is itself a node, so ``….receivers.delete.post()`` posts to
``…/receivers/delete`` while ``….x.delete()`` sends DELETE to ``…/x``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Awaitable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar

from ._template import Template, parse

if TYPE_CHECKING:
    from ._response import Response

__all__ = ["Node", "SyncNode", "normalize"]

R = TypeVar("R", covariant=True)

VERBS = ("get", "post", "put", "patch", "delete")
_KEYWORDS = frozenset(k for k in keyword.kwlist if k.islower())
_UPPER = re.compile(r"[A-Z]")
# Names that tools probe for and that look like placeholders; they must never become segments.
_PROBE_PREFIXES = ("repr_", "ipython_", "_", "pytest", "mock_", "jupyter", "fields")


class _Dispatcher(Protocol[R]):
    def _call(self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> R: ...


@lru_cache(maxsize=4096)
def normalize(name: str) -> str:
    """Map a Python attribute name to a URL segment, or raise ``AttributeError`` for names that are not segments."""
    if name.startswith("_"):
        inner = name[1:-1]
        if len(name) < 3 or not name.endswith("_") or name.startswith("__") or inner.startswith(_PROBE_PREFIXES):
            raise AttributeError(name)
        return "{" + _kebab(inner) + "}"
    if name.endswith("_") and name[:-1] in _KEYWORDS:
        return name[:-1]
    return _kebab(name)


def _kebab(name: str) -> str:
    if name[:1].isupper() and name[:1].isascii():
        name = name[0].lower() + name[1:]
    return _UPPER.sub(lambda m: "-" + m.group(0).lower(), name)


class _Base(Generic[R]):
    __slots__ = ("_children", "_client", "_path")

    _client: Any  # a _Dispatcher[R]; typed loosely because slots + Protocol confuse checkers
    _path: str
    _children: dict[str, Any]

    def __init__(self, client: _Dispatcher[R], path: str) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_children", {})

    def _join(self, segment: str) -> str:
        return f"{self._path}/{segment}" if self._path else segment

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path or '/'}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __dir__(self) -> list[str]:
        return list(VERBS)

    def __copy__(self) -> _Base[R]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Base[R]:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} holds a live client and cannot be pickled; pickle str(node) "
            f"({self._path!r}) and rebuild it with client.chain(...)"
        )

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is not iterable; call .get()/.post()/... to send a request")


class Node(_Base["Awaitable[Response]"]):
    """An async path node. Verbs (``get``, ``post``, ``put``, ``patch``, ``delete``) return coroutines."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Node:
        child = self._children.get(name)
        if child is None:
            try:
                segment = normalize(name)
            except AttributeError:
                raise AttributeError(
                    f"{name!r} is not a path segment of {self._path!r}; use node[{name!r}] for a literal segment"
                ) from None
            child = self._children[name] = Node(self._client, self._join(segment))
        return child  # type: ignore[no-any-return,unused-ignore]

    def __getitem__(self, segment: str) -> Node:
        if not isinstance(segment, str):
            raise TypeError(f"path segments are strings, not {type(segment).__name__}")
        return Node(self._client, self._join(segment))

    @property
    def get(self) -> AsyncVerb:
        return self._verb("get")

    @property
    def post(self) -> AsyncVerb:
        return self._verb("post")

    @property
    def put(self) -> AsyncVerb:
        return self._verb("put")

    @property
    def patch(self) -> AsyncVerb:
        return self._verb("patch")

    @property
    def delete(self) -> AsyncVerb:
        return self._verb("delete")

    def _verb(self, verb: str) -> AsyncVerb:
        node = self._children.get(verb)
        if node is None:
            node = self._children[verb] = AsyncVerb(self._client, self._join(verb), verb.upper(), self._path)
        return node  # type: ignore[no-any-return,unused-ignore]


class AsyncVerb(Node):
    """A verb that is also a path segment: call it to send ``METHOD parent``, chain on to go deeper."""

    __slots__ = ("_method", "_parent")

    def __init__(self, client: _Dispatcher[Awaitable[Response]], path: str, method: str, parent: str) -> None:
        super().__init__(client, path)
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_parent", parent)

    def __call__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Awaitable[Response]:
        result: Any = self._client._call(self._method, parse(self._parent), (options,), kwargs)
        return result  # type: ignore[no-any-return,unused-ignore]


class SyncNode(_Base["Response"]):
    """A blocking path node (from :class:`SyncClient`): verbs return the :class:`Response`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> SyncNode:
        child = self._children.get(name)
        if child is None:
            try:
                segment = normalize(name)
            except AttributeError:
                raise AttributeError(
                    f"{name!r} is not a path segment of {self._path!r}; use node[{name!r}] for a literal segment"
                ) from None
            child = self._children[name] = SyncNode(self._client, self._join(segment))
        return child  # type: ignore[no-any-return,unused-ignore]

    def __getitem__(self, segment: str) -> SyncNode:
        if not isinstance(segment, str):
            raise TypeError(f"path segments are strings, not {type(segment).__name__}")
        return SyncNode(self._client, self._join(segment))

    @property
    def get(self) -> SyncVerb:
        return self._verb("get")

    @property
    def post(self) -> SyncVerb:
        return self._verb("post")

    @property
    def put(self) -> SyncVerb:
        return self._verb("put")

    @property
    def patch(self) -> SyncVerb:
        return self._verb("patch")

    @property
    def delete(self) -> SyncVerb:
        return self._verb("delete")

    def _verb(self, verb: str) -> SyncVerb:
        node = self._children.get(verb)
        if node is None:
            node = self._children[verb] = SyncVerb(self._client, self._join(verb), verb.upper(), self._path)
        return node  # type: ignore[no-any-return,unused-ignore]


class SyncVerb(SyncNode):
    """Blocking twin of :class:`AsyncVerb`."""

    __slots__ = ("_method", "_parent")

    def __init__(self, client: _Dispatcher[Response], path: str, method: str, parent: str) -> None:
        super().__init__(client, path)
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_parent", parent)

    def __call__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Response:
        result: Any = self._client._call(self._method, parse(self._parent), (options,), kwargs)
        return result  # type: ignore[no-any-return,unused-ignore]
