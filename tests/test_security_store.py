"""The outside audit's attacks on the coordinator database, each replayed against the store:
sign-in guessing, cheap hashes, a world-readable file, huge comments, half-done batches."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import matcher.store
from matcher.store import (
    MAX_COMMENT,
    MAX_SIGN_IN_WAIT_S,
    SIGN_IN_WINDOW,
    BookingRequest,
    Store,
    StoreError,
)
from matcher.vocabulary import ITEMS
from tests.test_store import referral

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # sign-in times are passed in: no sleeping


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "matcher.db")


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests about back-off, not hashing: scrypt at 2**10 instead of ~0.3 s a check."""
    monkeypatch.setattr(matcher.store, "SCRYPT_N", 2**10)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which SQLite alone would create 0644 files."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# ---------------------------------------------------------------------------------------------
# Attack: guessing passwords from many sessions at once


def test_wrong_passwords_slow_the_account_doubling_up_to_a_cap(
    store: Store, cheap_hashes: None
) -> None:
    store.add_coordinator("ana", PASSWORD)
    now, waits = T0, []
    for _ in range(14):  # each guess made as soon as it is allowed, as an attacker would
        attempt = store.sign_in("ana", "not the password", now=now)
        assert not attempt.ok
        waits.append(attempt.wait_s)
        now += timedelta(seconds=attempt.wait_s)
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, MAX_SIGN_IN_WAIT_S, 300, 300]
    assert MAX_SIGN_IN_WAIT_S <= 300  # a few minutes at most: never a lock-out


def test_an_early_try_is_not_checked_and_the_right_password_works_after_the_wait(
    store: Store, cheap_hashes: None
) -> None:
    store.add_coordinator("ana", PASSWORD)
    for _ in range(3):
        store.sign_in("ana", "wrong guess", now=T0)
    assert store.sign_in_wait("ana", now=T0) == 1
    early = store.sign_in("ana", PASSWORD, now=T0 + timedelta(seconds=0.25))
    assert (early.ok, early.checked, early.wait_s) == (False, False, 0.75)  # though right
    assert store.sign_in_wait("ana", now=T0) == 1  # and an unchecked try does not count
    assert store.sign_in("ana", PASSWORD, now=T0 + timedelta(seconds=1)).ok
    assert store.sign_in_wait("ana", now=T0 + timedelta(seconds=1)) == 0  # success clears it


def test_sessions_do_not_multiply_guesses(store: Store, cheap_hashes: None) -> None:
    """The back-off is kept in the database, so eight sessions (or processes) share it: the
    audit's eight sessions guessed 88 passwords a minute; here they get 8 checked."""
    store.add_coordinator("ana", PASSWORD)
    sessions = [Store(store.path) for _ in range(8)]
    for second in range(60):
        for session in sessions:
            session.sign_in("ana", f"guess {second}", now=T0 + timedelta(seconds=second))
    actions = store.audit()["action"]
    # checked at 0 s (three free), 1, 3, 7, 15 and 31 s; every other try refused unchecked
    assert (actions == "failed sign-in").sum() == 8
    assert (actions == "sign-in refused").sum() == 8 * 60 - 8


def test_failures_older_than_the_window_are_forgotten(store: Store, cheap_hashes: None) -> None:
    for _ in range(6):
        store.sign_in("ana", "wrong", now=T0)
    assert store.sign_in_wait("ana", now=T0) > 0
    assert store.sign_in_wait("ana", now=T0 + SIGN_IN_WINDOW + timedelta(seconds=1)) == 0


def test_one_source_spraying_many_accounts_is_slowed_but_others_are_not(
    store: Store, cheap_hashes: None
) -> None:
    for name in ("ana", "ben", "cy"):
        store.sign_in(name, "Summer2026!", source="203.0.113.9", now=T0)
    assert store.sign_in_wait("eve", source="203.0.113.9", now=T0) == 1
    assert store.sign_in_wait("eve", source="198.51.100.7", now=T0) == 0
    assert store.sign_in_wait("eve", now=T0) == 0


