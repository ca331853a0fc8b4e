"""One therapist's profile: everything the directory knows, the evidence behind the match, how
to reach them, and a consultation request (the one place a client's data is stored)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import explain, facts, profile_facts, rapport_summary
from matcher.schema import contact_link
from matcher.scoring import assess, match_at
from matcher.store import MAX_CHOSEN, MAX_REQUEST_NAME, REQUEST_DAYS, StoreError
from matcher.ui.auth import store
from matcher.ui.common import (
    INTAKE,
    RESULTS,
    STORE_FAILURES,
    current_directory,
    plain,
    preferences,
)
from matcher.ui.widgets import why_they_fit

STORED = (
    "**What we keep if you send this**: the first name or initials and the phone number or "
    "email you give, the therapists you choose, and the answers you gave in this search "
    "(your concerns, what matters to you, practical needs). **Who sees it**: your clinic's "
    "intake coordinators, after signing in; not other clients, and not the therapists until a "
    f"coordinator puts you in touch. **For how long**: {REQUEST_DAYS} days from the day you send "
    "it (longer only while a slot offered to you waits for your answer). Then a request nobody "
    "acted on is deleted; for one a coordinator acted on, your name and contact are erased, and "
    "the rest stays without them as the clinic's record of the referral. Nothing else you did "
    "here is stored."
)

# How to reach them: (kind of contact, column, button, icon)
BUTTONS: tuple[tuple[Literal["phone", "email", "url"], str, str, str], ...] = (
    ("phone", "phone", "Call them", ":material/call:"),
    ("email", "email", "Email them", ":material/mail:"),
    ("url", "booking_url", "Book a first session on their site", ":material/event:"),
    ("url", "website", "Their website", ":material/open_in_new:"),
)

directory, _ = current_directory()
chosen = preferences()
therapist_id = st.session_state.get("profile")
if chosen is None or not isinstance(therapist_id, str) or therapist_id not in directory.row_of:
    st.title("Therapist profile", anchor=False)
    st.info("Choose a therapist from your matches to see their profile.")
    st.page_link(INTAKE, label="Find a therapist", icon=":material/explore:")
    st.stop()

today = date.today()
assessment = assess(directory, chosen, today)
position = np.flatnonzero(assessment.rows == directory.row(therapist_id))
if position.size == 0:
    st.title("Therapist profile", anchor=False)
    st.warning("This therapist no longer meets every must in your answers.")
    st.page_link(RESULTS, label="Back to your matches", icon=":material/list_alt:")
    st.stop()
match = match_at(directory, chosen, assessment, int(position[0]), today)
words = explain(match, chosen)
row = directory.table.iloc[match.row]

st.title(plain(match.name), anchor=False)
st.caption(plain(f"{match.practical.credentials} · {match.practical.city}"))
st.page_link(RESULTS, label="Back to your matches", icon=":material/arrow_back:")

st.header("How to reach them", anchor=False)
contacts = directory.contacts(match.row)
if not any(contacts.values()):
    st.markdown("This directory lists no contact details for them; ask your clinic.")
# As text, never Markdown: copied, they are exactly what the directory lists (Markdown would
# turn them into links we did not make, and the marks that stop that would be copied too).
if contacts["phone"]:
    st.text(f"Phone: {contacts['phone']}")
if contacts["email"]:
    st.text(f"Email: {contacts['email']}")
# Addresses were checked when the directory was loaded, and contact_link checks them again:
# only phone digits, a quoted email address and http(s) addresses become buttons.
for kind, column, label, icon in BUTTONS:
    if (link := contact_link(kind, contacts[column])) is not None:
        st.link_button(label, link, icon=icon)

st.header("Why they may fit you", anchor=False)
why_they_fit(match, words)

st.header("Practical details", anchor=False)
st.markdown(
    "  \n".join(
        f"**{label}:** {plain(text)}"
        for label, text in (*facts(match, chosen), *profile_facts(directory, match))
    )
)

st.header("What past clients said", anchor=False)
st.markdown(plain(f"Check-ins: {rapport_summary(match)}."))
if match.measured:  # a static table wraps its words, so a phone shows every number
    # Cells are our own words and numbers: st.table reads Markdown, so nothing from a file.
    st.table(
        pd.DataFrame(
            {
                "how clients felt": [V.ITEM_BY_KEY[i.item].feeling for i in match.rapport.items],
                "their average (1-5)": [
                    "not rated" if i.mean is None else f"{i.mean:.1f}" for i in match.rapport.items
                ],
                "directory average": [f"{i.prior:.1f}" for i in match.rapport.items],
            }
        ),
        hide_index=True,
    )
bio = str(row.get("bio", "") or "")
if bio:
    st.header("In their own words", anchor=False)
    st.text(bio)  # text, never markdown or HTML

st.header("Ask the clinic to contact you", anchor=False)
if isinstance(st.session_state.get("directory"), Directory):
    # A request reaches the coordinators of the clinic running this app, who place clients
    # with therapists in its own directory: a file uploaded in this browser is not theirs
    # (a made-up therapist had reached the queue: found trying the app).
    st.info(
        "This therapist is from a directory uploaded in this browser, not the clinic's own, so "
        "the clinic's coordinators can't arrange a first session with them. Contact them "
        "directly with the details above, or go back to the clinic's directory to send a "
        "request."
    )
    st.stop()
st.markdown(STORED)
others = st.session_state.get("shortlist_ids", [])
options = list(dict.fromkeys([therapist_id, *[t for t in others if t in directory.row_of]]))
with st.form("consultation"):
    name = st.text_input(
        "Your first name or initials", max_chars=MAX_REQUEST_NAME, key="request_name"
    )
    contact = st.text_input("A phone number or email to reach you", key="request_contact")
    picked = st.multiselect(
        f"Therapists you would like to talk to (up to {MAX_CHOSEN})",
        options,
        default=[therapist_id],
        max_selections=MAX_CHOSEN,
        select_all=False,  # a typed name and Enter picks that one therapist, never all
        format_func=lambda t: str(directory.text["name"][directory.row(t)]),
        key="request_therapists",
    )
    consent = st.checkbox(
        "I agree that the clinic keeps these details as described above.", key="request_consent"
    )
    sent = st.form_submit_button("Send my request", type="primary")
if sent:
    if not consent:
        st.error("Please tick the box to agree before sending; nothing has been sent.")
        st.stop()
    try:
        # A random token of this browser session: only its own resend is the same request
        sender = st.session_state.setdefault("request_sender", secrets.token_urlsafe(16))
        requested = store().request_consultation(
            name, contact, picked, chosen, risk=bool(st.session_state.get("crisis")), sender=sender
        )
    except StoreError as error:
        st.error(plain(f"Nothing was sent yet: please give {error}."))
        st.stop()
    except STORE_FAILURES:
        st.error(
            "Your request could not be sent just now, so nothing was stored. Your answers are "
            "still here: please try again in a few minutes, or call the therapist directly."
        )
        st.stop()
    st.session_state["request_reference"] = requested.reference
    st.session_state["request_again"] = requested.repeated  # the store knows, not the page
sent_reference = st.session_state.get("request_reference")
if sent_reference:
    st.success(
        "This request was already sent today, so it was not sent twice. Your reference is still:"
        if st.session_state.get("request_again")
        else "Your request was sent. Your reference is:"
    )
    st.code(sent_reference, language=None)  # one piece, with a copy button: quote it when called
    st.markdown(
        "**What happens next.** One of the clinic's intake coordinators contacts you by the phone "
        "number or email you gave, to offer a first session with a therapist you chose or "
        "another who fits. Keep the reference: this page forgets it when you close it. If you "
        "have not heard back in a few days, you can also contact the therapists directly (see "
        "*How to reach them* above). Once you are seeing a therapist, the clinic gives you a "
        "check-in code, so you can say how your sessions feel."
    )
    if st.session_state.get("crisis"):
        st.warning(
            "A request is not an emergency service: a coordinator may take days to reply. If "
            "you are in danger or might act on thoughts of harming yourself or someone else, "
            "call or text 988 now, or call 911.",
            icon=":material/emergency:",
        )
