"""Client pages keep working when the coordinator database fails (issue 13, item 4): a plain
message, never a traceback, and nothing the client typed is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from matcher.store import Store
from matcher.ui.common import CHECKIN, INTAKE, METHOD, RESULTS, UPLOAD
from tests.ui.pages import on_page
from tests.ui.test_checkin import code, enter, send  # noqa: F401  (the fixture)


@pytest.fixture
def broken_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database path that cannot be opened (its folder is a file), even for root."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = blocker / "matcher.db"
    monkeypatch.setenv("MATCHER_DB", str(path))
    return path


def no_traceback(at: AppTest) -> None:
    assert not at.exception
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.error, *at.caption])
    assert "Traceback" not in shown and "sqlite3" not in shown


@pytest.mark.usefixtures("broken_database")
@pytest.mark.parametrize("page", [INTAKE, METHOD, UPLOAD, CHECKIN])
def test_every_client_page_draws_without_the_database(page: str) -> None:
    no_traceback(on_page(page))


@pytest.mark.usefixtures("broken_database")
def test_matches_still_come_and_say_check_ins_are_unavailable() -> None:
    at = on_page(INTAKE)
    at.selectbox(key="state").set_value("NC")
    at.button[0].click()
    at.run()
    no_traceback(at)
    at.switch_page(RESULTS).run()
    no_traceback(at)
    assert any(s.value.startswith("1\\.") for s in at.subheader)  # the first match is there
    assert any("can't be read right now" in c.value for c in at.caption)


@pytest.mark.usefixtures("broken_database")
def test_a_code_entered_while_the_database_is_down_is_not_called_wrong() -> None:
    at = enter(on_page(CHECKIN), "040G-2081-040G-208F")  # well formed, so the store is asked
    assert "can't be received right now" in at.error[0].value
    assert not any("not recognized" in e.value for e in at.error)


def test_a_checkin_that_cannot_be_saved_says_so_and_keeps_the_answers(
    code: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = enter(on_page(CHECKIN), code)

    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Store, "record_checkin", locked)
    at = send(at, 1, heard=2)
    assert "could not be saved" in at.error[0].value
    assert at.text_area(key="checkin_comment_0").value == "<b>not bold</b>"
    assert at.radio(key="rate_heard_0").value == 2
    assert not any("Thank you" in s.value for s in at.success)
