"""Rendering pieces shared by pages: a match card. Words come from matcher.explain."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import Explanation, contribution_label, explain, facts, stale_warning
from matcher.preferences import Preferences
from matcher.scoring import Match
from matcher.ui.common import open_profile, plain


def match_card(place: int, match: Match, preferences: Preferences, directory: Directory) -> None:
    """One therapist: why they fit, why not higher, practical facts, score by group."""
    words = explain(match, preferences)
    x = match.practical
    with st.container(border=True):
        name, score = st.columns([4, 1])
        name.subheader(plain(f"{place}. {match.name}"), anchor=False)
        name.caption(plain(f"{x.credentials} · {x.city}"))
        # Read alone, "62%" looked like a poor grade (helper walk): 50% is the average match
        score.metric(
            "Match",
            f"{match.score:.0%}",
            help=f"{match.baseline:.0%} is an average match for you; each part of what you asked "
            "for adds or takes away points from there (see How the score is made up).",
        )
        why_they_fit(match, words)
        st.markdown(
            "  \n".join(f"**{label}:** {plain(text)}" for label, text in facts(match, preferences))
        )
        # The chart is drawn only once its expander is opened (which reruns the page): five
        # charts drawn at once were most of the browser's work between "Show my matches" and
        # the first card (measured in Chromium), for a figure few open.
        parts = st.expander(
            "How the score is made up", key=f"parts_{match.therapist_id}", on_change="rerun"
        )
        with parts:
            st.caption(
                plain(
                    f"An average match for you scores {match.baseline:.0%}; each part adds or "
                    "takes away points from there."
                )
            )
            if parts.open:
                frame = contribution_frame(match)
                # keyed, so common.PAGE_STYLE hides the chart's toolbar
                st.container(key=f"score_chart_{match.therapist_id}").vega_lite_chart(
                    frame,
                    contribution_spec(),
                    width="stretch",
                    alt="; ".join(frame["part"]),  # every bar in words: an attribute, not markdown
                )
        bio = str(directory.table.at[match.row, "bio"]) if "bio" in directory.table else ""
        if bio:
            with st.expander("In their own words"):
                st.text(bio)  # text, never markdown or HTML
        with st.expander("After your first sessions, ask yourself"):
            st.markdown("\n".join(f"- {plain(line)}" for line in words.first_session))
        left, right = st.columns(2)
        left.button(
            "Profile, contact and consultation request",
            key=f"profile_{match.therapist_id}",
            icon=":material/person:",
            on_click=open_profile,
            args=(match.therapist_id,),
        )
        # The shortlist lives apart from the checkbox, so a tick survives re-ranking even when
        # the card is not drawn (Streamlit forgets the state of widgets it does not draw).
        shortlist: list[str] = st.session_state.setdefault("shortlist_ids", [])
        right.checkbox(
            "Add to my shortlist",
            value=match.therapist_id in shortlist,
            key=f"shortlist_{match.therapist_id}",
            on_change=toggle_shortlist,
            args=(match.therapist_id,),
        )


def why_they_fit(match: Match, words: Explanation) -> None:
    """The reasons, the shortfall in italics, and a stale-availability warning in words."""
    st.markdown("\n".join(f"- {plain(reason)}" for reason in words.reasons))
    if words.shortfall:
        st.markdown(f"_{plain(words.shortfall)}_")
    warning = stale_warning(match)
    if warning:
        st.warning(plain(warning), icon=":material/warning:")


def toggle_shortlist(therapist_id: str) -> None:
    """Set, never flip: the shortlist holds the therapist exactly when their box is ticked."""
    shortlist: list[str] = st.session_state.setdefault("shortlist_ids", [])
    ticked = bool(st.session_state.get(f"shortlist_{therapist_id}"))
    if ticked and therapist_id not in shortlist:
        shortlist.append(therapist_id)
    elif not ticked and therapist_id in shortlist:
        shortlist.remove(therapist_id)


def contribution_frame(match: Match) -> pd.DataFrame:
    """Signed points per group around the average match; each row is named with its value in
    words ("Rapport: +18 points"), so nothing depends on reading the bar or its color.

    Unmeasured rapport is a row with no bar ("Rapport: not measured yet"), never points.
    """
    return pd.DataFrame(
        {
            "part": [
                f"{V.GROUP_LABELS[g].capitalize()}: {contribution_label(match, g)}"
                for g in match.active
            ],
            "points": [
                0.0 if g == "rapport" and not match.measured else match.contributions[g] * 100
                for g in match.active
            ],
        }
    )


def contribution_spec() -> dict[str, Any]:
    """The bar chart of contribution_frame, as a Vega-Lite spec (a new dict per call).

    Written as data rather than built with Altair: Altair checks every chart against the whole
    Vega-Lite schema, about 40 ms of server time per card (a fifth of a search, measured), and
    importing it slowed the first results page; the JSON drawn is the same.
    """
    return {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "points", "type": "quantitative", "title": "points"},
            "y": {
                "field": "part",
                "type": "nominal",
                "sort": None,
                "title": None,
                "axis": {"labelOverlap": False, "labelLimit": 320},
            },
            "color": {
                "condition": {"test": "datum.points >= 0", "value": "#2b6cb0"},
                "value": "#b7791f",
            },
            "tooltip": [{"field": "part", "type": "nominal"}],
        },
        "height": {"step": 30},
    }
