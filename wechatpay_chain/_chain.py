"""The chainable URI builder: ``client.v3.pay.transactions._out_trade_no_.get(...)``.

A node is an immutable path. Attribute access appends a normalised segment (camelCase → kebab-case,
``_x_`` → ``{x}``, ``global_`` → ``global``); item access appends text literally. The only public
attributes are the five verbs, and each verb is itself a node, so ``….receivers.delete.post()`` posts to
``…/receivers/delete`` while ``….x.delete()`` sends DELETE to ``…/x``.
"""

from __future__ import annotations

import keyword
import re
import weakref
from collections.abc import Awaitable, Coroutine, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, TypeVar, overload

from ._template import Template, parse

if TYPE_CHECKING:
    from ._promise import Promise
    from ._response import Response

__all__ = ["Node", "SyncNode", "normalize"]

R = TypeVar("R", covariant=True)
V = TypeVar("V")

VERBS = ("get", "post", "put", "patch", "delete")
#: wechatpay-php's promise verbs. As attributes they are still the segments ``get-async``…, so a path through one
#: is unchanged; only *calling* one sends the request and returns a :class:`~._promise.Promise`.
ASYNC_VERBS = ("getAsync", "postAsync", "putAsync", "patchAsync", "deleteAsync")
_KEYWORDS = frozenset(k for k in keyword.kwlist if k.islower())
_UPPER = re.compile(r"[A-Z]")
# Names that tools probe for and that look like placeholders; they must never become segments.
_PROBE_PREFIXES = ("repr_", "ipython_", "_", "pytest", "mock_", "jupyter", "fields")


#: At most this many attribute-reached children are cached per tree (a chain walked with ever-new names, e.g.
#: ``getattr(node, user_input)``, must not keep every node for ever). Far more than any API surface needs.
CACHE_LIMIT = 4096


