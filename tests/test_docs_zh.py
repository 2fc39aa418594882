"""The Chinese documentation (README.zh-CN.md, docs/zh-CN/) stays in step with the English, page by page.

Every English page (README.md, docs/*.md) has a Chinese twin, and each pair has the same heading structure
(the same number of headings, at the same levels, in the same order) and the same code blocks, byte for byte
and in the same order. So a change to one language without the other fails here.

The Chinese pages' ```python blocks are not run again by tests/test_docs.py: this test proves they are the
English blocks, in the same order on the twin page (so each ``# continued`` chain is the same program too),
and test_docs.py runs those. Links in the Chinese pages must resolve (file and heading anchor), since their
anchors are Chinese headings that no English test looks at.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import pytest
from test_docs import FENCE, PAGES, ROOT

ZH_DIR = ROOT / "docs" / "zh-CN"
ENGLISH = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
T = TypeVar("T")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")


def twin(page: Path) -> Path:
    return ROOT / "README.zh-CN.md" if page == ROOT / "README.md" else ZH_DIR / page.name


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def without_code(text: str) -> str:
    """The page with every fenced block blanked out (line count kept), so ``# comment`` lines are not headings."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def headings(text: str) -> list[tuple[int, str]]:
    return [(len(m[1]), m[2]) for m in HEADING.finditer(without_code(text))]


def code_blocks(text: str) -> list[str]:
    return [m.group(0) for m in FENCE.finditer(text)]


def slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation (ASCII and CJK) dropped, spaces to hyphens."""
    title = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", title).lower()
    kept = "".join(c for c in title if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(text):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


PAIRS = [(page, twin(page)) for page in ENGLISH]


def test_every_chinese_page_has_an_english_original() -> None:
    orphans = sorted(rel(p) for p in ZH_DIR.rglob("*.md") if not (ROOT / "docs" / p.name).is_file())
    assert not orphans, f"Chinese pages with no English page: {orphans}"
    assert len(PAIRS) >= 9


def test_chinese_blocks_are_not_run_twice() -> None:
    """test_docs.py runs the English blocks; the twins' blocks are proved identical below."""
    assert not [p for p in PAGES if p.is_relative_to(ZH_DIR) or p.name == "README.zh-CN.md"]


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=lambda p: rel(p))
def test_twin_exists_and_links_back(english: Path, chinese: Path) -> None:
    assert chinese.is_file(), (
        f"{rel(english)} has no Chinese twin {rel(chinese)}: translate it (same headings and code)"
    )
    en_top = english.read_text(encoding="utf-8").split("\n")[:6]
    zh_top = chinese.read_text(encoding="utf-8").split("\n")[:6]
    assert any(f"]({chinese.name})" in line or f"](zh-CN/{chinese.name})" in line for line in en_top), (
        f"{rel(english)}: link the Chinese twin in the first lines"
    )
    assert any(f"]({english.name})" in line or f"](../{english.name})" in line for line in zh_top), (
        f"{rel(chinese)}: link the English page in the first lines"
    )


def difference(en: object, zh: object) -> str:
    """The first differing line of two code blocks (or both items, for headings)."""
    if isinstance(en, str) and isinstance(zh, str):
        for n, (e, z) in enumerate(zip([*en.split("\n"), None], [*zh.split("\n"), None], strict=False), 1):
            if e != z:
                return f"line {n}: {e!r} (English) vs {z!r} (Chinese)"
    return f"{en!r} (English) vs {zh!r} (Chinese)"


def in_step(
    english: Path, chinese: Path, extract: Callable[[str], list[T]], same: Callable[[T, T], bool], what: str
) -> None:
    """``extract`` gives the same-length list from both pages, item by item ``same``; the message names the first miss."""
    en = extract(english.read_text(encoding="utf-8"))
    zh = extract(chinese.read_text(encoding="utf-8"))
    for i, (e, z) in enumerate(zip(en, zh, strict=False)):
        assert same(e, z), f"{what} {i + 1} of {rel(english)} differs in {rel(chinese)}: {difference(e, z)}"
    assert len(en) == len(zh), (
        f"{len(en)} {what}s in {rel(english)}, {len(zh)} in {rel(chinese)}; first unmatched: "
        f"{(en[len(zh) :] or zh[len(en) :])[0]!r:.200}"
    )


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=lambda p: rel(p))
def test_same_heading_structure(english: Path, chinese: Path) -> None:
    """Same count, levels and order; the titles are translated, so only their levels are compared."""
    in_step(english, chinese, headings, lambda e, z: e[0] == z[0], "heading")


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=lambda p: rel(p))
def test_same_code_blocks(english: Path, chinese: Path) -> None:
    """Byte for byte, fences and indentation included: copy a changed block into the twin as it is."""
    in_step(english, chinese, code_blocks, lambda e, z: e == z, "code block")


@pytest.mark.parametrize("chinese", [c for _, c in PAIRS], ids=lambda p: rel(p))
def test_chinese_links_resolve(chinese: Path) -> None:
    if not chinese.is_file():
        pytest.skip("no twin yet (test_twin_exists_and_links_back fails)")
    text = without_code(chinese.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (chinese.parent / unquote(path)).resolve() if path else chinese
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and unquote(anchor) not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{rel(chinese)}: {broken}"


def test_slugs_follow_github() -> None:
    assert slug("Payments (基础支付)") == "payments-基础支付"
    assert slug("威胁模型：别人能对你做什么、不能做什么") == "威胁模型别人能对你做什么不能做什么"
    assert slug("`wechatpay_chain.testing` in CI") == "wechatpay_chaintesting-in-ci"
    assert anchors("# A\n\n```sh\n# not a heading\n```\n\n## A\n") == {"a", "a-1"}
