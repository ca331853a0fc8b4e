"""The scoring groups: each one record, in one ordered registry (the order of ``V.GROUPS``).

A :class:`Group` knows four things about one part of a match:

- ``similarity``: a number per eligible therapist (vectorised), or None when the client gave
  nothing to compare (the group then drops out for this client);
- ``facts``: what lies behind that number for one therapist (the evidence a card shows);
- ``agreeing``: the same number recomputed from those facts alone, so a test can check that
  the evidence shown is the evidence that scored (they are written side by side for that);
- ``reasons`` and ``shortfall``: the facts in words, for a reason to choose this therapist and
  for "why not higher".

Scoring (``scoring.py``) puts every group's similarity on a common scale and turns it into a
signed contribution relative to a baseline. Rapport is already on that scale: it is measured in
between-therapist standard deviations of true rapport relative to the directory's mean, and is
exactly 0 for a therapist nobody has rated yet (``centred = False``). The other groups are
standardised over the client's eligible therapists.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from matcher import reachability as R
from matcher import vocabulary as V
from matcher import words as W
from matcher.directory import NO_DAY, Columns, Directory, Float, Index
from matcher.preferences import Preferences

EPOCH = date(1970, 1, 1)
FRESH_DAYS, FORGOTTEN_DAYS = 7, 90  # confirmation fully trusted .. no longer trusted at all
STYLE_CLOSE = 1.5  # a therapist this close to the client's lean (of 6) fits it
NOTABLE = 0.1  # a raw mean this far above the directory's is worth quoting (1-5 scale)
FEW_CHECKINS = 5  # below this, measured rapport is "early" whatever the estimate's reliability

F = TypeVar("F")


class Group(ABC, Generic[F]):
    """One scoring group. Subclasses are stateless; the registry holds one of each."""

    name: ClassVar[str]
    centred: ClassVar[bool] = True  # standardise over the eligible set (rapport: no)

    @abstractmethod
    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float | None:
        """(m,) for ``rows``, or None when the client gave this group nothing to compare."""

    @abstractmethod
    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> F:
        """What lies behind one therapist's similarity."""

    @abstractmethod
    def agreeing(self, facts: F, p: Preferences) -> float:
        """The similarity recomputed from ``facts`` alone (tests hold the two together)."""

    @abstractmethod
    def reasons(self, facts: F, p: Preferences) -> list[str]:
        """Sentences in favour (empty when the facts give none)."""

    @abstractmethod
    def shortfall(self, facts: F, p: Preferences) -> str | None:
        """What held this therapist back, completing "Why not higher: …"."""


# ---------------------------------------------------------------------------------------------
# Rapport: what past clients' check-ins measured, in the client's order of priority


@dataclass(frozen=True)
class ItemRating:
    """Measured rapport on one item for one therapist."""

    item: str
    priority: int
    weight: float  # the item's share of the rapport group for this client
    estimate: float  # posterior mean, 1..5 (the directory mean without check-ins)
    sd: float  # its posterior SD
    mean: float | None  # raw mean of check-ins, None without any
    prior: float  # the directory's mean on this item
    spread: float  # between-therapist SD on this item: the unit of the rapport group

    @property
    def standing(self) -> float:
        """Posterior estimate relative to the directory, in between-therapist SDs."""
        return (self.estimate - self.prior) / self.spread

    @property
    def clearly_low(self) -> bool:
        """Below the directory mean even at one posterior SD above the estimate."""
        return self.mean is not None and self.estimate + self.sd < self.prior


@dataclass(frozen=True)
class RapportFacts:
    items: tuple[ItemRating, ...]  # every weighted item, most important first
    checkins_n: int
    reliability: float  # 0..1, how much of their own mean survives shrinkage

    @property
    def measured(self) -> bool:
        return self.checkins_n > 0

    @property
    def early(self) -> bool:
        return self.checkins_n < FEW_CHECKINS or self.reliability < 0.5


def item_weights(p: Preferences) -> Float:
    """Priorities squared, summing to 1: an essential item (3) counts nine times a nice-to-have
    (1), so it dominates; no priorities at all means every item equally."""
    return _item_weights(p.priorities.as_tuple())


