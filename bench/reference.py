"""Two yardsticks for one ranking, measured in the same run as the engine.

``loop_rank`` is matching code as it is usually written: a Python loop over therapist records,
parsing their ``;`` lists and checking each rule in turn. It applies the same hard constraints
and a comparable weighted similarity, so the ratio to the engine is a fair speed-up figure.

``bandwidth_pass`` reads every encoded array the engine may touch exactly once with numpy: no
engine can rank from those arrays faster than it can read them, so the engine's time divided
by this is how far it is from the memory-bandwidth floor.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np

from matcher import vocabulary as V
from matcher.directory import Directory
from matcher.preferences import Preferences


def records(directory: Directory) -> list[dict[str, Any]]:
    """The directory as the list of dicts typical code iterates over."""
    return [{str(k): v for k, v in row.items()} for row in directory.table.to_dict("records")]


def loop_rank(rows: list[dict[str, Any]], p: Preferences, today: date, top: int = 10) -> list[str]:
    """Hard constraints and weighted similarity, one therapist at a time."""
    weights = p.weights.as_tuple()
    priorities = p.priorities.as_tuple()
    total_priority = sum(priorities) or len(priorities)
    scored = []
    for row in rows:
        states = row["states"].upper().split(";")
        formats = row["formats"].split(";")
        if p.state not in states:
            continue
        if p.format != "either" and p.format not in formats:
            continue
        if p.location is not None and p.format != "telehealth" and "in_person" in formats:
            km = _haversine(p.location.lat, p.location.lon, row["lat"], row["lon"])
            if km > p.location.max_km and not (p.format == "either" and "telehealth" in formats):
                continue
        if not (row["accepting_new_clients"] and row["open_slots"] > 0):
            continue
        if p.age_group and p.age_group not in row["ages_served"].split(";"):
            continue
        if p.language and p.language.lower() not in row["languages"].lower().split(";"):
            continue
        if p.payment.constrained:
            pay = p.payment
            ok = pay.insurance is not None and pay.insurance.lower() in row["insurance"].lower()
            ok = ok or (pay.max_fee is not None and row["fee"] <= pay.max_fee)
            ok = ok or (pay.sliding_scale_ok and row["sliding_scale"])
            if not ok:
                continue
        rapport = (
            sum(
                w * ((row[f"rapport_{item}"] if row["checkins_n"] else 4.0) - 1) / 4
                for w, item in zip(priorities or [1] * 9, V.ITEMS, strict=True)
            )
            / total_priority
        )
        concerns = row["concerns"].split(";")
        covered = sum(c in concerns for c in p.concerns) / len(p.concerns) if p.concerns else 0
        modalities = row["modalities"].split(";")
        approach = (
            sum(a in modalities for a in p.modalities.prefer) / len(p.modalities.prefer)
            if p.modalities.prefer
            else 0
        )
        leans = p.style.as_tuple()
        style = sum(
            abs(lean) * (1 - abs(row[f"style_{axis}"] - lean) / 6)
            for lean, axis in zip(leans, V.AXES, strict=True)
        ) / (sum(abs(x) for x in leans) or 1)
        score = (
            weights[0] * rapport + weights[1] * covered + weights[2] * approach
            + weights[3] * style
        ) / sum(weights)  # fmt: skip
        scored.append((score, row["therapist_id"]))
    scored.sort(reverse=True)
    return [therapist for _, therapist in scored[:top]]


def _haversine(lat0: float, lon0: float, lat: float, lon: float) -> float:
    if lat != lat or lon != lon:  # NaN: unknown position
        return math.inf
    a = (
        math.sin(math.radians(lat - lat0) / 2) ** 2
        + math.cos(math.radians(lat0)) * math.cos(math.radians(lat))
        * math.sin(math.radians(lon - lon0) / 2) ** 2
    )  # fmt: skip
    return 2 * 6371.0088 * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def bandwidth_pass(directory: Directory) -> float:
    """Read every array ranking may touch once (a sum each); returns a checksum."""
    d = directory
    arrays: list[np.ndarray[Any, Any]] = [tag.bits for tag in d.tags.values()]
    arrays += [*d.numbers.values(), *d.flags.values(), d.gender, d.style, d.rapport,
               d.next_opening, d.confirmed]  # fmt: skip
    return float(sum(np.sum(a, dtype=np.float64) for a in arrays))