def test_every_failed_sign_in_is_audited_without_the_password(
    store: Store, cheap_hashes: None
) -> None:
    store.add_coordinator("ana", PASSWORD)
    for _ in range(3):
        store.sign_in("ana", "hunter2-secret", source="203.0.113.9", now=T0)
    store.sign_in("nobody", "hunter2-secret", now=T0)
    store.sign_in("ana", "hunter2-secret", now=T0)  # within the wait: refused unchecked
    store.sign_in("ana", PASSWORD, now=T0 + timedelta(minutes=1))  # success: not a failure
    log = store.audit()
    refusals = log[log["action"].isin(["failed sign-in", "sign-in refused"])]
    assert list(zip(refusals["actor"], refusals["action"], strict=True)) == [
        ("ana", "failed sign-in"),
        ("ana", "failed sign-in"),
        ("ana", "failed sign-in"),
        ("nobody", "failed sign-in"),
        ("ana", "sign-in refused"),
    ]
    assert refusals["detail"].iloc[0] == "from 203.0.113.9"
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob(f"{store.path.name}*"))
    assert b"hunter2-secret" not in raw


def test_an_absurd_username_is_clipped_before_it_is_kept(store: Store, cheap_hashes: None) -> None:
    store.sign_in("x" * 1_000_000, "wrong", now=T0)
    assert len(store.audit()["actor"].iloc[-1]) == matcher.store.MAX_NAME


# ---------------------------------------------------------------------------------------------
# Attack: hashes cheaper than today's minimum


def test_new_passwords_are_hashed_at_owasps_minimum(store: Store) -> None:
    store.add_coordinator("ana", PASSWORD)
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("SELECT n, r, p FROM coordinators").fetchone() == (2**17, 8, 1)
    assert store.verify("ana", PASSWORD)


