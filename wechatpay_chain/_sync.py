"""``SyncClient``: the same chain with blocking verbs, for scripts, WSGI apps and task queues.

Each calling thread gets its own event loop and aiohttp session, owned by the ``SyncClient`` (a twin of the
async client sharing its settings, signer and verifier), and a call runs on that loop in the caller's own
thread: no hand-off to another thread per call. A thread that finished leaves its loop and warm connections
to the next new thread; ``close()`` closes every one. A forked process (gunicorn or uWSGI workers) starts
afresh and never reads, writes or closes the parent's connections. Promise verbs (``postAsync``…), ``run()``
and the platform-certificate downloads use one background loop thread, started when first needed.

Called from a thread that runs an event loop, blocking calls raise :class:`EventLoopError` instead of
blocking that loop (use ``Client`` and ``await`` there). Validation happens in the caller's thread, before
any I/O.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import selectors
import socket
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from . import _loops
from ._chain import SyncNode
from ._client import Client
from ._keywords import check_keywords, parameters
from ._response import Response
from ._template import Template
from .certificates import CertificateManager
from .errors import ConfigError, TransportError

__all__ = ["SyncClient"]

_CLIENT_KEYWORDS = parameters(Client.__init__)
#: Threads in calls on their own loops at once from which further calls go to the shared home loop instead
#: (measured in benchmarks/run.py, 16 threads: 1.3× the throughput of a loop per thread).
_SHARED_LOOP_AT = 2
T = TypeVar("T")
_CLOSED = "this client is closed; create a new one"
#: What a forked child inherited from its parent: kept (never closed, so nothing is unregistered from the
#: parent's epoll or sent on its connections), with its file descriptors pointed at /dev/null.
_INHERITED: list[object] = []
_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()
_FORK_LOCKS: dict[int, threading.Lock] = {}


class _Resources:
    """One event loop and the sockets its client opened, so a forked child can let go of them."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        if hasattr(os, "fork"):
            self.selector: selectors.BaseSelector | None = selectors.DefaultSelector()
            self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(self.selector)
        else:  # no fork, nothing to let go of: the platform's default loop
            self.selector = None
            self.loop = asyncio.new_event_loop()

    def socket(self, addr_info: Any) -> socket.socket:
        """aiohttp's ``socket_factory``: the socket it would make, remembered (weakly)."""
        sock = socket.socket(family=addr_info[0], type=addr_info[1], proto=addr_info[2])
        self.sockets.add(sock)
        return sock

    def forsake(self) -> None:
        """In a forked child: point every descriptor of the parent's loop and connections at /dev/null (the
        parent's sockets and epoll stay untouched and close when the parent closes them) and keep the objects."""
        fds = {s.fileno() for s in list(self.sockets)}
        if self.selector is not None and not self.loop.is_closed():
            fds |= {key.fd for key in self.selector.get_map().values()}
            fileno = getattr(self.selector, "fileno", None)  # epoll, kqueue, devpoll: the selector's own fd
            if fileno is not None:
                fds.add(fileno())
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in fds - {-1}:
                with contextlib.suppress(OSError):
                    os.dup2(devnull, fd)
        finally:
            os.close(devnull)
        _INHERITED.append(self)


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Finish a loop that is not running: cancel what is left, stop its executor threads, close it."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


class _Lane(_Resources):
    """A thread's loop and client twin. ``lock`` is held for each call, so ``close()`` knows when it may finish."""

    def __init__(self, template: Client, certificates: CertificateManager | None) -> None:
        super().__init__()
        self.owner = threading.current_thread()
        self.lock = threading.Lock()
        self.client = template._sibling(certificates)
        self.client._socket_factory = self.socket

    def shutdown(self) -> None:
        if not self.lock.acquire(blocking=False):
            # Its thread is in a call: close the session from inside that loop (the call ends with "closed
            # while in flight", as it did when one loop thread served every call), then wait for the call.
            with contextlib.suppress(RuntimeError):  # RuntimeError: closed meanwhile
                self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self.client.aclose()))
            self.lock.acquire()
        try:
            if not self.loop.is_closed():
                self.loop.run_until_complete(self.client.aclose())
                _drain(self.loop)
        finally:
            self.lock.release()


