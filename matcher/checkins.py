"""Check-ins close the loop: clients' ratings become measured rapport; low ones flag ruptures.

A check-in is a client's 1-5 rating of the nine rapport items about their therapist after a
session. Ratings add to the therapist's measured rapport (shrunk toward the directory mean, see
``directory.Directory.with_checkins``). A check-in is a **rupture** when it is low on an item
the client prioritised, or drops sharply from their previous one. Article 001: asking for
feedback lets the therapist repair damage to the relationship, so the first rupture suggests a
repair conversation; a second suggests a rematch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.preferences import Preferences
from matcher.schema import (
    FIRST_ROW,
    Field,
    InvalidInput,
    Problem,
    Source,
    load_table,
    source_name,
)

LOW = 2  # a rating at or below this ("a little" or "not at all") on a prioritised item...
PRIORITISED = 2  # ...that the client rated at least "important"
SHARP_DROP = 2  # points lost on any item since the client's previous check-in


# Words in a check-in comment that call for the crisis steps rather than a quiet pointer.
DANGER_WORDS = (
    "suicid", "kill", "end my life", "ending my life", "hurt myself", "harm myself",
    "self-harm", "self harm", "want to die", "not safe", "unsafe", "don't feel safe",
    "dont feel safe", "abuse", "hits me", "hit me", "threat",
)  # fmt: skip


def sounds_urgent(comment: str) -> bool:
    """Whether a comment uses words of danger or harm (read generously: a false alarm costs a
    crisis box; a miss costs far more)."""
    text = comment.lower()
    return any(word in text for word in DANGER_WORDS)


def worrying(checkin: CheckIn) -> bool:
    """A check-in that calls for the crisis steps now: feeling safe rated at or below LOW, or
    a comment with words of danger or harm."""
    return checkin.ratings.get("safe", LOW + 1) <= LOW or sounds_urgent(checkin.comment)


@dataclass(frozen=True)
class CheckIn:
    therapist_id: str
    session: int
    ratings: Mapping[str, int]  # item -> 1..5; an item the client skipped is absent
    day: date
    comment: str = ""


@dataclass(frozen=True)
class Rupture:
    """Why a check-in signals a strained relationship."""

    low: tuple[str, ...]  # prioritised items rated low
    dropped: tuple[str, ...]  # items that fell sharply since the previous check-in


@dataclass(frozen=True)
class RuptureState:
    ruptures: int
    step: Literal["repair", "rematch"]
    last: Rupture


def rupture(
    checkin: CheckIn, previous: CheckIn | None, preferences: Preferences | None
) -> Rupture | None:
    """The rupture this check-in signals, if any (``preferences``: the client's, for their
    priorities; without them only a sharp drop counts)."""
    priorities = preferences.priorities if preferences is not None else None
    now = checkin.ratings
    low = tuple(
        item
        for item in V.ITEMS
        if item in now and now[item] <= LOW and priorities is not None
        and getattr(priorities, item) >= PRIORITISED
    )  # fmt: skip
    before = previous.ratings if previous is not None else {}
    dropped = tuple(
        item
        for item in V.ITEMS
        if item in now and item in before and before[item] - now[item] >= SHARP_DROP
    )
    return Rupture(low, dropped) if low or dropped else None


def rupture_state(
    history: Sequence[CheckIn], preferences: Preferences | None
) -> RuptureState | None:
    """Ruptures over one client's check-ins with one therapist, in session order."""
    ordered = sorted(history, key=lambda c: c.session)
    if not ordered:
        return None
    found = [
        r
        for previous, current in zip([None, *ordered[:-1]], ordered, strict=True)
        if (r := rupture(current, previous, preferences)) is not None
    ]
    if not found:
        return None
    return RuptureState(len(found), "repair" if len(found) == 1 else "rematch", found[-1])


Ratings = Sequence[int | None]  # one check-in's ratings in item order; None where skipped


def totals(
    directory: Directory, checkins: Sequence[tuple[str, Ratings]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(counts (n,), item sums (n, 9)) over the directory's rows; unknown therapists ignored.

    A skipped item is missing, never a rating: the check-in's answered items carry its
    general level, and the skipped item adds no evidence that it differs from that level (it
    takes the mean of the items answered). A check-in that rates nothing is not counted.
    """
    counts = np.zeros(len(directory), dtype=np.int64)
    sums = np.zeros((len(directory), len(V.ITEMS)))
    for therapist_id, ratings in checkins:
        row = directory.row_of.get(therapist_id)
        answered = [r for r in ratings if r is not None]
        if row is None or not answered:
            continue
        level = sum(answered) / len(answered)
        counts[row] += 1
        sums[row] += [level if r is None else r for r in ratings]
    return counts, sums


def with_checkins(directory: Directory, checkins: Sequence[tuple[str, Ratings]]) -> Directory:
    """The directory with new check-ins added to its measured rapport (itself if none)."""
    if not checkins:
        return directory
    counts, sums = totals(directory, checkins)
    return directory.with_checkins(counts, sums) if counts.any() else directory


# ---------------------------------------------------------------------------------------------
# The bulk import file: a clinic's existing feedback (DESIGN: therapist_id, date, session, one
# 1-5 column per item, named by the item key; a blank item cell is an item the client skipped).
# This is the file's one reader: it validates once and hands typed rows on.

CHECKIN_FIELDS: tuple[Field, ...] = (
    Field("therapist_id", "text", noun="therapist id"),
    Field("date", "date"),
    Field("session", "integer", low=1, high=1000),
    *(
        Field(item, "integer", required=False, low=V.CHECKIN_MIN, high=V.CHECKIN_MAX)
        for item in V.ITEMS
    ),
)


@dataclass(frozen=True)
class ImportedCheckIn:
    """One row of a check-in file, typed: the ratings hold only the items answered."""

    therapist_id: str
    day: date
    session: int
    ratings: Mapping[str, int]


def read_checkins(source: Source, directory: Directory | None = None) -> list[ImportedCheckIn]:
    """A check-in file's rows, validated as a whole (raises InvalidInput listing every problem:
    bad cells, a row that rates nothing, and, given a ``directory``, unknown therapists)."""
    table = load_table(source, CHECKIN_FIELDS)
    name = source_name(source)
    rows = [
        ImportedCheckIn(
            str(row["therapist_id"]), row["date"].date(), int(row["session"]),
            {item: int(row[item]) for item in V.ITEMS if pd.notna(row[item])},  # blank: skipped
        )
        for row in table.to_dict("records")
    ]  # fmt: skip
    problems = [
        Problem(name, position + FIRST_ROW, None, None, "rates no item: at least one is needed")
        for position, row in enumerate(rows)
        if not row.ratings
    ]
    if directory is not None:
        problems += [
            Problem(name, position + FIRST_ROW, "therapist_id", row.therapist_id,
                    f"no therapist with this id in {directory.source}")
            for position, row in enumerate(rows)
            if row.therapist_id not in directory.row_of
        ]  # fmt: skip
    if problems:
        raise InvalidInput(sorted(problems, key=lambda p: p.row or 0))
    return rows
