"""Explanations: golden texts, the honesty rule, and the shape of every explanation."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from hypothesis import given

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.explain import describe_relaxation, explain, summary
from matcher.preferences import Preferences
from matcher.scoring import rank
from tests.conftest import TODAY, directory_of, prefs, therapist
from tests.test_scoring import preferences_strategy

GOLDEN = Path(__file__).parent / "golden"
CREDIT_WORDS = re.compile(
    r"\b(rated|empath\w*|warmth|positive regard|genuine\w*|attunement|trust|collaboration)\b",
    re.IGNORECASE,
)


def render(ranking_text: list[str]) -> str:
    return "\n".join(ranking_text) + "\n"


def explained(directory: Directory, p: Preferences, top: int) -> str:
    ranking = rank(directory, p, top=top, today=TODAY)
    lines = list(summary(ranking, p))
    lines += [describe_relaxation(r, p) for r in ranking.relaxations[1:]]
    for match in ranking.matches:
        words = explain(match, p)
        lines += ["", f"{match.therapist_id} {match.name} {match.score:.4f}"]
        lines += [f"  + {reason}" for reason in words.reasons]
        lines += [f"  - {words.shortfall}"] if words.shortfall else []
        lines += [f"  ? {line}" for line in words.first_session]
    return render(lines)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; write it with UPDATE_GOLDEN=1 and review it")
    assert text == path.read_text(encoding="utf-8")


def test_golden_example_ranking(demo: Directory, example: Preferences) -> None:
    assert_golden("example_ranking.txt", explained(demo, example, top=5))


def test_golden_child_client_without_checkins() -> None:
    d = directory_of(
        [
            therapist("new", ages_served="children;adolescents", works_with_parents="true",
                      checkins_n="0", concerns="anxiety;adhd", modalities="cbt;play_therapy"),
            therapist("seasoned", ages_served="children", works_with_parents="false",
                      checkins_n="40", rapport_safe="4.8", rapport_heard="4.6",
                      concerns="anxiety", modalities="cbt", next_opening="2027-01-10"),
        ]
    )  # fmt: skip
    p = prefs(
        age_group="children",
        concerns=["anxiety", "adhd"],
        priorities={"safe": 3, "heard": 2, "clear_plan": 2},
        format="in_person",
        location={"lat": 35.8, "lon": -78.6, "max_km": 25},
    )
    assert_golden("child_client.txt", explained(d, p, top=2))


@given(p=preferences_strategy())
def test_every_match_has_two_to_four_reasons(demo: Directory, p: Preferences) -> None:
    for match in rank(demo, p, top=5, today=TODAY).matches:
        words = explain(match, p)
        assert 2 <= len(words.reasons) <= 4, words.reasons
        assert len(set(words.reasons)) == len(words.reasons)
        assert words.first_session


@given(p=preferences_strategy())
def test_no_checkins_means_no_rapport_credit(demo: Directory, p: Preferences) -> None:
    for match in rank(demo, p, top=10, today=TODAY).matches:
        if not match.measured:
            assert match.contributions["rapport"] == 0.0
            for reason in explain(match, p).reasons:
                assert not CREDIT_WORDS.search(reason), reason


def test_rapport_credit_quotes_its_count() -> None:
    d = directory_of(
        [therapist("a", checkins_n="3", rapport_heard="4.9"), therapist("b", checkins_n="60")]
    )
    p = prefs(priorities={"heard": 3})
    match = next(m for m in rank(d, p, today=TODAY).matches if m.therapist_id == "a")
    words = explain(match, p)
    assert any("4.9/5 over 3 check-ins" in r and "early" in r for r in words.reasons)


def test_first_session_questions_follow_the_clients_priorities() -> None:
    d = directory_of([therapist("a")])
    p = prefs(priorities={"honest": 3, "seen": 2})
    words = explain(rank(d, p, today=TODAY).matches[0], p)
    assert words.first_session[:2] == (
        V.ITEM_BY_KEY["honest"].self_check,
        V.ITEM_BY_KEY["seen"].self_check,
    )


@given(p=preferences_strategy())
def test_a_group_that_set_nobody_apart_is_cited_whatever_its_rounding(
    demo: Directory, p: Preferences
) -> None:
    """A contribution of 0 give or take 1e-17 (every eligible therapist alike on that group,
    then centred in floating point) is one fact: the reasons and their order do not depend on
    the sign of the rounding error."""
    for match in rank(demo, p, top=3, today=TODAY).matches:
        near_zero = [g for g in match.active if abs(match.contributions[g]) < 1e-9]
        if not near_zero:
            continue
        told = set()
        for noise in (-1e-17, 0.0, 1e-17):
            contributions = dict(match.contributions) | {g: noise for g in near_zero}
            noisy = dataclasses.replace(match, contributions=contributions)
            told.add(explain(noisy, p).reasons)
        assert len(told) == 1


def test_one_point_is_one_point_and_a_low_rating_never_reads_as_the_average(
    demo: Directory,
) -> None:
    """'+1 point', not '+1 points'; and 'rated … 4.26/5, below the directory average of
    4.34', not '4.3/5 … below the directory average of 4.3' (found trying the app)."""
    from matcher import words as W
    from matcher.explain import contribution_label

    assert W.ratings_apart(4.26, 4.34) == ("4.26", "4.34")
    assert W.ratings_apart(3.9, 4.34) == ("3.9", "4.3")
    match = rank(demo, prefs(concerns=["anxiety"]), today=TODAY).matches[0]
    for value, label in ((0.01, "+1 point"), (-0.01, "−1 point"), (0.12, "+12 points")):
        contributions = dict(match.contributions) | {"concerns": value}
        changed = dataclasses.replace(match, contributions=contributions)
        assert contribution_label(changed, "concerns") == label


