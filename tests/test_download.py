"""Bill downloads: signed GET, unsigned answer checked by hash, gzip streamed, corrupt files refused."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from conftest import FakeWeChat
from cryptography.hazmat.primitives import hashes

from wechatpay_chain import APIError, TemplateError, VerificationError
from wechatpay_chain.bill import BillFormatError, BillParser, parse_bill
from wechatpay_chain.testing import sign_response_headers

HEADER = "交易时间,公众账号ID,商户号,商户订单号,商品名称,订单金额"
SUMMARY = "总交易单数,应结订单总金额,退款总金额"


def make_bill(rows: int) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        lines.append(f"`2024-01-01 09:00:{i % 60:02d},`wx8888,`1900000109,`T{i:012d},`商品,含逗号 {i},`{i % 100}.01")
    lines += [SUMMARY, f"`{rows},`123.45,`0.00"]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def serve_bill(fake: FakeWeChat, payload: bytes, plain: bytes, *, hash_type: str = "SHA1") -> None:
    if hash_type == "SM3":
        h = hashes.Hash(hashes.SM3())
        h.update(plain)
        digest = h.finalize().hex()
    else:
        digest = hashlib.sha1(plain).hexdigest()  # noqa: S324

    def apply(request: web.Request, body: bytes) -> web.Response:
        url = f"{fake.base_url}v3/billdownload/file?token=6XIv%2B5k~x&tartype=gzip"
        return fake.signed(200, orjson.dumps({"hash_type": hash_type, "hash_value": digest, "download_url": url}))

    def file(request: web.Request, body: bytes) -> web.Response:
        assert request.raw_path == "/v3/billdownload/file?token=6XIv%2B5k~x&tartype=gzip"
        return web.Response(body=payload, content_type="application/x-gzip")  # no Wechatpay-* headers

    fake.routes[("GET", "/v3/bill/tradebill")] = apply
    fake.routes[("GET", "/v3/bill/fundflowbill")] = apply
    fake.routes[("GET", "/v3/billdownload/file")] = file


async def test_multi_megabyte_gzip_bill_streams_with_hash_check(fake: FakeWeChat) -> None:
    plain = make_bill(60_000)
    assert len(plain) > 5_000_000
    packed = gzip.compress(plain, compresslevel=1)
    serve_bill(fake, packed, plain)
    calls: list[tuple[int, int | None]] = []
    async with fake.client() as wxpay:
        step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2024-01-01", "tar_type": "GZIP"})).json()
        parser = BillParser()
        count = 0
        tracemalloc.start()
        try:
            async for row in parser.aiter(wxpay.stream(step1, progress=lambda d, t: calls.append((d, t)))):
                count += 1
                assert row["商户号"] == "1900000109"
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 60_000
    assert parser.summary == {"总交易单数": "60000", "应结订单总金额": "123.45", "退款总金额": "0.00"}
    assert calls[-1] == (len(packed), len(packed))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert peak < len(plain) // 2, f"peak {peak} bytes for a {len(plain)}-byte bill"
    # The download request itself was signed over path+query as given, with an empty body.
    assert fake.seen[-1].target.startswith("/v3/billdownload/file?token=6XIv%2B5k~x")
    assert fake.seen[-1].body == b""


async def test_download_to_file_checks_hash_and_reports_progress(fake: FakeWeChat, tmp_path: Path) -> None:
    plain = make_bill(2_000)
    packed = gzip.compress(plain)
    serve_bill(fake, packed, plain)
    seen: list[int] = []
    dest = tmp_path / "bill.csv"
    async with fake.client() as wxpay:
        step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2024-01-01"})).json()
        result = await wxpay.download(step1, dest=dest, gzip=True, progress=lambda d, t: seen.append(d))
        in_memory = await wxpay.download(step1["download_url"], hash_value=step1["hash_value"])
    assert dest.read_bytes() == plain
    assert result.path == str(dest) and result.size == len(plain) and result.received == len(packed)
    assert result.digest == hashlib.sha1(plain).hexdigest()  # noqa: S324
    assert seen and seen[-1] == len(packed)
    assert in_memory.content == plain
    bill = parse_bill(plain)
    assert len(bill.rows) == 2_000 and bill.rows[5]["商品名称"] == "商品,含逗号 5"


@pytest.mark.parametrize("damage", ["flip", "truncate", "hash"])
async def test_corrupt_bill_is_refused_and_no_file_is_left(fake: FakeWeChat, tmp_path: Path, damage: str) -> None:
    plain = make_bill(5_000)
    packed = bytearray(gzip.compress(plain))
    if damage == "flip":
        packed[len(packed) // 2] ^= 0xFF
    elif damage == "truncate":
        del packed[-100:]
    serve_bill(fake, bytes(packed), plain + b"x" if damage == "hash" else plain)
    dest = tmp_path / "bill.csv"
    async with fake.client() as wxpay:
        step1 = (await wxpay.v3.bill.tradebill.get(query={"bill_date": "2024-01-01"})).json()
        with pytest.raises(VerificationError) as info:
            await wxpay.download(step1, dest=dest)
    assert info.value.reason == VerificationError.BAD_BODY
    assert not dest.exists() and not (tmp_path / "bill.csv.part").exists()


async def test_sm3_and_plain_bills(fake: FakeWeChat) -> None:
    plain = make_bill(100)
    serve_bill(fake, plain, plain, hash_type="SM3")
    async with fake.client() as wxpay:
        step1 = (await wxpay.v3.bill.fundflowbill.get(query={"bill_date": "2024-01-01"})).json()
        result = await wxpay.download(step1)
        assert result.content == plain
        with pytest.raises(VerificationError):
            await wxpay.download(step1, hash_type="SHA1")


async def test_download_refuses_foreign_hosts_and_reports_api_errors(fake: FakeWeChat) -> None:
    def expired(request: web.Request, body: bytes) -> web.Response:
        return web.Response(status=400, body=b'{"code":"INVALID_REQUEST","message":"expired"}')

    fake.routes[("GET", "/v3/billdownload/file")] = expired
    async with fake.client() as wxpay:
        with pytest.raises(TemplateError, match="not on a WeChat Pay API host"):
            await wxpay.download("https://evil.example.com/v3/billdownload/file?token=x", hash_value="00")
        assert not fake.seen
        with pytest.raises(TemplateError, match="hash_value"):
            await wxpay.download(f"{fake.base_url}v3/billdownload/file?token=x")
        with pytest.raises(APIError) as info:
            await wxpay.download(f"{fake.base_url}v3/billdownload/file?token=x", hash_value="00")
    assert info.value.code == "INVALID_REQUEST"


async def test_overseas_statement_verifies_the_sha1_rule(fake: FakeWeChat) -> None:
    csv = make_bill(50)
    digest = hashlib.sha1(csv).hexdigest()  # noqa: S324
    tampered = [False]

    def statement(request: web.Request, body: bytes) -> web.Response:
        headers = sign_response_headers(
            orjson.dumps({"sha1": digest}), fake.keys.platform.private_key, fake.serial
        )
        headers["Wechatpay-Statement-Sha1"] = digest
        return web.Response(body=csv + (b"!" if tampered[0] else b""), headers=headers, content_type="text/csv")

    fake.routes[("GET", "/v3/global/statements")] = statement
    async with fake.client() as wxpay:
        url = f"{fake.base_url}v3/global/statements?date=2024-01-01"
        result = await wxpay.download(url, hash_value=digest)
        assert result.content == csv
        tampered[0] = True
        with pytest.raises(VerificationError) as info:
            await wxpay.download(url, hash_value=digest)
    assert info.value.reason == VerificationError.BAD_BODY


def test_bill_parser_incremental_and_strict() -> None:
    plain = make_bill(10)
    parser = BillParser()
    rows = []
    for i in range(0, len(plain), 7):  # split inside multi-byte characters too
        rows += parser.feed_bytes(plain[i : i + 7])
    rows += parser.close()
    assert len(rows) == 10 and parser.headers[0] == "交易时间"
    assert parser.summary["总交易单数"] == "10"
    with pytest.raises(BillFormatError):
        parse_bill(HEADER + "\n`a,`b\n")
