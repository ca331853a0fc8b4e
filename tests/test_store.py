"""The coordinator database: migrations, idempotent import, slots, passwords, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from matcher import codes
from matcher.referrals import Referral, read_referrals
from matcher.store import Store, StoreError, export_day
from tests.conftest import DATA, TODAY, prefs


def referral(rid: str) -> Referral:
    return Referral(rid, TODAY - timedelta(days=2), "routine", False, False, prefs())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "matcher.db")


def test_the_schema_is_created_in_wal_mode(store: Store) -> None:
    from matcher.store import MIGRATIONS

    assert store.schema_version == len(MIGRATIONS)
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Store(store.path).schema_version == len(MIGRATIONS)  # opening again migrates nothing


def test_an_older_database_is_migrated_forward(tmp_path: Path) -> None:
    from matcher.store import MIGRATIONS

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:  # a version-1 database, as the first release made
        connection.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    migrated = Store(path)
    assert migrated.schema_version == len(MIGRATIONS)
    assert migrated.checkin_ratings() == []


def test_old_check_in_codes_are_reissued_and_their_check_ins_follow(tmp_path: Path) -> None:
    from matcher.store import MIGRATIONS
    from matcher.vocabulary import ITEMS

    path = tmp_path / "v4.db"
    old_code = "Zq3-long_random_text_from_before_v5"
    with sqlite3.connect(path) as connection:  # a version-4 database with one check-in
        for script in MIGRATIONS[:4]:
            assert isinstance(script, str)
            connection.executescript(script)
        connection.executescript(
            "PRAGMA user_version = 4;"
            "INSERT INTO referrals (referral_id, received, urgency, risk_self_harm, "
            "risk_harm_others, preferences, imported_at, imported_by) VALUES ('R1', "
            f"'2026-11-01', 'routine', 0, 0, '{prefs().model_dump_json()}', 'x', 'ana');"
            "INSERT INTO assignments (referral_id, therapist_id, kind, decided_by, decided_at, "
            f"checkin_code) VALUES ('R1', 'T1', 'accepted', 'ana', '2026-11-01', '{old_code}');"
            f"INSERT INTO checkins (checkin_code, therapist_id, session, day, {', '.join(ITEMS)}, "
            f"source, created_at) VALUES ('{old_code}', 'T1', 1, '2026-11-02', "
            f"{', '.join('4' * len(ITEMS))}, 'client', 'x');"
        )
    migrated = Store(path)
    assert migrated.schema_version == len(MIGRATIONS)
    [new_code] = migrated.assignments()["checkin_code"]
    assert migrated.checkin_target(old_code) is None
    assert migrated.checkin_target(new_code) == ("R1", "T1")
    assert [c.session for c in migrated.checkins_for(new_code)] == [1]
    assert migrated.active_checkins()["R1"][0].ratings == dict.fromkeys(ITEMS, 4)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        assert old_code not in "\n".join(raw.iterdump())


def test_import_is_idempotent_and_keeps_what_was_there(store: Store) -> None:
    queue = read_referrals(DATA / "referrals.csv")
    first = store.import_referrals(queue, "ana")
    assert (first.added, first.unchanged) == (80, 0)
    changed = [referral(queue[0].referral_id), referral("R-new")]
    second = store.import_referrals(changed, "ana")
    assert (second.added, second.unchanged) == (1, 1)
    stored = {r.referral_id: r for r in store.referrals()}
    assert len(stored) == 81
    assert stored[queue[0].referral_id] == queue[0]  # re-importing changed nothing


def test_a_failed_import_adds_nothing(store: Store) -> None:
    with pytest.raises(AttributeError):  # fails on the third row, after two were written
        store.import_referrals([referral("a"), referral("b"), None], "ana")  # type: ignore[list-item]
    assert store.referrals() == []


def test_booking_takes_a_slot_and_releasing_gives_it_back(store: Store) -> None:
    store.import_referrals([referral("r1"), referral("r2"), referral("r3")], "ana")
    booking = store.book("r1", "T1", capacity=2, actor="ana", score=0.8)
    assert len(codes.normalise(booking.checkin_code)) == codes.LENGTH
    store.book("r2", "T1", capacity=2, actor="ben")
    with pytest.raises(StoreError, match="no open slot left"):
        store.book("r3", "T1", capacity=2, actor="ana")
    with pytest.raises(StoreError, match="already assigned"):
        store.book("r1", "T2", capacity=5, actor="ana")
    assert store.taken_slots() == {"T1": 2}
    assert store.release("r2", "ben", "client moved away") == "T1"
    store.book("r3", "T1", capacity=2, actor="ana")
    assert store.taken_slots() == {"T1": 2}


def test_overrides_and_releases_need_reasons(store: Store) -> None:
    store.import_referrals([referral("r1")], "ana")
    with pytest.raises(StoreError, match="needs a reason"):
        store.book("r1", "T1", capacity=1, actor="ana", kind="override", reason=" ")
    store.book("r1", "T1", capacity=1, actor="ana", kind="override", reason="client asked")
    with pytest.raises(StoreError, match="needs a reason"):
        store.release("r1", "ana", "")
    with pytest.raises(StoreError, match="not in the queue"):
        store.book("nope", "T1", capacity=1, actor="ana")


def test_every_decision_is_in_the_audit_log(store: Store) -> None:
    store.import_referrals([referral("r1")], "ana")
    store.book("r1", "T1", capacity=1, actor="ana", kind="override", reason="asked for a man")
    store.release("r1", "ben", "no show")
    log = store.audit()
    assert list(log["action"]) == ["import referrals", "override", "release"]
    assert list(log["actor"]) == ["ana", "ana", "ben"]
    assert log.loc[1, "detail"] == "asked for a man"
    assert log["at"].str.match(r"\d{4}-\d\d-\d\dT").all()


def test_export_of_the_day(store: Store) -> None:
    from datetime import UTC, datetime

    store.import_referrals([referral("r1")], "ana")
    store.book("r1", "T1", capacity=1, actor="ana")
    today = datetime.now(UTC).date()
    assert list(export_day(store, today)["referral_id"]) == ["r1"]
    assert export_day(store, today - timedelta(days=1)).empty


# ---------------------------------------------------------------------------------------------
# Passwords


def test_passwords_are_hashed_and_checked(store: Store) -> None:
    store.add_coordinator("ana", "correct horse battery")
    assert store.verify("ana", "correct horse battery")
    assert not store.verify("ana", "correct horse batterY")
    assert not store.verify("nobody", "correct horse battery")
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob(f"{store.path.name}*"))
    assert b"correct horse battery" not in raw
    with sqlite3.connect(store.path) as connection:
        salt, digest = connection.execute("SELECT salt, hash FROM coordinators").fetchone()
    assert len(salt) == 16 and len(digest) == 32


def test_weak_or_duplicate_accounts_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="at least"):
        store.add_coordinator("ana", "short")
    store.add_coordinator("ana", "a long enough one")
    with pytest.raises(StoreError, match="already exists"):
        store.add_coordinator("ana", "another long one")
    assert "a long enough one" not in " ".join(store.audit()["detail"])


# ---------------------------------------------------------------------------------------------
# Two coordinators at the same moment


def _book_at_once(path: str, referral_id: str, start: object, results: object) -> None:
    store = Store(path)
    start.wait()  # type: ignore[attr-defined]
    try:
        store.book(referral_id, "T-scarce", capacity=1, actor=referral_id)
        results.put("booked")  # type: ignore[attr-defined]
    except StoreError:
        results.put("refused")  # type: ignore[attr-defined]


def test_two_processes_cannot_overbook(store: Store) -> None:
    store.import_referrals([referral(f"r{i}") for i in range(6)], "ana")
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        start = context.Barrier(2)
        results = context.Queue()
        workers = [
            context.Process(target=_book_at_once,
                            args=(str(store.path), f"r{2 * round_ + i}", start, results))
            for i in range(2)
        ]  # fmt: skip
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        outcomes = sorted(results.get(timeout=10) for _ in workers)
        assert outcomes == ["booked", "refused"]
        assert store.taken_slots() == {"T-scarce": 1}
        holder = store.assignments()["referral_id"].iloc[0]
        store.release(holder, "ana", "free the slot for the next round")


def test_a_rematch_is_all_or_nothing(store: Store) -> None:
    store.import_referrals([referral("r1"), referral("r2")], "ana")
    store.book("r1", "T1", capacity=1, actor="ana")
    store.book("r2", "T2", capacity=1, actor="ana")
    with pytest.raises(StoreError, match="no open slot left"):
        store.rematch("r1", "T2", capacity=1, actor="ana", reason="repeated ruptures")
    held = dict(store.assignments()[["referral_id", "therapist_id"]].itertuples(index=False))
    assert held == {"r1": "T1", "r2": "T2"}  # the refused rematch released nothing
    store.rematch("r1", "T3", capacity=1, actor="ana", reason="repeated ruptures")
    assert store.taken_slots() == {"T2": 1, "T3": 1}
    assert list(store.audit()["action"][-2:]) == ["release", "override"]


def test_the_same_request_sent_twice_is_one_request(tmp_path: Path) -> None:
    """A second press of "Send my request" added a second request with a new reference (found
    trying the app): the same request from the same browser session the same day is the same
    request, with its latest answers and any risk flag kept. A different choice of therapists
    is a new request."""
    db = Store(tmp_path / "c.db")
    tab = {"today": TODAY, "sender": "tab-1"}
    first = db.request_consultation("Sam", "sam@example.org", ["T1"], prefs(), **tab)
    again = db.request_consultation(" Sam ", "sam@example.org ", ["T1"],
                                    prefs(concerns=["grief"]), risk=True, **tab)  # fmt: skip
    assert again.reference == first.reference and again.repeated and not first.repeated
    [stored] = db.referrals()
    assert stored.preferences.concerns == ("grief",) and stored.crisis
    calm = db.request_consultation("Sam", "sam@example.org", ["T1"], prefs(), **tab)
    assert (
        calm.reference == first.reference and db.referrals()[0].crisis
    )  # a risk flag is never dropped
    other = db.request_consultation("Sam", "sam@example.org", ["T1", "T2"], prefs(), **tab)
    later = db.request_consultation("Sam", "sam@example.org", ["T1"], prefs(), sender="tab-1",
                                    today=TODAY + timedelta(days=1))  # fmt: skip
    assert len({first.reference, other.reference, later.reference}) == 3
    assert not (other.repeated or later.repeated) and len(db.referrals()) == 3
    actions = db.audit()["action"].tolist()
    assert actions.count("consultation request") == 3
    assert actions.count("consultation request sent again") == 2


def test_a_request_from_another_browser_learns_nothing_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """Found trying the app: typing someone's name, email and therapist in another browser was
    told "already sent today", with their reference, and replaced their answers. Only the
    sending browser session's resend is the same request."""
    db = Store(tmp_path / "c.db")
    theirs = db.request_consultation("Sam", "sam@example.org", ["T1"], prefs(concerns=["grief"]),
                                     today=TODAY, sender="tab-1")  # fmt: skip
    for sender in ("tab-2", ""):  # another session; a caller with no session at all
        other = db.request_consultation("Sam", "sam@example.org", ["T1"],
                                        prefs(concerns=["anxiety"]), today=TODAY,
                                        sender=sender)  # fmt: skip
        assert not other.repeated and other.reference != theirs.reference
    kept = next(r for r in db.referrals() if r.referral_id == theirs.reference)
    assert kept.preferences.concerns == ("grief",)
    assert len(db.referrals()) == 3


