"""Small pieces of the product's wording, shared by every place that writes a sentence.

Numbers become words in the explanation layer only: ``explain.py`` and the word methods of the
constraint and group records (each rule's sentences live beside the rule). This module holds
the pieces they share, and the sentences that are the same on every page (crisis help, fees,
the check-in scale), so a page, a report or the CLI never writes its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from matcher import vocabulary as V

CRISIS_LINE = (
    "If you are in crisis or thinking about harming yourself: call or text 988 "
    "(Suicide & Crisis Lifeline, US, any hour). In an emergency, call 911."
)
CRISIS_SHORT = "risk flag: follow the crisis protocol (988, or 911 in an emergency) before matching"
CRISIS_NOW = (
    "If you might act on thoughts of harming yourself or someone else, please reach out now. "
    "Call or text 988 (Suicide & Crisis Lifeline, US, any hour), or call 911 in an emergency. "
    "You can keep browsing therapists below."
)


def nobody_licensed(state: str) -> str:
    """Said as soon as a client picks a state the directory has nobody licensed in."""
    return (
        f"No therapist in this directory is licensed in {state} yet. Therapists may only see "
        "clients in a state where they are licensed, so no other answer would find one here: "
        f"ask your clinic or your insurer for therapists licensed in {state}."
    )


HELP_IS_THERE = (
    "If things ever feel like too much, you can call or text 988 (Suicide & Crisis Lifeline, "
    "US) at any hour, to talk it through with someone."
)
RATING_SCALE = {1: "not at all", 2: "a little", 3: "somewhat", 4: "mostly", 5: "completely"}
WHO_NEEDS_HELP = {  # the intake's question "who is this for", by age group
    "children": "A child",
    "adolescents": "A teenager",
    "adults": "An adult (me)",
    "older_adults": "An older adult",
}
NOT_MEASURED = "not measured yet"


def count(n: int, noun: str) -> str:
    """'1 check-in', '38 check-ins'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def and_list(words: Iterable[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or with 'or')."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def or_list(words: Iterable[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return and_list(words, "or")


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def lean(axis: str, value: float) -> str:
    """A style axis leaning one way, in words ('a therapist who leads')."""
    style = next(a for a in V.STYLE_AXES if a.key == axis)
    return style.high if value > 0 else style.low


def confirmed(days_since: int | None) -> str:
    if days_since is None:
        return "their availability has never been confirmed"
    if days_since <= 1:
        return "availability confirmed in the last day"
    return f"availability confirmed {days_since} days ago"


def reachability(offers: int, median_days: float | None, settled: int, followed: int) -> str:
    """'a median of 3 days from request to an offered slot (8 clients); 6 of 7 became a first
    session', or 'not measured yet' without history (never a guess)."""
    if not offers or median_days is None:
        return NOT_MEASURED
    days = "the same day" if median_days < 0.5 else f"{median_days:g} days"
    text = f"a median of {days} from request to an offered slot ({count(offers, 'client')})"
    if settled:
        text += f"; {followed} of {settled} went on to a first session"
    return text


def fee(amount: float | None, sliding_scale: bool = False) -> str:
    """'$120 per session; offers a sliding scale', or 'not listed'."""
    text = "not listed" if amount is None else f"${amount:,.0f} per session"
    return text + ("; offers a sliding scale" if sliding_scale else "")


def points(contribution: float) -> str:
    """A contribution (score units, 0..1) as signed points out of 100: '+12', '−3', '0'."""
    value = round(contribution * 100)
    if value == 0:
        return "0"
    return f"+{value}" if value > 0 else f"−{abs(value)}"


def ratings_apart(first: float, second: float) -> tuple[str, str]:
    """Two ratings (1-5) to one decimal, or to two when one decimal would show them equal: a
    rating 'below the directory average' never reads as the same number."""
    places = 1 if f"{first:.1f}" != f"{second:.1f}" else 2
    return f"{first:.{places}f}", f"{second:.{places}f}"


def day(when: date) -> str:
    """A date as US readers write it: 'Nov 25, 2026' (files keep ISO dates)."""
    return f"{when:%b} {when.day}, {when.year}"


KM_PER_MILE = 1.609344


def miles(km: float) -> str:
    """A distance in the product's unit: 'about 12 miles' (computed in km, said in miles)."""
    value = km / KM_PER_MILE
    return (
        "less than a mile"
        if value < 1
        else f"about {value:,.0f} mile{'' if round(value) == 1 else 's'}"
    )
