"""The coordination service, without Streamlit: queue state, statuses and operations."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import vocabulary as V
from matcher.checkins import ImportedCheckIn
from matcher.coordination import (
    REVIEW_DAYS,
    QueueState,
    Status,
    WaitTargets,
    accept,
    accept_all,
    answer_offer,
    export_day,
    matches_for,
    needs_confirmation,
    propose,
    release,
    rematch,
    rematch_options,
    reply_to_request,
    review,
    undo_accept_all,
)
from matcher.directory import Directory
from matcher.referrals import read_referrals
from matcher.store import Store, StoreError
from tests.conftest import DATA, TODAY, backdate_assignments, prefs


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "c.db")
    db.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    return db


def test_statuses_come_from_the_store(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    assert len(state.referrals) == 80
    held = state.with_status(Status.CRISIS_HOLD)
    assert held and all(r.crisis for r in held)
    assert state.with_status(Status.ASSIGNED) == []
    assert {state.status(r) for r in state.referrals} == {Status.CRISIS_HOLD, Status.WAITING}


def test_accept_all_books_the_proposal_and_slots_follow(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    waiting = [r.referral_id for r in state.with_status(Status.WAITING)]
    proposal = propose(state, demo, waiting)
    result = accept_all(store, state, proposal, "ana")
    assert len(result.booked) == sum(o.match is not None for o in proposal)
    after = QueueState.from_store(store, demo, TODAY)
    assert {b.referral_id for b in result.booked} == set(after.assigned_to)
    for therapist, left in after.slots_left.items():
        assert 0 < left <= after.capacity[therapist]
    booked_with = {b.therapist_id for b in result.booked}
    for therapist in booked_with:
        used = sum(t == therapist for t in after.assigned_to.values())
        assert after.slots_left.get(therapist, 0) == after.capacity[therapist] - used


def test_two_coordinators_accepting_the_same_proposal_one_wins(
    store: Store, demo: Directory
) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    [outcome] = propose(state, demo, [state.with_status(Status.WAITING)[0].referral_id])
    assert outcome.match is not None
    ana = accept(store, state, outcome.referral.referral_id, outcome.match.therapist_id, "ana")
    with pytest.raises(StoreError, match="already"):
        accept(store, state, outcome.referral.referral_id, outcome.match.therapist_id, "bo")
    assert QueueState.from_store(store, demo, TODAY).assigned_to == {
        outcome.referral.referral_id: ana.therapist_id
    }


def test_rematch_options_never_offer_the_current_therapist(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [outcome] = propose(state, demo, [rid])
    assert outcome.match is not None
    accept(store, state, rid, outcome.match.therapist_id, "ana")
    state = QueueState.from_store(store, demo, TODAY)
    options = rematch_options(state, demo, rid)
    assert options and outcome.match.therapist_id not in options
    moved = rematch(store, state, rid, options[0], "ana", "asked for a change")
    assert QueueState.from_store(store, demo, TODAY).assigned_to[rid] == moved.therapist_id


def test_ruptures_turn_into_statuses(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [outcome] = propose(state, demo, [rid])
    assert outcome.match is not None
    booking = accept(store, state, rid, outcome.match.therapist_id, "ana")
    backdate_assignments(store.path)
    good = dict.fromkeys(V.ITEMS, 5)
    store.record_checkin(booking.checkin_code, booking.therapist_id, 1, good, "")
    store.record_checkin(booking.checkin_code, booking.therapist_id, 2,
                         {**good, "heard": 1}, "")  # fmt: skip
    after = QueueState.from_store(store, demo, TODAY)
    assert after.status(after.by_id[rid]) == Status.RUPTURE_REPAIR


@settings(max_examples=10, deadline=None)
@given(picks=st.lists(st.integers(0, 60), min_size=1, max_size=12, unique=True))
def test_slots_left_never_go_negative(tmp_path_factory: pytest.TempPathFactory, demo: Directory,
                                      picks: list[int]) -> None:  # fmt: skip
    db = Store(tmp_path_factory.mktemp("q") / "c.db")
    db.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    state = QueueState.from_store(db, demo, TODAY)
    waiting = state.with_status(Status.WAITING)
    chosen = list(dict.fromkeys(waiting[i % len(waiting)].referral_id for i in picks))
    proposal = propose(state, demo, chosen)
    for _ in range(2):  # the same proposal accepted twice: the second books nothing new
        state = QueueState.from_store(db, demo, TODAY)
        accept_all(db, state, proposal, "ana")
    after = QueueState.from_store(db, demo, TODAY)
    taken = db.taken_slots()
    assert all(taken[t] <= after.capacity.get(t, 0) for t in taken)
    assert all(left > 0 for left in after.slots_left.values())


def test_alternates_come_with_their_reasons_and_a_big_drop_asks_for_confirmation(
    store: Store, demo: Directory
) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    [outcome] = propose(state, demo, [state.with_status(Status.WAITING)[0].referral_id])
    assert outcome.match is not None and outcome.alternates
    others = matches_for(
        state, demo, outcome.referral, [c.therapist_id for c in outcome.alternates]
    )
    assert [m.therapist_id for m in others] == [c.therapist_id for c in outcome.alternates]
    assert [m.score for m in others] == pytest.approx([c.score for c in outcome.alternates])
    assert needs_confirmation(0.70, 0.47) and not needs_confirmation(0.70, 0.65)


@settings(max_examples=8, deadline=None)
@given(first=st.integers(0, 30), count=st.integers(1, 15))
def test_undoing_accept_all_restores_the_exact_previous_state(
    tmp_path_factory: pytest.TempPathFactory, demo: Directory, first: int, count: int
) -> None:
    db = Store(tmp_path_factory.mktemp("u") / "c.db")
    db.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    state = QueueState.from_store(db, demo, TODAY)
    waiting = [r.referral_id for r in state.with_status(Status.WAITING)]
    accept_all(db, state, propose(state, demo, waiting[:first]), "ana")  # what was there before
    before = db.assignments(active_only=False)
    state = QueueState.from_store(db, demo, TODAY)
    batch = accept_all(db, state, propose(state, demo, waiting[first : first + count]), "ana")
    assert undo_accept_all(db, batch, "ana") == len(batch.booked)
    assert db.assignments(active_only=False).equals(before)
    assert QueueState.from_store(db, demo, TODAY).slots_left == state.slots_left


def test_an_accept_all_with_a_checkin_can_no_longer_be_undone(
    store: Store, demo: Directory
) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    waiting = [r.referral_id for r in state.with_status(Status.WAITING)][:3]
    batch = accept_all(store, state, propose(state, demo, waiting), "ana")
    first = batch.booked[0]
    store.record_checkin(first.checkin_code, first.therapist_id, 1, dict.fromkeys(V.ITEMS, 4), "")
    with pytest.raises(StoreError, match="no longer be undone"):
        undo_accept_all(store, batch, "ana")
    assert len(store.assignments()) == len(batch.booked)


def test_a_worrying_comment_raises_the_referral_to_the_top(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    waiting = [r.referral_id for r in state.with_status(Status.WAITING)][:2]
    batch = accept_all(store, state, propose(state, demo, waiting), "ana")
    calm, worried = batch.booked[0], batch.booked[1]
    fine = dict.fromkeys(V.ITEMS, 4)
    store.record_checkin(calm.checkin_code, calm.therapist_id, 1, fine, "Going well, thanks")
    store.record_checkin(worried.checkin_code, worried.therapist_id, 1, fine,
                         "I have been thinking about ending my life")  # fmt: skip
    after = QueueState.from_store(store, demo, TODAY)
    assert after.status(after.by_id[worried.referral_id]) == Status.ALARM
    assert after.status(after.by_id[calm.referral_id]) == Status.ASSIGNED
    assert [c.comment for c in after.commented[calm.referral_id]] == ["Going well, thanks"]
    assert [r.referral_id for r in after.with_status(Status.ALARM)] == [worried.referral_id]


def test_a_referral_is_never_proposed_again_to_a_therapist_it_was_released_from(
    store: Store, demo: Directory
) -> None:
    """Found trying the app: released because the client asked for someone else, the referral
    was proposed to the same therapist at once."""
    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [first] = propose(state, demo, [rid])
    assert first.match is not None
    before = first.match.therapist_id
    accept(store, state, rid, before, "ana")
    release(store, rid, "ana", "client asked for a different therapist")
    state = QueueState.from_store(store, demo, TODAY)
    assert state.released == {rid: frozenset({before})}
    [again] = propose(state, demo, [rid])
    assert again.match is not None and again.match.therapist_id != before
    assert before not in {c.therapist_id for c in again.alternates}
    assert before not in rematch_options(state, demo, rid)


def test_impossible_sessions_and_dead_codes_are_refused(store: Store, demo: Directory) -> None:
    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [outcome] = propose(state, demo, [rid])
    assert outcome.match is not None
    booking = accept(store, state, rid, outcome.match.therapist_id, "ana")
    fine = dict.fromkeys(V.ITEMS, 4)
    for session in (999, 500, 2):  # assigned today: only session 1 is possible
        with pytest.raises(StoreError, match="can't have happened yet: you can check in"):
            store.record_checkin(booking.checkin_code, booking.therapist_id, session, fine)
    with pytest.raises(StoreError, match="numbered from 1"):
        store.record_checkin(booking.checkin_code, booking.therapist_id, 0, fine)
    store.record_checkin(booking.checkin_code, booking.therapist_id, 1, fine)
    release(store, rid, "ana", "client moved away")
    assert store.checkin_target(booking.checkin_code) is None  # a released code is dead
    with pytest.raises(StoreError, match="not recognized"):
        store.record_checkin(booking.checkin_code, booking.therapist_id, 1, fine)


def test_importing_the_same_checkins_twice_changes_nothing(store: Store) -> None:
    from datetime import date

    rows = [ImportedCheckIn("T0000001", date(2026, 11, 1), 1, dict.fromkeys(V.ITEMS, 4)),
            ImportedCheckIn("T0000001", date(2026, 11, 8), 2, {"safe": 5})]  # fmt: skip
    assert store.import_checkins(rows, "ana") == 2
    before = store.checkin_ratings()
    assert store.import_checkins(rows, "ana") == 0
    assert store.checkin_ratings() == before


# ---------------------------------------------------------------------------------------------
# Offers: a reply to a consultation request holds a slot until answered or lapsed


def _request(store: Store, demo: Directory) -> tuple[str, str]:
    """A self-referral asking for one therapist who has exactly one slot left."""
    state = QueueState.from_store(store, demo, TODAY)
    therapist = next(t for t, n in state.slots_left.items() if n == 1)
    reference = store.request_consultation("Sam", "sam@example.org", [therapist], prefs()).reference
    return reference, therapist


def test_an_offer_holds_the_slot_and_an_accepted_offer_becomes_an_assignment(
    store: Store, demo: Directory
) -> None:
    reference, therapist = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    assert state.status(state.by_id[reference]) == Status.WAITING
    offer = reply_to_request(store, state, reference, therapist, "ana")
    state = QueueState.from_store(store, demo, TODAY)
    assert state.status(state.by_id[reference]) == Status.OFFERED
    assert therapist not in state.slots_left  # held for the client
    someone = state.with_status(Status.WAITING)[0].referral_id
    with pytest.raises(StoreError, match="no open slot"):
        accept(store, state, someone, therapist, "ana")
    booking = answer_offer(store, state, reference, True, "ana")
    assert booking is not None and booking.therapist_id == therapist
    assert store.checkin_target(booking.checkin_code) == (reference, therapist)
    assert [o.status for o in store.offers()] == ["accepted"]
    log = store.audit()
    steps = log[log["referral_id"] == reference]["action"].tolist()
    assert steps == ["consultation request", "offer", "offer accepted", "accepted"]
    assert offer.expires_on > TODAY


def test_a_clients_own_request_is_never_placed_by_a_batch(store: Store, demo: Directory) -> None:
    """A client asked for particular therapists: "Accept all" booked one with someone else,
    with no offer made (found trying the app). Requests are answered with an offer."""
    reference, _ = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    assert state.status(state.by_id[reference]) == Status.WAITING
    batch = [r.referral_id for r in state.batchable()]
    assert reference not in batch
    assert set(batch) == {r.referral_id for r in state.with_status(Status.WAITING)} - {reference}
    with pytest.raises(ValueError, match="own request"):
        propose(state, demo, [*batch[:3], reference])
    held = state.with_status(Status.CRISIS_HOLD)[0].referral_id
    with pytest.raises(ValueError, match=held):
        propose(state, demo, [held])
    result = accept_all(store, state, propose(state, demo, batch), "ana")
    assert reference not in {b.referral_id for b in result.booked}
    after = QueueState.from_store(store, demo, TODAY)
    assert after.status(after.by_id[reference]) == Status.WAITING


def test_a_declined_offer_frees_the_slot_and_two_answers_cannot_both_win(
    store: Store, demo: Directory
) -> None:
    reference, therapist = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    reply_to_request(store, state, reference, therapist, "ana")
    state = QueueState.from_store(store, demo, TODAY)  # both coordinators see the open offer
    assert answer_offer(store, state, reference, False, "ana") is None
    with pytest.raises(StoreError, match="no open offer"):
        answer_offer(store, state, reference, True, "bo")  # the second answer is refused
    after = QueueState.from_store(store, demo, TODAY)
    assert after.slots_left[therapist] == 1
    assert after.status(after.by_id[reference]) == Status.WAITING


def test_an_offer_lapses_after_its_days_and_the_slot_comes_back(
    store: Store, demo: Directory
) -> None:
    from datetime import UTC, datetime, timedelta

    reference, therapist = _request(store, demo)
    capacity = QueueState.from_store(store, demo, TODAY).capacity[therapist]
    store.offer(reference, therapist, capacity, "ana", days=7,
                now=datetime.now(UTC) - timedelta(days=8))  # fmt: skip
    state = QueueState.from_store(store, demo, datetime.now(UTC).date())
    assert state.status(state.by_id[reference]) == Status.WAITING
    assert state.slots_left[therapist] == 1
    assert [o.status for o in store.offers()] == ["expired"]
    assert "offer expired" in set(store.audit()["action"])
    with pytest.raises(StoreError, match="lapsed"):
        answer_offer(store, state, reference, True, "ana")


def test_assigning_another_way_withdraws_the_open_offer(store: Store, demo: Directory) -> None:
    reference, therapist = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    reply_to_request(store, state, reference, therapist, "ana")
    other = next(t for t in state.slots_left if t != therapist)
    accept(store, state, reference, other, "ana", kind="override", reason="client asked")
    assert [o.status for o in store.offers()] == ["withdrawn"]
    assert QueueState.from_store(store, demo, TODAY).slots_left[therapist] == 1


@settings(max_examples=12, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["offer", "yes", "no", "book", "release"]),
                                st.integers(0, 5), st.integers(0, 2)), max_size=25))  # fmt: skip
def test_slots_left_never_go_negative_whatever_the_order_of_offers_and_bookings(
    tmp_path_factory: pytest.TempPathFactory, demo: Directory, steps: list[tuple[str, int, int]]
) -> None:
    db = Store(tmp_path_factory.mktemp("o") / "c.db")
    db.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    state = QueueState.from_store(db, demo, TODAY)
    referrals = [r.referral_id for r in state.with_status(Status.WAITING)][:6]
    therapists = sorted(state.slots_left, key=lambda t: (state.slots_left[t], t))[:3]
    for action, who, whom in steps:
        state = QueueState.from_store(db, demo, TODAY)
        rid, tid = referrals[who], therapists[whom]
        with contextlib.suppress(StoreError):
            if action == "offer":
                reply_to_request(db, state, rid, tid, "ana")
            elif action in ("yes", "no"):
                answer_offer(db, state, rid, action == "yes", "ana")
            elif action == "book":
                accept(db, state, rid, tid, "ana")
            else:
                release(db, rid, "ana", "test")
        taken = db.taken_slots()
        assert all(taken[t] <= state.capacity.get(t, 0) for t in taken)


# ---------------------------------------------------------------------------------------------
# Waiting well


def test_waits_past_target_and_risk_reviews_are_flagged(store: Store, demo: Directory) -> None:
    from datetime import timedelta

    state = QueueState.from_store(store, demo, TODAY, WaitTargets(urgent=1, soon=2, routine=3))
    for r in state.referrals:
        assert state.past_target(r) == (r.waiting_days(TODAY) > state.targets.days(r.urgency))
    assert any(state.past_target(r) for r in state.referrals)
    held = state.with_status(Status.CRISIS_HOLD)[0]
    assert state.review_by(held) == held.received + timedelta(days=REVIEW_DAYS)
    assert state.review_overdue(held) == (held.received + timedelta(days=REVIEW_DAYS) < TODAY)
    review(store, held.referral_id, "ana")
    later = QueueState.from_store(store, demo, TODAY)
    due = later.review_by(later.by_id[held.referral_id])
    assert due is not None and due > held.received  # reviewed today: due again tomorrow
    assert later.review_by(later.with_status(Status.WAITING)[0]) is None  # no risk flag
    with pytest.raises(ValueError, match="at least one day"):
        WaitTargets(urgent=0)


def test_the_wait_between_first_and_second_session_is_shown(store: Store, demo: Directory) -> None:
    from datetime import date

    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [outcome] = propose(state, demo, [rid])
    assert outcome.match is not None
    booking = accept(store, state, rid, outcome.match.therapist_id, "ana")
    assert QueueState.from_store(store, demo, TODAY).second_session_wait(rid) is None
    backdate_assignments(store.path, days=30)
    fine = dict.fromkeys(V.ITEMS, 4)
    store.record_checkin(booking.checkin_code, booking.therapist_id, 1, fine)
    store.record_checkin(booking.checkin_code, booking.therapist_id, 2, fine)
    with sqlite3.connect(store.path) as raw:  # the sessions' days, as if a week apart
        raw.execute("UPDATE checkins SET day = CASE session WHEN 1 THEN ? ELSE ? END",
                    (date(2026, 11, 2).isoformat(), date(2026, 11, 9).isoformat()))  # fmt: skip
    assert QueueState.from_store(store, demo, TODAY).second_session_wait(rid) == 7


# ---------------------------------------------------------------------------------------------
# Reachability history


def test_contacts_count_offers_and_whether_a_first_session_followed(
    store: Store, demo: Directory
) -> None:
    reference, therapist = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    reply_to_request(store, state, reference, therapist, "ana")
    [open_offer] = store.contacts()
    assert open_offer.therapist_id == therapist and open_offer.first_session is None
    booking = answer_offer(store, QueueState.from_store(store, demo, TODAY), reference, True,
                           "ana")  # fmt: skip
    assert booking is not None
    assert [c.first_session for c in store.contacts()] == [None]  # too early to say
    backdate_assignments(store.path, days=30)
    assert [c.first_session for c in store.contacts()] == [False]  # a month, no check-in
    store.record_checkin(booking.checkin_code, therapist, 1, dict.fromkeys(V.ITEMS, 4))
    [seen] = store.contacts()
    assert seen.first_session is True and seen.days_to_offer >= 0


def test_the_days_export_names_people_and_rounds_as_the_screen_does(
    store: Store, demo: Directory
) -> None:
    from datetime import UTC, datetime

    reference, therapist = _request(store, demo)
    state = QueueState.from_store(store, demo, TODAY)
    rid = state.with_status(Status.WAITING)[0].referral_id
    [outcome] = propose(state, demo, [rid])
    assert outcome.match is not None
    accept(store, state, rid, outcome.match.therapist_id, "ana", score=outcome.match.score)
    accept(store, state, reference, therapist, "ana", kind="override", reason="asked for")
    table = export_day(store, QueueState.from_store(store, demo, TODAY), demo,
                       datetime.now(UTC).date())  # fmt: skip
    assert list(table["referral_id"]) == [rid, reference]
    assert list(table["client"]) == ["", "Sam"]
    assert table.loc[0, "therapist"] == outcome.match.name
    assert table.loc[0, "match"] == f"{outcome.match.score:.0%}" and table.loc[1, "match"] == ""
    assert "score" not in table
