"""Rank therapists for a client: hard constraints, weighted similarity, top-k, evidence.

Numbers only; ``explain.py`` turns them into words. The model (DESIGN.md §4):

1. Hard constraints remove therapists who cannot serve the client. Removals are counted as a
   funnel in :data:`CONSTRAINTS` order (each therapist under the first constraint it fails, so
   the counts add up to the number removed), and each relaxable constraint reports how many
   therapists it alone keeps out: the options that relaxing it would add.
2. Over the therapists that remain, six group similarities ``s_g`` in [0, 1] are combined as
   ``score = sum_g W_g s_g / sum_g W_g`` over the groups the client gave something to compare
   (a group with nothing to compare, e.g. style with no leaning, drops out rather than diluting
   the score). ``contribution_g = W_g s_g / sum W`` so contributions add up to the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from matcher import vocabulary as V
from matcher.directory import NO_DAY, Bool, Directory, Float, Index
from matcher.preferences import Location, Payment, Preferences

CONSTRAINTS: tuple[str, ...] = (
    "licence",
    "format",
    "distance",
    "capacity",
    "age_group",
    "language",
    "payment",
    "gender",
    "identities",
)
EARTH_RADIUS_KM = 6371.0088
EPOCH = date(1970, 1, 1)
FRESH_DAYS, FORGOTTEN_DAYS = 7, 90  # confirmation fully trusted .. no longer trusted at all


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Relaxation:
    """Easing one constraint: how many therapists it adds, and the eased preferences."""

    constraint: str
    adds: int
    preferences: Preferences


@dataclass(frozen=True)
class ItemEvidence:
    """Measured rapport on one item for one therapist."""

    item: str
    priority: int
    measured: float  # shrunk, 1..5
    mean: float | None  # raw mean of check-ins, None without any
    n: int
    confidence: float  # n / (n + K)
    directory_mean: float


@dataclass(frozen=True)
class Evidence:
    """The facts behind one match, for explanations and display."""

    rapport: tuple[ItemEvidence, ...]  # the client's prioritised items, most important first
    checkins_n: int
    concerns_met: tuple[str, ...]
    concerns_missed: tuple[str, ...]
    approaches_preferred: tuple[str, ...]  # preferred approaches the therapist offers
    approaches_missing: tuple[str, ...]  # preferred approaches they do not offer
    approaches_avoided: tuple[str, ...]  # avoided approaches they list
    approaches_recommended: tuple[tuple[str, tuple[str, ...]], ...]  # (concern, offered)
    style: tuple[tuple[str, int, float], ...]  # (axis, client lean, therapist) where client leans
    gender_wish_met: bool | None
    identities_met: tuple[str, ...]
    identities_missed: tuple[str, ...]
    populations_served: tuple[str, ...]
    populations_missed: tuple[str, ...]
    works_with_parents: bool | None  # None unless the client is a child or adolescent
    next_opening: date | None
    days_to_opening: int | None
    confirmed: date | None
    days_since_confirmed: int | None
    stale: bool
    distance_km: float | None
    fee: float | None
    sliding_scale: bool
    in_network: bool | None  # None when the client named no insurer
    formats: tuple[str, ...]
    languages: tuple[str, ...]
    years_experience: float
    credentials: str
    city: str


@dataclass(frozen=True)
class Match:
    """One ranked therapist: score, its parts, and the evidence behind them."""

    therapist_id: str
    name: str
    row: int
    score: float
    contributions: Mapping[str, float]  # by group; adds up to score
    similarity: Mapping[str, float]  # s_g by group, before weighting
    weights: Mapping[str, float]  # effective group weights (sum to 1 over active groups)
    active: tuple[str, ...]  # groups that counted for this client
    evidence: Evidence


@dataclass(frozen=True)
class Assessment:
    """Every eligible therapist's score for one client (the input to ranking and triage)."""

    rows: Index  # eligible directory rows
    score: Float  # (m,)
    contributions: Float  # (m, 6) in V.GROUPS order
    similarity: Float  # (m, 6)
    weights: Float  # (6,) effective weights: the client's, renormalised over active groups
    active: tuple[str, ...]
    masks: Mapping[str, Bool]  # per constraint over the whole directory; True = passes
    excluded: Mapping[str, int]  # funnel counts, nonzero only


