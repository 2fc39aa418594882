"""docs/porting.md runs as written: every ```python block is a standalone script against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALL_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "porting.md").read_text(), re.S)
REAL_MERCHANT = "# needs a real merchant account"  # the docs convention: such a block is only compiled
BLOCKS = [code for code in ALL_BLOCKS if not code.startswith(REAL_MERCHANT)]

#: The last lines each block prints, in order (what a PHP developer sees after porting the example).
EXPECTED = [
    ["200 True", "200 True"],
    ["200 True", "SUCCESS", "PROCESSING", "REFUND", "REFUND", "204", "True"],
    ["True", "True", "404 NOT_FOUND", "None", "200 200", "404 NOT_FOUND"],
    ["SUCCESS SUCCESS", "FAIL AUTH_CODE_INVALID"],
    None,  # the reply XML and the coupon signature: checked below
    ["True T1", "R1 SUCCESS"],
    ["TRANSACTION.SUCCESS T1"],
    ["344", "张三", "True"],
    ["200"],
    None,  # media meta: checked below
]


def test_every_block_of_porting_md_runs() -> None:
    assert len(BLOCKS) == len(EXPECTED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATPAY_")}
    env["PYTHONWARNINGS"] = "error"
    env["PYTHONPATH"] = str(ROOT)
    running = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for code in BLOCKS
    ]
    outputs, errors = [], []
    for index, proc in enumerate(running):
        out, err = proc.communicate(timeout=120)
        trace = [line for line in err.splitlines() if not line.startswith("* wechatpay-chain: ")]  # debug=True
        assert proc.returncode == 0 and not trace, f"block {index}:\n{err[-3000:]}"
        outputs.append(out.splitlines())
        errors.append(err)
    for index, expected in enumerate(EXPECTED):
        if expected is not None:
            assert outputs[index] == expected, f"block {index}: {outputs[index]}"
    assert errors[0].startswith("* wechatpay-chain: GET http://127.0.0.1:")  # the README's debug => true
    reply, coupon = outputs[4]
    assert reply == "<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg></xml>"
    assert '"sign": "' in coupon and '"send_coupon_merchant": "10016226"' in coupon
    meta, multipart = outputs[9]
    assert meta.startswith('{"filename":"logo.png","sha256":"') and multipart == "True"


def test_real_merchant_blocks_compile() -> None:
    real = [code for code in ALL_BLOCKS if code.startswith(REAL_MERCHANT)]
    assert len(real) == 1
    for code in real:
        compile(code, "porting.md", "exec")
