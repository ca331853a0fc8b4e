"""Reachability: how quickly a therapist's clinic got earlier clients a slot, and whether a
first session followed, measured from the coordinator store's own history.

For each therapist: the median days from a request or referral to the first offer (or
assignment) with them, over ``offers`` contacts; and, of the ``settled`` contacts whose
outcome is known, how many ``followed`` with a first session (a check-in about them). See
``store.Store.contacts`` for what counts.

The honesty rule is rapport's: a therapist with no history is "not measured yet" and their
reachability adds exactly nothing to a score, never a guess. With history, the term is the
therapist's difference from the directory's typical speed and follow-through, shrunk toward
zero by ``n / (n + K)``, so two quick offers do not outweigh a long record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from matcher import vocabulary as V

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]

K = 5.0  # contacts that carry half the weight of a therapist's own record
# A quick offer is worth this much of the availability group's listing term (0..1) at most.
WEIGHT = 0.5


class Contact(Protocol):
    @property
    def therapist_id(self) -> str: ...
    @property
    def days_to_offer(self) -> int: ...
    @property
    def first_session(self) -> bool | None: ...


@dataclass(frozen=True)
class Reachability:
    """Per-row arrays over a directory, and the directory-wide reference they are read against."""

    offers: Int  # (n,) contacts with a measured time to offer
    days: Float  # (n,) median days to an offer; NaN without contacts
    settled: Int  # (n,) contacts whose outcome is known
    followed: Int  # (n,) of those, how many became a first session
    typical_days: float  # median over every contact in the directory
    typical_share: float  # pooled share of settled contacts that became a first session

    def term(self, rows: Any) -> Float:
        return term(self.offers[rows], self.days[rows], self.settled[rows], self.followed[rows],
                    self.typical_days, self.typical_share)  # fmt: skip


def soon(days: Any) -> Any:
    """How soon ``days`` away is, 1 (now) falling to 1/2 at V.OPENING_HALF_DAYS: the one
    measure of waiting, for a listed opening (``groups.Availability``) and for an offer."""
    return 1.0 / (1.0 + np.asarray(days, dtype=np.float64) / V.OPENING_HALF_DAYS)


def term(
    offers: Any, days: Any, settled: Any, followed: Any, typical_days: float,
    typical_share: float,
) -> Float:  # fmt: skip
    """The reachability part of the availability similarity; exactly 0 without history.

    Works on arrays (ranking) and on one therapist's numbers (``groups.Availability.agreeing``
    recomputes a match's similarity from its facts with it)."""
    offers = np.asarray(offers, dtype=np.float64)
    settled = np.asarray(settled, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.where(offers > 0, soon(np.nan_to_num(days)) - soon(typical_days), 0.0)
        share = np.where(settled > 0, np.asarray(followed) / settled - typical_share, 0.0)
    speed_weight = offers / (offers + K)
    share_weight = settled / (settled + K)
    return np.asarray(WEIGHT * (speed_weight * speed + share_weight * share) / 2)


def measure(
    ids: Sequence[str] | npt.NDArray[np.str_],
    row_of: Mapping[str, int],
    contacts: Iterable[Contact],
) -> Reachability:
    """Per-row reachability over a directory of ``len(ids)`` rows; unknown therapists ignored."""
    n = len(ids)
    waits: dict[int, list[int]] = defaultdict(list)
    settled = np.zeros(n, dtype=np.int64)
    followed = np.zeros(n, dtype=np.int64)
    every_wait: list[int] = []
    for contact in contacts:
        row = row_of.get(contact.therapist_id)
        if row is None:
            continue
        waits[row].append(contact.days_to_offer)
        every_wait.append(contact.days_to_offer)
        if contact.first_session is not None:
            settled[row] += 1
            followed[row] += contact.first_session
    offers = np.zeros(n, dtype=np.int64)
    days = np.full(n, np.nan)
    for row, found in waits.items():
        offers[row] = len(found)
        days[row] = float(np.median(found))
    total = int(settled.sum())
    return Reachability(
        offers=offers,
        days=days,
        settled=settled,
        followed=followed,
        typical_days=float(np.median(every_wait)) if every_wait else 0.0,
        typical_share=float(followed.sum() / total) if total else 0.0,
    )
