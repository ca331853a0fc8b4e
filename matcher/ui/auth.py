"""Coordinator sign-in: Streamlit's OIDC login when configured in secrets, else local accounts.

Local accounts live in the coordinator database as salted scrypt hashes (see matcher.store).
Who is signed in is kept in this browser session only. A wrong password is refused after a
pause, which makes guessing slow; passwords are never logged or kept.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from matcher.store import Store

WRONG_PASSWORD_PAUSE_S = 1.0


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


def coordinator() -> str:
    """The signed-in coordinator's name; shows a sign-in form and stops the page otherwise."""
    if oidc_configured():
        if not st.user.is_logged_in:
            st.info("Coordinator pages need you to sign in.")
            st.button("Sign in", on_click=st.login, type="primary")
            st.stop()
        st.sidebar.button("Sign out", on_click=st.logout)
        return str(st.user.get("email") or st.user.get("name") or "coordinator")

    name = st.session_state.get("coordinator")
    if isinstance(name, str):
        st.sidebar.caption(f"Signed in as {name}")
        if st.sidebar.button("Sign out", key="sign_out"):
            del st.session_state["coordinator"]
            st.rerun()
        return name

    st.info(
        "Coordinator pages need you to sign in. A new installation prints a one-time demo "
        "account when started with `make run`; add accounts with "
        "`python -m matcher add-coordinator NAME`."
    )
    with st.form("sign_in"):
        username = st.text_input("Username", key="sign_in_user")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if store().verify(username, password):
            st.session_state["coordinator"] = username.strip()
            st.rerun()
        time.sleep(WRONG_PASSWORD_PAUSE_S)
        st.error("That username and password do not match an account.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the script run
