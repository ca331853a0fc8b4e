"""Match quality in a simulated world calibrated to the literature: ``python -m bench.quality``.

What is simulated
-----------------
Every client-therapist pair has a latent, standardised outcome (SD 1 over random pairs)::

    outcome = skill_t + B_A * alliance_ct + competence_t,concerns(c) - PREF_D * unmet_ct
              + client_c + noise

- ``skill_t`` and the therapist's alliance level make up the therapist effect: together they
  explain THERAPIST_SHARE (6.5 %) of outcome variance, the 5-8 % band of Baldwin & Imel (2013);
- ``alliance_ct = level_t + chemistry_ct + priority-weighted item profile_t``; the pair's
  chemistry is unobservable and larger than the therapist's level; ``B_A`` is set so that the
  alliance correlates r = .28 with the outcome (Flückiger et al. 2018);
- ``competence`` is the therapist's true skill with the client's concerns; the directory's
  listed concerns correlate only SPECIALTY_INFORMATIVENESS (.2) with it;
- ``unmet`` is the share of the client's stated preferences (approach, style, a non-required
  gender or identity wish) that the therapist does not honour; a fully unmet preference costs
  d = .28 and multiplies the odds of dropout by 1.79 (Swift et al. 2018);
- dropout is a Bernoulli: base rate 19.7 % (Swift & Greenberg 2012), odds up with unmet
  preferences and down with alliance (completers' alliance d = .55 above dropouts', Sharf et
  al. 2010);
- check-ins exist only for clients who did not drop out: each is nine 1-5 ratings of the
  pair's true alliance, blurred by the client's leniency, the session and the item, then cut at
  thresholds that make them ceiling-heavy (mean 4.3, half of them 5s).

Policies (same clients, same open slots, same tiered assignment step as the product's triage):
random among eligible; directory-style (hard filters, then the soonest opening); a fixed-weight
tag scorer (style 40, identity 20, specialty 20, modality 15, availability 5); the model with
check-ins removed; the model with historical check-ins plus those its own earlier assignments
produced (the feedback loop); the oracle (maximum true expected outcome).

The engine is used only through ``assess`` (eligibility and ``score`` ordering),
``with_checkins``, ``encode``, ``Preferences`` and the triage helpers.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from matcher import synth
from matcher import vocabulary as V
from matcher.checkins import with_checkins
from matcher.directory import NO_DAY, Directory, encode
from matcher.preferences import Preferences
from matcher.referrals import Referral, referrals_from_frame
from matcher.schema import DIRECTORY_FIELDS, parse_table
from matcher.scoring import assess
from matcher.triage import Candidate, assign_tier, open_slots

Float = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]
Progress = Callable[[str], None]

TODAY = date(2026, 11, 22)
EPOCH = date(1970, 1, 1)
POLICIES = (
    "random",
    "directory",
    "tag scorer",
    "model, no check-ins",
    "model + check-ins",
    "oracle",
)

# ---------------------------------------------------------------------------------------------
# The world's assumptions. Each published figure is named with its source; the rest are marked
# "assumption" and are what the sweep varies.

# Therapist effects: share of outcome variance between therapists. Baldwin & Imel (2013),
# "Therapist effects: findings and methods", in Lambert (ed.), Bergin & Garfield's Handbook of
# Psychotherapy and Behavior Change, 6th ed.: about 5 % (trials ~3 %, naturalistic ~7 %);
# we take the middle of the 5-8 % band.
THERAPIST_SHARE = 0.065
# Assumption: the part of the therapist effect that runs through the therapist's general alliance
# level (the rest is skill that check-ins cannot see). The evidence is mixed: Baldwin, Wampold &
# Imel (2007, J Consult Clin Psychol 75:842) and Del Re et al. (2012, Clin Psychol Rev 32:642) find
# therapists' differences in alliance carry the alliance-outcome link; "A relational perspective
# on the association between working alliance and treatment outcome" (Psychother Res 2019,
# 29:13) finds within-therapist variation larger and the better predictor. A quarter makes the
# therapist level about a fifth of alliance variance; the sweep varies it from 0 to 1.
THERAPIST_VIA_ALLIANCE = 0.25
# Alliance-outcome correlation r = .278 (Flückiger, Del Re, Wampold & Horvath 2018, Psychotherapy
# 55:316, 295 studies). Taken as the correlation of the true pair alliance with the outcome.
ALLIANCE_OUTCOME_R = 0.28
# Assumption: pair chemistry (variance on the alliance scale) is larger than the therapist's
# general level and unobservable before the pair meets (the brief; Baldwin et al. 2007 find most
# alliance variance lies within therapists' caseloads).
PAIR_CHEMISTRY_VAR = 0.6
# Assumption: therapists differ by item (clear plan vs feeling connected); SD on the alliance scale.
ITEM_PROFILE_SD = 0.35

# Concern-specific competence: therapist x concern variance of the outcome. Assumption, motivated by
# Kraus et al. (2011, Psychother Res 21:267): most therapists are effective in some problem
# domains and not others.
COMPETENCE_VAR = 0.02
# Assumption: correlation between "lists the concern" and true competence with it. Weak:
# clinicians' self-assessments do not track their measured outcomes (Walfish, McAlister,
# O'Donnell & Lambert 2012, Psychol Rep 110:639: the average clinician rates themself at the
# 80th percentile; none placed themself below average).
SPECIALTY_INFORMATIVENESS = 0.2

# Preferences: Swift, Callahan, Cooper & Parkin (2018, J Clin Psychol 74:1924), 53 studies:
# clients whose preferences are honoured have better outcomes (d = .28) and drop out less (OR 1.79).
PREFERENCE_D = 0.28
PREFERENCE_DROPOUT_OR = 1.79
# Style: a lean is fully unmet when the therapist is this many points away on the -3..+3 axis.
STYLE_UNMET_AT = 3.0
# Bona fide therapies differ little on average (Wampold et al. 1997, Psychol Bull 122:203: effects
# around zero, upper bound about .2): so a guideline-recommended approach has no effect of its own
# here; only a stated approach preference does (PREFERENCE_D).

# Dropout: weighted mean rate 19.7 % (Swift & Greenberg 2012, J Consult Clin Psychol 80:547).
BASE_DROPOUT = 0.197
# Dropouts report weaker alliances than completers, d = .55 (Sharf, Primavera & Diener 2010,
# Psychotherapy 47:637). The alliance slope of the dropout logit is solved to reproduce it.
ALLIANCE_DROPOUT_D = 0.55

# Check-ins: alliance self-reports are ceiling-heavy (SRS and WAI-SR means near the top of the
# scale; e.g. Duncan et al. 2003, J Brief Ther 3:3; Hatcher & Gillaspy 2006, Psychother Res
# 16:12). Share of ratings 1..5 among completers: mean 4.31, half are 5s.
CHECKIN_SHARES = (0.01, 0.03, 0.10, 0.36, 0.50)
# One check-in is a low-reliability measurement: session-to-session test-retest of the SRS is .64
# (Duncan et al. 2003). Occasion variance is set to reproduce it; leniency (a client's rating
# habit, stable across sessions) is an assumption; item noise gives alpha about .95, like the
# SRS's .88-.93 and the WAI-SR's .90+.
CHECKIN_TEST_RETEST = 0.64
CLIENT_LENIENCY_VAR = 0.5  # assumption
ITEM_NOISE_VAR = 1.0  # assumption
CHECKINS_PER_CLIENT = 4  # assumption: sessions with a check-in per client who stays

# Psychotherapy vs no treatment d = .80 (Wampold & Imel 2015, The Great Psychotherapy Debate, 2nd
# ed.): the zero of "share of oracle", i.e. an outcome's benefit over no treatment.
TREATMENT_D = 0.80
CLIENT_VAR = 0.35  # assumption: client factors; the same whoever the therapist, so inert here

# The tag scorer that open-source matchers use (points out of 100).
TAG_WEIGHTS: Mapping[str, float] = {
    "style": 40,
    "identity": 20,
    "specialty": 20,
    "modality": 15,
    "availability": 5,
}
SHORTLIST = 25  # each referral's best candidates offered to the assignment, as the product does


@dataclass(frozen=True)
class WorldParams:
    therapist_share: float = THERAPIST_SHARE
    via_alliance: float = THERAPIST_VIA_ALLIANCE
    specialty: float = SPECIALTY_INFORMATIVENESS
    checkin_noise: float = 1.0  # multiplies every check-in noise SD; inf = ratings carry no signal


@dataclass(frozen=True)
class Settings:
    seed: int = 1
    therapists: int = 2000
    rounds: int = 6
    referrals_per_round: int = 150
    world: WorldParams = field(default_factory=WorldParams)


# ---------------------------------------------------------------------------------------------
# The world


@dataclass(frozen=True)
class World:
    params: WorldParams
    level: Float  # (n,) therapist's alliance level
    skill: Float  # (n,) therapist's effectiveness the alliance does not carry
    profile: Float  # (n, 9) item profile
    competence: Float  # (n, concerns)
    alliance_sd: float
    beta_alliance: float
    chemistry_var: float
    residual_var: float = 1.0
    intercept: float = 0.0  # dropout logit at alliance 0 and nothing unmet
    alliance_slope: float = 0.0  # dropout logit per alliance SD (negative: better alliance stays)
    thresholds: Float = field(default_factory=lambda: np.zeros(4))  # latent cuts for 2..5

    @property
    def signal(self) -> float:
        return 0.0 if np.isinf(self.params.checkin_noise) else 1.0

    @property
    def noise(self) -> float:
        return 1.0 if np.isinf(self.params.checkin_noise) else self.params.checkin_noise


def occasion_var() -> float:
    """Session variance that makes one check-in's test-retest CHECKIN_TEST_RETEST."""
    stable = 1.0 + CLIENT_LENIENCY_VAR
    return stable / CHECKIN_TEST_RETEST - stable


