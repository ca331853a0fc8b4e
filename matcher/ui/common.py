"""What every page shares: which directory is in use, the client's answers, safe text.

Per-user state lives only in ``st.session_state`` (a browser tab); the one thing shared across
users is the bundled demo directory, which is public and identical for everyone.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from matcher import vocabulary as V
from matcher import words as W
from matcher.checkins import with_checkins
from matcher.directory import Directory, load_directory
from matcher.preferences import Preferences
from matcher.schema import Problem
from matcher.ui.auth import store

# What a failing coordinator database raises: locked past its timeout, read-only, missing or
# unreadable. Client pages must keep working through any of them.
STORE_FAILURES = (sqlite3.Error, OSError)
CHECKINS_UNAVAILABLE = (
    "Recent check-ins can't be read right now, so matches use the directory's own figures. "
    "Everything else works as usual."
)

DATA = Path(__file__).resolve().parents[2] / "data"
# The directory the app opens with: the bundled demo, or a clinic's own file given once for the
# whole server (MATCHER_DEMO_DIRECTORY: also how the browser benchmark loads a large one).
DEMO_DIRECTORY = Path(os.environ.get("MATCHER_DEMO_DIRECTORY") or DATA / "therapists.csv")
DEMO_REFERRALS = DATA / "referrals.csv"
PAGES = Path(__file__).resolve().parent / "pages"
INTAKE, RESULTS, UPLOAD, METHOD, QUEUE, AUDIT, CHECKIN, PROFILE = (
    "matcher/ui/pages/intake.py",
    "matcher/ui/pages/results.py",
    "matcher/ui/pages/directory.py",
    "matcher/ui/pages/method.py",
    "matcher/ui/pages/queue.py",
    "matcher/ui/pages/audit.py",
    "matcher/ui/pages/checkin.py",
    "matcher/ui/pages/profile.py",
)
PRIVACY = (
    "Private by design: your answers stay in this browser tab, and are gone when you close or "
    "reload it. Searching saves nothing on our server; only a request to be contacted, if you "
    "choose to send one, is kept, and its form says how."
)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_AUTOLINK = re.compile(r"(?i)(?:www\.|:/|\S@)")  # the last character is kept apart


@st.cache_resource(show_spinner="Loading the therapist directory…")
def demo_directory() -> Directory:
    """The bundled demo directory, loaded and encoded once per server process."""
    return load_directory(DEMO_DIRECTORY)


def current_directory() -> tuple[Directory, str]:
    """The directory this session uses (uploaded, or the demo) with every check-in recorded
    since added to its measured rapport, and the store's offers and first sessions as its
    reachability, so new evidence counts in the very next ranking."""
    uploaded = st.session_state.get("directory")
    if isinstance(uploaded, Directory):
        base, name = uploaded, str(st.session_state.get("directory_name", uploaded.source))
    else:
        base, name = demo_directory(), "the demo directory"
    try:
        db = store()
        key = (id(base), len(base), db.version())
        cached = st.session_state.get("rated_directory")
        if cached is None or cached[0] != key:  # rebuild only when something was recorded
            rated = with_checkins(base, db.checkin_ratings()) if key[2] else base
            rated = rated.with_reachability(db.contacts()) if key[2] else rated
            cached = st.session_state["rated_directory"] = (key, rated)
    except STORE_FAILURES:  # browsing never depends on the coordinator database
        st.caption(CHECKINS_UNAVAILABLE)
        return base, name
    return cached[1], name


# The app's one style rule, drawn by the router on every run (style only: outside the page's flow)
# - Chromium's scroll anchoring picks a node to hold still while a rerun replaces the page's
#   elements, and on a phone it threw the page some 1,300 px when a card's score chart was
#   opened (measured; none without it). The page holds its scroll position as it is instead.
# - The slot of an element holding only one of the scripts below is hidden: no gap.
# - Streamlit puts four buttons beside a chart (show data, download as PNG, copy the Vega-Lite
#   spec, fullscreen), each a Tab stop between the card's controls, on a figure already given
#   in words (its labels, and its alt text). No chart option turns them off (the browser drops
#   `actions` from usermeta.embedOptions), so they are hidden; the browser test Tabs past one.
# - Keyboard focus is drawn plainly, in the theme's color (6:1 on white): Streamlit's own was a
#   1-pixel change of border color on fields and a faint ring on a slider's handle (found
#   working the intake by keyboard). The ring goes on the field's bordered box (the input inside
#   clips its own), the label of a checkbox or radio, and a slider's handle: Streamlit 1.67's
#   markup, checked by the browser test. A page title focused by the script below, for screen
#   readers, draws no ring: to a mouse user it looked like a glitch.
PAGE_STYLE = (
    "<style>[data-testid='stMain'] { overflow-anchor: none; } "
    ".stElementContainer:has(> .stHtml script) { display: none; } "
    "[class*='st-key-score_chart_'] [data-testid='stElementToolbar'] { display: none; } "
    "[data-testid='stMain'] :is(.react-aria-TextField, .react-aria-ComboBox) "
    "> div:has(:is(input, textarea):focus-visible), "
    "[data-testid='stCheckbox'] label:has(input:focus-visible), "
    "[data-testid='stRadioOption']:has(input:focus-visible), "
    "[data-testid='stSlider'] div:has(> div > input:focus-visible) "
    "{ outline: 2px solid #2f6f62; outline-offset: 1px; } "
    "[data-testid='stMain'] h1[tabindex='-1']:focus { outline: none; }</style>"
)


# Streamlit keeps the scroll position of the page left, so a page opened from far down a long
# one (a card's profile button on a phone) would open far down too; and on a phone the menu
# stayed open over the page chosen from it, catching the next tap. On each page change this
# scrolls to the top and, on a narrow screen, folds the menu away. A constant script, no data
# in it; the count makes each page change a new element, so the browser runs it again.
_TO_TOP = (
    "<script>/* page change {} */ "
    "document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0); "
    "window.scrollTo(0, 0); "
    "if (window.innerWidth < 768 && document.querySelector("
    "'[data-testid=\"stSidebar\"]')?.dataset.collapsed === 'false') "
    "document.querySelector('[data-testid=\"stSidebarCollapseButton\"] button')?.click(); "
    # Focus fell to the page's body when the control used went with the page left: once the
    # new page's title is drawn (or after 2 s), and for 3 s after, the title takes the
    # focus whenever nothing else holds it. (In a function of its own: each page change runs
    # this script again in the same window.)
    "(() => {{ const title = '[data-testid=\"stMain\"] h1'; "
    "const left = document.querySelector(title)?.textContent; let tries = 0, after = 0; "
    "const wait = setInterval(() => {{ const h = document.querySelector(title); "
    "if (!((h && h.textContent !== left) || ++tries > 40)) return; "
    "if (h && document.activeElement === document.body) {{ h.tabIndex = -1; "
    "h.focus({{preventScroll: true}}); }} if (++after > 60) clearInterval(wait); }}, 50); }})();"
    "</script>"
)


# A decision's confirmation is drawn in a container keyed "decision_<n>" (Streamlit gives it the
# class "st-key-decision_<n>"), and the script below scrolls that one to the middle of the
# screen. A new n each time: the confirmation left from the decision before may still be on the
# page while the new one is drawn. Constant but for n, an int.
_INTO_VIEW = (
    "<script>/* confirmation {0} */ setTimeout(() => document.querySelector("
    "'.st-key-decision_{0}')?.scrollIntoView({{block: 'center'}}), 50);</script>"
)


def decision_box() -> DeltaGenerator:
    """A new container for a decision's confirmation, brought into the middle of the screen."""
    s = st.session_state
    s["decisions_shown"] = shown = s.get("decisions_shown", 0) + 1
    box = st.container(key=f"decision_{int(shown)}")
    st.html(_INTO_VIEW.format(int(shown)), unsafe_allow_javascript=True)
    return box


