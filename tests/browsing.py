"""What the browser tests share: Debian's Chromium through Playwright, free ports, and how a
person waits for and works Streamlit's widgets.

Playwright never downloads a browser: it drives Debian's ``chromium`` through
``executable_path``. Without it a test is skipped on a developer machine and fails in CI, where
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (skipped without one, except in CI)."""
    if CHROMIUM is None:
        message = "Chromium is missing: install Debian's package with `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run should have installed it)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def settled(page: Any) -> None:
    """Wait until Streamlit has finished rerunning the script."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def choose(page: Any, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox or multiselect, as a person would."""
    field = page.get_by_label(label, exact=True)
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option).first.click()
