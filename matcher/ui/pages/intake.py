"""Find a therapist: a calm intake in one form, so nothing reruns until it is submitted."""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from matcher import vocabulary as V
from matcher import words as W
from matcher.preferences import Preferences, problems_from
from matcher.ui.common import (
    PRIVACY,
    RESULTS,
    crisis_resources,
    current_directory,
    plain,
    preferences,
)

NO_PREFERENCE = "No preference"
NO_INSURANCE = "I'll pay myself / no insurance"
ANYWHERE = "Anywhere in my state"
SAFETY_OPTIONS = ("No", "Yes", "I'd rather not say")

directory, directory_name = current_directory()
before = preferences()

st.title("Find a therapist who fits you")
st.markdown(
    "Feeling safe, heard and understood by your therapist matters as much as their method. "
    "Tell us what matters to you; we'll rank therapists on it and say why each one fits."
)
st.caption(PRIVACY)
if st.session_state.get("crisis"):
    crisis_resources()


def _level(item: str) -> int:
    return getattr(before.priorities, item) if before else 1


def _lean_label(axis: V.StyleAxis) -> Any:
    def label(value: int) -> str:
        if value == 0:
            return "no preference"
        side = axis.high if value > 0 else axis.low
        return f"{'strongly ' if abs(value) == 3 else 'somewhat ' if abs(value) == 1 else ''}{side}"

    return label


languages = sorted(directory.tags["languages"].vocabulary, key=str.lower)
insurers = sorted(directory.tags["insurance"].vocabulary, key=str.lower)
states = sorted(V.STATES, key=V.STATES.__getitem__)
places = directory.places
place_labels = [f"{row.city}, {row.state}" for row in places.itertuples()]

