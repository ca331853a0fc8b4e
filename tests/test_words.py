"""The product's words for numbers and dates (``matcher.words``): known answers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher import words as W


def test_alternatives_read_with_or() -> None:
    assert [W.or_list(x) for x in (["a"], ["a", "b"], ["a", "b", "c"])] == [
        "a",
        "a or b",
        "a, b or c",
    ]


def test_counts_and_lists_read_as_sentences() -> None:
    assert W.count(1, "check-in") == "1 check-in"
    assert W.count(1_204, "therapist") == "1,204 therapists"
    assert W.count(0, "day") == "0 days"
    assert [W.and_list(x) for x in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "",
        "a",
        "a and b",
        "a, b and c",
    ]


@pytest.mark.parametrize(
    ("km", "said"),
    [(0.5, "less than a mile"), (1.7, "about 1 mile"), (19.3, "about 12 miles"),
     (1609.344, "about 1,000 miles")],
)  # fmt: skip
def test_distances_are_said_in_miles(km: float, said: str) -> None:
    assert W.miles(km) == said


def test_money_points_and_dates_in_us_style() -> None:
    assert W.fee(120.0) == "$120 per session"
    assert W.fee(None, sliding_scale=True) == "not listed; offers a sliding scale"
    assert [W.points(x) for x in (0.123, -0.031, 0.004)] == ["+12", "−3", "0"]
    assert W.day(date(2026, 12, 4)) == "Dec 4, 2026"
    assert W.confirmed(None) == "their availability has never been confirmed"
    assert W.confirmed(1) == "availability confirmed in the last day"
    assert W.confirmed(9) == "availability confirmed 9 days ago"


def test_reachability_without_history_is_not_measured_never_a_guess() -> None:
    assert W.reachability(0, None, 0, 0) == W.NOT_MEASURED == "not measured yet"
    assert W.reachability(8, 3.0, 7, 6) == (
        "a median of 3 days from request to an offered slot (8 clients); 6 of 7 went on to a "
        "first session"
    )
    assert W.reachability(1, 0.2, 0, 0).startswith("a median of the same day")


@given(st.floats(1, 5), st.floats(1, 5))
def test_two_different_ratings_never_read_as_the_same_number(a: float, b: float) -> None:
    first, second = W.ratings_apart(a, b)
    if round(a, 2) != round(b, 2):
        assert first != second
    assert float(first) == pytest.approx(a, abs=0.051) and float(second) == pytest.approx(
        b, abs=0.051
    )