@functools.lru_cache(maxsize=1024)  # asked for once per group and match: the same few tuples
def _item_weights(priorities: tuple[int, ...]) -> Float:
    squared = np.array(priorities, dtype=np.float64) ** 2
    if squared.sum() == 0:
        squared = np.ones_like(squared)
    weights: Float = squared / squared.sum()
    weights.flags.writeable = False  # shared between callers
    return weights


_ITEM_INDEX = {item: j for j, item in enumerate(V.ITEMS)}


class Rapport(Group[RapportFacts]):
    name = "rapport"
    centred = False

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float:
        weights = item_weights(p)
        total = np.zeros(rows.size)
        for item in np.flatnonzero(weights).tolist():  # no BLAS: its threads spin after a call
            total += weights[item] * d.standing[:, item][rows]
        return total

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> RapportFacts:
        n = int(d.checkins_n[row])
        priorities = p.priorities.as_tuple()
        ranked = p.priorities.ranked() or list(V.ITEMS)
        # One conversion per array, not one per value: a card reads nine items of each.
        weights, prior, spread = (item_weights(p).tolist(), d.prior.mean.tolist(),
                                  d.prior.spread.tolist())  # fmt: skip
        estimate, sd = d.rapport[row].tolist(), d.rapport_sd[row].tolist()
        mean = d.rapport_mean[row].tolist()
        items = tuple(
            ItemRating(
                item=item,
                priority=priorities[j],
                weight=weights[j],
                estimate=estimate[j],
                sd=sd[j],
                mean=None if n == 0 else mean[j],
                prior=prior[j],
                spread=spread[j],
            )
            for item in ranked
            for j in [_ITEM_INDEX[item]]
        )
        return RapportFacts(items, n, float(d.reliability[row]))

    def agreeing(self, facts: RapportFacts, p: Preferences) -> float:
        return sum(i.weight * i.standing for i in facts.items)

    def reasons(self, facts: RapportFacts, p: Preferences) -> list[str]:
        if not facts.measured:
            return []  # nothing measured, nothing credited
        strong = [
            i
            for i in facts.items
            if i.mean is not None and i.mean >= i.prior + NOTABLE and i.standing > 0
        ][:2]
        if not strong:
            return []
        ratings = W.and_list(f"{V.ITEM_BY_KEY[i.item].feeling} {i.mean:.1f}/5" for i in strong)
        brings = W.and_list(W.unique(V.ITEM_BY_KEY[i.item].brings for i in strong))
        average = sum(i.prior for i in strong) / len(strong)
        hedge = " — early, so weigh it lightly" if facts.early else ""
        return [
            f"Past clients rated {ratings} over {W.count(facts.checkins_n, 'check-in')} "
            f"(directory average {average:.1f}): a sign of {brings}{hedge}."
        ]

    def shortfall(self, facts: RapportFacts, p: Preferences) -> str | None:
        if not facts.measured:
            return (
                "no client check-ins yet, so rapport is not measured yet and adds nothing "
                "either way."
            )
        # Only an item whose quoted average is below the directory's is called below it: the
        # estimate can sit low while the raw average does not (pulled down by the therapist's
        # other items), and "4.35/5, below the average of 4.32" would contradict itself.
        # "Clearly" needs both: the estimate clearly low and the average NOTABLE-ly below.
        below = [
            i for i in facts.items if i.priority > 0 and i.mean is not None and i.mean < i.prior
        ]
        low = [i for i in below if i.clearly_low]
        weak = low or [i for i in below if i.standing <= -0.5]
        if weak:
            i = weak[0]
            assert i.mean is not None  # only measured items are ever weak
            clearly = "clearly " if i.clearly_low and i.mean <= i.prior - NOTABLE else ""
            theirs, average = W.ratings_apart(i.mean, i.prior)
            return (
                f"past clients rated {V.ITEM_BY_KEY[i.item].feeling} {theirs}/5 over "
                f"{W.count(facts.checkins_n, 'check-in')}, {clearly}below the directory "
                f"average of {average}."
            )
        if facts.early:
            return (
                f"only {W.count(facts.checkins_n, 'check-in')} so far, too early to say much "
                "about how clients feel with them."
            )
        return None


# ---------------------------------------------------------------------------------------------
# Concerns: what the therapist works with, of what the client named


@dataclass(frozen=True)
class ConcernFacts:
    met: tuple[str, ...]
    missed: tuple[str, ...]


