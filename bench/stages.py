"""Where one ranking's time goes: CPU per stage, in the order ``scoring._rank`` runs them.

``stages`` repeats ``scoring._rank`` step by step with a clock between steps (rules, funnel,
similarities, common scale, top k, the explained matches, relaxations), so keep it in step
with that function: it calls the same public functions and changes nothing. Medians per stage
over the clients; medians need not add up to the median total.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

import numpy as np

from matcher import constraints as C
from matcher import scoring as S
from matcher.directory import Directory
from matcher.preferences import Preferences

STAGES = ("rules", "funnel", "similarities", "scale", "top_k", "matches", "relaxations")


def stages(
    directory: Directory, people: Sequence[Preferences], today: date, top: int = 10
) -> dict[str, float]:
    """Median CPU seconds of each stage, and of the whole ranking ("total")."""
    spent: dict[str, list[float]] = {name: [] for name in (*STAGES, "total")}
    for p in people:
        tick = _Clock(spent)
        masks, reach = C.masks(directory, p)
        tick("rules")
        eligible, excluded = C.funnel(masks, len(directory))
        tick("funnel")
        positions = np.flatnonzero(eligible)
        similarity, active = S.similarities(reach.scope.columns, p, positions, today)
        tick("similarities")
        a = S.scaled(p, similarity, active, masks, excluded, reach, positions)
        tick("scale")
        order = S.top_k(directory, a, top)
        tick("top_k")
        matches = [S.match_at(directory, p, a, int(i), today) for i in order]
        tick("matches")
        main = None
        if p.concerns and matches and not any(p.concerns[0] in m.facts["concerns"].met
                                               for m in matches):  # fmt: skip
            main = reach.scope.has("concerns", p.concerns[0])
        C.relaxations(directory, p, masks, reach, main)
        tick("relaxations")
        spent["total"].append(tick.last - tick.started)
    return {name: float(np.median(values)) for name, values in spent.items()}


class _Clock:
    """Adds the CPU time since the last tick to the stage named."""

    def __init__(self, spent: dict[str, list[float]]) -> None:
        self.spent = spent
        self.started = self.last = time.process_time()

    def __call__(self, stage: str) -> None:
        now = time.process_time()
        self.spent[stage].append(now - self.last)
        self.last = now
