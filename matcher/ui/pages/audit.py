"""Audit log (coordinators): every decision — who, when, what, why — newest first, filterable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.report import spreadsheet_csv
from matcher.ui.auth import coordinator, store
from matcher.ui.common import current_directory, therapist_label

coordinator()
directory, _ = current_directory()
log = store().audit().iloc[::-1].reset_index(drop=True)  # newest first
# Therapists by name as well as id (ids no longer in the directory in use stay as they are)
names = {t: therapist_label(directory, t) for t in log["therapist_id"].dropna().unique()}
log["therapist"] = log["therapist_id"].map(names)
st.title("Audit log", anchor=False)
st.caption(
    "Every import, assignment, override, undo and release; every consultation request, offer "
    "and risk review; every check-in; and every refused sign-in (the name tried, never a "
    "password), newest first. Times are UTC."
)
left, middle, right, far = st.columns(4)
referral = left.text_input("Referral", key="audit_referral").strip()
therapist = middle.text_input("Therapist", key="audit_therapist").strip()
actors = right.multiselect("Who", sorted(log["actor"].dropna().unique()), key="audit_actor")
actions = far.multiselect("Action", sorted(log["action"].dropna().unique()), key="audit_action")
shown = log
if referral:
    shown = shown[shown["referral_id"].fillna("").str.contains(referral, case=False, regex=False)]
if therapist:
    shown = shown[shown["therapist"].fillna("").str.contains(therapist, case=False, regex=False)]
if actors:
    shown = shown[shown["actor"].isin(actors)]
if actions:
    shown = shown[shown["action"].isin(actions)]
st.caption(f"{len(shown):,} of {len(log):,} entries shown.")
# The same words as the filters above, and blank rather than "None" where a step had no
# referral or therapist; the download keeps the stored column names.
HEADINGS = {"actor": "Who", "action": "Action", "referral_id": "Referral",
            "therapist": "Therapist", "detail": "Detail"}  # fmt: skip
st.dataframe(
    shown.drop(columns="therapist_id").fillna("").assign(at=pd.to_datetime(shown["at"], utc=True)),
    hide_index=True,
    # what happened and to which referral first, so a phone shows them without scrolling sideways
    column_order=["at", "action", "referral_id", "therapist", "detail", "actor"],
    column_config={
        "at": st.column_config.DatetimeColumn(
            "When (UTC)", format="MMM D, YYYY, h:mm a", timezone="UTC"
        ),
        **{column: st.column_config.TextColumn(label) for column, label in HEADINGS.items()},
        # the longest text, and the last column: it was cut off (found trying the app)
        "detail": st.column_config.TextColumn("Detail", width="large"),
    },
)
st.download_button(
    "Download the audit log (CSV)",
    spreadsheet_csv(shown.drop(columns="therapist")),
    file_name="audit-log.csv",
    mime="text/csv",
)
