"""Triage a coordinator's referral queue into therapists' limited open slots.

1. Referrals with a risk flag go to the crisis protocol first and are never auto-assigned.
2. The rest are taken in tiers, urgent before soon before routine. Within a tier, the
   assignment maximises the total match score without exceeding any therapist's open slots:
   a sparse minimum-cost bipartite matching (scipy's LAPJVsp) between referrals and slots,
   where each referral may also stay unassigned. Each referral's edges are its ``candidates``
   best-scoring eligible therapists (pruning keeps 2,000 x 10,000 fast); with candidates set
   to the directory size the result is the exact optimum, which the tests check by brute force.
3. Every assigned referral carries its full match (for the explanation) and its best
   alternates; every unassigned one a typed reason.

Numbers only; ``explain.describe_unassigned`` turns reasons into words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.sparse import coo_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matcher import constraints as C
from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.preferences import Preferences, load_referrals
from matcher.scoring import Assessment, Match, assess, match_at, top_k

CANDIDATES = 25  # edges kept per referral; see the module docstring
ALTERNATES = 3
_EPSILON = 1e-6  # keeps every edge cost above zero (LAPJVsp treats zero as "no edge")

Status = Literal["assigned", "unassigned", "crisis"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Referral:
    """One row of a coordinator's queue (DESIGN.md §3.3)."""

    referral_id: str
    received: date
    urgency: str
    risk_self_harm: bool
    risk_harm_others: bool
    preferences: Preferences
    notes: str = ""
    client_name: str = ""  # name or initials: shown to signed-in coordinators only
    contact: str = ""  # how to reach them: likewise
    source: str = "import"  # "self": a client's consultation request from the app
    chosen: tuple[str, ...] = ()  # therapists the client asked for (self-referrals)

    @property
    def crisis(self) -> bool:
        return self.risk_self_harm or self.risk_harm_others

    def waiting_days(self, today: date) -> int:
        return max((today - self.received).days, 0)


@dataclass(frozen=True)
class Candidate:
    therapist_id: str
    row: int
    score: float


@dataclass(frozen=True)
class Unassigned:
    """Why a referral got no therapist.

    kind: ``crisis`` (risk flag); ``no_fit`` (no therapist meets every must; ``missing`` names
    the constraints to blame: those no therapist licensed in the state meets at all, or else
    every constraint that removed someone); ``full`` (the ``count`` therapists who meet every
    other must have no open slot); ``taken`` (the ``count`` who fit were all given to more
    urgent or better-matched referrals in this batch).
    """

    kind: Literal["crisis", "no_fit", "full", "taken"]
    missing: tuple[str, ...] = ()
    count: int = 0


@dataclass(frozen=True)
class Outcome:
    referral: Referral
    status: Status
    match: Match | None  # the assigned therapist's full match
    alternates: tuple[Candidate, ...]
    unassigned: Unassigned | None


def load_queue(path: str | Path) -> list[Referral]:
    """A validated referral queue file; raises InvalidInput listing every problem."""
    table, preferences = load_referrals(path)
    return referrals_from(table, preferences)


def referrals_from(table: pd.DataFrame, preferences: Sequence[Preferences]) -> list[Referral]:
    """Referrals from a parsed referral table and each row's preferences."""
    return [
        Referral(
            referral_id=str(row["referral_id"]),
            received=pd.Timestamp(row["received"]).date(),
            urgency=str(row["urgency"]),
            risk_self_harm=bool(row.get("risk_self_harm", False)),
            risk_harm_others=bool(row.get("risk_harm_others", False)),
            preferences=p,
            notes=str(row.get("notes", "") or ""),
        )
        for row, p in zip(table.to_dict("records"), preferences, strict=True)
    ]


def queue_order(referrals: Sequence[Referral], today: date) -> list[Referral]:
    """Risk-flagged first, then urgent, soon, routine; longest waiting first within each."""
    return sorted(
        referrals,
        key=lambda r: (
            not r.crisis,
            V.URGENCIES.index(r.urgency),
            -r.waiting_days(today),
            r.referral_id,
        ),
    )


def open_slots(directory: Directory) -> dict[str, int]:
    """Slots each therapist can give now, from the directory itself."""
    accepting = directory.flags["accepting_new_clients"]
    slots = np.where(accepting, directory.numbers["open_slots"], 0).astype(int)
    return {str(t): int(n) for t, n in zip(directory.ids, slots, strict=True) if n > 0}


