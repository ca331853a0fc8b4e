"""Two yardsticks for one ranking, measured in the same run as the engine.

``loop_rank`` is matching code as it is usually written: a Python loop over therapist records,
parsing their ``;`` lists and checking each rule in turn. It applies the same hard constraints
and a comparable weighted similarity, so the ratio to the engine is a fair speed-up figure.

The memory-bandwidth floor: ranking scans only the therapists licensed in the client's state
(not the whole directory), so ``bytes_read`` counts the bytes one ranking must read (the columns
the client's rules touch, at their stored width, over the rows it scans; the columns scoring
touches over the eligible rows; the row index itself), and ``bandwidth`` measures the machine's
memory bandwidth in the same run, so ``bytes_read / bandwidth`` is the time no engine could
beat, and the engine's time is reported as a multiple of it.
"""

from __future__ import annotations

import math
import time
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


def bytes_read(directory: Directory, p: Preferences, eligible: int, whole: bool = False) -> int:
    """The bytes one ranking for ``p`` must read at least (a floor, not what it does read:
    a gather of scattered rows pulls whole 64-byte cache lines). ``whole``: as if the rules
    were checked over every therapist, not only those licensed in the client's state (the
    floor issue 12 first measured against, about 49 bytes a therapist)."""
    d = directory
    scanned = len(d) if whole else d.licensed_in(p.state).size

    def word(column: str) -> int:  # one uint64 word of a bit-set column
        return 8 if column in d.tags else 0

    per_row = 8  # the row index
    per_row += d.flags["accepting_new_clients"].itemsize + d.numbers["open_slots"].itemsize
    if p.format != "either" or (p.location is not None and p.format != "telehealth"):
        per_row += word("formats")
    if p.location is not None and p.format != "telehealth":
        per_row += d.numbers["lat"].itemsize + d.numbers["lon"].itemsize
    per_row += word("ages_served") if p.age_group else 0
    per_row += word("languages") if p.language else 0
    pay = p.payment
    per_row += word("insurance") if pay.insurance else 0
    per_row += d.numbers["fee"].itemsize if pay.max_fee is not None else 0
    per_row += d.flags["sliding_scale"].itemsize if pay.sliding_scale_ok else 0
    gender, identities = p.therapist_gender, p.therapist_identities
    per_row += d.gender.itemsize if gender is not None and gender.required else 0
    per_row += word("identities") if identities.required and identities.values else 0
    # Scoring reads, for each eligible therapist: measured rapport, style, concern and approach
    # bit sets, identity facts, availability days (and the tie-break's fee and distance).
    scored = d.rapport.itemsize * d.rapport.shape[1] + d.style.itemsize * d.style.shape[1]
    scored += sum(d.tags[c].bits.shape[1] * 8 for c in ("concerns", "modalities"))
    scored += d.gender.itemsize + d.next_opening.itemsize + d.confirmed.itemsize
    return int(scanned * per_row + eligible * scored)


def bandwidth(megabytes: int = 256, repeats: int = 5) -> float:
    """Memory read bandwidth in bytes per second: the best of a few sums over an array far
    larger than the caches."""
    array = np.ones(megabytes * 2**20 // 8)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        array.sum()
        best = min(best, time.perf_counter() - started)
    return float(array.nbytes / best)
