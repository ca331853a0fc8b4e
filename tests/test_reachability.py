"""Reachability from the store's history: measured, shrunk, and "not measured yet" without it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import groups as G
from matcher import reachability as R
from matcher.directory import Directory
from matcher.explain import facts
from matcher.scoring import rank
from tests.conftest import TODAY, prefs


@dataclass(frozen=True)
class Contact:
    therapist_id: str
    days_to_offer: int
    first_session: bool | None


def test_a_known_answer() -> None:
    ids = ["A", "B", "C"]
    history = [Contact("A", 2, True), Contact("A", 4, False), Contact("A", 9, None),
               Contact("B", 20, False), Contact("nobody", 1, True)]  # fmt: skip
    r = R.measure(ids, {t: i for i, t in enumerate(ids)}, history)
    assert r.offers.tolist() == [3, 1, 0]
    assert r.days[:2].tolist() == [4.0, 20.0] and np.isnan(r.days[2])
    assert (r.settled.tolist(), r.followed.tolist()) == ([2, 1, 0], [1, 0, 0])
    assert r.typical_days == 6.5  # median of 2, 4, 9, 20 (the unknown therapist is ignored)
    assert r.typical_share == pytest.approx(1 / 3)
    terms = r.term(np.arange(3))
    assert terms[2] == 0.0  # no history: exactly nothing, never a guess
    assert terms[0] > 0 > terms[1]  # quicker and more follow-through than typical, and not


@given(st.integers(1, 200), st.integers(0, 60), st.integers(0, 30))
def test_more_history_counts_more_but_never_past_the_weight(
    n: int, days: int, typical: int
) -> None:
    one = R.term(n, days, n, n, typical, 0.5)
    more = R.term(n + 10, days, n + 10, n + 10, typical, 0.5)
    assert abs(more) >= abs(one) - 1e-12 and np.sign(more) * np.sign(one) >= 0
    assert abs(more) <= R.WEIGHT
    assert R.term(0, days, 0, 0, typical, 0.5) == 0.0


@pytest.fixture(scope="module")
def reached(demo: Directory) -> Directory:
    """The demo directory with a reachability history for the first 60 therapists."""
    rng = np.random.default_rng(7)
    history = [
        Contact(str(t), int(rng.integers(0, 30)), bool(rng.random() < 0.6))
        for t in demo.ids[:60]
        for _ in range(int(rng.integers(1, 8)))
    ]
    return demo.with_reachability(history)


@settings(max_examples=25, deadline=None)
@given(state=st.sampled_from(["NC", "CA", "TX", "NY", "AZ"]))
def test_the_card_recomputes_availability_with_reachability(
    demo: Directory, reached: Directory, state: str
) -> None:
    p = prefs(state=state)
    group = G.BY_NAME["availability"]
    rows = np.arange(len(demo))
    with_history = group.similarity(reached, p, rows, TODAY)
    without = group.similarity(demo, p, rows, TODAY)
    unmeasured = reached.reach is not None and reached.reach.offers == 0
    assert np.array_equal(with_history[unmeasured], without[unmeasured])  # exactly unchanged
    for row in np.flatnonzero(~unmeasured)[:20]:
        f = group.facts(reached, p, int(row), TODAY)
        assert group.agreeing(f, p) == pytest.approx(with_history[row], abs=1e-12)


def test_cards_say_not_measured_yet_or_the_history(demo: Directory, reached: Directory) -> None:
    p = prefs(state="NC")
    for match in rank(reached, p, top=20, today=TODAY).matches:
        line = dict(facts(match, p))["Earlier clients' requests"]
        if match.availability.reach_measured:
            assert "a median of" in line and "client" in line
        else:
            assert line == "not measured yet"
    assert demo.with_reachability([]) is demo