def test_an_old_hash_is_upgraded_on_the_next_sign_in(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_release:
        old_release.setattr(matcher.store, "SCRYPT_N", 2**14)  # what the first release used
        store.add_coordinator("ana", PASSWORD)

    def stored() -> tuple[bytes, bytes, int, int, int]:
        with sqlite3.connect(store.path) as connection:
            row = connection.execute("SELECT salt, hash, n, r, p FROM coordinators").fetchone()
        return row  # type: ignore[no-any-return]

    before = stored()
    assert before[2:] == (2**14, 8, 1)
    assert not store.sign_in("ana", "wrong password").ok
    assert stored() == before  # a wrong password changes nothing
    assert store.sign_in("ana", PASSWORD, now=datetime.now(UTC) + timedelta(minutes=1)).ok
    after = stored()
    assert after[2:] == (2**17, 8, 1)
    assert after[0] != before[0] and after[1] != before[1]  # new salt, new hash
    assert store.verify("ana", PASSWORD)
    assert not store.verify("ana", "wrong password")


# ---------------------------------------------------------------------------------------------
# Attack: reading the database as another user on the machine


def test_a_new_database_its_wal_and_its_folder_are_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    store = Store(tmp_path / "private" / "matcher.db")
    with sqlite3.connect(store.path) as reader:  # an open connection keeps the WAL and SHM
        reader.execute("SELECT COUNT(*) FROM audit").fetchone()
        store.import_referrals([referral("r1")], "ana")
        files = [store.path, Path(f"{store.path}-wal"), Path(f"{store.path}-shm")]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(store.path.parent) == 0o700


def test_an_existing_world_readable_database_is_made_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "matcher.db"
    reader = sqlite3.connect(path)  # made as SQLite makes it by itself: 0644, WAL files too
    reader.execute("PRAGMA journal_mode = WAL")
    reader.execute("CREATE TABLE t (x)")
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    try:
        assert [mode(f) for f in files] == [0o644] * 3
        Store(path)
        assert [mode(f) for f in files] == [0o600] * 3
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------------
# Attack: a 2 MB check-in comment


def booked_code(store: Store) -> str:
    store.import_referrals([referral("r1")], "ana")
    return store.book("r1", "T1", capacity=1, actor="ana").checkin_code


def test_a_comment_is_at_most_the_documented_length(store: Store) -> None:
    code = booked_code(store)
    ratings = dict.fromkeys(ITEMS, 4)
    with pytest.raises(StoreError, match="at most 2,000 characters"):
        store.record_checkin(code, "T1", 1, ratings, comment="x" * (MAX_COMMENT + 1))
    with pytest.raises(StoreError, match="at most"):
        store.record_checkin(code, "T1", 1, ratings, comment="spam " * 400_000)
    assert store.checkins_for(code) == []
    store.record_checkin(code, "T1", 1, ratings, comment="y" * MAX_COMMENT)  # the limit is fine
    assert len(store.checkins_for(code)[0].comment) == MAX_COMMENT


# ---------------------------------------------------------------------------------------------
# Attack: "Accept all" failing half-way


def test_a_batch_books_what_it_can_and_says_why_not_for_the_rest(store: Store) -> None:
    store.import_referrals([referral(r) for r in ("r1", "r2", "r3", "r4")], "ana")
    store.book("r4", "T3", capacity=1, actor="ben")
    requests = [
        BookingRequest("r1", "T1", 0.9),
        BookingRequest("r2", "T1", 0.8),  # T1 has one slot: r1 took it
        BookingRequest("r3", "T2", 0.7, reason="proposed"),
        BookingRequest("r4", "T2", 0.6),  # already with T3
        BookingRequest("gone", "T2", 0.5),
    ]
    result = store.book_all(requests, {"T1": 1, "T2": 5, "T3": 1}, actor="ana")
    assert [(b.referral_id, b.therapist_id) for b in result.booked] == [("r1", "T1"), ("r3", "T2")]
    assert [(r.request.referral_id, r.why) for r in result.refused] == [
        ("r2", "T1 has no open slot left (1 of 1 taken)"),
        ("r4", "referral r4 is already assigned to T3"),
        ("gone", "referral gone is not in the queue"),
    ]
    held = dict(store.assignments()[["referral_id", "therapist_id"]].itertuples(index=False))
    assert held == {"r1": "T1", "r3": "T2", "r4": "T3"}
    log = store.audit()
    accepted = log[(log["action"] == "accepted") & (log["actor"] == "ana")]
    assert list(zip(accepted["referral_id"], accepted["therapist_id"], strict=True)) == [
        ("r1", "T1"),
        ("r3", "T2"),
    ]
    assert store.assignments().set_index("referral_id").loc["r1", "score"] == 0.9


def test_a_batch_that_fails_midway_books_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_referrals([referral(r) for r in ("r1", "r2", "r3")], "ana")
    audit = matcher.store._audit
    calls = []

    def failing_on_the_second_booking(*args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) == 2:  # after the second assignment row is written, before its audit
            raise sqlite3.OperationalError("disk I/O error")
        audit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(matcher.store, "_audit", failing_on_the_second_booking)
    requests = [BookingRequest(r, "T1", 0.5) for r in ("r1", "r2", "r3")]
    with pytest.raises(sqlite3.OperationalError):
        store.book_all(requests, {"T1": 3}, actor="ana")
    monkeypatch.undo()
    assert store.assignments().empty
    assert store.taken_slots() == {}
    assert list(store.audit()["action"]) == ["import referrals"]


def test_a_batch_books_the_same_as_one_by_one(tmp_path: Path) -> None:
    requests = [BookingRequest(f"r{i}", f"T{i % 3}", i / 10) for i in range(9)]
    capacity = {"T0": 2, "T1": 3, "T2": 1}
    batch, single = Store(tmp_path / "batch.db"), Store(tmp_path / "single.db")
    for db in (batch, single):
        db.import_referrals([referral(r.referral_id) for r in requests], "ana")
    result = batch.book_all(requests, capacity, actor="ana")
    for r in requests:
        with contextlib.suppress(StoreError):
            single.book(r.referral_id, r.therapist_id, capacity[r.therapist_id], "ana", r.score)
    columns = ["referral_id", "therapist_id", "score", "kind"]
    assert batch.assignments()[columns].equals(single.assignments()[columns])
    assert len(result.booked) + len(result.refused) == len(requests)


def test_failures_past_the_window_are_pruned(store: Store, cheap_hashes: None) -> None:
    for _ in range(3):
        store.sign_in("ana", "wrong", now=T0)
    store.sign_in("ben", "wrong", now=T0 + SIGN_IN_WINDOW + timedelta(seconds=1))
    with sqlite3.connect(store.path) as connection:
        kept = connection.execute("SELECT username FROM failed_sign_ins").fetchall()
    assert kept == [("ben",)]


def test_hashes_are_computed_a_few_at_a_time(
    store: Store, cheap_hashes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each check takes 128 MiB, so a burst of sign-ins must queue, not all run at once."""
    running, most = 0, 0
    lock = threading.Lock()
    scrypt = hashlib.scrypt

    def slow_scrypt(*args: Any, **kwargs: Any) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", slow_scrypt)
    threads = [threading.Thread(target=store.verify, args=("ana", "guess")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
