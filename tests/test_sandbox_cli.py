"""``python -m wechatpay_chain.sandbox``: start, read config.json, make a signed call, stop cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wechatpay_chain import Client, SyncClient


def start(directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wechatpay_chain.sandbox", "--port", "0", "--write-config", str(directory), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate()[1].decode())
        time.sleep(0.05)
    config: dict[str, object] = json.loads(path.read_text())
    assert Path(str(config["private_key"])).is_file()
    certs = config["certs"]
    assert isinstance(certs, dict)
    assert all(Path(p).is_file() for p in certs.values())
    return config


@pytest.mark.parametrize(("mode", "stop"), [("cert", signal.SIGTERM), ("mixed", signal.SIGINT)])
async def test_standalone_sandbox(tmp_path: Path, mode: str, stop: signal.Signals) -> None:
    proc = start(tmp_path, "--mode", mode)
    try:
        config = wait_for(tmp_path / "config.json", proc)
        assert set(config) == {"mchid", "serial", "private_key", "certs", "apiv3_key", "base_url"}
        certs = config["certs"]
        assert isinstance(certs, dict)
        assert any(s.startswith("PUB_KEY_ID_") for s in certs) == (mode == "mixed")
        async with Client(**config) as wxpay:  # type: ignore[arg-type]
            r = await wxpay.v3.certificates.get()
            assert r.json()["data"][0]["serial_no"] in certs
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    assert "listening on http://127.0.0.1:" in out.decode()
    assert out.decode().rstrip().endswith("sandbox stopped")


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wechatpay_chain.sandbox", "--port", "0", "--error-rate", "3"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert b"error_rate" in proc.stderr


def test_standalone_logs_each_request_and_moves_its_clock(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        config = wait_for(tmp_path / "config.json", proc)
        with SyncClient(**config) as wxpay:
            r = wxpay.v3.certificates.get()
        base = str(config["base_url"])
        moved = subprocess.run(
            [sys.executable, "-m", "wechatpay_chain.sandbox", "clock", "advance", "3600", "--url", base],
            capture_output=True, timeout=30, check=False,
        )
        assert moved.returncode == 0, moved.stderr.decode()
        assert json.loads(moved.stdout)["offset"] == 3600
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert f"GET /v3/certificates 200 - sig=ok request-id={r.headers['Request-ID']}" in err.decode()
    assert config["private_key"] and "PRIVATE KEY" not in err.decode()
