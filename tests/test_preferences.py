"""Preferences: frozen values, defaults meaning 'no preference', and helpful errors."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from matcher import vocabulary as V
from matcher.preferences import (
    Preferences,
    load_preferences,
    parse_preferences,
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


def test_example_file_round_trips() -> None:
    data = json.loads((DATA / "example_preferences.json").read_text())
    assert parse_preferences(data) == Preferences.model_validate(data)