@dataclass(frozen=True)
class Client:
    """One referral's truth over the therapists who meet its hard constraints."""

    referral: Referral
    rows: Index
    chemistry: Float  # (m,)
    alliance: Float  # (m,) true pair alliance (standardised)
    unmet: Float  # (m,) share of stated preferences not honoured
    expected: Float  # (m,) true expected outcome
    dropout: Float  # (m,) probability of dropping out
    top_met: Float  # (m,) probability a check-in rates the top priority 4 or 5
    weights: Float  # (9,) item priorities
    top: int
    leniency: float


def build_world(directory: Directory, params: WorldParams, rng: np.random.Generator) -> World:
    n = len(directory)
    item_var = ITEM_PROFILE_SD**2 * 0.2  # E[sum w^2] is about .2 for synthetic priorities
    r2 = ALLIANCE_OUTCOME_R**2
    # share of alliance variance at therapist level that yields the wanted share of outcome
    fraction = min(params.via_alliance * params.therapist_share / r2, 0.9)
    level_var = fraction * (PAIR_CHEMISTRY_VAR + item_var) / (1 - fraction)
    alliance_sd = float(np.sqrt(level_var + PAIR_CHEMISTRY_VAR + item_var))
    beta = ALLIANCE_OUTCOME_R / alliance_sd
    listed = np.column_stack([directory.tags["concerns"].has(c) for c in V.CONCERNS])
    share = listed.mean(axis=0).clip(0.01, 0.99)
    z = (listed - share) / np.sqrt(share * (1 - share))
    rho = params.specialty
    competence = np.sqrt(COMPETENCE_VAR) * (
        rho * z + np.sqrt(1 - rho**2) * rng.standard_normal(listed.shape)
    )
    # the competence the average client mix sees, which counts as therapist effect too
    mix = np.array([synth.CONCERN_POPULARITY.get(c, 0.0) for c in V.CONCERNS])
    competence_between = float(np.var(competence @ (mix / mix.sum())))
    skill_var = max(params.therapist_share - beta**2 * level_var - competence_between, 0.0)
    return World(
        params=params,
        level=rng.normal(0, np.sqrt(level_var), n),
        skill=rng.normal(0, np.sqrt(skill_var), n),
        profile=rng.normal(0, ITEM_PROFILE_SD, (n, len(V.ITEMS))),
        competence=competence,
        alliance_sd=alliance_sd,
        beta_alliance=beta,
        chemistry_var=PAIR_CHEMISTRY_VAR,
    )


def item_weights(p: Preferences) -> Float:
    w = np.array(p.priorities.as_tuple(), dtype=float)
    return np.ones(len(V.ITEMS)) / len(V.ITEMS) if w.sum() == 0 else w / w.sum()


def unmet_preferences(directory: Directory, p: Preferences, rows: Index) -> Float:
    """Share of the client's stated preference categories the therapist does not honour."""
    parts: list[Float] = []
    modalities = directory.tags["modalities"]
    approach: list[Float] = []
    if p.modalities.prefer:
        approach.append((~modalities.has_any(p.modalities.prefer, rows)).astype(float))
    if p.modalities.avoid:
        approach.append(modalities.has_any(p.modalities.avoid, rows).astype(float))
    if approach:
        parts.append(np.mean(approach, axis=0))
    lean = np.array(p.style.as_tuple(), dtype=float)
    if lean.any():
        strength = np.abs(lean) / np.abs(lean).sum()
        gap = np.clip(np.abs(directory.style[rows] - lean) / STYLE_UNMET_AT, 0, 1)
        parts.append(gap @ strength)
    wish = p.therapist_gender
    if wish is not None and not wish.required:
        parts.append((directory.gender[rows] != list(V.GENDERS).index(wish.value)).astype(float))
    wanted = p.therapist_identities
    if wanted.values and not wanted.required:
        held = directory.tags["identities"].count(wanted.values, rows)
        parts.append(1.0 - held / len(wanted.values))
    return np.mean(parts, axis=0) if parts else np.zeros(rows.size)


def pair_truth(
    directory: Directory, world: World, p: Preferences, rows: Index, chemistry: Float
) -> tuple[Float, Float, Float, Float]:
    """(alliance, unmet, expected outcome, item latents (m, 9)) for one client and ``rows``."""
    w = item_weights(p)
    items = world.level[rows, None] + chemistry[:, None] + world.profile[rows]
    alliance = (world.level[rows] + chemistry + world.profile[rows] @ w) / world.alliance_sd
    unmet = unmet_preferences(directory, p, rows)
    concerns = np.array([list(V.CONCERNS).index(c) for c in p.concerns], dtype=np.intp)
    competence = (
        world.competence[np.ix_(rows, concerns)].mean(axis=1)
        if concerns.size
        else np.zeros(rows.size)
    )
    expected = (
        world.skill[rows]
        + world.beta_alliance * world.alliance_sd * alliance
        + competence
        - PREFERENCE_D * unmet
    )
    return alliance, unmet, expected, items


