"""Ranking speed of this checkout against another revision, in one run:
``python -m bench.compare --against REV [--sizes 100000,1000000] [--rounds 3]``.

The machine is shared and noisy, so the two versions are measured alternately (round robin,
each round a fresh process per version and size) on the same Parquet files and the same 200
synthetic clients, and each reports wall and CPU time per ranking (median over clients); the
table gives the median over rounds and the ratio new / old of each, and at 100k the time to
rank a batch of 1,000 referrals with ``rank_many``; the load average is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
from datetime import date
import numpy as np
sys.path.insert(0, sys.argv[1])
from matcher.directory import load_directory
from matcher.scoring import rank, rank_many
from bench.__main__ import clients
directory = load_directory(sys.argv[2])
people = clients(200)
rank(directory, people[0], top=10, today=date(2026, 11, 22))
wall, cpu = [], []
for p in people:
    w, c = time.perf_counter(), time.process_time()
    rank(directory, p, top=10, today=date(2026, 11, 22))
    wall.append(time.perf_counter() - w); cpu.append(time.process_time() - c)
out = {"wall_ms": float(np.median(wall) * 1e3), "cpu_ms": float(np.median(cpu) * 1e3)}
if len(directory) == 100_000:  # the batch target: 1,000 referrals against 100k
    batch = clients(1000)
    w, c = time.perf_counter(), time.process_time()
    rank_many(directory, batch, top=10, today=date(2026, 11, 22))
    out |= {"batch_s": time.perf_counter() - w, "batch_cpu_s": time.process_time() - c}
print(json.dumps(out))
"""


def measure(source: Path, parquet: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(parquet)],
        capture_output=True, text=True, check=True, cwd=source,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, help="a git revision, e.g. c5511ba")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from matcher import synth
    from matcher.schema import write_table

    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        results: dict[tuple[int, str], list[dict[str, float]]] = {}
        for size in (int(s) for s in args.sizes.split(",")):
            parquet = Path(folder) / f"t{size}.parquet"
            write_table(synth.therapists(size, seed=1), parquet)
            for r in range(args.rounds):
                for name, source in (("old", old), ("new", ROOT)):
                    started = time.perf_counter()
                    results.setdefault((size, name), []).append(measure(source, parquet))
                    print(f"{size:,} {name} round {r + 1}: {time.perf_counter() - started:.0f} s",
                          file=sys.stderr, flush=True)  # fmt: skip
    print(f"Load average {os.getloadavg()[0]:.1f} at the end (two cores)\n")
    print(f"| therapists | {args.against} wall | new wall | {args.against} CPU | new CPU "
          "| new / old (CPU) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    keys = ("wall_ms", "cpu_ms", "batch_s", "batch_cpu_s")
    medians = {
        (size, name): {k: float(np.median([x[k] for x in runs])) for k in keys if k in runs[0]}
        for (size, name), runs in results.items()
    }
    for size in sorted({s for s, _ in results}):
        o, n = medians[(size, "old")], medians[(size, "new")]
        print(f"| {size:,} | {o['wall_ms']:.1f} ms | {n['wall_ms']:.1f} ms | {o['cpu_ms']:.1f} ms "
              f"| {n['cpu_ms']:.1f} ms | {n['cpu_ms'] / o['cpu_ms']:.2f}× |")  # fmt: skip
    for size in sorted({s for s, _ in results}):
        o, n = medians[(size, "old")], medians[(size, "new")]
        if "batch_s" in o and "batch_s" in n:
            print(f"\n1,000 referrals top-10 against {size:,} (rank_many): {o['batch_s']:.2f} -> "
                  f"{n['batch_s']:.2f} s wall, {o['batch_cpu_s']:.2f} -> {n['batch_cpu_s']:.2f} s "
                  "CPU")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
