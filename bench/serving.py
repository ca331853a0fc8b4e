"""Serving many users: ``python -m bench.serving [--clients 10] [--servers direct,2] [--repeats 5]``.

Starts the real app on free loopback ports, as ``streamlit run app.py`` (``direct``: one
process, as ``make run``) and as ``python -m matcher.serve --processes N`` (``N``: N processes
behind the front proxy), all side by side, and drives N concurrent client sessions through
intake → submit → first result card: every session opens and fills in the intake at the same
time, then all submit at the same moment (state NC, concern anxiety), the worst case of issue
12's "ten clients submitting at once". Each server first serves one untimed round, so every
process has loaded the demo directory as after its first visitors; then the layouts take turns
round by round, so a burst of load from the shared machine's other users falls on all alike.

Two kinds of client (``--client``):

- ``protocol`` (the default; the figures in docs/serving.md): light clients that speak
  Streamlit's own websocket protocol. One real Chromium session is driven through the search
  first, and the rerun requests it sends are recorded; each light client replays them, so it
  sends exactly what the browser sends. What is timed is the server, per client: from the
  submit request sent to the first result card's message received (**server time**), and to
  the results page's last message (**page sent**). Ten of them cost the bench about 25 ms of CPU
  for their ten submits, so the two cores stay the server's.
- ``browser``: N pages (one Chromium, one context each) driven with Playwright, the way
  ``bench.browser`` and the e2e test do, timing **wall** from the click to the first card drawn
  (taken inside each page, so the order the bench polls the pages in does not matter). On two
  cores ten Chromium renderers drawing the results compete with the server for the same CPU;
  the CPU time they use is reported beside the wall time (``client CPU``), which is why these
  are not the figures for the target.

Printed per layout and number of clients: p50, p95 and max over the clients (the median of each
over the repeats), the server processes' CPU time per submit (children and proxy, from /proc),
the client's CPU time, the machine's load average, the sessions each process has served and
each process's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.browser import _cpu_seconds, _port
from matcher.serve import START_TIMEOUT_S, answers, stop_process

ROOT = Path(__file__).resolve().parent.parent
STATE = "North Carolina (NC)"
CONCERN = "anxiety"
STEP_TIMEOUT_S = 120.0
XSRF_COOKIE = "_streamlit_xsrf"


# ---------------------------------------------------------------------------------------------
# The server under test


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    status: Path | None  # matcher.serve's counts file (None for a bare `streamlit run`)

    def pids(self) -> list[int]:
        """The proxy (if any) and every server process."""
        if self.status is None:
            return [self.process.pid]
        children = json.loads(self.status.read_text())["children"]
        return [self.process.pid, *(int(c["pid"]) for c in children)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += _cpu_seconds(pid)
        return total

    def resident_mb(self) -> list[float]:
        """Each server process's resident memory (the proxy's last, if any), in MB."""
        sizes = []
        for pid in [*self.pids()[1:], *self.pids()[:1]]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def sessions_per_process(self) -> list[int]:
        if self.status is None:
            return []
        return [int(c["sessions_total"]) for c in json.loads(self.status.read_text())["children"]]


@contextlib.contextmanager
def running(layout: str, folder: Path) -> Iterator[Server]:
    """``direct``: streamlit run app.py; a number N: python -m matcher.serve --processes N."""
    port = _port()
    env = {**os.environ, "MATCHER_DB": str(folder / f"serving-{layout}.db")}
    status: Path | None = None
    if layout == "direct":
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false"]  # fmt: skip
    else:
        status = folder / f"status-{layout}.json"
        command = [sys.executable, "-m", "matcher.serve", "--processes", layout, "--port",
                   str(port), "--status", str(status)]  # fmt: skip
    log = (folder / f"server-{layout}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(url) or (status is not None and not status.exists()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server ({layout}) did not start; see {log.name}")
            time.sleep(0.2)
        yield Server(url, process, status)
    finally:
        stop_process(process)
        log.close()


# ---------------------------------------------------------------------------------------------
# The protocol client: Streamlit's websocket messages, as the browser sends and receives them


def record(url: str) -> list[bytes]:
    """What a browser sends for one search: one real Chromium session, driven as the e2e test
    drives it, with every rerun request it sends over the websocket kept (the page load, the
    state chosen, the concern chosen, then "Show my matches" pressed, the last).

    Replayed by the light clients, so they send exactly what the browser sends, every widget's
    value included, without knowing the page's widgets. The hashes of messages the browser
    already holds are dropped, so the server sends each client everything in full.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg

    e2e = _e2e()
    sent: list[bytes] = []

    def keep(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            message = BackMsg()
            message.ParseFromString(payload)
            if message.WhichOneof("type") == "rerun_script":
                message.rerun_script.ClearField("cached_message_hashes")
                sent.append(message.SerializeToString())

    with _chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_S * 1000)
        page.on("websocket", lambda socket: socket.on("framesent", keep))
        page.goto(url)
        page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
        e2e.settled(page)
        e2e.choose(page, "Your state (therapists must be licensed where you live)", STATE)
        e2e.settled(page)
        e2e.choose(page, "What would you like help with? Choose any that fit.", CONCERN)
        page.keyboard.press("Escape")
        e2e.settled(page)
        pressed = len(sent)
        page.get_by_role("button", name="Show my matches").click()
        page.locator('[data-testid="stMetric"]').first.wait_for()
        context.close()
    if pressed < 1 or len(sent) <= pressed:
        raise SystemExit("the browser sent no search to record")
    return sent[: pressed + 1]


