"""The group registry, and the rules a clinician would expect of the groups."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher import groups as G
from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import describe_main_concern, explain
from matcher.preferences import Preferences
from matcher.scoring import assess, rank, shares
from tests.conftest import TODAY, directory_of, prefs, therapist
from tests.test_scoring import preferences_strategy

# ---------------------------------------------------------------------------------------------
# The registries


def test_the_group_registry_follows_the_weights_order() -> None:
    assert tuple(g.name for g in G.GROUPS) == V.GROUPS


@given(p=preferences_strategy())
def test_the_facts_shown_agree_with_the_similarity_that_scored(
    demo: Directory, p: Preferences
) -> None:
    """For every group of every match: the card's evidence recomputes the group's number."""
    for match in rank(demo, p, top=5, today=TODAY).matches:
        for group in G.GROUPS:
            if group.name not in match.active:
                continue
            again = group.agreeing(match.facts[group.name], p)
            assert again == pytest.approx(match.similarity[group.name], abs=1e-9), group.name


# ---------------------------------------------------------------------------------------------
# Rules a clinician would expect (issue 9, point 5)


@given(
    p=preferences_strategy(),
    avoided=st.sampled_from(list(V.APPROACHES)),
)
def test_an_avoided_approach_always_costs_and_is_never_a_reason(
    p: Preferences, avoided: str
) -> None:
    """Two therapists alike but for one approach the client avoids: the one who lists it ranks
    lower, whatever the evidence table says (and even with the approach group unweighted, as a
    tie-break), and no reason offers it."""
    prefer = [a for a in p.modalities.prefer if a != avoided]
    p = p.evolve(
        state="NC",
        format="either",
        location=None,
        payment={},
        language=None,
        age_group=None,
        modalities={"prefer": prefer, "avoid": [avoided]},
    )
    base = "cbt" if avoided != "cbt" else "act"
    d = directory_of(
        [
            therapist("lists_it", modalities=f"{base};{avoided}"),
            therapist("does_not", modalities=base),
        ]
    )
    ranking = rank(d, p, today=TODAY)
    order = [m.therapist_id for m in ranking.matches]
    assert order == ["does_not", "lists_it"]
    by_id = {m.therapist_id: m for m in ranking.matches}
    if p.weights.approach > 1e-6:  # weighted: it costs score; unweighted: it loses the tie
        assert by_id["lists_it"].score < by_id["does_not"].score
    for reason in explain(by_id["lists_it"], p).reasons:
        assert V.APPROACHES[avoided] not in reason


def test_the_phobia_client_who_avoids_exposure_is_not_offered_exposure() -> None:
    d = directory_of(
        [
            therapist("exposure_only", concerns="phobias", modalities="exposure"),
            therapist("person_centred", concerns="phobias", modalities="person_centred"),
        ]
    )
    p = prefs(concerns=["phobias"], modalities={"avoid": ["exposure"]})
    ranking = rank(d, p, today=TODAY)
    assert ranking.matches[0].therapist_id == "person_centred"
    for match in ranking.matches:
        assert not any("exposure" in r.lower() and "offers" in r.lower()
                       for r in explain(match, p).reasons)  # fmt: skip


@given(p=preferences_strategy(), zero=st.sampled_from(V.GROUPS))
def test_a_group_with_weight_zero_is_never_cited(
    demo: Directory, p: Preferences, zero: str
) -> None:
    weights = {g: (0.0 if g == zero else max(getattr(p.weights, g), 0.05)) for g in V.GROUPS}
    p = p.evolve(weights=weights)
    group = G.BY_NAME[zero]
    for match in rank(demo, p, top=5, today=TODAY).matches:
        assert match.contributions[zero] == 0.0
        own = set(group.reasons(match.facts[zero], p))
        others = {r for g in G.GROUPS if g.name != zero for r in g.reasons(match.facts[g.name], p)}
        assert not (own - others) & set(explain(match, p).reasons)
        shortfall = explain(match, p).shortfall
        text = group.shortfall(match.facts[zero], p)
        if text and shortfall:
            others_short = {g.shortfall(match.facts[g.name], p) for g in G.GROUPS if g.name != zero}
            assert shortfall != f"Why not higher: {text}" or text in others_short


@pytest.mark.parametrize(
    ("near", "far"),
    [
        ({"lat": "35.80", "lon": "-78.64"}, {"lat": "36.05", "lon": "-78.90"}),  # ~2 vs ~37 km
        ({"fee": "80"}, {"fee": "145"}),
        ({"next_opening": "2026-11-23"}, {"next_opening": "2026-12-01"}),
    ],
)
def test_ties_go_to_the_nearer_the_cheaper_and_the_sooner(
    near: dict[str, str], far: dict[str, str]
) -> None:
    d = directory_of([therapist("second", **far), therapist("first", **near)])
    p = prefs(location={"lat": 35.78, "lon": -78.64, "max_km": 60}, format="either")
    p = p.evolve(weights={**dict.fromkeys(V.GROUPS, 0.0), "concerns": 1.0}, concerns=["anxiety"])
    ranking = rank(d, p, today=TODAY)
    scores = [m.score for m in ranking.matches]
    assert scores[0] == scores[1]  # equal on everything the client weighted
    assert [m.therapist_id for m in ranking.matches] == ["first", "second"]


def test_essential_items_dominate_nice_to_have_ones() -> None:
    high = {f"rapport_{i}": "4.0" for i in V.ITEMS}
    d = directory_of(
        [
            therapist("safe", checkins_n="80", **{**high, "rapport_safe": "4.8",
                                                  "rapport_honest": "3.4"}),
            therapist("honest", checkins_n="80", **{**high, "rapport_safe": "3.4",
                                                    "rapport_honest": "4.8"}),
            *(therapist(f"x{i}", checkins_n="80") for i in range(3)),
        ]
    )  # fmt: skip
    p = prefs(priorities={"safe": 3, "honest": 1})
    order = [m.therapist_id for m in rank(d, p, today=TODAY).matches]
    assert order.index("safe") < order.index("honest")


def test_clearly_low_on_an_essential_item_is_demoted_and_the_card_says_why() -> None:
    d = directory_of(
        [
            therapist("low", checkins_n="90", rapport_safe="2.9"),
            therapist("new", checkins_n="0"),
            *(therapist(f"x{i}", checkins_n="60") for i in range(4)),
        ]
    )
    p = prefs(priorities={"safe": 3, "heard": 1})
    ranking = rank(d, p, today=TODAY)
    order = [m.therapist_id for m in ranking.matches]
    assert order.index("low") > order.index("new")
    low = ranking.matches[order.index("low")]
    assert low.contributions["rapport"] < 0
    shortfall = explain(low, p).shortfall or ""
    assert "feeling safe enough to be open 2.9/5" in shortfall and "clearly below" in shortfall


@given(
    mean=st.floats(1, 5),
    prior=st.floats(3.5, 4.5),
    estimate=st.floats(1, 5),
    sd=st.floats(0.01, 0.5),
)
def test_a_rating_is_called_below_the_average_only_when_its_number_is(
    mean: float, prior: float, estimate: float, sd: float
) -> None:
    """'4.29/5 over 19 check-ins, clearly below the directory average of 4.32' (found trying
    the app): the words must agree with the numbers they quote. "Below" only when the quoted
    average is below; "clearly" only when it is also at least NOTABLE below."""
    from matcher import words as W

    items = tuple(
        G.ItemRating(item=i, priority=3 if i == "safe" else 0, weight=1.0 if i == "safe" else 0.0,
                     estimate=estimate if i == "safe" else prior, sd=sd,
                     mean=mean if i == "safe" else prior, prior=prior, spread=0.3)
        for i in V.ITEMS
    )  # fmt: skip
    said = G.Rapport().shortfall(G.RapportFacts(items, 20, 0.9), prefs()) or ""
    if "below the directory average" not in said:
        return
    theirs, average = W.ratings_apart(mean, prior)
    assert f"{theirs}/5" in said and f"average of {average}." in said
    assert mean < prior
    if "clearly below" in said:
        assert prior - mean >= G.NOTABLE and estimate + sd < prior


def test_an_opening_already_past_reads_as_now_without_a_past_date() -> None:
    """'Can start now (Nov 26, 2026)' on Nov 30 (found trying the app)."""
    from datetime import timedelta

    from matcher import words as W

    def said(days_ago: int) -> str:
        opened = TODAY - timedelta(days=days_ago)
        facts = G.AvailabilityFacts(opened, max(-days_ago, 0), TODAY - timedelta(days=2), 2)
        return " ".join(G.Availability().reasons(facts, prefs()))

    assert said(4) == "Can start now; availability confirmed 2 days ago."
    assert said(0) == "Can start now; availability confirmed 2 days ago."
    later = TODAY + timedelta(days=3)
    assert f"Can start in 3 days ({W.day(later)})" in said(-3)


def test_a_small_gap_is_below_and_a_large_one_clearly_below() -> None:
    def said(mean: float) -> str:
        items = tuple(
            G.ItemRating(item=i, priority=3, weight=1 / 9, estimate=3.9, sd=0.05,
                         mean=mean, prior=4.32, spread=0.3)
            for i in V.ITEMS
        )  # fmt: skip
        return G.Rapport().shortfall(G.RapportFacts(items, 19, 0.9), prefs()) or ""

    assert said(4.29).endswith(", below the directory average of 4.32.")
    assert "clearly below the directory average of 4.3." in said(3.6)
    assert "below" not in said(4.4)  # estimate low, its own average not: no contradiction


# ---------------------------------------------------------------------------------------------
# Thin results


def test_no_match_with_the_main_concern_is_said_with_the_change_that_helps() -> None:
    d = directory_of(
        [
            therapist("a", concerns="anxiety"),
            therapist("b", concerns="anxiety;depression"),
            therapist("phobia_online", concerns="phobias", formats="telehealth"),
        ]
    )
    p = prefs(concerns=["phobias", "anxiety"], format="in_person")
    ranking = rank(d, p, today=TODAY)
    assert ranking.main_concern is not None
    assert ranking.main_concern.relaxation is not None
    assert ranking.main_concern.relaxation.constraint == "format"
    words = describe_main_concern(ranking, p) or ""
    assert words.startswith("None of these matches lists phobias")
    assert "Allowing online sessions too would add 1 therapist who lists it." in words


def test_a_main_concern_that_is_shown_raises_nothing(demo: Directory, example: Preferences) -> None:
    ranking = rank(demo, example, top=5, today=TODAY)
    assert ranking.main_concern is None
    assert describe_main_concern(ranking, example) is None


# ---------------------------------------------------------------------------------------------
# Shares of score variation


@given(p=preferences_strategy())
def test_shares_add_up_to_one(demo: Directory, p: Preferences) -> None:
    a = assess(demo, p, TODAY)
    found = shares(a)
    if a.rows.size > 1 and a.score.var() > 0:
        assert sum(found.values()) == pytest.approx(1.0, abs=1e-9)


def test_a_group_weighted_more_explains_more_of_the_order(demo: Directory) -> None:
    p = prefs(state="CA", concerns=["anxiety", "trauma_ptsd"], priorities={"safe": 3, "heard": 2})
    low = shares(assess(demo, p.evolve(weights={"rapport": 0.1, "concerns": 0.5}), TODAY))
    high = shares(assess(demo, p.evolve(weights={"rapport": 0.5, "concerns": 0.1}), TODAY))
    assert high["rapport"] > low["rapport"] and high["concerns"] < low["concerns"]
    assert np.isfinite(list(high.values())).all()
