"""Coordinator sign-in through AppTest, replaying the outside audit's attacks: any OIDC account
reaching the queue, guessing from many sessions, a username that fires an image beacon."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import matcher.store
from matcher.store import Store
from matcher.ui.auth import NOT_A_COORDINATOR, is_coordinator
from matcher.ui.common import AUDIT, QUEUE
from tests.conftest import ROOT
from tests.ui.pages import PASSWORD, on_page, sign_in

AUTH = {  # what a deployment's [auth] section holds; AppTest never contacts the provider
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "matcher",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://accounts.example/.well-known/openid-configuration",
}
ALLOWLIST = {"emails": ["ana@clinic.example"], "domains": ["north-clinic.example"]}
BEACON = "![x](http://example.invalid/beacon)"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(matcher.store, "SCRYPT_N", 2**10)  # these tests are not about cost
    created = Store()
    created.add_coordinator("ana", PASSWORD)
    return created


def oidc(page: str, coordinators: dict[str, Any] | None, **user: Any) -> AppTest:
    """``page`` opened by someone the identity provider signed in with ``user``'s claims."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH
    if coordinators is not None:
        at.secrets["coordinators"] = coordinators
    at.user = {"is_logged_in": True, **user}
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def refused(at: AppTest) -> bool:
    return [e.value for e in at.error] == [NOT_A_COORDINATOR] and not at.dataframe


# ---------------------------------------------------------------------------------------------
# Attack: any account the identity provider knows saw the queue and the audit log


@pytest.mark.parametrize("page", [QUEUE, AUDIT])
def test_an_account_not_on_the_list_is_refused_and_the_refusal_audited(
    store: Store, page: str
) -> None:
    at = oidc(page, ALLOWLIST, email="mallory@gmail.example", email_verified=True,
              tokens={"id": "eyJ-an-id-token", "access": "ya29-an-access-token"})  # fmt: skip
    assert refused(at)
    assert not at.title  # nothing of the page was drawn
    at.run()  # a rerun (any click) refuses again without filling the log
    assert refused(at)
    log = store.audit()
    refusals = log[log["action"] == "refused sign-in"]
    assert list(refusals["actor"]) == ["mallory@gmail.example"]
    assert refusals["at"].str.match(r"\d{4}-\d\d-\d\dT").all()
    assert "eyJ" not in log.to_csv() and "ya29" not in log.to_csv()  # no token, ever


def test_a_listed_email_or_domain_reaches_the_queue(store: Store) -> None:
    for email in ("ana@clinic.example", "Ben@North-Clinic.example"):
        at = oidc(QUEUE, ALLOWLIST, email=email, email_verified=True)
        assert at.title[0].value == "Referral queue"
        assert not at.error
        assert f"Signed in as {email}" in [t.value for t in at.sidebar.text]
    assert (store.audit()["action"] != "refused sign-in").all()


def test_with_no_list_configured_nobody_gets_in(store: Store) -> None:
    assert refused(oidc(QUEUE, None, email="ana@clinic.example", email_verified=True))


def test_a_misconfigured_list_refuses_everyone(store: Store) -> None:
    at = oidc(QUEUE, {"emails": "ana@clinic.example"}, email="a@clinic.example")
    assert "must be a list" in at.error[0].value  # a lone string is not read letter by letter
    assert not at.dataframe


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ana@clinic.example", True, True),
        ("ANA@clinic.example ", None, True),  # providers that say nothing about verification
        ("ana@clinic.example", False, False),  # the provider says it is not verified
        ("ana@clinic.example", "false", False),  # as some providers say it
        ("bob@clinic.example", True, False),  # clinic.example is listed by address only
        ("x@north-clinic.example", True, True),
        ("x@evilnorth-clinic.example", True, False),
        ("x@sub.north-clinic.example", True, False),
        ("north-clinic.example", True, False),
        ("x@north-clinic.example@gmail.example", True, False),
        ("", True, False),
    ],
)
def test_who_is_a_coordinator(email: str, verified: object, allowed: bool) -> None:
    assert is_coordinator(email, verified, ALLOWLIST["emails"], ALLOWLIST["domains"]) is allowed


# ---------------------------------------------------------------------------------------------
# Attack: eight sessions guessing in parallel, none of it audited


def test_guesses_from_several_sessions_share_one_back_off_and_are_audited(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = datetime.now(UTC)
    monkeypatch.setattr(matcher.store, "_utcnow", lambda: stopped)  # however slow the machine
    for _ in range(3):  # three sessions, one wrong guess each
        at = sign_in(on_page(QUEUE), password="wrong-guess-123")
        assert "do not match" in at.error[0].value
    fourth = sign_in(on_page(QUEUE), password=PASSWORD)  # right, but too soon after
    assert "not checked. Try again in 1 second(s)" in fourth.error[0].value
    assert "coordinator" not in fourth.session_state
    log = store.audit()
    assert list(log["action"][1:]) == ["failed sign-in"] * 3 + ["sign-in refused"]
    assert set(log["actor"][1:]) == {"ana"}
    assert "wrong-guess-123" not in log.to_csv() and PASSWORD not in log.to_csv()


# ---------------------------------------------------------------------------------------------
# Attack: a username that is Markdown for an image on someone else's server


def test_the_signed_in_name_is_shown_as_plain_text(store: Store) -> None:
    store.add_coordinator(BEACON, PASSWORD)
    at = sign_in(on_page(QUEUE), username=BEACON)
    assert at.title[0].value == "Referral queue"
    assert [t.value for t in at.sidebar.text] == [f"Signed in as {BEACON}"]
    rendered_as_markdown = [*at.sidebar.markdown, *at.sidebar.caption]
    assert not any("example.invalid" in m.value for m in rendered_as_markdown)


@pytest.mark.parametrize("page", [QUEUE, AUDIT])
def test_the_sign_in_form_has_a_heading_and_lets_a_password_manager_fill_it(page: str) -> None:
    """No heading, and a password field marked as a new password, so saved ones never filled
    in (found trying the app)."""
    at = on_page(page)
    assert at.title[0].value == "Clinic sign-in"
    assert at.text_input(key="sign_in_user").proto.autocomplete == "username"
    assert at.text_input(key="sign_in_password").proto.autocomplete == "current-password"
