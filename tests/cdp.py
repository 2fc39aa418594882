"""A headless Chromium driven over the DevTools protocol with aiohttp's websocket client (no extra package).

``async with Chromium.launch() as page: await page.goto(url); await page.click("#pay")``. It starts
``/usr/bin/chromium`` (Debian's, installed by ``.ci/run``) with a throw-away profile, finds the first page's
websocket in ``/json/list`` and speaks CDP: navigate, evaluate, click (and wait for the page it loads),
screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=480,900",
)


class Chromium:
    """One tab of a headless Chromium."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, timeout: float = 30.0) -> AsyncIterator[Chromium]:
        profile = tempfile.mkdtemp(prefix="wxpay-chromium-")
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        try:
            port = await _devtools_port(Path(profile), proc, timeout)
            async with aiohttp.ClientSession() as session:
                ws_url = await _page_socket(session, port, timeout)
                async with session.ws_connect(ws_url, max_msg_size=64 * 1024 * 1024) as ws:
                    page = cls(ws)
                    try:
                        await page.send("Page.enable")
                        await page.send("Runtime.enable")
                        yield page
                    finally:
                        page._reader.cancel()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except asyncio.TimeoutError:
                    os.killpg(proc.pid, signal.SIGKILL)
                    await proc.wait()
            shutil.rmtree(profile, ignore_errors=True)

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                if "error" in data:
                    future.set_exception(RuntimeError(f"CDP error: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif "method" in data:
                self._events.put_nowait(data)

    async def send(self, method: str, **params: Any) -> Any:
        number = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        await self._ws.send_json({"id": number, "method": method, "params": params})
        return await asyncio.wait_for(future, 30)

    async def _loaded(self, timeout: float = 30.0) -> None:
        async def until() -> None:
            while (await self._events.get())["method"] != "Page.loadEventFired":
                pass

        await asyncio.wait_for(until(), timeout)

    def _drain(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    async def goto(self, url: str) -> None:
        self._drain()
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"navigation to {url} failed: {result['errorText']}")
        await self._loaded()

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def text(self, selector: str) -> str | None:
        return await self.evaluate(f"(e => e && e.textContent)(document.querySelector({selector!r}))")  # type: ignore[no-any-return]

    async def click(self, selector: str) -> None:
        """Click an element that submits a form, and wait for the page the submission loads."""
        self._drain()
        found = await self.evaluate(f"(e => {{ if (!e) return false; e.click(); return true; }})"
                                    f"(document.querySelector({selector!r}))")
        if not found:
            raise LookupError(f"no element matches {selector}")
        await self._loaded()

    async def screenshot(self, path: str | os.PathLike[str]) -> None:
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(Path(path).write_bytes, base64.b64decode(shot["data"]))


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process, timeout: float) -> int:
    marker = profile / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if marker.exists():
            first = marker.read_text().split("\n", 1)[0].strip()
            if first.isdigit():
                return int(first)
        await asyncio.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


async def _page_socket(session: aiohttp.ClientSession, port: int, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        await asyncio.sleep(0.05)
    raise TimeoutError("chromium has no page target")
