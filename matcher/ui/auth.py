"""Coordinator sign-in: Streamlit's OIDC login when configured in secrets, else local accounts.

OIDC: signing in proves who someone is, not that they work here, so only the emails and email
domains listed in secrets are coordinators; everyone else gets a refusal page, and the refusal
is audited (the email, never a token). With ``[auth]`` configured and no list, nobody gets in::

    [coordinators]
    emails = ["ana@clinic.example"]
    domains = ["clinic.example"]   # every verified address @clinic.example

Local accounts live in the coordinator database as salted scrypt hashes (see matcher.store).
Wrong passwords slow further tries for that account and source (kept in the database, so
opening more sessions does not help) and are audited; passwords are never logged or kept.
Who is signed in is kept in this browser session only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping

import streamlit as st

from matcher.store import MAX_NAME, Store

NOT_A_COORDINATOR = (
    "This account is not a coordinator here; ask your clinic's administrator to add it."
)


class AllowlistError(Exception):
    """The [coordinators] section of the secrets is not lists of text."""


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: local accounts
        return False


def store() -> Store:
    """The coordinator database: MATCHER_DB, or [database] path in secrets, or var/."""
    path = os.environ.get("MATCHER_DB")
    if path is None:
        try:
            path = st.secrets.get("database", {}).get("path")
        except Exception:
            path = None
    return _opened(path)


@st.cache_resource(show_spinner=False)
def _opened(path: str | None) -> Store:
    """One Store per database file and process: it holds no user state, only the path, and
    opening it migrates the schema, which should happen once rather than on every rerun."""
    return Store(path)


def is_coordinator(
    email: str, verified: object, emails: Collection[str], domains: Collection[str]
) -> bool:
    """Whether a signed-in identity may act as a coordinator.

    The whole address or its exact domain must be listed (``clinic.example`` does not admit
    ``evilclinic.example`` or ``x.clinic.example``), compared without case. An address the
    provider says is not verified (``email_verified`` false; some providers send the text
    "false") is never enough.
    """
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or str(verified).lower() == "false":
        return False
    return address in {e.strip().lower() for e in emails} or domain in {
        d.strip().lower().removeprefix("@") for d in domains
    }


def allowlist() -> tuple[list[str], list[str]]:
    """(emails, domains) from the ``[coordinators]`` secrets section; empty when absent."""
    section = st.secrets.get("coordinators", {})
    lists = []
    for key in ("emails", "domains"):
        value = section.get(key, []) if isinstance(section, Mapping) else None
        # A lone string would otherwise be read letter by letter.
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise AllowlistError(f"[coordinators] {key} must be a list of text")
        lists.append(list(value))
    return lists[0], lists[1]


def coordinator() -> str:
    """The signed-in coordinator's name; shows a sign-in form and stops the page otherwise."""
    if oidc_configured():
        return _oidc_coordinator()

    name = st.session_state.get("coordinator")
    if isinstance(name, str):
        st.sidebar.text(f"Signed in as {name}")  # plain text: a name is not Markdown
        if st.sidebar.button("Sign out", key="sign_out"):
            del st.session_state["coordinator"]
            st.rerun()
        return name

    st.title("Clinic sign-in", anchor=False)
    st.info(
        "This part is for your clinic's intake coordinators. Sign in with the account your "
        "clinic's administrator gave you. If you were looking for a therapist, the client "
        "pages are in the menu: you don't need an account."
    )
    with st.form("sign_in"):
        # Named for password managers: a saved password fills in (Streamlit's default for a
        # password field tells them it is a new one)
        username = st.text_input("Username", key="sign_in_user", max_chars=MAX_NAME,
                                 autocomplete="username")  # fmt: skip
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")  # fmt: skip
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        attempt = store().sign_in(username, password, source=_source())
        if attempt.ok:
            st.session_state["coordinator"] = username.strip()
            st.rerun()
        wait = f"{math.ceil(attempt.wait_s)} second(s)"
        if not attempt.checked:
            st.error(f"Too many failed sign-ins: this one was not checked. Try again in {wait}.")
        elif attempt.wait_s > 0:
            st.error("That username and password do not match an account. After several "
                     f"failed sign-ins, the next one is checked in {wait}.")  # fmt: skip
        else:
            st.error("That username and password do not match an account.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the script run


def signed_in() -> bool:
    """Whether this session belongs to a signed-in coordinator (to show the clinic pages in the
    menu; every clinic page still checks with ``coordinator()``)."""
    if oidc_configured():
        if not st.user.is_logged_in:
            return False
        try:
            emails, domains = allowlist()
        except AllowlistError:
            return False
        return is_coordinator(
            str(st.user.get("email") or ""), st.user.get("email_verified"), emails, domains
        )
    return isinstance(st.session_state.get("coordinator"), str)


def _source() -> str | None:
    """The connection's IP address, or None (local, or not known): then only the account is
    counted for back-off. Behind a proxy this is the proxy's address, shared by everyone."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else None


def _oidc_coordinator() -> str:
    if not st.user.is_logged_in:
        st.info("Coordinator pages need you to sign in.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    st.sidebar.button("Sign out", on_click=st.logout)
    email = str(st.user.get("email") or "")
    st.sidebar.text(f"Signed in as {email or st.user.get('name') or 'an account with no email'}")
    try:
        emails, domains = allowlist()
    except AllowlistError as error:
        st.error(f"Coordinator sign-in is misconfigured: {error}. Nobody can sign in until it "
                 "is fixed.")  # fmt: skip
        st.stop()
    if is_coordinator(email, st.user.get("email_verified"), emails, domains):
        return email

    st.error(NOT_A_COORDINATOR)
    who = (email or str(st.user.get("sub") or "unknown account"))[:MAX_NAME]
    if st.session_state.get("refusal_audited") != who:  # once per session, not every rerun
        store().log(who, "refused sign-in", detail="not on the coordinator allowlist")
        st.session_state["refusal_audited"] = who
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the script run
