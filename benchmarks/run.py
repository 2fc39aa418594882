"""The side-by-side benchmark: one command, every contender, the same loopback target.

    python benchmarks/run.py [--quick] [--json] [--rounds N] [--duration S] [--no-micro] [--no-memory]

Starts ``server.py`` (pre-signed rotating answers), then for each round, each workload (GET with a query,
POST with the ≈3 KB product-coupon body) and each concurrency (1, 16, 64) runs every contender once, in a
rotated order, each in a fresh process (``contenders.py``) so that its process CPU time and peak RSS are
its own. ``SyncClient`` (``chain-sync``) and the hand-off design it replaced (``chain-sync-handoff``) run at
concurrency 1 and as 16 threads sharing one client. Figures are medians over rounds; ratios are the median
over rounds of the per-round ratio to the floor client measured in the same round. Then the micro-figures
(``micro.py``) and the 10,000-in-flight memory figure (``memory.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from server import spawn, stop  # noqa: E402
from workload import make_keys  # noqa: E402

CONCURRENCY = (1, 16, 64)
WORKLOADS = ("get", "post")
METRICS = ("rps", "cpu_us", "p50_ms", "p99_ms", "rss_mb")
EXTRA = ("machine_busy_cores",)
TARGET_RPS, TARGET_CPU, TARGET_VS_PEER, TARGET_CHAIN_US = 0.90, 1.10, 3.0, 5.0
TARGET_SYNC_CPU, TARGET_SYNC_RPS = 1.15, 0.85  # issue 16: SyncClient CPU/req vs Client, req/s vs the floor


def contenders_for(concurrency: int, have_peer: bool) -> list[str]:
    names = ["floor", "chain", "bare"]
    if concurrency <= 16:
        names += ["chain-sync", "chain-sync-handoff"]  # at 16: threads sharing one client
    if concurrency > 1:
        names.append("floor-pool2")
    if have_peer:
        names.append("wechatpayv3-async")
        if concurrency == 1:
            names.append("wechatpayv3-sync")
    return names


def _stats(port: int) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__bench/stats", timeout=10) as resp:
        return orjson.loads(resp.read())  # type: ignore[no-any-return]


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, to tell how loaded it was during a run."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_one(
    name: str, workload: str, concurrency: int, port: int, keys: Path, args: argparse.Namespace
) -> dict[str, Any]:
    before = _stats(port)
    busy0, total0 = cpu_jiffies()
    cmd = [
        sys.executable, str(HERE / "contenders.py"), name, "--workload", workload, "--concurrency", str(concurrency),
        "--port", str(port), "--keys", str(keys), "--warmup", str(args.warmup), "--duration", str(args.duration),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        return {"contender": name, "failed": proc.stderr.strip()[-800:]}
    busy1, total1 = cpu_jiffies()
    result: dict[str, Any] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    # Cores busy machine-wide (client + server + anything else) over the whole child run.
    result["machine_busy_cores"] = (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
    after = _stats(port)
    result["server_sign_failures"] = after["failed"] - before["failed"]
    result["server_checked"] = after["checked"] - before["checked"]
    return result


def aggregate(samples: dict[tuple[str, int, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for (workload, concurrency, name), runs in samples.items():
        good = [r for r in runs if "failed" not in r]
        row: dict[str, Any] = {"workload": workload, "concurrency": concurrency, "contender": name, "runs": len(good)}
        if not good:
            row["failed"] = runs[0].get("failed")
            rows.append(row)
            continue
        for metric in METRICS + EXTRA:
            row[metric] = statistics.median(r[metric] for r in good)
        row["errors"] = sum(r["errors"] for r in good)
        row["server_sign_failures"] = sum(r["server_sign_failures"] for r in good)
        first = next((r["first_error"] for r in good if r["first_error"]), None)
        if first:
            row["first_error"] = first
        floors = samples.get((workload, concurrency, "floor"), [])
        for metric in METRICS:
            ratios = [
                r[metric] / f[metric]
                for r, f in zip(runs, floors, strict=False)
                if "failed" not in r and "failed" not in f and f[metric]
            ]
            row[f"{metric}_x_floor"] = statistics.median(ratios) if ratios else None
        chains = samples.get((workload, concurrency, "chain"), [])
        for metric in ("rps", "cpu_us"):  # the same per-round ratios, to the async client
            ratios = [
                r[metric] / c[metric]
                for r, c in zip(runs, chains, strict=False)
                if "failed" not in r and "failed" not in c and c[metric]
            ]
            row[f"{metric}_x_chain"] = statistics.median(ratios) if ratios else None
        rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'workload':8s} {'c':>3s} {'contender':18s} {'req/s':>8s} {'×floor':>6s} {'CPU µs/req':>10s} {'×floor':>6s} "
        f"{'p50 ms':>7s} {'×floor':>6s} {'p99 ms':>7s} {'×floor':>6s} {'RSS MB':>6s} {'×floor':>6s} {'err':>4s} "
        f"{'busy':>5s}"
    )
    lines = [head, "-" * len(head)]
    last = None
    for row in rows:
        key = (row["workload"], row["concurrency"])
        if last is not None and key != last:
            lines.append("")
        last = key
        if "failed" in row:
            failed = row["failed"][-200:]
            lines.append(f"{row['workload']:8s} {row['concurrency']:3d} {row['contender']:18s} failed: {failed}")
            continue

        def x(metric: str, row: dict[str, Any] = row) -> str:
            value = row.get(f"{metric}_x_floor")
            return f"{value:6.2f}" if value is not None else f"{'-':>6s}"

        errors = row["errors"] + row["server_sign_failures"]
        lines.append(
            f"{row['workload']:8s} {row['concurrency']:3d} {row['contender']:18s} {row['rps']:8.0f} {x('rps')} "
            f"{row['cpu_us']:10.0f} {x('cpu_us')} {row['p50_ms']:7.2f} {x('p50_ms')} "
            f"{row['p99_ms']:7.2f} {x('p99_ms')} "
            f"{row['rss_mb']:6.1f} {x('rss_mb')} {errors:4d} {row['machine_busy_cores']:5.2f}"
        )
    return "\n".join(lines)


def check_targets(rows: list[dict[str, Any]], micro: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The issue's targets, evaluated on this run's ratios."""
    out: list[dict[str, Any]] = []
    by = {(r["workload"], r["concurrency"], r["contender"]): r for r in rows if "failed" not in r}
    for workload in WORKLOADS:
        for concurrency in CONCURRENCY:
            chain = by.get((workload, concurrency, "chain"))
            if chain is None:
                continue
            rps, cpu = chain.get("rps_x_floor"), chain.get("cpu_us_x_floor")
            out.append({"target": f"{workload} c={concurrency}: chain req/s ≥ {TARGET_RPS} × floor",
                        "value": rps, "ok": rps is not None and rps >= TARGET_RPS})
            out.append({"target": f"{workload} c={concurrency}: chain CPU/req ≤ {TARGET_CPU} × floor",
                        "value": cpu, "ok": cpu is not None and cpu <= TARGET_CPU})
        chain16 = by.get((workload, 16, "chain"))
        peer16 = by.get((workload, 16, "wechatpayv3-async"))
        if chain16 and peer16:
            ratio = chain16["rps"] / peer16["rps"]
            out.append({"target": f"{workload} c=16: chain ≥ {TARGET_VS_PEER} × wechatpayv3 async",
                        "value": ratio, "ok": ratio >= TARGET_VS_PEER})
        sync1 = by.get((workload, 1, "chain-sync"))
        if sync1:
            cpu, rps = sync1.get("cpu_us_x_chain"), sync1.get("rps_x_floor")
            out.append({"target": f"{workload} c=1: SyncClient CPU/req ≤ {TARGET_SYNC_CPU} × Client",
                        "value": cpu, "ok": cpu is not None and cpu <= TARGET_SYNC_CPU})
            out.append({"target": f"{workload} c=1: SyncClient req/s ≥ {TARGET_SYNC_RPS} × floor",
                        "value": rps, "ok": rps is not None and rps >= TARGET_SYNC_RPS})
        sync16, handoff16 = by.get((workload, 16, "chain-sync")), by.get((workload, 16, "chain-sync-handoff"))
        if sync16 and handoff16:
            ratio = sync16["rps"] / handoff16["rps"]
            out.append({"target": f"{workload} 16 threads: SyncClient req/s ≥ 1.0 × the hand-off design",
                        "value": ratio, "ok": ratio >= 1.0})
    if micro:
        value = micro["timings_us"]["chain_template_warm_us"]
        out.append({"target": f"7-segment chain + template ≤ {TARGET_CHAIN_US} µs", "value": value,
                    "ok": value <= TARGET_CHAIN_US})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round, short runs (≈2 minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="timed seconds per contender run")
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    parser.add_argument("--only", help="comma-separated contenders (floor is always included)")
    parser.add_argument("--no-micro", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 4)
    args.duration = args.duration or (1.0 if args.quick else 1.5)
    args.warmup = args.warmup or (0.3 if args.quick else 0.5)
    have_peer = importlib.util.find_spec("wechatpayv3") is not None
    only = set(args.only.split(",")) | {"floor"} if args.only else None
    log = sys.stderr
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="wechatpay-chain-bench-") as tmp:
        keys = make_keys(Path(tmp) / "keys").directory
        server, port = spawn(keys, workers=args.server_workers)
        samples: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        try:
            for rnd in range(args.rounds):
                for workload in args.workloads.split(","):
                    for concurrency in map(int, args.concurrency.split(",")):
                        names = [n for n in contenders_for(concurrency, have_peer) if only is None or n in only]
                        shift = rnd % len(names)
                        for name in names[shift:] + names[:shift]:
                            result = run_one(name, workload, concurrency, port, keys, args)
                            samples.setdefault((workload, concurrency, name), []).append(result)
                            shown = f"{result['rps']:.0f} req/s" if "rps" in result else "FAILED"
                            print(f"[{time.monotonic() - started:5.0f}s] round {rnd + 1}/{args.rounds} "
                                  f"{workload} c={concurrency} {name}: {shown}", file=log, flush=True)
            micro = None
            if not args.no_micro:
                cmd = [sys.executable, str(HERE / "micro.py"), "--json", "--port", str(port), "--keys", str(keys)]
                if args.quick:
                    cmd.append("--quick")
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
                micro = orjson.loads(proc.stdout.strip().splitlines()[-1])
                print(f"[{time.monotonic() - started:5.0f}s] micro done", file=log, flush=True)
        finally:
            stop(server)
        memory = None
        if not args.no_memory:
            cmd = [sys.executable, str(HERE / "memory.py"), "--json", "--requests", str(args.memory_requests)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
            memory = orjson.loads(proc.stdout.strip().splitlines()[-1])
            print(f"[{time.monotonic() - started:5.0f}s] memory done", file=log, flush=True)

    order = {name: i for i, name in enumerate(
        ["floor", "chain", "chain-sync", "chain-sync-handoff", "floor-pool2", "bare", "wechatpayv3-async",
         "wechatpayv3-sync"])}
    rows = sorted(aggregate(samples), key=lambda r: (
        WORKLOADS.index(r["workload"]), r["concurrency"], order.get(r["contender"], 99)))
    targets = check_targets(rows, micro)
    settings = {"rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
                "server_workers": args.server_workers, "python": sys.version.split()[0],
                "wechatpayv3": have_peer, "elapsed_s": time.monotonic() - started}
    doc: dict[str, Any] = {
        "settings": settings,
        "rows": rows,
        "raw": {f"{w}/{c}/{n}": runs for (w, c, n), runs in samples.items()},
        "micro": micro,
        "memory": memory,
        "targets": targets,
    }
    if args.json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    print(f"rounds={args.rounds} duration={args.duration}s warmup={args.warmup}s python={settings['python']} "
          f"(medians over rounds; ×floor = median per-round ratio to the floor client)")
    print(format_rows(rows))
    sync_rows = [r for r in rows if r["contender"].startswith("chain-sync") and r.get("cpu_us_x_chain")]
    if sync_rows:
        print("\nsync clients against the async Client (median per-round ratios; c=16 = 16 threads, one client)")
        for r in sync_rows:
            print(f"  {r['workload']:5s} c={r['concurrency']:<3d} {r['contender']:18s} "
                  f"CPU/req {r['cpu_us_x_chain']:.2f} × Client   req/s {r['rps_x_chain']:.2f} × Client")
    if micro:
        print("\nmicro (µs per call, median)")
        for name, value in micro["timings_us"].items():
            print(f"  {name:32s} {value:9.2f}")
        for name, figures in micro.get("allocations", {}).items():
            print(f"  alloc {name:10s} " + "  ".join(f"{k}={v:,.0f}" for k, v in figures.items()))
    if memory:
        from memory import format_table

        print("\nmemory (requests in flight through one client)")
        print(format_table(memory))
    print("\ntargets")
    for t in targets:
        value = f"{t['value']:.2f}" if t["value"] is not None else "-"
        print(f"  [{'PASS' if t['ok'] else 'FAIL'}] {t['target']}: {value}")
    print(f"\nelapsed {settings['elapsed_s']:.0f}s")


if __name__ == "__main__":
    main()
