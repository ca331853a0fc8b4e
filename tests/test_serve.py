"""Several server processes on one machine: ``python -m matcher.serve --processes 2``.

One launcher for the module: both children answer, two browsers land on different processes and
both get their matches (Chromium through Playwright, as tests/e2e/test_browser.py drives it:
skipped on a developer machine without Chromium, a failure in CI), both processes write to the
one SQLite store at once and every write lands, a child that dies is restarted, and stopping the
launcher stops every child. The tests share the launcher and run in this file's order; the last
one stops it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from matcher import serve
from matcher.serve import Child, Proxy, ServeError, answers, browser_key, closing, parse_head
from matcher.store import Store
from tests.browsing import choose, free_port, settled
from tests.conftest import ROOT


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    url: str
    status: Path
    log: Path
    database: Path

    def children(self) -> list[dict[str, Any]]:
        children: list[dict[str, Any]] = json.loads(self.status.read_text())["children"]
        return children


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    folder = tmp_path_factory.mktemp("serve")
    database, status, log = folder / "shared.db", folder / "status.json", folder / "launcher.log"
    Store(database)  # created (and migrated) once, before two processes open it
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "matcher.serve", "--processes", "2", "--port", str(port),
             "--status", str(status)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "MATCHER_DB": str(database)},
        )  # fmt: skip
    found = Launcher(process, f"http://127.0.0.1:{port}", status, log, database)
    try:
        deadline = time.monotonic() + 90
        while not (status.exists() and answers(found.url)):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"matcher.serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield found
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_routing_key_is_the_browsers_token_not_the_cookies_text() -> None:
    # Streamlit re-masks its XSRF token on every response: two cookie texts, one browser.
    token = bytes.fromhex("00112233445566778899aabbccddeeff")

    def cookie(mask: bytes) -> str:
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
        return f"2|{mask.hex()}|{masked.hex()}|1796012653"

    def head(cookie_text: str) -> bytes:
        return (f"GET /_stcore/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                f"Cookie: a=b; _streamlit_xsrf={cookie_text}\r\n\r\n").encode()  # fmt: skip

    first = browser_key(parse_head(head(cookie(b"\x01\x02\x03\x04"))))
    second = browser_key(parse_head(head(cookie(b"\xf0\x0f\xaa\x55"))))
    assert first is not None and first == second
    assert browser_key(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")) is None
    again = closing(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"))
    assert again == b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_new_browsers_take_turns_and_each_stays_where_it_began() -> None:
    proxy = Proxy([Child(0, 1, up=True), Child(1, 2, up=True)])
    first = []
    for i in range(4):  # one visit after another: the page (no cookie yet), then the session
        assert proxy.choose(None) is not None  # stateless, takes no turn
        chosen = proxy.choose(bytes([i]), session=True)
        assert chosen is not None
        first.append(chosen.index)
    assert first == [0, 1, 0, 1]
    for i in range(4):  # a browser's later requests and reconnects: where it began
        again = proxy.choose(bytes([i]))
        assert again is not None and again.index == first[i]
    proxy.children[1].up = False  # a child restarting: its browsers start again elsewhere
    moved = proxy.choose(bytes([1]), session=True)
    assert moved is not None and moved.index == 0
    assert proxy.choose(bytes([1])) is proxy.children[0]


def test_a_child_that_keeps_dying_stops_the_launcher_with_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def start(child: Child) -> None:  # a server that exits at once, every time
        child.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    monkeypatch.setattr(serve, "start", start)
    child = Child(0, free_port(), up=True)
    start(child)

    async def watch() -> None:
        await serve._watch([child], asyncio.Event())

    with pytest.raises(ServeError, match=r"server process 0 exited 4 times within 60 s \(last "
                       r"exit code 3\); stopping"):  # fmt: skip
        asyncio.run(asyncio.wait_for(watch(), 30))
    assert child.restarts == serve.MAX_RESTARTS and not child.up


def test_both_children_serve(launcher: Launcher) -> None:
    children = launcher.children()
    assert len(children) == 2 and len({c["pid"] for c in children}) == 2
    for child in children:
        assert child["up"] and _alive(child["pid"])
        assert answers(f"http://127.0.0.1:{child['port']}")


def _open_intake(browser: Any, url: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(45_000)
    page.goto(url)
    page.get_by_role("heading", name="Find a therapist who fits you").wait_for()
    settled(page)
    return context, page


def _open_sessions(launcher: Launcher) -> list[int]:
    return [int(c["sessions_open"]) for c in launcher.children()]


def test_two_browsers_land_on_different_processes_and_both_get_matches_and_send_requests(
    launcher: Launcher, browser: Any
) -> None:
    contexts, pages = [], []
    try:
        for want in ([0, 1], [1, 1]):  # each browser's session, on a process of its own
            context, page = _open_intake(browser, launcher.url)
            contexts.append(context)
            pages.append(page)
            _eventually(lambda w=want: sorted(_open_sessions(launcher)) == w,
                        f"open sessions per process (sorted) {want}")  # fmt: skip
        for page in pages:
            choose(page, "Your state (therapists must be licensed where you live)",
                    "North Carolina (NC)")  # fmt: skip
            choose(page, "What would you like help with? Choose any that fit.", "anxiety")
            page.keyboard.press("Escape")
        for page in pages:  # both submit at once
            page.get_by_role("button", name="Show my matches").click()
        for page in pages:
            page.locator('[data-testid="stMetric"]').first.wait_for()
            page.get_by_role("heading", name="Your shortlist").wait_for()
            settled(page)
        for page in pages:  # a download is held by the session's own process: sticky
            with page.expect_download() as download:
                page.get_by_role("button", name="Download shortlist (CSV)").click()
            rows = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
            assert len(rows) == 6 and rows[0].startswith("rank")

        # Both write to the one store at the same moment, each from its own process.
        for i, page in enumerate(pages):
            page.get_by_role(
                "button", name="Profile, contact and consultation request"
            ).first.click()
            page.get_by_role("heading", name="How to reach them").wait_for()
            settled(page)
            page.get_by_label("Your first name or initials").fill(f"T{i}")
            page.get_by_label("A phone number or email to reach you").fill(f"t{i}@example.com")
            page.get_by_text("I agree that the clinic keeps these details").click()
        for page in pages:
            page.get_by_role("button", name="Send my request").click()
        references = []
        for page in pages:
            page.get_by_text("Your request was sent").wait_for()
            reference = page.locator('[data-testid="stCode"]').first.inner_text().strip()
            assert re.fullmatch(r"SR-[A-Z0-9]{6}", reference)
            references.append(reference)
        assert _open_sessions(launcher) == [1, 1]  # no session moved process on the way
    finally:
        for context in contexts:
            context.close()
    stored = {r.referral_id for r in Store(launcher.database).referrals()}
    assert set(references) <= stored and len(set(references)) == 2


WRITER = textwrap.dedent("""
    import sys
    from matcher.preferences import Preferences
    from matcher.store import Store
    store, who = Store(sys.argv[1]), sys.argv[2]
    client = Preferences.model_validate({"state": "NC"})
    for i in range(int(sys.argv[3])):
        print(store.request_consultation(f"{who}{i}", f"{who}{i}@example.com", ["T0001"],
                                         client).reference)