class Session:
    """One client session over Streamlit's websocket (``/_stcore/stream``).

    It first asks ``/_stcore/health`` for the XSRF cookie, as the browser does, and sends it back
    with the websocket, so the front proxy keeps it on one process as it would a browser.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.socket: Any = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        await asyncio.to_thread(opener.open, f"{self.url}/_stcore/health", None, 30)
        token = next((c.value for c in jar if c.name == XSRF_COOKIE), None)
        protocols = ["streamlit", token] if token else ["streamlit"]
        headers = {"Cookie": f"{XSRF_COOKIE}={token}"} if token else {}
        self.socket = await connect(
            self.url.replace("http://", "ws://") + "/_stcore/stream",
            subprotocols=protocols,  # type: ignore[arg-type]
            origin=self.url,  # type: ignore[arg-type]
            additional_headers=headers,
            max_size=None,
            open_timeout=STEP_TIMEOUT_S,
        )

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def send(self, message: bytes) -> float:
        await self.socket.send(message)
        return time.perf_counter()

    async def until(self, done: Callable[[Any], bool]) -> float:
        """Read messages until ``done(message)``; perf_counter() when it came."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(self.socket.recv(), STEP_TIMEOUT_S))
            if (
                message.WhichOneof("type") == "delta"
                and message.delta.WhichOneof("type") == ("new_element")
                and message.delta.new_element.WhichOneof("type") == "exception"
            ):
                raise SystemExit("the app raised an exception (see the server's log)")
            if done(message):
                return time.perf_counter()


def _finished(message: Any) -> bool:
    return bool(message.WhichOneof("type") == "script_finished")


def _card(message: Any) -> bool:
    """The first result card's score (a metric), as the e2e test waits for it."""
    return bool(
        message.WhichOneof("type") == "delta"
        and message.delta.WhichOneof("type") == "new_element"
        and message.delta.new_element.WhichOneof("type") == "metric"
    )


async def _protocol_round(server: Server, clients: int, search: list[bytes]) -> dict[str, Any]:
    sessions = [Session(server.url) for _ in range(clients)]

    async def intake(session: Session) -> float:
        """The page load, then the answers, each a run of its own as in the browser; seconds
        from opening the connection to the intake drawn."""
        started = time.perf_counter()
        await session.open()
        drawn = 0.0
        for message in search[:-1]:
            await session.send(message)
            finished = await session.until(_finished)
            drawn = drawn or finished - started
        return drawn

    async def submit(session: Session) -> tuple[float, float]:
        sent = await session.send(search[-1])
        card = await session.until(_card)
        done = await session.until(_finished)
        return card - sent, done - sent

    try:
        drawn = await asyncio.gather(*(intake(s) for s in sessions))
        cpu, own, load = server.cpu_seconds(), time.process_time(), os.getloadavg()[0]
        results = await asyncio.gather(*(submit(s) for s in sessions))
        cpu, own = server.cpu_seconds() - cpu, time.process_time() - own
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return {"intake_s": list(drawn), "server_s": [r[0] for r in results],
            "page_s": [r[1] for r in results], "server_cpu_s": cpu, "client_cpu_s": own,
            "load": (load, os.getloadavg()[0])}  # fmt: skip


