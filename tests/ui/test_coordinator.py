"""Coordinator pages through AppTest: sign in, import, assign, accept, override, export, audit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from matcher.referrals import read_referrals
from matcher.store import Store
from matcher.ui.common import AUDIT, QUEUE
from tests.conftest import DATA, prefs
from tests.ui.pages import PASSWORD, on_page, sign_in


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("MATCHER_DB", str(tmp_path / "coordinator.db"))
    created = Store()
    created.add_coordinator("ana", PASSWORD)
    return created


def signed_in(page: str = QUEUE) -> AppTest:
    return sign_in(on_page(page))


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_queue_needs_a_sign_in(store: Store) -> None:
    at = on_page(QUEUE)
    assert "for your clinic's intake coordinators" in at.info[0].value
    assert "make run" not in at.info[0].value and "python -m" not in at.info[0].value
    assert not at.dataframe


def test_a_wrong_password_is_refused(store: Store) -> None:
    at = sign_in(on_page(QUEUE), password="not-the-password")
    assert "do not match" in at.error[0].value
    assert "coordinator" not in at.session_state


def test_import_assign_accept_override_release_export(store: Store) -> None:
    at = signed_in()
    assert "The queue is empty" in at.info[0].value
    click(at, "import_demo")
    assert "Imported 80 new referral(s)" in at.success[0].value

    held = [e.value for e in at.error if "crisis protocol" in e.value]
    assert held, "risk-flagged referrals are held at the top"
    queue = at.dataframe[0].value
    assert len(queue) == 80
    assert set(queue.loc[queue["status"] == "crisis hold", "referral"]) == {
        r for r in queue["referral"] if r in held[0]
    }

    click(at, "propose")
    proposal = at.dataframe[1].value
    assert "crisis hold" not in set(
        queue.loc[queue["referral"].isin(proposal["referral"]), "status"]
    )
    assert proposal["proposed therapist"].ne("").sum() > 50
    unassigned = proposal.loc[proposal["proposed therapist"].eq(""), "why / why not"]
    assert len(unassigned) and all(why[:1].isupper() for why in unassigned)  # a sentence

    # override one referral with an alternate, with a reason
    first = at.selectbox(key="review").value
    at.text_input(key="override_reason").input("client asked for evening sessions")
    click(at, "override")
    assert f"{first} assigned to" in at.success[0].value

    # accept the rest
    accept_all = next(b for b in at.button if b.key == "accept_all")
    accept_all.click()
    at.run()
    assert not at.exception
    accepted = store.assignments()
    assert len(accepted) == proposal["proposed therapist"].ne("").sum()
    assert (accepted["kind"] == "override").sum() == 1

    # release one: its slot comes back; the list says with whom, the confirmation what next
    with_whom = dict(store.assignments()[["referral_id", "therapist_id"]].values.tolist())
    picker = at.selectbox(key="release_pick")
    for rid, label in zip(sorted(with_whom), picker.options, strict=True):  # labels, in order
        assert f"({with_whom[rid]})" in label  # "R00001 — with Grace Thomas (T0000643)"
    picker.set_value(first)
    at.text_input(key="release_reason").input("client found care elsewhere")
    click(at, "release")
    assert first not in set(store.assignments()["referral_id"])
    assert "no proposal will offer that therapist for it again" in at.success[0].value

    # today's export, spreadsheet-safe, holds every decision
    export = at.get("download_button")
    assert any(getattr(b, "label", "") == "Download today's assignments (CSV)" for b in export)

    log = store.audit()
    assert list(log["action"][:2]) == ["add coordinator", "import referrals"]
    assert {"override", "accepted", "release"} <= set(log["action"])
    assert (log.loc[log["action"] == "accepted", "actor"] == "ana").all()


def test_a_bad_referral_file_imports_nothing(store: Store) -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False)
    frame.loc[10, "state"] = "Nowhere"
    at = signed_in()
    at.file_uploader(key="referrals_upload").set_value(
        ("queue.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert not at.exception
    assert "Nothing was imported: 1 problem(s)" in at.error[0].value
    problems = at.table[0].value  # static, as on the directory page: each message read whole
    assert (problems.loc[0, "row"], problems.loc[0, "column"]) == ("12", "state")
    assert problems.loc[0, "problem"].startswith("unknown state")
    assert store.referrals() == []


def test_the_audit_log_page_is_newest_first_and_filters(store: Store) -> None:
    store.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    store.book("R00001", "T0000010", capacity=1, actor="ana")
    at = signed_in(AUDIT)
    assert at.title[0].value == "Audit log"
    actions = list(at.dataframe[0].value["action"])
    assert actions[-1] == "add coordinator" and actions[0] != "add coordinator"
    at.text_input(key="audit_referral").input("R00001").run()
    assert set(at.dataframe[0].value["referral_id"]) == {"R00001"}
    at.text_input(key="audit_referral").input("").run()
    at.multiselect(key="audit_action").set_value(["import referrals"]).run()
    assert list(at.dataframe[0].value["action"]) == ["import referrals"]
    assert at.dataframe[0].value["therapist"].eq("").all()  # blank, never "None"
    at.multiselect(key="audit_action").set_value([]).run()
    # A therapist by name as well as id (ids alone had meant nothing on screen), found by
    # either; times are datetimes, shown in US style by the grid, not ISO strings
    name = (
        pd.read_csv(DATA / "therapists.csv", dtype=str)
        .set_index("therapist_id")
        .loc["T0000010", "name"]
    )
    at.text_input(key="audit_therapist").input(name.split()[0]).run()
    shown = at.dataframe[0].value
    assert f"{name} (T0000010)" in set(shown["therapist"])
    assert pd.api.types.is_datetime64_any_dtype(shown["at"])


def test_a_held_referral_is_assigned_only_by_hand_with_a_note(store: Store) -> None:
    at = signed_in()
    click(at, "import_demo")
    hold = at.selectbox(key="hold_pick").value
    click(at, "hold_assign")  # no note: refused, nothing booked
    assert any("needs a reason" in e.value for e in at.error)
    assert store.assignments().empty
    at.text_input(key="hold_note").input("called back; safety plan agreed with a clinician")
    click(at, "hold_assign")
    booked = store.assignments()
    assert list(booked["referral_id"]) == [hold]
    assert booked.loc[0, "reason"].startswith("after crisis protocol: called back")


def test_a_consultation_request_gets_an_offer_then_the_clients_answer(store: Store) -> None:
    store.import_referrals(read_referrals(DATA / "referrals.csv"), "ana")
    from matcher.directory import load_directory
    from matcher.triage import open_slots

    slots = open_slots(load_directory(DATA / "therapists.csv"))
    wanted = next(t for t, n in sorted(slots.items()) if n > 0)
    reference = store.request_consultation(
        "Jo <script>", "jo@example.org", [wanted], prefs(concerns=["anxiety"])
    ).reference
    at = signed_in()
    assert any(h.value == "Consultation requests" for h in at.header)
    assert any("Jo <script>" in m.value.replace("\\", "") for m in at.markdown)  # as text
    # The contact alone in a copyable block: copied, it is exactly what the client gave
    # (Markdown's guard against auto-links had put an invisible U+2060 before the "@")
    assert "jo@example.org" in [c.value for c in at.code]  # alone, with a copy button
    assert at.selectbox(key=f"offer_pick_{reference}").value == wanted  # asked for, first
    click(at, f"offer_{reference}")
    assert "Offer recorded" in at.success[0].value
    queue = at.dataframe[0].value
    assert queue.loc[queue["referral"] == reference, "status"].item() == "offer open"
    click(at, f"offer_yes_{reference}")
    confirmed = at.success[0].value.replace("\\", "")
    assert "accepted: assigned to" in confirmed
    [booked] = store.assignments()[["referral_id", "therapist_id", "checkin_code"]].values.tolist()
    assert booked[:2] == [reference, wanted]
    assert f"Give the client their check-in code, {booked[2]}" in confirmed  # they need it
    log = store.audit()
    assert list(log.loc[log["referral_id"] == reference, "action"])[-3:] == [
        "offer",
        "offer accepted",
        "accepted",
    ]


def test_held_referrals_show_a_review_by_date_and_a_review_is_recorded(store: Store) -> None:
    at = signed_in()
    click(at, "import_demo")
    overdue = [e.value for e in at.error if "overdue" in e.value]
    assert overdue, "the demo's held referrals arrived days ago: their review is overdue"
    queue = at.dataframe[0].value
    held = queue.loc[queue["status"] == "crisis hold"]
    assert held["review by"].str.endswith("(overdue)").all()
    assert queue.loc[queue["status"] == "waiting", "review by"].eq("").all()
    assert queue["1st to 2nd session (days)"].eq("").all()  # nobody has two sessions: blank
    pick = at.selectbox(key="hold_pick").value
    click(at, "hold_reviewed")
    queue = at.dataframe[0].value
    assert not queue.loc[queue["referral"] == pick, "review by"].item().endswith("(overdue)")
    assert "risk review" in set(store.audit()["action"])
    # The held list says so too ("Reviewed today" had no visible effect there)
    [line] = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith(pick)]
    assert "last reviewed" in line and "not reviewed yet" not in line
    assert all("not reviewed yet" in e.value for e in at.error if "overdue" in e.value)


def test_long_waits_are_flagged_against_targets_the_coordinator_sets(store: Store) -> None:
    at = signed_in()
    click(at, "import_demo")
    flagged = at.dataframe[0].value["wait"].ne("").sum()
    at.number_input(key="target_routine").set_value(365)
    at.number_input(key="target_soon").set_value(365)
    at.number_input(key="target_urgent").set_value(365)
    at.run()
    assert at.dataframe[0].value["wait"].eq("").all() and flagged > 0


def test_a_request_before_the_first_import_leaves_the_import_open_and_all_to_assign(
    store: Store,
) -> None:
    """A client's request can arrive before the coordinator imports anything: the import stays
    in view, and the referrals imported next are all chosen for assignment. The request itself
    is answered with an offer, never placed by a batch."""
    from matcher.directory import load_directory
    from matcher.triage import open_slots

    slots = open_slots(load_directory(DATA / "therapists.csv"))
    wanted = next(t for t, n in sorted(slots.items()) if n > 0)
    reference = store.request_consultation("Jo", "jo@example.org", [wanted], prefs()).reference
    at = signed_in()
    assert at.expander[0].proto.expanded  # "Import referrals", with only a self-referral
    header = next(m.value.replace("\\", "") for m in at.markdown if "asked today" in m.value)
    assert header.startswith(f"**{reference} (Jo)** · ")  # bold, not asterisks on screen
    assert at.multiselect(key="to_assign").value == []
    assert at.button(key="propose").disabled
    click(at, "import_demo")
    chosen = at.multiselect(key="to_assign").value
    assert len(chosen) > 50 and reference not in chosen
    assert not at.button(key="propose").disabled


def test_after_undoing_accept_all_the_review_starts_at_the_first_proposal(store: Store) -> None:
    at = signed_in()
    click(at, "import_demo")
    click(at, "propose")
    first = at.selectbox(key="review").value
    click(at, "accept_all")
    click(at, "undo_all")
    assert "Undone:" in at.success[0].value.replace("\\", "")
    assert at.selectbox(key="review").value == first  # not an unassigned leftover
    click(at, "accept_one")
    assert list(store.assignments()["referral_id"]) == [first]
