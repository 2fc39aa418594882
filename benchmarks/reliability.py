"""The issue-6 proof at full size: load, faults, and the property-test example counts (not part of the suite).

    python benchmarks/reliability.py [--load-n 20000] [--load-c 256] [--faults-n 2000] [--faults-c 64]

* **load** — one client, ``--load-n`` signed-and-verified requests at concurrency ``--load-c`` (40 % POST
  add-stock with a unique ``out_request_no``, 30 % GET list, 30 % GET one stock) against the sandbox running in
  its own process (``python -m wechatpay_chain.sandbox``), so the client's RSS is the client's alone and the
  server gets the second core. The sandbox checks every request signature and RSA-signs every answer, so on a
  small machine the server is a large share of the cost: the throughput is client + server, not the client.
  Checked afterwards: errors, connections still checked out, pending tasks, and the sandbox's stock count and
  per-``out_request_no`` applied count (read over its API and its admin route).
* **faults** — ``--faults-n`` requests per fault phase ("before"/"after" the write is applied) against an
  in-process sandbox injecting 30 % 500 SYSTEM_ERROR, 10 % dropped connections, 5 % 429 and 0–5 ms random
  latency (seeded); a quarter of the writes are sent ``idempotent=False``. Faults are counted on the sandbox
  side; retries on the client side (its hook) and the server side (attempts received).
* **property tests** — runs the hypothesis tests with ``--hypothesis-show-statistics`` and adds up the examples.

Prints a Markdown summary (pasted into docs/reliability.md); exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from reliability_workload import (  # noqa: E402
    BRAND,
    PREFIX,
    STOCKS,
    CountingFaults,
    Tally,
    coupon_body,
    drive,
    leftover_tasks,
    pool_in_use,
    run_fault_mix,
)

from wechatpay_chain import Client  # noqa: E402
from wechatpay_chain.sandbox import Sandbox  # noqa: E402

failures: list[str] = []


def check(ok: bool, what: str) -> str:
    if not ok:
        failures.append(what)
    return "yes" if ok else "**NO**"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of this process, or of another one (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- load -----------------------------------------------------------------------------------------------------
def start_sandbox(directory: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wechatpay_chain.sandbox", "--port", "0", "--write-config", str(directory)],
        stdout=subprocess.DEVNULL,
    )
    target = directory / "config.json"
    deadline = time.monotonic() + 30
    while not target.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the sandbox process did not start")
        time.sleep(0.05)
    config = json.loads(target.read_text())
    config["certs"] = {serial: Path(path).read_text() for serial, path in config["certs"].items()}
    config["private_key"] = Path(config["private_key"]).read_text()
    return proc, config


async def run_load(total: int, concurrency: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, config = start_sandbox(Path(tmp))
        try:
            tally = Tally()
            base_rss = rss_mib()
            before = set(asyncio.all_tasks())
            async with Client(
                config["mchid"], config["serial"], config["private_key"], config["certs"],
                base_url=config["base_url"], limit=concurrency, hooks=[tally.hook],
            ) as wxpay:
                created = (await wxpay[PREFIX].post(json=coupon_body("load_coupon_0001"))).json()
                coupon_id, first_stock = created["product_coupon_id"], created["stock"]["stock_id"]
                tally.attempts = 0
                cpu_client, cpu_server = cpu_seconds(), cpu_seconds(proc.pid)
                await drive(wxpay, coupon_id, first_stock, total, concurrency, tally)
                cpu_client, cpu_server = cpu_seconds() - cpu_client, cpu_seconds(proc.pid) - cpu_server
                await asyncio.sleep(0)
                in_use, inflight, pending = pool_in_use(wxpay), wxpay._inflight, len(leftover_tasks(before))
                retries = tally.retries
                listed = (await wxpay[STOCKS].get(product_coupon_id=coupon_id, query={"brand_id": BRAND})).json()
            client_rss = rss_mib()
            await asyncio.sleep(0.05)
            pending_after_close = len(leftover_tasks(before))
            async with aiohttp.ClientSession() as session, session.get(config["base_url"] + "_sandbox/applied") as r:
                applied: dict[str, int] = await r.json()
            server_rss = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    writes = tally.calls["add"]
    rate = total / tally.elapsed
    errors = sum(tally.errors.values())
    lines = [
        f"### Load: {total:,} requests at concurrency {concurrency}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests (POST add-stock / GET list / GET one) | {total:,} ({writes:,} / {tally.calls['list']:,} / "
        f"{tally.calls['get']:,}) |",
        f"| wall time | {tally.elapsed:.1f} s |",
        f"| throughput (client + sandbox, each request RSA-signed by the client and its answer by the server) | "
        f"{rate:,.0f} requests/s |",
        f"| CPU per request: client process / sandbox process | {cpu_client / total * 1000:.2f} ms / "
        f"{cpu_server / total * 1000:.2f} ms |",
        f"| errors | {errors}{f' {dict(tally.errors)}' if errors else ''} — zero: "
        f"{check(errors == 0, 'load errors')} |",
        f"| retries | {retries} |",
        f"| connections still checked out afterwards | {in_use} — zero: {check(in_use == 0, 'pool')} |",
        f"| requests in flight / pending tasks afterwards | {inflight} / {pending}, after close {pending_after_close}"
        f" — zero: {check(inflight == pending == pending_after_close == 0, 'tasks')} |",
        f"| stocks in the sandbox (GET list `total_count`) | {listed['total_count']:,} = 1 seeded + {writes:,} added: "
        f"{check(listed['total_count'] == 1 + writes, 'stock count')} |",
        f"| `out_request_no` applied exactly once (sandbox admin route) | {sum(v == 1 for v in applied.values()):,}"
        f" of {len(applied):,}: {check(set(applied.values()) == {1} and len(applied) == writes + 1, 'applied')} |",
        f"| peak RSS, client process (baseline before the run) | {client_rss:.0f} MiB ({base_rss:.0f} MiB) |",
        f"| peak RSS, sandbox process | {server_rss:.0f} MiB |",
        "",
    ]
    return lines


# -- faults ---------------------------------------------------------------------------------------------------
async def run_faults(total: int, concurrency: int) -> list[str]:
    lines = [
        f"### Faults: {total:,} requests per phase at concurrency {concurrency}, "
        "30 % 500 / 10 % dropped / 5 % 429, 0–5 ms latency",
        "",
        "| figure | phase \"before\" | phase \"after\" |",
        "|---|---|---|",
    ]
    rows: dict[str, list[str]] = {}
    for phase in ("before", "after"):
        faults = CountingFaults(seed=6, phase=phase)
        async with Sandbox(faults=faults) as sb:
            run = await run_fault_mix(sb, faults, total, concurrency, phase)
            coupon_id, tally = run.coupon_id, run.tally
            leaks = run.in_use + run.inflight + len(run.leftover)
            received = sum(faults.drawn.values())
            duplicates = sum(count > 1 for count in sb.store.applied.values())
            expected = 0 if phase == "before" else 1
            unknown_ok = all(sb.applied_writes(n) == expected for n in tally.unknown)
            written_ok = all(sb.applied_writes(n) == 1 for n in tally.written)
            stocks_ok = len(sb.store.stocks[coupon_id]) == 1 + len(tally.written) + expected * len(tally.unknown)
        idempotent = {k: tally.calls[k] for k in ("add", "list", "get")}
        idem_ok = all(tally.ok[k] == v for k, v in idempotent.items())
        other_errors = {k: v for k, v in tally.errors.items() if k != "add_unmarked: OutcomeUnknown"}
        injected = Counter({k: v for k, v in faults.drawn.items() if k != "none"})
        values = {
            "requests (idempotent / marked `idempotent=False`)": f"{tally.requests:,} ({sum(idempotent.values()):,} / "
            f"{tally.calls['add_unmarked']:,})",
            "attempts received by the sandbox": f"{received:,}",
            "faults injected (sandbox side)": ", ".join(
                f"{kind} {count:,} ({count / received:.1%})" for kind, count in sorted(injected.items())
            ),
            "client retries (its hook) + aiohttp's own re-sends of reads": f"{tally.retries:,} + "
            f"{received - tally.attempts:,}; at most {tally.max_attempt} attempts for one request",
            "idempotent requests that succeeded": f"{sum(tally.ok[k] for k in idempotent):,} of "
            f"{sum(idempotent.values()):,}: {check(idem_ok and not other_errors, f'idempotent {phase}')}",
            "`idempotent=False` writes: succeeded / OutcomeUnknown": f"{tally.ok['add_unmarked']:,} / "
            f"{len(tally.unknown):,}",
            "OutcomeUnknown writes applied (expected)": f"{expected * len(tally.unknown)} "
            f"({'all' if expected else 'none'}): {check(unknown_ok, f'unknown {phase}')}",
            "duplicate side effects (`out_request_no` applied twice)": f"{duplicates}: "
            f"{check(duplicates == 0 and written_ok and stocks_ok, f'duplicates {phase}')}",
            "leaked connections / tasks": f"{leaks}: {check(leaks == 0, f'leaks {phase}')}",
            "wall time": f"{tally.elapsed:.1f} s",
        }
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    lines += [f"| {name} | {' | '.join(cells)} |" for name, cells in rows.items()]
    return [*lines, ""]


# -- property tests ---------------------------------------------------------------------------------------------
def property_test_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py") if "@given" in p.read_text())


def run_properties(rounds: int) -> list[str]:
    """Run every hypothesis test ``rounds`` times with different seeds; add up the examples each one tried."""
    files = property_test_files()
    counts: Counter[str] = Counter()
    passed = True
    for seed in range(rounds):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
             f"--hypothesis-seed={seed}", "-m", "not slow", *files],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        passed = passed and proc.returncode == 0
        current = ""
        for line in proc.stdout.splitlines():
            header = re.match(r"(tests/\S+::\S+):$", line.strip())
            if header:
                current = header.group(1)
            found = re.search(r"(\d+) passing(?: examples)?, (\d+) failing", line)
            if found and current:
                counts[current] += int(found.group(1))
                if int(found.group(2)):
                    failures.append(f"{current}: failing examples (seed {seed})")
    check(passed and bool(counts), "property tests")
    lines = [
        f"### Hostile input: {len(counts)} property tests (hypothesis) × {rounds} seeds, "
        f"{sum(counts.values()):,} generated inputs, all passing: {'yes' if passed else '**NO**'}",
        "",
        "| property test | inputs tried |",
        "|---|---|",
    ]
    lines += [f"| `{name.split('::', 1)[1]}` ({name.split('::')[0]}) | {n:,} |" for name, n in sorted(counts.items())]
    return [*lines, ""]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-n", type=int, default=20_000)
    parser.add_argument("--load-c", type=int, default=256)
    parser.add_argument("--faults-n", type=int, default=2_000)
    parser.add_argument("--faults-c", type=int, default=64)
    parser.add_argument("--property-rounds", type=int, default=10, help="seeds per property test (0 = skip)")
    args = parser.parse_args()
    started = time.perf_counter()
    python = sys.version.split()[0]
    lines = [f"_Machine: {os.cpu_count()} CPU cores, Python {python}, aiohttp {aiohttp.__version__}_", ""]
    lines += await run_load(args.load_n, args.load_c)
    lines += await run_faults(args.faults_n, args.faults_c)
    if args.property_rounds:
        lines += run_properties(args.property_rounds)
    lines.append(f"_Total run time {time.perf_counter() - started:.0f} s._")
    print("\n".join(lines))
    if failures:
        print("\nFAILED CHECKS: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
