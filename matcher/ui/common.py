"""What every page shares: the demo directory (loaded once per process) and safe text."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from matcher.directory import Directory, load_directory

DEMO_DIRECTORY = Path(__file__).resolve().parents[2] / "data" / "therapists.csv"
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


@st.cache_resource(show_spinner="Loading the therapist directory…")
def demo_directory() -> Directory:
    """The bundled demo directory: public data, identical for every user, so shared."""
    return load_directory(DEMO_DIRECTORY)


def plain(text: object) -> str:
    """Text from a file or a person, escaped so markdown shows it literally (never as HTML)."""
    return _MARKDOWN.sub(r"\\\1", str(text))
