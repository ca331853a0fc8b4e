"""Shortlists people take away: a spreadsheet-safe table and a printable summary.

Built from ranked matches and their explanations; the words come from ``explain.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from matcher import vocabulary as V
from matcher import words as W
from matcher.directory import Directory
from matcher.explain import contribution_label, explain, facts
from matcher.preferences import Preferences
from matcher.scoring import TIE_DECIMALS, Match, assess, match_at, top_k

# A cell a spreadsheet would run as a formula: neutralised with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Listed:
    """A therapist a client takes away: their place among the client's matches, as the cards
    number them, the match, and how to reach them (blank when the directory lists none)."""

    place: int
    match: Match
    phone: str = ""
    email: str = ""


def listed(d: Directory, matches: Sequence[Match]) -> list[Listed]:
    """The matches shown, numbered as the cards are."""
    return [_listed(d, place, m) for place, m in enumerate(matches, start=1)]


def shortlist(d: Directory, p: Preferences, ids: Sequence[str], today: date) -> list[Listed]:
    """The therapists a client ticked, under their current answers and weights, in the cards'
    order and numbered as the cards number them, whether or not they are among the matches
    shown. One who no longer meets a must drops out."""
    a = assess(d, p, today)
    position = {int(row): i for i, row in enumerate(a.rows)}
    wanted = sorted({position[r] for t in ids if (r := d.row_of.get(t)) in position})
    if not wanted:
        return []
    # A place is one more than those scoring higher, plus the order among equal scores that
    # top_k gives the cards: no sort of every eligible therapist, whose ties would each need
    # a distance measured
    score = np.round(a.score, TIE_DECIMALS)

    def place(i: int) -> int:
        tied = np.flatnonzero(score == score[i])
        among = top_k(d, a, int(tied.size), among=tied)
        return int(np.count_nonzero(score > score[i])) + 1 + int(np.flatnonzero(among == i)[0])

    places = {i: place(i) for i in wanted}
    return [
        _listed(d, places[i], match_at(d, p, a, i, today))
        for i in sorted(wanted, key=places.__getitem__)
    ]


def _listed(d: Directory, place: int, match: Match) -> Listed:
    reach = d.contacts(match.row)
    return Listed(place, match, reach["phone"], reach["email"])


def shortlist_table(entries: Sequence[Listed], preferences: Preferences) -> pd.DataFrame:
    """One row per therapist, with their place, score, reasons, shortfall, practical facts and
    how to reach them."""
    rows = []
    for taken in entries:
        match = taken.match
        words = explain(match, preferences)
        x, a = match.practical, match.availability
        rows.append(
            {
                "rank": taken.place,
                "therapist_id": match.therapist_id,
                "name": match.name,
                "credentials": x.credentials,
                "city": x.city,
                "phone": taken.phone,
                "email": taken.email,
                "match_percent": round(match.score * 100),
                "average_match_percent": round(match.baseline * 100),
                **{f"points_{g}": _points(match, g) for g in V.GROUPS},
                "reasons": " | ".join(words.reasons),
                "why_not_higher": words.shortfall or "",
                "fee_usd": "" if x.fee is None else f"{x.fee:.0f}",
                "sliding_scale": "yes" if x.sliding_scale else "no",
                "in_network": {None: "", True: "yes", False: "no"}[x.in_network],
                "sessions": " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats),
                "languages": ", ".join(x.languages),
                "next_opening": a.next_opening.isoformat() if a.next_opening else "",
                "availability_confirmed": a.confirmed.isoformat() if a.confirmed else "",
                "availability_may_be_out_of_date": "yes" if a.stale else "no",
                "checkins": match.rapport.checkins_n,
            }
        )
    return pd.DataFrame(rows)


def _points(match: Match, group: str) -> int | str:
    """A group's signed points as the card shows them; words where there is no number."""
    if group == "rapport" and not match.measured:
        return W.NOT_MEASURED
    return round(match.contributions[group] * 100) if group in match.active else ""


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would treat as formulas get a leading apostrophe."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype):
            safe[column] = safe[column].map(_neutralise)
    return safe


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_csv(frame: pd.DataFrame) -> bytes:
    """A table as a CSV download a person opens in a spreadsheet: formula-safe (see
    ``spreadsheet_safe``), and UTF-8 with a byte-order mark, since Excel on Windows reads a file
    without one in the local code page ("—" came out as "â€”"). Files for programs (the command
    line's) stay plain UTF-8."""
    return spreadsheet_safe(frame).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def shortlist_csv(entries: Sequence[Listed], preferences: Preferences) -> bytes:
    return spreadsheet_csv(shortlist_table(entries, preferences))


def printable_summary(entries: Sequence[Listed], preferences: Preferences, today: date) -> str:
    """A plain-text page to print or keep: each therapist, why they fit, how to reach them, and
    what to ask yourself after the first sessions."""
    lines = [
        "Your therapist shortlist",
        f"Made on {W.day(today)}. Check fees, insurance and openings with each therapist.",
        "",
    ]
    for taken in entries:
        match = taken.match
        words = explain(match, preferences)
        x = match.practical
        lines += [
            f"{taken.place}. {match.name} ({x.credentials}, {x.city}) — match {match.score:.0%}",
            *(f"   - {reason}" for reason in words.reasons),
        ]
        if words.shortfall:
            lines.append(f"   {words.shortfall}")
        sessions = " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats)
        lines += [f"   Fee: {W.fee(x.fee, x.sliding_scale)}; sessions {sessions}"]
        reach = "; ".join(f"{kind} {value}" for kind, value in
                          (("phone", taken.phone), ("email", taken.email)) if value)  # fmt: skip
        lines += [f"   To reach them: {reach or 'ask your clinic'}"]
        lines += ["   After your first sessions, ask yourself:"]
        lines += [f"     [ ] {question}" for question in words.first_session]
        lines.append("")
    lines.append(W.CRISIS_LINE)
    return "\n".join(lines) + "\n"


def comparison_table(matches: Sequence[Match], preferences: Preferences) -> pd.DataFrame:
    """Therapists side by side: one column each, one row per thing worth comparing."""
    columns: dict[str, list[str]] = {}
    for match, heading in zip(matches, _headings(matches), strict=True):
        words = explain(match, preferences)
        values = [f"{match.score:.0%}", f"{match.baseline:.0%}"]
        values += [contribution_label(match, g) for g in V.GROUPS]
        values += [text for _, text in facts(match, preferences)]
        values += [words.reasons[0], (words.shortfall or "—").removeprefix("Why not higher: ")]
        columns[heading] = values
    first = matches[0] if matches else None
    labels = ["Match", "An average match for you"]
    labels += [f"From {V.GROUP_LABELS[g]}" for g in V.GROUPS]
    labels += [label for label, _ in facts(first, preferences)] if first else []
    labels += ["Strongest reason", "Why not higher"]
    return pd.DataFrame(columns, index=labels)


def _headings(matches: Sequence[Match]) -> list[str]:
    """Each therapist's name, with their city when two share a name, and a count when two
    share both (an id means nothing to a client)."""
    names = [m.name for m in matches]
    headings = [
        f"{m.name} ({m.practical.city})" if names.count(m.name) > 1 else m.name for m in matches
    ]
    return [
        f"{h} ({headings[:i].count(h) + 1})" if headings.count(h) > 1 else h
        for i, h in enumerate(headings)
    ]
