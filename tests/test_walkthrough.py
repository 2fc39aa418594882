"""A new user's first mistakes, found by walking the README and examples from a fresh clone: each one gets an
error that names what was wrong and what to do, before any I/O."""

from __future__ import annotations

import datetime as dt
import json
import runpy
import socket
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from wechatpay_chain import Client, ConfigError, SyncClient, TemplateError
from wechatpay_chain.sandbox import Sandbox, SyncSandbox
from wechatpay_chain.sandbox.__main__ import clock_command
from wechatpay_chain.sandbox.payments._cli import payer_command

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("privateKey", "private_key"),  # wechatpay-php's spelling
        ("apiv3Key", "apiv3_key"),
        ("apiv3_ky", "apiv3_key"),
        ("secret", "apiv2_key"),  # PHP's name for the APIv2 key
        ("cert", "certs"),
        ("timout", "timeout"),
    ],
)
def test_client_keyword_typos_name_the_keyword_meant(typo: str, meant: str) -> None:
    with SyncSandbox() as sb:
        config: dict[str, Any] = dict(sb.config)
        value = config.pop(meant, "x")
        for build in (Client, SyncClient):
            with pytest.raises(ConfigError, match=rf"^{typo}: is not a keyword argument of {build.__name__}\(\); "
                                                   rf"did you mean '{meant}'\? valid: .*\bprivate_key\b") as info:
                build(**config, **{typo: value})
            assert info.value.field == typo
        with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
            sb.client(**{typo: value})


def test_an_unrelated_keyword_lists_the_valid_ones_without_guessing() -> None:
    unrelated: dict[str, Any] = {"zzz": 1}
    with pytest.raises(ConfigError, match=r"^zzz: is not a keyword argument of Client\(\); valid: apiv2_key, ") as info:
        Client("1900000109", **unrelated)
    assert "did you mean" not in str(info.value)


async def test_keyword_check_leaves_good_clients_working() -> None:
    async with Sandbox() as sb, Client(**sb.config) as wxpay:
        r = await wxpay.v3.certificates.get()
    assert r.status == 200


def _closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"