def protocol_round(server: Server, clients: int, search: list[bytes]) -> dict[str, Any]:
    """The submits' server CPU and the bench's own CPU are counted from the moment every
    session has drawn its intake to the last results page sent."""
    return asyncio.run(_protocol_round(server, clients, search))


# ---------------------------------------------------------------------------------------------
# The browser client: N pages in Debian's Chromium, driven as the e2e test drives one

# Each page notes when "Show my matches" is pressed and when the first match's score is drawn,
# on its own clock, so the bench can read the pages one after another without timing itself.
TIMER = """
window.__clicked = null; window.__card = null;
document.addEventListener('click', (event) => {
  if (event.target.closest('button')?.innerText.includes('Show my matches')) {
    window.__clicked = performance.now();
  }
}, true);
new MutationObserver(() => {
  if (window.__clicked !== null && window.__card === null
      && document.querySelector('[data-testid="stMetric"]')) {
    window.__card = performance.now();
  }
}).observe(document, {childList: true, subtree: true});
"""


def browser_round(server: Server, clients: int, browser: Any) -> dict[str, Any]:
    e2e = _e2e()
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900})
                for _ in range(clients)]  # fmt: skip
    try:
        pages = []
        for context in contexts:  # opened together, then each filled in
            context.add_init_script(TIMER)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_S * 1000)
            page.goto(server.url)
            pages.append(page)
        for page in pages:
            page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
            e2e.settled(page)
            e2e.choose(page, "Your state (therapists must be licensed where you live)", STATE)
            e2e.choose(page, "What would you like help with? Choose any that fit.", CONCERN)
            page.keyboard.press("Escape")
        cpu, load = server.cpu_seconds(), os.getloadavg()[0]
        chromium = _descendants_cpu(exclude=set(server.pids()))
        for page in pages:
            page.get_by_role("button", name="Show my matches").click()
        walls = []
        for page in pages:
            page.locator('[data-testid="stMetric"]').first.wait_for()
            page.wait_for_function("window.__card !== null")
            walls.append(page.evaluate("(window.__card - window.__clicked) / 1000"))
        return {"wall_s": walls, "server_cpu_s": server.cpu_seconds() - cpu,
                "client_cpu_s": _descendants_cpu(exclude=set(server.pids())) - chromium,
                "load": (load, os.getloadavg()[0])}  # fmt: skip
    finally:
        for context in contexts:
            context.close()


def _e2e() -> Any:
    """The browser tests' helpers (tests/browsing.py: flags, picking an option, waiting for a
    rerun), used as they are; imported by name so the type checker does not follow it into the
    test suite."""
    import importlib

    return importlib.import_module("tests.browsing")