def triage(
    directory: Directory,
    referrals: Sequence[Referral],
    today: date,
    slots: Mapping[str, int] | None = None,
    candidates: int = CANDIDATES,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Assign referrals to open slots; outcomes come back in queue order.

    ``slots`` overrides the directory's open slots (e.g. minus places already booked).
    ``progress(done, total)`` is called as referrals are scored.
    """
    remaining = dict(open_slots(directory) if slots is None else slots)
    ordered = queue_order(referrals, today)
    total = len(ordered)
    free = np.array([remaining.get(str(t), 0) > 0 for t in directory.ids], dtype=bool)
    # Each referral keeps only its shortlist (and why it could not be placed), never the
    # directory-wide masks and distances of its assessment.
    kept: dict[str, tuple[Assessment, Unassigned]] = {}
    shortlists: dict[str, tuple[Candidate, ...]] = {}
    for done, referral in enumerate(ordered, start=1):
        if not referral.crisis:
            a = assess(directory, referral.preferences, today)
            best = top_k(directory, a, max(candidates, 1), among=np.flatnonzero(free[a.rows]))
            slim = a.restricted(best)
            shortlists[referral.referral_id] = tuple(
                Candidate(str(directory.ids[row]), int(row), float(score))
                for row, score in zip(slim.rows, slim.score, strict=True)
            )
            kept[referral.referral_id] = (slim, _why_unassigned(directory, a))
            del a
        if progress is not None:
            progress(done, total)

    chosen: dict[str, Candidate] = {}
    for urgency in V.URGENCIES:  # urgent referrals take scarce slots first
        tier = [r for r in ordered if not r.crisis and r.urgency == urgency]
        placed = assign_tier(tier, shortlists, remaining)
        for candidate in placed.values():
            remaining[candidate.therapist_id] -= 1
        chosen.update(placed)

    outcomes = []
    for referral in ordered:
        rid = referral.referral_id
        if referral.crisis:
            outcomes.append(Outcome(referral, "crisis", None, (), Unassigned("crisis")))
            continue
        slim, reason = kept[rid]
        picked = chosen.get(rid)
        others = tuple(
            c for c in shortlists[rid] if picked is None or c.therapist_id != picked.therapist_id
        )[:ALTERNATES]
        if picked is not None:
            position = int(np.flatnonzero(slim.rows == picked.row)[0])
            match = match_at(directory, referral.preferences, slim, position, today)
            outcomes.append(Outcome(referral, "assigned", match, others, None))
        else:
            outcomes.append(Outcome(referral, "unassigned", None, others, reason))
    return outcomes


def assign_tier(
    tier: Sequence[Referral],
    shortlists: Mapping[str, Sequence[Candidate]],
    remaining: Mapping[str, int],
) -> dict[str, Candidate]:
    """Maximum-total-score assignment of one tier into the remaining slots."""
    if not tier:
        return {}
    columns: dict[str, range] = {}  # therapist -> its slot columns
    n_slots = 0  # a running count: columns handed out so far
    rows, cols, costs = [], [], []
    for i, referral in enumerate(tier):
        for candidate in shortlists[referral.referral_id]:
            free = remaining.get(candidate.therapist_id, 0)
            if free <= 0:
                continue
            if candidate.therapist_id not in columns:
                columns[candidate.therapist_id] = range(n_slots, n_slots + free)
                n_slots += free
            for column in columns[candidate.therapist_id]:
                rows.append(i)
                cols.append(column)
                costs.append(1.0 + _EPSILON - candidate.score)
    # One private "stay unassigned" column per referral keeps a full matching always possible.
    # Real edges cost 1+eps-score, staying out costs 1+2eps: the minimum cost is the maximum
    # total score (and a free slot is never left idle for a zero-score tie).
    for i in range(len(tier)):
        rows.append(i)
        cols.append(n_slots + i)
        costs.append(1.0 + 2 * _EPSILON)
    graph = coo_array(
        (np.array(costs), (np.array(rows), np.array(cols))),
        shape=(len(tier), n_slots + len(tier)),
    ).tocsr()
    matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
    owner = {col: t for t, cols_ in columns.items() for col in cols_}
    result = {}
    for matched_row, matched_col in zip(matched_rows, matched_cols, strict=True):
        if matched_col < n_slots:
            referral = tier[int(matched_row)]
            therapist = owner[int(matched_col)]
            result[referral.referral_id] = next(
                c for c in shortlists[referral.referral_id] if c.therapist_id == therapist
            )
    return result


def _why_unassigned(directory: Directory, a: Assessment) -> Unassigned:
    if a.rows.size:
        return Unassigned("taken", count=int(a.rows.size))
    others = [name for name in C.NAMES if name != "capacity"]
    fits_but_full = np.logical_and.reduce([a.masks[name] for name in others])
    full = int(np.count_nonzero(fits_but_full & ~a.masks["capacity"]))
    if full:
        return Unassigned("full", count=full)
    blocking = C.blocking(a.masks)
    return Unassigned("no_fit", blocking or tuple(c for c in a.excluded if c != "license"))


def outcome_table(
    outcomes: Sequence[Outcome], words: Callable[[Outcome], tuple[str, str]]
) -> pd.DataFrame:
    """The CLI's and export's table; ``words(outcome)`` gives (reasons, unassigned_reason)."""
    rows = []
    for outcome in outcomes:
        reasons, why = words(outcome)
        rows.append(
            {
                "referral_id": outcome.referral.referral_id,
                "status": outcome.status,
                "therapist_id": outcome.match.therapist_id if outcome.match else "",
                "score": round(outcome.match.score, 4) if outcome.match else "",
                "reasons": reasons,
                "unassigned_reason": why,
                "alternates": "; ".join(
                    f"{c.therapist_id} ({c.score:.2f})" for c in outcome.alternates
                ),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["referral_id", "status", "therapist_id", "score", "reasons",
                 "unassigned_reason", "alternates"],
    )  # fmt: skip
