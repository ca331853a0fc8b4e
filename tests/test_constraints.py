"""Hard constraints (``matcher.constraints``): each rule excludes whom it should, says so in
words, and each easing adds exactly the therapists it says."""

from __future__ import annotations

from hypothesis import given

from matcher import constraints as C
from matcher.constraints import NAMES
from matcher.directory import Directory
from matcher.preferences import Preferences
from matcher.scoring import rank
from tests.conftest import TODAY, directory_of, prefs, therapist
from tests.test_scoring import preferences_strategy

# ---------------------------------------------------------------------------------------------
# The registry and its words


# A client with every must there is (near Raleigh, NC)
EVERY_MUST: dict[str, object] = {
    "format": "in_person",
    "location": {"lat": 35.78, "lon": -78.64, "max_km": 40},
    "age_group": "adults",
    "language": "English",
    "payment": {"insurance": "Aetna"},
    "therapist_gender": {"value": "woman", "required": True},
    "therapist_identities": {"values": ["lgbtq"], "required": True},
}


def test_every_constraint_has_words_for_every_use() -> None:
    p = prefs(**EVERY_MUST)
    for rule in C.CONSTRAINTS:
        assert rule.excluded(p, True) and rule.excluded(p, False) and rule.needs(p)
        assert "in person sessions" not in rule.excluded(p, True) + rule.needs(p)  # in-person
        eased = rule.ease(p)
        if eased is not None:
            assert rule.easing(p, eased)
            assert C.BY_NAME[rule.name].mask(C.Reach(directory_of([therapist("a")]), eased)).all()


# ---------------------------------------------------------------------------------------------
# Each rule, and the easings


def test_each_constraint_removes_the_therapist_that_fails_it() -> None:
    d = directory_of(
        [
            therapist("ok"),
            therapist("license", states="SC"),
            therapist("format", formats="telehealth"),
            therapist("distance", formats="in_person", lat="35.23", lon="-80.84"),  # Charlotte
            therapist("capacity", open_slots="0"),
            therapist("age", ages_served="children"),
            therapist("language", languages="Spanish"),
            therapist("payment", insurance="Cigna", fee="200"),
            therapist("gender", gender="man"),
            therapist("identities", identities="faith"),
        ]
    )
    p = prefs(**{**EVERY_MUST, "language": "english", "payment": {"insurance": "aetna"},
                 "therapist_identities": {"values": [], "required": True}})  # fmt: skip
    ranking = rank(d, p, top=10, today=TODAY)
    assert [m.therapist_id for m in ranking.matches] == ["ok", "identities"]
    assert ranking.excluded == {name: 1 for name in NAMES if name != "identities"}
    assert sum(ranking.excluded.values()) + ranking.eligible == ranking.total


def test_either_format_accepts_a_therapist_who_qualifies_either_way() -> None:
    far = {"lat": "35.23", "lon": "-80.84"}
    d = directory_of(
        [
            therapist("online_only", formats="telehealth", **far),
            therapist("far_in_person", formats="in_person", **far),
            therapist("near_in_person", formats="in_person"),
        ]
    )
    p = prefs(format="either", location={"lat": 35.78, "lon": -78.64, "max_km": 40})
    ids = {m.therapist_id for m in rank(d, p, today=TODAY).matches}
    assert ids == {"online_only", "near_in_person"}


def test_payment_rules() -> None:
    d = directory_of(
        [
            therapist("network", insurance="Aetna", fee="300"),
            therapist("cheap", insurance="", fee="90"),
            therapist("sliding", insurance="", fee="300", sliding_scale="true"),
            therapist("none", insurance="Cigna", fee="300"),
        ]
    )

    def ids(payment: dict[str, object]) -> set[str]:
        return {m.therapist_id for m in rank(d, prefs(payment=payment), today=TODAY).matches}

    assert ids({}) == {"network", "cheap", "sliding", "none"}
    assert ids({"insurance": "Aetna"}) == {"network"}  # insurance alone means in-network
    assert ids({"insurance": "Aetna", "max_fee": 100}) == {"network", "cheap"}
    assert ids({"max_fee": 100, "sliding_scale_ok": True}) == {"cheap", "sliding"}


def test_relaxation_adds_exactly_what_it_says(demo: Directory, example: Preferences) -> None:
    p = example.evolve(format="in_person", therapist_gender={"value": "woman", "required": True})
    ranking = rank(demo, p, top=5, today=TODAY)
    assert ranking.relaxations, "the example should have something to relax"
    for relaxation in ranking.relaxations:
        eased = rank(demo, relaxation.preferences, top=5, today=TODAY)
        assert eased.eligible == ranking.eligible + relaxation.adds, relaxation.constraint
    adds = [r.adds for r in ranking.relaxations]
    assert adds == sorted(adds, reverse=True)


def test_unknown_language_is_reported(demo: Directory) -> None:
    ranking = rank(demo, prefs(language="Klingon"), today=TODAY)
    assert ranking.eligible == 0
    assert ranking.unknown_terms == {"language": "Klingon"}


@given(p=preferences_strategy())
def test_relaxations_add_exactly_what_they_say(demo: Directory, p: Preferences) -> None:
    ranking = rank(demo, p, top=1, today=TODAY)
    for relaxation in ranking.relaxations:
        eased = rank(demo, relaxation.preferences, top=1, today=TODAY)
        assert eased.eligible == ranking.eligible + relaxation.adds, relaxation.constraint
