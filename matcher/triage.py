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

The work runs in blocks: referrals grouped by state (each state's cut into blocks of
:data:`BLOCK`) are scored together sharing one ``Scope``, each keeping only its
:class:`Shortlist`; the tier assignment joins the state blocks that therapists licensed in
several states connect (:func:`assign_blocks`, :class:`Reconciliation`) and solves each
joined component on its own; outcomes are built block by block. An :class:`Engine` runs the
blocks: :class:`LocalEngine` here, in order; ``matcher.distributed.DaskEngine`` on a Dask
cluster. The algorithm is this module's either way, so the output is the same byte for byte.

Numbers only; ``explain.describe_unassigned`` turns reasons into words.
"""

from __future__ import annotations

import dataclasses
import gc
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import pandas as pd

from matcher import constraints as C
from matcher import vocabulary as V
from matcher.constraints import Reach
from matcher.directory import Bool, Directory, Float, Index, Scope
from matcher.preferences import Preferences
from matcher.referrals import Referral
from matcher.scoring import Assessment, Match, assess, match_at, top_k

CANDIDATES = 25  # edges kept per referral; see the module docstring
ALTERNATES = 3
BLOCK = 250  # referrals per task: one state's, cut so that blocks balance and progress shows
_EPSILON = 1e-6  # keeps every edge cost above zero (LAPJVsp treats zero as "no edge")

Status = Literal["assigned", "unassigned", "crisis"]
Progress = Callable[[int, int], None]


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
    engine: Engine | None = None,
    reconciled: Callable[[Reconciliation], None] | None = None,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> list[Outcome]:
    """Assign referrals to open slots; outcomes come back in queue order.

    ``slots`` overrides the directory's open slots (e.g. minus places already booked).
    ``exclude`` names, by referral, therapists never to propose for it (one it was released
    from, say); they are neither assigned nor offered as alternates.
    ``progress(done, total)`` is called as referrals are scored (block by block).
    ``engine`` runs the blocks (in this process by default; ``matcher.distributed`` on Dask);
    the output does not depend on it. ``reconciled`` receives each tier's
    :class:`Reconciliation` (how state blocks were joined by shared therapists).
    """
    engine = engine or LocalEngine()
    remaining = dict(open_slots(directory) if slots is None else slots)
    ordered = queue_order(referrals, today)
    total = len(ordered)
    free = np.array([remaining.get(str(t), 0) > 0 for t in directory.ids], dtype=bool)

    # 1. Shortlists, one block of one state's referrals per task.
    blocks = state_blocks([r for r in ordered if not r.crisis])
    shortlists: dict[str, Shortlist] = {}
    done = total - sum(len(b) for b in blocks)  # crisis referrals need no scoring
    for i, found in engine.map(
        shortlist_block, blocks, directory, today=today, free=free, candidates=candidates
    ):
        shortlists.update(zip((r.referral_id for r in blocks[i]), found, strict=True))
        done += len(blocks[i])
        if progress is not None:
            progress(done, total)

    for referral_id, therapist_ids in (exclude or {}).items():
        if referral_id in shortlists:
            shortlists[referral_id] = shortlists[referral_id].without(therapist_ids)

    # 2. The assignment, tier by tier, urgent referrals taking scarce slots first.
    state_of = {r.referral_id: r.preferences.state for r in ordered}
    chosen: dict[str, Candidate] = {}
    for urgency in V.URGENCIES:
        tier = [r for r in ordered if not r.crisis and r.urgency == urgency]
        placed = assign_blocks(urgency, tier, shortlists, remaining, state_of)
        if reconciled is not None:
            reconciled(placed.reconciliation)
        for candidate in placed.chosen.values():
            remaining[candidate.therapist_id] -= 1
        chosen.update(placed.chosen)

    # 3. Each referral's outcome with its full match, block by block again.
    items = [[(r, shortlists[r.referral_id], chosen.get(r.referral_id)) for r in b] for b in blocks]
    outcome_of: dict[str, Outcome] = {}
    for i, made in engine.map(outcome_block, items, directory, today=today):
        outcome_of.update(zip((r.referral_id for r in blocks[i]), made, strict=True))
    return [
        Outcome(r, "crisis", None, (), Unassigned("crisis"))
        if r.crisis
        else outcome_of[r.referral_id]
        for r in ordered
    ]


# ---------------------------------------------------------------------------------------------
# Engines: where the blocks run


R = TypeVar("R")


class Engine(Protocol):
    """Runs one function over blocks, each with the directory (which stays put) at hand."""

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        directory: Directory,
        **common: Any,
    ) -> Iterator[tuple[int, R]]:
        """``(i, fn(items[i], directory=directory, **common))`` for every item, in any order."""
        ...


class LocalEngine:
    """Every block in this process, in order."""

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        directory: Directory,
        **common: Any,
    ) -> Iterator[tuple[int, R]]:
        for i, item in enumerate(items):
            yield i, fn(item, directory=directory, **common)


def state_blocks(referrals: Sequence[Referral], size: int = BLOCK) -> list[list[Referral]]:
    """Referrals grouped by state (states in alphabetical order, queue order within one),
    each state cut into blocks of at most ``size``."""
    by_state: dict[str, list[Referral]] = {}
    for r in referrals:
        by_state.setdefault(r.preferences.state, []).append(r)
    return [
        group[start : start + size]
        for _, group in sorted(by_state.items())
        for start in range(0, len(group), size)
    ]


# ---------------------------------------------------------------------------------------------
# 1. Shortlists


@dataclass(frozen=True)
class Shortlist:
    """What triage keeps of one referral's assessment: its best ``candidates`` among the
    therapists with an open slot (best first), their scores and parts, and why it could not be
    placed. Nothing directory-wide and no reference to the directory, so it is small and
    travels between processes; ``assessment`` rebuilds what ``match_at`` needs."""

    candidates: tuple[Candidate, ...]
    rows: Index  # (k,) directory rows of the candidates
    score: Float  # (k,)
    contributions: Float  # (k, 6)
    similarity: Float  # (k, 6)
    weights: Float  # (6,)
    active: tuple[str, ...]
    excluded: Mapping[str, int]
    reason: Unassigned

    def without(self, therapist_ids: Collection[str]) -> Shortlist:
        """The same shortlist less some therapists (one the referral was released from)."""
        keep = [i for i, c in enumerate(self.candidates) if c.therapist_id not in therapist_ids]
        if len(keep) == len(self.candidates):
            return self
        at = np.array(keep, dtype=np.intp)
        return dataclasses.replace(
            self,
            candidates=tuple(self.candidates[i] for i in keep),
            rows=self.rows[at],
            score=self.score[at],
            contributions=self.contributions[at],
            similarity=self.similarity[at],
        )

    def assessment(self, directory: Directory, preferences: Preferences) -> Assessment:
        return Assessment(
            rows=self.rows,
            score=self.score,
            contributions=self.contributions,
            similarity=self.similarity,
            weights=self.weights,
            active=self.active,
            masks={},
            excluded=self.excluded,
            reach=Reach(directory, preferences),  # empty: recomputed only if asked
        )


def shortlist_block(
    block: Sequence[Referral],
    *,
    directory: Directory,
    today: date,
    free: Bool,
    candidates: int,
) -> list[Shortlist]:
    """The shortlists of one block of referrals from one state, sharing one ``Scope``."""
    if not block:
        return []
    scope = Scope(directory, block[0].preferences.state)
    found = []
    # As in rank_many: the block's results are kept until it ends and assessing makes no
    # reference cycles, so the cyclic collector would only rescan them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for referral in block:
            a = assess(directory, referral.preferences, today, scope)
            best = top_k(directory, a, max(candidates, 1), among=np.flatnonzero(free[a.rows]))
            found.append(
                Shortlist(
                    candidates=tuple(
                        Candidate(str(directory.ids[row]), int(row), float(score))
                        for row, score in zip(a.rows[best], a.score[best], strict=True)
                    ),
                    rows=a.rows[best],
                    score=a.score[best],
                    contributions=a.contributions[best],
                    similarity=a.similarity[best],
                    weights=a.weights,
                    active=a.active,
                    excluded=a.excluded,
                    reason=_why_unassigned(directory, a),
                )
            )
            del a  # its directory-wide masks and distances go now
    finally:
        if collecting:
            gc.enable()
    return found


# ---------------------------------------------------------------------------------------------
# 2. The assignment: state blocks reconciled through the therapists they share


@dataclass(frozen=True)
class Reconciliation:
    """How one tier's state blocks were joined before solving.

    A therapist licensed in several states can be on the shortlists of referrals from
    several states; its open slots are one pool, so those blocks cannot be solved apart.
    ``shared``: therapists with an open slot shortlisted by referrals of two or more states;
    ``contested``: those of them shortlisted by more referrals than they have slots (where
    solving states apart would overbook them); ``components``: the independent problems
    solved (state blocks joined through shared therapists); ``largest``: referrals in the
    largest of them.
    """

    urgency: str
    states: int
    shared: int
    contested: int
    components: int
    largest: int


@dataclass(frozen=True)
class Placed:
    chosen: dict[str, Candidate]
    reconciliation: Reconciliation


def assign_blocks(
    urgency: str,
    tier: Sequence[Referral],
    shortlists: Mapping[str, Shortlist],
    remaining: Mapping[str, int],
    state_of: Mapping[str, str],
) -> Placed:
    """The maximum-total-score assignment of one tier, solved component by component.

    Referrals and the therapists with an open slot on their shortlists form a bipartite
    graph. Its connected components share no slot, so solving each on its own is exactly
    the optimum of the whole tier; each component is the union of the state blocks that
    therapists licensed in several states join. Components are solved in order of their
    first referral in queue order, each with the referrals in queue order, so the result
    depends only on the input, never on how or where the shortlists were computed.
    """
    lists = {r.referral_id: shortlists[r.referral_id].candidates for r in tier}
    therapist_index: dict[str, int] = {}
    edges_r, edges_t = [], []
    states_of_therapist: dict[int, set[str]] = {}
    demand: Counter[int] = Counter()
    for i, referral in enumerate(tier):
        for candidate in lists[referral.referral_id]:
            if remaining.get(candidate.therapist_id, 0) <= 0:
                continue
            t = therapist_index.setdefault(candidate.therapist_id, len(therapist_index))
            edges_r.append(i)
            edges_t.append(t)
            states_of_therapist.setdefault(t, set()).add(state_of[referral.referral_id])
            demand[t] += 1
    from scipy.sparse import coo_array  # here, not at import: the app's pages never need scipy
    from scipy.sparse.csgraph import connected_components

    n_r, n_t = len(tier), len(therapist_index)
    graph = coo_array(
        (
            np.ones(len(edges_r)),
            (np.array(edges_r, dtype=np.intp), n_r + np.array(edges_t, dtype=np.intp)),
        ),
        shape=(n_r + n_t, n_r + n_t),
    )
    _, label = connected_components(graph, directed=False)
    linked = np.zeros(n_r, dtype=bool)
    linked[np.array(edges_r, dtype=np.intp)] = True  # referrals with no open candidate stay out
    members: dict[int, list[Referral]] = {}
    for i, referral in enumerate(tier):
        if linked[i]:
            members.setdefault(int(label[i]), []).append(referral)
    chosen: dict[str, Candidate] = {}
    for component in members.values():  # in order of first referral: dicts keep insertion
        chosen.update(assign_tier(component, lists, remaining))
    ids = list(therapist_index)
    shared = [t for t, states in states_of_therapist.items() if len(states) > 1]
    return Placed(
        chosen,
        Reconciliation(
            urgency=urgency,
            states=len({state_of[r.referral_id] for r in tier}),
            shared=len(shared),
            contested=sum(demand[t] > remaining[ids[t]] for t in shared),
            components=len(members),
            largest=max((len(m) for m in members.values()), default=0),
        ),
    )


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
    from scipy.sparse import coo_array  # here, not at import: the app's pages never need scipy
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

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


# ---------------------------------------------------------------------------------------------
# 3. Outcomes


def outcome_block(
    block: Sequence[tuple[Referral, Shortlist, Candidate | None]],
    *,
    directory: Directory,
    today: date,
) -> list[Outcome]:
    """Each referral's outcome: its assigned therapist's full match (None if unassigned), its
    best alternates, and why it was not placed."""
    outcomes = []
    for referral, shortlist, picked in block:
        others = tuple(
            c
            for c in shortlist.candidates
            if picked is None or c.therapist_id != picked.therapist_id
        )[:ALTERNATES]
        if picked is None:
            outcomes.append(Outcome(referral, "unassigned", None, others, shortlist.reason))
            continue
        slim = shortlist.assessment(directory, referral.preferences)
        position = int(np.flatnonzero(slim.rows == picked.row)[0])
        match = match_at(directory, referral.preferences, slim, position, today)
        outcomes.append(Outcome(referral, "assigned", match, others, None))
    return outcomes


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
