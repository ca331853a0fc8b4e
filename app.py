"""The app's router: the pages live in matcher/ui/pages/."""

import streamlit as st

from matcher.ui.common import INTAKE, METHOD, RESULTS, UPLOAD

st.set_page_config(page_title="Rapport-first therapist matching", page_icon="🤝")
navigation = st.navigation(
    {
        "For clients": [
            st.Page(INTAKE, title="Find a therapist", icon="🧭", default=True),
            st.Page(RESULTS, title="Your matches", icon="📋"),
        ],
        "For clinics": [st.Page(UPLOAD, title="Your own directory", icon="📁")],
        "About": [st.Page(METHOD, title="How matching works", icon="📖")],
    }
)
navigation.run()
