"""Rank therapists for a client: hard constraints, groups on a common scale, top-k, facts.

Numbers only; words come from the records' word methods and ``explain.py``. The model:

1. **Hard constraints** (``constraints.CONSTRAINTS``) remove therapists who cannot serve the
   client, counted as a funnel; each easing reports the therapists it would add.
2. **Groups** (``groups.GROUPS``) give each eligible therapist a similarity per group. Each is
   put on a common scale: rapport is already in between-therapist standard deviations of true
   rapport relative to the directory mean (0 without check-ins); every other group is
   standardised over the client's eligible therapists (its spread floored at
   :data:`SPREAD_FLOOR`, so tiny differences are not blown up). So a group's weight sets how
   much it moves the ranking, whatever its natural spread.
3. **Baseline and contributions** (as shap's ``Explanation.base_values``): a match's score is
   :data:`BASELINE` (what an average eligible therapist gets) plus one signed contribution per
   group, ``W_g * tanh(z_g / 2) / 2``, that add up exactly. Each lies in (-W_g/2, W_g/2) and the
   weights sum to 1, so a score lies in (0, 1). Unmeasured rapport contributes exactly 0.
4. **Ties** among otherwise-equal therapists go to one who lists no approach the client avoids,
   then the nearer, the cheaper, the sooner available, then directory order.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher import constraints as C
from matcher import groups as G
from matcher import vocabulary as V
from matcher.constraints import Reach, Relaxation
from matcher.directory import NO_DAY, Bool, Columns, Directory, Float, Index, Scope
from matcher.preferences import Preferences

BASELINE = 0.5  # the score of an average eligible therapist with unmeasured rapport
SPREAD_FLOOR = 0.1  # a group's spread is at least this (similarities lie in 0..1)
TIE_DECIMALS = 9  # scores equal to this many decimals are ties


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Practical:
    """What a client checks before calling: the practical facts of one therapist."""

    credentials: str
    city: str
    years_experience: float
    fee: float | None
    sliding_scale: bool
    in_network: bool | None  # None when the client named no insurer
    formats: tuple[str, ...]
    languages: tuple[str, ...]
    distance_km: float | None


@dataclass(frozen=True)
class Match:
    """One ranked therapist: score, its parts, and the facts behind them."""

    therapist_id: str
    name: str
    row: int
    score: float  # baseline + sum of contributions
    baseline: float
    contributions: Mapping[str, float]  # by group, signed; 0 for inactive groups
    similarity: Mapping[str, float]  # by group, before the common scale
    weights: Mapping[str, float]  # effective weights (sum to 1 over active groups)
    active: tuple[str, ...]  # groups that counted for this client
    facts: Mapping[str, Any]  # by group: that group's facts (see groups.py)
    practical: Practical

    @property
    def rapport(self) -> G.RapportFacts:
        facts: G.RapportFacts = self.facts["rapport"]
        return facts

    @property
    def availability(self) -> G.AvailabilityFacts:
        facts: G.AvailabilityFacts = self.facts["availability"]
        return facts

    @property
    def measured(self) -> bool:
        """Whether any past client has rated this therapist (else rapport is not measured)."""
        return self.rapport.measured


@dataclass(frozen=True)
class Assessment:
    """Every eligible therapist's score for one client (the input to ranking and triage)."""

    rows: Index  # eligible directory rows
    score: Float  # (m,) baseline + contributions.sum(1)
    contributions: Float  # (m, 6) in V.GROUPS order, signed
    similarity: Float  # (m, 6)
    weights: Float  # (6,) effective weights: the client's, renormalised over active groups
    active: tuple[str, ...]
    masks: Mapping[str, Bool]  # per constraint over reach.rows (licensed in the client's state)
    excluded: Mapping[str, int]  # funnel counts, nonzero only
    reach: Reach  # the rows scanned, tag tests and distances, computed once and reused

    def restricted(self, positions: Index) -> Assessment:
        """Only the therapists at ``positions``, in that order, and nothing directory-wide: what
        triage keeps per referral (its memory grows with the shortlist, not the directory)."""
        return Assessment(
            rows=self.rows[positions],
            score=self.score[positions],
            contributions=self.contributions[positions],
            similarity=self.similarity[positions],
            weights=self.weights,
            active=self.active,
            masks={},
            excluded=self.excluded,
            reach=Reach(self.reach.d, self.reach.p),  # empty: recomputed only if asked
        )


