"""The quality simulation (bench/quality.py): its invariants and its calibration to the sources."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bench.quality import (
    POLICIES,
    Settings,
    WorldParams,
    calibration,
    clinic,
    per_seed,
    simulate,
    summary,
)

SMALL = Settings(seed=3, therapists=1000, rounds=2, referrals_per_round=80)


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return pd.concat([simulate(replace(SMALL, seed=s)) for s in (3, 4)], ignore_index=True)


@pytest.fixture(scope="module")
def checks() -> dict[str, float]:
    world = clinic(Settings(seed=5, rounds=2, referrals_per_round=200))
    return calibration(world, np.random.default_rng(5))


def test_every_policy_is_measured_every_round(results: pd.DataFrame) -> None:
    assert set(results["policy"]) == set(POLICIES)
    assert results.groupby(["seed", "policy"]).size().eq(SMALL.rounds).all()
    assert (results["clients"] > 0).all()
    assert results["top_priority_met"].between(0, 1).all()
    assert results["dropout"].between(0, 1).all()


def test_the_oracle_closes_the_whole_gap_and_random_none(results: pd.DataFrame) -> None:
    table = summary(results)
    assert table.loc["oracle", "gap_closed"] == pytest.approx(1.0)
    assert table.loc["random", "gap_closed"] == pytest.approx(0.0)
    outcome = results.pivot_table(index=["seed", "round"], columns="policy", values="outcome")
    # the gap is real in every round: the oracle is far above random, not by an accident of noise
    assert (outcome["oracle"] - outcome["random"] > 0.2).all()


def test_no_policy_beats_the_oracle(results: pd.DataFrame) -> None:
    outcome = results.pivot_table(index=["seed", "round"], columns="policy", values="outcome")
    for policy in POLICIES:
        # same clients and slots, tiered; only shortlist pruning separates it from the optimum
        assert (outcome[policy] <= outcome["oracle"] + 0.01).all(), policy
    assert (per_seed(results)["gap_closed"] <= 1.0 + 0.02).all()


def _gap(params: WorldParams) -> float:
    frames = [
        simulate(Settings(seed=s, rounds=1, referrals_per_round=150, world=params)) for s in (1, 2)
    ]
    table = summary(pd.concat(frames, ignore_index=True))
    return float(table.loc["model + check-ins", "gap_closed"])


def test_informative_signals_let_the_model_close_more_of_the_gap() -> None:
    informative = _gap(WorldParams(specialty=1.0, checkin_noise=0.0))
    noise = _gap(WorldParams(specialty=0.0, checkin_noise=float("inf")))
    assert informative > noise + 0.10, (informative, noise)


def test_checkins_are_ceiling_heavy(checks: dict[str, float]) -> None:
    assert checks["checkin_mean"] == pytest.approx(4.3, abs=0.08)
    assert checks["checkin_fives"] == pytest.approx(0.5, abs=0.05)
    # a single check-in is a noisy reading of the pair's alliance, but not a useless one
    assert 0.3 < checks["checkin_alliance_r"] < 0.8


def test_therapist_effects_are_in_the_published_band(checks: dict[str, float]) -> None:
    assert 0.05 <= checks["therapist_share"] <= 0.08  # Baldwin & Imel (2013)


def test_alliance_and_outcome_correlate_as_published(checks: dict[str, float]) -> None:
    assert checks["alliance_outcome_r"] == pytest.approx(0.28, abs=0.04)  # Flückiger et al. 2018
    assert checks["outcome_sd"] == pytest.approx(1.0, abs=0.08)


def test_dropout_follows_its_sources(checks: dict[str, float]) -> None:
    assert checks["dropout_rate"] == pytest.approx(0.197, abs=0.02)  # Swift & Greenberg 2012
    assert checks["dropout_or_unmet"] == pytest.approx(1.79, abs=0.25)  # Swift et al. 2018
    assert checks["alliance_d_dropout"] == pytest.approx(0.55, abs=0.1)  # Sharf et al. 2010
