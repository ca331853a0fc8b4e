"""A therapist's profile, contact details and the consultation request, via AppTest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from matcher.schema import DIRECTORY_FIELDS, DIRECTORY_RULES, validate_table
from matcher.store import Store
from matcher.ui.common import INTAKE, PROFILE, RESULTS
from tests.conftest import DATA, table_of, therapist
from tests.ui.pages import on_page


def results() -> AppTest:
    at = on_page(INTAKE)
    at.selectbox(key="state").set_value("NC")
    at.button[0].click()
    at.run()
    at.switch_page(RESULTS).run()
    assert not at.exception
    return at


def first_profile(at: AppTest) -> tuple[AppTest, str]:
    button = next(b for b in at.button if b.key and b.key.startswith("profile_"))
    therapist_id = button.key.removeprefix("profile_")
    button.click()
    at.run()
    assert not at.exception
    assert at.session_state["profile"] == therapist_id
    at.switch_page(PROFILE).run()  # AppTest reruns the page it was last switched to
    assert not at.exception
    return at, therapist_id


def test_a_card_opens_the_profile_with_contact_details() -> None:
    at, therapist_id = first_profile(results())
    row = (
        pd.read_csv(DATA / "therapists.csv", dtype=str, keep_default_na=False)
        .set_index("therapist_id")
        .loc[therapist_id]
    )
    assert at.title[0].value.replace("\\", "") == row["name"]
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    # Exactly as listed, so a copied address works (Markdown's guards against auto-links had
    # put an invisible U+2060 before the "@"), and a tap calls or writes
    assert f"Email: {row['email']}" in [t.value for t in at.text]
    assert f"Phone: {row['phone']}" in [t.value for t in at.text]
    links = {e.proto.label: e.proto.url for e in at.get("link_button")}
    assert links["Email them"] == f"mailto:{row['email']}"
    assert links["Call them"] == "tel:" + "".join(ch for ch in row["phone"] if ch.isdigit())
    # Where they may see this client, then every state they are licensed in: two labels
    assert "Licensed:" in text and "Every state they are licensed in:" in text
    assert "Licensed in:" not in text and "Works with:" in text
    # "Insurance: in network with Aetna" for this client, then every plan: two labels
    assert "Insurance plans they take:" in text
    assert "What we keep if you send this" in text and "90 days from the day you send" in text
    assert "your name and contact are erased" in text  # what the store does (test_store)


def test_a_request_needs_consent_and_then_lands_in_the_queue(private_database: Path) -> None:
    at, _ = first_profile(results())
    at.text_input(key="request_name").input("J.")
    at.text_input(key="request_contact").input("(919) 555-0199")
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert "tick the box" in at.error[0].value
    assert Store(private_database).referrals() == []

    at.checkbox(key="request_consent").check()
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert not at.exception
    assert at.success[0].value == "Your request was sent. Your reference is:"
    reference = at.code[0].value  # one piece, with a copy button
    assert "What happens next" in " ".join(m.value for m in at.markdown)
    assert not at.warning  # the crisis reminder is for those who said they are at risk
    [stored] = Store(private_database).referrals()
    assert stored.referral_id == reference and reference.startswith("SR-")
    assert (stored.client_name, stored.contact) == ("J.", "(919) 555-0199")
    assert stored.preferences.state == "NC"

    at.button(key="FormSubmitter:consultation-Send my request").click()  # pressed again
    at.run()
    assert "already sent today, so it was not sent twice" in at.success[0].value
    assert at.code[0].value == reference
    assert [r.referral_id for r in Store(private_database).referrals()] == [reference]
    # The store says it was sent already, not the page's memory: reopening the profile forgets
    # the reference (review)
    del at.session_state["request_reference"]
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert "already sent today, so it was not sent twice" in at.success[0].value
    # Another browser session sending the same words learns nothing and changes nothing
    del at.session_state["request_sender"]
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert at.success[0].value == "Your request was sent. Your reference is:"
    assert at.code[0].value != reference and len(Store(private_database).referrals()) == 2


def test_a_request_without_a_way_to_reach_the_client_is_refused(private_database: Path) -> None:
    at, _ = first_profile(results())
    at.text_input(key="request_name").input("J.")
    at.text_input(key="request_contact").input("call me maybe")
    at.checkbox(key="request_consent").check()
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert "phone number or an email address" in at.error[0].value
    assert Store(private_database).referrals() == []


def test_the_shortlist_survives_reranking() -> None:
    at = results()
    box = next(c for c in at.checkbox if c.key and c.key.startswith("shortlist_"))
    therapist_id = box.key.removeprefix("shortlist_")
    box.check()
    at.run()
    for group in ("rapport", "concerns", "approach", "style", "identity"):
        at.slider(key=f"weight_{group}").set_value(0)
    at.slider(key="weight_availability").set_value(100)
    at.run()
    assert not at.exception
    assert therapist_id in at.session_state["shortlist_ids"]
    assert any("1 therapist(s) ticked" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("email", "not-an-address"),
        ("website", "javascript:alert(1)"),
        ("booking_url", "data:text/html,<script>alert(1)</script>"),
        ("booking_url", "ftp://example.com/x"),
        ("phone", "call me"),
    ],
)
def test_bad_contact_details_are_validation_errors(column: str, value: str) -> None:
    rows = [therapist("a", **{column: value}), therapist("b")]
    problems = validate_table(table_of(rows), DIRECTORY_FIELDS, "d.csv", DIRECTORY_RULES)
    assert [(p.row, p.column) for p in problems] == [(2, column)]


def test_a_directory_without_contact_columns_is_still_valid() -> None:
    assert validate_table(table_of([therapist("a")]), DIRECTORY_FIELDS, "d.csv") == []


def test_past_clients_ratings_are_a_static_table_with_every_number() -> None:
    """A wide data grid hid the numbers past a phone's edge (found trying the app at 390 px):
    the ratings are a static table, one row per rapport item, numbers as they are said."""
    at = results()
    for button in [b for b in at.button if b.key and b.key.startswith("profile_")]:
        therapist_id = button.key.removeprefix("profile_")
        at.session_state["profile"] = therapist_id
        at.switch_page(PROFILE).run()
        assert not at.exception
        if "Check-ins: not measured yet" not in " ".join(m.value for m in at.markdown):
            break
    else:
        pytest.fail("no match on the first page with check-ins to show")
    [table] = at.table
    shown = table.value
    assert list(shown.columns) == ["how clients felt", "their average (1-5)", "directory average"]
    assert len(shown) == 9
    assert shown["their average (1-5)"].str.fullmatch(r"\d\.\d").all()
    assert len(at.dataframe) == 0


def test_a_client_at_risk_is_told_a_request_is_not_an_emergency_service(
    private_database: Path,
) -> None:
    at, _ = first_profile(results())
    at.session_state["crisis"] = True  # answered yes to the intake's safety question
    at.text_input(key="request_name").input("J.")
    at.text_input(key="request_contact").input("j@example.com")
    at.checkbox(key="request_consent").check()
    at.button(key="FormSubmitter:consultation-Send my request").click()
    at.run()
    assert not at.exception
    [warning] = at.warning
    assert "not an emergency service" in warning.value and "988" in warning.value
    [stored] = Store(private_database).referrals()
    assert stored.crisis  # and the coordinator holds it under the crisis protocol


def test_a_therapist_from_an_uploaded_directory_gets_no_request_form(
    private_database: Path,
) -> None:
    """A made-up therapist in a file anyone may upload had reached the clinic's queue: a
    request goes only to therapists of the clinic's own directory."""
    from matcher.directory import load_directory

    at = results()
    at.session_state["directory"] = load_directory(DATA / "therapists.csv")  # as an upload
    at.session_state["directory_name"] = "clinic.csv"
    at.run()
    at, _ = first_profile(at)
    [note] = [i.value for i in at.info if "uploaded in this browser" in i.value]
    assert "Contact them directly" in note
    assert not [t for t in at.text_input if t.key == "request_name"]
    assert Store(private_database).referrals() == []
