"""The coordinator's queue as a value, and the operations on it (no Streamlit).

:class:`QueueState` is read from the store once per page, in one read transaction: the
referrals in queue order, who is assigned to whom with which check-in code, open offers, each
therapist's slots left, the ruptures in each relationship's check-ins, and the waiting clocks,
from which every referral's :class:`Status` and flags follow. The operations (propose, accept, accept all, override,
release, rematch, reply to a request, record the client's answer, risk review) each call one
store transaction; the queue page only draws a state and calls one operation per button.

Waiting well: every referral shows its days waiting; one waiting longer than its urgency's
target (:class:`WaitTargets`, which the coordinator may change) is flagged; a risk-flagged
referral not yet assigned must be reviewed by a date (REVIEW_DAYS after it arrived or was last
reviewed), which turns red when passed; an assigned one shows the days between its first and
second session once check-ins tell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import pandas as pd

from matcher.checkins import CheckIn, RuptureState, rupture_state, worrying
from matcher.directory import Directory
from matcher.referrals import Referral
from matcher.scoring import Match, assess, match_at, rank
from matcher.store import OFFER_DAYS, BatchBooking, Booking, BookingRequest, Offer, Store
from matcher.store import export_day as store_export_day
from matcher.triage import Outcome, Progress, open_slots, queue_order, triage

HOLD_OPTIONS = 5  # therapists offered for a referral assigned by hand after the crisis protocol
# An override that loses more than this much of the proposal's score (10 points out of 100)
# asks the coordinator to confirm it.
OVERRIDE_MARGIN = 0.10
# A risk-flagged referral waiting for a therapist is reviewed at least this often (days).
REVIEW_DAYS = 1


@dataclass(frozen=True)
class WaitTargets:
    """Days a referral of each urgency may wait for a therapist before it is flagged."""

    urgent: int = 3
    soon: int = 7
    routine: int = 14

    def __post_init__(self) -> None:
        if min(self.urgent, self.soon, self.routine) < 1:
            raise ValueError("a wait target is at least one day")

    def days(self, urgency: str) -> int:
        return int(getattr(self, urgency, self.routine))


class Status(StrEnum):
    """Where a referral stands; the one list of status names."""

    ALARM = "worrying check-in"
    CRISIS_HOLD = "crisis hold"
    RUPTURE_REMATCH = "rupture: rematch"
    RUPTURE_REPAIR = "rupture: repair"
    WAITING = "waiting"
    OFFERED = "offer open"
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
    offers: Mapping[str, Offer] = field(default_factory=dict)  # referral -> its open offer
    reviewed: Mapping[str, date] = field(default_factory=dict)  # referral -> last risk review
    history: Mapping[str, tuple[CheckIn, ...]] = field(default_factory=dict)  # assigned ones
    targets: WaitTargets = WaitTargets()
    # referral -> therapists it was released from (or rematched away from): never proposed again
    released: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_store(
        cls, store: Store, directory: Directory, today: date, targets: WaitTargets | None = None
    ) -> QueueState:
        now = store.snapshot(today)  # one read transaction, after lapsed offers are freed
        referrals, active, taken = now.referrals, now.assignments, now.taken
        offers = {o.referral_id: o for o in now.offers if o.status == "open"}
        assigned_to = dict(zip(active["referral_id"], active["therapist_id"], strict=True))
        codes = dict(zip(active["referral_id"], active["checkin_code"], strict=True))
        capacity = open_slots(directory)
        slots_left = {
            t: n - taken.get(t, 0) for t, n in capacity.items() if n - taken.get(t, 0) > 0
        }
        by_id = {r.referral_id: r for r in referrals}
        history = {rid: tuple(c) for rid, c in now.checkins.items() if rid in by_id}
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
            offers=offers,
            reviewed=now.reviewed,
            history=history,
            targets=targets or WaitTargets(),
            released=now.released,
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
        if referral.crisis:
            return Status.CRISIS_HOLD
        return Status.OFFERED if rid in self.offers else Status.WAITING

    def with_status(self, *statuses: Status) -> list[Referral]:
        return [r for r in self.referrals if self.status(r) in statuses]

    def batchable(self) -> list[Referral]:
        """Waiting referrals a batch proposal may place: never one held for risk (not waiting)
        and never a client's own request, which asked for particular therapists and is
        answered with an offer the client accepts or declines (``reply_to_request``)."""
        return [r for r in self.with_status(Status.WAITING) if r.source != "self"]

    # Waiting well

    def past_target(self, referral: Referral) -> bool:
        """Still without a therapist after longer than its urgency's wait target."""
        return referral.referral_id not in self.assigned_to and referral.waiting_days(
            self.today
        ) > self.targets.days(referral.urgency)

    def review_by(self, referral: Referral) -> date | None:
        """When a risk-flagged referral without a therapist must next be reviewed."""
        if not referral.crisis or referral.referral_id in self.assigned_to:
            return None
        last = max(referral.received, self.reviewed.get(referral.referral_id, referral.received))
        return last + timedelta(days=REVIEW_DAYS)

    def review_overdue(self, referral: Referral) -> bool:
        due = self.review_by(referral)
        return due is not None and self.today > due

    def second_session_wait(self, referral_id: str) -> int | None:
        """Days between the first and second session, once both have a check-in."""
        days = {c.session: c.day for c in self.history.get(referral_id, ())}
        if 1 not in days or 2 not in days:
            return None
        return (days[2] - days[1]).days


