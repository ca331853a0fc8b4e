"""Speed where people feel it: ``python -m bench.browser [--runs 10] [--cold 3] [--therapists N]
[--baseline PATH]``.

Starts the real app (`streamlit run app.py`) on a free local port and drives it with Playwright
in Debian's Chromium (never a downloaded browser), as a client would:

- cold start: from launching the server to the intake drawn in a new browser page (its heading,
  its first question, its last question and "Show my matches": Streamlit draws a page's widgets
  in bursts, and inside a form the submit button came before the questions), median over
  ``--cold`` fresh servers; the time to the server's health answer and to Chromium's launch are
  printed beside it;
- submit → first card: from clicking "Show my matches" to the first match's score drawn, in a
  fresh browser context each run (state NC), median and 95th percentile.

Run on the demo directory, and with ``--therapists N`` on a synthetic directory of N therapists
(the app loads it as the demo, through ``MATCHER_DEMO_DIRECTORY``). The machine is shared, so
the load average and the server process's CPU time are printed beside the wall times (CPU per
search: the server's CPU time while one search runs, from a fresh page drawn through a state
chosen to the results drawn; median).

``--baseline PATH`` measures another checkout too (e.g. ``git worktree add /tmp/base <commit>``),
taking turns run by run with this one, so a busy machine's load falls on both alike.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from matcher.serve import START_TIMEOUT_S, started, stop_process

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
STATE = "Your state (therapists must be licensed where you live)"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is missing: apt-get install chromium")
    return chromium


@contextmanager
def _server(root: Path, directory: Path | None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``streamlit run app.py`` in ``root`` (with that checkout's config), once it answers."""
    port = _port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MATCHER_DB": str(Path(tempfile.mkdtemp()) / "bench.db")}
    if directory is not None:
        env["MATCHER_DEMO_DIRECTORY"] = str(directory)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if not started(url, server, START_TIMEOUT_S):
            raise SystemExit("the app's server did not start (or stopped)")
        yield server, url
    finally:
        stop_process(server)


SAFETY = "Are you having thoughts of ending your life, or of harming someone else?"


def _intake_drawn(page: Any) -> None:
    page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
    page.get_by_label(STATE).wait_for()
    page.get_by_text(SAFETY).wait_for()
    page.get_by_role("button", name="Show my matches").wait_for()


def _cold(playwright: Any, root: Path, directory: Path | None) -> dict[str, float]:
    started = time.perf_counter()
    with _server(root, directory) as (_, url):
        health = time.perf_counter() - started
        browser = playwright.chromium.launch(executable_path=_chromium(), args=FLAGS)
        launched = time.perf_counter() - started - health
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        _intake_drawn(page)
        cold = time.perf_counter() - started
        browser.close()
    return {"cold_s": cold, "health_s": health, "browser_s": launched}


def _search(browser: Any, server: subprocess.Popen[bytes], url: str) -> dict[str, float]:
    """One client: a fresh page, the state chosen, "Show my matches" until the first card."""
    load = os.getloadavg()[0]
    cpu = _cpu_seconds(server.pid)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    _intake_drawn(page)
    state = page.get_by_label(STATE)
    state.click()
    state.fill("North Carolina (NC)")
    page.get_by_role("option", name="North Carolina (NC)").first.click()
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    clicked = time.perf_counter()
    page.get_by_role("button", name="Show my matches").click()
    page.locator('[data-testid="stMetric"]').first.wait_for()
    submit = time.perf_counter() - clicked
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    cpu = _cpu_seconds(server.pid) - cpu
    context.close()
    return {"submit_s": submit, "cpu_s": cpu, "load": (load + os.getloadavg()[0]) / 2}


def measure(
    roots: list[Path], directory: Path | None, runs: int, colds: int
) -> list[dict[str, Any]]:
    """Each checkout's cold starts and searches, taking turns (the order flips every round)."""
    from playwright.sync_api import sync_playwright

    def turns(i: int) -> list[int]:
        order = list(range(len(roots)))
        return order if i % 2 == 0 else order[::-1]

    colds_of: list[list[dict[str, float]]] = [[] for _ in roots]
    searches_of: list[list[dict[str, float]]] = [[] for _ in roots]
    with sync_playwright() as playwright:
        for i in range(colds):
            for k in turns(i):
                colds_of[k].append(_cold(playwright, roots[k], directory))
        with _servers(roots, directory) as servers:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=FLAGS)
            for server, url in servers:  # each server's first session imports the pages
                _search(browser, server, url)
            for i in range(runs):
                for k in turns(i):
                    searches_of[k].append(_search(browser, *servers[k]))
            browser.close()
    results = []
    for starts, searches in zip(colds_of, searches_of, strict=True):
        submits = [s["submit_s"] for s in searches]
        results.append(
            {
                **{key: float(np.median([s[key] for s in starts])) for key in starts[0]},
                "submit_p50_s": float(np.median(submits)),
                "submit_p95_s": float(np.percentile(submits, 95)),
                "server_cpu_per_search_s": float(np.median([s["cpu_s"] for s in searches])),
                "load": float(np.median([s["load"] for s in searches])),
                "runs": runs,
            }
        )
    return results


@contextmanager
def _servers(
    roots: list[Path], directory: Path | None
) -> Iterator[list[tuple[subprocess.Popen[bytes], str]]]:
    if not roots:
        yield []
        return
    with _server(roots[0], directory) as first, _servers(roots[1:], directory) as rest:
        yield [first, *rest]


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return root.name
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3, help="fresh servers for the cold start")
    parser.add_argument("--therapists", type=int, default=0, help="also a synthetic directory")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured in turns")
    args = parser.parse_args()
    roots = [ROOT] + ([args.baseline.resolve()] if args.baseline else [])
    print(f"load average before: {os.getloadavg()}")
    directories: list[tuple[str, Path | None]] = [("demo directory (2,000)", None)]
    if args.therapists:
        from matcher import synth
        from matcher.schema import write_table

        folder = Path(tempfile.mkdtemp())
        write_table(synth.therapists(args.therapists, seed=1), folder / "therapists.parquet")
        directories.append((f"{args.therapists:,} therapists", folder / "therapists.parquet"))
    print("| directory | checkout | cold start → intake drawn (server up, Chromium launched) "
          "| submit → first card p50 | p95 | server CPU per search | load (1 min) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, directory in directories:
        for root, r in zip(roots, measure(roots, directory, args.runs, args.cold), strict=True):
            print(f"| {name} | {_commit(root)} | {r['cold_s']:.1f} s ({r['health_s']:.1f} s, "
                  f"{r['browser_s']:.1f} s) | {r['submit_p50_s'] * 1000:.0f} ms "
                  f"| {r['submit_p95_s'] * 1000:.0f} ms "
                  f"| {r['server_cpu_per_search_s'] * 1000:.0f} ms | {r['load']:.1f} |",
                  flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
