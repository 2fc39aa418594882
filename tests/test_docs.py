"""Every Python block of README.md and docs/**/*.md runs in the test suite exactly as written.

How to write a documentation block (README "Writing documentation" says the same):

* A block fenced ```python (or ```py) is a complete program: paste it into a file, run it, it works. Async code
  goes in ``async def main()`` + ``asyncio.run(main())`` (no top-level ``await`` or ``async with``). It must run
  offline against the embedded sandbox (``wechatpay_chain.sandbox.Sandbox`` / ``SyncSandbox``): this test
  refuses to resolve any host name other than ``localhost``, so a block that would reach WeChat Pay fails here.
* A block whose first line starts with ``# continued`` (e.g. ``# continued from the block above``) runs after
  the blocks before it on the same page, back to the nearest block without that line, as if pasted below them
  in the same file.
* A block whose first line starts with ``# needs a real merchant account`` (e.g. ``# needs a real merchant
  account — compiled only, not run``) is only compiled. Use it only when the block cannot work offline: it
  needs WeChat Pay itself (a merchant's keys and ids, mutual TLS, an endpoint the sandbox does not serve yet).
  Everything else gets fixed so that it runs.
* Shell commands go in ```sh blocks and are not run here (CI runs the README's two commands).

Each block runs in-process, as ``__main__``, in an empty temporary working directory, with a time limit.
"""

from __future__ import annotations

import ast
import importlib.util
import ipaddress
import re
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The Chinese twins (README.zh-CN.md, docs/zh-CN/) hold the same blocks in the same order, byte for byte
# (tests/test_docs_zh.py proves it), so their blocks are run once, here, as the English pages' blocks.
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "zh-CN" not in p.parts)]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<code>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PYTHON = {"python", "py", "python3"}
REAL_MERCHANT = "# needs a real merchant account"
CONTINUED = "# continued"
TIME_LIMIT = 60  # seconds per block


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    code: str

    @property
    def name(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.code.lstrip("\n").split("\n", 1)[0].strip()

    @property
    def real_merchant(self) -> bool:
        return self.first_line.startswith(REAL_MERCHANT)

    @property
    def continued(self) -> bool:
        return self.first_line.startswith(CONTINUED)


def python_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        if m["lang"].lower() in PYTHON:
            indent = len(m["indent"])
            code = "\n".join(line[indent:] for line in m["code"].split("\n"))
            blocks.append(Block(page, text.count("\n", 0, m.start()) + 1, code))
    return blocks


BLOCKS = [block for page in PAGES for block in python_blocks(page)]


def program(block: Block, blocks: list[Block] = BLOCKS) -> str:
    """The block's code, preceded by the blocks it continues (as if pasted below them in one file)."""
    chain = [block]
    index = blocks.index(block)
    while chain[0].continued:
        index -= 1
        if index < 0 or blocks[index].page != block.page:
            raise AssertionError(f"{chain[0].name}: '# continued' with no block above it on the page")
        chain.insert(0, blocks[index])
    return "\n".join(b.code for b in chain)


def test_every_page_with_python_is_found() -> None:
    """Guards the discovery: a fence the regex misses would silently run nothing."""
    pages = {b.page for b in BLOCKS}
    for page in PAGES:
        raw = page.read_text(encoding="utf-8")
        opened = len(
            re.findall(r"^[ \t]*```+[ \t]*(?:python|py|python3)[ \t]*$", raw, flags=re.MULTILINE | re.IGNORECASE)
        )
        assert opened == sum(1 for b in BLOCKS if b.page == page), page.name
        if opened:
            assert page in pages
    assert len(BLOCKS) >= 10


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def test_continued_blocks_and_markers_are_understood(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 1\n```\n\ntext\n\n```py\n# continued from the block above\ny = x + 1\n```\n\n"
        "- item:\n\n  ```python\n  # continued\n  print(y)\n  ```\n\n```sh\nls\n```\n\n"
        "```python\n# needs a real merchant account — compiled only, not run\nz = 3\n```\n\n"
        "```python\n# continued\n```\n",
        encoding="utf-8",
    )
    first, second, third, real, orphan = blocks = python_blocks(page)
    assert [b.line for b in blocks] == [1, 7, 14, 23, 28]
    assert (first.continued, second.continued, third.continued) == (False, True, True)
    assert real.real_merchant and not first.real_merchant
    assert program(third, blocks) == "x = 1\n\n# continued from the block above\ny = x + 1\n\n# continued\nprint(y)\n"
    namespace: dict[str, Any] = {}
    exec(program(second, blocks), namespace)  # noqa: S102
    assert namespace["y"] == 2
    assert program(orphan, blocks) == real.code + "\n" + orphan.code
    with pytest.raises(AssertionError, match="no block above"):
        program(orphan, [orphan])


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documentation runs against the sandbox: resolving a real host name (api.mch.weixin.qq.com) fails."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name != "localhost" and not _loopback(name):
            raise OSError(f"documentation blocks run offline: refused to resolve {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("loopback_only")
def test_blocks_cannot_reach_wechat_pay() -> None:
    with pytest.raises(OSError, match=r"refused to resolve 'api\.mch\.weixin\.qq\.com'"):
        socket.getaddrinfo("api.mch.weixin.qq.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


@pytest.fixture
def time_limit() -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"documentation block ran longer than {TIME_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.real_merchant], ids=lambda b: b.name)
@pytest.mark.usefixtures("loopback_only", "time_limit")
def test_block_runs_as_written(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(program(block), block.name, "exec", dont_inherit=True)
    exec(code, {"__name__": "__main__", "__file__": str(tmp_path / "snippet.py")})  # noqa: S102 - the point


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.real_merchant], ids=lambda b: b.name)
def test_real_merchant_block_compiles(block: Block) -> None:
    compile(program(block), block.name, "exec", dont_inherit=True)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_no_placeholder_bodies(block: Block) -> None:
    """``json={...}`` is a set holding Ellipsis, not "some body": write the body out (or call a function)."""
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.Set | ast.List | ast.Tuple) and any(
            isinstance(e, ast.Constant) and e.value is Ellipsis for e in node.elts
        ):
            pytest.fail(f"{block.name}: line {node.lineno} uses ... as a value")


def test_readme_states_the_two_commands_ci_runs() -> None:
    """.ci/run executes these two lines verbatim on a lone copy of the checkout; keep them parseable."""
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tour, tests = module.commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert tour.startswith("python3 -m venv .venv && ") and tour.endswith("wechatpay-chain tour")
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith("-m pytest -q")
    with pytest.raises(SystemExit, match="exactly two one-line sh blocks"):
        module.commands("## Two commands on a fresh machine\n\n```sh\nls\n```\n\n## Next\n\n```sh\nls\n```\n")