class Concerns(Group[ConcernFacts]):
    name = "concerns"

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float | None:
        if not p.concerns:
            return None
        return np.asarray(d.tags["concerns"].count(p.concerns, rows) / len(p.concerns))

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> ConcernFacts:
        listed = set(d.tags["concerns"].tags_of(row))
        return ConcernFacts(
            tuple(c for c in p.concerns if c in listed),
            tuple(c for c in p.concerns if c not in listed),
        )

    def agreeing(self, facts: ConcernFacts, p: Preferences) -> float:
        return len(facts.met) / max(len(p.concerns), 1)

    def reasons(self, facts: ConcernFacts, p: Preferences) -> list[str]:
        if not facts.met:
            return []
        met = W.and_list(V.CONCERNS[c] for c in facts.met)
        if not facts.missed:
            whole = "the concern you named" if len(p.concerns) == 1 else "every concern you named"
            return [f"Works with {met}: {whole}."]
        return [f"Works with {met}, {len(facts.met)} of the {len(p.concerns)} concerns you named."]

    def shortfall(self, facts: ConcernFacts, p: Preferences) -> str | None:
        if facts.missed:
            return f"does not list {W.and_list(V.CONCERNS[c] for c in facts.missed)}."
        return None


# ---------------------------------------------------------------------------------------------
# Approach: what the client asked for or avoids; else what is commonly recommended


@dataclass(frozen=True)
class ApproachFacts:
    preferred: tuple[str, ...]  # preferred approaches the therapist offers
    missing: tuple[str, ...]  # preferred approaches they do not offer
    avoided: tuple[str, ...]  # avoided approaches they list
    listed: int  # how many approaches they list in all
    recommended: tuple[tuple[str, tuple[str, ...]], ...]  # (concern, offered, never avoided)


def recommended(concern: str, p: Preferences) -> tuple[str, ...]:
    """Approaches commonly recommended for ``concern``, less any the client avoids: an avoided
    approach is never counted in a therapist's favour, whatever the table says."""
    return tuple(a for a in V.RECOMMENDED[concern].approaches if a not in p.modalities.avoid)


class Approach(Group[ApproachFacts]):
    name = "approach"

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float | None:
        modalities = d.tags["modalities"]
        prefer = p.modalities.prefer
        fit: Float | None = None
        if prefer:
            fit = modalities.count(prefer, rows) / len(prefer)
        elif p.concerns:
            fit = np.mean([modalities.has_any(recommended(c, p), rows) for c in p.concerns], 0)
        if not p.modalities.avoid:
            return fit
        listed = np.maximum(modalities.count(V.APPROACHES, rows), 1)
        kept = 1.0 - modalities.count(p.modalities.avoid, rows) / listed
        return np.asarray(kept if fit is None else (fit + kept) / 2)

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> ApproachFacts:
        offered = set(d.tags["modalities"].tags_of(row))
        return ApproachFacts(
            preferred=tuple(a for a in p.modalities.prefer if a in offered),
            missing=tuple(a for a in p.modalities.prefer if a not in offered),
            avoided=tuple(a for a in p.modalities.avoid if a in offered),
            listed=len(offered),
            recommended=tuple(
                (c, tuple(a for a in recommended(c, p) if a in offered)) for c in p.concerns
            ),
        )

    def agreeing(self, facts: ApproachFacts, p: Preferences) -> float:
        fit: float | None = None
        if p.modalities.prefer:
            fit = len(facts.preferred) / len(p.modalities.prefer)
        elif facts.recommended:
            fit = sum(bool(offered) for _, offered in facts.recommended) / len(facts.recommended)
        if not p.modalities.avoid:
            return 0.0 if fit is None else fit
        kept = 1.0 - len(facts.avoided) / max(facts.listed, 1)
        return kept if fit is None else (fit + kept) / 2

    def reasons(self, facts: ApproachFacts, p: Preferences) -> list[str]:
        if facts.avoided:
            return []  # a therapist who lists what the client avoids gets no approach reason
        if facts.preferred:
            return [f"Offers {W.and_list(V.APPROACHES[a] for a in facts.preferred)}, as you asked."]
        offered = [(c, a) for c, a in facts.recommended if a]
        if not offered:
            if p.modalities.avoid and not p.modalities.prefer:
                avoided = W.and_list(V.APPROACHES[a] for a in p.modalities.avoid)
                return [f"Does not list {avoided}, which you would rather avoid."]
            return []
        # "which you named": the recommendation is for the client's concern; whether the
        # therapist works with it is the concerns group's to say (read as theirs, it misled)
        concern, approaches = offered[0]
        kind = "an approach" if len(approaches) == 1 else "approaches"
        return [
            f"Offers {W.and_list(V.APPROACHES[a] for a in approaches)}: {kind} commonly "
            f"recommended for {V.CONCERNS[concern]}, which you named."
        ]

    def shortfall(self, facts: ApproachFacts, p: Preferences) -> str | None:
        if facts.avoided:
            avoided = W.and_list(V.APPROACHES[a] for a in facts.avoided)
            return f"lists {avoided}, which you would rather avoid."
        if facts.missing:
            return f"does not offer {W.and_list(V.APPROACHES[a] for a in facts.missing)}."
        missing = [c for c, offered in facts.recommended if not offered]
        if missing:
            return (
                "offers none of the approaches commonly recommended for "
                f"{W.and_list(V.CONCERNS[c] for c in missing)}."
            )
        return None


