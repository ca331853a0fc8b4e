"""Triage benchmarks: a batch of referrals into the open slots of a synthetic directory.

``assign_batch``: 2,000 referrals into 10,000 therapists, in this process.
``national``: the nightly batch as the command line runs it (scored, assigned, explained and
written), on the local engine or on Dask (a LocalCluster of two worker processes), in a
process of its own: wall time, CPU time of every process involved (this one, with a
LocalCluster's scheduler and nannies, and on Dask each worker), the peak resident memory of
each, the load average, and the
output file's SHA-256 so that the two engines' files can be compared.
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections import Counter
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from matcher import synth
from matcher.directory import encode, load_directory
from matcher.referrals import referrals_from_frame
from matcher.schema import DIRECTORY_FIELDS, parse_table, write_table
from matcher.triage import open_slots, triage

TODAY = date(2026, 11, 22)


def assign_batch(referrals: int, therapists: int, seed: int = 1) -> dict[str, float]:
    """Seconds to score and assign ``referrals`` into ``therapists``' slots (one run)."""
    table = synth.therapists(therapists, seed).astype(str).replace({"nan": ""})
    directory = encode(parse_table(table, DIRECTORY_FIELDS))
    batch = queue(referrals, seed)
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


def queue(referrals: int, seed: int = 1) -> list[Any]:
    """A synthetic referral queue, parsed as a queue file would be."""
    table = synth.referrals(referrals, seed).astype(str).replace({"nan": ""})
    return referrals_from_frame(table, "synthetic queue")


def national(referrals: int, path: Path, engine: str, out: Path) -> dict[str, Any]:
    """Triage ``referrals`` synthetic referrals into the directory at ``path`` as
    ``python -m matcher triage --engine ENGINE --out OUT`` does, and what it cost."""
    from matcher.__main__ import outcome_words
    from matcher.report import spreadsheet_safe
    from matcher.triage import Reconciliation, outcome_table

    started = time.perf_counter()
    directory = load_directory(path)
    load_s = time.perf_counter() - started
    batch = queue(referrals)
    load_before = os.getloadavg()[0]
    own = _usage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    tiers: list[Reconciliation] = []
    others: list[dict[str, float]] = []  # worker processes
    if engine == "dask":
        from matcher.distributed import DaskEngine

        with DaskEngine() as dask:
            outcomes = triage(directory, batch, TODAY, engine=dask, reconciled=tiers.append)
            triage_s = time.perf_counter() - wall
            # Each worker's own CPU and peak, asked of it before the cluster stops (a
            # LocalCluster's nannies and scheduler run in this process, which counts them).
            # The peak is /proc's VmHWM: a spawned process's ru_maxrss starts at its parent's
            # peak at the time of the fork, here the loaded directory's.
            cpu = dask.client.run(partial(resource.getrusage, resource.RUSAGE_SELF))
            status = dask.client.run(partial(Path.read_text, Path("/proc/self/status")))
            others += [{"cpu_s": _of(cpu[w])["cpu_s"], "peak_mb": _hwm_mb(status[w])} for w in cpu]
    else:
        outcomes = triage(directory, batch, TODAY, reconciled=tiers.append)
        triage_s = time.perf_counter() - wall
    table = spreadsheet_safe(outcome_table(outcomes, outcome_words))
    write_table(table, out)
    wall_s = time.perf_counter() - wall
    mine = _usage(resource.RUSAGE_SELF)
    counts = Counter(o.status for o in outcomes)
    return {
        "engine": engine,
        "referrals": referrals,
        "therapists": len(directory),
        "load_s": load_s,
        "triage_s": triage_s,
        "wall_s": wall_s,  # scored, assigned, explained and written
        "cpu_s": mine["cpu_s"] - own["cpu_s"] + sum(o["cpu_s"] for o in others),
        "cpu_others_s": sum(o["cpu_s"] for o in others),
        "peak_mb": mine["peak_mb"],  # this process (it loaded the directory)
        "peak_others_mb": [o["peak_mb"] for o in others],
        "peak_total_mb": mine["peak_mb"] + sum(o["peak_mb"] for o in others),
        "load": [load_before, os.getloadavg()[0]],
        "assigned": counts["assigned"],
        "unassigned": counts["unassigned"],
        "crisis": counts["crisis"],
        "shared": [t.shared for t in tiers],
        "contested": [t.contested for t in tiers],
        "components": [t.components for t in tiers],
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }


def _usage(who: int) -> dict[str, float]:
    return _of(resource.getrusage(who))


def _hwm_mb(status: str) -> float:
    """Peak resident memory (MB) from the text of /proc/PID/status."""
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _of(used: Any) -> dict[str, float]:
    """CPU seconds (user + system) and peak resident memory (MB) of one rusage."""
    return {"cpu_s": used.ru_utime + used.ru_stime, "peak_mb": used.ru_maxrss / 1024}
