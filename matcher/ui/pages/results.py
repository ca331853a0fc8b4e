"""Your matches: explained cards, live weights, relaxations, comparison and a shortlist."""

from __future__ import annotations

from datetime import date

import streamlit as st

from matcher import vocabulary as V
from matcher import words as W
from matcher.explain import (
    describe_main_concern,
    describe_relaxation,
    describe_unknown,
    headline,
    no_match_advice,
    summary,
)
from matcher.report import comparison_table, listed, printable_summary, shortlist, shortlist_csv
from matcher.scoring import rank
from matcher.ui.common import (
    INTAKE,
    PRIVACY,
    current_directory,
    ease,
    open_profile,
    plain,
    preferences,
)
from matcher.ui.widgets import match_card


def _weights_moved() -> None:
    """A slider moved: its callback runs before the page, so the new weights rank this very run
    although the sliders are drawn below the matches' summary."""
    values = {g: st.session_state[f"weight_{g}"] for g in V.GROUPS}
    chosen = preferences()
    if sum(values.values()) > 0 and chosen is not None:
        st.session_state["preferences"] = chosen.evolve(
            weights={g: v / 100 for g, v in values.items()}
        )


directory, directory_name = current_directory()
st.title("Your matches", anchor=False)
if st.session_state.get("unsure_about_safety") and not st.session_state.get("crisis"):
    st.info(plain(W.HELP_IS_THERE), icon=":material/support:")
chosen = preferences()
if chosen is None:
    st.info("Answer a few questions first, and your matches will appear here.")
    st.page_link(INTAKE, label="Find a therapist", icon=":material/explore:")
    st.stop()

top = st.session_state.get("top", 5)
today = date.today()
ranking = rank(directory, chosen, top=top, today=today)

# One line first, so the first match is near the top even on a phone; the counts behind it.
st.markdown(f"**{plain(headline(ranking))}**")
# Open when nothing matched: the changes that would bring matches in are the next step.
with st.expander("Who was left out, and what would add more", expanded=not ranking.matches):
    st.caption(plain(f"Searching {directory_name}. {PRIVACY}"))
    for line in summary(ranking, chosen, easing=False):  # the easings are the buttons below
        st.markdown(plain(line))
    if ranking.relaxations:
        st.markdown("**Want more options?** One change at a time:")
        for relaxation in ranking.relaxations[:3]:
            label = describe_relaxation(relaxation, chosen)
            if st.button(label, key=f"relax_{relaxation.constraint}"):
                ease(chosen, relaxation.preferences)
                st.rerun()
columns = {"language": "languages", "insurance": "insurance"}
for term, value in ranking.unknown_terms.items():
    st.warning(plain(describe_unknown(term, value, directory.tags[columns[term]].vocabulary)))
# With nobody to order, the weights have nothing to change: the advice instead
if not ranking.matches:
    st.warning(plain(" ".join(no_match_advice(ranking, chosen))))
    st.page_link(INTAKE, label="Change your answers", icon=":material/explore:")
    st.stop()
with st.expander("Adjust what counts most — the order changes as you move a slider"):
    sliders = {
        group: st.slider(
            V.GROUP_LABELS[group].capitalize(),
            0,
            100,
            round(getattr(chosen.weights, group) * 100),
            key=f"weight_{group}",
            on_change=_weights_moved,
        )
        for group in V.GROUPS
    }
    if sum(sliders.values()) == 0:
        st.warning("At least one part needs some weight; keeping the previous weights.")
    st.radio("How many matches to show", [5, 10], horizontal=True, key="top")

if chosen.format == "in_person" and chosen.location is None:
    # no place to measure from: a therapist licensed here may practice in another state
    st.info(
        "You asked for in-person sessions but gave no ZIP code or city, so distance was not "
        "checked: see where each therapist practices before you choose.",
        icon=":material/location_on:",
    )
thin = describe_main_concern(ranking, chosen)
if thin:
    st.warning(plain(thin), icon=":material/info:")
# A level-2 heading above the cards' names (level 3): headings had skipped a level (axe)
st.header(f"Your top {len(ranking.matches)}", anchor=False)
for place, match in enumerate(ranking.matches, start=1):
    match_card(place, match, chosen, directory)

st.header("Compare side by side", anchor=False)
by_id = {m.therapist_id: m for m in ranking.matches}
compared = st.multiselect(
    "Choose two or three therapists to compare",
    list(by_id),
    format_func=lambda i: by_id[i].name,
    max_selections=3,
    select_all=False,  # a typed name and Enter picks that one therapist, never "all matches"
    key="compare",
)
if len(compared) >= 2:
    # A static table wraps its words, so every reason is read whole (a data grid cut them
    # off); it reads Markdown, so every cell and heading goes through plain()
    table = comparison_table([by_id[i] for i in compared], chosen)
    st.table(table.map(plain).rename(index=plain, columns=plain))
    for column, therapist_id in zip(st.columns(len(compared)), compared, strict=True):
        column.button(
            plain(f"Profile: {by_id[therapist_id].name}"),  # a label reads Markdown
            key=f"compare_profile_{therapist_id}",
            on_click=open_profile,
            args=(therapist_id,),
        )
elif compared:
    st.caption("Choose one more to compare.")

st.header("Your shortlist", anchor=False)
ticked = [t for t in st.session_state.get("shortlist_ids", []) if t in directory.row_of]
picked = shortlist(directory, chosen, ticked, today) if ticked else []
keep = picked or listed(directory, ranking.matches)
st.caption(
    f"{len(picked)} therapist(s) ticked; they stay on your shortlist whatever the order."
    if picked
    else "Nothing ticked yet, so the downloads hold every match shown."
)  # fmt: skip
if picked:  # by name, so a client sees who is on it before downloading
    st.markdown("  \n".join(plain(f"{item.place}. {item.match.name}") for item in picked))
if len(picked) < len(ticked):  # said, never dropped silently
    kept = {item.match.therapist_id for item in picked}
    gone = [str(directory.text["name"][directory.row(t)]) for t in ticked if t not in kept]
    st.caption(plain(f"Left out because they no longer meet every must in your answers: "
                     f"{W.and_list(gone)}."))  # fmt: skip
left, right = st.columns(2)
left.download_button(
    "Download shortlist (CSV)",
    shortlist_csv(keep, chosen),
    file_name="therapist-shortlist.csv",
    mime="text/csv",
    key="download_csv",
)
right.download_button(
    "Download printable summary",
    printable_summary(keep, chosen, today),
    file_name="therapist-shortlist.txt",
    mime="text/plain",
    key="download_text",
)
st.download_button(
    "Save my answers (to load them here later)",
    chosen.model_dump_json(indent=2, exclude_defaults=True),
    file_name="my-therapist-search.json",
    mime="application/json",
    help="A file on your own device; we keep nothing. Load it on the first page next time.",
    key="save_answers",
)
st.page_link(INTAKE, label="Change your answers", icon=":material/explore:")