class ChildCache(list[tuple["weakref.ref[Any]", str]]):
    """The bound on a tree's cached children, shared by a root and every node reached from it: a list of
    ``(weak reference to the owner, name)`` entries (weak, so the cache keeps no node or client alive).

    A hit is a plain instance-dict lookup (the fast path stays untouched); only a miss comes here. When the
    cache is full, every entry is dropped and caching starts over, so hot paths are cached again at once.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, owner: object, name: str, child: object) -> None:
        """Cache ``child`` as the instance attribute ``owner.name``, within the limit."""
        if len(self) >= self.limit:
            for ref, key in self:
                holder = ref()
                if holder is not None:
                    holder.__dict__.pop(key, None)
            self.clear()
        owner.__dict__[name] = child
        self.append((weakref.ref(owner), name))


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


class _Verb(Generic[V]):
    """A verb attribute. Non-data descriptor: the verb node is cached in the instance ``__dict__``, so after the
    first access ``node.get`` is a plain attribute hit."""

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type) -> _Verb[V]: ...

    @overload
    def __get__(self, obj: _Base[Any], cls: type) -> V: ...

    def __get__(self, obj: _Base[Any] | None, cls: type) -> _Verb[V] | V:
        if obj is None:
            return self
        node: V = obj._make_verb(self.name)
        obj.__dict__[self.name] = node
        return node


class _Base(Generic[R]):
    """Shared node behaviour. State lives in ``__dict__`` (children are cached there too, within the tree's
    :class:`ChildCache` bound); writes are refused."""

    _client: Any  # a _Dispatcher[R]; typed loosely because the async and sync clients differ
    _path: str
    _cache: ChildCache

    def __init__(self, client: _Dispatcher[R], path: str, cache: ChildCache | None = None) -> None:
        d = self.__dict__
        d["_client"] = client
        d["_path"] = path
        d["_cache"] = ChildCache() if cache is None else cache

    def _join(self, segment: str) -> str:
        return f"{self._path}/{segment}" if self._path else segment

    def _segment(self, name: str) -> str:
        try:
            return normalize(name)
        except AttributeError:
            raise AttributeError(
                f"{name!r} is not a path segment of {self._path!r}; use node[{name!r}] for a literal segment"
            ) from None

    def _make_verb(self, verb: str) -> Any:
        raise NotImplementedError

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
        return [*VERBS, *ASYNC_VERBS]

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

    get: _Verb[AsyncVerb] = _Verb()
    post: _Verb[AsyncVerb] = _Verb()
    put: _Verb[AsyncVerb] = _Verb()
    patch: _Verb[AsyncVerb] = _Verb()
    delete: _Verb[AsyncVerb] = _Verb()
    getAsync: _Verb[PromiseVerb] = _Verb()  # wechatpay-php names: a promise when called, else a segment
    postAsync: _Verb[PromiseVerb] = _Verb()
    putAsync: _Verb[PromiseVerb] = _Verb()
    patchAsync: _Verb[PromiseVerb] = _Verb()
    deleteAsync: _Verb[PromiseVerb] = _Verb()

    def __getattr__(self, name: str) -> Node:
        # Only reached on a miss: the child is then cached in __dict__ and found directly next time.
        child = Node(self._client, self._join(self._segment(name)), self._cache)
        self._cache.keep(self, name, child)
        return child

    def __getitem__(self, segment: str) -> Node:
        if not isinstance(segment, str):
            raise TypeError(f"path segments are strings, not {type(segment).__name__}")
        return Node(self._client, self._join(segment), self._cache)

    def _make_verb(self, verb: str) -> AsyncVerb:
        if verb in ASYNC_VERBS:
            return PromiseVerb(self._client, self._join(normalize(verb)), verb[:-5].upper(), self._path, self._cache)
        return AsyncVerb(self._client, self._join(verb), verb.upper(), self._path, self._cache)


class AsyncVerb(Node):
    """A verb that is also a path segment: call it to send ``METHOD parent``, chain on to go deeper."""

    _method: str
    _parent: str

    def __init__(
        self,
        client: _Dispatcher[Awaitable[Response]],
        path: str,
        method: str,
        parent: str,
        cache: ChildCache | None = None,
    ) -> None:
        super().__init__(client, path, cache)
        self.__dict__["_method"] = method
        self.__dict__["_parent"] = parent

    def __call__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        template = parse(self._parent)
        result: Coroutine[Any, Any, Response] = self._client._call(self._method, template, (options,), kwargs)
        return result


class PromiseVerb(AsyncVerb):
    """``postAsync`` & co.: call it for a Guzzle-style :class:`~._promise.Promise` of ``METHOD parent``."""

    def __call__(  # type: ignore[override]
        self, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Promise:
        from ._promise import start

        return start(self._client, self._method, parse(self._parent), (options,), kwargs)


class SyncNode(_Base["Response"]):
    """A blocking path node (from :class:`SyncClient`): verbs return the :class:`Response`."""

    get: _Verb[SyncVerb] = _Verb()
    post: _Verb[SyncVerb] = _Verb()
    put: _Verb[SyncVerb] = _Verb()
    patch: _Verb[SyncVerb] = _Verb()
    delete: _Verb[SyncVerb] = _Verb()
    getAsync: _Verb[SyncPromiseVerb] = _Verb()
    postAsync: _Verb[SyncPromiseVerb] = _Verb()
    putAsync: _Verb[SyncPromiseVerb] = _Verb()
    patchAsync: _Verb[SyncPromiseVerb] = _Verb()
    deleteAsync: _Verb[SyncPromiseVerb] = _Verb()

    def __getattr__(self, name: str) -> SyncNode:
        child = SyncNode(self._client, self._join(self._segment(name)), self._cache)
        self._cache.keep(self, name, child)
        return child

    def __getitem__(self, segment: str) -> SyncNode:
        if not isinstance(segment, str):
            raise TypeError(f"path segments are strings, not {type(segment).__name__}")
        return SyncNode(self._client, self._join(segment), self._cache)

    def _make_verb(self, verb: str) -> SyncVerb:
        if verb in ASYNC_VERBS:
            segment = self._join(normalize(verb))
            return SyncPromiseVerb(self._client, segment, verb[:-5].upper(), self._path, self._cache)
        return SyncVerb(self._client, self._join(verb), verb.upper(), self._path, self._cache)


class SyncVerb(SyncNode):
    """Blocking twin of :class:`AsyncVerb`."""

    _method: str
    _parent: str

    def __init__(
        self, client: _Dispatcher[Response], path: str, method: str, parent: str, cache: ChildCache | None = None
    ) -> None:
        super().__init__(client, path, cache)
        self.__dict__["_method"] = method
        self.__dict__["_parent"] = parent

    def __call__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Response:
        result: Response = self._client._call(self._method, parse(self._parent), (options,), kwargs)
        return result


class SyncPromiseVerb(SyncVerb):
    """``postAsync`` & co. on a :class:`SyncClient`: the request starts at once on the client's loop thread;
    ``wait()`` blocks for it and runs the ``then``/``otherwise`` callbacks in the waiting thread."""

    def __call__(  # type: ignore[override]
        self, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Promise:
        from ._promise import start

        return start(self._client, self._method, parse(self._parent), (options,), kwargs)
