"""Shortlists people take away: a spreadsheet-safe table and a printable summary.

Built from ranked matches and their explanations; the words come from ``explain.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from matcher import vocabulary as V
from matcher.explain import explain, facts
from matcher.preferences import Preferences
from matcher.scoring import Match

# A cell a spreadsheet would run as a formula: neutralised with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def shortlist_table(matches: Sequence[Match], preferences: Preferences) -> pd.DataFrame:
    """One row per match, with its score, reasons, shortfall and practical facts."""
    rows = []
    for place, match in enumerate(matches, start=1):
        words = explain(match, preferences)
        e = match.evidence
        rows.append(
            {
                "rank": place,
                "therapist_id": match.therapist_id,
                "name": match.name,
                "credentials": e.credentials,
                "city": e.city,
                "match_percent": round(match.score * 100),
                "reasons": " | ".join(words.reasons),
                "why_not_higher": words.shortfall or "",
                "fee_usd": "" if e.fee is None else f"{e.fee:.0f}",
                "sliding_scale": "yes" if e.sliding_scale else "no",
                "in_network": {None: "", True: "yes", False: "no"}[e.in_network],
                "sessions": " or ".join(V.THERAPIST_FORMATS[f] for f in e.formats),
                "languages": ", ".join(e.languages),
                "next_opening": e.next_opening.isoformat() if e.next_opening else "",
                "availability_confirmed": e.confirmed.isoformat() if e.confirmed else "",
                "availability_may_be_out_of_date": "yes" if e.stale else "no",
                "checkins": e.checkins_n,
                **{f"score_{g}": round(match.contributions[g], 4) for g in V.GROUPS},
            }
        )
    return pd.DataFrame(rows)


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
        f"Made on {today.isoformat()}. Check fees, insurance and openings with each therapist.",
        "",
    ]
    for place, match in enumerate(matches, start=1):
        words = explain(match, preferences)
        e = match.evidence
        fee = "fee not listed" if e.fee is None else f"${e.fee:,.0f} per session"
        lines += [
            f"{place}. {match.name} ({e.credentials}, {e.city}) — match {match.score:.0%}",
            *(f"   - {reason}" for reason in words.reasons),
        ]
        if words.shortfall:
            lines.append(f"   {words.shortfall}")
        lines += [f"   {fee}; sessions {' or '.join(V.THERAPIST_FORMATS[f] for f in e.formats)}"]
        lines += ["   After your first sessions, ask yourself:"]
        lines += [f"     [ ] {question}" for question in words.first_session]
        lines.append("")
    lines += [
        "If you are in crisis: call or text 988 (Suicide & Crisis Lifeline, US);",
        "in an emergency call 911.",
    ]
    return "\n".join(lines) + "\n"


def comparison_table(matches: Sequence[Match], preferences: Preferences) -> pd.DataFrame:
    """Therapists side by side: one column each, one row per thing worth comparing."""
    columns: dict[str, list[str]] = {}
    for match in matches:
        words = explain(match, preferences)
        values = [f"{match.score:.0%}"]
        values += [
            f"{match.contributions[g] * 100:.0f} points" if g in match.active else "—"
            for g in V.GROUPS
        ]
        values += [text for _, text in facts(match.evidence, preferences)]
        values += [words.reasons[0], words.shortfall or "—"]
        columns[f"{match.name} ({match.therapist_id})"] = values
    first = matches[0] if matches else None
    labels = ["Match"] + [f"Score from {V.GROUP_LABELS[g]}" for g in V.GROUPS]
    labels += [label for label, _ in facts(first.evidence, preferences)] if first else []
    labels += ["Strongest reason", "Why not higher"]
    return pd.DataFrame(columns, index=labels)
