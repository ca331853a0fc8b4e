"""The referral queue file's one reader: validated once, typed referrals handed on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from matcher.referrals import read_referrals, referral_problems, referrals_from_frame
from matcher.schema import InvalidInput
from tests.conftest import DATA


def test_the_demo_referral_queue_loads() -> None:
    queue = read_referrals(DATA / "referrals.csv")
    assert len(queue) == 80
    assert {"urgent", "soon", "routine"} <= {r.urgency for r in queue}
    assert any(r.risk_self_harm for r in queue)
    assert queue[0].referral_id == "R00001" and queue[0].preferences.state


def test_referral_rows_become_preferences() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(1)
    frame.loc[0, ["format", "lat", "lon", "max_km", "priority_heard", "therapist_gender",
                  "therapist_gender_required"]] = ["in_person", "35.8", "-78.6", "30", "3",
                                                   "woman", "yes"]  # fmt: skip
    assert referral_problems(frame, "r.csv") == []
    [referral] = referrals_from_frame(frame, "r.csv")
    p = referral.preferences
    assert p.location is not None and p.location.max_km == 30
    assert p.priorities.heard == 3
    assert p.therapist_gender is not None and p.therapist_gender.required


def test_referral_problems_name_row_and_column() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(3)
    frame.loc[1, "urgency"] = "asap"
    frame.loc[2, "concerns"] = "anxiety;sadnes"
    problems = referral_problems(frame, "r.csv")
    assert [(p.row, p.column) for p in problems] == [(3, "urgency"), (4, "concerns")]


def test_a_referral_with_latitude_but_no_longitude_is_refused() -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False).head(2)
    frame.loc[1, ["lat", "lon"]] = ["35.8", ""]
    problems = referral_problems(frame, "r.csv")
    assert [(p.row, p.column) for p in problems] == [(3, "lon")]


def test_one_bad_referral_means_nothing_is_loaded(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "referrals.csv", dtype=str, keep_default_na=False)
    frame.loc[40, "state"] = "ZZ"
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput) as caught:
        read_referrals(path)
    assert [(p.row, p.column) for p in caught.value.problems] == [(42, "state")]


def test_each_row_is_parsed_and_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from matcher import referrals

    calls = {"parse": 0, "preferences": 0}
    parse, validate = referrals.parse_table, referrals.Preferences.model_validate

    def counted_parse(*args: object, **kwargs: object) -> pd.DataFrame:
        calls["parse"] += 1
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    def counted_validate(data: object) -> object:
        calls["preferences"] += 1
        return validate(data)

    monkeypatch.setattr(referrals, "parse_table", counted_parse)
    monkeypatch.setattr(referrals.Preferences, "model_validate", counted_validate)
    assert len(read_referrals(DATA / "referrals.csv")) == 80
    assert calls == {"parse": 1, "preferences": 80}
