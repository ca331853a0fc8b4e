"""Triage: optimal under capacity, urgent first, crisis routed, every unassigned explained."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import describe_unassigned
from matcher.referrals import Referral, read_referrals
from matcher.scoring import assess
from matcher.triage import Outcome, open_slots, queue_order, triage
from tests.conftest import DATA, ROOT, TODAY, directory_of, prefs, therapist


def referral(rid: str, urgency: str = "routine", days: int = 1, risk: bool = False,
             **preferences: object) -> Referral:  # fmt: skip
    return Referral(rid, TODAY - timedelta(days=days), urgency, risk, False, prefs(**preferences))


def assigned(outcomes: list[Outcome]) -> dict[str, str]:
    return {o.referral.referral_id: o.match.therapist_id for o in outcomes if o.match}


# ---------------------------------------------------------------------------------------------
# Optimality and capacity


CONCERN_POOL = ["anxiety", "depression", "grief", "trauma_ptsd", "ocd"]


@st.composite
def small_cases(draw: st.DrawFn) -> tuple[Directory, list[Referral]]:
    n_therapists = draw(st.integers(1, 4))
    rows = [
        therapist(
            f"t{i}",
            open_slots=draw(st.integers(0, 2)),
            concerns=";".join(
                draw(st.lists(st.sampled_from(CONCERN_POOL), min_size=1, max_size=3, unique=True))
            ),
            rapport_heard=draw(st.sampled_from(["3.0", "4.0", "5.0"])),
            next_opening=(TODAY + timedelta(days=draw(st.integers(0, 40)))).isoformat(),
        )
        for i in range(n_therapists)
    ]
    referrals = [
        referral(
            f"r{j}",
            urgency=draw(st.sampled_from(V.URGENCIES)),
            days=draw(st.integers(0, 30)),
            concerns=draw(
                st.lists(st.sampled_from(CONCERN_POOL), min_size=1, max_size=2, unique=True)
            ),
            priorities={"heard": draw(st.integers(0, 3))},
        )
        for j in range(draw(st.integers(1, 4)))
    ]
    return directory_of(rows), referrals


def brute_force_total(
    d: Directory, referrals: list[Referral], taken: list[Counter[str]] | None = None
) -> list[float]:
    """Best total score of each urgency tier in turn, by trying every assignment.

    Each tier is solved with the slots the tiers before it left. ``taken``: the slots each
    tier actually took (by therapist); without it, the first best choice found. When a tier
    has several best assignments they may leave different slots to the next tier, so the
    next tier's optimum is the one given the choice the engine made."""
    capacity = Counter(open_slots(d))
    scores = {}
    for r in referrals:
        a = assess(d, r.preferences, TODAY)
        scores[r.referral_id] = {
            str(d.ids[row]): float(s) for row, s in zip(a.rows, a.score, strict=True)
        }
    totals = []
    for i, urgency in enumerate(V.URGENCIES):
        tier = [r for r in referrals if r.urgency == urgency]
        best, best_choice = 0.0, ()
        options = [[None, *scores[r.referral_id]] for r in tier]
        for choice in itertools.product(*options):
            used = Counter(t for t in choice if t is not None)
            if any(used[t] > capacity[t] for t in used):
                continue
            total = sum(
                scores[r.referral_id][t] for r, t in zip(tier, choice, strict=True) if t is not None
            )
            if total > best + 1e-12:
                best, best_choice = total, choice
        capacity.subtract(
            taken[i] if taken is not None else Counter(t for t in best_choice if t is not None)
        )
        totals.append(best)
    return totals


def by_tier(outcomes: list[Outcome]) -> tuple[list[float], list[Counter[str]]]:
    """Each urgency tier's total score and the slots it took, by therapist."""
    placed = [o for o in outcomes if o.match is not None]
    totals = [sum(o.match.score for o in placed if o.referral.urgency == u) for u in V.URGENCIES]
    taken = [
        Counter(o.match.therapist_id for o in placed if o.referral.urgency == u)
        for u in V.URGENCIES
    ]
    return totals, taken


@given(case=small_cases())
def test_assignment_equals_the_brute_force_optimum_tier_by_tier(
    case: tuple[Directory, list[Referral]],
) -> None:
    d, referrals = case
    outcomes = triage(d, referrals, TODAY, candidates=len(d))
    totals, taken = by_tier(outcomes)
    assert totals == pytest.approx(brute_force_total(d, referrals, taken), abs=1e-9)


