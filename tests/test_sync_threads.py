"""SyncClient runs each call on the calling thread's own loop: threads, forked workers, no leaks (issue 16)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import MCHID, FakeWeChat
from wxfixtures import APIV3_KEY, CertRoute

from wechatpay_chain import RequestEvent, SyncClient, TransportError, _sync
from wechatpay_chain.testing import sign_response_headers


def client_of(fake: FakeWeChat, **options: Any) -> SyncClient:
    options.setdefault("certs", fake.certs())
    options.setdefault("base_url", fake.base_url)
    return SyncClient(MCHID, fake.keys.merchant.serial, fake.keys.merchant.private_key, **options)


def start_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """``call()`` in a new thread; what it raises lands in the list."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # reported to the test's thread through the list
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


def sockets() -> set[str]:
    """This process's open sockets, as ``socket:[inode]``."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, gone
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def sockets_return_to(expected: set[str]) -> bool:
    """True once this process's sockets are ``expected`` again: the server side of a closed connection (the
    test server runs in this process) closes when its loop reads the EOF, a moment after the client's close."""
    deadline = time.monotonic() + 5
    while sockets() != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_each_call_runs_in_the_calling_thread(fake_thread: FakeWeChat) -> None:
    ran_in: list[str] = []

    def hook(event: RequestEvent) -> None:
        ran_in.append(threading.current_thread().name)

    with client_of(fake_thread, hooks=[hook]) as wxpay:
        assert wxpay.v3.a.get().status == 200
        worker = threading.Thread(target=lambda: wxpay.v3.b.post(json={"x": 1}), name="worker-1")
        worker.start()
        worker.join(30)
    assert ran_in == [threading.current_thread().name, "worker-1"]  # no hand-off to a loop thread


