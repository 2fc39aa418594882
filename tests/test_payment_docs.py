"""The payment docs run as written: the README quick start, docs/testing.md and docs/sandbox.md's payments block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def blocks(doc: str, heading: str) -> list[str]:
    """The ```python blocks of ``doc`` between ``heading`` and the next heading of the same level."""
    text = (ROOT / doc).read_text()
    level = heading.split(" ", 1)[0]
    section = text[text.index(heading + "\n") + len(heading):]
    following = re.search(rf"^{level} ", section, re.M)
    section = section[: following.start()] if following else section
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_payment_docs_run_as_written() -> None:
    snippets = {
        "README quick start": blocks("README.md", "## Quick start")[0],
        "docs/sandbox.md payments": blocks("docs/sandbox.md", "## Payments (基础支付)")[0],
        **{f"docs/testing.md #{i}": code for i, code in enumerate(blocks("docs/testing.md", "# Testing your "
                                                                          "integration: `wechatpay_chain.testing`"))},
    }
    assert len(snippets) == 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATPAY_")}
    env["PYTHONWARNINGS"] = "error"
    running = {
        name: subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        for name, code in snippets.items()
    }
    outputs = {}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{name}:\n{err[-2000:]}"
        outputs[name] = out
    assert outputs["README quick start"].splitlines()[-1] == "SUCCESS"
    assert "TRANSACTION.SUCCESS 42" in outputs["README quick start"]
    assert outputs["docs/sandbox.md payments"].split()[-2:] == ["PROCESSING", "SUCCESS"]
    assert outputs["docs/testing.md #0"].strip() == "200 SUCCESS"
    assert outputs["docs/testing.md #1"].strip() == "TRANSACTION.SUCCESS T1001"
