"""Find a therapist: the intake. A follow-up question ("is that a must?") appears only once the
answer it follows is given, so the page is not a form: each answer redraws it, and "Show my
matches" builds the preferences in a callback, before anything is drawn, so the router opens
the results in the same run instead of drawing this page once more only to leave it."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from matcher import vocabulary as V
from matcher import words as W
from matcher.places import locate
from matcher.preferences import Preferences, decode_json, parse_preferences, problems_from
from matcher.schema import InvalidInput, Problem
from matcher.scoring import unknown_terms
from matcher.ui.common import (
    MAX_MILES,
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


st.title("Find a therapist who fits you", anchor=False)
st.markdown(
    "Feeling safe, heard and understood by your therapist matters as much as their method. "
    "Tell us what matters to you; we'll rank therapists on it and say why each one fits."
)
st.caption(PRIVACY)


def _unshowable(p: Preferences) -> list[str]:
    """What in saved answers the form cannot show as it was, so sending the form again would
    change it (said on the form, never changed silently)."""
    notes = []
    unknown = unknown_terms(directory, p)
    if "insurance" in unknown:
        notes.append(f"Your saved answers named the insurance “{unknown['insurance']}”, which "
                     "this directory does not list: choose your plan again before sending.")  # fmt: skip
    if "language" in unknown:
        notes.append(f"Your saved answers asked for sessions in {unknown['language']}, which no "
                     "one in this directory lists: choose a language again before sending.")  # fmt: skip
    if p.location is not None and p.location.max_km / W.KM_PER_MILE > MAX_MILES:
        notes.append(f"Your saved answers allowed {W.miles(p.location.max_km)} of travel; the "
                     f"form goes up to {MAX_MILES}, so sending it again uses {MAX_MILES}.")  # fmt: skip
    return notes


unreadable: tuple[Problem, ...] = ()
with st.expander("Come back later: load answers you saved before"):
    saved = st.file_uploader("Your saved answers (a .json file)", type=["json"], key="load")
    if saved is not None and st.session_state.get("loaded_seen") != saved.file_id:
        st.session_state["loaded_seen"] = saved.file_id
        try:
            text = saved.getvalue().decode("utf-8")  # strictly: "Espa\ufffdol" had passed
            loaded = parse_preferences(decode_json(text, saved.name), saved.name)
        except UnicodeDecodeError:
            unreadable = (Problem(saved.name, None, None, None, "is not UTF-8 text"),)
        except InvalidInput as error:
            unreadable = error.problems[:10]
        else:
            st.session_state["preferences"] = loaded
            st.session_state["answers"] = answers_from(loaded)
            st.session_state["load_notes"] = _unshowable(loaded)
            st.switch_page(RESULTS)
# Outside the section, which folds shut when a file is chosen: a refusal inside it went unseen
if unreadable:
    st.error(
        "That file could not be used, so your answers are as they were. Choose the .json file "
        "that “Save my answers” downloaded, unchanged."
    )
    st.caption(plain("What was wrong: " + "; ".join(str(p) for p in unreadable)))


def _given() -> dict[str, Any]:
    """Every answer as its widget holds it now (one whose widget is not drawn: as kept)."""
    s = st.session_state
    given: dict[str, Any] = {
        key: s.get(key, kept(key, None))
        for key in (
            "state", "zip", "essential", "concerns", "prefer", "avoid", "gender", "identities",
            "first_time", "populations", "age_group", "format", "near", "miles", "insurance",
            "max_fee", "sliding", "language", "safety", "gender_must", "identities_must",
        )
    }  # fmt: skip
    priorities, style = kept("priorities", {}), kept("style", {})
    given["priorities"] = {
        i.key: s.get(f"priority_{i.key}", priorities.get(i.key, 1)) for i in V.RAPPORT_ITEMS
    }
    given["style"] = {a.key: s.get(f"style_{a.key}", style.get(a.key, 0)) for a in V.STYLE_AXES}
    return given


def _submit(places: pd.DataFrame, place_labels: list[str]) -> None:
    """ "Show my matches": keep every answer as given, then build the preferences, or say what to
    fix. Runs before the page is drawn; on success the router opens the results."""
    s = st.session_state
    given = _given()
    answers.update(given)
    s["crisis"] = given["safety"] == "Yes"
    s["unsure_about_safety"] = given["safety"] == "I'd rather not say"
    try:
        built = _preferences(given, places, place_labels)
    except _Unanswered as problems:
        s["intake_problems"] = [(problems.field, message) for message in problems.args]
        return
    # The weights are set on the results page (its sliders), not here: the ones set there stay
    # (sending the intake again had put the defaults back, and the order changed unasked)
    earlier = s.get("preferences")
    s["preferences"] = built if earlier is None else built.evolve(weights=earlier.weights)
    s.pop("load_notes", None)
    s["next_page"] = RESULTS


class _Unanswered(Exception):
    """What the client needs to fix before matching; the arguments are the messages, ``field``
    the answer they are about when it is one (shown beside it as well as by the button)."""

    def __init__(self, *messages: str, field: str | None = None) -> None:
        super().__init__(*messages)
        self.field = field


def _preferences(
    given: dict[str, Any], places: pd.DataFrame, place_labels: list[str]
) -> Preferences:
    if given["state"] is None:
        raise _Unanswered(
            "Please choose your state: therapists can only see clients where licensed.",
            field="where",
        )
    location: dict[str, float] | None = None
    max_km = given["miles"] * W.KM_PER_MILE
    zip_code = str(given["zip"] or "")
    near = given["near"]
    if zip_code.strip():
        place = locate(zip_code)
        if place is None:
            raise _Unanswered(
                f"We don't know the ZIP code {zip_code.strip()}; please check it.", field="where"
            )
        if place.state != given["state"]:  # a therapist must be licensed where the client lives
            raise _Unanswered(
                f"The ZIP code {zip_code.strip()} is in {V.STATES.get(place.state, place.state)}, "
                f"not {V.STATES[given['state']]}: please check the ZIP code or your state.",
                field="where",
            )
        location = {"lat": place.lat, "lon": place.lon, "max_km": max_km}
    elif near == SAVED_PLACE:
        location = {**answers["saved_location"], "max_km": max_km}
    elif near is not None and near != ANYWHERE and near in place_labels:
        city = places.iloc[place_labels.index(near)]
        location = {"lat": city["lat"], "lon": city["lon"], "max_km": max_km}
    essential = given["essential"] or []
    chosen: dict[str, Any] = {
        "state": given["state"],
        # What the client picked is essential whatever its slider says.
        "priorities": {
            key: V.PRIORITY_MAX if key in essential else level
            for key, level in given["priorities"].items()
        },
        "concerns": given["concerns"] or [],
        "modalities": {"prefer": given["prefer"] or [], "avoid": given["avoid"] or []},
        "style": given["style"],
        "age_group": given["age_group"],
        "format": given["format"],
        "language": given["language"],
        "populations": (["first_time"] if given["first_time"] else [])
        + (given["populations"] or []),
        "therapist_identities": {
            "values": given["identities"] or [],
            "required": given["identities_must"] == "Must",
        },
        "payment": {
            "insurance": None if given["insurance"] == NO_INSURANCE else given["insurance"],
            "max_fee": given["max_fee"],
            "sliding_scale_ok": bool(given["sliding"]),
        },
    }
    if given["gender"] not in (None, NO_PREFERENCE):
        chosen["therapist_gender"] = {
            "value": given["gender"],
            "required": given["gender_must"] == "Must",
        }
    if location is not None:
        chosen["location"] = location
    try:
        return Preferences.model_validate(chosen)
    except ValidationError as error:  # e.g. one approach both wanted and avoided
        raise _Unanswered(
            *(
                f"Please check your answers: {p.message}"
                for p in problems_from(error, "your answers")
            )
        ) from None


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


st.header("1. Where you live", anchor=False)
st.selectbox(
    "Your state (therapists must be licensed where you live)",
    states,
    index=_index(states, kept("state", None), None),
    placeholder="Choose your state",
    format_func=lambda s: f"{V.STATES[s]} ({s})",
    key="state",
)
chosen_state = st.session_state.get("state")
if chosen_state and directory.licensed_in(chosen_state).size == 0:  # said now, not at the end
    st.warning(plain(W.nobody_licensed(V.STATES[chosen_state])))
st.text_input(
    "ZIP code, for in-person sessions nearby (optional)",
    value=kept("zip", ""),
    max_chars=10,
    key="zip",
)
problems: list[tuple[str | None, str]] = st.session_state.pop("intake_problems", [])
for field, message in problems:  # beside the answer, as well as by the button below
    if field == "where":
        st.error(plain(message))

st.header("2. What matters most to you", anchor=False)
st.multiselect(
    "In a therapist, what matters most to you? Choose up to three.",
    [item.key for item in V.RAPPORT_ITEMS],
    default=kept("essential", []),
    max_selections=3,
    select_all=False,  # typing a word and Enter picks that one option, never "all matches"
    format_func=lambda key: V.ITEM_BY_KEY[key].feeling.capitalize(),
    help="We rank first on how past clients say they felt on these; the rest still count.",
    key="essential",
)
with st.expander("Fine-tune the others (optional)"):
    st.caption("How important is each of these to you? There are no wrong answers.")
    for item in V.RAPPORT_ITEMS:
        st.select_slider(
            item.question,
            options=list(V.PRIORITY_LEVELS),
            value=kept("priorities", {}).get(item.key, 1),
            format_func=V.PRIORITY_LEVELS.__getitem__,
            help=item.explanation,
            key=f"priority_{item.key}",
        )

st.header("3. What you would like help with", anchor=False)
st.multiselect(
    "What would you like help with? Choose any that fit.",
    list(V.CONCERNS),
    default=kept("concerns", []),
    format_func=V.CONCERNS.__getitem__,
    select_all=False,
    key="concerns",
)
st.multiselect(
    "Approaches you would like (leave empty if you're not sure: we'll suggest ones "
    "commonly recommended for your concerns)",
    list(V.APPROACHES),
    default=kept("prefer", []),
    format_func=V.APPROACHES.__getitem__,
    select_all=False,
    key="prefer",
)
st.multiselect(
    "Approaches you would rather avoid",
    list(V.APPROACHES),
    default=kept("avoid", []),
    format_func=V.APPROACHES.__getitem__,
    select_all=False,
    key="avoid",
)

st.header("4. How you like to work", anchor=False)
for axis in V.STYLE_AXES:
    st.select_slider(
        f"{axis.low.capitalize()} … {axis.high}",
        options=list(range(V.STYLE_MIN, V.STYLE_MAX + 1)),
        value=kept("style", {}).get(axis.key, 0),
        format_func=_lean_label(axis),
        key=f"style_{axis.key}",
    )

st.header("5. Who you would feel comfortable with", anchor=False)
genders = [NO_PREFERENCE, *V.GENDERS]
gender = st.selectbox(
    "Therapist's gender",
    genders,
    index=_index(genders, kept("gender", NO_PREFERENCE)),
    format_func=lambda g: g if g == NO_PREFERENCE else V.GENDERS[g].capitalize(),
    key="gender",
)
if gender != NO_PREFERENCE:  # "is that a must?" only once there is something to insist on
    st.radio(
        "Is a therapist of that gender a must?",
        MUST,
        index=_index(list(MUST), kept("gender_must", MUST[0])),
        horizontal=True,
        key="gender_must",
    )
# "new to therapy" describes the client, never a therapist: it is asked on its own, below
groups = [p for p in V.PEOPLE if p != "first_time"]
identities = st.multiselect(
    "Would you like a therapist who shares part of your identity?",
    groups,
    default=[group for group in kept("identities", []) if group != "first_time"],
    format_func=V.IDENTITY_WORDS.__getitem__,
    select_all=False,
    key="identities",
)
if identities:
    st.radio(
        "Is sharing that a must?",
        MUST,
        index=_index(list(MUST), kept("identities_must", MUST[0])),
        horizontal=True,
        key="identities_must",
    )
st.checkbox("This is my first time in therapy", value=kept("first_time", False), key="first_time")
st.multiselect(
    "Would experience with any of these groups matter to you?",
    groups,
    default=[p for p in kept("populations", []) if p in groups],
    format_func=V.PEOPLE.__getitem__,
    select_all=False,
    key="populations",
)

st.header("6. Practical matters", anchor=False)
ages = list(V.AGE_GROUPS)
st.selectbox(
    "Who is the therapy for?",
    ages,
    index=_index(ages, kept("age_group", "adults")),
    format_func=lambda a: W.WHO_NEEDS_HELP[a],
    help="For a child or teenager we also look for therapists who work with parents.",
    key="age_group",
)  # fmt: skip
formats = list(V.CLIENT_FORMATS)
st.radio(
    "Sessions",
    formats,
    index=_index(formats, kept("format", "either")),
    format_func=lambda f: V.CLIENT_FORMATS[f].capitalize(),
    horizontal=True,
    key="format",
)
zip_given = bool(str(st.session_state.get("zip") or "").strip())
st.selectbox(
    "No ZIP code? For in-person sessions, near which city?",
    near_options,
    index=_index(near_options, kept("near", ANYWHERE)),
    disabled=zip_given,  # a ZIP code wins: asking for a city as well read as a second question
    help="Your ZIP code is used instead." if zip_given else None,
    key="near",
)
st.slider("How far could you travel? (miles)", 5, MAX_MILES, kept("miles", 25), step=5,
          key="miles")  # fmt: skip
insurance_options = [NO_INSURANCE, *insurers]
st.selectbox(
    "Insurance",
    insurance_options,
    index=_index(insurance_options, kept("insurance", NO_INSURANCE)),
    key="insurance",
)
st.number_input(
    "Most you could pay per session, in US dollars (leave empty for no limit)",
    min_value=0,
    max_value=2000,
    value=kept("max_fee", None),
    step=10,
    key="max_fee",
)
st.checkbox(
    "I would like to ask about a sliding scale (lower fees by income)",
    value=kept("sliding", False),
    key="sliding",
)
st.selectbox(
    "Language for sessions",
    languages,
    index=_index(languages, kept("language", "English")),
    key="language",
)

st.header("7. One gentle question about safety", anchor=False)
st.radio(
    "Are you having thoughts of ending your life, or of harming someone else?",
    SAFETY_OPTIONS,
    index=_index(list(SAFETY_OPTIONS), kept("safety", None), None),
    horizontal=True,
    help="A 'yes' shows where to get help right now. You can still browse therapists.",
    key="safety",
)
# Right here, at once: the box at the top of each page comes only with the next page
if st.session_state.get("safety") == "Yes":
    crisis_resources()
elif st.session_state.get("safety") == "I'd rather not say":
    st.info(plain(W.HELP_IS_THERE), icon=":material/support:")
st.button(
    "Show my matches",
    type="primary",
    on_click=_submit,
    args=(places, place_labels),
    key="show_matches",
)
for note in st.session_state.get("load_notes", []):
    st.warning(plain(note))
for _, message in problems:
    st.error(plain(message))
# Kept on every run, not only when sent: Streamlit forgets a widget's value once its page is
# left, so answers given and then left for another page (the method, say) came back empty.
answers.update(_given())