""")


def test_writes_from_two_processes_at_once_all_land(launcher: Launcher) -> None:
    before = len(Store(launcher.database).referrals())
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(launcher.database), who, "40"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for who in ("A", "B")
    ]  # fmt: skip
    references = []
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        references += out.split()
    stored = {r.referral_id for r in Store(launcher.database).referrals()}
    assert len(references) == len(set(references)) == 80
    assert set(references) <= stored and len(stored) == before + 80


def test_a_child_that_dies_is_restarted(launcher: Launcher) -> None:
    victim = launcher.children()[0]
    os.kill(victim["pid"], signal.SIGKILL)
    _eventually(lambda: (c := launcher.children()[0])["up"] and c["pid"] != victim["pid"]
                and c["restarts"] == 1, "the child restarted", timeout_s=60)  # fmt: skip
    assert answers(f"http://127.0.0.1:{victim['port']}") and answers(launcher.url)


def test_stopping_the_launcher_stops_every_child(launcher: Launcher) -> None:
    pids = [int(c["pid"]) for c in launcher.children()]
    ports = [int(c["port"]) for c in launcher.children()]
    assert all(_alive(pid) for pid in pids)
    launcher.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert launcher.process.wait(timeout=30) == 0
    _eventually(lambda: not any(_alive(pid) for pid in pids), "every child stopped", 15)
    assert not any(answers(f"http://127.0.0.1:{port}") for port in ports)
    log = launcher.log.read_text()
    assert "matcher.serve: stopped (process 0:" in log
    # The proxy says counts only: no address, path, reference or name from any request.
    assert not re.search(r"/_stcore|/media|SR-|example\.com|GET |POST ", log)