def test_a_tie_in_one_tier_is_judged_with_the_slots_it_left() -> None:
    """Two urgent referrals fit two equal therapists equally well; whichever way the tie goes,
    the next tier is optimal for the slots left (the case hypothesis found: the brute force
    broke the tie one way, the engine the other, and the next tier's best differed)."""
    d = directory_of([
        therapist("t0", concerns="grief", open_slots=1, next_opening=TODAY.isoformat()),
        therapist("t1", concerns="anxiety", open_slots=2, next_opening=TODAY.isoformat()),
    ])  # fmt: skip
    referrals = [
        referral("r0", urgency="urgent", days=0, concerns=["depression"]),  # t0, t1 alike
        referral("r1", urgency="urgent", days=1, concerns=["anxiety"]),
        referral("r2", urgency="soon", days=0, concerns=["anxiety"]),
    ]
    r0 = assess(d, referrals[0].preferences, TODAY)
    assert r0.score[0] == r0.score[1]  # the tie this test is about
    outcomes = triage(d, referrals, TODAY, candidates=len(d))
    totals, taken = by_tier(outcomes)
    assert len(assigned(outcomes)) == 3
    assert totals == pytest.approx(brute_force_total(d, referrals, taken), abs=1e-9)
    # This case is the one that matters: the engine gave r0 the second anxiety slot, so the
    # tier after it does worse than it would had the tie gone the other way. Each tier is
    # optimal for the slots left, not the best over the tiers together (a known limit).
    assert totals[1] < brute_force_total(d, referrals)[1]


@given(case=small_cases())
def test_capacity_is_never_exceeded(case: tuple[Directory, list[Referral]]) -> None:
    d, referrals = case
    used = Counter(assigned(triage(d, referrals, TODAY)).values())
    slots = open_slots(d)
    assert all(used[t] <= slots.get(t, 0) for t in used)


def test_the_demo_queue_respects_capacity_and_routes_every_risk_flag() -> None:
    from matcher.directory import load_directory

    d = load_directory(DATA / "therapists.csv")
    queue = read_referrals(DATA / "referrals.csv")
    outcomes = triage(d, queue, TODAY)
    used = Counter(assigned(outcomes).values())
    assert all(used[t] <= n for t, n in open_slots(d).items())
    for outcome in outcomes:
        assert (outcome.status == "crisis") == outcome.referral.crisis
        assert (outcome.match is None) == (outcome.status != "assigned")
        if outcome.status != "assigned":
            assert outcome.unassigned is not None
    statuses = [o.status for o in outcomes]
    assert statuses[: statuses.count("crisis")] == ["crisis"] * statuses.count("crisis")


# ---------------------------------------------------------------------------------------------
# Priorities and reasons


def test_urgent_referrals_win_scarce_slots() -> None:
    d = directory_of([therapist("only", open_slots=1, concerns="anxiety;grief")])
    routine_but_better = referral("routine", "routine", days=60, concerns=["anxiety", "grief"])
    urgent_but_worse = referral("urgent", "urgent", days=0, concerns=["anxiety", "ocd"])
    outcomes = triage(d, [routine_but_better, urgent_but_worse], TODAY)
    assert assigned(outcomes) == {"urgent": "only"}
    loser = next(o for o in outcomes if o.referral.referral_id == "routine")
    assert loser.unassigned is not None and loser.unassigned.kind == "taken"
    assert "given to more urgent" in describe_unassigned(
        loser.unassigned, loser.referral.preferences
    )


def test_risk_flags_go_to_the_crisis_protocol_and_are_never_assigned() -> None:
    d = directory_of([therapist("t", open_slots=5)])
    outcomes = triage(d, [referral("r1", "routine", risk=True), referral("r2")], TODAY)
    assert [(o.referral.referral_id, o.status) for o in outcomes] == [
        ("r1", "crisis"),
        ("r2", "assigned"),
    ]
    assert "988" in describe_unassigned(outcomes[0].unassigned, outcomes[0].referral.preferences)  # type: ignore[arg-type]


