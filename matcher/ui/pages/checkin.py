"""Check in after a session (clients; a code, no login): nine ratings, then a reflection."""

from __future__ import annotations

import time
from datetime import date

import streamlit as st

from matcher import codes
from matcher import vocabulary as V
from matcher import words as W
from matcher.checkins import CheckIn, worrying
from matcher.store import FREE_FAILURES, MAX_COMMENT, StoreError
from matcher.ui.auth import store
from matcher.ui.common import STORE_FAILURES, crisis_resources, current_directory, plain

SKIP = 0  # "skip this one": the item is missing from the check-in, never a rating
SCALE = {value: f"{value} · {words}" for value, words in W.RATING_SCALE.items()} | {
    SKIP: "Skip this one"
}
WHO_SEES = (
    "**Who sees your answers.** Your clinic's intake coordinators see this check-in, including "
    "your comment, so they can help if something is not working. Your therapist is not shown "
    "your individual answers. Future clients only ever see averages over many check-ins, "
    "never your name or your words."
)

CODE_WINDOW_S = 15 * 60  # wrong codes counted over this long, per browser session
UNAVAILABLE = (
    "Check-ins can't be received right now. Nothing was lost; please try again in a few "
    "minutes, or tell your clinic."
)
NOT_SAVED = (
    "Your check-in could not be saved just now, so it has not been sent. Your answers are still "
    "here: please try again in a few minutes."
)

st.title("Check in after a session", anchor=False)
st.markdown(
    "A few minutes after a session, ask yourself how it felt. Your answers help you notice "
    "how the relationship is going, help your clinic act if it isn't, and — combined with "
    "others' — help the next person find a therapist who fits."
)

target = st.session_state.get("checkin_target")
if target is None:
    with st.form("code"):
        code = st.text_input(
            "Your check-in code (from your clinic)",
            key="checkin_code_input",
            placeholder=f"e.g. {codes.EXAMPLE}",
            help="16 letters and digits in four groups. Capitals, spaces and dashes don't matter.",
        )
        go = st.form_submit_button("Continue", type="primary")
    with st.expander("Where does the code come from?"):
        st.markdown(
            "Your clinic's intake coordinator gives you a code when they arrange your sessions "
            "with a therapist, whether you asked from this app or were referred. It links your "
            "check-ins to that therapist without your name. If you found your therapist "
            "another way, or lost your code, ask the clinic's coordinator for one."
        )
        st.markdown("Without a code, you can still ask yourself after each session:")
        st.markdown("\n".join(f"- {item.self_check}" for item in V.RAPPORT_ITEMS))
    if go:
        try:
            code = codes.format_code(codes.normalise(code))
        except codes.CodeError as error:  # a typo is caught here: nothing was looked up
            st.error(plain(str(error).capitalize() + "."))
            st.stop()
        # Wrong codes slow down this browser session only, never anyone else's (codes are
        # 75-bit random, so the slowdown is a courtesy, not the defence).
        failures: list[float] = st.session_state.setdefault("code_failures", [])
        recent = [t for t in failures if time.monotonic() - t < CODE_WINDOW_S]
        wait = 0.0 if len(recent) < FREE_FAILURES else min(2.0 ** (len(recent) - FREE_FAILURES), 30)
        if wait:
            with st.spinner("Checking…"):
                time.sleep(wait)
        try:
            found = store().checkin_target(code)
        except STORE_FAILURES:
            st.error(UNAVAILABLE)
            st.stop()
        if found is None:
            st.session_state["code_failures"] = [*recent, time.monotonic()]
            st.error("That code is not recognized. Check it with your clinic and try again.")
            st.stop()
        st.session_state["checkin_target"] = (code, *found)
        st.rerun()
    st.stop()

code, referral_id, therapist_id = target
# The form's widgets are keyed by round: "Check in about another session" starts a new round,
# so the browser draws new, empty widgets (emptying the old keys left the browser showing and
# sending the answers just sent: found trying the app).
ROUND = st.session_state.setdefault("checkin_round", 0)
directory, _ = current_directory()
row = directory.row_of.get(therapist_id)
name = str(directory.text["name"][row]) if row is not None else therapist_id