@dataclass(frozen=True)
class Ranking:
    """The answer to one client: top matches, what was excluded and why, what would help."""

    matches: tuple[Match, ...]
    excluded: Mapping[str, int]
    relaxations: tuple[Relaxation, ...]  # most options added first
    eligible: int
    total: int
    unknown_terms: Mapping[str, str]  # e.g. {"language": "Klingon"} found in no therapist


# ---------------------------------------------------------------------------------------------
# Ranking


def rank(
    directory: Directory,
    preferences: Preferences,
    top: int = 10,
    today: date | None = None,
) -> Ranking:
    """The ``top`` therapists for a client, with evidence, exclusions and relaxations."""
    if top < 1:
        raise ValueError("top must be at least 1")
    today = today or date.today()
    assessment = assess(directory, preferences, today)
    order = top_k(assessment.score, assessment.rows, top)
    matches = tuple(
        match_at(directory, preferences, assessment, position, today) for position in order
    )
    return Ranking(
        matches=matches,
        excluded=assessment.excluded,
        relaxations=relaxations(directory, preferences, assessment.masks),
        eligible=int(assessment.rows.size),
        total=len(directory),
        unknown_terms=_unknown_terms(directory, preferences),
    )


def rank_many(
    directory: Directory,
    preferences: Sequence[Preferences],
    top: int = 10,
    today: date | None = None,
) -> list[Ranking]:
    """Rank several clients against one encoded directory (one ``today`` for all)."""
    today = today or date.today()
    return [rank(directory, p, top, today) for p in preferences]


def assess(directory: Directory, preferences: Preferences, today: date) -> Assessment:
    """Apply the hard constraints, then score every therapist that remains."""
    masks = constraint_masks(directory, preferences)
    eligible = np.ones(len(directory), dtype=bool)
    excluded: dict[str, int] = {}
    for name in CONSTRAINTS:
        removed = int(np.count_nonzero(eligible & ~masks[name]))
        if removed:
            excluded[name] = removed
        eligible &= masks[name]
    rows = np.flatnonzero(eligible)
    similarity, active = similarities(directory, preferences, rows, today)
    weights = np.array(preferences.weights.as_tuple()) * active
    if weights.sum() <= 0:  # the client weighted only groups with nothing to compare
        weights = active.astype(np.float64)
    weights = weights / weights.sum()
    contributions = similarity * weights
    return Assessment(
        rows=rows,
        score=contributions.sum(axis=1),
        contributions=contributions,
        similarity=similarity,
        weights=weights,
        active=tuple(g for g, on in zip(V.GROUPS, active, strict=True) if on),
        masks=masks,
        excluded=excluded,
    )


def top_k(score: Float, rows: Index, k: int) -> Index:
    """Positions of the k best scores, ties broken by directory order (deterministic)."""
    m = score.size
    if m > k:
        kth = np.partition(score, m - k)[m - k]
        candidates = np.flatnonzero(score >= kth)
    else:
        candidates = np.arange(m)
    order = np.lexsort((rows[candidates], -score[candidates]))
    return candidates[order][:k]


# ---------------------------------------------------------------------------------------------
# Hard constraints


def constraint_masks(
    directory: Directory, preferences: Preferences, only: Sequence[str] = CONSTRAINTS
) -> dict[str, Bool]:
    """For each constraint, which therapists satisfy it (True) over the whole directory."""
    d, p = directory, preferences
    n = len(d)
    everyone = np.ones(n, dtype=bool)
    masks: dict[str, Bool] = {}
    licensed = d.tags["states"].has(p.state)
    if "licence" in only:
        masks["licence"] = licensed
    if "format" in only:
        masks["format"] = everyone if p.format == "either" else d.tags["formats"].has(p.format)
    if "distance" in only:
        masks["distance"] = _within_reach(d, p, licensed)
    if "capacity" in only:
        masks["capacity"] = d.flags["accepting_new_clients"] & (d.numbers["open_slots"] > 0)
    if "age_group" in only:
        masks["age_group"] = d.tags["ages_served"].has(p.age_group) if p.age_group else everyone
    if "language" in only:
        masks["language"] = d.tags["languages"].has(p.language) if p.language else everyone
    if "payment" in only:
        masks["payment"] = _can_pay(d, p.payment) if p.payment.constrained else everyone
    if "gender" in only:
        wish = p.therapist_gender
        masks["gender"] = (
            d.gender == list(V.GENDERS).index(wish.value) if wish and wish.required else everyone
        )
    if "identities" in only:
        wanted = p.therapist_identities
        masks["identities"] = (
            d.tags["identities"].count(wanted.values) == len(wanted.values)
            if wanted.required and wanted.values
            else everyone
        )
    return masks


