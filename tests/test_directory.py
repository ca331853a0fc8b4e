"""Directory encoding: tag bit sets, dates, shrunk rapport and adding check-ins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from matcher.directory import NO_DAY, Directory, TagSet
from matcher.rapport import estimate
from tests.conftest import directory_of, therapist


def test_tags_are_encoded_by_name() -> None:
    d = directory_of(
        [therapist("a", concerns="anxiety;grief", states="NC;SC"), therapist("b", states="CA")]
    )
    assert d.tags["concerns"].tags_of(0) == ("anxiety", "grief")
    assert d.tags["states"].has("SC").tolist() == [True, False]
    assert d.tags["concerns"].count(["anxiety", "grief", "ocd"]).tolist() == [2, 1]
    assert d.row("b") == 1


def test_open_vocabularies_match_case_insensitively() -> None:
    d = directory_of([therapist("a", languages="English;Spanish"), therapist("b")])
    assert d.tags["languages"].has("spanish").tolist() == [True, False]
    assert d.tags["languages"].has("Klingon").tolist() == [False, False]


@given(
    cells=st.lists(st.lists(st.integers(0, 129), max_size=6, unique=True), min_size=1, max_size=30),
    query=st.lists(st.integers(0, 129), min_size=1, max_size=5, unique=True),
)
def test_tag_sets_wider_than_one_word_count_correctly(
    cells: list[list[int]], query: list[int]
) -> None:
    vocabulary = [f"w{i:03d}" for i in range(130)]  # three uint64 words
    column = pd.Series([";".join(vocabulary[i] for i in cell) for cell in cells])
    tags = TagSet.encode(column, vocabulary)
    wanted = [vocabulary[i] for i in query]
    expected = [len(set(cell) & set(query)) for cell in cells]
    assert tags.count(wanted).tolist() == expected
    assert tags.has_any(wanted).tolist() == [e > 0 for e in expected]
    assert [set(tags.tags_of(r)) for r in range(len(cells))] == [
        {vocabulary[i] for i in cell} for cell in cells
    ]


def test_dates_become_day_numbers() -> None:
    d = directory_of([therapist("a", next_opening="1970-01-11"), therapist("b", next_opening="")])
    assert d.next_opening.tolist() == [10, NO_DAY]


def test_arrays_are_read_only(demo: Directory) -> None:
    for array in (demo.rapport, demo.style, demo.ids, demo.numbers["fee"]):
        with pytest.raises(ValueError):
            array[0] = 0


def test_adding_checkins_updates_mean_count_and_shrinkage() -> None:
    d = directory_of([therapist("a", checkins_n="10"), therapist("b", checkins_n="0")])
    counts = np.array([10, 2])
    sums = np.zeros((2, 9))
    sums[0, :] = 10 * 5.0  # ten perfect check-ins for a
    sums[1, :] = 2 * 3.0  # two middling ones for b
    updated = d.with_checkins(counts, sums)
    assert updated.checkins_n.tolist() == [20, 2]
    assert_allclose(updated.rapport_mean[0], 4.5)
    assert_allclose(updated.rapport_mean[1], 3.0)
    # the prior learned at load stays: one client's check-in moves only its own therapist
    assert updated.prior is d.prior
    assert_allclose(updated.directory_mean, d.directory_mean)
    expected = estimate(updated.checkins_n, updated.rapport_mean, d.prior)
    assert_allclose(updated.rapport, expected.value)
    assert updated.reliability[1] == pytest.approx(2 / (2 + d.prior.general.k))
    assert d.checkins_n.tolist() == [10, 0]  # the original is untouched