try:
    history = store().checkins_for(code)
except STORE_FAILURES:
    st.error(UNAVAILABLE)
    st.stop()


def start_again() -> None:
    """A fresh form for another session, from the top of the page (runs before the page is
    drawn: the router scrolls to the top of a page it has not drawn last)."""
    st.session_state.pop("checked_in", None)
    st.session_state["checkin_round"] = ROUND + 1
    st.session_state.pop("page_shown", None)


# Once sent, the thanks instead of the form, opened at the top: below the button it could be
# out of sight, and the form left above it invited a second press, which the store refused
# ("Session 1 already has a check-in"): found trying the app.
outcome = st.session_state.get("checked_in")
if outcome is not None:
    # only when the answers call for it, and then first (unless the router already put the
    # same help at the top, for a client who said so in the intake)
    if outcome == "worrying" and not st.session_state.get("crisis"):
        crisis_resources()
    st.success("Thank you. Your check-in was received.")
    st.header("Now, for yourself", anchor=False)
    st.markdown("After your sessions so far, ask yourself:")
    st.markdown("\n".join(f"- {item.self_check}" for item in V.RAPPORT_ITEMS))
    st.markdown(
        "**If some answers are no,** say so to your therapist. Asking for and using your "
        "feedback is part of good therapy, and it lets a strained relationship be repaired. "
        "If things still do not improve, ask your clinic's coordinator for a different "
        "therapist: a rematch is a normal request, not a failure."
    )
    if outcome != "worrying":
        st.caption(plain(W.HELP_IS_THERE))
    try:
        upcoming = store().next_checkin(code)
    except STORE_FAILURES:
        upcoming = None
    if upcoming is not None and upcoming[1] > date.today():  # a form the store would refuse
        session_next, opens = upcoming
        st.info(f"Your check-in about session {session_next} opens on {W.day(opens)}: come back "
                "with your code after that session.")  # fmt: skip
    else:
        st.button("Check in about another session", key="again", on_click=start_again)
    st.stop()


st.info(plain(f"You are checking in about your sessions with {name}."))
with st.form("checkin"):
    session = st.number_input(
        "Which session was this? (1 for the first)",
        min_value=1,
        max_value=1000,
        value=len(history) + 1,
        step=1,
        key=f"checkin_session_{ROUND}",
    )
    st.caption(
        "Nothing is chosen for you: pick the answer that fits each statement, or skip one "
        "you'd rather not answer (a skipped statement is simply left out)."
    )
    answers = {
        item.key: st.radio(
            item.statement,
            list(SCALE),
            index=None,
            format_func=SCALE.__getitem__,
            horizontal=True,
            key=f"rate_{item.key}_{ROUND}",
        )
        for item in V.RAPPORT_ITEMS
    }
    comment = st.text_area(
        "Anything you would like to add? (optional)",
        max_chars=MAX_COMMENT,
        key=f"checkin_comment_{ROUND}",
    )
    st.markdown(WHO_SEES)
    sent = st.form_submit_button("Send my check-in", type="primary")
if sent:
    missing = [item.statement for item in V.RAPPORT_ITEMS if answers[item.key] is None]
    if missing:  # named, so nobody hunts through nine rows for the one they missed
        st.error(
            'Please choose an answer for every statement, or "Skip this one"; your other '
            "answers are kept."
            + (
                "\n\nStill to answer:\n" + "\n".join(f"- {plain(item)}" for item in missing)
                if len(missing) < len(answers)  # all nine listed would only repeat the form
                else ""
            )
        )
        st.stop()
    ratings = {key: int(value) for key, value in answers.items() if value not in (None, SKIP)}
    try:
        store().record_checkin(code, therapist_id, int(session), ratings, comment)
    except StoreError as error:
        st.error(plain(str(error).capitalize() + "."))
        st.stop()
    except STORE_FAILURES:
        st.error(NOT_SAVED)
        st.stop()
    sent_checkin = CheckIn(therapist_id, int(session), ratings, date.today(), comment)
    st.session_state["checked_in"] = "worrying" if worrying(sent_checkin) else "fine"
    st.session_state.pop("page_shown", None)  # the router opens the thanks at the top
    st.rerun()