def _within_reach(d: Directory, p: Preferences, licensed: Bool) -> Bool:
    """In person within max_km; with 'either', online also counts as within reach."""
    if p.location is None or p.format == "telehealth":
        return np.ones(len(d), dtype=bool)
    in_person = d.tags["formats"].has("in_person")
    near = np.zeros(len(d), dtype=bool)
    rows = np.flatnonzero(licensed & in_person)  # only measure where it can matter
    near[rows] = distance_km(d, rows, p.location) <= p.location.max_km
    if p.format == "either":
        return near | d.tags["formats"].has("telehealth")
    return near | ~in_person  # a therapist with no in-person sessions fails 'format' instead


def _can_pay(d: Directory, payment: Payment) -> Bool:
    ok = np.zeros(len(d), dtype=bool)
    if payment.insurance is not None:
        ok |= d.tags["insurance"].has(payment.insurance)
    if payment.max_fee is not None:
        ok |= d.numbers["fee"] <= payment.max_fee  # NaN (no fee listed) compares False
    if payment.sliding_scale_ok:
        ok |= d.flags["sliding_scale"]
    return ok


def distance_km(d: Directory, rows: Index, location: Location) -> Float:
    """Great-circle distance from the client to each therapist in ``rows`` (NaN if unknown)."""
    lat = np.radians(d.numbers["lat"][rows])
    lon = np.radians(d.numbers["lon"][rows])
    lat0, lon0 = np.radians(location.lat), np.radians(location.lon)
    a = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def relaxations(
    directory: Directory, preferences: Preferences, masks: Mapping[str, Bool]
) -> tuple[Relaxation, ...]:
    """Each single easing of the client's constraints, with the therapists it would add."""
    p = preferences
    candidates: list[tuple[str, Preferences, tuple[str, ...]]] = []
    if p.format != "either":
        candidates.append(("format", p.evolve(format="either"), ("format", "distance")))
    if p.location is not None and p.format != "telehealth":
        wider = min(p.location.max_km * 2, 5000.0)
        candidates.append(
            ("distance", p.evolve(location=p.location.model_copy(update={"max_km": wider})),
             ("distance",))
        )  # fmt: skip
    if p.payment.constrained:
        candidates.append(("payment", p.evolve(payment=Payment()), ("payment",)))
    if p.therapist_gender is not None and p.therapist_gender.required:
        eased = p.therapist_gender.model_copy(update={"required": False})
        candidates.append(("gender", p.evolve(therapist_gender=eased), ("gender",)))
    if p.therapist_identities.required and p.therapist_identities.values:
        eased_ids = p.therapist_identities.model_copy(update={"required": False})
        candidates.append(("identities", p.evolve(therapist_identities=eased_ids), ("identities",)))

    found = []
    for name, eased_preferences, affected in candidates:
        others = np.ones(len(directory), dtype=bool)
        for constraint in CONSTRAINTS:
            if constraint not in affected:
                others &= masks[constraint]
        before = np.logical_and.reduce([masks[c] for c in affected])
        eased_masks = constraint_masks(directory, eased_preferences, only=affected)
        after = np.logical_and.reduce([eased_masks[c] for c in affected])
        adds = int(np.count_nonzero(others & after & ~before))
        if adds:
            found.append(Relaxation(name, adds, eased_preferences))
    return tuple(sorted(found, key=lambda r: (-r.adds, CONSTRAINTS.index(r.constraint))))


# ---------------------------------------------------------------------------------------------
# Similarities


def similarities(
    directory: Directory, preferences: Preferences, rows: Index, today: date
) -> tuple[Float, npt.NDArray[np.bool_]]:
    """(m, 6) similarity per group for ``rows``, and which groups are active for this client."""
    d, p = directory, preferences
    m = rows.size
    s = np.zeros((m, len(V.GROUPS)))
    active = np.zeros(len(V.GROUPS), dtype=bool)

    def put(group: str, values: Float | None) -> None:
        if values is not None:
            column = V.GROUPS.index(group)
            s[:, column] = values
            active[column] = True

    put("rapport", _rapport(d, p, rows))
    put("concerns", _concerns(d, p, rows))
    put("approach", _approach(d, p, rows))
    put("style", _style(d, p, rows))
    put("identity", _identity(d, p, rows))
    put("availability", _availability(d, rows, today))
    return s, active


