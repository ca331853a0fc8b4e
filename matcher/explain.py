"""Numbers into words: the explanation layer.

Each constraint and group record carries its own sentences (``constraints.py``, ``groups.py``);
this module picks and orders them for a match, a ranking, a triage outcome or a rupture:
two to four reasons in the articles' terms (each with its evidence and how much of it there
is), the largest shortfall ("why not higher"), and what to ask yourself after the first
sessions. Pages, reports and the CLI only format and render what comes from here.

Honesty rule (DESIGN.md §1): a profile cannot prove empathy. Rapport is only ever credited from
past clients' check-ins, quoted with their count; a therapist without check-ins is never called
empathic or warm, their rapport is "not measured yet" (and adds nothing to the score), and the
text says what to watch for in a first session instead. A group the client gave no weight is
never cited, and no reason is given for a group that pulled the score below the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matcher import constraints as C
from matcher import groups as G
from matcher import vocabulary as V
from matcher import words as W
from matcher.checkins import Rupture
from matcher.directory import Directory
from matcher.preferences import Preferences
from matcher.scoring import TIE_DECIMALS, Match, Ranking, Relaxation
from matcher.triage import Unassigned

MIN_REASONS, MAX_REASONS = 2, 4
NOTHING_LOST = 0.005  # a group that fell this little short of its best is not a shortfall


@dataclass(frozen=True)
class Explanation:
    reasons: tuple[str, ...]
    shortfall: str | None
    first_session: tuple[str, ...]


def explain(match: Match, preferences: Preferences) -> Explanation:
    """Two to four reasons, the largest shortfall, and what to check in the first sessions."""
    p = preferences
    # Rounded as ties are (scoring.TIE_DECIMALS): a group on which every eligible therapist is
    # alike contributes 0, give or take rounding, and is cited (or not) for what it is.
    helped = {g: round(match.contributions[g], TIE_DECIMALS) for g in match.active}
    cited = [g for g in match.active if match.weights[g] > 0 and helped[g] >= 0]
    reasons: list[str] = []
    for name in sorted(cited, key=lambda g: -helped[g]):
        reasons.extend(G.BY_NAME[name].reasons(match.facts[name], p))
    if len(reasons) < MIN_REASONS:  # a weak match still says plainly what it has
        reasons.extend(_plain_facts(match))
    return Explanation(
        reasons=tuple(W.unique(reasons))[:MAX_REASONS],
        shortfall=_shortfall(match, p),
        first_session=_first_session(match, p),
    )


def _plain_facts(match: Match) -> list[str]:
    x = match.practical
    facts = [f"Has {W.count(int(x.years_experience), 'year')} in practice as {x.credentials}."]
    if not match.measured:
        facts.append(
            "Has no client check-ins yet, so nothing here shows how people feel with them."
        )
    sessions = " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats)
    facts.append(f"Offers sessions {sessions}, in {W.and_list(x.languages)}.")
    return facts


def _shortfall(match: Match, p: Preferences) -> str | None:
    """The weighted group furthest below its best, in words; None when nothing was lost.

    A prioritised rapport item measured clearly low comes first, whatever the arithmetic.
    """
    rapport = match.rapport
    if match.weights["rapport"] > 0 and any(
        i.clearly_low and i.priority == V.PRIORITY_MAX for i in rapport.items
    ):
        text = G.BY_NAME["rapport"].shortfall(rapport, p)
        return f"Why not higher: {text}"
    gaps = {  # rounded as ties are, so rounding noise never orders two equal gaps
        g: round(match.weights[g] / 2 - match.contributions[g], TIE_DECIMALS)
        for g in match.active
        if match.weights[g] > 0
    }
    for name in sorted(gaps, key=lambda g: -gaps[g]):
        if gaps[name] < NOTHING_LOST:
            return None
        text = G.BY_NAME[name].shortfall(match.facts[name], p)
        if text:
            return f"Why not higher: {text}"
    return None


def _first_session(match: Match, p: Preferences) -> tuple[str, ...]:
    items = p.priorities.ranked()[:3] or ["safe", "heard", "understood"]
    lines = [V.ITEM_BY_KEY[item].self_check for item in items]
    if not match.measured:
        lines.append(
            "No past client has rated this therapist yet: your own answers to these questions "
            "are the best evidence there is."
        )
    if "clear_plan" in items:
        lines.append("Within the first few sessions, expect to agree on a plan with goals.")
    identity: G.IdentityFacts = match.facts["identity"]
    if identity.works_with_parents is not None:
        lines.append("As a parent, notice whether they build a working relationship with you too.")
    return tuple(lines)


# ---------------------------------------------------------------------------------------------
# Contributions and measured rapport, as a card, chart or table shows them


def contribution_label(match: Match, group: str) -> str:
    """'+12 points', '−3 points', or 'not measured yet' for unrated rapport (never points)."""
    if group == "rapport" and not match.measured:
        return W.NOT_MEASURED
    if group not in match.active:
        return "—"
    value = W.points(match.contributions[group])
    return f"{value} {'point' if value in ('+1', '−1') else 'points'}"


def rapport_summary(match: Match) -> str:
    """'4.6/5 on feeling heard from 4 check-ins — early' or 'not measured yet'."""
    r = match.rapport
    if not r.measured:
        return f"{W.NOT_MEASURED} (no check-ins)"
    top = next((i for i in r.items if i.mean is not None), None)
    if top is None:
        return W.count(r.checkins_n, "check-in")
    early = " — early" if r.early else ""
    return (
        f"{top.mean:.1f}/5 on {V.ITEM_BY_KEY[top.item].feeling} from "
        f"{W.count(r.checkins_n, 'check-in')}{early}"
    )


# ---------------------------------------------------------------------------------------------
# Practical facts


def facts(match: Match, p: Preferences) -> tuple[tuple[str, str], ...]:
    """(label, text) pairs a client checks before calling: fee, insurance, sessions, openings."""
    x, a = match.practical, match.availability
    rows = [("Licensed", licensed_for(match, p))]
    rows.append(("Fee", W.fee(x.fee, x.sliding_scale)))
    if x.in_network is not None and p.payment.insurance:
        side = "in network" if x.in_network else "not in network"
        rows.append(("Insurance", f"{side} with {p.payment.insurance}"))
    rows.append(("Sessions", " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats)))
    rows.append(("Languages", ", ".join(x.languages)))
    if a.next_opening is None or a.days_to_opening is None:
        opening = "not listed"
    elif a.days_to_opening == 0:
        opening = "now"
    else:
        opening = f"{W.day(a.next_opening)} (in {W.count(a.days_to_opening, 'day')})"
    rows.append(("Next opening", f"{opening}; {W.confirmed(a.days_since_confirmed)}"))
    reach = W.reachability(a.offers, a.median_days_to_offer, a.settled, a.followed)
    rows.append(("Earlier clients' requests", reach))
    rows.append(("Past clients' check-ins", rapport_summary(match)))
    rows.append(("Experience", f"{W.count(int(x.years_experience), 'year')} ({x.credentials})"))
    return tuple(rows)


def licensed_for(match: Match, p: Preferences) -> str:
    """'in North Carolina, where you live; online or in person (about 3 miles from you)'."""
    x = match.practical
    state = V.STATES[p.state]
    if "in_person" in x.formats and x.city:
        where = f"practices in {x.city}"
        if x.distance_km is not None:
            where += f", {W.miles(x.distance_km)} from you"
            if p.location is not None and x.distance_km > p.location.max_km:
                # matched for online sessions ("182 miles" beside a 25-mile limit read as a slip)
                where += ", farther than you would travel, so online"
    else:
        where = "online sessions only"
    return f"in {state}, where you live; {where}"


def profile_facts(d: Directory, match: Match) -> tuple[tuple[str, str], ...]:
    """(label, text) pairs of everything the directory lists about a therapist, in words."""
    row = match.row

    def listed(column: str, words: Mapping[str, str] | None = None) -> str:
        tags = d.tags[column].tags_of(row)
        shown = [words.get(t, t) if words else t for t in tags]
        return ", ".join(shown) if shown else "none listed"

    states = ", ".join(V.STATES.get(s, s) for s in d.tags["states"].tags_of(row))
    return (
        ("Every state they are licensed in", states),
        ("Works with", listed("concerns", V.CONCERNS)),
        ("Approaches", listed("modalities", V.APPROACHES)),
        ("Ages", listed("ages_served", V.AGE_GROUPS)),
        ("Experienced with", listed("populations", V.PEOPLE)),
        ("Insurance plans they take", listed("insurance")),
    )


def stale_warning(match: Match) -> str | None:
    """Said in words (never by color alone) when an opening may no longer be there."""
    a = match.availability
    if not a.stale:
        return None
    return (
        f"Availability may be out of date: {W.confirmed(a.days_since_confirmed)}. "
        "Call to check before you rely on it."
    )


# ---------------------------------------------------------------------------------------------
# Exclusions, relaxations and unknown words


def describe_exclusion(constraint: str, count: int, p: Preferences) -> str:
    """'1,854 are not licensed in North Carolina.'"""
    return f"{count:,} {C.BY_NAME[constraint].excluded(p, count != 1)}."


def describe_relaxation(relaxation: Relaxation, p: Preferences) -> str:
    """'Allowing online sessions too would add 48 therapists.'"""
    change = C.BY_NAME[relaxation.constraint].easing(p, relaxation.preferences)
    return f"{change} would add {W.count(relaxation.adds, 'therapist')}."


# When nobody fits and no single easing helps: a hint for the must that ruled out the last
# therapists left (the funnel's last rule to exclude anyone), when it has no easing to offer.
# Only that one: a hint about an earlier must could not help (several easings at once are not
# tried, so none is promised).
_NO_EASING_HINTS = {
    "language": "If you also speak another language, choose it under Language for sessions.",
    "age_group": "Ages served are set by each therapist; ask your clinic who sees {age} here.",
    "capacity": "Everyone else who would fit is full right now; openings change as therapists "
    "confirm them, so look again in a few days.",
}


def no_match_advice(ranking: Ranking, p: Preferences) -> tuple[str, ...]:
    """What to try when no therapist meets every must, in the terms of what excluded them."""
    if ranking.relaxations:
        return ("No therapist meets every must yet. Try one of the changes just above.",)
    if ranking.excluded.get("license", 0) >= ranking.total:
        return (W.nobody_licensed(V.STATES[p.state]),)
    age = V.AGE_GROUPS.get(p.age_group or "", "your age group")
    last = [name for name in C.NAMES if ranking.excluded.get(name)][-1:]
    hints = [_NO_EASING_HINTS[name].format(age=age) for name in last if name in _NO_EASING_HINTS]
    return (
        "No therapist meets every must yet, and no single change would bring one in.",
        *(
            hints
            or ["Try changing your answers: fewer musts, a wider distance, or online sessions."]
        ),
    )


def describe_main_concern(ranking: Ranking, p: Preferences) -> str | None:
    """Said above the first card when no match shown works with the first-named concern."""
    missing = ranking.main_concern
    if missing is None:
        return None
    concern = V.CONCERNS[missing.concern]
    lines = [f"None of these matches lists {concern}, the first concern you named."]
    if missing.eligible_with:
        lines.append(
            f"{W.count(missing.eligible_with, 'therapist')} who "
            f"{'meets' if missing.eligible_with == 1 else 'meet'} your musts "
            f"{'does' if missing.eligible_with == 1 else 'do'} list it: giving "
            f"“{V.GROUP_LABELS['concerns']}” more weight would bring them up."
        )
    if missing.relaxation is not None:
        r = missing.relaxation
        change = C.BY_NAME[r.constraint].easing(p, r.preferences)
        lines.append(
            f"{change} would add {W.count(r.adds_main_concern, 'therapist')} who "
            f"{'lists' if r.adds_main_concern == 1 else 'list'} it."
        )
    elif not missing.eligible_with:
        lines.append("No single change to your answers would bring one in from this directory.")
    return " ".join(lines)


CRISIS_STEPS = (
    "Call the client back now and ask directly about their safety.",
    "If there is immediate danger, call 911; otherwise connect them with 988 "
    "(Suicide & Crisis Lifeline: call or text, any hour) and stay with them until connected.",
    "Record what was done, and match only once a clinician has reviewed the risk.",
)


REPAIR_STEP = (
    "Suggested next step: a repair conversation. The therapist asks the client for feedback on "
    "what is not working and adjusts; feedback asked for and acted on is how strained "
    "relationships mend."
)
REMATCH_STEP = (
    "{n} ruptures so far: consider a rematch. The alternates below exclude the current "
    "therapist and have a free slot."
)


def describe_rupture(rupture: Rupture) -> str:
    """'rated feeling heard low (a prioritised item); feeling safe fell sharply since last time'."""
    parts = []
    if rupture.low:
        parts.append(
            f"rated {W.and_list(V.ITEM_BY_KEY[i].feeling for i in rupture.low)} low, though it matters "
            "to them"
        )
    if rupture.dropped:
        parts.append(
            f"{W.and_list(V.ITEM_BY_KEY[i].feeling for i in rupture.dropped)} fell sharply since the "
            "last check-in"
        )
    return "; ".join(parts) + "."


def describe_unassigned(reason: Unassigned, p: Preferences) -> str:
    """Why a referral has no therapist, in one line a coordinator can act on."""
    if reason.kind == "crisis":
        return W.CRISIS_SHORT
    if reason.kind == "full":
        return f"capacity: the {W.count(reason.count, 'therapist')} who fit are full"
    if reason.kind == "taken":
        return (
            f"capacity: the {W.count(reason.count, 'therapist')} who fit were given to more "
            "urgent or better-matched referrals in this batch"
        )
    needs = [C.BY_NAME[c].needs(p) for c in reason.missing if c != "license"]
    state = V.STATES[p.state]
    if not needs:
        return f"no therapist in this directory is licensed in {state}"
    return f"no therapist licensed in {state} {W.and_list(needs)}"


def describe_unknown(term: str, value: str, known: Iterable[str]) -> str:
    """'No therapist in this directory lists the language "Englsh"; did you mean "English"?'"""
    guess = V.nearest(value, known)
    hint = f'; did you mean "{guess}"?' if guess else "."
    return f'No therapist in this directory lists the {term} "{value}"{hint}'


def headline(ranking: Ranking) -> str:
    """One line above the matches: '62 therapists meet every must in your answers; 3 changes
    would add more.' ("can see you" read as who could look at the client's answers.)"""
    eased = len(ranking.relaxations)
    more = f"; {W.count(eased, 'change')} would add more" if eased else ""
    if not ranking.eligible:
        return f"No therapist in this directory meets every must{more}."
    verb = "meets" if ranking.eligible == 1 else "meet"
    return f"{W.count(ranking.eligible, 'therapist')} {verb} every must in your answers{more}."


def summary(ranking: Ranking, p: Preferences, easing: bool = True) -> tuple[str, ...]:
    """Lines on what was excluded and, with ``easing``, the change that would help most."""
    lines = [
        f"{ranking.eligible:,} of {ranking.total:,} therapists can serve you."
        if ranking.eligible
        else f"None of the {ranking.total:,} therapists meets every must in your answers."
    ]
    lines.extend(describe_exclusion(c, n, p) for c, n in ranking.excluded.items())
    if easing and ranking.relaxations:
        lines.append(describe_relaxation(ranking.relaxations[0], p))
    return tuple(lines)


__all__ = [
    "Explanation",
    "contribution_label",
    "describe_exclusion",
    "describe_main_concern",
    "describe_relaxation",
    "describe_unassigned",
    "describe_unknown",
    "explain",
    "facts",
    "headline",
    "licensed_for",
    "no_match_advice",
    "profile_facts",
    "rapport_summary",
    "stale_warning",
    "summary",
]
