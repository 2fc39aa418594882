"""Issue 11 (outside security review), findings 6 and 7: bounded downloads and safe file writes.

Against loopback servers (the fake WeChat Pay server, the sandbox, the real command line). Each test failed on
the code the review looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import stat
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from conftest import MCHID, FakeWeChat, Keys
from test_cli import run
from wxfixtures import APIV3_KEY, CertRoute

from wechatpay_chain import RequestTimeout, TemplateError, VerificationError
from wechatpay_chain.bill import BillFormatError, BillParser, parse_bill

HEADER = "交易时间,商户号,商户订单号,订单金额"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - the digest WeChat Pay publishes for bills


def serve_file(fake: FakeWeChat, payload: bytes) -> str:
    """``GET /v3/billdownload/file`` answers ``payload`` (unsigned, as WeChat Pay does); returns its URL."""
    fake.routes[("GET", "/v3/billdownload/file")] = lambda request, body: web.Response(
        body=payload, content_type="application/octet-stream"
    )
    return fake.base_url + "v3/billdownload/file?token=t"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# -- finding 6: a maximum decompressed size, a total deadline, a linear bill parser --------------------------


@pytest.mark.parametrize("to_disk", [False, True])
async def test_gzip_bomb_stops_at_max_size(fake: FakeWeChat, tmp_path: Path, to_disk: bool) -> None:
    plain = bytes(32 * 1024 * 1024)
    url = serve_file(fake, gzip.compress(plain, 9))  # about 32 KiB on the wire
    dest = tmp_path / "bill.csv" if to_disk else None
    async with fake.client() as wxpay:
        with pytest.raises(VerificationError, match="max_size=4194304") as info:
            await wxpay.download(url, hash_value=sha1(plain), dest=dest, max_size=4 * 1024 * 1024)
        assert info.value.reason == VerificationError.BAD_BODY
        with pytest.raises(VerificationError, match="max_size"):
            async for _ in wxpay.stream(url, hash_value=sha1(plain), max_size=1024 * 1024):
                pass
        with pytest.raises(TemplateError, match="max_size"):
            await wxpay.download(url, hash_value=sha1(plain), max_size=0)
    assert os.listdir(tmp_path) == []


async def test_a_one_byte_drip_cannot_outlive_the_deadline(fake: FakeWeChat) -> None:
    async def drip(request: web.Request, body: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "100000"})
        await resp.prepare(request)
        for _ in range(100_000):  # one byte every 20 ms: every read finishes well inside sock_read
            await resp.write(b"x")
            await asyncio.sleep(0.02)
        return resp

    fake.routes[("GET", "/v3/billdownload/file")] = drip
    async with fake.client() as wxpay:
        started = time.monotonic()
        with pytest.raises(RequestTimeout, match="timed out"):
            await wxpay.download(fake.base_url + "v3/billdownload/file?t=1", hash_value="0" * 40, deadline=0.5)
        assert time.monotonic() - started < 5
        with pytest.raises(TemplateError, match="deadline"):
            await wxpay.download(fake.base_url + "v3/billdownload/file?t=1", hash_value="0" * 40, deadline=float("nan"))


async def test_a_bill_line_longer_than_max_line_is_refused(fake: FakeWeChat) -> None:
    plain = (HEADER + "\n`" + "9" * (2 * 1024 * 1024) + ",`1,`2,`3\n").encode()
    url = serve_file(fake, gzip.compress(plain, 1))
    async with fake.client() as wxpay:
        with pytest.raises(BillFormatError, match="max_line"):
            async for _ in BillParser().aiter(wxpay.stream(url, hash_value=sha1(plain))):
                pass
        rows = [row async for row in BillParser(max_line=4 * 1024 * 1024).aiter(wxpay.stream(url, hash_value=sha1(plain)))]
    assert len(rows) == 1 and rows[0]["订单金额"] == "3"


def test_bill_parser_is_linear_on_a_32_mib_line() -> None:
    """The review measured 8.8 s for this (the buffer was re-split on every chunk); linear it takes ~0.1 s."""
    parser = BillParser(max_line=64 * 1024 * 1024)
    parser.feed(HEADER + "\n")
    chunk = "`" + "9" * (64 * 1024 - 1)
    started = time.monotonic()
    for _ in range(512):
        assert parser.feed(chunk) == []
    with pytest.raises(BillFormatError, match="cells"):  # one huge cell, not four: a format error, at once
        parser.feed("\n")
    assert time.monotonic() - started < 3.0
    assert parse_bill(HEADER + "\n`1,`2,`3,`4").rows == [dict(zip(HEADER.split(","), "1234", strict=True))]


# -- finding 7: downloads and key files never write through a planted symlink, and are 0600 ----------------


SMALL_BILL = (HEADER + "\n`a,`b,`c,`d\n").encode()


def victim_file(directory: Path) -> Path:
    """A file a symlink planted by someone else points at: it must come through every download untouched."""
    victim = directory / "victim"
    victim.write_bytes(b"precious")
    return victim


async def test_download_does_not_follow_a_planted_symlink(fake: FakeWeChat, tmp_path: Path) -> None:
    plain = SMALL_BILL
    url = serve_file(fake, plain)
    victim = victim_file(tmp_path)
    dest = tmp_path / "bill.csv"
    (tmp_path / "bill.csv.part").symlink_to(victim)  # the name the download used to open with "wb"
    async with fake.client() as wxpay:
        with pytest.raises(VerificationError):
            await wxpay.download(url, hash_value="0" * 40, dest=dest)
        assert victim.read_bytes() == b"precious" and not dest.exists()
        result = await wxpay.download(url, hash_value=sha1(plain), dest=dest)
    assert result.path == str(dest) and dest.read_bytes() == plain
    assert victim.read_bytes() == b"precious"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600 and not dest.is_symlink()
    assert leftovers(tmp_path) == ["bill.csv.part"]  # only the planted link, untouched


async def test_failed_download_leaves_the_target_alone(fake: FakeWeChat, tmp_path: Path) -> None:
    plain = SMALL_BILL
    url = serve_file(fake, plain)
    dest = tmp_path / "bill.csv"
    dest.write_bytes(b"yesterday's verified bill")
    victim = victim_file(tmp_path)
    async with fake.client() as wxpay:
        for damage in ({"hash_value": "0" * 40}, {"hash_value": sha1(plain), "max_size": 10}):
            with pytest.raises(VerificationError):
                await wxpay.download(url, dest=dest, **damage)
            assert dest.read_bytes() == b"yesterday's verified bill"
        dest.unlink()
        dest.symlink_to(victim)  # a link planted at the target itself is replaced, not written through
        await wxpay.download(url, hash_value=sha1(plain), dest=dest)
    assert victim.read_bytes() == b"precious" and dest.read_bytes() == plain and not dest.is_symlink()
    assert leftovers(tmp_path) == []


async def test_cli_certs_download_replaces_a_planted_symlink(fake: FakeWeChat, keys: Keys, tmp_path: Path) -> None:
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform], keys.platform)
    key = tmp_path / "apiclient_key.pem"
    key.write_bytes(keys.merchant.private_pem())
    out = tmp_path / "certs"
    out.mkdir()
    victim = victim_file(tmp_path)
    planted = out / f"wechatpay_{keys.platform.serial}.pem"
    planted.symlink_to(victim)
    code, _, err = await run(
        "certs", "download", "-m", MCHID, "-s", keys.merchant.serial, "-f", str(key),
        "-k", APIV3_KEY, "-o", str(out), "-u", fake.base_url,
    )  # fmt: skip
    assert code == 0, err
    assert victim.read_bytes() == b"precious"
    assert not planted.is_symlink() and planted.read_bytes() == keys.platform.certificate_pem()
    assert leftovers(out) == []


async def test_sandbox_write_config_creates_secrets_0600_without_following_links(tmp_path: Path) -> None:
    from wechatpay_chain.sandbox import Sandbox

    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    victim.chmod(0o644)
    root = tmp_path / "cfg"
    root.mkdir()
    for name in ("apiclient_key.pem", "config.json", "config.json.tmp"):
        (root / name).symlink_to(victim)  # a reader waiting at a world-readable file
    async with Sandbox(port=0) as sb:
        path = sb.write_config(root)
    assert victim.read_bytes() == b""
    config = json.loads(path.read_text())
    for secret in (root / "apiclient_key.pem", path):
        assert not secret.is_symlink() and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert config["private_key"] == str(root / "apiclient_key.pem")
    assert (root / "apiclient_key.pem").read_bytes().startswith(b"-----BEGIN")
    assert orjson.loads(path.read_bytes())["apiv3_key"] == config["apiv3_key"]
    assert leftovers(root) == []
    assert os.listdir(root).count("config.json.tmp") == 1  # the planted link is left alone, not used


# -- finding 10: the APIv3 key and the key passphrase need not be on the command line ----------------------


def merchant_args(keys: Keys, fake: FakeWeChat, key: Path) -> list[str]:
    return ["certs", "download", "-m", MCHID, "-s", keys.merchant.serial, "-f", str(key), "-u", fake.base_url]


@pytest.fixture
def encrypted_key(keys: Keys, tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    pem = keys.merchant.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret pass"),
    )
    path = tmp_path / "apiclient_key.pem"
    path.write_bytes(pem)
    return path


async def test_cli_secrets_from_a_file_and_the_environment(
    fake: FakeWeChat, keys: Keys, tmp_path: Path, encrypted_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform], keys.platform)
    key_file = tmp_path / "apiv3.key"
    key_file.write_text(APIV3_KEY + "\n")
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text("s3cret pass\n")
    code, stdout, err = await run(
        *merchant_args(keys, fake, encrypted_key), "--apiv3-key-file", str(key_file), "--passphrase-file", str(pass_file)
    )
    assert code == 0, err
    assert keys.platform.certificate_pem().decode() in stdout
    monkeypatch.setenv("WECHATPAY_APIV3_KEY", APIV3_KEY)
    monkeypatch.setenv("WECHATPAY_KEY_PASSPHRASE", "s3cret pass")
    code, stdout, err = await run(*merchant_args(keys, fake, encrypted_key))
    assert code == 0, err
    assert keys.platform.certificate_pem().decode() in stdout
    monkeypatch.delenv("WECHATPAY_APIV3_KEY")
    code, _, err = await run(*merchant_args(keys, fake, encrypted_key))  # no terminal to ask on
    assert code == 1 and "--apiv3-key-file, $WECHATPAY_APIV3_KEY, --apiv3-key-prompt" in err, err
    code, _, err = await run(*merchant_args(keys, fake, encrypted_key), "--apiv3-key-file", str(tmp_path / "none"))
    assert code == 1 and "cannot read --apiv3-key-file" in err
    code, _, err = await run(*merchant_args(keys, fake, encrypted_key), "-k", APIV3_KEY, "--apiv3-key-file", str(key_file))
    assert code == 2 and "not allowed with" in err
    assert [s.target for s in fake.seen] == ["/v3/certificates", "/v3/certificates"]


async def test_cli_help_says_why_the_command_line_is_the_unsafe_way() -> None:
    code, stdout, _ = await run("certs", "download", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    for words in ("--apiv3-key-file", "$WECHATPAY_APIV3_KEY", "--apiv3-key-prompt", "--passphrase-file",
                  "$WECHATPAY_KEY_PASSPHRASE", "--passphrase-prompt", "process list", "shell history"):  # fmt: skip
        assert words in text, words


async def test_cli_prompts_for_the_apiv3_key_on_a_terminal(fake: FakeWeChat, keys: Keys, tmp_path: Path) -> None:
    """A real pseudo-terminal as the controlling terminal: the key is typed, not echoed, never in argv."""
    import fcntl
    import pty
    import sys
    import termios

    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform], keys.platform)
    key = tmp_path / "apiclient_key.pem"
    key.write_bytes(keys.merchant.private_pem())
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # runs in the child, after setsid
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if k != "WECHATPAY_APIV3_KEY"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wechatpay_chain", *merchant_args(keys, fake, key),
        stdin=slave, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=controlling_terminal, env=env,
    )  # fmt: skip
    os.close(slave)
    loop = asyncio.get_running_loop()
    shown = b""
    try:
        while b"APIv3 key:" not in shown:
            shown += await asyncio.wait_for(loop.run_in_executor(None, os.read, master, 1024), 20)
        os.write(master, APIV3_KEY.encode() + b"\n")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        await asyncio.sleep(0.05)
        fcntl.fcntl(master, fcntl.F_SETFL, os.O_NONBLOCK)
        with contextlib.suppress(OSError):
            shown += os.read(master, 65536)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    assert proc.returncode == 0, err.decode()
    assert keys.platform.certificate_pem() in out
    assert APIV3_KEY.encode() not in shown  # not echoed


async def test_guzzle_sink_is_capped_too(fake: FakeWeChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sink=`` (wechatpay-php's Guzzle option) streams like a download, so the same size cap applies."""
    from wechatpay_chain import download

    monkeypatch.setattr(download, "MAX_FILE_SIZE", 1024 * 1024)
    plain = bytes(8 * 1024 * 1024)
    url = fake.base_url + "v3/billdownload/file?token=t"
    fake.routes[("GET", "/v3/billdownload/file")] = lambda request, body: web.Response(
        body=gzip.compress(plain, 9), headers={"Content-Encoding": "gzip"}  # inflated by aiohttp on the way
    )
    target = tmp_path / "bill.csv"
    async with fake.client() as wxpay:
        with pytest.raises(VerificationError, match="max_size"):
            await wxpay.chain(url).get({"sink": str(target)})
    assert os.listdir(tmp_path) == []
