"""The app through streamlit.testing.v1.AppTest: pages run, intake leads to explained matches."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app.py")


def started() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_the_intake_page_opens_without_results() -> None:
    at = started()
    assert at.title[0].value == "Find a therapist who fits you"
    assert not at.header  # no results before the form is submitted
    assert any("Nothing you enter here is stored" in c.value for c in at.caption)


def test_intake_to_explained_matches() -> None:
    at = started()
    at.multiselect(key="concerns").set_value(["anxiety", "phobias"])
    at.select_slider(key="priority_heard").set_value(3)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert at.header[0].value == "Your matches"
    assert len(at.metric) == 5
    text = " ".join(m.value for m in at.markdown)
    assert "Why not higher" in text
    assert "can serve you" in text


def test_the_method_page_shows_the_vocabulary_and_weights() -> None:
    at = AppTest.from_string("from matcher.ui import method\nmethod.page()", default_timeout=60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "How matching works"
    items = at.dataframe[0].value
    assert len(items) == 9 and "empathy" in set(items["The therapist brings"])