def dropout_probability(world: World, alliance: Float, unmet: Float) -> Float:
    logits = (
        world.intercept + np.log(PREFERENCE_DROPOUT_OR) * unmet + world.alliance_slope * alliance
    )
    return np.asarray(expit(logits), dtype=np.float64)


def rating_noise_sd(world: World) -> float:
    """SD of one item rating's latent noise around the pair's item alliance."""
    return world.noise * float(np.sqrt(CLIENT_LENIENCY_VAR + occasion_var() + ITEM_NOISE_VAR))


def calibrate(world: World, pairs: Pairs, rng: np.random.Generator) -> World:
    """Solve the dropout intercept and slope, the outcome's residual, and the rating cuts."""
    alliance, unmet, items = pairs.alliance, pairs.unmet, pairs.items
    log_or = np.log(PREFERENCE_DROPOUT_OR)

    def solve_intercept(slope: float) -> float:
        lo, hi = -10.0, 10.0
        for _ in range(50):
            mid = (lo + hi) / 2
            p = expit(mid + log_or * unmet + slope * alliance)
            lo, hi = (mid, hi) if p.mean() < BASE_DROPOUT else (lo, mid)
        return (lo + hi) / 2

    def gap(slope: float) -> float:
        p = expit(solve_intercept(slope) + log_or * unmet + slope * alliance)
        drop = np.average(alliance, weights=p)
        stay = np.average(alliance, weights=1 - p)
        spread = np.sqrt(
            (np.average((alliance - drop) ** 2, weights=p)
             + np.average((alliance - stay) ** 2, weights=1 - p)) / 2
        )  # fmt: skip
        return float((stay - drop) / spread)

    lo, hi = -4.0, 0.0  # the slope is negative: a better alliance keeps clients
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gap(mid) < ALLIANCE_DROPOUT_D else (mid, hi)
    slope = (lo + hi) / 2
    world = replace(world, intercept=solve_intercept(slope), alliance_slope=slope)
    stay = 1 - dropout_probability(world, alliance, unmet)
    # latent ratings of completers -> the cuts that give the published shares
    latent = world.signal * items + rating_noise_sd(world) * rng.standard_normal(items.shape)
    order = np.argsort(latent, axis=None)
    weights = np.repeat(stay, items.shape[1])[order]
    cumulative = np.cumsum(weights) / weights.sum()
    cuts = np.cumsum(CHECKIN_SHARES)[:-1]
    thresholds = latent.ravel()[order][np.searchsorted(cumulative, cuts)]
    # the outcome's SD is 1 over random pairs: noise is what the pair terms and clients leave
    residual = max(1.0 - float(np.var(pairs.expected)) - CLIENT_VAR, 0.05)
    return replace(world, thresholds=thresholds, residual_var=residual)


def ratings(world: World, items: Float, leniency: float, sessions: int,
            rng: np.random.Generator) -> npt.NDArray[np.int64]:  # fmt: skip
    """(sessions, 9) check-ins from one pair's item latents: noisy, ceiling-heavy, 1..5."""
    k = world.noise
    latent = (
        world.signal * items[None, :]
        + k * leniency
        + k * np.sqrt(occasion_var()) * rng.standard_normal((sessions, 1))
        + k * np.sqrt(ITEM_NOISE_VAR) * rng.standard_normal((sessions, items.size))
    )
    return np.asarray(1 + np.searchsorted(world.thresholds, latent), dtype=np.int64)