# ---------------------------------------------------------------------------------------------
# Style: the four C-NIP axes, weighted by how strongly the client leans


@dataclass(frozen=True)
class StyleFacts:
    axes: tuple[tuple[str, int, float], ...]  # (axis, client lean, therapist) where client leans


class Style(Group[StyleFacts]):
    name = "style"

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float | None:
        lean = np.array(p.style.as_tuple(), dtype=np.float64)
        if not lean.any():
            return None
        share = np.abs(lean) / np.abs(lean).sum()
        total = np.zeros(rows.size)
        for axis in np.flatnonzero(lean).tolist():  # one contiguous column each (see StateColumns)
            gap = np.abs(d.style[:, axis][rows] - lean[axis])
            total += share[axis] * (1.0 - gap / (V.STYLE_MAX - V.STYLE_MIN))
        return total

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> StyleFacts:
        return StyleFacts(
            tuple(
                (axis, lean, float(d.style[row, i]))
                for i, (axis, lean) in enumerate(zip(V.AXES, p.style.as_tuple(), strict=True))
                if lean
            )
        )

    def agreeing(self, facts: StyleFacts, p: Preferences) -> float:
        total = sum(abs(lean) for _, lean, _ in facts.axes)
        span = V.STYLE_MAX - V.STYLE_MIN
        return sum(abs(lean) / total * (1 - abs(t - lean) / span) for _, lean, t in facts.axes)

    def reasons(self, facts: StyleFacts, p: Preferences) -> list[str]:
        close = [W.lean(a, lean) for a, lean, t in facts.axes if abs(t - lean) <= STYLE_CLOSE]
        if not close:
            return []
        return [f"Their way of working fits what you asked for: {W.and_list(close)}."]

    def shortfall(self, facts: StyleFacts, p: Preferences) -> str | None:
        far = [(a, lean, t) for a, lean, t in facts.axes if abs(t - lean) > STYLE_CLOSE]
        if not far:
            return None
        axis, lean, theirs = max(far, key=lambda x: abs(x[2] - x[1]))
        return f"you asked for {W.lean(axis, lean)}; they lean toward {W.lean(axis, theirs)}."


# ---------------------------------------------------------------------------------------------
# Identity and fit: wishes that are not musts, the client's populations, parents for the young


@dataclass(frozen=True)
class IdentityFacts:
    gender_wish_met: bool | None  # None unless the client has a gender wish that is not a must
    identities_met: tuple[str, ...]
    identities_missed: tuple[str, ...]
    populations_served: tuple[str, ...]
    populations_missed: tuple[str, ...]
    works_with_parents: bool | None  # None unless the client is a child or adolescent


def _wish(p: Preferences) -> tuple[str | None, tuple[str, ...]]:
    """The gender and identities the client hopes for without requiring them."""
    gender = p.therapist_gender
    wanted = p.therapist_identities
    return (
        gender.value if gender is not None and not gender.required else None,
        tuple(wanted.values) if wanted.values and not wanted.required else (),
    )


