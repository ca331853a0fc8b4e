"""The check-in page (code, no login) and ruptures reaching the coordinator, via AppTest."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from matcher import vocabulary as V
from matcher.checkins import ImportedCheckIn
from matcher.referrals import Referral
from matcher.scoring import rank
from matcher.store import Store
from matcher.ui.common import CHECKIN, INTAKE, QUEUE, RESULTS
from tests.conftest import TODAY, backdate_assignments, prefs
from tests.ui.pages import PASSWORD, on_page, sign_in


@pytest.fixture
def code(private_database: Path) -> str:
    store = Store(private_database)
    store.add_coordinator("ana", PASSWORD)
    referral = Referral("R1", TODAY - timedelta(days=3), "routine", False, False,
                        prefs(priorities={"heard": 3}, concerns=["anxiety"]))  # fmt: skip
    store.import_referrals([referral], "ana")
    booked = store.book("R1", "T0000010", capacity=1, actor="ana").checkin_code
    backdate_assignments(private_database)  # so that sessions 2 and 3 are possible
    return booked


def enter(at: AppTest, code: str) -> AppTest:
    at.text_input(key="checkin_code_input").input(code)
    at.button[0].click()
    at.run()
    assert not at.exception
    return at


def key(at: AppTest, name: str) -> str:
    """A check-in form widget's key: the form's widgets are new in each round."""
    return f"{name}_{at.session_state['checkin_round']}"


def send(at: AppTest, session: int, **ratings: int) -> AppTest:
    at.number_input(key=key(at, "checkin_session")).set_value(session)
    for item in V.ITEMS:
        at.radio(key=key(at, f"rate_{item}")).set_value(ratings.get(item, 4))
    at.text_area(key=key(at, "checkin_comment")).input("<b>not bold</b>")
    at.button[0].click()
    at.run()
    assert not at.exception
    return at


NEVER_ISSUED = "040G-2081-040G-208F"  # well formed, check symbol right, given to nobody


def test_a_wrong_code_is_refused_and_a_typo_is_called_a_typo(code: str) -> None:
    at = enter(on_page(CHECKIN), NEVER_ISSUED)
    assert "not recognized" in at.error[0].value
    [where] = [e for e in at.expander if e.label == "Where does the code come from?"]
    assert "intake coordinator gives you a code" in where.markdown[0].value
    typo = code[:5] + ("A" if code[5] != "A" else "B") + code[6:]
    at = enter(on_page(CHECKIN), typo)
    assert "probably mistyped" in at.error[0].value
    assert "code_failures" not in at.session_state  # a typo is not a wrong guess
    at = enter(on_page(CHECKIN), code.lower().replace("-", " "))  # any case, any spacing
    assert "You are checking in about" in at.info[0].value.replace("\\", "")


def test_a_checkin_says_who_sees_it_then_offers_a_reflection(
    code: str, private_database: Path
) -> None:
    at = enter(on_page(CHECKIN), code)
    assert "You are checking in about your sessions with" in at.info[0].value.replace("\\", "")
    labels = [r.label for r in at.radio]
    assert V.ITEM_BY_KEY["heard"].statement in labels
    assert all(r.value is None for r in at.radio)  # nothing is chosen for the client
    assert any("Who sees your answers" in m.value for m in at.markdown)
    send(at, 1, heard=5)
    assert "Your check-in was received" in at.success[0].value
    # the thanks instead of the form: a second press had been refused as a second check-in
    assert not any(b.label == "Send my check-in" for b in at.button)
    assert not at.radio
    text = " ".join(m.value for m in at.markdown)
    assert V.ITEM_BY_KEY["safe"].self_check in text and "rematch" in text
    assert Store(private_database).checkins_for(code)[0].comment == "<b>not bold</b>"


def test_the_same_session_twice_is_refused(code: str) -> None:
    at = send(enter(on_page(CHECKIN), code), 1)
    changes = at.session_state["page_changes"]
    at.button(key="again").click()
    at.run()
    assert all(r.value is None for r in at.radio)  # a fresh form: nothing carried over
    assert at.text_area(key=key(at, "checkin_comment")).value == ""
    assert at.number_input(key=key(at, "checkin_session")).value == 2  # the next session
    assert at.session_state["page_changes"] == changes + 1  # opened again at its top
    assert not at.success  # the thanks belonged to the check-in sent
    send(at, 1)
    assert "already has a check-in" in at.error[0].value.replace("\\", "")


def test_two_ruptures_bring_a_rematch_to_the_coordinator(code: str, private_database: Path) -> None:
    store = Store(private_database)
    store.record_checkin(code, "T0000010", 1, dict.fromkeys(V.ITEMS, 4))
    store.record_checkin(code, "T0000010", 2, {**dict.fromkeys(V.ITEMS, 4), "heard": 1})

    at = sign_in(on_page(QUEUE))
    assert "repair conversation" in " ".join(m.value for m in at.markdown).replace("\\", "")

    store.record_checkin(code, "T0000010", 3, {**dict.fromkeys(V.ITEMS, 4), "heard": 2})
    at.run()
    assert "2 ruptures so far" in at.warning[0].value
    new = at.selectbox(key="rematch_pick_R1").value
    assert new != "T0000010"
    at.button(key="rematch_R1").click()
    at.run()
    assert not at.exception
    active = store.assignments()
    assert list(active["therapist_id"]) == [new]
    assert list(store.audit()["action"][-2:]) == ["release", "override"]


def test_the_next_ranking_counts_a_new_checkin(private_database: Path) -> None:
    at = on_page(INTAKE)
    at.selectbox(key="state").set_value("NC")
    at.button[0].click()
    at.run()

    def first_card_checkins() -> tuple[str, int]:
        name = next(h.value for h in at.subheader if h.value.startswith("1\\."))
        facts = next(m.value for m in at.markdown if "Past clients' check-ins" in m.value)
        if "check-ins:** not measured yet" in facts:
            return name, 0
        found = re.search(r"check-ins:\*\* .* from ([\d,]+) check", facts)
        assert found is not None, facts
        return name, int(found.group(1).replace(",", ""))

    name, before = first_card_checkins()
    directory = at.session_state["rated_directory"][1]
    [top] = rank(directory, at.session_state["preferences"], top=1).matches
    assert name.replace("\\", "") == f"1. {top.name}"
    therapist = top.therapist_id
    Store(private_database).import_checkins(
        [ImportedCheckIn(str(therapist), TODAY, s, dict.fromkeys(V.ITEMS, 5)) for s in range(1, 4)],
        "clinic",
    )
    at.switch_page(RESULTS).run()  # AppTest stays on the page it was last switched to
    assert not at.exception
    assert first_card_checkins() == (name, before + 3)


def test_the_thank_you_shows_the_crisis_box_only_when_the_answers_call_for_it(code: str) -> None:
    at = send(enter(on_page(CHECKIN), code), 1)  # ratings of 4, a harmless comment
    assert not any("988" in e.value for e in at.error)
    assert any("988" in c.value for c in at.caption)  # a quiet line on where help is
    at.button(key="again").click()
    at.run()
    at.number_input(key=key(at, "checkin_session")).set_value(2)
    for item in V.ITEMS:
        at.radio(key=key(at, f"rate_{item}")).set_value(4)
    at.text_area(key=key(at, "checkin_comment")).input("Honestly I don't feel safe at home lately")
    at.button[0].click()
    at.run()
    assert any("988" in e.value for e in at.error)


def test_a_client_already_shown_help_sees_it_once_after_a_worrying_checkin(code: str) -> None:
    """The router puts help first for a client who said so in the intake; the thank-you's own
    box came as well, so two identical boxes stood on one page (review)."""
    at = on_page(CHECKIN)
    at.session_state["crisis"] = True
    at = send(enter(at, code), 1, safe=1)
    assert sum("988" in e.value for e in at.error) == 1


def test_every_statement_must_be_answered_or_skipped(code: str, private_database: Path) -> None:
    at = enter(on_page(CHECKIN), code)
    at.radio(key=key(at, "rate_heard")).set_value(5)
    at.text_area(key=key(at, "checkin_comment")).input("only one answered")
    at.button[0].click()
    at.run()
    assert "choose an answer for every statement" in at.error[0].value
    still = at.error[0].value.replace("\\", "")
    for item in V.RAPPORT_ITEMS:  # each statement left open is named, the answered one is not
        assert (item.statement in still) is (item.key != "heard")
    assert at.radio(key=key(at, "rate_heard")).value == 5  # kept
    assert Store(private_database).checkins_for(code) == []
    for item in V.ITEMS:
        if item != "heard":
            at.radio(key=key(at, f"rate_{item}")).set_value(0)  # "Skip this one"
    at.button[0].click()
    at.run()
    assert "Your check-in was received" in at.success[0].value
    [stored] = Store(private_database).checkins_for(code)
    assert stored.ratings == {"heard": 5}  # skipped items are missing, not ratings


def test_wrong_codes_slow_only_the_session_that_typed_them(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    waits: list[float] = []
    sleep = time.sleep

    def record(seconds: float) -> None:  # the page's slowdowns are recorded, not slept
        if seconds >= 1:  # AppTest itself polls with short sleeps
            waits.append(seconds)
        else:
            sleep(seconds)

    monkeypatch.setattr(time, "sleep", record)
    clumsy = on_page(CHECKIN)
    for _ in range(5):
        enter(clumsy, NEVER_ISSUED)
    assert waits == [1.0, 2.0]  # the 4th and 5th wrong codes of this session waited
    enter(on_page(CHECKIN), code)  # another visitor: no wait at all
    assert waits == [1.0, 2.0]


def test_cards_show_reachability_from_the_store_or_not_measured_yet(
    private_database: Path,
) -> None:
    at = on_page(INTAKE)
    at.selectbox(key="state").set_value("NC")
    at.button[0].click()
    at.run()
    facts = [m.value for m in at.markdown if "Earlier clients' requests" in m.value]
    assert facts and all("not measured yet" in f for f in facts)  # an empty store: no history

    directory = at.session_state["rated_directory"][1]
    [top] = rank(directory, at.session_state["preferences"], top=1).matches
    store = Store(private_database)
    store.import_referrals([Referral("R9", TODAY - timedelta(days=4), "routine", False, False,
                                     prefs())], "ana")  # fmt: skip
    store.offer("R9", top.therapist_id, capacity=5, actor="ana")
    at.switch_page(RESULTS).run()
    assert not at.exception
    facts = [m.value for m in at.markdown if "Earlier clients' requests" in m.value]
    assert any("a median of" in f and "1 client" in f for f in facts)


def test_on_the_day_of_the_assignment_the_next_checkin_says_when_it_opens(
    private_database: Path,
) -> None:
    """The form for another session was offered on the day of the assignment, and the store
    refused it; now the page says when the next check-in opens instead."""
    from datetime import date

    store = Store(private_database)
    store.import_referrals([Referral("R9", TODAY, "routine", False, False, prefs())], "ana")
    fresh = store.book("R9", "T0000010", capacity=1, actor="ana").checkin_code
    at = send(enter(on_page(CHECKIN), fresh), 1)
    assert "Your check-in was received" in at.success[0].value
    assert not [b for b in at.button if b.key == "again"]
    [info] = [i.value for i in at.info if "opens on" in i.value]
    opens = date.today() + timedelta(days=4)
    assert info.startswith(f"Your check-in about session 2 opens on {opens:%b} {opens.day}, ")
