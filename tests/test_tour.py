"""The tour ships in the package: ``python -m wechatpay_chain.tour`` and ``wechatpay-chain tour`` run it offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wechatpay_chain import tour
from wechatpay_chain.cli import main as cli
from wechatpay_chain.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _no_merchant(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tour talks to the real API when WECHATPAY_MCHID is set; these tests must use the sandbox."""
    monkeypatch.delenv("WECHATPAY_MCHID", raising=False)


def _expect_whole_tour(text: str) -> None:
    assert text.startswith("Talking to the embedded sandbox at http://127.0.0.1:")
    for number, step in enumerate(tour.STEPS, 1):
        assert f"── {number}. " in text, step.__name__
    assert "ALREADY_EXISTS" in text and "PARAM_ERROR" in text and "json.stock.stock_send_rule.max_count" in text
    assert text.rstrip().endswith("tour complete")


def test_cli_tour_runs_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["tour"]) == 0
    _expect_whole_tour(capsys.readouterr().out)


def test_module_runs_from_outside_the_checkout(tmp_path: Path) -> None:
    """As an installed user runs it: a cwd with no examples/ beside it."""
    done = subprocess.run(
        [sys.executable, "-m", "wechatpay_chain.tour"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    _expect_whole_tour(done.stdout)


async def test_a_failing_step_stops_the_tour_and_names_it() -> None:
    ran: list[int] = []

    async def record(t: tour.Tour) -> None:
        ran.append(t.number)

    async def surprise(t: tour.Tour) -> None:
        t.check(t.coupon_id == "nope", "coupon id differs")

    async with Sandbox() as sb, sb.client() as wxpay:
        with pytest.raises(tour.TourFailed, match=r"^step 3: unexpected: coupon id differs$"):
            await tour.run(wxpay, tour.SANDBOX_BRAND_ID, sb, [tour.create_coupon, record, surprise, record])
    assert ran == [2]


def test_a_failed_tour_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def surprise(t: tour.Tour) -> None:
        t.check(False, "forced")

    monkeypatch.setattr(tour, "STEPS", (surprise,))
    assert cli(["tour"]) == 1
    assert capsys.readouterr().err == "wechatpay-chain tour: step 1: unexpected: forced\n"


def test_tour_help_names_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(["tour", "--help"])
    assert exc.value.code == 0
    assert "WECHATPAY_MCHID" in capsys.readouterr().out