class Identity(Group[IdentityFacts]):
    name = "identity"

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float | None:
        gender, identities = _wish(p)
        parts: list[Float] = []
        if gender is not None:
            parts.append((d.gender[rows] == list(V.GENDERS).index(gender)).astype(np.float64))
        if identities:
            parts.append(d.tags["identities"].count(identities, rows) / len(identities))
        if p.populations:
            parts.append(d.tags["populations"].count(p.populations, rows) / len(p.populations))
        if p.young:
            parts.append(d.flags["works_with_parents"][rows].astype(np.float64))
        return np.asarray(np.mean(parts, axis=0)) if parts else None

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> IdentityFacts:
        gender, identities = _wish(p)
        theirs = set(d.tags["identities"].tags_of(row))
        served = set(d.tags["populations"].tags_of(row))
        return IdentityFacts(
            gender_wish_met=(
                None if gender is None else int(d.gender[row]) == list(V.GENDERS).index(gender)
            ),
            identities_met=tuple(v for v in identities if v in theirs),
            identities_missed=tuple(v for v in identities if v not in theirs),
            populations_served=tuple(v for v in p.populations if v in served),
            populations_missed=tuple(v for v in p.populations if v not in served),
            works_with_parents=bool(d.flags["works_with_parents"][row]) if p.young else None,
        )

    def agreeing(self, facts: IdentityFacts, p: Preferences) -> float:
        parts: list[float] = []
        if facts.gender_wish_met is not None:
            parts.append(float(facts.gender_wish_met))
        wished = len(facts.identities_met) + len(facts.identities_missed)
        if wished:
            parts.append(len(facts.identities_met) / wished)
        if p.populations:
            parts.append(len(facts.populations_served) / len(p.populations))
        if facts.works_with_parents is not None:
            parts.append(float(facts.works_with_parents))
        return sum(parts) / len(parts) if parts else 0.0

    def reasons(self, facts: IdentityFacts, p: Preferences) -> list[str]:
        parts = []
        if facts.works_with_parents:
            parts.append(
                "Builds a working relationship with parents as well as with young clients, "
                "which a child's therapy needs"
            )
        if facts.gender_wish_met and p.therapist_gender is not None:
            parts.append(f"Is {V.GENDERS[p.therapist_gender.value]}, as you hoped")
        if facts.identities_met:
            shared = W.and_list(V.IDENTITY_WORDS[x] for x in facts.identities_met)
            parts.append(f"Shares the identity you hoped for: {shared}")
        if facts.populations_served:
            parts.append(
                f"Experienced with {W.and_list(V.PEOPLE[x] for x in facts.populations_served)}"
            )
        return [part + "." for part in parts[:2]]

    def shortfall(self, facts: IdentityFacts, p: Preferences) -> str | None:
        if facts.works_with_parents is False:
            return "does not list working with parents, which a young client's therapy needs."
        if facts.gender_wish_met is False and p.therapist_gender is not None:
            return f"is not {V.GENDERS[p.therapist_gender.value]}, as you hoped."
        if facts.identities_missed:
            missed = W.and_list(V.IDENTITY_WORDS[x] for x in facts.identities_missed)
            return f"does not share the identity you hoped for ({missed})."
        if facts.populations_missed:
            missed = W.and_list(V.PEOPLE[x] for x in facts.populations_missed)
            return f"does not list experience with {missed}."
        return None


# ---------------------------------------------------------------------------------------------
# Availability: how soon the next opening is, discounted by how long ago it was confirmed


@dataclass(frozen=True)
class AvailabilityFacts:
    next_opening: date | None
    days_to_opening: int | None
    confirmed: date | None
    days_since_confirmed: int | None
    # Reachability from the store's history (see ``reachability``): zero counts when none.
    offers: int = 0  # earlier clients offered a slot
    median_days_to_offer: float | None = None
    settled: int = 0  # offers whose outcome is known
    followed: int = 0  # of those, how many became a first session
    typical_days: float = 0.0  # the directory's reference values
    typical_share: float = 0.0

    @property
    def reach_measured(self) -> bool:
        return self.offers > 0

    @property
    def reach_term(self) -> float:
        return float(
            R.term(self.offers, self.median_days_to_offer or 0.0, self.settled, self.followed,
                   self.typical_days, self.typical_share)
        )  # fmt: skip

    @property
    def stale(self) -> bool:
        since = self.days_since_confirmed
        return since is None or since > V.STALE_AFTER_DAYS