def test_old_requests_are_forgotten_as_the_form_promises(tmp_path: Path) -> None:
    """REQUEST_DAYS after it was sent, a request nobody acted on is deleted and one a
    coordinator acted on keeps no name or contact; an open offer keeps them until answered.
    Opening the queue is enough: nobody has to send a new request first."""
    from matcher.store import REQUEST_DAYS

    db = Store(tmp_path / "c.db")
    sent = TODAY - timedelta(days=REQUEST_DAYS + 1)
    ignored = db.request_consultation("Ann", "ann@example.org", ["T1"], prefs(), today=sent)
    placed = db.request_consultation("Bo", "+1 614 555 0100", ["T1"], prefs(), today=sent)
    offered = db.request_consultation("Cy", "cy@example.org", ["T2"], prefs(), today=sent)
    recent = db.request_consultation("Di", "di@example.org", ["T2"], prefs(),
                                     today=TODAY - timedelta(days=REQUEST_DAYS))  # fmt: skip
    db.book(placed.reference, "T1", capacity=1, actor="ana")
    db.offer(offered.reference, "T2", capacity=1, actor="ana", days=30)

    db.snapshot(today=TODAY)
    left = {r.referral_id: (r.client_name, r.contact) for r in db.referrals()}
    assert ignored.reference not in left
    assert left[placed.reference] == ("", "")
    assert left[offered.reference] == ("Cy", "cy@example.org")  # the offer is still open
    assert left[recent.reference] == ("Di", "di@example.org")  # 90 days, not yet 91
    assert len(db.assignments()) == 1  # the placement itself is kept
    actions = db.audit()["action"].tolist()
    assert actions.count("delete old requests") == 1
    assert actions.count("erase old contact details") == 1
    db.snapshot(today=TODAY)  # nothing more is due: nothing more is written
    assert db.audit()["action"].tolist() == actions


