"""The match card's chart: signed points around the average match, and unmeasured rapport in
words with no bar, never as points."""

from __future__ import annotations

import re

from matcher.report import comparison_table, listed, shortlist_table
from matcher.scoring import rank
from matcher.ui.widgets import contribution_frame
from tests.conftest import TODAY, directory_of, prefs, therapist


def test_unmeasured_rapport_is_words_without_a_bar_everywhere() -> None:
    d = directory_of([therapist("new", checkins_n="0"), therapist("rated", checkins_n="40")])
    p = prefs(concerns=["anxiety"], priorities={"heard": 3})
    matches = {m.therapist_id: m for m in rank(d, p, today=TODAY).matches}
    new, rated = matches["new"], matches["rated"]

    rows = contribution_frame(new).set_index("part")
    assert rows.loc["Rapport: not measured yet", "points"] == 0.0
    assert not any("Rapport:" in part and "point" in part for part in rows.index)
    rated_rows = contribution_frame(rated)
    assert any(
        part.startswith("Rapport: ") and re.search(r"\d points?$", part)
        for part in rated_rows["part"]
    )

    table = comparison_table([new, rated], p)
    assert table.loc["From rapport"].tolist()[0] == "not measured yet"
    assert re.search(r"\d points?$", table.loc["From rapport"].tolist()[1])
    csv = shortlist_table(listed(d, [new, rated]), p).set_index("therapist_id")
    assert csv.loc["new", "points_rapport"] == "not measured yet"
    assert isinstance(csv.loc["rated", "points_rapport"], int)


def test_plain_text_never_becomes_a_link() -> None:
    """GitHub-style markdown links bare URLs and addresses whatever is escaped (seen in
    Chromium: five live links from one name); plain() breaks each pattern invisibly."""
    from matcher.ui.common import plain

    shown = plain("Dr X https://evil.example/x WWW.evil.example ana@evil.example ftp://a")
    for pattern in ("://", "WWW.", "www.", "a@"):
        assert pattern not in shown.replace("\\", "")
    assert shown.replace("\u2060", "").replace("\\", "") == (
        "Dr X https://evil.example/x WWW.evil.example ana@evil.example ftp://a"
    )


def test_a_card_draws_its_chart_only_when_asked() -> None:
    """Five charts drawn at once were most of the browser's work before the first card; each
    waits behind "How the score is made up" (the browser test opens one)."""
    from tests.ui.test_app import app, submit_intake

    at = submit_intake(app(), concerns=["anxiety"])
    assert [e.label for e in at.expander].count("How the score is made up") == 5
    assert not at.get("arrow_vega_lite_chart")
