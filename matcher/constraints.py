"""Hard constraints: who cannot serve a client, each rule one record in one ordered registry.

A :class:`Constraint` holds everything about one rule: its mask over the directory (True =
the therapist passes), how the client could ease it (a new ``Preferences``, or None when it
cannot be eased), which other rules that easing touches, and its words: how many it excluded,
what a therapist would need to pass it, and what easing it means. The rest of the code (the
funnel, relaxations, triage's reasons, explanations) iterates :data:`CONSTRAINTS`; adding a rule
is adding one record here.

The registry's order is the funnel's order: each excluded therapist is counted under the first
rule it fails, so the counts add up to the number excluded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matcher import vocabulary as V
from matcher.directory import Bool, Columns, Directory, Float, Index, Scope, unit_vectors
from matcher.preferences import Location, Payment, Preferences
from matcher.words import KM_PER_MILE, and_list, or_list

EARTH_RADIUS_KM = 6371.0088
MAX_KM = 5000.0  # the farthest a relaxation widens the search


class Reach:
    """What several rules share for one client, computed once: formats and distances.

    Rules are evaluated only over ``rows``, the therapists licensed in the client's state (its
    :class:`~matcher.directory.Scope`): every other therapist fails 'license', the funnel's
    first rule, so no other rule's answer about them is ever counted. Every mask is over
    ``rows``, in that order.
    """

    def __init__(
        self, directory: Directory, preferences: Preferences, scope: Scope | None = None
    ) -> None:
        self.d, self.p = directory, preferences
        if scope is None or scope.state != preferences.state or scope.d is not directory:
            scope = Scope(directory, preferences.state)  # a scope of another directory is stale
        self.scope = scope
        self.rows = scope.rows

    def eased(self, preferences: Preferences) -> Reach:
        """The same facts for eased preferences, reusing whatever the easing leaves unchanged
        (no easing changes the state, so the scope and its tag tests stay; only some change the
        location or format, and a wider limit keeps the client's place)."""
        other = Reach(self.d, preferences, self.scope)
        if "_chord2" in self.__dict__ and _place(preferences) == _place(self.p):
            other.__dict__["_chord2"] = self.__dict__["_chord2"]
        return other

    def everyone(self) -> Bool:
        return np.ones(self.rows.size, dtype=bool)

    @property
    def licensed(self) -> Bool:
        """All True: ``rows`` are the therapists licensed in the client's state."""
        return self.everyone()

    @property
    def in_person(self) -> Bool:
        return self.scope.has("formats", "in_person")

    @property
    def telehealth(self) -> Bool:
        return self.scope.has("formats", "telehealth")

    def within(self, km: float) -> Bool:
        """Who sees clients in person no farther than ``km`` from the client (False when their
        position or the client's is unknown)."""
        if self.p.location is None:
            return np.zeros(self.rows.size, dtype=bool)
        limit = (2 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2)) ** 2  # as a squared chord
        return np.asarray(self.in_person & (self._chord2 <= limit))  # NaN compares False

    @cached_property
    def _chord2(self) -> Float:
        """Squared straight-line distance through the unit sphere from the client to each
        therapist in ``rows``: it grows with the great-circle distance, so comparing it with
        a limit's says who is within the limit, with no trigonometry per therapist (NaN when
        a position is unknown)."""
        assert self.p.location is not None
        place = self.p.location
        x, y, z = unit_vectors(np.array([place.lat]), np.array([place.lon]))[0]
        unit = self.scope.columns.unit
        return np.asarray((unit[:, 0] - x) ** 2 + (unit[:, 1] - y) ** 2 + (unit[:, 2] - z) ** 2)

    def km_at(self, rows: Index) -> Float:
        """The great-circle distance to each of directory ``rows`` (each one of ``self.rows``)
        who sees clients in person, else NaN: what a card shows and ties are broken on. Kept
        once measured: the tie-break's candidates are the cards' therapists too."""
        at = np.searchsorted(self.rows, rows)
        out = np.full(at.size, np.nan)
        if self.p.location is not None:
            known = self._km_known
            new = [i for i in set(at[self.in_person[at]].tolist()) if i not in known]
            if new:
                where = np.array(new, dtype=np.intp)
                found = distance_km(self.scope.columns, where, self.p.location)
                known.update(zip(new, found.tolist(), strict=True))
            out[:] = [known.get(i, np.nan) for i in at.tolist()]
        return out

    @cached_property
    def _km_known(self) -> dict[int, float]:
        return {}