def test_a_session_opens_two_a_week_after_the_assignment(store: Store) -> None:
    """Found trying the app: 'Check in about another session' offered session 2 on the day of
    the assignment, which the store refused as 'made 0 day(s) ago'. The store now says the day
    a session's check-in opens, and the page offers the next form only from then."""
    from datetime import datetime

    from matcher.store import session_opens

    decided = datetime(2026, 11, 30, 23, 0)
    assert [session_opens(decided, n) for n in (1, 2, 3, 4)] == [
        decided.date() + timedelta(days=d) for d in (0, 4, 7, 11)
    ]
    store.import_referrals([referral("r1")], "ana")
    code = store.book("r1", "T1", capacity=1, actor="ana").checkin_code
    made = datetime.fromisoformat(str(store.assignments()["decided_at"].iloc[0]))
    assert store.next_checkin(code) == (1, made.date())
    store.record_checkin(code, "T1", 1, {"heard": 4}, now=made)
    assert store.next_checkin(code) == (2, made.date() + timedelta(days=4))
    with pytest.raises(StoreError, match="session 2 can't have happened yet: you can check in"):
        store.record_checkin(code, "T1", 2, {"heard": 4}, now=made + timedelta(days=3))
    store.record_checkin(code, "T1", 2, {"heard": 4}, now=made + timedelta(days=4))
    assert store.next_checkin(code) == (3, made.date() + timedelta(days=7))
    assert store.next_checkin("040G-2081-040G-208F") is None  # issued to nobody
