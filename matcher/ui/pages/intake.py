"""Find a therapist: a calm intake in one form, so nothing reruns until it is submitted."""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from matcher import vocabulary as V
from matcher import words as W
from matcher.places import locate
from matcher.preferences import Preferences, decode_json, parse_preferences, problems_from
from matcher.schema import InvalidInput
from matcher.ui.common import (
    PRIVACY,
    RESULTS,
    answers_from,
    crisis_resources,
    current_directory,
    plain,
)

NO_PREFERENCE = "No preference"
NO_INSURANCE = "I'll pay myself / no insurance"
ANYWHERE = "Anywhere in my state"
SAVED_PLACE = "Where my saved answers said"
SAFETY_OPTIONS = ("No", "Yes", "I'd rather not say")
MUST = ("Nice to have", "Must")

directory, directory_name = current_directory()
# Every answer is kept in the session as given (not only the parsed preferences), so "Change
# your answers", Back and forward bring all of them back. Nothing goes into the URL.
answers: dict[str, Any] = st.session_state.setdefault("answers", {})


def kept(key: str, fallback: Any) -> Any:
    return answers.get(key, fallback)


st.title("Find a therapist who fits you")
st.markdown(
    "Feeling safe, heard and understood by your therapist matters as much as their method. "
    "Tell us what matters to you; we'll rank therapists on it and say why each one fits."
)
st.caption(PRIVACY)
if st.session_state.get("crisis"):
    crisis_resources()

with st.expander("Come back later: load answers you saved before"):
    saved = st.file_uploader("Your saved answers (a .json file)", type=["json"], key="load")
    if saved is not None and st.session_state.get("loaded_seen") != saved.file_id:
        st.session_state["loaded_seen"] = saved.file_id
        try:
            loaded = parse_preferences(decode_json(saved.getvalue().decode("utf-8", "replace"),
                                                   saved.name), saved.name)  # fmt: skip
        except InvalidInput as error:
            for problem in error.problems[:10]:
                st.error(plain(str(problem)))
        else:
            st.session_state["preferences"] = loaded
            st.session_state["answers"] = answers_from(loaded)
            st.switch_page(RESULTS)


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
near_options = [ANYWHERE, *place_labels] + ([SAVED_PLACE] if "saved_location" in answers else [])


def _index(options: list[Any], value: Any, fallback: int | None = 0) -> int | None:
    return options.index(value) if value in options else fallback