def _descendants_cpu(exclude: set[int]) -> float:
    """CPU seconds of this process's descendants (Playwright's driver, Chromium), not the
    server's."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
    family, grew = {os.getpid()}, True
    while grew:
        grown = family | {pid for pid, parent in parents.items() if parent in family}
        grew, family = grown != family, grown
    total = 0.0
    for pid in family - exclude - {os.getpid()}:
        with contextlib.suppress(OSError):
            total += _cpu_seconds(pid)
    return total


# ---------------------------------------------------------------------------------------------


def measure(
    layouts: list[str], counts: list[int], repeats: int, client: str
) -> Iterator[dict[str, Any]]:
    """Every layout's server runs for the whole measurement, and the layouts take turns round by
    round (the first goes last in the next round), so a burst of load from the machine's other
    users falls on all of them alike. Yields one result per layout and number of clients."""
    folder = Path(tempfile.mkdtemp(prefix="serving-"))
    with contextlib.ExitStack() as stack:
        servers = {layout: stack.enter_context(running(layout, folder)) for layout in layouts}
        if client == "browser":
            browser = stack.enter_context(_chromium())

            def one(server: Server, clients: int) -> dict[str, Any]:
                return browser_round(server, clients, browser)
        else:
            search = record(servers[layouts[0]].url)

            def one(server: Server, clients: int) -> dict[str, Any]:
                return protocol_round(server, clients, search)

        for server in servers.values():  # every process loads the demo directory once, as
            one(server, max(4, counts[0]))  # it has after its first visitors
        for clients in counts:
            rounds: dict[str, list[dict[str, Any]]] = {layout: [] for layout in layouts}
            for repeat in range(repeats):
                turn = repeat % len(layouts)
                for layout in layouts[turn:] + layouts[:turn]:
                    time.sleep(1.0)
                    rounds[layout].append(one(servers[layout], clients))
            for layout in layouts:
                result = {"layout": layout, "clients": clients, "client": client,
                          "rounds": rounds[layout],
                          "sessions_per_process": servers[layout].sessions_per_process(),
                          "resident_mb": servers[layout].resident_mb()}  # fmt: skip
                result["summary"] = summary(result)
                yield result


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=_e2e().CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def summary(result: dict[str, Any]) -> dict[str, float]:
    """Per round: p50, p95 and max over the clients; then the median of each over the rounds."""
    rounds = result["rounds"]
    out: dict[str, float] = {}
    timed = ["server_s", "page_s", "intake_s"] if result["client"] == "protocol" else ["wall_s"]
    for name in timed:
        for stat, fn in (("p50", np.median), ("p95", lambda v: np.percentile(v, 95)),
                         ("max", np.max)):  # fmt: skip
            out[f"{name}_{stat}"] = float(np.median([fn(r[name]) for r in rounds]))
    n = result["clients"]
    out["server_cpu_per_submit_s"] = float(np.median([r["server_cpu_s"] / n for r in rounds]))
    out["client_cpu_s"] = float(np.median([r["client_cpu_s"] for r in rounds]))
    out["load_before"] = float(np.median([r["load"][0] for r in rounds]))
    out["load_after"] = float(np.median([r["load"][1] for r in rounds]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10", help="comma-separated, e.g. 1,5,10")
    parser.add_argument("--servers", default="direct,2",
                        help="comma-separated layouts: direct, or a number of processes")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--client", choices=["protocol", "browser"], default="protocol")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()}; {os.cpu_count()} cores")
    layouts = [layout.strip() for layout in args.servers.split(",")]
    counts = [int(c) for c in args.clients.split(",")]
    results = []
    for result in measure(layouts, counts, args.repeats, args.client):
        results.append(result)
        _print(result)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    print(f"load average at the end: {os.getloadavg()}")
    return 0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _print(result: dict[str, Any]) -> None:
    s = result["summary"]
    layout = ("streamlit run (1 process)" if result["layout"] == "direct"
              else f"matcher.serve --processes {result['layout']}")  # fmt: skip
    head = f"{layout}, {result['clients']} concurrent clients ({result['client']})"
    if result["client"] == "protocol":
        print(f"{head}: server time p50 {ms(s['server_s_p50'])}, p95 {ms(s['server_s_p95'])}, "
              f"max {ms(s['server_s_max'])}; page sent p50 {ms(s['page_s_p50'])}, max "
              f"{ms(s['page_s_max'])}; intake drawn p50 {ms(s['intake_s_p50'])}, max "
              f"{ms(s['intake_s_max'])}")  # fmt: skip
    else:
        print(f"{head}: wall (click → first card drawn) p50 {ms(s['wall_s_p50'])}, p95 "
              f"{ms(s['wall_s_p95'])}, max {ms(s['wall_s_max'])}")  # fmt: skip
    print(f"    server CPU per submit {ms(s['server_cpu_per_submit_s'])}; client CPU for the submits "
          f"{ms(s['client_cpu_s'])}; load average {s['load_before']:.1f} → {s['load_after']:.1f}; "
          f"sessions per process so far {result['sessions_per_process']}; resident MB "
          f"{[round(mb) for mb in result['resident_mb']]}; "
          f"{len(result['rounds'])} repeats (medians)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