def test_unassigned_reasons_name_what_is_missing() -> None:
    d = directory_of(
        [
            therapist("nc_full", open_slots=0, languages="English;Spanish"),
            therapist("nc_english", open_slots=2, languages="English"),
        ]
    )
    outcomes = triage(
        d,
        [
            referral("nv", state="NV"),
            referral("spanish", language="Spanish"),
            referral("mandarin", language="Mandarin"),
        ],
        TODAY,
    )
    words = {
        o.referral.referral_id: describe_unassigned(o.unassigned, o.referral.preferences)
        for o in outcomes
        if o.unassigned
    }
    assert words == {
        "nv": "no therapist in this directory is licensed in Nevada",
        "spanish": "capacity: the 1 therapist who fit are full",
        "mandarin": "no therapist licensed in North Carolina speaks Mandarin",
    }


def test_queue_order_is_risk_then_urgency_then_waiting() -> None:
    queue = [
        referral("routine_old", "routine", days=30),
        referral("urgent_new", "urgent", days=0),
        referral("soon_old", "soon", days=20),
        referral("urgent_old", "urgent", days=9),
        referral("risk", "routine", risk=True),
    ]
    assert [r.referral_id for r in queue_order(queue, TODAY)] == [
        "risk", "urgent_old", "urgent_new", "soon_old", "routine_old",
    ]  # fmt: skip


def test_alternates_exclude_the_assigned_therapist() -> None:
    d = directory_of([therapist(f"t{i}", open_slots=1) for i in range(5)])
    [outcome] = triage(d, [referral("r")], TODAY)
    assert outcome.match is not None
    assert len(outcome.alternates) == 3
    assert outcome.match.therapist_id not in {c.therapist_id for c in outcome.alternates}


def test_explicit_slots_override_the_directory() -> None:
    d = directory_of([therapist("a", open_slots=3), therapist("b", open_slots=3)])
    outcomes = triage(d, [referral("r1"), referral("r2")], TODAY, slots={"a": 1, "b": 0})
    assert Counter(assigned(outcomes).values()) == {"a": 1}


def test_progress_is_reported() -> None:
    d = directory_of([therapist("a")])
    seen: list[tuple[int, int]] = []
    triage(d, [referral("r1"), referral("r2"), referral("r3", risk=True)], TODAY,
           progress=lambda *x: seen.append(x))  # fmt: skip
    assert seen == [(3, 3)]  # one block of one state; the crisis referral needs no scoring


# ---------------------------------------------------------------------------------------------
# Command line


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcher", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)  # fmt: skip


def test_cli_triage_writes_one_row_per_referral(tmp_path: Path) -> None:
    out = tmp_path / "assignments.csv"
    result = run("triage", "--directory", str(DATA / "therapists.csv"), "--referrals",
                 str(DATA / "referrals.csv"), "--out", str(out), "--today", "2026-11-22")  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["referral_id", "status", "therapist_id", "score", "reasons",
                                   "unassigned_reason", "alternates"]  # fmt: skip
    assert len(table) == 80 and set(table["status"]) == {"assigned", "unassigned", "crisis"}
    assert (table.loc[table["status"] != "assigned", "unassigned_reason"] != "").all()


def test_cli_triage_refuses_a_bad_queue_without_writing(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False)
    frame.loc[4, "urgency"] = "yesterday"
    bad = tmp_path / "queue.csv"
    frame.to_csv(bad, index=False)
    out = tmp_path / "out.csv"
    result = run("triage", "--directory", str(DATA / "therapists.csv"), "--referrals", str(bad),
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert 'queue.csv, row 6, column urgency: "yesterday"' in result.stderr
    assert not out.exists()


def test_exports_neutralise_formulas(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(3)
    frame.loc[0, "referral_id"] = '=HYPERLINK("http://x")'
    frame.loc[1, "referral_id"] = "@SUM(A1)"
    queue = tmp_path / "q.csv"
    frame.to_csv(queue, index=False)
    result = run("triage", "--directory", str(DATA / "therapists.csv"), "--referrals", str(queue))
    assert result.returncode == 0, result.stderr
    ids = pd.read_csv(pd.io.common.StringIO(result.stdout), dtype=str)["referral_id"]
    assert {'\'=HYPERLINK("http://x")', "'@SUM(A1)"} <= set(ids)


def test_referral_waiting_days() -> None:
    r = referral("r", days=5)
    assert r.waiting_days(TODAY) == 5
    assert r.waiting_days(date(2000, 1, 1)) == 0
