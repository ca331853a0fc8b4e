"""Several app server processes behind one port: ``python -m matcher.serve --processes N --port P``.

One Streamlit process runs every session's script on one interpreter, so ten clients who submit
at once wait for each other (issue 12). This launcher starts N ``streamlit run app.py`` children
on internal loopback ports and a small front proxy on P that spreads connections across them.
The children share the SQLite store (WAL mode; every booking runs in ``BEGIN IMMEDIATE``), so
nothing else needs coordinating. Standard library only; Streamlit is never imported here.

Which child serves a connection (the proxy reads only the request's first line and headers):

- A Streamlit session lives on one websocket, so balancing whole connections keeps a session on
  one process. A session's later requests must reach the same process too: a download
  (``/media/…``) and an upload (``/_stcore/upload_file/…``) are held in that process's memory,
  and a websocket that reconnects after a network blip asks for its old session by id.
- So connections are sticky per browser: the key is the random token inside Streamlit's XSRF
  cookie (``_streamlit_xsrf``, set by ``/_stcore/health`` before the websocket opens, the same
  token for every request of that browser; hashed here, never stored or logged). The first time a
  key is seen it goes to the child with the fewest open sessions, and stays there.
- A request without the cookie (a browser's very first page load and its scripts) goes to the
  least busy child, with ``Connection: close`` added, so that connection is never reused for a
  later, session-bound request that should have been sticky.

Limitations, chosen: stickiness is per browser, not per tab (two tabs of one browser share a
process, which is also what keeps their downloads working); it is kept in this launcher's memory
(at most MAX_KEYS browsers), so it does not survive a restart of the launcher, which ends every
session anyway; with XSRF protection turned off there is no cookie, and a reconnect may reach
another process, where the page starts a fresh session (answers kept in the old one are gone).
A child that dies is restarted; its sessions are lost and their browsers reconnect to a fresh
session. More than MAX_RESTARTS deaths of one child within RESTART_WINDOW_S seconds stop the
launcher with a message, rather than restarting a process that cannot stay up.

The proxy logs nothing about requests: only counts (connections and sessions per child), on
stderr when it stops and, with ``--status FILE``, as JSON rewritten every second.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's cookie name (its server config, not an API)
STREAM_PATH = "/_stcore/stream"  # the websocket that carries a session
MAX_HEAD_BYTES = 64 * 1024  # a request's line and headers; longer is refused
HEAD_TIMEOUT_S = 30.0  # a connection that sends no complete request head in this time is closed
START_TIMEOUT_S = 120.0  # a child must answer /_stcore/health within this after starting
MAX_KEYS = 100_000  # browsers remembered for stickiness (least recently seen forgotten first)
MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
CHUNK = 64 * 1024


class ServeError(Exception):
    """The launcher cannot go on (the message says why, in plain words)."""


@dataclass
class Child:
    """One ``streamlit run`` process, its internal port, and what the proxy has sent it."""

    index: int
    port: int
    process: subprocess.Popen[bytes] | None = None
    up: bool = False
    connections_total: int = 0
    connections_open: int = 0
    sessions_total: int = 0
    sessions_open: int = 0
    restarts: int = 0
    deaths: list[float] = field(default_factory=list)  # recent exits (monotonic), for the guard
    chosen_at: int = 0  # the proxy's turn when this child was last given a new browser

    def counts(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.process.pid if self.process is not None else None,
            "port": self.port,
            "up": self.up,
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "sessions_total": self.sessions_total,
            "sessions_open": self.sessions_open,
            "restarts": self.restarts,
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def child_command(port: int) -> list[str]:
    """The same server `make run` starts, on an internal loopback port."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]  # fmt: skip


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: a child gets SIGTERM if the launcher itself is killed (SIGKILL gives it no chance
    # to stop its children), so no orphaned server keeps the store open. The signal follows the
    # thread that started the child, so children are started from the main thread only.
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_PRCTL: Any = None
if sys.platform == "linux":  # resolved before any fork: a forked child must not import
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def start(child: Child) -> None:
    child.up = False
    child.process = subprocess.Popen(
        child_command(child.port),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # Streamlit's banner names the internal port; errors stay
        process_group=0,  # Ctrl-C reaches the launcher alone, which then stops every child
        preexec_fn=_die_with_parent if _PRCTL is not None else None,
    )


def answers(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check now."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return bool(answer.read().strip() == b"ok")
    except OSError:
        return False


def started(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait (blocking) until the server ``process`` answers at ``url``: False once it has
    exited or ``timeout_s`` passed. For the benches and tests that start one server."""
    deadline = time.monotonic() + timeout_s
    while not answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Ask one server process to stop; kill it if it has not within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_healthy(
    child: Child, stopping: asyncio.Event, timeout_s: float = START_TIMEOUT_S
) -> None:
    """Return once the child answers its health check (or the launcher is stopping); ServeError
    if it exits or does not answer in time."""
    deadline = time.monotonic() + timeout_s
    while not stopping.is_set():
        assert child.process is not None
        if child.process.poll() is not None:
            raise ServeError(f"server process {child.index} exited with code "
                             f"{child.process.returncode} while starting (see its messages above)")  # fmt: skip
        if await asyncio.to_thread(answers, f"http://127.0.0.1:{child.port}"):
            child.up = True
            return
        if time.monotonic() > deadline:
            raise ServeError(f"server process {child.index} did not answer within "
                             f"{timeout_s:.0f} s")  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 0.2)


def stop(children: Sequence[Child], grace_s: float = 10.0) -> None:
    """SIGTERM every child, then SIGKILL what is still running after ``grace_s``."""
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for child in children:
        child.up = False


# ---------------------------------------------------------------------------------------------
# The request head: only what routing needs


@dataclass(frozen=True)
class Head:
    """A request's first line and headers, as received (``raw`` ends with the blank line)."""

    raw: bytes
    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    @property
    def websocket(self) -> bool:
        return (self.header("upgrade") or "").lower() == "websocket"


def parse_head(raw: bytes) -> Head:
    """ValueError for anything that is not an HTTP/1.x request head."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("not an HTTP/1.x request")
    headers = []
    for line in lines[1:]:
        if line:
            key, colon, value = line.partition(":")
            if not colon:
                raise ValueError("a header without a colon")
            headers.append((key.strip().lower(), value.strip()))
    return Head(raw, parts[1].split("?", 1)[0], tuple(headers))


def browser_key(head: Head) -> bytes | None:
    """A digest of the token in Streamlit's XSRF cookie: one per browser, stable across requests.

    The cookie's text changes on every response (version 2 tokens are re-masked with a fresh
    4-byte mask: ``2|mask|masked token|timestamp``), so the key is the unmasked token, hashed.
    """
    for cookie in (head.header("cookie") or "").split(";"):
        name, _, value = cookie.strip().partition("=")
        if name != XSRF_COOKIE:
            continue
        fields = value.strip("\"'").split("|")
        try:
            if len(fields) == 4 and fields[0] == "2":
                mask, masked = binascii.a2b_hex(fields[1]), binascii.a2b_hex(fields[2])
                token = bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked))
            else:
                token = binascii.a2b_hex(fields[0])
        except (binascii.Error, ValueError, ZeroDivisionError):
            return None
        return hashlib.sha256(token).digest()[:16] if token else None
    return None


def closing(head: Head) -> bytes:
    """The same head asking the server to close the connection after its answer."""
    lines = head.raw.split(b"\r\n")
    kept = [line for line in lines[1:] if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])


# ---------------------------------------------------------------------------------------------
# The proxy


class Proxy:
    """Spreads connections across the children; a browser stays on the child it first reached."""

    def __init__(self, children: Sequence[Child]) -> None:
        self.children = list(children)
        self.sticky: OrderedDict[bytes, int] = OrderedDict()
        self.refused = 0  # connections closed without reaching a child (bad head, none up)
        self.turn = 0

    def choose(self, key: bytes | None, session: bool = False) -> Child | None:
        live = [child for child in self.children if child.up]
        if not live:
            return None
        if key is not None and key in self.sticky:
            remembered = self.children[self.sticky[key]]
            if remembered.up:
                self.sticky.move_to_end(key)
                return remembered
        if key is None and not session:
            # A stateless request before the cookie (the page, its scripts, the health check):
            # the least busy child, without taking a turn from the browsers.
            return min(live, key=lambda c: (c.connections_open, c.index))
        # A new browser: fewest open sessions, then the one chosen longest ago (so visits one
        # after another take turns, and browsers that arrive together spread).
        chosen = min(live, key=lambda c: (c.sessions_open, c.chosen_at))
        self.turn += 1
        chosen.chosen_at = self.turn
        if key is not None:
            self.sticky[key] = chosen.index
            self.sticky.move_to_end(key)
            while len(self.sticky) > MAX_KEYS:
                self.sticky.popitem(last=False)
        return chosen

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            head = parse_head(raw)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):  # fmt: skip
            self.refused += 1
            writer.close()
            return
        key = browser_key(head)
        session = head.websocket and head.path.endswith(STREAM_PATH)
        # Try the chosen child, then any other that is up (one may be restarting).
        for _ in range(len(self.children)):
            child = self.choose(key, session)
            if child is None:
                break
            # Counted before connecting, so sessions that arrive together see each other.
            child.connections_open += 1
            child.sessions_open += session
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", child.port
                )
            except OSError:
                child.connections_open -= 1
                child.sessions_open -= session
                child.up = False  # the watcher brings it back
                continue
            await self._relay(child, head, key is not None or head.websocket, session,
                              (reader, writer), (upstream_reader, upstream_writer))  # fmt: skip
            return
        self.refused += 1
        with contextlib.suppress(ConnectionError):
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")  # fmt: skip
            await writer.drain()
        writer.close()

    async def _relay(
        self,
        child: Child,
        head: Head,
        keep_alive: bool,
        session: bool,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        child.connections_total += 1
        child.sessions_total += session
        try:
            upstream[1].write(head.raw if keep_alive else closing(head))
            up = asyncio.ensure_future(_pipe(client[0], upstream[1]))
            down = asyncio.ensure_future(_pipe(upstream[0], client[1]))
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done and down not in done:
                # The client finished sending (half-close): let the answer finish coming back.
                with contextlib.suppress(OSError, RuntimeError):
                    upstream[1].write_eof()
                await down
            else:
                up.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await up
        finally:
            child.connections_open -= 1
            child.sessions_open -= session
            for writer in (client[1], upstream[1]):
                writer.close()

    def status(self) -> dict[str, Any]:
        return {"children": [c.counts() for c in self.children], "refused": self.refused,
                "browsers_remembered": len(self.sticky)}  # fmt: skip


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


# ---------------------------------------------------------------------------------------------
# The launcher


async def _watch(children: Sequence[Child], stopping: asyncio.Event) -> None:
    """Restart a child that dies; ServeError when one keeps dying."""
    while not stopping.is_set():
        for child in children:
            process = child.process
            if stopping.is_set() or process is None or process.poll() is None:
                continue
            child.up = False
            now = time.monotonic()
            child.deaths = [t for t in child.deaths if now - t < RESTART_WINDOW_S] + [now]
            if len(child.deaths) > MAX_RESTARTS:
                raise ServeError(
                    f"server process {child.index} exited {len(child.deaths)} times within "
                    f"{RESTART_WINDOW_S:.0f} s (last exit code {process.returncode}); stopping"
                )
            print(f"matcher.serve: server process {child.index} (pid {process.pid}) exited "
                  f"with code {process.returncode}; restarting it", file=sys.stderr)  # fmt: skip
            start(child)
            child.restarts += 1
            try:
                await wait_healthy(child, stopping)
            except ServeError as failed:
                # Counted as one more exit on the next pass (the guard decides what follows).
                print(f"matcher.serve: {failed}", file=sys.stderr)
                assert child.process is not None
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()  # a child that never answered
                child.process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 0.5)


async def _write_status(proxy: Proxy, path: Path, stopping: asyncio.Event) -> None:
    while True:
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(proxy.status(), indent=1))
        partial.replace(path)  # readers never see half a file
        if stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 1.0)


async def serve(processes: int, host: str, port: int, status: Path | None = None) -> int:
    children = [Child(i, free_port()) for i in range(processes)]
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    proxy = Proxy(children)
    tasks: list[asyncio.Future[None]] = []
    server: asyncio.Server | None = None
    try:
        # Listen first, so a port already in use fails at once; until a child is up, the
        # proxy answers 503.
        try:
            server = await asyncio.start_server(proxy.handle, host, port, limit=MAX_HEAD_BYTES)
        except OSError as error:
            message = f"cannot listen on {host}:{port} ({error.strerror})"
            raise ServeError(message) from error
        for child in children:
            start(child)
        for child in children:  # they start side by side; wait for each
            await wait_healthy(child, stopping)
        pids = ", ".join(str(c.process.pid) for c in children if c.process is not None)
        print(f"matcher.serve: {processes} server process(es) (pids {pids}) behind "
              f"http://{host}:{port}", file=sys.stderr, flush=True)  # fmt: skip
        watcher = asyncio.ensure_future(_watch(children, stopping))
        tasks.append(watcher)
        if status is not None:
            tasks.append(asyncio.ensure_future(_write_status(proxy, status, stopping)))
        stopped = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({stopped, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if watcher.done() and (crashed := watcher.exception()) is not None:
            raise crashed
        return 0
    except ServeError as error:
        print(f"matcher.serve: {error}", file=sys.stderr)
        return 1
    finally:
        stopping.set()
        if server is not None:
            # Not `async with server`: from Python 3.12 that waits for every open connection,
            # and a browser's websocket stays open until its child stops.
            server.close()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await asyncio.to_thread(stop, children)
        counts = "; ".join(f"process {c['index']}: {c['connections_total']} connection(s), "
                           f"{c['sessions_total']} session(s), {c['restarts']} restart(s)"
                           for c in proxy.status()["children"])  # fmt: skip
        print(f"matcher.serve: stopped ({counts})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m matcher.serve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="server processes to start (default: one per core)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1",
                        help="where the proxy listens (0.0.0.0: every interface)")  # fmt: skip
    parser.add_argument("--status", type=Path, default=None,
                        help="write the proxy's counts here as JSON, every second")  # fmt: skip
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    return asyncio.run(serve(args.processes, args.address, args.port, args.status))


if __name__ == "__main__":
    sys.exit(main())