class _Home(_Resources):
    """The background loop thread for promises, ``run()`` and certificate downloads (the template client's)."""

    def __init__(self, template: Client) -> None:
        super().__init__()
        template._socket_factory = self.socket
        self.thread = threading.Thread(target=self.loop.run_forever, name="wechatpay-chain-sync", daemon=True)
        self.thread.start()

    def shutdown(self, template: Client, *, wait: bool = True) -> None:
        """``wait=False`` when closed from this loop's own thread (a hook, or garbage collection there), which
        cannot wait for its own loop: the session closes there, then the loop stops and the thread ends."""
        if not wait:
            loop = self.loop
            loop.call_soon_threadsafe(lambda: loop.create_task(template.aclose()).add_done_callback(
                lambda _: loop.stop()))
            return
        try:
            asyncio.run_coroutine_threadsafe(template.aclose(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            _drain(self.loop)


class _SharedCertificates:
    """A thread twin's view of the one :class:`CertificateManager`, whose downloads and periodic refresh run
    on the home loop (their tasks belong to one loop). Reads (``certificates``, ``newest()``…) pass through."""

    def __init__(self, manager: CertificateManager, pool: _Pool) -> None:
        self._manager = manager
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def _at_home(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            loop = self._pool.home_loop()
        except BaseException:
            coro.close()
            raise
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def ensure_loaded(self) -> None:
        if not self._manager.settled():  # per request: a plain check, the hand-off happens once
            await self._at_home(self._manager.ensure_loaded())

    async def on_unknown_serial(self, serial: str) -> bool:
        return await self._at_home(self._manager.on_unknown_serial(serial))

    async def refresh(self) -> Any:
        return await self._at_home(self._manager.refresh())

    async def aclose(self) -> None:
        """Nothing of its own: the manager closes with the template client."""


class _Pool:
    """Every loop a :class:`SyncClient` made (per thread, plus the home one), and the fork bookkeeping."""

    def __init__(self, template: Client) -> None:
        self.template = template
        self.lock = threading.Lock()
        self.local = threading.local()
        self.lanes: list[_Lane] = []
        self.home: _Home | None = None
        self.pid = os.getpid()
        self.closed = False
        self.certificates: CertificateManager | None = None
        if template.certificates is not None:
            self.certificates = cast(CertificateManager, _SharedCertificates(template.certificates, self))
        _POOLS.add(self)

    # -- per thread -------------------------------------------------------------------------------------
    def lane(self) -> _Lane:
        lane: _Lane | None = getattr(self.local, "lane", None)
        if lane is not None and lane.pid == os.getpid():
            return lane
        self.check_fork()
        with self.lock:
            if self.closed:
                raise TransportError(_CLOSED)
            me = threading.current_thread()
            lane = next((old for old in self.lanes if not old.owner.is_alive()), None)
            if lane is not None:  # a finished thread's loop and warm connections
                lane.owner = me
            else:
                lane = _Lane(self.template, self.certificates)
                self.lanes.append(lane)
        self.local.lane = lane
        return lane

    def home_loop(self) -> asyncio.AbstractEventLoop:
        self.check_fork()
        with self.lock:
            if self.closed:
                raise TransportError(_CLOSED)
            if self.home is None:
                self.home = _Home(self.template)
            return self.home.loop

    # -- fork -------------------------------------------------------------------------------------------
    def check_fork(self) -> None:
        """A fork the at-fork hook did not see (uWSGI without ``py-call-osafterfork``): let go here."""
        pid = os.getpid()
        if self.pid != pid:
            with _FORK_LOCKS.setdefault(pid, threading.Lock()):
                if self.pid != pid:
                    self.forsake()

    def forsake(self) -> None:
        """In a forked child (one thread): drop the parent's loops and connections without touching them."""
        lanes, home = self.lanes, self.home
        self.lock = threading.Lock()  # another parent thread may have held the old one at fork time
        self.local = threading.local()
        self.lanes, self.home = [], None
        self.pid = os.getpid()
        for resources in [*lanes, *([home] if home else [])]:
            resources.forsake()
        template = self.template
        if home is not None:
            _INHERITED.append(template._session)
            template._session, template._loop, template._inflight = None, None, 0
        if template.certificates is not None:
            template.certificates.forget_tasks()

    # -- close ------------------------------------------------------------------------------------------
    def close(self) -> None:
        self.check_fork()
        with self.lock:
            if self.closed:
                return
            self.closed = True
            lanes, home = self.lanes, self.home
            self.lanes, self.home = [], None
        template = self.template
        on_home = home is not None and threading.current_thread() is home.thread

        def shutdown() -> None:
            errors: list[BaseException] = []
            for lane in lanes:
                try:
                    lane.shutdown()
                except Exception as exc:  # close the others all the same
                    errors.append(exc)
            if home is not None:
                home.shutdown(template, wait=not on_home)
            else:  # the template never did I/O: close it (and its certificate manager) on a throwaway loop
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(template.aclose())
                finally:
                    loop.close()
            if errors:
                raise errors[0]

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return shutdown()
        # Called inside a running loop (this thread cannot run another): close from a short-lived thread.
        failure: list[BaseException] = []

        def guarded() -> None:
            try:
                shutdown()
            except BaseException as exc:
                failure.append(exc)

        helper = threading.Thread(target=guarded, name="wechatpay-chain-close")
        helper.start()
        helper.join()
        if failure:
            raise failure[0]
        return None


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        if pool.pid != os.getpid():
            pool.forsake()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SyncClient:
    """Blocking twin of :class:`Client`: same constructor, same chain, verbs return :class:`Response`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_keywords("SyncClient", kwargs, _CLIENT_KEYWORDS)
        if kwargs.get("session") is not None:
            raise ConfigError("session", "SyncClient runs its own event loops and cannot share an aiohttp session")
        self._client = Client(*args, **kwargs)
        self._pool = _Pool(self._client)
        self._busy: set[int] = set()  # threads in a call on their own loop right now
        # Closed at garbage collection or interpreter exit if the owner never called close().
        self._finalizer = weakref.finalize(self, self._pool.close)
        self._root = SyncNode(self, "")

    @property
    def client(self) -> Client:
        """The underlying async client (settings, verifier); coroutines of it go to :meth:`run`."""
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
        prepared = self._client._prepare(method, template, args, kwargs)  # validation first, in any thread
        _loops.refuse_blocking(f"{method.lower()}()")
        busy = self._busy
        if len(busy) >= _SHARED_LOOP_AT:
            # Many threads in calls at once: one loop serving them all batches their I/O, where a loop per
            # thread would pass the GIL back and forth at every socket operation.
            return asyncio.run_coroutine_threadsafe(self._client._send(prepared), self._pool.home_loop()).result()
        me = threading.get_ident()
        busy.add(me)  # set.add/discard are atomic: no lock on the fast path
        try:
            return self._blocking(lambda client: client._send(prepared))
        finally:
            busy.discard(me)

    def _blocking(self, make: Callable[[Client], Coroutine[Any, Any, T]]) -> T:
        """Run ``make(this thread's client)`` on this thread's loop, in this thread."""
        lane = self._pool.lane()
        with lane.lock:
            loop = lane.loop
            if loop.is_closed():  # close() ran since this thread's last call
                raise TransportError(_CLOSED)
            task = loop.create_task(make(lane.client))
            try:
                return loop.run_until_complete(task)
            except BaseException:
                if not task.done():  # interrupted (KeyboardInterrupt): do not leave the request running
                    task.cancel()
                    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
                raise

    def _start(
        self, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> concurrent.futures.Future[Response]:
        """Validate in this thread, then send on the home loop thread (``postAsync`` promises wait on the future:
        they run concurrently, and may be awaited inside a running loop)."""
        prepared = self._client._prepare(method, template, args, kwargs)
        loop = self._pool.home_loop()
        return asyncio.run_coroutine_threadsafe(self._client._send(prepared), loop)

    def parse_notification(self, headers: Any, body: bytes | str) -> Any:
        """Blocking :meth:`Client.parse_notification` (verify + decrypt a callback)."""
        _loops.refuse_blocking("parse_notification()")
        return self._blocking(lambda client: client.parse_notification(headers, body))

    def download(self, target: Any, **kwargs: Any) -> Any:
        """Blocking :meth:`Client.download` (bill and file downloads with hash check)."""
        _loops.refuse_blocking("download()")
        return self._blocking(lambda client: client.download(target, **kwargs))

    def encrypt(self, value: str, serial: str | None = None) -> Any:
        """:meth:`Client.encrypt` for a sensitive field (sets ``Wechatpay-Serial`` on the request using it)."""
        return self._client.encrypt(value, serial)

    def decrypt(self, ciphertext: str) -> str:
        """:meth:`Client.decrypt` of a sensitive answer field with the merchant key."""
        return self._client.decrypt(ciphertext)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the client's background loop and wait for it (for helpers built on
        :attr:`client`, the async client, whose own I/O runs on that loop)."""
        try:
            _loops.refuse_blocking(f"{getattr(coro, '__name__', 'run')}()")
            loop = self._pool.home_loop()
        except BaseException:
            if asyncio.iscoroutine(coro):
                coro.close()  # never awaited: close it so Python does not warn about it
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close(self) -> None:
        """Close every session and loop this client made (all threads'), and its background thread. Idempotent."""
        self._pool.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._client).replace("<Client", "<SyncClient", 1)