def item_weights(preferences: Preferences) -> Float:
    """Priorities as weights summing to 1; no priorities at all means every item equally."""
    priorities = np.array(preferences.priorities.as_tuple(), dtype=np.float64)
    if priorities.sum() == 0:
        priorities = np.ones_like(priorities)
    return np.asarray(priorities / priorities.sum(), dtype=np.float64)


def _rapport(d: Directory, p: Preferences, rows: Index) -> Float:
    scaled = (d.rapport[rows] - V.CHECKIN_MIN) / (V.CHECKIN_MAX - V.CHECKIN_MIN)
    return np.asarray(scaled @ item_weights(p))


def _concerns(d: Directory, p: Preferences, rows: Index) -> Float | None:
    if not p.concerns:
        return None
    return d.tags["concerns"].count(p.concerns, rows) / len(p.concerns)


def _approach(d: Directory, p: Preferences, rows: Index) -> Float | None:
    modalities = d.tags["modalities"]
    prefer = p.modalities.prefer
    fit: Float | None = None
    if prefer:
        fit = modalities.count(prefer, rows) / len(prefer)
    elif p.concerns:  # no stated preference: what the evidence recommends for the concerns
        fit = np.mean(
            [modalities.has_any(V.EVIDENCE[c].approaches, rows) for c in p.concerns], axis=0
        )
    if not p.modalities.avoid:
        return fit
    listed = np.maximum(modalities.count(V.APPROACHES, rows), 1)
    avoided = 1.0 - modalities.count(p.modalities.avoid, rows) / listed
    return avoided if fit is None else (fit + avoided) / 2


def _style(d: Directory, p: Preferences, rows: Index) -> Float | None:
    lean = np.array(p.style.as_tuple(), dtype=np.float64)
    if not lean.any():
        return None
    strength = np.abs(lean)
    closeness = 1.0 - np.abs(d.style[rows] - lean) / (V.STYLE_MAX - V.STYLE_MIN)
    return np.asarray(closeness @ (strength / strength.sum()))


def _identity(d: Directory, p: Preferences, rows: Index) -> Float | None:
    parts: list[Float] = []
    wish = p.therapist_gender
    if wish is not None and not wish.required:
        parts.append((d.gender[rows] == list(V.GENDERS).index(wish.value)).astype(np.float64))
    wanted = p.therapist_identities
    if wanted.values and not wanted.required:
        parts.append(d.tags["identities"].count(wanted.values, rows) / len(wanted.values))
    if p.populations:
        parts.append(d.tags["populations"].count(p.populations, rows) / len(p.populations))
    if p.young:
        parts.append(d.flags["works_with_parents"][rows].astype(np.float64))
    return np.mean(parts, axis=0) if parts else None


def _availability(d: Directory, rows: Index, today: date) -> Float:
    """How soon the next opening is, discounted by how long ago it was confirmed."""
    day = (today - EPOCH).days
    opening = d.next_opening[rows].astype(np.int64)
    wait = np.where(opening == NO_DAY, V.OPENING_HALF_DAYS, np.maximum(opening - day, 0))
    soon = 1.0 / (1.0 + wait / V.OPENING_HALF_DAYS)
    confirmed = d.confirmed[rows].astype(np.int64)
    age = np.where(confirmed == NO_DAY, FORGOTTEN_DAYS, day - confirmed)
    trust = np.clip(1.0 - (age - FRESH_DAYS) / (FORGOTTEN_DAYS - FRESH_DAYS), 0.0, 1.0)
    return np.asarray(soon * (0.5 + 0.5 * trust))


# ---------------------------------------------------------------------------------------------
# Evidence for one match


