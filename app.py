"""The app's router: each page lives in matcher/ui/."""

import streamlit as st

from matcher.ui import find, method

st.set_page_config(page_title="Rapport-first therapist matching", layout="centered")
navigation = st.navigation(
    [
        st.Page(find.page, title="Find a therapist", url_path="find", default=True),
        st.Page(method.page, title="How matching works", url_path="method"),
    ]
)
navigation.run()
