"""docs/frameworks.md, run with the real frameworks: each recipe serves its app on a loopback port, creates a
Native order through it against the sandbox, and receives the sandbox's signed callback on its notify route.

Each recipe runs in its own interpreter (Django's settings are global to a process), with warnings as errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from conftest import Keys

from wechatpay_chain import Client
from wechatpay_chain.notify import Notification, respond
from wechatpay_chain.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "frameworks.md"


def recipe(heading: str) -> str:
    """The one ```python block under the ``## heading`` of docs/frameworks.md."""
    text = PAGE.read_text()
    section = text[text.index(f"\n## {heading}") :]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, heading
    return blocks[0]


@pytest.mark.parametrize(
    ("heading", "paid_line"),
    [
        ("aiohttp (`cleanup_ctx`)", r"204 \{'[0-9a-f]{16}': '\d+'\}"),
        ("FastAPI / Starlette (`lifespan`)", r"204 \{'[0-9a-f]{16}': '\d+'\}"),
        ("Django (sync and async views)", r"204 \{'trade_state': 'SUCCESS', 'paid': True\}"),
        ("Flask (`SyncClient`)", r"204 \{'[0-9a-f]{16}': '\d+'\}"),
    ],
)
def test_recipe_runs_with_the_real_framework(heading: str, paid_line: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATPAY_")}
    env["PYTHONWARNINGS"] = "error"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", recipe(heading)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [line for line in proc.stdout.splitlines() if line.startswith(("204 ", "401 "))]
    assert len(printed) == 2, proc.stdout
    assert re.fullmatch(paid_line, printed[0]), printed[0]  # the order was paid and the callback verified
    assert printed[1] == """401 b'{"code":"FAIL","message":"verification failed: bad_signature"}'"""
    assert "Traceback" not in proc.stderr


def test_every_recipe_is_tested() -> None:
    headings = re.findall(r"^## (.+)$", PAGE.read_text(), re.M)
    assert headings == [
        "aiohttp (`cleanup_ctx`)",
        "FastAPI / Starlette (`lifespan`)",
        "Django (sync and async views)",
        "Flask (`SyncClient`)",
    ]


async def test_starlette_lifespan_and_raw_body_in_process(keys: Keys) -> None:
    """Plain Starlette (no FastAPI) as the page describes it, in-process: its lifespan, httpx's ASGI transport."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    paid: list[str] = []

    async with Sandbox(merchant=keys.merchant, platform=keys.platform) as sb:

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with Client(**sb.config) as wxpay:
                app.state.wxpay = wxpay
                yield
            paid.append("closed")

        async def wxpay_notify(request: Request) -> Response:
            def on_paid(note: Notification) -> None:
                paid.append(note.resource["out_trade_no"])

            status, body = await respond(request.app.state.wxpay, request.headers, await request.body(), on_paid)
            return Response(body, status, media_type="application/json" if body else None)

        app = Starlette(routes=[Route("/wxpay/notify", wxpay_notify, methods=["POST"])], lifespan=lifespan)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            headers, body = sb.signed_notification(event_type="TRANSACTION.SUCCESS", resource={"out_trade_no": "T1"})
            assert (await http.post("/wxpay/notify", headers=headers, content=body)).status_code == 204
            reencoded = body.replace(b'","', b'", "')  # what parsing and re-encoding the JSON would send
            assert reencoded != body
            refused = await http.post("/wxpay/notify", headers=headers, content=reencoded)
            assert refused.status_code == 401 and refused.json()["code"] == "FAIL"
    assert paid == ["T1", "closed"]