def open_at_top(page: str) -> None:
    """Scroll to the top when ``page`` (the page being run) is not the page last drawn."""
    s = st.session_state
    if s.get("page_shown") == page:
        return
    s["page_shown"] = page
    s["page_changes"] = changes = s.get("page_changes", 0) + 1
    # In the sidebar: drawn ahead of the page in the main area, it held the first card back
    # (submit -> first card 557 against 450 ms p50 without it; 457 here against 471 before
    # this session's changes, bench.browser 2026-11-30 10:48-10:55, load 2.2-3.4)
    st.sidebar.html(_TO_TOP.format(int(changes)), unsafe_allow_javascript=True)


PROBLEMS_SHOWN = 20  # problems of a file in the static table; all of them in a grid below


def problems_table(problems: Sequence[Problem]) -> None:
    """A file's problems by row and column. The first few in a static table, which wraps, so
    each message reads whole (a data grid cut them off); it reads Markdown, so every cell, the
    file's own values above all, goes through plain(). All of them in a grid when there are
    more."""
    table = pd.DataFrame(
        {
            "row": ["whole file" if p.row is None else str(p.row) for p in problems],
            "column": [p.column or "" for p in problems],
            "value": [p.value or "" for p in problems],
            "problem": [p.message for p in problems],
        }
    )
    st.table(table.head(PROBLEMS_SHOWN).map(plain), hide_index=True)
    if len(table) > PROBLEMS_SHOWN:
        with st.expander(f"All {len(table):,} problems listed"):
            st.dataframe(table, hide_index=True)


