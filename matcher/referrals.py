"""The referral queue file (DESIGN.md §3.3): its one reader.

A coordinator's queue arrives as CSV or Parquet. :func:`read_referrals` reads it, checks every
cell against ``schema.REFERRAL_FIELDS``, parses the table once, validates each row's preference
columns once as whole :class:`~matcher.preferences.Preferences` (a referral's preferences are the
same JSON shape a client's file holds), and hands on typed :class:`Referral` values. Every
problem is located by row and column, and a queue with one bad row is not read at all.
:func:`referral_problems` is the same check for ``matcher validate``, returning the problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from pydantic import ValidationError

from matcher import vocabulary as V
from matcher.preferences import Preferences, problems_from
from matcher.schema import (
    FIRST_ROW,
    REFERRAL_FIELDS,
    InvalidInput,
    Problem,
    Source,
    parse_table,
    read_table,
    source_name,
    split_words,
    validate_table,
)


@dataclass(frozen=True)
class Referral:
    """One row of a coordinator's queue (DESIGN.md §3.3), or a client's consultation request."""

    referral_id: str
    received: date
    urgency: str
    risk_self_harm: bool
    risk_harm_others: bool
    preferences: Preferences
    notes: str = ""
    client_name: str = ""  # name or initials: shown to signed-in coordinators only
    contact: str = ""  # how to reach them: likewise
    source: str = "import"  # "self": a client's consultation request from the app
    chosen: tuple[str, ...] = ()  # therapists the client asked for (self-referrals)

    @property
    def crisis(self) -> bool:
        return self.risk_self_harm or self.risk_harm_others

    def waiting_days(self, today: date) -> int:
        return max((today - self.received).days, 0)


def read_referrals(source: Source) -> list[Referral]:
    """A referral queue file as typed referrals, in file order (raises InvalidInput listing
    every problem)."""
    return referrals_from_frame(read_table(source), source_name(source))


def referrals_from_frame(frame: pd.DataFrame, source: str) -> list[Referral]:
    """Referrals from a table as read from a file (text cells, or Parquet's types)."""
    referrals, problems = _read(frame, source)
    if problems:
        raise InvalidInput(problems)
    return referrals


def referral_problems(frame: pd.DataFrame, source: str) -> list[Problem]:
    """Every problem in a referral table: its cells first, then each row's preferences."""
    return _read(frame, source)[1]


def _read(frame: pd.DataFrame, source: str) -> tuple[list[Referral], list[Problem]]:
    problems = validate_table(frame, REFERRAL_FIELDS, source)
    if problems:
        return [], problems
    referrals = []
    for position, row in enumerate(parse_table(frame, REFERRAL_FIELDS).to_dict("records")):
        try:
            preferences = Preferences.model_validate(referral_to_dict(row))
        except ValidationError as error:
            problems.extend(problems_from(error, source, position + FIRST_ROW, referral_column))
            continue
        referrals.append(
            Referral(
                referral_id=str(row["referral_id"]),
                received=pd.Timestamp(row["received"]).date(),
                urgency=str(row["urgency"]),
                risk_self_harm=bool(row.get("risk_self_harm", False)),
                risk_harm_others=bool(row.get("risk_harm_others", False)),
                preferences=preferences,
                notes=str(row.get("notes", "") or ""),
            )
        )
    return referrals, problems


# ---------------------------------------------------------------------------------------------
# A row's preference columns -> the preferences JSON shape (what a client's JSON file holds)


REFERRAL_COLUMN_OF: dict[tuple[str, ...], str] = {
    ("location", "lat"): "lat",
    ("location", "lon"): "lon",
    ("location", "max_km"): "max_km",
    ("payment", "insurance"): "insurance",
    ("payment", "max_fee"): "max_fee",
    ("payment", "sliding_scale_ok"): "sliding_scale_ok",
    ("modalities", "prefer"): "modalities_prefer",
    ("modalities", "avoid"): "modalities_avoid",
    ("modalities",): "modalities_prefer",
    ("therapist_gender", "value"): "therapist_gender",
    ("therapist_identities", "values"): "therapist_identities",
    **{("priorities", item): f"priority_{item}" for item in V.ITEMS},
    **{("style", axis): f"style_{axis}" for axis in V.AXES},
}


def referral_column(loc: tuple[str | int, ...]) -> str:
    names = tuple(str(part) for part in loc if not isinstance(part, int))
    for length in range(len(names), 0, -1):
        if names[:length] in REFERRAL_COLUMN_OF:
            return REFERRAL_COLUMN_OF[names[:length]]
    return names[0] if names else ""


def referral_to_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A parsed referral row (see schema.REFERRAL_FIELDS) as a preferences JSON object."""

    def given(name: str) -> bool:
        value = row.get(name)
        return value is not None and value == value and str(value).strip() != ""

    data: dict[str, Any] = {"state": row["state"]}
    data["priorities"] = {
        item: int(row[f"priority_{item}"]) for item in V.ITEMS if given(f"priority_{item}")
    }
    data["style"] = {axis: int(row[f"style_{axis}"]) for axis in V.AXES if given(f"style_{axis}")}
    data["concerns"] = split_words(row.get("concerns"))
    data["modalities"] = {
        "prefer": split_words(row.get("modalities_prefer")),
        "avoid": split_words(row.get("modalities_avoid")),
    }
    data["populations"] = split_words(row.get("populations"))
    for name in ("age_group", "format", "language"):
        if given(name):
            data[name] = row[name]
    if given("lat") or given("lon"):
        data["location"] = {"lat": row.get("lat"), "lon": row.get("lon")}
        if given("max_km"):
            data["location"]["max_km"] = row["max_km"]
    payment: dict[str, Any] = {"sliding_scale_ok": bool(row.get("sliding_scale_ok") or False)}
    if given("insurance"):
        payment["insurance"] = row["insurance"]
    if given("max_fee"):
        payment["max_fee"] = row["max_fee"]
    data["payment"] = payment
    if given("therapist_gender"):
        data["therapist_gender"] = {
            "value": row["therapist_gender"],
            "required": bool(row.get("therapist_gender_required") or False),
        }
    if given("therapist_identities"):
        data["therapist_identities"] = {
            "values": split_words(row["therapist_identities"]),
            "required": bool(row.get("therapist_identities_required") or False),
        }
    return data
