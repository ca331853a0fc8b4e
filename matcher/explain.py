"""Numbers into words: every sentence the product says about a match is written here.

Scoring produces contributions and evidence; this module turns them into two to four plain
reasons in the articles' terms (each with its evidence and how much of it there is), the largest
shortfall ("why not higher"), and what to ask yourself after the first sessions.

Honesty rule (DESIGN.md §1): a profile cannot prove empathy. Rapport is only ever credited from
past clients' check-ins, quoted with their count; a therapist without check-ins is never called
empathic or warm, and the text says what to watch for in a first session instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from matcher import vocabulary as V
from matcher.checkins import Rupture
from matcher.preferences import Preferences
from matcher.scoring import Evidence, ItemEvidence, Match, Ranking, Relaxation
from matcher.triage import Unassigned

MIN_REASONS, MAX_REASONS = 2, 4
FEW_CHECKINS = 5  # below this, measured rapport is a first hint, and said to be
REASON_FLOOR = 0.5  # a group explains a match only when its similarity is at least this
NOTABLE = 0.1  # a rating this far from the directory average is worth saying (1-5 scale)


@dataclass(frozen=True)
class Explanation:
    reasons: tuple[str, ...]
    shortfall: str | None
    first_session: tuple[str, ...]


def explain(match: Match, preferences: Preferences) -> Explanation:
    """Two to four reasons, the largest shortfall, and what to check in the first sessions."""
    e, p = match.evidence, preferences
    writers = {
        "rapport": _rapport_reason,
        "concerns": _concerns_reason,
        "approach": _approach_reason,
        "style": _style_reason,
        "identity": _identity_reason,
        "availability": _availability_reason,
    }
    ordered = sorted(match.active, key=lambda g: -match.contributions[g])
    reasons: list[str] = []
    for group in ordered:
        if match.similarity[group] >= REASON_FLOOR:
            reasons.extend(writers[group](e, p))
    if len(reasons) < MIN_REASONS:  # a weak match still says plainly what it has
        reasons.extend(_plain_facts(e))
    return Explanation(
        reasons=tuple(_unique(reasons))[:MAX_REASONS],
        shortfall=_shortfall(match, p),
        first_session=_first_session(e, p),
    )


# ---------------------------------------------------------------------------------------------
# Reasons by group


def _rapport_reason(e: Evidence, p: Preferences) -> list[str]:
    if e.checkins_n == 0:
        return []  # nothing measured, nothing credited
    strong = [i for i in e.rapport if i.mean is not None and i.mean >= i.directory_mean + NOTABLE][
        :2
    ]
    if not strong:
        return []
    ratings = " and ".join(f"{V.ITEM_BY_KEY[i.item].feeling} {i.mean:.1f}/5" for i in strong)
    brings = _and(_unique(V.ITEM_BY_KEY[i.item].brings for i in strong))
    average = sum(i.directory_mean for i in strong) / len(strong)
    hedge = " — only a first hint, so weigh it lightly" if e.checkins_n < FEW_CHECKINS else ""
    return [
        f"Past clients rated {ratings} over {_count(e.checkins_n, 'check-in')} "
        f"(directory average {average:.1f}): a sign of {brings}{hedge}."
    ]


def _concerns_reason(e: Evidence, p: Preferences) -> list[str]:
    if not e.concerns_met:
        return []
    met = _and(V.CONCERNS[c] for c in e.concerns_met)
    if not e.concerns_missed:
        whole = "the concern you named" if len(p.concerns) == 1 else "every concern you named"
        return [f"Works with {met}: {whole}."]
    return [f"Works with {met}, {len(e.concerns_met)} of the {len(p.concerns)} concerns you named."]


def _approach_reason(e: Evidence, p: Preferences) -> list[str]:
    if e.approaches_preferred:
        return [f"Offers {_and(V.APPROACHES[a] for a in e.approaches_preferred)}, as you asked."]
    offered = [(c, a) for c, a in e.approaches_recommended if a]
    if not offered:
        return []
    concern, approaches = offered[0]
    source = V.EVIDENCE[concern].source
    return [
        f"Offers {_and(V.APPROACHES[a] for a in approaches)}, commonly recommended for "
        f"{V.CONCERNS[concern]} ({source})."
    ]


def _style_reason(e: Evidence, p: Preferences) -> list[str]:
    close = [_lean_words(axis, lean) for axis, lean, theirs in e.style if abs(theirs - lean) <= 1.5]
    if not close:
        return []
    return [f"Their way of working fits what you asked for: {_and(close)}."]


def _identity_reason(e: Evidence, p: Preferences) -> list[str]:
    parts = []
    if e.works_with_parents:
        parts.append(
            "Builds a working relationship with parents as well as with young clients, "
            "which a child's therapy needs"
        )
    if e.gender_wish_met and p.therapist_gender is not None:
        parts.append(f"Is {V.GENDERS[p.therapist_gender.value]}, as you hoped")
    if e.identities_met:
        parts.append(
            f"Shares the identity you hoped for: {_and(V.IDENTITY_WORDS[x] for x in e.identities_met)}"
        )
    if e.populations_served:
        parts.append(f"Experienced with {_and(V.PEOPLE[x] for x in e.populations_served)}")
    return [part + "." for part in parts[:2]]


def _availability_reason(e: Evidence, p: Preferences) -> list[str]:
    if e.next_opening is None or e.days_to_opening is None:
        return []
    when = "now" if e.days_to_opening == 0 else f"in {_count(e.days_to_opening, 'day')}"
    if e.stale:
        return [f"Listed an opening {when}, but {_confirmed(e)}: call to check."]
    return [f"Can start {when} ({e.next_opening.isoformat()}); {_confirmed(e)}."]


def _plain_facts(e: Evidence) -> list[str]:
    facts = [f"Has {_count(int(e.years_experience), 'year')} in practice as {e.credentials}."]
    if e.checkins_n == 0:
        facts.append(
            "Has no client check-ins yet, so nothing here shows how people feel with them."
        )
    return facts


# ---------------------------------------------------------------------------------------------
# Why not higher


def _shortfall(match: Match, p: Preferences) -> str | None:
    """The group that cost the most score, in words; None when nothing was lost."""
    gaps = {g: match.weights[g] * (1 - match.similarity[g]) for g in match.active}
    for group in sorted(gaps, key=lambda g: -gaps[g]):
        if gaps[group] < 0.005:
            return None
        text = _gap_words(group, match.evidence, p)
        if text:
            return f"Why not higher: {text}"
    return None


def _gap_words(group: str, e: Evidence, p: Preferences) -> str | None:
    if group == "rapport":
        if e.checkins_n == 0:
            return "no client check-ins yet, so their rapport counts only as the directory average."
        weak = [i for i in e.rapport if i.mean is not None and i.mean <= i.directory_mean - NOTABLE]
        if weak:
            i = weak[0]
            return (
                f"past clients rated {V.ITEM_BY_KEY[i.item].feeling} {i.mean:.1f}/5 over "
                f"{_count(i.n, 'check-in')}, below the directory average of "
                f"{i.directory_mean:.1f}."
            )
        if e.checkins_n < V.SHRINKAGE_K:
            return (
                f"only {_count(e.checkins_n, 'check-in')} so far, so their ratings "
                "still count partly as the directory average."
            )
        return None
    if group == "concerns" and e.concerns_missed:
        return f"does not list {_and(V.CONCERNS[c] for c in e.concerns_missed)}."
    if group == "approach":
        if e.approaches_avoided:
            return f"lists {_and(V.APPROACHES[a] for a in e.approaches_avoided)}, which you would rather avoid."
        if e.approaches_missing:
            return f"does not offer {_and(V.APPROACHES[a] for a in e.approaches_missing)}."
        missing = [c for c, offered in e.approaches_recommended if not offered]
        if missing:
            return (
                "offers none of the approaches commonly recommended for "
                f"{_and(V.CONCERNS[c] for c in missing)}."
            )
        return None
    if group == "style":
        far = [(axis, lean, theirs) for axis, lean, theirs in e.style if abs(theirs - lean) > 1.5]
        if far:
            axis, lean, theirs = max(far, key=lambda x: abs(x[2] - x[1]))
            return f"you asked for {_lean_words(axis, lean)}; they lean toward {_lean_words(axis, theirs)}."
        return None
    if group == "identity":
        if e.works_with_parents is False:
            return "does not list working with parents, which a young client's therapy needs."
        if e.gender_wish_met is False and p.therapist_gender is not None:
            return f"is not {V.GENDERS[p.therapist_gender.value]}, as you hoped."
        if e.identities_missed:
            return f"does not share the identity you hoped for ({_and(V.IDENTITY_WORDS[x] for x in e.identities_missed)})."
        if e.populations_missed:
            return (
                f"does not list experience with {_and(V.PEOPLE[x] for x in e.populations_missed)}."
            )
        return None
    if group == "availability":
        if e.stale:
            return f"{_confirmed(e)}, so their opening may have gone."
        if e.days_to_opening is None:
            return "no next opening is listed."
        if e.days_to_opening > 0:
            return f"their next opening is {_count(e.days_to_opening, 'day')} away."
        return None
    return None


# ---------------------------------------------------------------------------------------------
# After the first sessions


def _first_session(e: Evidence, p: Preferences) -> tuple[str, ...]:
    items = p.priorities.ranked()[:3] or ["safe", "heard", "understood"]
    lines = [V.ITEM_BY_KEY[item].self_check for item in items]
    if e.checkins_n == 0:
        lines.append(
            "No past client has rated this therapist yet: your own answers to these questions "
            "are the best evidence there is."
        )
    if "clear_plan" in items:
        lines.append("Within the first few sessions, expect to agree on a plan with goals.")
    if e.works_with_parents is not None:
        lines.append("As a parent, notice whether they build a working relationship with you too.")
    return tuple(lines)


# ---------------------------------------------------------------------------------------------
# Practical facts


def facts(e: Evidence, p: Preferences) -> tuple[tuple[str, str], ...]:
    """(label, text) pairs a client checks before calling: fee, insurance, sessions, openings."""
    fee = "not listed" if e.fee is None else f"${e.fee:,.0f} per session"
    if e.sliding_scale:
        fee += "; offers a sliding scale"
    rows = [("Fee", fee)]
    if e.in_network is not None and p.payment.insurance:
        side = "in network" if e.in_network else "not in network"
        rows.append(("Insurance", f"{side} with {p.payment.insurance}"))
    sessions = " or ".join(V.THERAPIST_FORMATS[f] for f in e.formats)
    if e.distance_km is not None and "in_person" in e.formats:
        sessions += f"; about {e.distance_km:,.0f} km from you"
    rows.append(("Sessions", sessions))
    rows.append(("Languages", ", ".join(e.languages)))
    if e.next_opening is None or e.days_to_opening is None:
        opening = "not listed"
    elif e.days_to_opening == 0:
        opening = "now"
    else:
        opening = f"{e.next_opening.isoformat()} (in {_count(e.days_to_opening, 'day')})"
    rows.append(("Next opening", f"{opening}; {_confirmed(e)}"))
    rows.append(
        (
            "Past clients' check-ins",
            "none yet" if e.checkins_n == 0 else f"{e.checkins_n:,}",
        )
    )
    rows.append(("Experience", f"{_count(int(e.years_experience), 'year')} ({e.credentials})"))
    return tuple(rows)


def stale_warning(e: Evidence) -> str | None:
    """Said in words (never by colour alone) when an opening may no longer be there."""
    if not e.stale:
        return None
    return f"Availability may be out of date: {_confirmed(e)}. Call to check before you rely on it."


# ---------------------------------------------------------------------------------------------
# Exclusions, relaxations and unknown words


def describe_exclusion(constraint: str, count: int, p: Preferences) -> str:
    """'1,854 are not licensed in North Carolina.'"""
    verb = "is" if count == 1 else "are"
    do = "does" if count == 1 else "do"
    match constraint:
        case "licence":
            what = f"{verb} not licensed in {V.STATES[p.state]}"
        case "format":
            what = f"{do} not offer {V.CLIENT_FORMATS[p.format]} sessions"
        case "distance":
            km = p.location.max_km if p.location else 0
            what = f"{verb} farther than {km:g} km for in-person sessions"
        case "capacity":
            what = f"{verb} not taking new clients right now"
        case "age_group":
            what = f"{do} not work with {V.AGE_GROUPS.get(p.age_group or '', 'your age group')}"
        case "language":
            what = f"{do} not offer sessions in {p.language}"
        case "payment":
            what = f"{verb} outside your insurance or fee limit"
        case "gender":
            what = f"{verb} not {V.GENDERS[p.therapist_gender.value]}" if p.therapist_gender else ""
        case "identities":
            what = f"{do} not share the identity you require"
        case _:
            what = f"{verb} excluded ({constraint})"
    return f"{count:,} {what}."


def describe_relaxation(relaxation: Relaxation, p: Preferences) -> str:
    """'Allowing online sessions too would add 48 therapists.'"""
    eased = relaxation.preferences
    match relaxation.constraint:
        case "format":
            other = "online" if p.format == "in_person" else "in-person"
            change = f"Allowing {other} sessions too"
        case "distance":
            km = eased.location.max_km if eased.location else 0
            change = f"Travelling up to {km:g} km"
        case "payment":
            change = "Looking beyond your insurance and fee limit"
        case "gender":
            change = "Making the therapist's gender a wish rather than a must"
        case "identities":
            change = "Making the therapist's identity a wish rather than a must"
        case _:
            change = f"Easing {relaxation.constraint}"
    return f"{change} would add {_count(relaxation.adds, 'therapist')}."


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
            f"rated {_and(V.ITEM_BY_KEY[i].feeling for i in rupture.low)} low, though it matters "
            "to them"
        )
    if rupture.dropped:
        parts.append(
            f"{_and(V.ITEM_BY_KEY[i].feeling for i in rupture.dropped)} fell sharply since the "
            "last check-in"
        )
    return "; ".join(parts) + "."


def describe_unassigned(reason: Unassigned, p: Preferences) -> str:
    """Why a referral has no therapist, in one line a coordinator can act on."""
    if reason.kind == "crisis":
        return "risk flag: follow the crisis protocol (988, or 911 in an emergency) before matching"
    if reason.kind == "full":
        return f"capacity: the {_count(reason.count, 'therapist')} who fit are full"
    if reason.kind == "taken":
        return (
            f"capacity: the {_count(reason.count, 'therapist')} who fit were given to more "
            "urgent or better-matched referrals in this batch"
        )
    needs = [_needs(c, p) for c in reason.missing if c != "licence"]
    state = V.STATES[p.state]
    if not needs:
        return f"no therapist in this directory is licensed in {state}"
    return f"no therapist licensed in {state} {_and(needs)}"


def _needs(constraint: str, p: Preferences) -> str:
    match constraint:
        case "format":
            return f"offers {V.CLIENT_FORMATS[p.format]} sessions"
        case "distance":
            return f"is within {p.location.max_km:g} km" if p.location else "is near enough"
        case "capacity":
            return "has an open slot"
        case "age_group":
            return f"works with {V.AGE_GROUPS.get(p.age_group or '', 'this age group')}"
        case "language":
            return f"speaks {p.language}"
        case "payment":
            return "fits the insurance or fee limit"
        case "gender":
            return f"is {V.GENDERS[p.therapist_gender.value]}" if p.therapist_gender else ""
        case _:
            return "shares the required identity"


def describe_unknown(term: str, value: str, known: Iterable[str]) -> str:
    """'No therapist in this directory lists the language "Englsh"; did you mean "English"?'"""
    guess = V.nearest(value, known)
    hint = f'; did you mean "{guess}"?' if guess else "."
    return f'No therapist in this directory lists the {term} "{value}"{hint}'


def summary(ranking: Ranking, p: Preferences) -> tuple[str, ...]:
    """Lines on what was excluded and what would help, for a results header."""
    lines = [
        f"{ranking.eligible:,} of {ranking.total:,} therapists can serve you."
        if ranking.eligible
        else f"None of the {ranking.total:,} therapists can serve you with every constraint."
    ]
    lines.extend(describe_exclusion(c, n, p) for c, n in ranking.excluded.items())
    if ranking.relaxations:
        lines.append(describe_relaxation(ranking.relaxations[0], p))
    return tuple(lines)


# ---------------------------------------------------------------------------------------------
# Small words


def _lean_words(axis: str, lean: float) -> str:
    style = next(a for a in V.STYLE_AXES if a.key == axis)
    return style.high if lean > 0 else style.low


def _confirmed(e: Evidence) -> str:
    if e.days_since_confirmed is None:
        return "their availability has never been confirmed"
    if e.days_since_confirmed <= 1:
        return "availability confirmed in the last day"
    return f"availability confirmed {e.days_since_confirmed} days ago"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _and(words: Iterable[str]) -> str:
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = [
    "Explanation",
    "ItemEvidence",
    "describe_exclusion",
    "describe_relaxation",
    "describe_unassigned",
    "describe_unknown",
    "explain",
    "facts",
    "stale_warning",
    "summary",
]