def test_dates_read_as_us_readers_write_them(demo: Directory) -> None:
    """'Nov 5, 2026', not '2026-11-05' (found trying the app); files keep ISO dates."""
    from datetime import date

    from matcher import words as W
    from matcher.explain import facts

    assert W.day(date(2026, 11, 5)) == "Nov 5, 2026"
    assert W.day(date(2027, 1, 31)) == "Jan 31, 2027"
    ranked = rank(demo, prefs(concerns=["anxiety"]), today=TODAY).matches
    openings = [
        text
        for match in ranked
        for label, text in facts(match, prefs(concerns=["anxiety"]))
        if label == "Next opening" and match.availability.days_to_opening
    ]
    assert openings, "no match with an opening ahead to check"
    for text in openings:
        assert re.match(r"[A-Z][a-z]{2} \d{1,2}, \d{4} \(in \d+ days?\)", text), text
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_the_headline_says_who_meets_the_clients_musts(demo: Directory) -> None:
    """'87 therapists can see you' read as who could look at the client's answers (found
    trying the app)."""
    import dataclasses

    from matcher.explain import headline

    ranking = rank(demo, prefs(concerns=["anxiety"]), today=TODAY)
    line = headline(ranking)
    assert line.startswith(f"{ranking.eligible:,} therapists meet every must in your answers")
    one = dataclasses.replace(ranking, eligible=1, relaxations=())
    assert headline(one) == "1 therapist meets every must in your answers."
    none = dataclasses.replace(ranking, eligible=0, relaxations=())
    assert headline(none) == "No therapist in this directory meets every must."


def test_a_therapist_beyond_the_clients_travel_limit_is_said_to_be_online() -> None:
    """'practices in Dallas, about 182 miles from you' beside a 25-mile limit (found trying
    the app): such a therapist is matched for online sessions, and the card says so."""
    from matcher.explain import licensed_for

    d = directory_of(
        [
            therapist("near", lat="35.80", lon="-78.64", formats="in_person;telehealth"),
            therapist("far", lat="36.10", lon="-79.80", formats="in_person;telehealth"),
        ]
    )
    p = prefs(location={"lat": 35.78, "lon": -78.64, "max_km": 40}, format="either")
    said = {m.therapist_id: licensed_for(m, p) for m in rank(d, p, today=TODAY).matches}
    assert said["far"].endswith("from you, farther than you would travel, so online")
    assert "so online" not in said["near"]


def test_with_nobody_to_offer_the_advice_names_what_would_help(demo: Directory) -> None:
    """Found trying the app: Ohio and Korean, or a state with nobody licensed, were told to try
    'fewer musts, a wider distance, or online sessions', none of which could help."""
    from matcher.explain import no_match_advice

    nobody = rank(demo, prefs(state="MI"), today=TODAY)
    assert nobody.eligible == 0 and not nobody.relaxations
    assert no_match_advice(nobody, prefs(state="MI")) == (
        "No therapist in this directory is licensed in Michigan yet. Therapists may only see "
        "clients in a state where they are licensed, so no other answer would find one here: "
        "ask your clinic or your insurer for therapists licensed in Michigan.",
    )
    korean = prefs(state="OH", language="Korean", format="in_person",
                   location={"lat": 39.96, "lon": -83.0, "max_km": 24})  # fmt: skip
    ranking = rank(demo, korean, today=TODAY)
    assert ranking.eligible == 0 and "language" in ranking.excluded and not ranking.relaxations
    advice = no_match_advice(ranking, korean)
    assert advice[1] == "If you also speak another language, choose it under Language for sessions."
    assert "fewer musts" not in " ".join(advice)
    # only the must that ruled out the last ones left: full caseloads and ages could not help
    # (found trying the app: both were offered beside the language)
    assert len(advice) == 2


def test_payment_words_name_only_the_ways_to_pay_given(demo: Directory) -> None:
    insured = prefs(payment={"insurance": "Aetna"})
    ranking = rank(demo, insured, today=TODAY)
    text = " ".join(summary(ranking, insured))
    assert "do not take your insurance." in text and "fee limit" not in text
    [eased] = [r for r in ranking.relaxations if r.constraint == "payment"]
    assert describe_relaxation(eased, insured).startswith("Looking beyond your insurance would")
