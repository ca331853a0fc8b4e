"""Speed where people feel it: ``python -m bench.browser [--runs 10] [--therapists 100000]``.

Starts the real app (`streamlit run app.py`) on a free local port and drives it with Playwright
in Debian's Chromium (never a downloaded browser), as a client would:

- cold start: from launching the server to the intake's heading drawn in a new browser page;
- submit → first card: from clicking "Show my matches" to the first match's score drawn, in a
  fresh browser context each run (state NC, one concern), median and 95th percentile.

Run on the demo directory, and with ``--therapists N`` on a synthetic directory of N therapists
(the app loads it as the demo, through ``MATCHER_DEMO_DIRECTORY``). The machine is shared, so
the load average and the server process's CPU time are printed beside the wall times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(directory: Path | None, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is missing: apt-get install chromium")
    port = _port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MATCHER_DB": str(Path(tempfile.mkdtemp()) / "bench.db")}
    if directory is not None:
        env["MATCHER_DEMO_DIRECTORY"] = str(directory)
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
            cold = time.perf_counter() - started
            page.close()
            submits = []
            cpu_before = _cpu_seconds(server.pid)
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.goto(url)
                page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
                state = page.get_by_label("Your state (therapists must be licensed where you live)")
                state.click()
                state.fill("North Carolina (NC)")
                page.get_by_role("option", name="North Carolina (NC)").first.click()
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
                clicked = time.perf_counter()
                page.get_by_role("button", name="Show my matches").click()
                page.locator('[data-testid="stMetric"]').first.wait_for()
                submits.append(time.perf_counter() - clicked)
                context.close()
            server_cpu = _cpu_seconds(server.pid) - cpu_before
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "cold_s": cold,
        "submit_p50_s": float(np.median(submits)),
        "submit_p95_s": float(np.percentile(submits, 95)),
        "server_cpu_per_submit_s": server_cpu / runs,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--therapists", type=int, default=0, help="also a synthetic directory")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    rows = [("demo directory (2,000)", measure(None, args.runs))]
    if args.therapists:
        from matcher import synth
        from matcher.schema import write_table

        folder = Path(tempfile.mkdtemp())
        write_table(synth.therapists(args.therapists, seed=1), folder / "therapists.parquet")
        rows.append((f"{args.therapists:,} therapists", measure(folder / "therapists.parquet",
                                                                args.runs)))  # fmt: skip
    print("| directory | cold start → intake drawn | submit → first card p50 | p95 | server CPU "
          "per submit |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['cold_s']:.1f} s | {r['submit_p50_s'] * 1000:.0f} ms "
              f"| {r['submit_p95_s'] * 1000:.0f} ms | {r['server_cpu_per_submit_s'] * 1000:.0f} ms |")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
