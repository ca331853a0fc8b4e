"""Preferences: frozen values, defaults meaning 'no preference', and helpful errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pydantic
import pytest

from matcher import vocabulary as V
from matcher.preferences import (
    Preferences,
    load_preferences,
    load_referrals,
    parse_preferences,
    validate_referrals,
)
from matcher.schema import InvalidInput
from tests.conftest import DATA


def test_the_example_is_valid(example: Preferences) -> None:
    assert example.state == "NC"
    assert example.priorities.ranked()[:2] == ["safe", "heard"]
    assert example.payment.constrained


def test_everything_but_state_may_be_left_out() -> None:
    p = parse_preferences({"state": "nc"})
    assert p.state == "NC"
    assert p.concerns == () and p.format == "either" and p.location is None
    assert p.priorities.ranked() == []
    assert not p.payment.constrained


def test_state_is_required() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_preferences({})
    [problem] = caught.value.problems
    assert problem.column == "state" and "required" in problem.message


def test_unknown_keys_and_words_name_the_nearest_valid_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_preferences(
            {
                "state": "NC",
                "concern": ["anxiety"],
                "concerns": ["anxeity"],
                "priorities": {"herd": 2},
                "modalities": {"prefer": ["cbtt"]},
            }
        )
    messages = {p.column: p.message for p in caught.value.problems}
    assert messages["concern"] == 'unknown key "concern"; did you mean "concerns"?'
    assert messages["concerns[0]"] == 'unknown concern "anxeity"; did you mean "anxiety"?'
    assert messages["priorities.herd"] == 'unknown key "herd"; did you mean "heard"?'
    assert messages["modalities.prefer[0]"] == 'unknown approach "cbtt"; did you mean "cbt"?'


@pytest.mark.parametrize(
    ("data", "column"),
    [
        ({"priorities": {"safe": 4}}, "priorities.safe"),
        ({"style": {"past": -4}}, "style.past"),
        ({"location": {"lat": 35}}, "location.lon"),
        (
            {"weights": dict.fromkeys(V.GROUPS, 0)},
            "weights",
        ),
        ({"modalities": {"prefer": ["cbt"], "avoid": ["cbt"]}}, "modalities"),
        ({"concerns": ["anxiety", "anxiety"]}, None),
        ({"payment": {"max_fee": -1}}, "payment.max_fee"),
    ],
)
def test_out_of_range_values_are_refused(data: dict[str, object], column: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_preferences({"state": "NC", **data})
    assert [p.column for p in caught.value.problems] == [column]


def test_preferences_are_frozen_and_evolve_makes_a_new_value(example: Preferences) -> None:
    with pytest.raises(pydantic.ValidationError):
        example.state = "CA"  # type: ignore[misc]
    changed = example.evolve(weights={"rapport": 1.0})
    assert changed.weights.rapport == 1.0 and example.weights.rapport == 0.35
    with pytest.raises(pydantic.ValidationError):
        example.evolve(format="by pigeon")


def test_online_is_accepted_for_telehealth() -> None:
    assert parse_preferences({"state": "NC", "format": "online"}).format == "telehealth"


def test_bad_json_files(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"state": "NC",}')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_preferences(path)
    path.write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="JSON object"):
        load_preferences(path)
    path.write_bytes(b'{"state": "\xff"}')
    with pytest.raises(InvalidInput, match="UTF-8"):
        load_preferences(path)
    with pytest.raises(InvalidInput, match="no such file"):
        load_preferences(tmp_path / "missing.json")


def test_the_demo_referral_queue_loads() -> None:
    table, preferences = load_referrals(DATA / "referrals.csv")
    assert len(table) == len(preferences) == 80
    assert {"urgent", "soon", "routine"} <= set(table["urgency"])
    assert table["risk_self_harm"].sum() >= 1


def test_referral_rows_become_preferences() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(1)
    frame.loc[0, ["format", "lat", "lon", "max_km", "priority_heard", "therapist_gender",
                  "therapist_gender_required"]] = ["in_person", "35.8", "-78.6", "30", "3",
                                                   "woman", "yes"]  # fmt: skip
    assert validate_referrals(frame, "r.csv") == []
    path_frame = frame
    from matcher.preferences import referral_to_dict
    from matcher.schema import REFERRAL_FIELDS, parse_table

    row = parse_table(path_frame, REFERRAL_FIELDS).to_dict("records")[0]
    p = Preferences.model_validate(referral_to_dict(row))
    assert p.location is not None and p.location.max_km == 30
    assert p.priorities.heard == 3
    assert p.therapist_gender is not None and p.therapist_gender.required


def test_referral_problems_name_row_and_column() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(3)
    frame.loc[1, "urgency"] = "asap"
    frame.loc[2, "concerns"] = "anxiety;sadnes"
    problems = validate_referrals(frame, "r.csv")
    assert [(p.row, p.column) for p in problems] == [(3, "urgency"), (4, "concerns")]


def test_a_referral_with_latitude_but_no_longitude_is_refused() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(2)
    frame.loc[1, ["lat", "lon"]] = ["35.8", ""]
    problems = validate_referrals(frame, "r.csv")
    assert [(p.row, p.column) for p in problems] == [(3, "lon")]


def test_one_bad_referral_means_nothing_is_loaded(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False)
    frame.loc[40, "state"] = "ZZ"
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput) as caught:
        load_referrals(path)
    assert [(p.row, p.column) for p in caught.value.problems] == [(42, "state")]


def test_example_file_round_trips() -> None:
    data = json.loads((DATA / "example_preferences.json").read_text())
    assert parse_preferences(data) == Preferences.model_validate(data)
