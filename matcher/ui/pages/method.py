"""How matching works: the method, the words, and the evidence behind the defaults."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher.schema import DIRECTORY_FIELDS
from matcher.ui.common import QUEUE, current_directory, plain

directory, _ = current_directory()
st.title("How matching works", anchor=False)
st.markdown(
    """
Studies of therapy keep finding that **the relationship** between client and therapist
predicts how well therapy goes about as strongly as anything measured — across methods.
A client does best when they feel safe, heard, understood and seen; that rests on the
therapist's empathy, positive regard and genuineness, on goals the two agree on, and on the
therapist asking for feedback. Directories rank on logistics. We rank on what you say matters.

**1. Musts first.** A therapist is only shown if they can actually see you: licensed in your
state, offering your kind of session (and, when you give a ZIP code or city, near enough for
in-person sessions), taking new
clients, working with your age group, speaking your language, within your insurance or fee
limit (or offering a sliding scale, if you asked about one), and matching anything you
marked as a must. We tell you how many each must removed, and which single change would add
the most options.

**2. Then fit, in six parts**, each scored from 0 to 1 and weighted by you:
"""
)
# Static tables wrap their words, so a phone reads every column (data grids cut them off).
# Their cells are our own words, so st.table's Markdown is safe here.
SOURCES = {key: n for n, key in enumerate(V.ARTICLES, start=1)}  # [1], [2], … not file ids
st.table(
    pd.DataFrame(
        {
            "part": [V.GROUP_LABELS[g] for g in V.GROUPS],
            # out of 100, as the results page's sliders show it
            "default weight": [f"{round(V.DEFAULT_WEIGHTS[g] * 100)}" for g in V.GROUPS],
            "what it measures": [
                "past clients' check-ins on the qualities you rated important",
                "how many of your concerns the therapist works with",
                "approaches you want or avoid; with none, those commonly recommended",
                "four style preferences, weighted by how strongly you lean",
                "identity wishes, experience with your groups, work with parents",
                "how soon they can start, and how recently that was confirmed",
            ],
        }
    ),
    hide_index=True,
)
_W = {g: round(w * 100) for g, w in V.DEFAULT_WEIGHTS.items()}
_pair, _concerns = _W["approach"] + _W["style"], _W["concerns"]
st.markdown(
    f"""
Every match starts from the same place: an average match for you, among the therapists who
meet every must in your answers, scores 50%. Each part then adds points or takes them away, and the parts add up
exactly to the match score. Parts are put on a common scale first (how far a therapist stands
from the others who meet them), so a part you weight twice as much moves the order about
twice as much. A part you set to zero is never given as a reason.

**Why these default weights.** Relationship factors carry the largest weight because, in the
APA task force reviews (Norcross & Lambert, 2018–19), the alliance (r ≈ .28), empathy
(r ≈ .28), positive regard (g ≈ .28), collaboration (r ≈ .29), goal consensus (r ≈ .24) and
repairing ruptures (r ≈ .29) all relate to outcome. Your concerns weigh as much as your
style preferences: the therapist needs the skills. Honoring stated preferences about approach
and style lowers the chance of dropping out (Swift et al., 2018: odds ratio ≈ 1.79), so
together those two weigh more than concerns ({_pair} against {_concerns}).

**Honest evidence.** A profile cannot prove empathy. A therapist's rapport comes only from
past clients' check-ins. A few check-ins say little, because one client's feelings about one
session vary far more than therapists differ from each other; so an estimate is pulled toward
the directory average, by an amount learned from this directory's own check-ins (about
{directory.prior.general.k:.0f} check-ins before a therapist's own ratings carry half the
weight). Items borrow strength from each other: a therapist rated well on most items is likely
to be rated well on the rest. A therapist with no check-ins is "not measured yet": their
rapport adds nothing and takes nothing away, is never shown as points, and is never described as
empathic; we tell you what to notice in your first sessions instead. Where past clients rated a
quality that matters to you below the directory average, the match drops by as much as that
quality weighs for you, and the card says so ("clearly below" only when the evidence is clear).

**Earlier clients' requests.** Availability also counts how quickly the clinic could offer
earlier clients a first session with a therapist, and how many of them went on to have one.
Until the clinic has that history for a therapist, a card says "not measured yet", and it
counts for nothing either way, as with check-ins.

**Your privacy.** Searching saves nothing on the server: what you enter stays in your browser
tab, and is gone when you close or reload it. Only two things you choose to send are kept: a
request to be contacted (its form says what is kept, who sees it and for how long) and a
check-in after a session.
"""
)
st.header("The rapport qualities you can ask for", anchor=False)
st.table(
    pd.DataFrame(
        {
            "you want": [item.feeling for item in V.RAPPORT_ITEMS],
            "the therapist brings": [item.brings for item in V.RAPPORT_ITEMS],
            "why it matters": [item.explanation for item in V.RAPPORT_ITEMS],
            "sources": [
                ", ".join(f"[{SOURCES[a]}]" for a in item.articles) for item in V.RAPPORT_ITEMS
            ],
        }
    ),
    hide_index=True,
)
st.caption("; ".join(f"[{SOURCES[key]}] {title}" for key, title in V.ARTICLES.items()))
st.header("Approaches commonly recommended for each concern", anchor=False)
st.table(
    pd.DataFrame(
        {
            "concern": [V.CONCERNS[c] for c in V.RECOMMENDED],
            "approaches": [", ".join(V.APPROACHES[a] for a in e.approaches)
                           for e in V.RECOMMENDED.values()],
            # an article is cited by its number in this page's list, never its file id
            "source": [re.sub(r"article (\d{3})", lambda m: f"[{SOURCES[m[1]]}]", e.source)
                       for e in V.RECOMMENDED.values()],
        }
    ),
    hide_index=True,
)  # fmt: skip
st.header("Directory file format", anchor=False)
st.markdown(
    "One row per therapist; lists are separated by `;`. Extra columns are kept and ignored."
)
# A list, so every allowed value reads whole on a phone: a grid cut them to a few words, and a
# static table of 44 long column names was wider than the screen (a scrolling region axe flags).
# What a cell may hold comes from the same records that check an upload; escaped all the same.
st.markdown(
    "\n".join(
        f"- **{plain(f.name)}**{'' if f.required else ' (optional)'}: {plain(f.allowed)}"
        for f in DIRECTORY_FIELDS
    )
)

st.divider()
st.page_link(QUEUE, label="Clinic staff: sign in to the referral queue", icon=":material/lock:")