def test_sixteen_threads_share_one_client_and_close_leaves_nothing(fake_thread: FakeWeChat) -> None:
    # "localhost" makes each loop resolve the name in its executor thread: those threads must end too.
    base_url = fake_thread.base_url.replace("127.0.0.1", "localhost")
    sockets_before, threads_before = sockets(), threading.active_count()
    wxpay = client_of(fake_thread, base_url=base_url)
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(n: int) -> None:
        try:
            start.wait(30)
            for i in range(5):
                answer = wxpay.v3.n._n_.post(n=str(n), json={"i": i}).json()
                assert answer["path"] == f"/v3/n/{n}" and answer["json"] == {"i": i}
                results.append(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(results) == sorted(list(range(16)) * 5)
    lanes = len(wxpay._pool.lanes)  # busy threads beyond the first ones share the background loop instead
    assert 1 <= lanes <= 16
    # New threads take over the loops (and warm connections) of finished ones instead of making more.
    for _ in range(4):
        later = threading.Thread(target=lambda: wxpay.v3.again.get())
        later.start()
        later.join(30)
    assert len(wxpay._pool.lanes) == lanes
    wxpay.close()
    assert sockets_return_to(sockets_before)
    assert threading.active_count() == threads_before
    with pytest.raises(TransportError, match="closed"):
        wxpay.v3.x.get()
    newcomer, refused = start_thread(wxpay.v3.x.get)  # a thread that never called it before
    newcomer.join(10)
    assert len(refused) == 1 and isinstance(refused[0], TransportError) and "closed" in str(refused[0])


def test_threads_share_one_certificate_manager(fake_thread: FakeWeChat) -> None:
    """Downloads and the periodic refresh run once for the client, on its background loop, not per thread."""
    route = CertRoute([fake_thread.keys.platform], fake_thread.keys.platform, delay=0.05)
    fake_thread.routes[("GET", "/v3/certificates")] = route
    wxpay = client_of(fake_thread, certs=None, apiv3_key=APIV3_KEY)
    serials: list[str | None] = []
    threads = [threading.Thread(target=lambda: serials.append(wxpay.v3.x.get().verified_serial)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert serials == [fake_thread.keys.platform.serial] * 8 and route.downloads == 1
    manager = wxpay.client.certificates
    assert manager is not None and manager.newest() is not None and manager.settled()
    # A rotation seen by one thread's call (an unknown serial) refreshes the shared keys for every thread.
    route.listed = [fake_thread.keys.platform, fake_thread.keys.platform2]

    def tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        platform2 = fake_thread.keys.platform2
        return sign_response_headers(body, platform2.private_key, platform2.serial), body

    fake_thread.tamper = tamper
    assert wxpay.v3.y.get().verified_serial == fake_thread.keys.platform2.serial
    assert route.downloads == 2
    background = manager._background  # the periodic refresh, on the background loop
    assert background is not None and not background.done()
    wxpay.close()
    assert background.cancelled()


def test_close_from_another_thread_ends_a_call_in_flight(fake_thread: FakeWeChat) -> None:
    arrived = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:  # takes the request and never answers

        def accept() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                arrived.set()
                conn.recv(65536)  # until the client closes its end

        server = threading.Thread(target=accept)
        server.start()
        wxpay = client_of(fake_thread, base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/")
        caller, outcome = start_thread(wxpay.v3.slow.get)
        assert arrived.wait(10)
        started = time.monotonic()
        wxpay.close()
        caller.join(10)
        server.join(10)
    assert time.monotonic() - started < 5
    assert len(outcome) == 1 and isinstance(outcome[0], TransportError) and "closed" in str(outcome[0])


def test_close_inside_a_running_loop_and_promises_still_work(fake_thread: FakeWeChat) -> None:
    wxpay = client_of(fake_thread)
    assert wxpay.v3.a.get().status == 200
    assert wxpay.v3.b.getAsync().wait().status == 200  # promises run on the background loop thread
    threads = threading.active_count()

    async def inside() -> None:
        wxpay.close()  # this thread runs a loop: the closing happens on a short-lived thread

    asyncio.run(inside())
    assert threading.active_count() == threads - 1  # the background loop thread has ended
    assert wxpay.client.closed


@pytest.mark.parametrize("hooked", [True, False], ids=["at-fork hook", "pid check (uWSGI without osafterfork)"])
def test_a_forked_child_uses_the_parents_client_without_sharing_its_sockets(
    fake_thread: FakeWeChat, hooked: bool
) -> None:
    wxpay = client_of(fake_thread)
    before = sockets()
    assert wxpay.v3.parent.get().status == 200  # the parent now holds a pooled keep-alive connection
    assert wxpay.v3.parent.getAsync().wait().status == 200  # and one on the background loop
    pool = wxpay._pool
    parents = {f"socket:[{os.fstat(s.fileno()).st_ino}]" for r in (*pool.lanes, pool.home) if r for s in r.sockets}
    assert len(parents) == 2 and parents <= sockets() - before  # its two connections (one per loop)
    if not hooked:  # as if the at-fork hook never ran: the first call in the child notices the new pid
        _sync._POOLS.discard(wxpay._pool)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only, never return into pytest
        code = 1
        try:
            signal.alarm(20)
            held = sockets()
            if hooked and held & parents:
                code = 2  # still holds a descriptor of the parent's connections
            elif wxpay.v3.child.post(json={"pid": os.getpid()}).json()["json"] != {"pid": os.getpid()}:
                code = 3
            elif sockets() & parents:
                code = 6  # let go of at the first call at the latest
            elif wxpay.v3.child.getAsync().wait().status != 200:
                code = 4
            else:
                wxpay.close()
                code = 0 if sockets() <= held else 5  # the child's own loops and connections are closed
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connections were neither closed nor disturbed by the child: reused as they were.
    assert wxpay.v3.parent.again.get().status == 200
    assert wxpay.v3.parent.again.getAsync().wait().status == 200
    assert parents <= sockets()
    wxpay.close()
    assert sockets_return_to(before)
    assert [s.target for s in fake_thread.seen].count("/v3/child") == 2


def test_close_from_a_hook_on_the_background_loop_does_not_deadlock(fake_thread: FakeWeChat) -> None:
    """A promise's hooks run on the background loop thread, which cannot wait for its own loop to close."""
    done = threading.Event()
    ran_in: list[threading.Thread] = []

    def hook(event: RequestEvent) -> None:
        ran_in.append(threading.current_thread())
        wxpay.close()
        done.set()

    wxpay = client_of(fake_thread, hooks=[hook])
    promise = wxpay.v3.bye.getAsync()
    assert done.wait(10)
    assert promise.wait().status == 200  # the answer had been read when the hook ran
    [home] = ran_in
    home.join(10)
    assert home.name == "wechatpay-chain-sync" and not home.is_alive() and wxpay.client.closed


def test_calls_beyond_two_busy_threads_share_the_background_loop(fake_thread: FakeWeChat) -> None:
    arrived, release = threading.Semaphore(0), threading.Event()

    async def hold(request: web.Request, body: bytes) -> web.StreamResponse:
        arrived.release()
        await asyncio.to_thread(release.wait, 10)
        return fake_thread.signed(200, b"{}")

    fake_thread.routes[("GET", "/v3/hold")] = hold
    ran_in: dict[str, str] = {}
    with client_of(fake_thread, hooks=[lambda e: ran_in.setdefault(e.url, threading.current_thread().name)]) as wxpay:
        holders = [start_thread(wxpay.v3.hold.get) for _ in range(2)]
        assert arrived.acquire(timeout=10) and arrived.acquire(timeout=10)  # two threads in calls on their loops
        assert wxpay.v3.third.get().status == 200
        release.set()
        for thread, raised in holders:
            thread.join(10)
            assert raised == []
        assert wxpay.v3.fourth.get().status == 200  # nobody busy: on this thread's own loop again
    assert ran_in[fake_thread.base_url + "v3/third"] == "wechatpay-chain-sync"
    assert ran_in[fake_thread.base_url + "v3/fourth"] == threading.current_thread().name
