"""Audit log (coordinators): every decision — who, when, what, why."""

from __future__ import annotations

import streamlit as st

from matcher.report import spreadsheet_safe
from matcher.ui.auth import coordinator, store

coordinator()
log = store().audit()
st.title("Audit log")
st.caption(
    "Every import, assignment, override and release, and every refused sign-in (the name "
    "tried, never a password), newest last. Times are UTC."
)
st.dataframe(log, hide_index=True)
st.download_button(
    "Download the audit log (CSV)",
    spreadsheet_safe(log).to_csv(index=False).encode("utf-8"),
    file_name="audit-log.csv",
    mime="text/csv",
)
