"""The command line as a shell user meets it: PHP-style options, pipes that close, busy ports, terminals.

Every test runs the real program in a subprocess with real pipes, a really busy port or a real pty.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Keys
from test_cli import bill_args, merchant_files, one_line_error, run  # noqa: F401 - merchant_files is a fixture

from wechatpay_chain import SyncClient
from wechatpay_chain.cli import SIGPIPE_STATUS
from wechatpay_chain.sandbox import Sandbox

COUPONS = "v3/marketing/partner/product-coupon/product-coupons"


@pytest.fixture
async def sandbox_config(keys: Keys, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with Sandbox(merchant=keys.merchant, platform=keys.platform) as sb:
        path = sb.write_config(tmp_path / "sandbox")
        yield {"path": str(path), **json.loads(path.read_text())}


# -- wechatpay-php's CertificateDownloader command line ----------------------------------------------------


async def test_certs_download_takes_wechatpay_php_long_options(sandbox_config: dict[str, Any], tmp_path: Path) -> None:
    """``php bin/CertificateDownloader.php -k … -m … -f … -s … -o …`` in its long spelling, both forms."""
    c = sandbox_config
    out = tmp_path / "php-style"
    code, stdout, err = await run(
        "certs", "download", "--privatekey", c["private_key"], f"--serialno={c['serial']}", "--mchid", c["mchid"],
        "--key", c["apiv3_key"], "--output", str(out), "--baseuri", c["base_url"],
    )
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == [f"wechatpay_{serial}.pem" for serial in c["certs"]]
    assert stdout.splitlines()[0].split() == ["serial", "effective", "expires", "file"]


# -- wechatpay-chain sandbox tells where its settings are ---------------------------------------------------


def read_until(proc: subprocess.Popen[str], marker: str) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or marker not in lines[-1]:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise AssertionError(f"exited early: {lines} {proc.communicate()[1]}")
        lines.append(line.rstrip("\n"))
    return lines


def test_sandbox_without_write_config_prints_where_the_settings_are() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wechatpay_chain", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = read_until(proc, "listening on")
        wrote = lines[0]
        assert wrote.startswith("wrote ") and wrote.endswith(" (removed when the sandbox stops)"), lines
        path = Path(wrote.removeprefix("wrote ").removesuffix(" (removed when the sandbox stops)"))
        config = json.loads(path.read_text())
        assert config["base_url"] in lines[-1]
        for secret in (path, Path(config["private_key"])):
            assert secret.stat().st_mode & 0o777 == 0o600, secret
        assert path.parent.stat().st_mode & 0o777 == 0o700
        with SyncClient(**config) as wxpay:
            assert wxpay.v3.certificates.get().status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("sandbox stopped") and not path.parent.exists()


# -- a busy port is one line, not a traceback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "prog"),
    [(["-m", "wechatpay_chain.sandbox"], "python -m wechatpay_chain.sandbox"),
     (["-m", "wechatpay_chain", "sandbox"], "wechatpay-chain sandbox")],
)
def test_sandbox_on_a_busy_port_is_one_line(command: list[str], prog: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, *command, "--port", str(port), "--write-config", str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"{prog}: error: cannot listen on 127.0.0.1:{port}: the port is in use (--port 0 picks a free one)"]
    assert "listening" not in proc.stdout


# -- | head: the reader goes away ----------------------------------------------------------------------------


def closed_pipe() -> int:
    """The write end of a real pipe whose reader has already gone, like ``| head`` after it has its lines."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def assert_quiet(stderr: bytes) -> None:
    text = stderr.decode()
    assert "Traceback" not in text and "Broken pipe" not in text and "Exception ignored" not in text, text


async def test_request_into_a_closed_pipe_is_quiet(sandbox_config: dict[str, Any]) -> None:
    stdout = closed_pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wechatpay_chain", "request", "v3/certificates", "--config", sandbox_config["path"],
            stdout=stdout, stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.close(stdout)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == SIGPIPE_STATUS == 141
    assert_quiet(err)


def test_sandbox_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    stdout = closed_pipe()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wechatpay_chain.sandbox", "--port", "0"],
            stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False,
        )
    finally:
        os.close(stdout)
    assert proc.returncode == SIGPIPE_STATUS
    assert_quiet(proc.stderr)


async def test_shell_pipe_into_head(sandbox_config: dict[str, Any]) -> None:
    """The documented shape: ``wechatpay-chain request … | head -1`` under ``set -o pipefail``."""
    script = (
        "set -o pipefail; "
        f'"{sys.executable}" -m wechatpay_chain request v3/certificates --config "{sandbox_config["path"]}" | head -1'
    )
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert out == b"HTTP 200\n"
    assert proc.returncode in (0, SIGPIPE_STATUS)  # 141 only if head left before the program finished writing
    assert_quiet(err)


# -- help text and hints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["-m", "wechatpay_chain", "sandbox"], ["-m", "wechatpay_chain.sandbox"]])
def test_sandbox_help_has_no_rest_markup(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "--write-config" in proc.stdout
    for markup in ("``", ":func:", ":class:", ":meth:"):
        assert markup not in proc.stdout


async def test_missing_placeholder_hint_names_the_cli_flag(merchant_files: dict[str, Any]) -> None:  # noqa: F811
    code, _, err = await run("request", COUPONS + "/{product_coupon_id}", "--config", merchant_files["config"])
    assert code == 1
    line = one_line_error(err)
    assert "pass -p product_coupon_id=..." in line and " pass product_coupon_id=" not in line


# -- the progress bar is for terminals only -------------------------------------------------------------------


async def test_progress_bar_on_a_terminal(fake: Any, tmp_path: Path) -> None:
    """stderr on a real pty: the bar is drawn (test_cli.test_bill_download: on a pipe it is not)."""
    args, _ = bill_args(fake, tmp_path)
    controller, terminal = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wechatpay_chain", *args, "-o", str(tmp_path / "tty.csv"),
            stdout=asyncio.subprocess.PIPE, stderr=terminal,
        )
        os.close(terminal)
        drawn = await asyncio.to_thread(read_all, controller)
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        os.close(controller)
    assert proc.returncode == 0
    assert "100%" in drawn and "\r[" in drawn


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