def export_day(store: Store, state: QueueState, directory: Directory, day: date) -> pd.DataFrame:
    """The decisions of ``day`` (UTC) for the coordinator's CSV: with the client's and the
    therapist's names, and the match as the screen shows it ("79%"), not a raw score."""
    table = store_export_day(store, day)
    by_id = state.by_id
    names = directory.text["name"]
    table.insert(
        1, "client", [by_id[r].client_name if r in by_id else "" for r in table["referral_id"]]
    )
    table.insert(
        3,
        "therapist",
        [
            str(names[directory.row_of[t]]) if t in directory.row_of else ""
            for t in table["therapist_id"]
        ],
    )
    table["score"] = [f"{s:.0%}" if pd.notna(s) else "" for s in table["score"]]
    return table.rename(columns={"score": "match"})


# ---------------------------------------------------------------------------------------------
# Operations


def propose(
    state: QueueState,
    directory: Directory,
    referral_ids: Sequence[str],
    progress: Progress | None = None,
) -> list[Outcome]:
    """A batch proposal for waiting referrals, into the slots still free. Refuses any referral
    a batch may not place (``QueueState.batchable``)."""
    allowed = {r.referral_id for r in state.batchable()}
    if refused := [rid for rid in referral_ids if rid not in allowed]:
        raise ValueError(
            f"not for a batch proposal (held, already placed, or a client's own request, "
            f"which is answered with an offer): {', '.join(refused[:5])}"
        )
    by_id = state.by_id
    return triage(
        directory, [by_id[rid] for rid in referral_ids], state.today, state.slots_left,
        progress=progress, exclude=state.released,
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


def release(store: Store, referral_id: str, actor: str, reason: str) -> str:
    """Give a referral's slot back (a reason is required); returns the therapist it was with.
    Its check-in code stops working."""
    return store.release(referral_id, actor, reason)


def review(store: Store, referral_id: str, actor: str) -> None:
    """Record a risk review of a held referral today; its next review falls due REVIEW_DAYS on."""
    store.review(referral_id, actor)


def reply_to_request(
    store: Store,
    state: QueueState,
    referral_id: str,
    therapist_id: str,
    actor: str,
    days: int = OFFER_DAYS,
) -> Offer:
    """Offer the client a slot with a therapist (one they chose, or an alternate); the slot is
    held for ``days`` days, until the client answers or the offer lapses."""
    return store.offer(referral_id, therapist_id, state.capacity.get(therapist_id, 0), actor, days)


def answer_offer(
    store: Store, state: QueueState, referral_id: str, accepted: bool, actor: str
) -> Booking | None:
    """The client's answer to an open offer: accepted books the slot (with a check-in code)."""
    offer = state.offers.get(referral_id)
    capacity = state.capacity.get(offer.therapist_id, 0) if offer is not None else 0
    return store.answer_offer(referral_id, accepted, capacity, actor)


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
    """Therapists with a free slot for a referral to move to: never the current one, nor one
    it was released from before."""
    current = state.assigned_to.get(referral_id)
    others = {t: n for t, n in state.slots_left.items() if t != current}
    [option] = triage(directory, [state.by_id[referral_id]], state.today, others,
                      exclude=state.released)  # fmt: skip
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