with st.form("intake"):
    st.header("1. What matters most to you")
    st.caption("How important is each of these to you? There are no wrong answers.")
    priorities = {
        item.key: st.select_slider(
            item.question,
            options=list(V.PRIORITY_LEVELS),
            value=_level(item.key),
            format_func=V.PRIORITY_LEVELS.__getitem__,
            help=item.explanation,
            key=f"priority_{item.key}",
        )
        for item in V.RAPPORT_ITEMS
    }

    st.header("2. What you would like help with")
    concerns = st.multiselect(
        "What would you like help with? Choose any that fit.",
        list(V.CONCERNS),
        default=list(before.concerns) if before else [],
        format_func=V.CONCERNS.__getitem__,
        key="concerns",
    )
    prefer = st.multiselect(
        "Approaches you would like (leave empty if you're not sure: we'll suggest ones "
        "commonly recommended for your concerns)",
        list(V.APPROACHES),
        default=list(before.modalities.prefer) if before else [],
        format_func=V.APPROACHES.__getitem__,
        key="prefer",
    )
    avoid = st.multiselect(
        "Approaches you would rather avoid",
        list(V.APPROACHES),
        default=list(before.modalities.avoid) if before else [],
        format_func=V.APPROACHES.__getitem__,
        key="avoid",
    )

    st.header("3. How you like to work")
    style = {
        axis.key: st.select_slider(
            f"{axis.low.capitalize()} … {axis.high}",
            options=list(range(V.STYLE_MIN, V.STYLE_MAX + 1)),
            value=getattr(before.style, axis.key) if before else 0,
            format_func=_lean_label(axis),
            key=f"style_{axis.key}",
        )
        for axis in V.STYLE_AXES
    }

    st.header("4. Who you would feel comfortable with")
    gender = st.selectbox(
        "Therapist's gender",
        [NO_PREFERENCE, *V.GENDERS],
        format_func=lambda g: g if g == NO_PREFERENCE else V.GENDERS[g].capitalize(),
        key="gender",
    )
    gender_must = st.radio(
        "Is that a must?", ["Nice to have", "Must"], horizontal=True, key="gender_must"
    )
    identities = st.multiselect(
        "Would you like a therapist who shares part of your identity?",
        list(V.PEOPLE),
        format_func=V.IDENTITY_WORDS.__getitem__,
        key="identities",
    )
    identities_must = st.radio(
        "Is that a must?", ["Nice to have", "Must"], horizontal=True, key="identities_must"
    )
    first_time = st.checkbox("This is my first time in therapy", key="first_time")
    populations = st.multiselect(
        "Would experience with any of these groups matter to you?",
        [p for p in V.PEOPLE if p != "first_time"],
        format_func=V.PEOPLE.__getitem__,
        key="populations",
    )

    st.header("5. Practical matters")
    age_group = st.selectbox(
        "Who is the therapy for?",
        list(V.AGE_GROUPS),
        index=list(V.AGE_GROUPS).index(before.age_group or "adults") if before else 2,
        format_func=lambda a: W.WHO_NEEDS_HELP[a],
        help="For a child or teenager we also look for therapists who work with parents.",
        key="age_group",
    )  # fmt: skip
    state = st.selectbox(
        "Your state (therapists must be licensed where you live)",
        states,
        index=states.index(before.state) if before else None,
        placeholder="Choose your state",
        format_func=lambda s: f"{V.STATES[s]} ({s})",
        key="state",
    )
    session_format = st.radio(
        "Sessions",
        list(V.CLIENT_FORMATS),
        index=list(V.CLIENT_FORMATS).index(before.format) if before else 2,
        format_func=lambda f: V.CLIENT_FORMATS[f].capitalize(),
        horizontal=True,
        key="format",
    )
    near = st.selectbox(
        "For in-person sessions, near which city?",
        [ANYWHERE, *place_labels],
        key="near",
    )
    max_km = st.slider("How far could you travel? (km)", 5, 150, 40, step=5, key="max_km")
    insurance = st.selectbox("Insurance", [NO_INSURANCE, *insurers], key="insurance")
    max_fee = st.number_input(
        "Most you could pay per session, in US dollars (leave empty for no limit)",
        min_value=0,
        max_value=2000,
        value=None,
        step=10,
        key="max_fee",
    )
    sliding = st.checkbox(
        "I would like to ask about a sliding scale (lower fees by income)", key="sliding"
    )
    language = st.selectbox(
        "Language for sessions",
        languages,
        index=languages.index("English") if "English" in languages else 0,
        key="language",
    )

    st.header("6. One gentle question about safety")
    safety = st.radio(
        "Are you having thoughts of ending your life, or of harming someone else?",
        SAFETY_OPTIONS,
        index=0,
        horizontal=True,
        help="A 'yes' shows where to get help right now. You can still browse therapists.",
        key="safety",
    )
    submitted = st.form_submit_button("Show my matches", type="primary")

if submitted:
    st.session_state["crisis"] = safety == "Yes"
    if state is None:
        st.error("Please choose your state: therapists can only see clients where licensed.")
        st.stop()
    answers: dict[str, Any] = {
        "state": state,
        "priorities": priorities,
        "concerns": concerns,
        "modalities": {"prefer": prefer, "avoid": avoid},
        "style": style,
        "age_group": age_group,
        "format": session_format,
        "language": language,
        "populations": (["first_time"] if first_time else []) + populations,
        "therapist_identities": {"values": identities, "required": identities_must == "Must"},
        "payment": {
            "insurance": None if insurance == NO_INSURANCE else insurance,
            "max_fee": max_fee,
            "sliding_scale_ok": sliding,
        },
    }
    if gender != NO_PREFERENCE:
        answers["therapist_gender"] = {"value": gender, "required": gender_must == "Must"}
    if near != ANYWHERE:
        city = places.iloc[place_labels.index(near)]
        answers["location"] = {"lat": city["lat"], "lon": city["lon"], "max_km": max_km}
    try:
        st.session_state["preferences"] = Preferences.model_validate(answers)
    except ValidationError as error:  # e.g. one approach both wanted and avoided
        for problem in problems_from(error, "your answers"):
            st.error(plain(f"Please check your answers: {problem.message}"))
        st.stop()
    st.switch_page(RESULTS)