def _trust(age: Float | float) -> Any:
    return np.clip(1.0 - (np.asarray(age) - FRESH_DAYS) / (FORGOTTEN_DAYS - FRESH_DAYS), 0.0, 1.0)


class Availability(Group[AvailabilityFacts]):
    name = "availability"

    def similarity(self, d: Columns, p: Preferences, rows: Index, today: date) -> Float:
        day = (today - EPOCH).days
        opening = d.next_opening[rows].astype(np.int64)
        wait = np.where(opening == NO_DAY, V.OPENING_HALF_DAYS, np.maximum(opening - day, 0))
        confirmed = d.confirmed[rows].astype(np.int64)
        age = np.where(confirmed == NO_DAY, FORGOTTEN_DAYS, day - confirmed)
        listing = R.soon(wait) * (0.5 + 0.5 * _trust(age))
        return np.asarray(listing if d.reach is None else listing + d.reach.term(rows))

    def facts(self, d: Directory, p: Preferences, row: int, today: date) -> AvailabilityFacts:
        day = (today - EPOCH).days
        opening, confirmed = int(d.next_opening[row]), int(d.confirmed[row])
        listing = AvailabilityFacts(
            next_opening=None if opening == NO_DAY else EPOCH + timedelta(days=opening),
            days_to_opening=None if opening == NO_DAY else max(opening - day, 0),
            confirmed=None if confirmed == NO_DAY else EPOCH + timedelta(days=confirmed),
            days_since_confirmed=None if confirmed == NO_DAY else day - confirmed,
        )
        r = d.reach
        if r is None or not r.offers[row]:
            return listing
        return dataclasses.replace(
            listing,
            offers=int(r.offers[row]),
            median_days_to_offer=float(r.days[row]),
            settled=int(r.settled[row]),
            followed=int(r.followed[row]),
            typical_days=r.typical_days,
            typical_share=r.typical_share,
        )

    def agreeing(self, facts: AvailabilityFacts, p: Preferences) -> float:
        wait = V.OPENING_HALF_DAYS if facts.days_to_opening is None else facts.days_to_opening
        since = facts.days_since_confirmed
        age = FORGOTTEN_DAYS if since is None else since
        return float(R.soon(wait) * (0.5 + 0.5 * _trust(age))) + facts.reach_term

    def reasons(self, facts: AvailabilityFacts, p: Preferences) -> list[str]:
        if facts.next_opening is None or facts.days_to_opening is None:
            return []
        when = (
            "now" if facts.days_to_opening == 0 else f"in {W.count(facts.days_to_opening, 'day')}"
        )
        confirmed = W.confirmed(facts.days_since_confirmed)
        if facts.stale:
            return [f"Listed an opening {when}, but {confirmed}: call to check."]
        # "now" carries no date: a listed opening already past would read as a past start
        day = "" if facts.days_to_opening == 0 else f" ({W.day(facts.next_opening)})"
        reasons = [f"Can start {when}{day}; {confirmed}."]
        if facts.reach_measured and facts.reach_term > 0:
            reach = W.reachability(facts.offers, facts.median_days_to_offer, facts.settled,
                                   facts.followed)  # fmt: skip
            reasons.append(f"Earlier clients were reached quickly: {reach}.")
        return reasons

    def shortfall(self, facts: AvailabilityFacts, p: Preferences) -> str | None:
        if facts.stale:
            return f"{W.confirmed(facts.days_since_confirmed)}, so their opening may have gone."
        if facts.days_to_opening is None:
            return "no next opening is listed."
        if facts.days_to_opening > 0:
            return f"their next opening is {W.count(facts.days_to_opening, 'day')} away."
        if facts.reach_measured and facts.reach_term < 0:
            reach = W.reachability(facts.offers, facts.median_days_to_offer, facts.settled,
                                   facts.followed)  # fmt: skip
            return f"earlier clients were slower to reach than usual: {reach}."
        return None


GROUPS: tuple[Group[Any], ...] = (
    Rapport(),
    Concerns(),
    Approach(),
    Style(),
    Identity(),
    Availability(),
)
BY_NAME: dict[str, Group[Any]] = {g.name: g for g in GROUPS}
assert tuple(BY_NAME) == V.GROUPS, "the registry follows V.GROUPS (the weights' order)"
