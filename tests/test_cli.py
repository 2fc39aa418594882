"""The real command line (console script and ``python -m``) run as a subprocess against loopback servers."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from conftest import MCHID, FakeWeChat, Keys
from wxfixtures import APIV3_KEY, CertRoute

from wechatpay_chain import crypto
from wechatpay_chain.certificates import WRONG_KEY

SCRIPT = shutil.which("wechatpay-chain", path=str(Path(sys.executable).parent))


async def run(*args: str, script: bool = False) -> tuple[int, str, str]:
    cmd = [SCRIPT] if script and SCRIPT else [sys.executable, "-m", "wechatpay_chain"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wechatpay-chain: error: "), err
    return lines[0]


@pytest.fixture
def merchant_files(tmp_path: Path, keys: Keys, fake: FakeWeChat) -> dict[str, Any]:
    key = tmp_path / "apiclient_key.pem"
    key.write_bytes(keys.merchant.private_pem())
    cert = tmp_path / "platform.pem"
    cert.write_bytes(keys.platform.certificate_pem())
    config = {
        "mchid": MCHID,
        "serial": keys.merchant.serial,
        "private_key": str(key),
        "certs": {keys.platform.serial: str(cert)},
        "base_url": fake.base_url,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return {"key": str(key), "config": str(path)}


async def test_certs_download_writes_verified_pems(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any], tmp_path: Path) -> None:
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform, keys.platform2], keys.platform2)
    out = tmp_path / "certs"
    code, stdout, err = await run(
        "certs", "download", "-m", MCHID, "-s", keys.merchant.serial, "-f", merchant_files["key"],
        "-k", APIV3_KEY, "-o", str(out), "-u", fake.base_url, script=True,
    )
    assert code == 0, err
    header, *rows = stdout.strip().splitlines()
    assert header.split() == ["serial", "effective", "expires", "file"]
    assert {row.split()[0] for row in rows} == {keys.platform.serial, keys.platform2.serial}
    for pair in (keys.platform, keys.platform2):
        written = crypto.load_certificate((out / f"wechatpay_{pair.serial}.pem").read_bytes())
        assert written == pair.certificate
    assert [s.target for s in fake.seen] == ["/v3/certificates"]


async def test_certs_download_without_output_prints_pem(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any]) -> None:
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform], keys.platform)
    code, stdout, err = await run(
        "certs", "download", "-m", MCHID, "-s", keys.merchant.serial, "-f", merchant_files["key"],
        "-k", APIV3_KEY, "-u", fake.base_url,
    )
    assert code == 0, err
    assert keys.platform.certificate_pem().decode() in stdout


async def test_certs_download_wrong_apiv3_key(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any]) -> None:
    fake.routes[("GET", "/v3/certificates")] = CertRoute([keys.platform], keys.platform, apiv3_key="Y" * 32)
    code, _, err = await run(
        "certs", "download", "-m", MCHID, "-s", keys.merchant.serial, "-f", merchant_files["key"],
        "-k", APIV3_KEY, "-u", fake.base_url,
    )
    assert code == 1
    assert WRONG_KEY in one_line_error(err) and APIV3_KEY not in err


async def test_request_dotted_with_config(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any]) -> None:
    code, stdout, err = await run(
        "request", "v3.marketing.partner.productCoupon.productCoupons", "--config", merchant_files["config"],
        "-q", "limit=5", "-q", '{"offset": 0}',
    )
    assert code == 0, err
    head, _, body = stdout.partition("\n\n")
    assert head.splitlines()[0] == "HTTP 200"
    assert f"Verified-Serial: {keys.platform.serial}" in head
    doc = json.loads(body)
    assert doc["path"] == "/v3/marketing/partner/product-coupon/product-coupons"
    assert fake.seen[-1].target == "/v3/marketing/partner/product-coupon/product-coupons?limit=5&offset=0"


async def test_request_post_slashed_with_placeholder_data_and_header(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "body.json"
    data.write_text('{"stock_id": "S1", "名": "张三"}')
    code, stdout, err = await run(
        "request", "v3/marketing/partner/product-coupon/product-coupons/{product_coupon_id}",
        "--config", merchant_files["config"], "-p", "product_coupon_id=1000000013", "-X", "patch",
        "--data", f"@{data}", "-H", "X-Trace: abc",
    )
    assert code == 0, err
    seen = fake.seen[-1]
    assert (seen.method, seen.target) == ("PATCH", "/v3/marketing/partner/product-coupon/product-coupons/1000000013")
    assert orjson.loads(seen.body) == {"stock_id": "S1", "名": "张三"} and seen.headers["X-Trace"] == "abc"
    assert "张三" in stdout  # pretty JSON keeps Chinese readable


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "{nope"], "--data is not JSON"),
        (["-X", "TRACE"], "--method must be"),
        (["-H", "no-colon"], "expected name:value"),
        (["--config", "/nonexistent/config.json"], "cannot read --config"),
    ],
)
async def test_request_user_mistakes_are_one_line(merchant_files: dict[str, Any], extra: list[str], message: str) -> None:
    args = ["request", "v3.x"]
    if "--config" not in extra:
        args += ["--config", merchant_files["config"]]
    code, _, err = await run(*args, *extra)
    assert code == 1 and message in one_line_error(err)


async def test_request_missing_merchant_and_bad_key(tmp_path: Path) -> None:
    code, _, err = await run("request", "v3.x")
    assert code == 1 and "mchid is required" in one_line_error(err)
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    code, _, err = await run("request", "v3.x", "-m", MCHID, "-s", "ABCDEF", "-f", str(bad), "-u", "http://127.0.0.1:9/")
    assert code == 1 and "private_key" in one_line_error(err)


async def test_request_api_error_and_verification_failure(fake: FakeWeChat, keys: Keys, merchant_files: dict[str, Any]) -> None:
    fake.routes[("GET", "/v3/missing")] = lambda r, b: web.Response(
        status=404, body=b'{"code":"RESOURCE_NOT_EXISTS","message":"no such coupon"}', content_type="application/json"
    )
    code, _, err = await run("request", "v3.missing", "--config", merchant_files["config"])
    assert code == 1 and "404 RESOURCE_NOT_EXISTS: no such coupon" in one_line_error(err)
    fake.tamper = lambda h, b: (h, b + b" ")
    code, _, err = await run("request", "v3.x", "--config", merchant_files["config"])
    assert code == 1 and "bad_signature" in one_line_error(err)


async def test_argparse_errors_exit_2() -> None:
    code, _, err = await run("certs", "download", "-m", MCHID)
    assert code == 2 and "required" in err and "Traceback" not in err


async def test_sandbox_subcommand_delegates() -> None:
    code, stdout, err = await run("sandbox", "--help", script=True)
    assert code == 0, err
    assert "--write-config" in stdout


async def test_against_the_sandbox(tmp_path: Path) -> None:
    sandbox = pytest.importorskip("wechatpay_chain.sandbox")
    async with sandbox.Sandbox(port=0) as sb:
        config = sb.write_config(tmp_path)
        code, stdout, err = await run("request", "v3/certificates", "--config", str(config))
        assert code == 0, err
        assert "HTTP 200" in stdout and '"data"' in stdout
        doc = json.loads(config.read_text())
        code, stdout, err = await run(
            "certs", "download", "-m", doc["mchid"], "-s", doc["serial"], "-f", doc["private_key"],
            "-k", doc["apiv3_key"], "-u", doc["base_url"], "-o", str(tmp_path / "out"),
        )
        assert code == 0, err
        for serial in doc["certs"]:
            assert (tmp_path / "out" / f"wechatpay_{serial}.pem").is_file()


def bill_args(fake: Any, tmp_path: Path) -> tuple[list[str], bytes]:
    """``download <url> --hash-value … --config …`` for a bill served by ``fake``, and the bill's content."""
    import gzip
    import hashlib

    from conftest import MCHID
    from test_download import make_bill, serve_bill

    plain = make_bill(20_000)
    serve_bill(fake, gzip.compress(plain, compresslevel=1), plain)
    (tmp_path / "key.pem").write_bytes(fake.keys.merchant.private_pem())
    (tmp_path / "platform.pem").write_bytes(fake.keys.platform.certificate_pem())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mchid": MCHID, "serial": fake.keys.merchant.serial, "private_key": str(tmp_path / "key.pem"),
        "certs": {fake.keys.platform.serial: str(tmp_path / "platform.pem")}, "base_url": fake.base_url,
    }))
    url = f"{fake.base_url}v3/billdownload/file?token=6XIv%2B5k~x&tartype=gzip"
    digest = hashlib.sha1(plain).hexdigest()  # noqa: S324
    return ["download", url, "--hash-value", digest, "--config", str(config)], plain


async def test_bill_download(fake: Any, tmp_path: Path) -> None:
    args, plain = bill_args(fake, tmp_path)
    url, config = args[1], args[-1]
    out = tmp_path / "bill.csv"
    code, stdout, err = await run(*args, "-o", str(out))
    assert code == 0, err
    assert out.read_bytes() == plain
    assert err == "" and "verified" in stdout  # stderr is a pipe here: no progress bar (see test_cli_shell)
    code, _, err = await run("download", url, "--hash-value", "0" * 40, "-o", str(tmp_path / "bad.csv"),
                             "--config", str(config))
    assert code == 1
    assert "bad_body" in one_line_error(err)
    assert not (tmp_path / "bad.csv").exists()
    code, _, err = await run("download", url, "-o", str(tmp_path / "x.csv"), "--config", str(config))
    assert code == 1
    assert "--hash-value" in one_line_error(err)
