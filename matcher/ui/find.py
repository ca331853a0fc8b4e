"""Find a therapist: what matters to you, then ranked matches that say why they fit."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher.explain import explain, summary
from matcher.preferences import Preferences
from matcher.scoring import Match, rank
from matcher.ui.common import demo_directory, plain

TOP = 5


def page() -> None:
    st.title("Find a therapist who fits you")
    st.caption(
        "Nothing you enter here is stored: it lives only in this browser tab and is gone "
        "when you close it."
    )
    directory = demo_directory()
    with st.form("intake"):
        st.subheader("What matters most to you")
        priorities = {
            item.key: st.select_slider(
                item.question,
                options=list(V.PRIORITY_LEVELS),
                value=1,
                format_func=V.PRIORITY_LEVELS.__getitem__,
                help=item.explanation,
                key=f"priority_{item.key}",
            )
            for item in V.RAPPORT_ITEMS
        }
        st.subheader("What you would like help with")
        concerns = st.multiselect(
            "Concerns", list(V.CONCERNS), format_func=V.CONCERNS.__getitem__, key="concerns"
        )
        st.subheader("Practical matters")
        states = sorted({s for s in directory.tags["states"].vocabulary
                         if directory.tags["states"].has(s).any()})  # fmt: skip
        state = st.selectbox(
            "Your state", states, index=states.index("NC") if "NC" in states else 0,
            format_func=lambda s: f"{V.STATES[s]} ({s})", key="state",
        )  # fmt: skip
        session_format = st.radio(
            "Sessions", list(V.CLIENT_FORMATS), format_func=V.CLIENT_FORMATS.__getitem__,
            index=2, horizontal=True, key="format",
        )  # fmt: skip
        age_group = st.selectbox(
            "Who is the therapy for?", list(V.AGE_GROUPS), index=2,
            format_func=lambda a: V.AGE_GROUPS[a].capitalize(), key="age_group",
        )  # fmt: skip
        submitted = st.form_submit_button("Show my matches", type="primary")
    if submitted:
        st.session_state["preferences"] = Preferences.model_validate(
            {
                "state": state,
                "priorities": priorities,
                "concerns": concerns,
                "format": session_format,
                "age_group": age_group,
            }
        )
    preferences = st.session_state.get("preferences")
    if preferences is not None:
        _results(preferences)


def _results(preferences: Preferences) -> None:
    directory = demo_directory()
    ranking = rank(directory, preferences, top=TOP, today=date.today())
    st.header("Your matches")
    for line in summary(ranking, preferences):
        st.markdown(plain(line))
    for match in ranking.matches:
        _card(match, preferences)


def _card(match: Match, preferences: Preferences) -> None:
    words = explain(match, preferences)
    e = match.evidence
    with st.container(border=True):
        st.subheader(plain(f"{match.name}, {e.credentials}"))
        st.metric("Match", f"{match.score:.0%}")
        for reason in words.reasons:
            st.markdown("- " + plain(reason))
        if words.shortfall:
            st.markdown(plain(words.shortfall))
        with st.expander("After your first sessions, ask yourself"):
            for line in words.first_session:
                st.markdown("- " + plain(line))
        chart = pd.DataFrame(
            {"group": [V.GROUP_LABELS[g] for g in match.active],
             "contribution": [match.contributions[g] for g in match.active]}
        )  # fmt: skip
        st.bar_chart(chart, x="group", y="contribution", horizontal=True, height=180)
