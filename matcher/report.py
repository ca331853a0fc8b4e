"""Shortlists people take away: a spreadsheet-safe table and a printable summary.

Built from ranked matches and their explanations; the words come from ``explain.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from matcher import vocabulary as V
from matcher import words as W
from matcher.explain import contribution_label, explain, facts
from matcher.preferences import Preferences
from matcher.scoring import Match

# A cell a spreadsheet would run as a formula: neutralised with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def shortlist_table(matches: Sequence[Match], preferences: Preferences) -> pd.DataFrame:
    """One row per match, with its score, reasons, shortfall and practical facts."""
    rows = []
    for place, match in enumerate(matches, start=1):
        words = explain(match, preferences)
        x, a = match.practical, match.availability
        rows.append(
            {
                "rank": place,
                "therapist_id": match.therapist_id,
                "name": match.name,
                "credentials": x.credentials,
                "city": x.city,
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


def shortlist_csv(matches: Sequence[Match], preferences: Preferences) -> bytes:
    table = spreadsheet_safe(shortlist_table(matches, preferences))
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def printable_summary(matches: Sequence[Match], preferences: Preferences, today: date) -> str:
    """A plain-text page to print or keep: each therapist, why they fit, what to ask after."""
    lines = [
        "Your therapist shortlist",
        f"Made on {W.day(today)}. Check fees, insurance and openings with each therapist.",
        "",
    ]
    for place, match in enumerate(matches, start=1):
        words = explain(match, preferences)
        x = match.practical
        lines += [
            f"{place}. {match.name} ({x.credentials}, {x.city}) — match {match.score:.0%}",
            *(f"   - {reason}" for reason in words.reasons),
        ]
        if words.shortfall:
            lines.append(f"   {words.shortfall}")
        sessions = " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats)
        lines += [f"   Fee: {W.fee(x.fee, x.sliding_scale)}; sessions {sessions}"]
        lines += ["   After your first sessions, ask yourself:"]
        lines += [f"     [ ] {question}" for question in words.first_session]
        lines.append("")
    lines.append(W.CRISIS_LINE)
    return "\n".join(lines) + "\n"


def comparison_table(matches: Sequence[Match], preferences: Preferences) -> pd.DataFrame:
    """Therapists side by side: one column each, one row per thing worth comparing."""
    columns: dict[str, list[str]] = {}
    for match in matches:
        words = explain(match, preferences)
        values = [f"{match.score:.0%}", f"{match.baseline:.0%}"]
        values += [contribution_label(match, g) for g in V.GROUPS]
        values += [text for _, text in facts(match, preferences)]
        values += [words.reasons[0], words.shortfall or "—"]
        columns[f"{match.name} ({match.therapist_id})"] = values
    first = matches[0] if matches else None
    labels = ["Match", "An average match for you"]
    labels += [f"From {V.GROUP_LABELS[g]}" for g in V.GROUPS]
    labels += [label for label, _ in facts(first, preferences)] if first else []
    labels += ["Strongest reason", "Why not higher"]
    return pd.DataFrame(columns, index=labels)
