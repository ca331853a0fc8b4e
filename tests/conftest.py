"""Shared fixtures: hand-built directories with known answers, and the bundled demo data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from matcher import vocabulary as V
from matcher.directory import Directory, encode, load_directory
from matcher.preferences import Preferences, parse_preferences
from matcher.schema import DIRECTORY_FIELDS, DIRECTORY_RULES, parse_table, validate_table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TODAY = date(2026, 11, 22)  # the demo data's as-of date; tests never depend on the clock

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def therapist(therapist_id: str, **overrides: Any) -> dict[str, Any]:
    """One directory row as CSV text would give it: a plain NC adult-anxiety therapist."""
    row: dict[str, Any] = {
        "therapist_id": therapist_id,
        "name": f"Therapist {therapist_id}",
        "credentials": "LCSW",
        "years_experience": "10",
        "gender": "woman",
        "languages": "English",
        "identities": "",
        "states": "NC",
        "city": "Raleigh",
        "lat": "35.78",
        "lon": "-78.64",
        "formats": "in_person;telehealth",
        "insurance": "Aetna",
        "fee": "120",
        "sliding_scale": "false",
        "accepting_new_clients": "true",
        "open_slots": "2",
        "next_opening": "2026-11-25",
        "availability_confirmed": "2026-11-20",
        "ages_served": "adults",
        "works_with_parents": "false",
        "populations": "",
        "concerns": "anxiety",
        "modalities": "cbt",
        **{f"style_{axis}": "0" for axis in V.AXES},
        "checkins_n": "20",
        **{f"rapport_{item}": "4.0" for item in V.ITEMS},
        "bio": "",
    }
    if str(overrides.get("checkins_n")) == "0":  # no check-ins: no figures, unless overridden
        for item in V.ITEMS:
            row[f"rapport_{item}"] = ""
    for key, value in overrides.items():
        row[key] = "" if value is None else str(value)
    return row


def table_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype=str)


def directory_of(rows: list[dict[str, Any]]) -> Directory:
    """Validate and encode rows, failing the test loudly if the fixture itself is invalid."""
    frame = table_of(rows)
    problems = validate_table(frame, DIRECTORY_FIELDS, "fixture", DIRECTORY_RULES)
    assert not problems, "\n".join(map(str, problems))
    return encode(parse_table(frame, DIRECTORY_FIELDS), "fixture")


def prefs(**fields: Any) -> Preferences:
    return parse_preferences({"state": "NC", **fields})


@pytest.fixture(autouse=True)
def private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own coordinator database; none ever writes into the project."""
    path = tmp_path / "matcher.db"
    monkeypatch.setenv("MATCHER_DB", str(path))
    return path


@pytest.fixture(scope="session")
def demo() -> Directory:
    return load_directory(DATA / "therapists.csv")


@pytest.fixture(scope="session")
def example() -> Preferences:
    from matcher.preferences import load_preferences

    return load_preferences(DATA / "example_preferences.json")


def backdate_assignments(path: Path, days: int = 60) -> None:
    """Pretend every assignment in the database at ``path`` was made ``days`` ago, so that a
    test may record later sessions (a session number must be possible since the assignment)."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE assignments SET decided_at = ?", (when,))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module (see tests/browsing.py)."""
    from tests.browsing import chromium

    with chromium() as launched:
        yield launched
