"""Shared AppTest steps: open a page of the app, sign a coordinator in."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

PASSWORD = "a-long-test-password"


def on_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def sign_in(at: AppTest, username: str = "ana", password: str = PASSWORD) -> AppTest:
    at.text_input(key="sign_in_user").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    at.run()
    assert not at.exception
    return at
