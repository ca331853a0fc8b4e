"""The app's router: the pages live in matcher/ui/pages/."""

from pathlib import Path
from typing import Literal

import streamlit as st

from matcher.ui.auth import signed_in
from matcher.ui.common import (
    AUDIT,
    CHECKIN,
    INTAKE,
    METHOD,
    PAGE_STYLE,
    PROFILE,
    QUEUE,
    RESULTS,
    UPLOAD,
    crisis_resources,
    open_at_top,
)

# A bundled icon: a Material icon as page_icon is fetched from a font server on the internet,
# and no request may leave the machine.
ICON = Path(__file__).resolve().parent / "matcher" / "ui" / "icon.png"
st.set_page_config(page_title="Rapport-first therapist matching", page_icon=str(ICON))
# Two audiences, two entrances: clients see only client pages; the clinic pages join the menu
# once a coordinator has signed in, and until then are reached at their own address
# (/queue), where they ask for sign-in.
clinic: Literal["visible", "hidden"] = "visible" if signed_in() else "hidden"
INTAKE_PAGE = st.Page(INTAKE, title="Find a therapist", icon=":material/explore:", default=True)
CLINIC_PAGES = [
    st.Page(QUEUE, title="Referral queue", icon=":material/assignment_ind:", url_path="queue",
            visibility=clinic),
    st.Page(AUDIT, title="Audit log", icon=":material/history:", visibility=clinic),
    st.Page(UPLOAD, title="Your own directory", icon=":material/upload_file:", visibility=clinic),
]  # fmt: skip
navigation = st.navigation(
    {
        "For clients": [
            INTAKE_PAGE,
            st.Page(RESULTS, title="Your matches", icon=":material/list_alt:"),
            st.Page(PROFILE, title="Therapist profile", icon=":material/person:",
                    visibility="hidden"),  # reached from a match, never from the menu
            st.Page(CHECKIN, title="Check in after a session", icon=":material/rate_review:"),
        ],
        "For clinics": CLINIC_PAGES,
        "About": [st.Page(METHOD, title="How matching works", icon=":material/menu_book:")],
    }
)  # fmt: skip
# A page's button may send the client on (the intake's "Show my matches" does, from its
# callback): switching here, before any page is drawn, spares drawing the page being left.
if (next_page := st.session_state.pop("next_page", None)) is not None:
    st.switch_page(next_page)
st.html(PAGE_STYLE)  # style only: drawn outside the page's flow
open_at_top(navigation.url_path)
# A client who said they may harm themselves or someone else sees where to get help first, on
# every client page but the intake: there it sits under the safety question, from the moment
# "yes" is chosen, and a box appearing above the form when it was sent had pushed the form's
# problems below the screen (found trying the app).
# (The pages themselves are compared, not their url_path: outside a running server, as when
# multiprocessing re-imports this script after AppTest, only the default page has one.)
if st.session_state.get("crisis") and navigation not in (*CLINIC_PAGES, INTAKE_PAGE):
    crisis_resources()
navigation.run()