def match_at(d: Directory, p: Preferences, a: Assessment, position: int, today: date) -> Match:
    """The full Match (with evidence) of the eligible therapist at ``position`` of ``a``."""
    row = int(a.rows[position])
    return Match(
        therapist_id=str(d.ids[row]),
        name=str(d.text["name"][row]),
        row=row,
        score=float(a.score[position]),
        contributions={g: float(a.contributions[position, i]) for i, g in enumerate(V.GROUPS)},
        similarity={g: float(a.similarity[position, i]) for i, g in enumerate(V.GROUPS)},
        weights={g: float(a.weights[i]) for i, g in enumerate(V.GROUPS)},
        active=a.active,
        evidence=evidence(d, p, row, today),
    )


def evidence(d: Directory, p: Preferences, row: int, today: date) -> Evidence:
    """Every fact behind one therapist's match for one client."""
    tags = {name: set(tag_set.tags_of(row)) for name, tag_set in d.tags.items()}
    items = p.priorities.ranked() or list(V.ITEMS)
    n = int(d.checkins_n[row])
    rapport = tuple(
        ItemEvidence(
            item=item,
            priority=getattr(p.priorities, item),
            measured=float(d.rapport[row, i]),
            mean=None if n == 0 else float(d.rapport_mean[row, i]),
            n=n,
            confidence=float(d.confidence[row]),
            directory_mean=float(d.directory_mean[i]),
        )
        for item in items
        for i in [V.ITEMS.index(item)]
    )
    modalities = tags["modalities"]
    wish = p.therapist_gender
    gender_code = int(d.gender[row])
    wanted = p.therapist_identities.values
    day = (today - EPOCH).days
    opening = int(d.next_opening[row])
    confirmed = int(d.confirmed[row])
    since = None if confirmed == NO_DAY else day - confirmed
    insurance = {tag.lower() for tag in tags["insurance"]}
    fee = float(d.numbers["fee"][row])
    return Evidence(
        rapport=rapport,
        checkins_n=n,
        concerns_met=tuple(c for c in p.concerns if c in tags["concerns"]),
        concerns_missed=tuple(c for c in p.concerns if c not in tags["concerns"]),
        approaches_preferred=tuple(a for a in p.modalities.prefer if a in modalities),
        approaches_missing=tuple(a for a in p.modalities.prefer if a not in modalities),
        approaches_avoided=tuple(a for a in p.modalities.avoid if a in modalities),
        approaches_recommended=tuple(
            (c, tuple(a for a in V.EVIDENCE[c].approaches if a in modalities)) for c in p.concerns
        ),
        style=tuple(
            (axis, lean, float(d.style[row, i]))
            for i, (axis, lean) in enumerate(zip(V.AXES, p.style.as_tuple(), strict=True))
            if lean
        ),
        gender_wish_met=None if wish is None else gender_code == list(V.GENDERS).index(wish.value),
        identities_met=tuple(v for v in wanted if v in tags["identities"]),
        identities_missed=tuple(v for v in wanted if v not in tags["identities"]),
        populations_served=tuple(v for v in p.populations if v in tags["populations"]),
        populations_missed=tuple(v for v in p.populations if v not in tags["populations"]),
        works_with_parents=bool(d.flags["works_with_parents"][row]) if p.young else None,
        next_opening=None if opening == NO_DAY else EPOCH + timedelta(days=opening),
        days_to_opening=None if opening == NO_DAY else max(opening - day, 0),
        confirmed=None if confirmed == NO_DAY else EPOCH + timedelta(days=confirmed),
        days_since_confirmed=since,
        stale=since is None or since > V.STALE_AFTER_DAYS,
        distance_km=(float(distance_km(d, np.array([row]), p.location)[0]) if p.location else None),
        fee=None if np.isnan(fee) else fee,
        sliding_scale=bool(d.flags["sliding_scale"][row]),
        in_network=(
            None if p.payment.insurance is None else p.payment.insurance.lower() in insurance
        ),
        formats=tuple(sorted(tags["formats"])),
        languages=tuple(sorted(tags["languages"])),
        years_experience=float(d.numbers["years_experience"][row]),
        credentials=str(d.text["credentials"][row]),
        city=str(d.text["city"][row]),
    )


def _unknown_terms(d: Directory, p: Preferences) -> dict[str, str]:
    unknown = {}
    if p.language and p.language.lower() not in d.tags["languages"].codes:
        unknown["language"] = p.language
    if p.payment.insurance and p.payment.insurance.lower() not in d.tags["insurance"].codes:
        unknown["insurance"] = p.payment.insurance
    return unknown
