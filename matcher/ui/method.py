"""How matching works: the method, the words, and the evidence behind the defaults."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher import vocabulary as V


def page() -> None:
    st.title("How matching works")
    st.markdown(
        "Research on therapy keeps finding that the relationship matters as much as the "
        "method. So we rank therapists first on the rapport qualities you say matter most, "
        "then on your concerns, the approach, their style, identity and practicalities — "
        "and every match says why, with its evidence."
    )
    st.subheader("The rapport qualities")
    st.dataframe(
        pd.DataFrame(
            {
                "You want": [item.feeling for item in V.RAPPORT_ITEMS],
                "The therapist brings": [item.brings for item in V.RAPPORT_ITEMS],
                "Why it matters": [item.explanation for item in V.RAPPORT_ITEMS],
            }
        ),
        hide_index=True,
    )
    st.subheader("Default weights")
    st.dataframe(
        pd.DataFrame(
            {"group": [V.GROUP_LABELS[g] for g in V.GROUPS],
             "weight": [V.DEFAULT_WEIGHTS[g] for g in V.GROUPS]}
        ),
        hide_index=True,
    )  # fmt: skip
    st.markdown(
        f"A therapist's measured rapport is the average of past clients' check-ins, pulled "
        f"toward the directory average when there are few of them (as if {V.SHRINKAGE_K:g} "
        "average check-ins were added). A therapist with no check-ins is never described "
        "as empathic: we tell you what to watch for in your first session instead."
    )
