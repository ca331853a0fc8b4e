"""Rendering pieces shared by pages: a match card. Words come from matcher.explain."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import explain, facts, stale_warning
from matcher.preferences import Preferences
from matcher.scoring import Match
from matcher.ui.common import plain


def match_card(place: int, match: Match, preferences: Preferences, directory: Directory) -> None:
    """One therapist: why they fit, why not higher, practical facts, score by group."""
    words = explain(match, preferences)
    e = match.evidence
    with st.container(border=True):
        name, score = st.columns([4, 1])
        name.subheader(plain(f"{place}. {match.name}"))
        name.caption(plain(f"{e.credentials} · {e.city}"))
        score.metric("Match", f"{match.score:.0%}")
        st.markdown("\n".join(f"- {plain(reason)}" for reason in words.reasons))
        if words.shortfall:
            st.markdown(f"_{plain(words.shortfall)}_")
        warning = stale_warning(e)
        if warning:
            st.warning(plain(warning), icon=":material/warning:")
        st.markdown(
            "  \n".join(f"**{label}:** {plain(text)}" for label, text in facts(e, preferences))
        )
        chart = pd.DataFrame(
            {
                "part of the score": [V.GROUP_LABELS[g] for g in match.active],
                "points": [round(match.contributions[g] * 100, 1) for g in match.active],
            }
        )
        st.caption("How the match score is made up (points out of 100)")
        st.bar_chart(chart, x="part of the score", y="points", horizontal=True, height=200)
        bio = str(directory.table.at[match.row, "bio"]) if "bio" in directory.table else ""
        if bio:
            with st.expander("In their own words"):
                st.text(bio)  # text, never markdown or HTML
        with st.expander("After your first sessions, ask yourself"):
            st.markdown("\n".join(f"- {plain(line)}" for line in words.first_session))
        st.checkbox("Add to my shortlist", key=f"shortlist_{match.therapist_id}")
