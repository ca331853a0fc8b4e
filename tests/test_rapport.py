"""Measured rapport: the empirical-Bayes estimate recovers known variances and shrinks honestly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher import vocabulary as V
from matcher.rapport import (
    DEFAULT_K_GENERAL,
    MIN_K,
    MIN_THERAPISTS,
    estimate,
    learn,
    moments,
)

# One estimate of K from 20,000 simulated therapists scatters by about 25 % (the same as a full
# maximum-likelihood fit gives: it is the information in the data, not the method); the median
# of five independent worlds is held to 20 %.
TOLERANCE = 0.2
SEEDS = range(5)


def world(
    k_general: float, k_item: float, therapists: int = 20_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, item means and true levels from the two-level model with known K (no ceiling)."""
    rng = np.random.default_rng(seed)
    tau_general, tau_item = 0.3, 0.12
    n = rng.integers(10, 200, therapists)
    level = rng.normal(0, tau_general, therapists)
    item = rng.normal(0, tau_item, (therapists, len(V.ITEMS)))
    item -= item.mean(axis=1, keepdims=True)  # deviations from the level average to zero
    truth = 4.0 + level[:, None] + item
    halo = rng.normal(0, tau_general * np.sqrt(k_general), (therapists, 1))
    own = rng.normal(0, tau_item * np.sqrt(k_item), (therapists, len(V.ITEMS)))
    own -= own.mean(axis=1, keepdims=True)
    means = truth + (halo + own) / np.sqrt(n)[:, None]
    return n, means, truth


# A K below about 5 is hard to pin down when (as here) every therapist has ten or more check-ins:
# the within-therapist part is then small beside the between part at every n. Such worlds are
# estimated low (too trusting), which MIN_K bounds; they are left out of this known-answer test.
@pytest.mark.parametrize(("k_general", "k_item"), [(9.0, 20.0), (15.0, 8.0), (25.0, 40.0)])
def test_the_estimate_recovers_a_known_k(k_general: float, k_item: float) -> None:
    priors = [learn(*world(k_general, k_item, seed=seed)[:2]) for seed in SEEDS]
    assert all(prior.general.estimated for prior in priors)
    assert np.median([p.general.k for p in priors]) == pytest.approx(k_general, rel=TOLERANCE)
    # each item's deviation from the level has both variances scaled alike: its K is the item K
    assert np.median([p.k for p in priors]) == pytest.approx(k_item, rel=TOLERANCE)


def test_moments_on_a_single_component_with_known_answer() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(1, 60, 20_000)
    y = rng.normal(0, 0.3, n.size) + rng.normal(0, 0.9, n.size) / np.sqrt(n)
    tau2, sigma2, estimated = moments(n, y)
    assert estimated
    assert tau2 == pytest.approx(0.09, rel=0.1)
    assert sigma2 == pytest.approx(0.81, rel=0.1)


def test_posterior_beats_the_raw_mean_at_recovering_the_truth() -> None:
    n, means, truth = world(9.0, 20.0, seed=2)
    prior = learn(n, means)
    shrunk = estimate(n, means, prior).value
    assert np.mean((shrunk - truth) ** 2) < np.mean((means - truth) ** 2)


def test_too_few_therapists_fall_back_to_documented_defaults() -> None:
    n, means, _ = world(9.0, 20.0, therapists=MIN_THERAPISTS - 1)
    prior = learn(n, means)
    assert not prior.general.estimated
    assert prior.general.k == DEFAULT_K_GENERAL


def test_no_checkins_anywhere_gives_the_scale_midpoint_and_zero_reliability() -> None:
    n = np.zeros(5, dtype=np.int64)
    means = np.full((5, len(V.ITEMS)), np.nan)
    prior = learn(n, means)
    result = estimate(n, means, prior)
    assert np.all(result.value == 3.0)
    assert np.all(result.reliability == 0.0)


@given(
    counts=st.lists(st.integers(0, 300), min_size=MIN_THERAPISTS, max_size=60),
    seed=st.integers(0, 10_000),
)
def test_unmeasured_is_exactly_the_prior_and_one_checkin_never_carries_half(
    counts: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = np.array(counts, dtype=np.int64)
    means = np.where(
        n[:, None] > 0, np.clip(rng.normal(4.2, 0.5, (n.size, len(V.ITEMS))), 1, 5), np.nan
    )
    prior = learn(n, means)
    result = estimate(n, means, prior)
    assert np.array_equal(
        result.value[n == 0], np.broadcast_to(prior.mean, result.value[n == 0].shape)
    )
    assert np.all(result.reliability[n == 1] <= 1 / (1 + MIN_K))
    if (n == 0).any() and (n > 0).any():
        assert np.all(result.sd[n == 0] >= result.sd[n > 0].max(axis=0) - 1e-12)
    assert np.all((result.value >= V.CHECKIN_MIN) & (result.value <= V.CHECKIN_MAX))


def test_items_borrow_strength_from_the_general_level() -> None:
    """A therapist rated high on every item but one is expected to be above average on that
    one too, until their own ratings on it say otherwise."""
    n, means, _ = world(9.0, 20.0, seed=3)
    prior = learn(n, means)
    one = np.array([12], dtype=np.int64)
    rated = prior.mean + 0.6
    rated[V.ITEMS.index("seen")] = prior.mean[V.ITEMS.index("seen")]  # average on "seen"
    result = estimate(one, rated[None, :], prior)
    seen = V.ITEMS.index("seen")
    assert result.value[0, seen] > prior.mean[seen]