def _place(p: Preferences) -> tuple[float, float] | None:
    return None if p.location is None else (p.location.lat, p.location.lon)


def distance_km(d: Columns, rows: Index, location: Location) -> Float:
    """Great-circle distance from the client to each therapist at ``rows`` of ``d`` (a
    directory or a state's block; NaN if unknown)."""
    lat = np.radians(d.numbers["lat"][rows])
    lon = np.radians(d.numbers["lon"][rows])
    lat0, lon0 = np.radians(location.lat), np.radians(location.lon)
    a = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def _never(p: Preferences) -> Preferences | None:
    return None


@dataclass(frozen=True)
class Constraint:
    """One hard rule: its mask, its easing, and its words."""

    name: str
    mask: Callable[[Reach], Bool]  # over Reach.rows; True = passes
    excluded: Callable[[Preferences, bool], str]  # "(are) not licensed in Ohio"; bool = plural
    needs: Callable[[Preferences], str]  # what a therapist needs to pass: "speaks Spanish"
    ease: Callable[[Preferences], Preferences | None] = _never  # the one easing offered
    easing: Callable[[Preferences, Preferences], str] = lambda p, eased: ""  # "Allowing …"
    touches: tuple[str, ...] = ()  # other rules whose masks an easing changes


def _verb(plural: bool) -> tuple[str, str]:
    return ("are", "do") if plural else ("is", "does")


def _format(r: Reach) -> Bool:
    if r.p.format == "either":
        return r.everyone()
    return r.in_person if r.p.format == "in_person" else r.telehealth


def _distance(r: Reach) -> Bool:
    """In person within max_km; with 'either', online also counts as within reach."""
    p = r.p
    if p.location is None or p.format == "telehealth":
        return r.everyone()
    near = r.within(p.location.max_km)
    if p.format == "either":
        return near | r.telehealth
    return near | ~r.in_person  # no in-person sessions fails 'format' instead


def _wider(p: Preferences) -> Preferences | None:
    if p.location is None or p.format == "telehealth":
        return None
    wider = min(p.location.max_km * 2, MAX_KM)
    return p.evolve(location=p.location.model_copy(update={"max_km": wider}))


def _payment(r: Reach) -> Bool:
    scope, payment = r.scope, r.p.payment
    if not payment.constrained:
        return r.everyone()
    ok = np.zeros(len(scope), dtype=bool)
    if payment.insurance is not None:
        ok |= scope.has("insurance", payment.insurance)
    if payment.max_fee is not None:
        ok |= scope.number("fee") <= payment.max_fee  # NaN (no fee listed) compares False
    if payment.sliding_scale_ok:
        ok |= scope.flag("sliding_scale")
    return ok


def _costs(p: Preferences) -> list[tuple[str, str, str]]:
    """(what they do not do, what one needs, what easing looks beyond) for each way to pay the
    client gave: only those, so a client with no fee limit never reads of one."""
    payment, found = p.payment, []
    if payment.insurance is not None:
        found.append(("take your insurance", "takes your insurance", "your insurance"))
    if payment.max_fee is not None:
        found.append(("charge within your fee limit", "charges within your fee limit",
                      "your fee limit"))  # fmt: skip
    if payment.sliding_scale_ok:
        found.append(("offer a sliding scale", "offers a sliding scale", "sliding-scale fees"))
    return found


def _gender(r: Reach) -> Bool:
    wish = r.p.therapist_gender
    if wish is None or not wish.required:
        return r.everyone()
    return np.asarray(r.scope.gender == list(V.GENDERS).index(wish.value))