def therapist_label(directory: Directory, therapist_id: str) -> str:
    """'Grace Thomas (T0000643)', as coordinators see a therapist; the id alone when the
    directory in use does not list it."""
    row = directory.row_of.get(therapist_id)
    return therapist_id if row is None else f"{directory.text['name'][row]} ({therapist_id})"


def open_profile(therapist_id: str) -> None:
    """A button's callback: show a therapist's profile (which therapist rides in the session,
    not the URL). The router switches before any page is drawn, so the profile opens at its
    top; switching from the middle of a drawn page kept that page's scroll position."""
    st.session_state["profile"] = therapist_id
    st.session_state.pop("request_reference", None)
    st.session_state["next_page"] = PROFILE


MAX_MILES = 100  # the intake's travel slider goes this far (saved answers may hold more)


def answers_from(p: Preferences) -> dict[str, object]:
    """The intake's raw answers that stand for saved preferences (to fill the form again)."""
    gender = p.therapist_gender
    answers: dict[str, object] = {
        "state": p.state,
        "essential": [k for k, v in p.priorities.model_dump().items() if v == V.PRIORITY_MAX][:3],
        "priorities": p.priorities.model_dump(),
        "concerns": list(p.concerns),
        "prefer": list(p.modalities.prefer),
        "avoid": list(p.modalities.avoid),
        "style": p.style.model_dump(),
        "gender": gender.value if gender else "No preference",
        "gender_must": "Must" if gender and gender.required else "Nice to have",
        "identities": list(p.therapist_identities.values),
        "identities_must": "Must" if p.therapist_identities.required else "Nice to have",
        "first_time": "first_time" in p.populations,
        "populations": [x for x in p.populations if x != "first_time"],
        "age_group": p.age_group or "adults",
        "format": p.format,
        "insurance": p.payment.insurance or "I'll pay myself / no insurance",
        "max_fee": None if p.payment.max_fee is None else int(p.payment.max_fee),
        "sliding": p.payment.sliding_scale_ok,
        "language": p.language or "English",
    }
    if p.location is not None:
        answers["saved_location"] = {"lat": p.location.lat, "lon": p.location.lon}
        answers["near"] = "Where my saved answers said"
        miles = round(p.location.max_km / W.KM_PER_MILE / 5) * 5
        answers["miles"] = min(MAX_MILES, max(5, miles))
    return answers


def ease(before: Preferences, after: Preferences) -> None:
    """Search with ``after``, an easing of ``before``, and change the intake's answers to match,
    only where the easing changed them: "Change your answers" then shows the easing, and sending
    the form again keeps it (it had brought the old must back)."""
    st.session_state["preferences"] = after
    was, now = answers_from(before), answers_from(after)
    answers = st.session_state.setdefault("answers", {})
    answers.update({key: value for key, value in now.items() if was.get(key) != value})


def preferences() -> Preferences | None:
    value = st.session_state.get("preferences")
    return value if isinstance(value, Preferences) else None


def plain(text: object) -> str:
    """Text from a file or a person, escaped so markdown shows it literally (never as HTML, and
    never as a link: GitHub-style markdown turns bare "https://…", "www.…" and "a@b.c" into
    live links whatever is escaped, so an invisible word joiner breaks those patterns)."""
    text = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\u2060" + m.group(0)[-1], str(text))
    return _MARKDOWN.sub(r"\\\1", text)


def crisis_resources() -> None:
    """Shown prominently whenever the client said they may harm themselves or someone else,
    with 988 one tap away on a phone: the buttons first, so they are in view even where the
    box opens at the foot of the screen (under the intake's safety question)."""
    with st.container(border=True):
        call, text = st.columns(2)
        call.link_button("Call 988", "tel:988", icon=":material/call:", width="stretch")
        text.link_button("Text 988", "sms:988", icon=":material/sms:", width="stretch")
        st.error(plain(W.CRISIS_NOW), icon=":material/emergency:")
