"""Check-ins: ruptures and rematch, code misuse refused, import validated, the loop closes."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from matcher import codes
from matcher import vocabulary as V
from matcher.checkins import (
    CheckIn,
    ImportedCheckIn,
    read_checkins,
    rupture,
    rupture_state,
    totals,
    with_checkins,
)
from matcher.directory import Directory, load_directory
from matcher.explain import describe_rupture, explain
from matcher.referrals import Referral
from matcher.schema import InvalidInput
from matcher.scoring import rank
from matcher.store import Store, StoreError
from tests.conftest import DATA, ROOT, TODAY, backdate_assignments, prefs

GOOD = dict.fromkeys(V.ITEMS, 4)


def checkin(session: int, **ratings: int) -> CheckIn:
    return CheckIn("T1", session, {**GOOD, **ratings}, TODAY)


# ---------------------------------------------------------------------------------------------
# Rupture rules


def test_low_on_a_prioritised_item_is_a_rupture() -> None:
    client = prefs(priorities={"heard": 3, "clear_plan": 1})
    found = rupture(checkin(1, heard=2), None, client)
    assert found is not None and found.low == ("heard",)
    assert "feeling heard low" in describe_rupture(found)


def test_low_on_an_item_the_client_did_not_prioritise_is_not() -> None:
    assert rupture(checkin(1, clear_plan=1), None, prefs(priorities={"clear_plan": 1})) is None


def test_a_sharp_drop_is_a_rupture() -> None:
    found = rupture(checkin(2, safe=2), checkin(1, safe=5), prefs())
    assert found is not None and found.dropped == ("safe",)
    assert rupture(checkin(2, safe=4), checkin(1, safe=5), prefs()) is None


def test_first_rupture_suggests_repair_and_the_second_a_rematch() -> None:
    client = prefs(priorities={"heard": 3})
    assert rupture_state([], client) is None
    assert rupture_state([checkin(1)], client) is None
    first = rupture_state([checkin(1), checkin(2, heard=1)], client)
    assert first is not None and (first.ruptures, first.step) == (1, "repair")
    second = rupture_state([checkin(3, heard=2), checkin(1), checkin(2, heard=1)], client)
    assert second is not None and (second.ruptures, second.step) == (2, "rematch")


# ---------------------------------------------------------------------------------------------
# Codes


@pytest.fixture
def booked(private_database: Path) -> tuple[Store, str]:
    store = Store(private_database)
    referral = Referral("R1", TODAY - timedelta(days=3), "routine", False, False,
                        prefs(priorities={"heard": 3}))  # fmt: skip
    store.import_referrals([referral], "ana")
    return store, store.book("R1", "T0000010", capacity=1, actor="ana").checkin_code


def test_a_code_rates_only_its_own_therapist_once_per_session(booked: tuple[Store, str]) -> None:
    store, code = booked
    assert store.checkin_target(code) == ("R1", "T0000010")
    assert store.record_checkin(code, "T0000010", 1, GOOD, "kind and clear") == "R1"
    with pytest.raises(StoreError, match="already has a check-in"):
        store.record_checkin(code, "T0000010", 1, GOOD)
    with pytest.raises(StoreError, match="different therapist"):
        store.record_checkin(code, "T0000099", 2, GOOD)
    with pytest.raises(StoreError, match="not a check-in item"):
        store.record_checkin(code, "T0000010", 2, {"warmth": 5})
    with pytest.raises(StoreError, match="from 1 to 5"):
        store.record_checkin(code, "T0000010", 2, {**GOOD, "heard": 6})
    assert [c.session for c in store.checkins_for(code)] == [1]


def test_a_skipped_item_is_missing_not_a_rating(booked: tuple[Store, str]) -> None:
    store, code = booked
    with pytest.raises(StoreError, match="at least one"):
        store.record_checkin(code, "T0000010", 1, {})
    store.record_checkin(code, "T0000010", 1, {"heard": 5, "safe": 3})
    [stored] = store.checkins_for(code)
    assert stored.ratings == {"heard": 5, "safe": 3}
    [(therapist, ratings)] = store.checkin_ratings()
    assert therapist == "T0000010" and ratings.count(None) == len(V.ITEMS) - 2
    # Measured rapport: the answered items carry the level (4.0); a skipped item is that level,
    # never the scale's midpoint or a default.
    counts, sums = totals(load_directory(DATA / "therapists.csv"), [(therapist, ratings)])
    assert counts.sum() == 1
    assert sorted(set(sums[counts == 1][0])) == [3.0, 4.0, 5.0]
    # Only a comment: the coordinator sees it; nothing is counted as rapport.
    backdate_assignments(store.path, days=7)
    store.record_checkin(code, "T0000010", 2, {}, "I'd like to talk to someone")
    assert totals(load_directory(DATA / "therapists.csv"), store.checkin_ratings())[0].sum() == 1


def test_wrong_and_mistyped_codes_are_refused(booked: tuple[Store, str]) -> None:
    store, code = booked
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    with pytest.raises(StoreError, match="mistyped"):
        store.record_checkin(typo, "T0000010", 1, GOOD)
    assert store.checkin_target(typo) is None
    assert store.checkin_target(codes.EXAMPLE) is None  # well formed, never issued
    assert store.checkin_target(code.lower()) == ("R1", "T0000010")  # still works, any case


def test_the_audit_log_records_checkins_without_their_content(
    booked: tuple[Store, str],
) -> None:
    store, code = booked
    store.record_checkin(code, "T0000010", 1, GOOD, "a private comment")
    log = store.audit()
    assert "check-in" in set(log["action"])
    assert "a private comment" not in " ".join(log["detail"])


# ---------------------------------------------------------------------------------------------
# The loop: check-ins change the ranking and its explanation


def test_strong_heard_checkins_lift_a_therapist_for_a_client_who_prioritises_heard(
    booked: tuple[Store, str], demo: Directory
) -> None:
    store, _ = booked
    client = prefs(priorities={"heard": 3}, concerns=["anxiety"])
    before = rank(demo, client, top=200, today=TODAY)
    ids = [m.therapist_id for m in before.matches]
    target = next(  # low in the list, few check-ins so far, works with the client's concern
        t
        for t in reversed(ids)
        if 0 < demo.checkins_n[demo.row(t)] <= 10
        and demo.tags["concerns"].has("anxiety")[demo.row(t)]
    )
    strong = {**GOOD, "heard": 5}
    store.import_checkins([ImportedCheckIn(target, TODAY, s, strong) for s in range(1, 41)],
                          "clinic")  # fmt: skip

    after = rank(with_checkins(demo, store.checkin_ratings()), client, top=200, today=TODAY)
    new_ids = [m.therapist_id for m in after.matches]
    assert new_ids.index(target) < ids.index(target)
    n = int(demo.checkins_n[demo.row(target)]) + 40
    match = next(m for m in after.matches if m.therapist_id == target)
    assert match.rapport.checkins_n == n
    words = explain(match, client)
    assert f"over {n:,} check-ins" in " ".join([*words.reasons, words.shortfall or ""])


# ---------------------------------------------------------------------------------------------
# Bulk import


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcher", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)  # fmt: skip


def feedback(rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "therapist_id": ["T0000001"] * rows,
            "date": [(date(2026, 10, 1) + timedelta(days=7 * i)).isoformat() for i in range(rows)],
            "session": list(range(1, rows + 1)),
            **{item: [4] * rows for item in V.ITEMS},
        }
    )


def test_bulk_import(tmp_path: Path, private_database: Path) -> None:
    path = tmp_path / "feedback.csv"
    feedback().to_csv(path, index=False)
    result = run("checkins", "import", str(path), "--directory", str(DATA / "therapists.csv"))
    assert result.returncode == 0, result.stderr
    assert "Imported 3 check-ins" in result.stdout
    assert len(Store(private_database).checkin_ratings()) == 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("heard", 6), 'row 3, column heard: "6" — expected a whole number from 1 to 5'),
        (("session", "first"), 'row 3, column session: "first" — expected a whole number'),
        (("date", "last week"), 'row 3, column date: "last week" — expected a date'),
        (("therapist_id", "T9999999"), "no therapist with this id in therapists.csv"),
    ],
)
def test_bad_imports_are_refused_whole(
    tmp_path: Path, private_database: Path, change: tuple[str, object], expected: str
) -> None:
    frame = feedback().astype(object)
    frame.loc[1, change[0]] = change[1]
    path = tmp_path / "feedback.csv"
    frame.to_csv(path, index=False)
    result = run("checkins", "import", str(path), "--directory", str(DATA / "therapists.csv"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr
    assert Store(private_database).checkin_ratings() == []


def test_one_reader_types_the_file_and_a_blank_item_is_skipped(tmp_path: Path) -> None:
    frame = feedback().astype(object)
    frame.loc[0, "heard"] = ""
    path = tmp_path / "feedback.csv"
    frame.to_csv(path, index=False)
    rows = read_checkins(path, load_directory(DATA / "therapists.csv"))
    assert len(rows) == len(frame) and isinstance(rows[0].day, date)
    assert "heard" not in rows[0].ratings and len(rows[0].ratings) == len(V.ITEMS) - 1
    assert rows[1].ratings == {item: int(frame.loc[1, item]) for item in V.ITEMS}
    frame.loc[2, list(V.ITEMS)] = ""
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput) as refused:
        read_checkins(path)
    [problem] = refused.value.problems
    assert problem.row == 4 and "rates no item" in problem.message


def test_a_missing_item_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "feedback.csv"
    feedback().drop(columns=["honest"]).to_csv(path, index=False)
    result = run("checkins", "import", str(path))
    assert result.returncode == 1
    assert "column honest: this required column is missing" in result.stderr


def test_unknown_therapists_are_ignored_by_the_ranking(demo: Directory) -> None:
    assert with_checkins(demo, [("nobody", tuple([5] * 9))]) is demo
    assert load_directory(DATA / "therapists.csv").checkins_n.sum() == demo.checkins_n.sum()
