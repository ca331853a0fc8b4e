"""Measured rapport: how much a therapist's check-ins say, estimated from the directory itself.

A therapist's check-ins are a small, noisy sample of how their clients feel with them. How far
to trust that sample depends on two variances that differ from one directory to another:

- ``tau2``, how much therapists truly differ (the between-therapist variance), and
- ``sigma2``, how much one check-in scatters around the therapist's own level (within).

The posterior mean of a therapist's true level given ``n`` check-ins with mean ``m`` is the
familiar shrinkage ``mu + B (m - mu)`` with ``B = n / (n + K)`` and ``K = sigma2 / tau2``. A
directory gives only each therapist's count and per-item means, so both variances are estimated
by the method of moments from how the spread of those means falls with ``n``::

    E[(m_i - mu)^2] = tau2 + sigma2 / n_i        (regress squared deviations on 1 / n_i)

Items correlate (a client who feels heard tends to feel understood), so the nine items borrow
strength from each other: a therapist's *general level* (the mean over items) is shrunk with its
own K, and each item's deviation from that level is shrunk separately with the item's K. An item
estimate is ``mu_j + (general shrunk - general mean) + (item deviation shrunk)``; with no
check-ins it is exactly ``mu_j``, the directory's mean, so unmeasured never means "good".

When a directory has too few therapists with check-ins to estimate the variances (fewer than
:data:`MIN_THERAPISTS`, or counts that barely vary), the documented defaults below are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher import vocabulary as V

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]

MIN_THERAPISTS = 30  # fewer therapists with check-ins than this: use the defaults below
# Ratings stop at 5, so the mean of a few check-ins scatters less than a normal model predicts
# (one glowing check-in cannot be above 5), which would make a few check-ins look more reliable
# than they are. The variances are estimated from therapists with at least this many check-ins
# when there are enough of them (on the demo directory: K = 3.7 from all, 6.9 from these,
# against 7.4 in the model that generated it).
ESTIMATE_MIN_N = 10
# Defaults when the directory cannot tell. Therapists account for roughly 10 % of the variance in
# alliance ratings (an intraclass correlation near .10; Baldwin, Wampold & Imel 2007 and later
# multilevel studies), so one check-in's scatter is about nine times the spread between
# therapists: K near 9 for the general level. What is particular to one item is a smaller and
# noisier signal, so its K is larger.
DEFAULT_TAU2_GENERAL = 0.09  # (0.3 points on the 1-5 scale)^2
DEFAULT_K_GENERAL = 9.0
DEFAULT_TAU2_ITEM = 0.0225  # (0.15 points)^2
DEFAULT_K_ITEM = 20.0
MIN_TAU2 = 1e-4  # a floor: a directory where therapists seem identical still has some spread
MIN_K = 1.0  # one check-in never carries more than half the weight, whatever the estimate
MAX_K = 400.0  # at most this many check-ins to carry half the weight
EARLY = 0.5  # below this reliability (B) a therapist's measured rapport is "early"


@dataclass(frozen=True)
class Component:
    """One variance component: between therapists (tau2), within (sigma2), K = sigma2 / tau2."""

    tau2: float
    k: float
    estimated: bool  # False when the defaults were used

    @property
    def sigma2(self) -> float:
        return self.tau2 * self.k

    def reliability(self, n: Int) -> Float:
        """B = n / (n + K): how much of a therapist's own mean survives shrinkage."""
        counts = n.astype(np.float64)
        with np.errstate(invalid="ignore"):  # K = 0 and n = 0: nothing to trust
            return np.asarray(np.where(counts > 0, counts / (counts + self.k), 0.0))


@dataclass(frozen=True)
class Prior:
    """What a directory's check-ins say about therapists in general (learned once per load)."""

    mean: Float  # (9,) the mean of a therapist's true rapport per item: what "unknown" gets
    general: Component  # the general relational level (mean over items)
    items: tuple[Component, ...]  # per item, its deviation from the general level
    therapists: int  # therapists with check-ins that the estimate used

    @property
    def k(self) -> Float:
        """Effective K per item: check-ins needed for an item's own mean to carry half weight."""
        return np.array([item.k for item in self.items])

    @property
    def spread(self) -> Float:
        """(9,) between-therapist SD of true rapport per item: the unit rapport is scored in."""
        return np.sqrt(self.general.tau2 + np.array([item.tau2 for item in self.items]))