def top_priority_met(world: World, items: Float, top: int) -> Float:
    """Probability that a check-in rates the top priority item 4 or 5."""
    z = world.signal * items[:, top] - world.thresholds[2]
    sd = rating_noise_sd(world)
    return np.asarray(norm.cdf(z / sd) if sd > 0 else (z >= 0).astype(float), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Directories as the policies see them


def synthetic_directory(n: int, seed: int) -> Directory:
    frame = synth.therapists(n, seed).astype(str).replace({"nan": ""})
    return encode(parse_table(frame, DIRECTORY_FIELDS))


def history(directory: Directory, world: World, rng: np.random.Generator,
            typical_unmet: Float) -> tuple[Directory, list[tuple[str, list[int]]]]:  # fmt: skip
    """The directory's check-ins re-drawn from the world: same counts, from past completers."""
    table = directory.table.copy()
    counts = directory.checkins_n.astype(int)
    means = np.full((len(directory), len(V.ITEMS)), np.nan)
    sample: list[tuple[str, list[int]]] = []
    w = np.ones(len(V.ITEMS)) / len(V.ITEMS)
    for row in np.flatnonzero(counts > 0):
        need = int(counts[row])
        got: list[npt.NDArray[np.int64]] = []
        while need > 0:
            chem = rng.normal(0, np.sqrt(world.chemistry_var))
            alliance = (world.level[row] + chem + world.profile[row] @ w) / world.alliance_sd
            unmet = typical_unmet[rng.integers(typical_unmet.size)]
            p = dropout_probability(world, np.array([alliance]), np.array([unmet]))[0]
            if rng.random() < p:
                continue  # dropped out: no check-ins
            items = world.level[row] + chem + world.profile[row]
            lenient = rng.normal(0, np.sqrt(CLIENT_LENIENCY_VAR))
            batch = ratings(world, items, lenient, min(CHECKINS_PER_CLIENT, need), rng)
            got.append(batch)
            need -= batch.shape[0]
        every = np.concatenate(got)
        means[row] = every.mean(axis=0)
        if len(sample) < 20000:
            sample.extend((str(directory.ids[row]), r.tolist()) for r in every)
    for i, item in enumerate(V.ITEMS):
        table[f"rapport_{item}"] = np.where(counts > 0, np.round(means[:, i], 2), np.nan)
    return encode(table, directory.source), sample


def without_checkins(directory: Directory) -> Directory:
    table = directory.table.copy()
    table["checkins_n"] = 0
    for item in V.ITEMS:
        table[f"rapport_{item}"] = np.nan
    return encode(table, directory.source)


# ---------------------------------------------------------------------------------------------
# Clients


def referrals(m: int, seed: int) -> list[Referral]:
    queue = synth.referrals(m, seed)
    queue[["risk_self_harm", "risk_harm_others"]] = False  # crisis cases are never matched
    typed = referrals_from_frame(queue.astype(str).replace({"nan": ""}), "synthetic queue")
    return [replace(r, received=TODAY) for r in typed]


def client_truth(directory: Directory, world: World, referral: Referral,
                 rng: np.random.Generator) -> Client:  # fmt: skip
    p = referral.preferences
    rows = assess(directory, p, TODAY).rows
    chemistry = rng.normal(0, np.sqrt(world.chemistry_var), rows.size)
    alliance, unmet, expected, items = pair_truth(directory, world, p, rows, chemistry)
    ranked = p.priorities.ranked()
    top = V.ITEMS.index(ranked[0]) if ranked else 0
    return Client(
        referral=referral,
        rows=rows,
        chemistry=chemistry,
        alliance=alliance,
        unmet=unmet,
        expected=expected,
        dropout=dropout_probability(world, alliance, unmet),
        top_met=top_priority_met(world, items, top),
        weights=item_weights(p),
        top=top,
        leniency=float(rng.normal(0, np.sqrt(CLIENT_LENIENCY_VAR))),
    )


@dataclass(frozen=True)
class Pairs:
    """Random client-therapist pairs (any therapist): the calibration sample."""

    alliance: Float
    unmet: Float
    expected: Float
    items: Float  # (k, 9)
    approach_only: npt.NDArray[np.bool_]  # the client's only stated preference is an approach


def random_pairs(directory: Directory, world: World, people: Sequence[Preferences],
                 per_client: int, rng: np.random.Generator) -> Pairs:  # fmt: skip
    parts: list[tuple[Float, Float, Float, Float, npt.NDArray[np.bool_]]] = []
    for p in people:
        rows = np.sort(rng.choice(len(directory), per_client, replace=False)).astype(np.intp)
        chemistry = rng.normal(0, np.sqrt(world.chemistry_var), rows.size)
        alliance, unmet, expected, items = pair_truth(directory, world, p, rows, chemistry)
        only = (
            bool(p.modalities.prefer) and not p.modalities.avoid and not any(p.style.as_tuple())
            and p.therapist_gender is None and not p.therapist_identities.values
        )  # fmt: skip
        parts.append((alliance, unmet, expected, items, np.full(rows.size, only)))
    return Pairs(*(np.concatenate([part[k] for part in parts]) for k in range(5)))


# ---------------------------------------------------------------------------------------------
# Policies: per client, a score for each eligible row (higher is better)

Scorer = Callable[[Client], Float]


def tag_scores(directory: Directory, today: date) -> Scorer:
    """The fixed-weight tag scorer (TAG_WEIGHTS), on the directory's own arrays.

    Each part in [0, 1]; a part the client gave nothing for drops out and the rest are
    renormalised (a competent implementation does not reward everyone equally for it).
    """
    day = (today - EPOCH).days

    def score(c: Client) -> Float:
        p, rows = c.referral.preferences, c.rows
        parts: dict[str, Float] = {}
        lean = np.array(p.style.as_tuple(), dtype=float)
        if lean.any():
            strength = np.abs(lean) / np.abs(lean).sum()
            parts["style"] = (1 - np.abs(directory.style[rows] - lean) / 6) @ strength
        identity: list[Float] = []
        if p.therapist_gender is not None:
            code = list(V.GENDERS).index(p.therapist_gender.value)
            identity.append((directory.gender[rows] == code).astype(float))
        if p.therapist_identities.values:
            wanted = p.therapist_identities.values
            identity.append(directory.tags["identities"].count(wanted, rows) / len(wanted))
        if p.populations:
            identity.append(
                directory.tags["populations"].count(p.populations, rows) / len(p.populations)
            )
        if identity:
            parts["identity"] = np.mean(identity, axis=0)
        if p.concerns:
            parts["specialty"] = directory.tags["concerns"].count(p.concerns, rows) / len(
                p.concerns
            )
        modality: list[Float] = []
        if p.modalities.prefer:
            modality.append(
                directory.tags["modalities"].count(p.modalities.prefer, rows)
                / len(p.modalities.prefer)
            )
        if p.modalities.avoid:
            avoided = directory.tags["modalities"].has_any(p.modalities.avoid, rows)
            modality.append(1.0 - avoided.astype(np.float64))
        if modality:
            parts["modality"] = np.mean(modality, axis=0)
        opening = directory.next_opening[rows].astype(np.int64)
        wait = np.where(opening == NO_DAY, 60, np.maximum(opening - day, 0))
        parts["availability"] = 1.0 / (1.0 + wait / 14.0)
        total = sum(TAG_WEIGHTS[k] for k in parts)
        return np.asarray(sum(TAG_WEIGHTS[k] * v for k, v in parts.items()) / total)

    return score


def soonest(directory: Directory, today: date) -> Scorer:
    day = (today - EPOCH).days

    def score(c: Client) -> Float:
        opening = directory.next_opening[c.rows].astype(np.float64)
        wait = np.where(opening == NO_DAY, 365.0, np.maximum(opening - day, 0))
        return np.asarray(-wait - 1e-6 * c.rows)  # earliest first, then directory order

    return score


def model_scores(directory_of: Callable[[], Directory],
                 weights: Mapping[str, float] | None = None) -> Scorer:  # fmt: skip
    def score(c: Client) -> Float:
        p = c.referral.preferences
        if weights is not None:
            p = p.evolve(weights=dict(weights))
        a = assess(directory_of(), p, TODAY)
        if not np.array_equal(a.rows, c.rows):
            raise RuntimeError("check-ins changed who is eligible: the bench's premise broke")
        return np.asarray(a.score, dtype=np.float64)

    return score


def random_scores(rng: np.random.Generator) -> Scorer:
    return lambda c: rng.random(c.rows.size)


def oracle_scores(c: Client) -> Float:
    return c.expected


def assign(directory: Directory, clients: Sequence[Client], scorer: Scorer,
           slots: Mapping[str, int]) -> dict[str, int]:  # fmt: skip
    """The product's assignment step with this policy's scores: urgent tiers first.

    Scores are mapped to [0.05, 0.95] by one affine map per batch (only their order and
    differences matter; the assignment needs them inside (0, 1)).
    """
    raw = {c.referral.referral_id: scorer(c) for c in clients}
    shortlists: dict[str, list[tuple[int, float]]] = {}
    for c in clients:
        s = raw[c.referral.referral_id]
        best = np.lexsort((c.rows, -s))[:SHORTLIST]
        shortlists[c.referral.referral_id] = [(int(c.rows[i]), float(s[i])) for i in best]
    values = [v for short in shortlists.values() for _, v in short]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    candidates = {
        rid: tuple(
            Candidate(str(directory.ids[r]), r, 0.05 + 0.9 * (v - lo) / span) for r, v in short
        )
        for rid, short in shortlists.items()
    }
    remaining = dict(slots)
    chosen: dict[str, int] = {}
    for urgency in V.URGENCIES:
        tier = [c.referral for c in clients if c.referral.urgency == urgency]
        placed = assign_tier(tier, candidates, remaining)
        for rid, candidate in placed.items():
            remaining[candidate.therapist_id] -= 1
            chosen[rid] = candidate.row
    return chosen


# ---------------------------------------------------------------------------------------------
# One simulated clinic


@dataclass
class Clinic:
    settings: Settings
    directory: Directory  # with historical check-ins drawn from the world
    blind: Directory
    world: World
    clients: list[Client]
    history_sample: list[tuple[str, list[int]]]
    rng: np.random.Generator


def clinic(s: Settings, progress: Progress = lambda _: None) -> Clinic:
    rng = np.random.default_rng([s.seed, 11])
    base = synthetic_directory(s.therapists, s.seed)
    world = build_world(base, s.world, rng)
    queue = referrals(s.rounds * s.referrals_per_round, s.seed)
    calibration_people = [r.preferences for r in referrals(600, s.seed + 10_000)]
    world = calibrate(world, random_pairs(base, world, calibration_people, 30, rng), rng)
    sample = random_pairs(base, world, calibration_people[:200], 10, rng)
    directory, drawn = history(base, world, rng, sample.unmet)
    clients = [client_truth(directory, world, r, rng) for r in queue]
    return Clinic(s, directory, without_checkins(directory), world, clients, drawn, rng)


def simulate(s: Settings, progress: Progress = lambda _: None,
             weight_vectors: Sequence[Mapping[str, float]] = ()) -> pd.DataFrame:  # fmt: skip
    """Per round and policy: outcome, top priority met, dropout, assigned (common clients).

    ``weight_vectors`` adds one "weights i" policy per vector: the model with check-ins (no
    feedback loop of its own) under those group weights.
    """
    c = clinic(s, progress)
    policy_rng = np.random.default_rng([s.seed, 12])
    loop_rng = np.random.default_rng([s.seed, 13])
    slots = open_slots(c.directory)
    learned: dict[str, Directory] = {"now": c.directory}
    scorers: dict[str, Scorer] = {
        "random": random_scores(policy_rng),
        "directory": soonest(c.directory, TODAY),
        "tag scorer": tag_scores(c.directory, TODAY),
        "model, no check-ins": model_scores(lambda: c.blind),
        "model + check-ins": model_scores(lambda: learned["now"]),
        "oracle": oracle_scores,
    }
    for i, vector in enumerate(weight_vectors):
        scorers[f"weights {i}"] = model_scores(lambda: c.directory, vector)
    new_checkins: list[tuple[str, list[int]]] = []
    records = []
    per = s.referrals_per_round
    for round_ in range(s.rounds):
        batch = c.clients[round_ * per : (round_ + 1) * per]
        by_id = {x.referral.referral_id: x for x in batch}
        chosen = {name: assign(c.directory, batch, scorer, slots)
                  for name, scorer in scorers.items()}  # fmt: skip
        common = set.intersection(*(set(v) for v in chosen.values()))
        for name, picks in chosen.items():
            at = [(by_id[rid], _position(by_id[rid], picks[rid])) for rid in sorted(common)]
            records.append(
                {
                    "seed": s.seed,
                    "round": round_ + 1,
                    "policy": name,
                    "outcome": float(np.mean([x.expected[i] for x, i in at])),
                    "top_priority_met": float(np.mean([x.top_met[i] for x, i in at])),
                    "dropout": float(np.mean([x.dropout[i] for x, i in at])),
                    "assigned": len(picks) / len(batch),
                    "clients": len(common),
                }
            )
        # the feedback loop: the model's own clients who stay send check-ins before next round
        for rid, row in chosen["model + check-ins"].items():
            x = by_id[rid]
            i = _position(x, row)
            if loop_rng.random() < x.dropout[i]:
                continue
            items = c.world.level[row] + x.chemistry[i] + c.world.profile[row]
            for r in ratings(c.world, items, x.leniency, CHECKINS_PER_CLIENT, loop_rng):
                new_checkins.append((str(c.directory.ids[row]), r.tolist()))
        learned["now"] = with_checkins(c.directory, new_checkins)
        progress(f"seed {s.seed}: round {round_ + 1}/{s.rounds}")
    return pd.DataFrame(records)


def _position(client: Client, row: int) -> int:
    return int(np.searchsorted(client.rows, row))


# ---------------------------------------------------------------------------------------------
# Summaries


def per_seed(results: pd.DataFrame) -> pd.DataFrame:
    """Per seed and policy (pooled over rounds): gap closed, share of oracle, the rest."""
    weighted = results.assign(
        **{k: results[k] * results["clients"] for k in ("outcome", "top_priority_met", "dropout")}
    )
    sums = weighted.groupby(["seed", "policy"])[
        ["outcome", "top_priority_met", "dropout", "clients"]
    ].sum()
    pooled = sums[["outcome", "top_priority_met", "dropout"]].div(sums["clients"], axis=0)
    pooled["assigned"] = results.groupby(["seed", "policy"])["assigned"].mean()
    pooled = pooled.reset_index()
    ref = pooled.pivot(index="seed", columns="policy", values="outcome")
    rnd, orc = ref["random"], ref["oracle"]
    pooled["gap_closed"] = [
        (o - rnd[s]) / (orc[s] - rnd[s])
        for s, o in zip(pooled["seed"], pooled["outcome"], strict=True)
    ]
    pooled["share_of_oracle"] = [
        (TREATMENT_D + o) / (TREATMENT_D + orc[s])
        for s, o in zip(pooled["seed"], pooled["outcome"], strict=True)
    ]
    return pooled


METRICS = ("gap_closed", "share_of_oracle", "outcome", "top_priority_met", "dropout", "assigned")


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds of each metric, per policy."""
    seeds = per_seed(results)
    grouped = seeds.groupby("policy", sort=False)[list(METRICS)]
    mean, se = grouped.mean(), grouped.sem(ddof=1)
    out = pd.concat([mean, se.add_suffix("_se")], axis=1)
    order = [p for p in POLICIES if p in out.index] + [p for p in out.index if p not in POLICIES]
    return out.loc[order]


def _pm(value: float, se: float, percent: bool = True) -> str:
    if percent:
        return f"{value:.1%} ± {se:.1%}" if np.isfinite(se) else f"{value:.1%}"
    return f"{value:+.3f} ± {se:.3f}" if np.isfinite(se) else f"{value:+.3f}"


def results_table(table: pd.DataFrame) -> list[str]:
    lines = [
        "| policy | gap closed (random→oracle) | share of oracle | mean true outcome (SD) "
        "| top priority met | dropout | assigned |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in table.iterrows():
        lines.append(
            f"| {name} | {_pm(row['gap_closed'], row['gap_closed_se'])} "
            f"| {_pm(row['share_of_oracle'], row['share_of_oracle_se'])} "
            f"| {_pm(row['outcome'], row['outcome_se'], percent=False)} "
            f"| {_pm(row['top_priority_met'], row['top_priority_met_se'])} "
            f"| {_pm(row['dropout'], row['dropout_se'])} "
            f"| {row['assigned']:.1%} |"
        )
    return lines


# ---------------------------------------------------------------------------------------------
# Sweeps


SWEEP: dict[str, tuple[float, ...]] = {
    "checkin_noise": (0.0, 0.5, 1.0, 2.0, float("inf")),
    "specialty": (0.0, 0.2, 0.5, 1.0),
    "therapist_share": (0.03, 0.065, 0.10, 0.15),
    "via_alliance": (0.0, 0.25, 0.5, 0.75, 1.0),
}
SWEEP_LABELS = {
    "checkin_noise": "check-in noise (× default SD; inf = no signal)",
    "specialty": "specialty informativeness (corr. listed vs competence)",
    "therapist_share": "therapist effect (share of outcome variance)",
    "via_alliance": "share of the therapist effect carried by the alliance",
}


def sweep(base: Settings, seeds: Sequence[int], progress: Progress) -> pd.DataFrame:
    rows = []
    for name, values in SWEEP.items():
        for value in values:
            params = replace(base.world, **{name: value})
            frames = [simulate(replace(base, seed=seed, world=params)) for seed in seeds]
            table = per_seed(pd.concat(frames))
            pivot = table.pivot(index="seed", columns="policy", values="gap_closed")
            diff = pivot["model + check-ins"] - pivot["tag scorer"]
            rows.append(
                {
                    "parameter": name,
                    "value": value,
                    "model + check-ins": pivot["model + check-ins"].mean(),
                    "model + check-ins_se": pivot["model + check-ins"].sem(),
                    "model, no check-ins": pivot["model, no check-ins"].mean(),
                    "tag scorer": pivot["tag scorer"].mean(),
                    "tag scorer_se": pivot["tag scorer"].sem(),
                    "difference": diff.mean(),
                    "difference_se": diff.sem(),
                }
            )
            progress(f"sweep {name}={value}: model {rows[-1]['model + check-ins']:.1%}, "
                     f"tag {rows[-1]['tag scorer']:.1%}")  # fmt: skip
    return pd.DataFrame(rows)


def weight_vectors(samples: int, seed: int) -> list[dict[str, float]]:
    """Default, equal, each group left out, each group doubled, and random draws."""
    default = {g: float(V.DEFAULT_WEIGHTS[g]) for g in V.GROUPS}
    vectors = [default, dict.fromkeys(V.GROUPS, 1.0)]
    for g in V.GROUPS:
        vectors.append({**default, g: 0.0})
        vectors.append({**default, g: 2 * default[g]})
    rng = np.random.default_rng([seed, 99])
    for _ in range(samples):
        draw = rng.dirichlet(np.ones(len(V.GROUPS)))
        vectors.append({g: round(float(v), 2) + 0.0 for g, v in zip(V.GROUPS, draw, strict=True)})
    return [v if sum(v.values()) > 0 else default for v in vectors]


def weights_sweep(base: Settings, seeds: Sequence[int], samples: int,
                  progress: Progress) -> pd.DataFrame:  # fmt: skip
    vectors = weight_vectors(samples, base.seed)
    short = replace(base, rounds=min(base.rounds, 3))
    frames = []
    for seed in seeds:
        frames.append(simulate(replace(short, seed=seed), weight_vectors=vectors))
        progress(f"weights sweep: seed {seed} done ({len(vectors)} vectors)")
    table = per_seed(pd.concat(frames))
    gap = table.pivot(index="seed", columns="policy", values="gap_closed")
    default = gap["weights 0"]
    rows = []
    for i, vector in enumerate(vectors):
        mine = table[table["policy"] == f"weights {i}"]
        versus = gap[f"weights {i}"] - default
        rows.append(
            {
                **{g: vector[g] / sum(vector.values()) for g in V.GROUPS},
                "gap_closed": mine["gap_closed"].mean(),
                "gap_closed_se": mine["gap_closed"].sem(),
                "vs_default": versus.mean(),
                "vs_default_se": versus.sem(),
                "dropout": mine["dropout"].mean(),
                "label": _vector_label(i),
            }
        )
    versus = gap["tag scorer"] - default
    rows.append(
        {
            **dict.fromkeys(V.GROUPS, np.nan),
            "gap_closed": gap["tag scorer"].mean(),
            "gap_closed_se": gap["tag scorer"].sem(),
            "vs_default": versus.mean(),
            "vs_default_se": versus.sem(),
            "dropout": np.nan,
            "label": "tag scorer",
        }
    )
    return pd.DataFrame(rows).sort_values("gap_closed", ascending=False, ignore_index=True)


def _vector_label(i: int) -> str:
    if i == 0:
        return "default"
    if i == 1:
        return "equal"
    k = i - 2
    if k < 2 * len(V.GROUPS):
        group = V.GROUPS[k // 2]
        return f"no {group}" if k % 2 == 0 else f"{group} ×2"
    return f"random {k - 2 * len(V.GROUPS) + 1}"


# ---------------------------------------------------------------------------------------------
# Calibration checks (the tests use them too)


def calibration(c: Clinic, rng: np.random.Generator) -> dict[str, float]:
    """Figures the world is meant to reproduce, measured on large samples."""
    world, directory = c.world, c.directory
    people = [x.referral.preferences for x in c.clients[:400]]
    ratings_seen = np.array([r for _, r in c.history_sample], dtype=float)
    # therapist effect: clients assigned at random, one-way ANOVA over therapists
    n_t, per = 300, 40
    therapists = rng.choice(len(directory), n_t, replace=False)
    outcomes = np.empty((n_t, per))
    for j, row in enumerate(therapists):
        for k in range(per):
            p = people[rng.integers(len(people))]
            chem = rng.normal(0, np.sqrt(world.chemistry_var), 1)
            _, _, expected, _ = pair_truth(directory, world, p, np.array([row]), chem)
            outcomes[j, k] = (
                expected[0]
                + rng.normal(0, np.sqrt(CLIENT_VAR))
                + rng.normal(0, np.sqrt(world.residual_var))
            )
    msb = per * outcomes.mean(axis=1).var(ddof=1)
    msw = outcomes.var(axis=1, ddof=1).mean()
    between = max((msb - msw) / per, 0.0)
    share = between / (between + msw)
    # dropout: approach-only preferences, met vs not
    pairs = random_pairs(directory, world, people, 20, rng)
    alliance, unmet = pairs.alliance, pairs.unmet
    p_drop = dropout_probability(world, alliance, unmet)
    p1 = p_drop[pairs.approach_only & (unmet == 1)].mean()
    p0 = p_drop[pairs.approach_only & (unmet == 0)].mean()
    # alliance-outcome correlation on random pairs (outcome with its client and noise terms)
    noise = np.sqrt(CLIENT_VAR + world.residual_var)
    outcome = pairs.expected + rng.normal(0, noise, alliance.size)
    drop = rng.random(alliance.size) < p_drop
    return {
        "checkin_mean": float(ratings_seen.mean()),
        "checkin_fives": float((ratings_seen == 5).mean()),
        "therapist_share": float(share),
        "dropout_rate": float(p_drop.mean()),
        "dropout_or_unmet": float((p1 / (1 - p1)) / (p0 / (1 - p0))),
        "alliance_outcome_r": float(np.corrcoef(alliance, outcome)[0, 1]),
        "outcome_sd": float(outcome.std()),
        "alliance_d_dropout": float(
            (alliance[~drop].mean() - alliance[drop].mean())
            / np.sqrt((alliance[~drop].var() + alliance[drop].var()) / 2)
        ),
        "checkin_alliance_r": _checkin_reliability(c, rng),
    }


def _checkin_reliability(c: Clinic, rng: np.random.Generator) -> float:
    """Correlation of one check-in's mean rating with the pair's true alliance."""
    true, seen = [], []
    for x in c.clients[:300]:
        if not x.rows.size:
            continue
        i = int(rng.integers(x.rows.size))
        row = int(x.rows[i])
        items = c.world.level[row] + x.chemistry[i] + c.world.profile[row]
        true.append(x.alliance[i])
        seen.append(ratings(c.world, items, x.leniency, 1, rng).mean())
    return float(np.corrcoef(true, seen)[0, 1])


# ---------------------------------------------------------------------------------------------
# Report


def plot(results: pd.DataFrame, swept: pd.DataFrame | None, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(matplotlib is not installed: no plot written)"
    panels = 1 + (0 if swept is None else len(SWEEP))
    figure, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), squeeze=False)
    seeds = per_seed(results)
    table = summary(results)
    ax = axes[0, 0]
    names = [p for p in POLICIES if p in table.index]
    ax.barh(names[::-1], table.loc[names[::-1], "gap_closed"],
            xerr=table.loc[names[::-1], "gap_closed_se"], color="tab:blue")  # fmt: skip
    ax.set_xlabel("share of the random→oracle gap closed")
    ax.set_title(f"default world, {seeds['seed'].nunique()} seeds")
    ax.axvline(0, color="black", lw=0.5)
    ax.grid(alpha=0.3, axis="x")
    if swept is not None:
        for k, name in enumerate(SWEEP, start=1):
            ax = axes[0, k]
            part = swept[swept["parameter"] == name]
            xs = np.arange(len(part))
            for column, colour in (("model + check-ins", "tab:red"), ("tag scorer", "tab:green"),
                                   ("model, no check-ins", "tab:orange")):  # fmt: skip
                se = part.get(f"{column}_se")
                ax.errorbar(xs, part[column], yerr=se, marker="o", label=column, color=colour)
            ax.set_xticks(xs, [_value(v) for v in part["value"]])
            ax.set_xlabel(SWEEP_LABELS[name], fontsize=8)
            ax.set_ylabel("gap closed")
            ax.grid(alpha=0.3)
            if k == 1:
                ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"![quality]({path.name})"


def _value(v: float) -> str:
    return "∞" if np.isinf(v) else f"{v:g}"


def markdown(results: pd.DataFrame, s: Settings, seeds: Sequence[int], checks: Mapping[str, float],
             swept: pd.DataFrame | None, weighed: pd.DataFrame | None, image: str,
             run: Mapping[str, Any]) -> str:  # fmt: skip
    table = summary(results)
    by_round = (
        per_seed(results.assign(seed=results["seed"] * 1000 + results["round"]))
        .assign(round=lambda f: f["seed"] % 1000)
        .groupby(["policy", "round"])["gap_closed"].mean().unstack()
    )  # fmt: skip
    lines = [
        "# Match quality in a simulated world",
        "",
        f"Generated by `python -m bench.quality {run['args']}` on {run['date']} "
        f"({run['machine']}): wall {run['wall']:.0f} s, CPU {run['cpu']:.0f} s. "
        f"Engine: {run['engine']}.",
        "",
        f"Setup: {len(seeds)} seeds ({', '.join(map(str, seeds))}), {s.therapists} synthetic "
        f"therapists, {s.rounds} rounds of {s.referrals_per_round} referrals (open slots reset "
        "each round; check-ins from the model's own earlier assignments accumulate). Metrics are "
        "over the clients every policy placed; ± is one standard error over seeds.",
        "",
        "## Results (default world)",
        "",
        *results_table(table),
        "",
        "- *gap closed*: (policy − random) / (oracle − random) in mean true expected outcome.",
        "- *share of oracle*: benefit over no treatment (d = "
        f"{TREATMENT_D} for an average therapist, Wampold & Imel 2015) as a share of the oracle's.",
        "- *mean true outcome*: expected standardised outcome of the assigned pair (SD units).",
        "- *top priority met*: expected share of check-ins rating the client's top priority 4 or 5.",
        "- *dropout*: expected probability of dropping out.",
        "",
        "Gap closed by round (feedback loop: the model + check-ins learns from its own clients):",
        "",
        "| policy | " + " | ".join(f"round {r}" for r in by_round.columns) + " |",
        "|---|" + "---:|" * len(by_round.columns),
    ]
    for name in [p for p in POLICIES if p in by_round.index]:
        lines.append(f"| {name} | " + " | ".join(f"{v:.1%}" for v in by_round.loc[name]) + " |")
    gap = per_seed(results).pivot(index="seed", columns="policy", values="gap_closed")
    lines += ["", "In plain words:", "", *plain_words(gap, swept)]
    lines += [
        "",
        image,
        "",
        "## Does the world reproduce its sources?",
        "",
        "| figure | target | simulated |",
        "|---|---|---:|",
        f"| therapist share of outcome variance (ANOVA, 300 therapists × 40 clients) "
        f"| 5–8 % (Baldwin & Imel 2013) | {checks['therapist_share']:.1%} |",
        f"| alliance–outcome correlation | .28 (Flückiger et al. 2018) "
        f"| {checks['alliance_outcome_r']:.2f} |",
        f"| check-in mean rating | ≈ 4.3 | {checks['checkin_mean']:.2f} |",
        f"| check-ins that are 5s | ≈ 50 % | {checks['checkin_fives']:.0%} |",
        f"| one check-in vs the pair's true alliance (r) | low reliability | "
        f"{checks['checkin_alliance_r']:.2f} |",
        f"| dropout rate (random pairs) | 19.7 % (Swift & Greenberg 2012) "
        f"| {checks['dropout_rate']:.1%} |",
        f"| dropout odds, approach preference unmet vs met | 1.79 (Swift et al. 2018) "
        f"| {checks['dropout_or_unmet']:.2f} |",
        f"| alliance, completers vs dropouts (d) | .55 (Sharf et al. 2010) "
        f"| {checks['alliance_d_dropout']:.2f} |",
        "",
    ]
    if swept is not None:
        lines += [
            "## Sweep: where does the model stop winning?",
            "",
            "One assumption at a time, the others at their defaults; "
            f"{swept.attrs.get('seeds', '?')} seeds per point. *Difference* is the model with "
            "check-ins minus the tag scorer, in gap closed (paired by seed).",
            "",
            "| assumption | value | model + check-ins | model, no check-ins | tag scorer "
            "| difference |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for _, r in swept.iterrows():
            lines.append(
                f"| {SWEEP_LABELS[r['parameter']]} | {_value(r['value'])} "
                f"| {_pm(r['model + check-ins'], r['model + check-ins_se'])} "
                f"| {r['model, no check-ins']:.1%} "
                f"| {_pm(r['tag scorer'], r['tag scorer_se'])} "
                f"| {_pm(r['difference'], r['difference_se'])} |"
            )
        lines.append("")
    if weighed is not None:
        lines += [
            "## Group weights (model + check-ins, without the feedback loop)",
            "",
            f"Weights normalised to sum to 1; {weighed.attrs.get('seeds', '?')} seeds × "
            f"{weighed.attrs.get('rounds', '?')} rounds. Best ten, then the default and the tag "
            "scorer for reference. This only says which weights suit *this* world: groups whose "
            "signal the world leaves out (availability, populations) are bound to look useless.",
            "",
            "| rank | vector | " + " | ".join(V.GROUPS) + " | gap closed | vs default (paired) "
            "| dropout |",
            "|---:|---|" + "---:|" * (len(V.GROUPS) + 3),
        ]
        show = list(range(min(10, len(weighed))))
        show += [i for i in weighed.index[weighed["label"].isin(["default", "tag scorer"])]
                 if i not in show]  # fmt: skip
        for i in show:
            r = weighed.iloc[i]
            cells = " | ".join("" if np.isnan(r[g]) else f"{r[g]:.2f}" for g in V.GROUPS)
            dropout = "" if np.isnan(r["dropout"]) else f"{r['dropout']:.1%}"
            lines.append(
                f"| {i + 1} | {r['label']} | {cells} "
                f"| {_pm(r['gap_closed'], r['gap_closed_se'])} "
                f"| {_pm(r['vs_default'], r['vs_default_se'])} | {dropout} |"
            )
        lines.append("")
    lines += ASSUMPTIONS_TEXT
    return "\n".join(lines)


def plain_words(gap: pd.DataFrame, swept: pd.DataFrame | None) -> list[str]:
    """The headline comparisons, paired by seed, in sentences."""

    def versus(a: str, b: str) -> str:
        d = (gap[a] - gap[b]).to_numpy(dtype=np.float64)
        mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))
        verdict = "ahead of" if mean > 2 * se else "behind" if mean < -2 * se else "level with"
        return f"{verdict} the {b} ({mean:+.1%} ± {se:.1%} of the gap, paired by seed)"

    lines = [
        f"- The model with check-ins closes {gap['model + check-ins'].mean():.0%} of the "
        f"random→oracle gap: {versus('model + check-ins', 'tag scorer')}.",
        f"- Check-ins are worth {(gap['model + check-ins'] - gap['model, no check-ins']).mean():.1%}"
        " of the gap to the model; without them it is "
        f"{versus('model, no check-ins', 'tag scorer')}.",
        "- Most of the gap stays open for every policy: the oracle sees pair chemistry and the "
        "effectiveness that rapport does not reflect, which no directory or check-in shows.",
    ]
    if swept is not None:
        ahead = swept["difference"] > 2 * swept["difference_se"]
        behind = swept["difference"] < -2 * swept["difference_se"]

        def where(part: pd.DataFrame) -> str:
            return "; ".join(
                f"{SWEEP_LABELS[str(r['parameter'])].split(' (')[0]} = {_value(r['value'])}"
                for _, r in part.iterrows()
            )

        lines.append(
            f"- Across the sweep the model with check-ins is clearly ahead of the tag scorer (by "
            f"more than two standard errors) at {int(ahead.sum())} of {len(swept)} points. It is "
            f"clearly behind where: {where(swept[behind]) or 'nowhere'}; within noise where: "
            f"{where(swept[~ahead & ~behind]) or 'nowhere'}."
        )
    return lines


ASSUMPTIONS_TEXT = [
    "## What the simulation does",
    "",
    "Each synthetic therapist has a hidden general effectiveness, a hidden alliance level, an "
    "item profile and a hidden competence for each concern; each client-therapist pair has a "
    "hidden chemistry. From these the world computes each pair's expected outcome and dropout "
    "probability. The directory shows only what a real directory shows (listed concerns, "
    "approaches, style, identity, openings) plus check-in averages, which the world re-draws "
    "from past clients who stayed. Every policy places the same referrals into the same open "
    "slots with the product's own assignment step; only the scores differ. The oracle scores "
    "with the hidden expected outcome.",
    "",
    "Assumptions and their sources (constants at the top of `bench/quality.py`):",
    "",
    "- therapist effects: 6.5 % of outcome variance (Baldwin & Imel 2013, in Lambert (ed.), "
    "*Bergin & Garfield's Handbook*, 6th ed.: 5–8 %); a quarter of it through the therapist's "
    "alliance level (assumption: the evidence is mixed, Baldwin, Wampold & Imel 2007 and Del Re "
    "et al. 2012 locate the alliance–outcome link in therapist differences, a 2019 primary-care "
    "study in *Psychotherapy Research* 29:13 within them); the rest is skill no check-in sees;",
    "- alliance–outcome r = .28 (Flückiger et al. 2018); the pair's chemistry (variance "
    f"{PAIR_CHEMISTRY_VAR} on the alliance scale) is larger than the therapist's level and "
    "cannot be seen before the pair meets;",
    "- honouring a stated preference (approach, style, a gender or identity wish that is not "
    "required) is worth d = .28 and an unmet one multiplies dropout odds by 1.79 (Swift, "
    "Callahan, Cooper & Parkin 2018); several preferences share that effect;",
    f"- listed concerns correlate {SPECIALTY_INFORMATIVENESS} with true competence "
    "(assumption; Walfish et al. 2012 on clinicians' self-assessment, Kraus et al. 2011 on "
    "domain-specific effectiveness); the guideline-recommended approach has no effect of its "
    "own (Wampold et al. 1997);",
    "- dropout 19.7 % (Swift & Greenberg 2012), lower with better alliance (d = .55, Sharf et "
    "al. 2010);",
    "- a check-in is the pair's item alliance plus the client's leniency, the session and item "
    "noise (test-retest .64 as for the SRS, Duncan et al. 2003), cut into 1–5 so that the mean is "
    "4.3 and half are 5s; clients who drop out send none.",
    "",
    "## What it does NOT show",
    "",
    "- It is not evidence that the model improves real outcomes. The world is built from average "
    "effect sizes; their transfer to a directory's tags and a 9-item check-in is assumed, and the "
    "sweep shows the ranking of policies depends on these assumptions.",
    "- The oracle knows each pair's chemistry, which no policy can see; the gap left open is "
    "mostly that chemistry and the therapists' effectiveness that check-ins do not measure "
    "(rapport is not outcome). Outcome monitoring, not simulated here, would see the latter.",
    "- Waiting time, distance, cost, populations served and working with parents have no effect "
    "on outcome or dropout here; in reality some do (e.g. waiting and no-shows). Policies that "
    "weigh availability pay for it in this world for nothing.",
    "- Listed approaches and style are taken as accurate; listed concerns are the only "
    "self-description that misleads. Real style self-descriptions may be as weak as concerns.",
    "- Clients' preferences are honoured or not as the directory says; no client changes their "
    "mind, no therapist adapts, no rematch after a rupture is simulated.",
    "- Check-ins from clients who stay are the only learning signal, so a therapist whose "
    "clients leave early looks better than they are (censoring): the model's learning inherits "
    "this bias, as it would in practice.",
    "- Synthetic referrals and directories (`matcher.synth`): a real region may have far fewer "
    "or far more eligible therapists per client, which changes how much any scorer can matter.",
]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds for the main table")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=Settings.rounds)
    parser.add_argument("--therapists", type=int, default=Settings.therapists)
    parser.add_argument("--sweep", action="store_true", help="sweep the world's assumptions")
    parser.add_argument("--sweep-seeds", type=int, default=6)
    parser.add_argument("--weights-sweep", action="store_true", help="compare group weights")
    parser.add_argument("--weights-samples", type=int, default=40)
    parser.add_argument("--weights-seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--plot", type=Path, help="plot path (default: next to --out)")
    args = parser.parse_args()

    started, cpu0 = time.time(), _cpu()

    def progress(message: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    base = Settings(rounds=args.rounds, therapists=args.therapists)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    frames = []
    for seed in seeds:
        frames.append(simulate(replace(base, seed=seed)))
        progress(f"seed {seed} done")
    results = pd.concat(frames, ignore_index=True)
    checks = calibration(clinic(replace(base, seed=seeds[0])), np.random.default_rng(0))
    progress("calibration checks done")
    swept = weighed = None
    short = replace(base, rounds=min(base.rounds, 3))
    if args.sweep:
        swept = sweep(short, seeds[: args.sweep_seeds], progress)
        swept.attrs["seeds"] = min(args.sweep_seeds, len(seeds))
    if args.weights_sweep:
        weighed = weights_sweep(base, seeds[: args.weights_seeds], args.weights_samples, progress)
        weighed.attrs.update(seeds=min(args.weights_seeds, len(seeds)), rounds=short.rounds)
    plot_path = args.plot or (args.out.with_suffix(".png") if args.out else None)
    image = plot(results, swept, plot_path) if plot_path else ""
    run = {
        "args": " ".join(sys.argv[1:]),
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "wall": time.time() - started,
        "cpu": _cpu() - cpu0,
        "engine": _engine(),
    }
    text = markdown(results, base, seeds, checks, swept, weighed, image, run)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        progress(f"wrote {args.out}")
    print("\n".join(results_table(summary(results))))
    if swept is not None:
        print(swept.round(3).to_string())
    if weighed is not None:
        print(weighed.head(12).round(3).to_string())
    print(f"wall {run['wall']:.0f} s, CPU {run['cpu']:.0f} s", file=sys.stderr)
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _engine() -> str:
    import subprocess

    import matcher

    where = Path(matcher.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=where).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "."], capture_output=True,
                               text=True, check=True, cwd=where).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return f"matcher from {where} (not a git checkout)"
    return f"matcher at {head}" + (" with uncommitted changes" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
