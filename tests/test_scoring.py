"""Ranking: known answers and properties of the score (the rules: test_constraints.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from matcher import vocabulary as V
from matcher.directory import Directory, _with_rapport, encode
from matcher.preferences import Preferences
from matcher.scoring import BASELINE, assess, rank
from tests.conftest import TODAY, directory_of, prefs, therapist

# ---------------------------------------------------------------------------------------------
# Known answers


def test_the_therapist_who_fits_every_wish_ranks_first() -> None:
    d = directory_of(
        [
            therapist("plain"),
            therapist(
                "fit",
                concerns="anxiety;phobias",
                modalities="cbt;exposure",
                style_directive="2",
                rapport_heard="4.8",
                rapport_safe="4.7",
            ),
            therapist("half", concerns="phobias", modalities="psychodynamic"),
        ]
    )
    p = prefs(
        concerns=["anxiety", "phobias"],
        modalities={"prefer": ["cbt"]},
        style={"directive": 2},
        priorities={"heard": 3, "safe": 3},
    )
    ranking = rank(d, p, top=3, today=TODAY)
    assert [m.therapist_id for m in ranking.matches] == ["fit", "plain", "half"]
    best = ranking.matches[0]
    assert best.similarity["concerns"] == 1.0
    assert best.similarity["approach"] == 1.0
    assert best.similarity["style"] == 1.0


def test_concern_coverage_is_the_share_of_concerns_met() -> None:
    d = directory_of([therapist("a", concerns="anxiety;grief;stress")])
    match = rank(d, prefs(concerns=["anxiety", "depression", "grief", "ocd"]), today=TODAY)
    assert match.matches[0].similarity["concerns"] == pytest.approx(0.5)


def test_evidence_table_is_used_when_no_approach_is_preferred() -> None:
    d = directory_of(
        [
            therapist("exposure", concerns="phobias", modalities="exposure"),
            therapist("talk", concerns="phobias", modalities="psychodynamic"),
        ]
    )
    ranking = rank(d, prefs(concerns=["phobias"]), today=TODAY)
    by_id = {m.therapist_id: m for m in ranking.matches}
    assert by_id["exposure"].similarity["approach"] == 1.0
    assert by_id["talk"].similarity["approach"] == 0.0


def test_an_avoided_approach_lowers_the_approach_similarity() -> None:
    d = directory_of([therapist("a", modalities="cbt;exposure"), therapist("b", modalities="cbt")])
    ranking = rank(d, prefs(modalities={"avoid": ["exposure"]}), today=TODAY)
    by_id = {m.therapist_id: m for m in ranking.matches}
    assert by_id["a"].similarity["approach"] == pytest.approx(0.5)
    assert by_id["b"].similarity["approach"] == 1.0


def test_groups_without_input_drop_out_instead_of_diluting() -> None:
    d = directory_of([therapist("a")])
    match = rank(d, prefs(), today=TODAY).matches[0]
    assert match.active == ("rapport", "availability")
    assert match.contributions["style"] == 0.0
    assert sum(match.weights[g] for g in match.active) == pytest.approx(1.0)


def test_young_clients_are_matched_with_therapists_who_work_with_parents() -> None:
    d = directory_of(
        [
            therapist("solo", ages_served="children", works_with_parents="false"),
            therapist("family", ages_served="children", works_with_parents="true"),
        ]
    )
    ranking = rank(d, prefs(age_group="children"), today=TODAY)
    assert ranking.matches[0].therapist_id == "family"
    assert ranking.matches[0].facts["identity"].works_with_parents is True


def test_shrinkage_one_perfect_checkin_does_not_beat_fifty_very_good_ones() -> None:
    perfect = {f"rapport_{item}": "5" for item in V.ITEMS}
    very_good = {f"rapport_{item}": "4.6" for item in V.ITEMS}
    d = directory_of(
        [
            therapist("one", checkins_n="1", **perfect),
            therapist("fifty", checkins_n="50", **very_good),
            therapist("others", checkins_n="200"),
        ]
    )
    ranking = rank(d, prefs(priorities={"heard": 3}), today=TODAY)
    assert [m.therapist_id for m in ranking.matches][:2] == ["fifty", "one"]


def test_a_few_glowing_checkins_do_not_beat_sixty_very_good_ones(demo: Directory) -> None:
    """Under the demo directory's own learned reliability (K ≈ 10 for the general level):
    three check-ins at 5.0 rank below sixty at 4.5, four are level with them (within 0.01)
    but far less certain, and both facts are what the card says."""
    table = demo.table.iloc[:4].copy()
    for row, (n, value) in enumerate([(3, 5.0), (4, 5.0), (60, 4.5), (200, 4.2)]):
        table.iloc[row, table.columns.get_loc("checkins_n")] = n
        for item in V.ITEMS:
            table.iloc[row, table.columns.get_loc(f"rapport_{item}")] = value
    small = encode(table)
    d = _with_rapport(small, small.checkins_n, small.rapport_mean, demo.prior)
    heard = V.ITEMS.index("heard")
    three, four, sixty = d.rapport[:3, heard]
    assert three < sixty
    assert abs(four - sixty) < 0.01
    assert d.rapport_sd[1, heard] > 2 * d.rapport_sd[2, heard]
    assert d.reliability[1] < 0.5 < d.reliability[2]  # "early" on the card


def test_a_therapist_without_checkins_gets_exactly_the_directory_mean() -> None:
    d = directory_of([therapist("new", checkins_n="0"), therapist("old", rapport_heard="4.5")])
    assert np.array_equal(d.rapport[0], d.directory_mean)
    assert d.reliability[0] == 0.0


def test_unmeasured_rapport_contributes_nothing_and_measured_low_costs() -> None:
    low = {f"rapport_{item}": "2.5" for item in V.ITEMS}
    d = directory_of(
        [
            therapist("new", checkins_n="0"),
            therapist("low", checkins_n="80", **low),
            therapist("usual", checkins_n="80"),
        ]
    )
    ranking = rank(d, prefs(priorities={"safe": 3}), today=TODAY)
    by_id = {m.therapist_id: m for m in ranking.matches}
    assert by_id["new"].contributions["rapport"] == 0.0
    assert by_id["low"].contributions["rapport"] < 0
    assert [m.therapist_id for m in ranking.matches].index("low") == 2


def test_weights_change_the_order() -> None:
    d = directory_of(
        [
            therapist("rapport", concerns="grief", **{f"rapport_{i}": "5" for i in V.ITEMS}),
            therapist("skills", concerns="anxiety", **{f"rapport_{i}": "3" for i in V.ITEMS}),
        ]
    )
    p = prefs(concerns=["anxiety"])
    heavy_rapport = p.evolve(weights={"rapport": 1, "concerns": 0.1})
    heavy_concerns = p.evolve(weights={"rapport": 0.1, "concerns": 1})
    assert rank(d, heavy_rapport, today=TODAY).matches[0].therapist_id == "rapport"
    assert rank(d, heavy_concerns, today=TODAY).matches[0].therapist_id == "skills"


def test_availability_prefers_sooner_and_freshly_confirmed_openings() -> None:
    d = directory_of(
        [
            therapist("soon", next_opening="2026-11-22", availability_confirmed="2026-11-21"),
            therapist("stale", next_opening="2026-11-22", availability_confirmed="2026-06-01"),
            therapist("later", next_opening="2027-01-30", availability_confirmed="2026-11-21"),
        ]
    )
    ranking = rank(d, prefs(), today=TODAY)
    s = {m.therapist_id: m.similarity["availability"] for m in ranking.matches}
    assert s["soon"] == pytest.approx(1.0)
    assert s["soon"] > s["stale"] and s["soon"] > s["later"]
    assert {m.therapist_id: m.availability.stale for m in ranking.matches} == {
        "soon": False,
        "stale": True,
        "later": False,
    }


# ---------------------------------------------------------------------------------------------
# Hard constraints and relaxations


def test_top_must_be_positive(demo: Directory) -> None:
    with pytest.raises(ValueError, match="top"):
        rank(demo, prefs(), top=0, today=TODAY)


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis) over the demo directory


def preferences_strategy() -> st.SearchStrategy[Preferences]:
    states = ["NC", "CA", "TX", "NY", "FL", "NV", "OR", "WY"]
    return st.builds(
        lambda state, pri, concerns, prefer, avoid, style, age, fmt, loc, pay, lang, w: (
            Preferences.model_validate(
                {
                    "state": state,
                    "priorities": dict(zip(V.ITEMS, pri, strict=True)),
                    "concerns": concerns,
                    "modalities": {
                        "prefer": prefer,
                        "avoid": [a for a in avoid if a not in prefer],
                    },
                    "style": dict(zip(V.AXES, style, strict=True)),
                    "age_group": age,
                    "format": fmt,
                    "location": loc,
                    "payment": pay,
                    "language": lang,
                    "weights": dict(zip(V.GROUPS, w, strict=True)),
                }
            )
        ),
        st.sampled_from(states),
        st.lists(st.integers(0, 3), min_size=9, max_size=9),
        st.lists(st.sampled_from(list(V.CONCERNS)), max_size=4, unique=True),
        st.lists(st.sampled_from(list(V.APPROACHES)), max_size=2, unique=True),
        st.lists(st.sampled_from(list(V.APPROACHES)), max_size=2, unique=True),
        st.lists(st.integers(-3, 3), min_size=4, max_size=4),
        st.sampled_from([None, *V.AGE_GROUPS]),
        st.sampled_from(list(V.CLIENT_FORMATS)),
        st.one_of(
            st.none(),
            st.builds(
                lambda lat, lon, km: {"lat": lat, "lon": lon, "max_km": km},
                st.floats(25, 48),
                st.floats(-124, -70),
                st.floats(5, 300),
            ),
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "insurance": st.sampled_from(["Aetna", "Cigna", "Medicaid"]),
                "max_fee": st.floats(40, 250),
                "sliding_scale_ok": st.booleans(),
            },
        ),
        st.sampled_from([None, "English", "Spanish"]),
        st.lists(st.floats(0, 1), min_size=6, max_size=6).filter(lambda w: sum(w) > 0.01),
    )


@given(p=preferences_strategy())
def test_scores_are_in_unit_interval_and_contributions_add_up(
    demo: Directory, p: Preferences
) -> None:
    a = assess(demo, p, TODAY)
    assert np.all((a.score > 0) & (a.score < 1))
    assert_allclose(BASELINE + a.contributions.sum(axis=1), a.score, rtol=0, atol=1e-12)
    for match in rank(demo, p, top=5, today=TODAY).matches:
        total = match.baseline + sum(match.contributions.values())
        assert total == pytest.approx(match.score, abs=1e-12)
        if not match.measured:
            assert match.contributions["rapport"] == 0.0


@given(p=preferences_strategy())
def test_no_returned_therapist_violates_a_hard_constraint(demo: Directory, p: Preferences) -> None:
    """Checked against the raw table, independently of the encoded arrays."""
    table = demo.table
    for match in rank(demo, p, top=20, today=TODAY).matches:
        row = table.iloc[match.row]
        words = {c: {w.lower() for w in str(row[c]).split(";") if w} for c in
                 ("states", "formats", "ages_served", "languages", "insurance")}  # fmt: skip
        assert p.state.lower() in words["states"]
        assert row["accepting_new_clients"] and row["open_slots"] > 0
        if p.format != "either":
            assert p.format in words["formats"]
        if p.age_group:
            assert p.age_group in words["ages_served"]
        if p.language:
            assert p.language.lower() in words["languages"]
        if p.payment.constrained:
            pay = p.payment
            assert (
                (pay.insurance is not None and pay.insurance.lower() in words["insurance"])
                or (pay.max_fee is not None and row["fee"] <= pay.max_fee)
                or (pay.sliding_scale_ok and row["sliding_scale"])
            )
        if p.location is not None and p.format == "in_person":
            assert match.practical.distance_km is not None
            assert match.practical.distance_km <= p.location.max_km + 1e-9


@given(
    p=preferences_strategy(),
    item=st.sampled_from(V.ITEMS),
    boost=st.floats(0.01, 2.0),
    pick=st.integers(0, 10_000),
)
def test_raising_a_prioritised_rating_never_lowers_the_score(
    demo: Directory, p: Preferences, item: str, boost: float, pick: int
) -> None:
    p = p.evolve(priorities={**p.priorities.model_dump(), item: 3})
    a = assess(demo, p, TODAY)
    rated = a.rows[demo.checkins_n[a.rows] > 0]
    if rated.size == 0:
        return
    row = int(rated[pick % rated.size])
    column = f"rapport_{item}"
    table = demo.table.copy()
    table.loc[row, column] = min(5.0, float(table.loc[row, column]) + boost)
    raised = encode(table)
    before = a.score[np.searchsorted(a.rows, row)]
    b = assess(raised, p, TODAY)
    after = b.score[np.searchsorted(b.rows, row)]
    assert after >= before - 1e-12


def test_ranking_does_not_change_the_directory(demo: Directory, example: Preferences) -> None:
    before = dataclasses.replace(demo)
    snapshot = demo.rapport.copy()
    rank(demo, example, today=TODAY)
    assert_allclose(demo.rapport, snapshot)
    assert before.rapport is demo.rapport
    assert not demo.rapport.flags.writeable


def test_top_k_is_the_best_k_in_order(demo: Directory, example: Preferences) -> None:
    p = example.evolve(payment={}, location=None)
    a = assess(demo, p, TODAY)
    ranking = rank(demo, p, top=7, today=TODAY)
    expected = pd.Series(a.score, index=a.rows).sort_values(ascending=False, kind="stable")
    assert [m.score for m in ranking.matches] == pytest.approx(list(expected.iloc[:7]))
