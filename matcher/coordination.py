"""The coordinator's queue as a value, and the operations on it (no Streamlit).

:class:`QueueState` is read from the store once per page: the referrals in queue order, who
is assigned to whom with which check-in code, each therapist's slots left, and the ruptures in
each relationship's check-ins, from which every referral's :class:`Status` follows. The
operations (propose, accept, accept all, override, release, rematch) each call one store
transaction; the queue page only draws a state and calls one operation per button.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from matcher.checkins import CheckIn, RuptureState, rupture_state, worrying
from matcher.directory import Directory
from matcher.scoring import Match, assess, match_at, rank
from matcher.store import BatchBooking, Booking, BookingRequest, Store
from matcher.triage import Outcome, Progress, Referral, open_slots, queue_order, triage

HOLD_OPTIONS = 5  # therapists offered for a referral assigned by hand after the crisis protocol
# An override that loses more than this much of the proposal's score (10 points out of 100)
# asks the coordinator to confirm it.
OVERRIDE_MARGIN = 0.10


class Status(StrEnum):
    """Where a referral stands; the one list of status names."""

    ALARM = "worrying check-in"
    CRISIS_HOLD = "crisis hold"
    RUPTURE_REMATCH = "rupture: rematch"
    RUPTURE_REPAIR = "rupture: repair"
    WAITING = "waiting"
    ASSIGNED = "assigned"


@dataclass(frozen=True)
class QueueState:
    today: date
    referrals: tuple[Referral, ...]  # in queue order
    assigned_to: Mapping[str, str]  # referral -> therapist, active assignments only
    codes: Mapping[str, str]  # referral -> check-in code
    capacity: Mapping[str, int]  # therapist -> open slots in the directory
    slots_left: Mapping[str, int]  # therapist -> slots not yet booked (only those above 0)
    ruptures: Mapping[str, RuptureState]  # referral -> its ruptures, when there are any
    commented: Mapping[str, tuple[CheckIn, ...]]  # referral -> its check-ins with a comment
    alarms: frozenset[str]  # referrals with a worrying check-in: the crisis steps come first

    @classmethod
    def from_store(cls, store: Store, directory: Directory, today: date) -> QueueState:
        referrals = store.referrals()
        active = store.assignments()
        assigned_to = dict(zip(active["referral_id"], active["therapist_id"], strict=True))
        codes = dict(zip(active["referral_id"], active["checkin_code"], strict=True))
        capacity = open_slots(directory)
        taken = store.taken_slots()
        slots_left = {
            t: n - taken.get(t, 0) for t, n in capacity.items() if n - taken.get(t, 0) > 0
        }
        by_id = {r.referral_id: r for r in referrals}
        history = {rid: c for rid, c in store.active_checkins().items() if rid in by_id}
        ruptures = {
            rid: state
            for rid, checkins in history.items()
            if (state := rupture_state(checkins, by_id[rid].preferences)) is not None
        }
        commented = {
            rid: found
            for rid, checkins in history.items()
            if (found := tuple(c for c in checkins if c.comment.strip()))
        }
        alarms = frozenset(rid for rid, checkins in history.items() if any(map(worrying, checkins)))
        return cls(
            today=today,
            referrals=tuple(queue_order(referrals, today)),
            assigned_to=assigned_to,
            codes=codes,
            capacity=capacity,
            slots_left=slots_left,
            ruptures=ruptures,
            commented=commented,
            alarms=alarms,
        )

    @property
    def by_id(self) -> dict[str, Referral]:
        return {r.referral_id: r for r in self.referrals}

    def status(self, referral: Referral) -> Status:
        rid = referral.referral_id
        if rid in self.alarms:
            return Status.ALARM
        if rid in self.ruptures:
            return (
                Status.RUPTURE_REPAIR
                if self.ruptures[rid].step == "repair"
                else Status.RUPTURE_REMATCH
            )
        if rid in self.assigned_to:
            return Status.ASSIGNED
        return Status.CRISIS_HOLD if referral.crisis else Status.WAITING

    def with_status(self, *statuses: Status) -> list[Referral]:
        return [r for r in self.referrals if self.status(r) in statuses]


# ---------------------------------------------------------------------------------------------
# Operations


def propose(
    state: QueueState,
    directory: Directory,
    referral_ids: Sequence[str],
    progress: Progress | None = None,
) -> list[Outcome]:
    """A batch proposal for waiting referrals, into the slots still free."""
    by_id = state.by_id
    return triage(
        directory, [by_id[rid] for rid in referral_ids], state.today, state.slots_left,
        progress=progress,
    )  # fmt: skip


def accept(
    store: Store,
    state: QueueState,
    referral_id: str,
    therapist_id: str,
    actor: str,
    score: float | None = None,
    kind: str = "accepted",
    reason: str = "",
) -> Booking:
    """Book one referral with one therapist (refused with a StoreError when not possible)."""
    return store.book(
        referral_id, therapist_id, state.capacity.get(therapist_id, 0), actor, score=score,
        kind=kind, reason=reason,
    )  # fmt: skip


def accept_all(
    store: Store, state: QueueState, proposal: Sequence[Outcome], actor: str
) -> BatchBooking:
    """Every proposed assignment in one transaction; what could not be booked is refused."""
    requests = [
        BookingRequest(o.referral.referral_id, o.match.therapist_id, o.match.score)
        for o in proposal
        if o.match is not None
    ]
    return store.book_all(requests, state.capacity, actor)


def undo_accept_all(store: Store, batch: BatchBooking, actor: str) -> int:
    """Undo a whole "accept all" as one step (refused once any of it has moved on)."""
    return store.undo_batch(batch.booked, actor)


def hold_options(state: QueueState, directory: Directory, referral: Referral) -> list[Match]:
    """Therapists with a free slot for a referral assigned by hand after the crisis protocol."""
    ranked = rank(directory, referral.preferences, top=HOLD_OPTIONS * 2, today=state.today)
    free = [m for m in ranked.matches if state.slots_left.get(m.therapist_id, 0) > 0]
    return free[:HOLD_OPTIONS]


def matches_for(
    state: QueueState, directory: Directory, referral: Referral, therapist_ids: Sequence[str]
) -> list[Match]:
    """Full matches (score, reasons) of some therapists for one referral, in the order given;
    a therapist who no longer meets its musts is left out."""
    a = assess(directory, referral.preferences, state.today)
    position = {int(row): i for i, row in enumerate(a.rows)}
    rows = [directory.row(t) for t in therapist_ids if t in directory.row_of]
    return [
        match_at(directory, referral.preferences, a, position[row], state.today)
        for row in rows
        if row in position
    ]


def needs_confirmation(proposed: float, chosen: float) -> bool:
    """Whether overriding a proposal of score ``proposed`` with ``chosen`` loses too much."""
    return proposed - chosen > OVERRIDE_MARGIN


def rematch_options(state: QueueState, directory: Directory, referral_id: str) -> list[str]:
    """Therapists with a free slot for a referral to move to: never the current one."""
    current = state.assigned_to.get(referral_id)
    others = {t: n for t, n in state.slots_left.items() if t != current}
    [option] = triage(directory, [state.by_id[referral_id]], state.today, others)
    best = [option.match.therapist_id] if option.match else []
    return best + [c.therapist_id for c in option.alternates]


def rematch(
    store: Store, state: QueueState, referral_id: str, therapist_id: str, actor: str, reason: str
) -> Booking:
    """Move a referral to another therapist in one transaction (the current booking stays if
    the new one is refused)."""
    return store.rematch(
        referral_id, therapist_id, state.capacity.get(therapist_id, 0), actor, reason
    )
