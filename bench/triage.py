"""Triage benchmark: a batch of referrals into the open slots of a synthetic directory."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date

from matcher import synth
from matcher.directory import encode
from matcher.preferences import Preferences, referral_to_dict
from matcher.schema import DIRECTORY_FIELDS, REFERRAL_FIELDS, parse_table
from matcher.triage import open_slots, referrals_from, triage

TODAY = date(2026, 11, 22)


def assign_batch(referrals: int, therapists: int, seed: int = 1) -> dict[str, float]:
    """Seconds to score and assign ``referrals`` into ``therapists``' slots (one run)."""
    table = synth.therapists(therapists, seed).astype(str).replace({"nan": ""})
    directory = encode(parse_table(table, DIRECTORY_FIELDS))
    queue = parse_table(synth.referrals(referrals, seed).astype(str).replace({"nan": ""}),
                        REFERRAL_FIELDS)  # fmt: skip
    clients = [Preferences.model_validate(referral_to_dict(r)) for r in queue.to_dict("records")]
    batch = referrals_from(queue, clients)
    started = time.perf_counter()
    outcomes = triage(directory, batch, TODAY)
    seconds = time.perf_counter() - started
    counts = Counter(o.status for o in outcomes)
    return {
        "referrals": referrals,
        "therapists": therapists,
        "slots": sum(open_slots(directory).values()),
        "seconds": seconds,
        "assigned": counts["assigned"],
        "crisis": counts["crisis"],
        "unassigned": counts["unassigned"],
    }
