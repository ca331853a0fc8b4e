"""The quality simulation (bench/quality.py) keeps its own invariants on a small world."""

from __future__ import annotations

import pytest

from bench.quality import POLICIES, Settings, simulate


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return simulate(Settings(seed=3, therapists=400, rounds=2, referrals_per_round=40))


def test_every_policy_is_measured_every_round(results) -> None:  # type: ignore[no-untyped-def]
    assert set(results["policy"]) == set(POLICIES)
    assert results.groupby("policy").size().eq(2).all()


def test_the_oracle_is_the_ceiling(results) -> None:  # type: ignore[no-untyped-def]
    oracle = results[results["policy"] == "oracle"]
    assert oracle["share_of_oracle"].tolist() == pytest.approx([1.0, 1.0])
    # capacity-aware policies can assign fewer people, so compare mean rapport only loosely:
    # no policy beats the oracle's mean by more than noise in a tiny world
    assert (results["share_of_oracle"] <= 1.05).all()
    assert results["top_priority_met"].between(0, 1).all()
    assert results["assigned"].between(0, 1).all()
