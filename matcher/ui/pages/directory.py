"""Your own directory: a clinic uploads its file; a bad file shows every problem, never a crash."""

from __future__ import annotations

import streamlit as st

from matcher.directory import load_directory
from matcher.schema import UPLOAD_MAX_ROWS, InvalidInput, Upload, count_problems
from matcher.ui.common import current_directory, plain, problems_table

st.title("Use your own directory", anchor=False)
st.markdown(
    "Upload your clinic's therapist directory as CSV or Parquet, in the format described on "
    "*How matching works*. It is checked cell by cell; if anything is wrong you'll see every "
    "problem at once, and the directory in use does not change."
)
st.caption(
    "The file stays in this browser session only: it is read in memory, never saved on the "
    f"server, and forgotten when you close the tab. Up to {UPLOAD_MAX_ROWS:,} therapists; a "
    "larger directory is loaded with the command line instead."
)
directory, name = current_directory()
st.info(plain(f"In use now: {name} ({len(directory):,} therapists)."))

# Keyed by round: going back to the demo starts a new round, which empties the box (the file
# left in it was read again at once, so the button did nothing: found trying the app)
upload = st.file_uploader(
    "Directory file (CSV or Parquet)",
    type=["csv", "parquet", "pq"],
    key=f"upload_{st.session_state.get('upload_round', 0)}",
)
if upload is None:  # the file whose problems were listed is gone: so are they
    st.session_state.pop("upload_problems", None)
if upload is not None and st.session_state.get("upload_seen") != upload.file_id:
    st.session_state["upload_seen"] = upload.file_id
    received = Upload(upload.name, upload.getvalue())  # problems name the user's own file
    try:
        with st.spinner("Checking every row…"):
            loaded = load_directory(received, max_rows=UPLOAD_MAX_ROWS)
    except InvalidInput as error:
        st.session_state["upload_problems"] = error.problems
    else:
        st.session_state.pop("upload_problems", None)
        st.session_state["directory"] = loaded
        st.session_state["directory_name"] = upload.name
        st.rerun()

problems = st.session_state.get("upload_problems")
if problems:
    st.error(
        f"This file can't be used yet: {count_problems(problems):,} problem(s) found. "
        "The directory in use has not changed."
    )
    problems_table(problems)
if "directory" in st.session_state and st.button("Go back to the demo directory"):
    for key in ("directory", "directory_name", "upload_problems", "upload_seen"):
        st.session_state.pop(key, None)
    st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
    st.rerun()