@pytest.mark.parametrize("command", [["payer", "pay", "N000001"], ["clock", "advance", "60"], ["payer", "orders"]])
def test_sandbox_admin_commands_say_how_to_find_the_sandbox(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = _closed_port()
    run = payer_command if command[0] == "payer" else clock_command
    assert run([*command[1:], "--url", url]) == 1
    err = capsys.readouterr().err
    assert f"no sandbox answers at {url}" in err
    assert "give --url the address it printed" in err


def test_fastapi_example_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as in a venv with only wechatpay-chain installed
    with pytest.raises(SystemExit, match=r"needs FastAPI and uvicorn \(uvicorn is missing\): pip install fastapi uvicorn"):
        runpy.run_path(str(EXAMPLES / "fastapi_app.py"), run_name="not_main")


@pytest.mark.parametrize("page", ["README.md", "README.zh-CN.md"])
def test_readme_points_at_files_a_clone_has(page: str) -> None:
    """A clone has no ``../shared``: the known-answer vectors the README names live in tests/vectors/."""
    text = (EXAMPLES.parent / page).read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "`tests/vectors/vectors.json`" in text and (EXAMPLES.parent / "tests/vectors/vectors.json").is_file()


def test_sandbox_keyword_typos_name_the_keyword_meant() -> None:
    typo: dict[str, Any] = {"mchd": "1900000109"}  # what mypy would flag; scripts and notebooks get this
    with pytest.raises(ConfigError, match=r"^mchd: is not a keyword argument of Sandbox\(\); did you mean 'mchid'\?"):
        Sandbox(**typo)
    with pytest.raises(ConfigError, match=r"^prot: is not a keyword argument of SyncSandbox\(\); did you mean 'port'\?"):
        SyncSandbox(prot=8080)


def test_the_in_process_payer_says_which_order_and_why() -> None:
    with SyncSandbox() as sb, sb.client() as wxpay:
        with pytest.raises(LookupError, match=r"^no order with out_trade_no 'N404' in this sandbox$"):
            sb.pay("N404")
        wxpay.v3.pay.transactions.native.post(json={
            "appid": "wxd678efh567hg6787", "mchid": sb.mchid, "description": "d", "out_trade_no": "N000001",
            "amount": {"total": 100}, "notify_url": "http://127.0.0.1:9/notify",
        })
        sb.pay("N000001")
        with pytest.raises(Exception, match=r"^400 ORDERPAID: 订单状态为 SUCCESS，不能支付$"):
            sb.pay("N000001")  # paid twice: the answer WeChat Pay would give, not an args tuple


def test_payer_command_without_a_number_says_which_number(capsys: pytest.CaptureFixture[str]) -> None:
    from wechatpay_chain.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["sandbox", "payer", "pay"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "wechatpay-chain sandbox payer: error: pay needs the number: pay NUMBER, NUMBER = its out_trade_no" in err


def test_the_payer_pays_integer_fen_only() -> None:
    with SyncSandbox() as sb, sb.client() as wxpay:
        wxpay.v3.pay.transactions.native.post(json={
            "appid": "wxd678efh567hg6787", "mchid": sb.mchid, "description": "d", "out_trade_no": "N000002",
            "amount": {"total": 100}, "notify_url": "http://127.0.0.1:9/notify",
        })
        for bad in (9.9, 50.0, "50", True):
            with pytest.raises(TypeError, match=rf"^amount must be integer fen \(分, 1 元 = 100 分\), got {bad!r}$"):
                sb.pay("N000002", amount=bad)
        query = wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get
        assert query(out_trade_no="N000002", query={"mchid": sb.mchid}).json()["trade_state"] == "NOTPAY"
        assert sb.pay("N000002", amount=50)["amount"]["payer_total"] == 50


async def test_requests_habits_are_explained_before_any_io() -> None:
    """``json=json.dumps(body)``, ``data=``/``params=`` and the body as the positional mapping."""
    async with Sandbox() as sb, sb.client() as wxpay:
        body = {
            "appid": "wxd678efh567hg6787", "mchid": sb.mchid, "description": "d", "out_trade_no": "N000003",
            "amount": {"total": 100}, "notify_url": "http://127.0.0.1:9/notify",
        }
        native = wxpay.v3.pay.transactions.native
        with pytest.raises(TemplateError, match=r"^json: is str, and every WeChat Pay body is a JSON object: pass "
                                                r"the dict itself \(json=body\), or already-serialised text as body="):
            await native.post(json=json.dumps(body))
        with pytest.raises(TemplateError, match=r"^json: is bytes"):
            await native.post(json=json.dumps(body).encode())
        with pytest.raises(TemplateError, match=r"unknown option 'data' .*did you mean the option 'json'\?"):
            await native.post(data=body)
        query = wxpay.v3.pay.transactions.outTradeNo._out_trade_no_
        with pytest.raises(TemplateError, match=r"unknown option 'params' .*did you mean the option 'query'\?"):
            await query.get(out_trade_no="N000003", params={"mchid": sb.mchid})
        with pytest.raises(TemplateError, match=r"the positional mapping is the options array \(PHP's \['json' => "
                                                r"\[\.\.\.\]\]\), not the request body: post\(json=body\)"):
            await native.post(body)
        with pytest.raises(TemplateError, match=r"unknown option 'jsno' .*did you mean the option 'json'\?"):
            await native.post({"jsno": body})  # a typo of the option, not the body: no body hint
        assert (await native.post(json=body)).status == 200  # the right call goes through


@pytest.mark.parametrize(("data", "kind"), [('"{\\"a\\": 1}"', "string"), ("100", "number"), ("null", "null")])
def test_cli_data_must_be_a_json_object(data: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wechatpay_chain.cli import main

    with SyncSandbox() as sb:
        config = sb.write_config(tmp_path)
        assert main(["request", "-c", str(config), "v3.pay.transactions.native", "-d", data]) == 1
        assert not sb.sandbox.engine.seen  # refused before any request
    err = capsys.readouterr().err
    assert f"wechatpay-chain: error: --data must be a JSON object ({{...}}), not a JSON {kind}" in err


async def test_query_dates_are_yyyy_mm_dd_and_datetimes_are_explained() -> None:
    async with Sandbox() as sb, sb.client() as wxpay:
        await wxpay.v3.pay.transactions.native.post(json={
            "appid": "wxd678efh567hg6787", "mchid": sb.mchid, "description": "d", "out_trade_no": "N000004",
            "amount": {"total": 100}, "notify_url": "http://127.0.0.1:9/notify",
        })
        sb.pay("N000004")
        today = dt.datetime.fromtimestamp(sb.clock.now(), ZoneInfo("Asia/Shanghai")).date()
        r = await wxpay.v3.bill.tradebill.get(query={"bill_date": today})
        assert r.status == 200 and "download_url" in r.json()
        assert sb.engine.seen[-1].target.endswith(f"bill_date={today.isoformat()}")
        with pytest.raises(TemplateError, match=r"^'bill_date' is a datetime: give a date \(value\.date\(\) → "):
            await wxpay.v3.bill.tradebill.get(query={"bill_date": dt.datetime.now(ZoneInfo("Asia/Shanghai"))})