@dataclass(frozen=True)
class MainConcern:
    """None of the shown matches lists the client's first-named concern."""

    concern: str
    eligible_with: int  # eligible therapists who do list it (outranked by other groups)
    relaxation: Relaxation | None  # the easing that brings in the most who list it


@dataclass(frozen=True)
class Ranking:
    """The answer to one client: top matches, what was excluded and why, what would help."""

    matches: tuple[Match, ...]
    excluded: Mapping[str, int]
    relaxations: tuple[Relaxation, ...]  # most options added first
    eligible: int
    total: int
    unknown_terms: Mapping[str, str]  # e.g. {"language": "Klingon"} found in no therapist
    main_concern: MainConcern | None  # set when no match shown lists the main concern


# ---------------------------------------------------------------------------------------------
# Ranking


def rank(
    directory: Directory,
    preferences: Preferences,
    top: int = 10,
    today: date | None = None,
) -> Ranking:
    """The ``top`` therapists for a client, with facts, exclusions and relaxations."""
    if top < 1:
        raise ValueError("top must be at least 1")
    return _rank(directory, preferences, top, today or date.today(), None)


def rank_many(
    directory: Directory,
    preferences: Sequence[Preferences],
    top: int = 10,
    today: date | None = None,
) -> list[Ranking]:
    """Rank several clients against one encoded directory (one ``today`` for all); the same
    rankings as ``rank`` one at a time, in the order given.

    Clients are taken state by state: the clients of one state share one ``Scope`` (its rows
    and every tag test and column gathered over them), so what depends only on the state or
    on a wish many clients share, such as capacity or "speaks Spanish", is computed once per
    state rather than once per client. One state's tag tests are dropped before the next
    state's are made; its packed columns stay with the directory (``Directory.state_columns``).
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    today = today or date.today()
    by_state: dict[str, list[int]] = {}
    for i, p in enumerate(preferences):
        by_state.setdefault(p.state, []).append(i)
    rankings: dict[int, Ranking] = {}
    # The rankings are kept until the batch ends, and Python's cyclic collector would rescan
    # those long-lived objects again and again (a quarter of a 1,000-referral batch). Ranking
    # makes no reference cycles (a collection after a batch finds none), so refcounting frees
    # all its garbage and the collector is paused meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for state, positions in by_state.items():
            scope = Scope(directory, state)
            for i in positions:
                rankings[i] = _rank(directory, preferences[i], top, today, scope)
    finally:
        if collecting:
            gc.enable()
    return [rankings[i] for i in range(len(preferences))]


def _rank(
    directory: Directory, preferences: Preferences, top: int, today: date, scope: Scope | None
) -> Ranking:
    assessment = assess(directory, preferences, today, scope)
    order = top_k(directory, assessment, top)
    matches = tuple(
        match_at(directory, preferences, assessment, position, today) for position in order
    )
    missing = _misses_main_concern(preferences, matches)
    reach = assessment.reach
    main = reach.scope.has("concerns", preferences.concerns[0]) if missing else None
    eased = C.relaxations(directory, preferences, assessment.masks, reach, main)
    return Ranking(
        matches=matches,
        excluded=assessment.excluded,
        relaxations=eased,
        eligible=int(assessment.rows.size),
        total=len(directory),
        unknown_terms=unknown_terms(directory, preferences),
        main_concern=_main_concern(directory, preferences, assessment, eased) if missing else None,
    )


def assess(
    directory: Directory, preferences: Preferences, today: date, scope: Scope | None = None
) -> Assessment:
    """Apply the hard constraints, then score every therapist that remains.

    ``scope``: the rows licensed in the client's state with their tag tests, when shared with
    other clients of that state (built here otherwise).
    """
    masks, reach = C.masks(directory, preferences, scope=scope)
    eligible, excluded = C.funnel(masks, len(directory))
    positions = np.flatnonzero(eligible)  # in the state's packed columns
    similarity, active = similarities(reach.scope.columns, preferences, positions, today)
    return scaled(preferences, similarity, active, masks, excluded, reach, positions)


def scaled(
    preferences: Preferences,
    similarity: Float,
    active: npt.NDArray[np.bool_],
    masks: Mapping[str, Bool],
    excluded: Mapping[str, int],
    reach: Reach,
    positions: Index,
) -> Assessment:
    """The assessment of the eligible therapists at ``positions`` of ``reach.rows``, from
    their groups' similarities: the client's weights renormalised over the active groups, each
    group on the common scale, and its signed contribution."""
    weights = np.array(preferences.weights.as_tuple()) * active
    if weights.sum() <= 0:  # the client weighted only groups with nothing to compare
        weights = active.astype(np.float64)
    weights = weights / weights.sum()
    contributions = weights * np.tanh(common_scale(similarity, active) / 2) / 2
    return Assessment(
        rows=reach.rows[positions],
        score=BASELINE + contributions.sum(axis=1),
        contributions=contributions,
        similarity=similarity,
        weights=weights,
        active=tuple(g for g, on in zip(V.GROUPS, active, strict=True) if on),
        masks=masks,
        excluded=excluded,
        reach=reach,
    )


def similarities(
    columns: Columns, preferences: Preferences, rows: Index, today: date
) -> tuple[Float, npt.NDArray[np.bool_]]:
    """(m, 6) similarity per group for ``rows`` of ``columns`` (a directory, or a state's
    packed columns), and which groups are active for this client."""
    s = np.zeros((rows.size, len(G.GROUPS)), order="F")  # a group's column is contiguous
    active = np.zeros(len(G.GROUPS), dtype=bool)
    for column, group in enumerate(G.GROUPS):
        values = group.similarity(columns, preferences, rows, today)
        if values is not None:
            s[:, column] = values
            active[column] = True
    return s, active


def common_scale(similarity: Float, active: npt.NDArray[np.bool_]) -> Float:
    """(m, 6) each group in standard units: centred groups over the eligible set, rapport as is."""
    z = np.zeros_like(similarity)
    for column, group in enumerate(G.GROUPS):
        if not active[column] or similarity.shape[0] == 0:
            continue
        values = similarity[:, column]
        if group.centred:
            z[:, column] = (values - values.mean()) / max(float(values.std()), SPREAD_FLOOR)
        else:
            z[:, column] = values
    return z


def top_k(directory: Directory, a: Assessment, k: int, among: Index | None = None) -> Index:
    """Positions (in ``a``) of the k best scores, optionally only ``among`` some positions.

    Ties go to those who list none of the approaches the client avoids, then the nearer, the
    cheaper, the sooner available, then directory order.
    """
    positions = np.arange(a.rows.size) if among is None else among
    score = np.round(a.score[positions], TIE_DECIMALS)
    m = score.size
    if m > k:
        kth = np.partition(score, m - k)[m - k]
        candidates = positions[score >= kth]
    else:
        candidates = positions
    rows = a.rows[candidates]
    avoided = directory.tags["modalities"].count(a.reach.p.modalities.avoid, rows)
    distance = np.nan_to_num(a.reach.km_at(rows), nan=np.inf)
    fee = np.nan_to_num(directory.numbers["fee"][rows], nan=np.inf)
    opening = directory.next_opening[rows].astype(np.int64)
    wait = np.where(opening == NO_DAY, np.iinfo(np.int64).max, opening)
    best = -np.round(a.score[candidates], TIE_DECIMALS)
    order = np.lexsort((rows, wait, fee, distance, avoided, best))
    return np.asarray(candidates[order][:k], dtype=np.intp)


def shares(a: Assessment) -> dict[str, float]:
    """Each active group's share of how much scores vary over the eligible set:
    cov(contribution_g, score) / var(score), which add up to 1 (0 for every group when
    scores do not vary)."""
    if a.rows.size < 2:
        return {g: 0.0 for g in a.active}
    total = float(a.score.var())
    if total <= 0:
        return {g: 0.0 for g in a.active}
    centred = a.score - a.score.mean()
    return {
        g: float(np.mean((a.contributions[:, V.GROUPS.index(g)]) * centred) / total)
        for g in a.active
    }


# ---------------------------------------------------------------------------------------------
# One match


def match_at(d: Directory, p: Preferences, a: Assessment, position: int, today: date) -> Match:
    """The full Match (with facts) of the eligible therapist at ``position`` of ``a``."""
    row = int(a.rows[position])
    return Match(
        therapist_id=str(d.ids[row]),
        name=str(d.text["name"][row]),
        row=row,
        score=float(a.score[position]),
        baseline=BASELINE,
        contributions=dict(zip(V.GROUPS, a.contributions[position].tolist(), strict=True)),
        similarity=dict(zip(V.GROUPS, a.similarity[position].tolist(), strict=True)),
        weights=dict(zip(V.GROUPS, a.weights.tolist(), strict=True)),
        active=a.active,
        facts={group.name: group.facts(d, p, row, today) for group in G.GROUPS},
        practical=practical(d, p, row, a.reach),
    )


def practical(d: Directory, p: Preferences, row: int, reach: Reach | None = None) -> Practical:
    fee = float(d.numbers["fee"][row])
    insurance = {tag.lower() for tag in d.tags["insurance"].tags_of(row)}
    km = np.nan
    if p.location is not None:  # from the ranking's distances when it has them, else this row's
        at = np.array([row])
        km = float(reach.km_at(at)[0] if reach is not None else C.distance_km(d, at, p.location)[0])
    return Practical(
        credentials=str(d.text["credentials"][row]),
        city=str(d.text["city"][row]),
        years_experience=float(d.numbers["years_experience"][row]),
        fee=None if np.isnan(fee) else fee,
        sliding_scale=bool(d.flags["sliding_scale"][row]),
        in_network=(
            None if p.payment.insurance is None else p.payment.insurance.lower() in insurance
        ),
        formats=tuple(sorted(d.tags["formats"].tags_of(row))),
        languages=tuple(sorted(d.tags["languages"].tags_of(row))),
        distance_km=None if np.isnan(km) else km,
    )


def _misses_main_concern(p: Preferences, matches: Sequence[Match]) -> bool:
    """Whether there are matches and none lists the client's first-named concern."""
    if not p.concerns or not matches:
        return False
    return not any(p.concerns[0] in m.facts["concerns"].met for m in matches)


def _main_concern(
    d: Directory, p: Preferences, a: Assessment, eased: Sequence[Relaxation]
) -> MainConcern:
    concern = p.concerns[0]
    eligible_with = int(np.count_nonzero(d.tags["concerns"].has(concern, a.rows)))
    helping = [r for r in eased if r.adds_main_concern]
    best = max(helping, key=lambda r: r.adds_main_concern) if helping else None
    return MainConcern(concern, eligible_with, best)


def unknown_terms(d: Directory, p: Preferences) -> dict[str, str]:
    """The client's language or insurer when no therapist of ``d`` lists it."""
    unknown = {}
    if p.language and p.language.lower() not in d.tags["languages"].codes:
        unknown["language"] = p.language
    if p.payment.insurance and p.payment.insurance.lower() not in d.tags["insurance"].codes:
        unknown["insurance"] = p.payment.insurance
    return unknown


__all__ = [
    "BASELINE",
    "Assessment",
    "MainConcern",
    "Match",
    "Practical",
    "Ranking",
    "Relaxation",
    "assess",
    "rank",
    "rank_many",
    "shares",
    "unknown_terms",
]