@dataclass(frozen=True)
class Estimate:
    """Measured rapport for every therapist: posterior means and their uncertainty."""

    value: Float  # (n, 9) posterior mean on the 1-5 scale; exactly prior.mean without check-ins
    sd: Float  # (n, 9) posterior SD
    reliability: Float  # (n,) B of the general level, 0 without check-ins
    prior: Prior


def moments(n: Int, y: Float) -> tuple[float, float, bool]:
    """Method-of-moments (tau2, sigma2) from means ``y`` of ``n`` observations each (n >= 1).

    Squared deviations from the precision-weighted centre are regressed on 1/n (weighted least
    squares, weights refined once from the first fit). Returns (tau2, sigma2, estimated).
    """
    inverse = 1.0 / n.astype(np.float64)
    if n.size < MIN_THERAPISTS or np.ptp(inverse) < 1e-9:
        return np.nan, np.nan, False
    weights = np.ones_like(inverse)
    tau2, sigma2 = np.nan, np.nan
    for _ in range(3):
        centre = float(np.average(y, weights=weights))
        squared = (y - centre) ** 2
        design = np.column_stack([np.ones_like(inverse), inverse])
        root = np.sqrt(weights)
        coef, *_ = np.linalg.lstsq(design * root[:, None], squared * root, rcond=None)
        tau2, sigma2 = max(float(coef[0]), MIN_TAU2), max(float(coef[1]), 0.0)
        weights = 1.0 / (tau2 + sigma2 * inverse) ** 2  # Var of a squared normal deviation ∝
    return tau2, sigma2, True


def _component(n: Int, y: Float, default_tau2: float, default_k: float) -> Component:
    tau2, sigma2, estimated = moments(n, y)
    if not estimated:
        return Component(default_tau2, default_k, estimated=False)
    return Component(tau2, float(np.clip(sigma2 / tau2, MIN_K, MAX_K)), estimated=True)


def learn(n: Int, means: Float) -> Prior:
    """The directory's prior from counts ``n`` (therapists,) and item means (therapists, 9)."""
    measured = n > 0
    if not measured.any():  # no check-ins anywhere: the scale's midpoint, default variances
        return Prior(
            mean=np.full(len(V.ITEMS), (V.CHECKIN_MIN + V.CHECKIN_MAX) / 2),
            general=Component(DEFAULT_TAU2_GENERAL, DEFAULT_K_GENERAL, estimated=False),
            items=tuple(
                Component(DEFAULT_TAU2_ITEM, DEFAULT_K_ITEM, estimated=False) for _ in V.ITEMS
            ),
            therapists=0,
        )
    counts, m = n[measured], means[measured]
    general = m.mean(axis=1)
    deviation = m - general[:, None]
    enough = counts >= ESTIMATE_MIN_N
    fit = enough if np.count_nonzero(enough) >= MIN_THERAPISTS else np.ones_like(enough)
    general_part = _component(counts[fit], general[fit], DEFAULT_TAU2_GENERAL, DEFAULT_K_GENERAL)
    items = tuple(
        _component(counts[fit], deviation[fit, j], DEFAULT_TAU2_ITEM, DEFAULT_K_ITEM)
        for j in range(len(V.ITEMS))
    )
    # The centre of true levels: reliability-weighted, so a therapist with one glowing check-in
    # moves the prior no more than their check-ins deserve.
    weights = general_part.reliability(counts)
    mean = np.average(m, axis=0, weights=weights) if weights.sum() > 0 else m.mean(axis=0)
    return Prior(mean=mean, general=general_part, items=items, therapists=int(counts.size))


def estimate(n: Int, means: Float, prior: Prior) -> Estimate:
    """Posterior rapport per therapist and item under ``prior`` (see the module docstring)."""
    filled = np.where(n[:, None] > 0, np.nan_to_num(means), prior.mean)
    centre = float(prior.mean.mean())
    general = filled.mean(axis=1)
    deviation = filled - general[:, None] - (prior.mean - centre)
    b_general = prior.general.reliability(n)
    b_items = np.column_stack([item.reliability(n) for item in prior.items])
    value = prior.mean + (b_general * (general - centre))[:, None] + b_items * deviation
    tau2_items = np.array([item.tau2 for item in prior.items])
    variance = prior.general.tau2 * (1 - b_general)[:, None] + tau2_items * (1 - b_items)
    return Estimate(
        value=np.clip(value, V.CHECKIN_MIN, V.CHECKIN_MAX),
        sd=np.sqrt(variance),
        reliability=b_general,
        prior=prior,
    )