with st.form("intake"):
    st.header("1. Where you live")
    state = st.selectbox(
        "Your state (therapists must be licensed where you live)",
        states,
        index=_index(states, kept("state", None), None),
        placeholder="Choose your state",
        format_func=lambda s: f"{V.STATES[s]} ({s})",
        key="state",
    )
    zip_code = st.text_input(
        "ZIP code, for in-person sessions nearby (optional)",
        value=kept("zip", ""),
        max_chars=10,
        key="zip",
    )

    st.header("2. What matters most to you")
    essential = st.multiselect(
        "In a therapist, what matters most to you? Choose up to three.",
        [item.key for item in V.RAPPORT_ITEMS],
        default=kept("essential", []),
        max_selections=3,
        format_func=lambda key: V.ITEM_BY_KEY[key].feeling.capitalize(),
        help="We rank first on how past clients say they felt on these; the rest still count.",
        key="essential",
    )
    with st.expander("Fine-tune the others (optional)"):
        st.caption("How important is each of these to you? There are no wrong answers.")
        levels = {
            item.key: st.select_slider(
                item.question,
                options=list(V.PRIORITY_LEVELS),
                value=kept("priorities", {}).get(item.key, 1),
                format_func=V.PRIORITY_LEVELS.__getitem__,
                help=item.explanation,
                key=f"priority_{item.key}",
            )
            for item in V.RAPPORT_ITEMS
        }
    # What the client picked is essential whatever its slider says.
    priorities = {
        key: V.PRIORITY_MAX if key in essential else level for key, level in levels.items()
    }

    st.header("3. What you would like help with")
    concerns = st.multiselect(
        "What would you like help with? Choose any that fit.",
        list(V.CONCERNS),
        default=kept("concerns", []),
        format_func=V.CONCERNS.__getitem__,
        key="concerns",
    )
    prefer = st.multiselect(
        "Approaches you would like (leave empty if you're not sure: we'll suggest ones "
        "commonly recommended for your concerns)",
        list(V.APPROACHES),
        default=kept("prefer", []),
        format_func=V.APPROACHES.__getitem__,
        key="prefer",
    )
    avoid = st.multiselect(
        "Approaches you would rather avoid",
        list(V.APPROACHES),
        default=kept("avoid", []),
        format_func=V.APPROACHES.__getitem__,
        key="avoid",
    )

    st.header("4. How you like to work")
    style = {
        axis.key: st.select_slider(
            f"{axis.low.capitalize()} … {axis.high}",
            options=list(range(V.STYLE_MIN, V.STYLE_MAX + 1)),
            value=kept("style", {}).get(axis.key, 0),
            format_func=_lean_label(axis),
            key=f"style_{axis.key}",
        )
        for axis in V.STYLE_AXES
    }

    st.header("5. Who you would feel comfortable with")
    genders = [NO_PREFERENCE, *V.GENDERS]
    gender = st.selectbox(
        "Therapist's gender",
        genders,
        index=_index(genders, kept("gender", NO_PREFERENCE)),
        format_func=lambda g: g if g == NO_PREFERENCE else V.GENDERS[g].capitalize(),
        key="gender",
    )
    gender_must = st.radio(
        "If you chose a gender, is it a must?",
        MUST,
        index=_index(list(MUST), kept("gender_must", MUST[0])),
        horizontal=True,
        key="gender_must",
    )
    identities = st.multiselect(
        "Would you like a therapist who shares part of your identity?",
        list(V.PEOPLE),
        default=kept("identities", []),
        format_func=V.IDENTITY_WORDS.__getitem__,
        key="identities",
    )
    identities_must = st.radio(
        "If you chose an identity, is it a must?",
        MUST,
        index=_index(list(MUST), kept("identities_must", MUST[0])),
        horizontal=True,
        key="identities_must",
    )
    first_time = st.checkbox(
        "This is my first time in therapy", value=kept("first_time", False), key="first_time"
    )
    groups = [p for p in V.PEOPLE if p != "first_time"]
    populations = st.multiselect(
        "Would experience with any of these groups matter to you?",
        groups,
        default=[p for p in kept("populations", []) if p in groups],
        format_func=V.PEOPLE.__getitem__,
        key="populations",
    )

    st.header("6. Practical matters")
    ages = list(V.AGE_GROUPS)
    age_group = st.selectbox(
        "Who is the therapy for?",
        ages,
        index=_index(ages, kept("age_group", "adults")),
        format_func=lambda a: W.WHO_NEEDS_HELP[a],
        help="For a child or teenager we also look for therapists who work with parents.",
        key="age_group",
    )  # fmt: skip
    formats = list(V.CLIENT_FORMATS)
    session_format = st.radio(
        "Sessions",
        formats,
        index=_index(formats, kept("format", "either")),
        format_func=lambda f: V.CLIENT_FORMATS[f].capitalize(),
        horizontal=True,
        key="format",
    )
    near = st.selectbox(
        "No ZIP code? For in-person sessions, near which city?",
        near_options,
        index=_index(near_options, kept("near", ANYWHERE)),
        key="near",
    )
    miles = st.slider(
        "How far could you travel? (miles)", 5, 100, kept("miles", 25), step=5, key="miles"
    )
    insurance_options = [NO_INSURANCE, *insurers]
    insurance = st.selectbox(
        "Insurance",
        insurance_options,
        index=_index(insurance_options, kept("insurance", NO_INSURANCE)),
        key="insurance",
    )
    max_fee = st.number_input(
        "Most you could pay per session, in US dollars (leave empty for no limit)",
        min_value=0,
        max_value=2000,
        value=kept("max_fee", None),
        step=10,
        key="max_fee",
    )
    sliding = st.checkbox(
        "I would like to ask about a sliding scale (lower fees by income)",
        value=kept("sliding", False),
        key="sliding",
    )
    language = st.selectbox(
        "Language for sessions",
        languages,
        index=_index(languages, kept("language", "English")),
        key="language",
    )

    st.header("7. One gentle question about safety")
    safety = st.radio(
        "Are you having thoughts of ending your life, or of harming someone else?",
        SAFETY_OPTIONS,
        index=_index(list(SAFETY_OPTIONS), kept("safety", None), None),
        horizontal=True,
        help="A 'yes' shows where to get help right now. You can still browse therapists.",
        key="safety",
    )
    submitted = st.form_submit_button("Show my matches", type="primary")

if submitted:
    answers.update(
        state=state, zip=zip_code, essential=essential, priorities=levels, concerns=concerns,
        prefer=prefer,
        avoid=avoid, style=style, gender=gender, gender_must=gender_must,
        identities=identities, identities_must=identities_must, first_time=first_time,
        populations=populations, age_group=age_group, format=session_format, near=near,
        miles=miles, insurance=insurance, max_fee=max_fee, sliding=sliding, language=language,
        safety=safety,
    )  # fmt: skip
    st.session_state["crisis"] = safety == "Yes"
    st.session_state["unsure_about_safety"] = safety == "I'd rather not say"
    if state is None:
        st.error("Please choose your state: therapists can only see clients where licensed.")
        st.stop()
    location: dict[str, float] | None = None
    max_km = miles * W.KM_PER_MILE
    if zip_code.strip():
        place = locate(zip_code)
        if place is None:
            st.error(plain(f"We don't know the ZIP code {zip_code.strip()}; please check it."))
            st.stop()
        location = {"lat": place.lat, "lon": place.lon, "max_km": max_km}
    elif near == SAVED_PLACE:
        location = {**answers["saved_location"], "max_km": max_km}
    elif near is not None and near != ANYWHERE:
        city = places.iloc[place_labels.index(near)]
        location = {"lat": city["lat"], "lon": city["lon"], "max_km": max_km}
    chosen: dict[str, Any] = {
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
        chosen["therapist_gender"] = {"value": gender, "required": gender_must == "Must"}
    if location is not None:
        chosen["location"] = location
    try:
        st.session_state["preferences"] = Preferences.model_validate(chosen)
    except ValidationError as error:  # e.g. one approach both wanted and avoided
        for problem in problems_from(error, "your answers"):
            st.error(plain(f"Please check your answers: {problem.message}"))
        st.stop()
    st.switch_page(RESULTS)
