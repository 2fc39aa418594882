"""Every example script runs to completion against a sandbox it starts itself (no credentials needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_every_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATPAY_")}
    env["PYTHONWARNINGS"] = "error"
    assert {p.name for p in SCRIPTS} >= {
        "product_coupon_tour.py",
        "create_product_coupon.py",
        "add_stock.py",
        "list_stocks.py",
        "get_stock.py",
        "patch_stock.py",
        "add_stock_bundle.py",
        "user_coupons.py",
    }
    running = {
        p.name: subprocess.Popen(
            [sys.executable, str(p)], cwd=EXAMPLES.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for p in SCRIPTS
    }
    failures = {}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failures[name] = (proc.returncode, err.decode()[-2000:])
        elif name == "product_coupon_tour.py":
            text = out.decode()
            assert "tour complete" in text
            assert "ALREADY_EXISTS" in text and "PARAM_ERROR" in text and "json.stock.stock_send_rule.max_count" in text
        elif name == "user_coupons.py":
            text = out.decode()
            assert text.count("use→USED") == text.count("deactivate→DEACTIVATED") == 6, text
        else:
            assert "sandbox" in out.decode()
    assert not failures, failures
