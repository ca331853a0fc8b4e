"""Engine benchmarks (not tests): ``python -m bench [--sizes 10000,100000,1000000]``.

For each directory size, in a fresh process (so peak memory belongs to that size alone):
synthesise a directory, write it as CSV and Parquet, time load+encode from each (validation
included), then rank a queue of varied synthetic clients (top 10) and report the median and
p95. Prints a Markdown table with the machine and date. Target (issue 2): one ranking over
100k therapists in <= 20 ms median on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

CLIENTS = 200
TODAY = date(2026, 11, 22)


def measure(size: int, loads: int) -> dict[str, Any]:
    from matcher import synth
    from matcher.directory import load_directory
    from matcher.preferences import Preferences, referral_to_dict
    from matcher.schema import REFERRAL_FIELDS, parse_table, write_table
    from matcher.scoring import rank

    result: dict[str, Any] = {"size": size}
    started = time.perf_counter()
    table = synth.therapists(size, seed=1)
    result["synth_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        csv, parquet = Path(folder) / "t.csv", Path(folder) / "t.parquet"
        write_table(table, csv)
        write_table(table, parquet)
        del table
        for name, path in (("csv", csv), ("parquet", parquet)):
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                directory = load_directory(path)
                times.append(time.perf_counter() - started)
            result[f"load_{name}_s"] = statistics.median(times)

    queue = synth.referrals(CLIENTS, seed=1)
    typed = parse_table(queue.astype(str).replace({"nan": ""}), REFERRAL_FIELDS)
    clients = [Preferences.model_validate(referral_to_dict(r)) for r in typed.to_dict("records")]
    rank(directory, clients[0], top=10, today=TODAY)  # warm caches once
    times = []
    eligible = []
    for client in clients:
        started = time.perf_counter()
        ranking = rank(directory, client, top=10, today=TODAY)
        times.append(time.perf_counter() - started)
        eligible.append(ranking.eligible)
    result["rank_p50_ms"] = float(np.median(times) * 1000)
    result["rank_p95_ms"] = float(np.percentile(times, 95) * 1000)
    result["eligible_median"] = int(np.median(eligible))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {date.today().isoformat()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process mode
    parser.add_argument("--app-only", action="store_true", help="only the app benchmark")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, loads=3 if args.one <= 100_000 else 1)))
        return 0
    rows = []
    sizes = [] if args.app_only else [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        print(f"measuring {size:,} therapists…", file=sys.stderr, flush=True)
        child = subprocess.run(
            [sys.executable, "-m", "bench", "--one", str(size)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(child.stdout))
    print(f"Machine: {machine()}\n")
    from bench.app import intake_to_results

    app = intake_to_results()
    print(
        f"App, demo directory: intake submitted -> results built in {app['median_s'] * 1000:.0f} ms "
        f"median ({app['max_s'] * 1000:.0f} ms worst of 10)\n"
    )
    from bench.triage import assign_batch

    batch = assign_batch(referrals=2000, therapists=10_000)
    print(
        f"Triage: {batch['referrals']:,} referrals into the open slots of "
        f"{batch['therapists']:,} therapists ({batch['slots']:,} slots) in "
        f"{batch['seconds']:.1f} s; {batch['assigned']:,} assigned, {batch['crisis']:,} crisis, "
        f"{batch['unassigned']:,} unassigned\n"
    )
    if not rows:
        return 0
    print("| therapists | synth | load+validate+encode CSV | same, Parquet | rank p50 | rank p95 "
          "| eligible (median) | peak RSS |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['synth_s']:.1f} s | {r['load_csv_s']:.2f} s "
            f"| {r['load_parquet_s']:.2f} s | {r['rank_p50_ms']:.1f} ms "
            f"| {r['rank_p95_ms']:.1f} ms | {r['eligible_median']:,} "
            f"| {r['peak_rss_mb']:,.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