def _gender_wish(p: Preferences) -> Preferences | None:
    wish = p.therapist_gender
    if wish is None or not wish.required:
        return None
    return p.evolve(therapist_gender=wish.model_copy(update={"required": False}))


def _identities(r: Reach) -> Bool:
    wanted = r.p.therapist_identities
    if not (wanted.required and wanted.values):
        return r.everyone()
    return np.asarray(r.scope.count("identities", wanted.values) == len(wanted.values))


def _identity_wish(p: Preferences) -> Preferences | None:
    wanted = p.therapist_identities
    if not (wanted.required and wanted.values):
        return None
    return p.evolve(therapist_identities=wanted.model_copy(update={"required": False}))


def _sessions(p: Preferences) -> str:
    """The format before "sessions": hyphenated, as an adjective is ("in-person sessions")."""
    return V.CLIENT_FORMATS[p.format].replace("in person", "in-person")


def _gender_words(p: Preferences) -> str:
    return V.GENDERS[p.therapist_gender.value] if p.therapist_gender else "the gender you chose"


def _age_words(p: Preferences) -> str:
    return V.AGE_GROUPS.get(p.age_group or "", "your age group")


def _km(p: Preferences) -> str:
    """The travel limit in the product's unit (computed in km, said in miles)."""
    if p.location is None:
        return "your distance"
    return f"{p.location.max_km / KM_PER_MILE:,.0f} miles"


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint(
        "license",
        mask=lambda r: r.licensed,
        excluded=lambda p, pl: f"{_verb(pl)[0]} not licensed in {V.STATES[p.state]}",
        needs=lambda p: f"is licensed in {V.STATES[p.state]}",
    ),
    Constraint(
        "format",
        mask=_format,
        excluded=lambda p, pl: f"{_verb(pl)[1]} not offer {_sessions(p)} sessions",
        needs=lambda p: f"offers {_sessions(p)} sessions",
        ease=lambda p: None if p.format == "either" else p.evolve(format="either"),
        easing=lambda p, eased: (
            f"Allowing {'online' if p.format == 'in_person' else 'in-person'} sessions too"
        ),
        touches=("distance",),
    ),
    Constraint(
        "distance",
        mask=_distance,
        excluded=lambda p, pl: f"{_verb(pl)[0]} farther than {_km(p)} for in-person sessions",
        needs=lambda p: f"is within {_km(p)}",
        ease=_wider,
        easing=lambda p, eased: f"Traveling up to {_km(eased)}",
    ),
    Constraint(
        "capacity",
        mask=lambda r: r.scope.flag("accepting_new_clients") & (r.scope.number("open_slots") > 0),
        excluded=lambda p, pl: f"{_verb(pl)[0]} not taking new clients right now",
        needs=lambda p: "has an open slot",
    ),
    Constraint(
        "age_group",
        mask=lambda r: r.scope.has("ages_served", r.p.age_group) if r.p.age_group else r.everyone(),
        excluded=lambda p, pl: f"{_verb(pl)[1]} not work with {_age_words(p)}",
        needs=lambda p: f"works with {_age_words(p)}",
    ),
    Constraint(
        "language",
        mask=lambda r: r.scope.has("languages", r.p.language) if r.p.language else r.everyone(),
        excluded=lambda p, pl: f"{_verb(pl)[1]} not offer sessions in {p.language}",
        needs=lambda p: f"speaks {p.language}",
    ),
    Constraint(
        "payment",
        mask=_payment,
        excluded=lambda p, pl: f"{_verb(pl)[1]} not {or_list(c[0] for c in _costs(p))}",
        needs=lambda p: or_list(c[1] for c in _costs(p)),
        ease=lambda p: p.evolve(payment=Payment()) if p.payment.constrained else None,
        easing=lambda p, eased: f"Looking beyond {and_list(c[2] for c in _costs(p))}",
    ),
    Constraint(
        "gender",
        mask=_gender,
        excluded=lambda p, pl: f"{_verb(pl)[0]} not {_gender_words(p)}",
        needs=lambda p: f"is {_gender_words(p)}",
        ease=_gender_wish,
        easing=lambda p, eased: "Making the therapist's gender a wish rather than a must",
    ),
    Constraint(
        "identities",
        mask=_identities,
        excluded=lambda p, pl: f"{_verb(pl)[1]} not share the identity you require",
        needs=lambda p: "shares the required identity",
        ease=_identity_wish,
        easing=lambda p, eased: "Making the therapist's identity a wish rather than a must",
    ),
)
BY_NAME: Mapping[str, Constraint] = {c.name: c for c in CONSTRAINTS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


@dataclass(frozen=True)
class Relaxation:
    """Easing one constraint: how many therapists it adds, and the eased preferences."""

    constraint: str
    adds: int
    preferences: Preferences
    adds_main_concern: int  # of those, how many list the first-named concern (0 if not asked)


def masks(
    directory: Directory,
    preferences: Preferences,
    names: Sequence[str] = NAMES,
    scope: Scope | None = None,
) -> tuple[dict[str, Bool], Reach]:
    """Each named rule's mask over the rows licensed in the client's state (``Reach.rows``),
    and the shared facts behind them. ``scope`` may be one shared with other clients of the
    same state, whose tag tests are then reused."""
    reach = Reach(directory, preferences, scope)
    return {name: BY_NAME[name].mask(reach) for name in names}, reach


def funnel(passes: Mapping[str, Bool], n: int) -> tuple[Bool, dict[str, int]]:
    """(eligible, excluded counts) with each of the ``n`` therapists counted under the first
    rule it fails. ``passes`` cover the rows scanned (``Reach.rows``); every other therapist is
    not licensed in the client's state and so fails 'license', the first rule."""
    scanned = passes[NAMES[0]].size
    eligible = np.ones(scanned, dtype=bool)
    remaining = scanned
    excluded: dict[str, int] = {NAMES[0]: n - scanned} if n > scanned else {}
    for name in NAMES:
        eligible &= passes[name]
        left = int(np.count_nonzero(eligible))
        if left < remaining:
            excluded[name] = excluded.get(name, 0) + remaining - left
        remaining = left
    return eligible, excluded


def relaxations(
    directory: Directory,
    preferences: Preferences,
    passes: Mapping[str, Bool],
    reach: Reach | None = None,
    main: Bool | None = None,
) -> tuple[Relaxation, ...]:
    """Each single easing of the client's rules, with the therapists it would add (and, when
    ``main`` marks who lists the client's first-named concern, how many of those it adds).

    ``passes`` and ``main`` cover ``reach.rows`` (the rows licensed in the client's state; no
    easing changes the state). Only the eased rule and the rules it touches are recomputed,
    reusing the tag tests and distances already worked out in ``reach``; every other mask is
    reused as it is.
    """
    p = preferences
    reach = reach or Reach(directory, p)
    found = []
    for rule in CONSTRAINTS:
        eased = rule.ease(p)
        if eased is None:
            continue
        affected = (rule.name, *rule.touches)
        others = reach.everyone()
        for name in NAMES:
            if name not in affected:
                others &= passes[name]
        before = np.logical_and.reduce([passes[name] for name in affected])
        eased_reach = reach.eased(eased)
        after = np.logical_and.reduce([BY_NAME[name].mask(eased_reach) for name in affected])
        added = others & after & ~before
        adds = int(np.count_nonzero(added))
        if adds:
            with_main = 0 if main is None else int(np.count_nonzero(added & main))
            found.append(Relaxation(rule.name, adds, eased, with_main))
    return tuple(sorted(found, key=lambda r: (-r.adds, NAMES.index(r.constraint))))


def blocking(passes: Mapping[str, Bool]) -> tuple[str, ...]:
    """Rules that no therapist licensed in the client's state passes (why nobody fits).

    ``passes`` cover the rows scanned (all licensed, see ``Reach``) or the whole directory."""
    licensed = passes["license"]
    if not licensed.any():
        return ("license",)
    return tuple(name for name in NAMES[1:] if not (licensed & passes[name]).any())
