"""How much each group moves the ranking: ``python -m bench.shares [--weights rapport=0.35,...]``.

For every referral in the demo queue (data/referrals.csv) against the demo directory, with the
default weights (or those given), the share of within-client score variation each group
accounts for: cov(contribution_g, score) / var(score) over the client's eligible therapists
(they add up to 1). Reported over the clients whose eligible set has check-ins, as mean and
quartiles per group, with the share of #1 picks that have no check-ins at all.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from matcher import vocabulary as V
from matcher.directory import load_directory
from matcher.referrals import read_referrals
from matcher.scoring import assess, rank, shares

DATA = Path(__file__).resolve().parent.parent / "data"
TODAY = date(2026, 11, 22)


def measure(weights: dict[str, float] | None = None) -> tuple[pd.DataFrame, float]:
    """(per-client shares, share of #1 picks without check-ins)."""
    directory = load_directory(DATA / "therapists.csv")
    rows, unmeasured_first, ranked = [], 0, 0
    for referral in read_referrals(DATA / "referrals.csv"):
        p = referral.preferences
        if weights:
            p = p.evolve(weights={**p.weights.model_dump(), **weights})
        a = assess(directory, p, TODAY)
        if a.rows.size >= 2 and (directory.checkins_n[a.rows] > 0).any():
            rows.append({"referral_id": referral.referral_id, "eligible": a.rows.size, **shares(a)})
        top = rank(directory, p, top=1, today=TODAY).matches
        if top:
            ranked += 1
            unmeasured_first += not top[0].measured
    return pd.DataFrame(rows).set_index("referral_id"), unmeasured_first / max(ranked, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="e.g. rapport=0.5,concerns=0.1")
    args = parser.parse_args()
    weights = {
        k: float(v) for k, v in (pair.split("=") for pair in args.weights.split(",") if pair)
    }
    table, unmeasured = measure(weights or None)
    print(f"{len(table)} demo referrals whose eligible therapists include some with check-ins")
    print("share of within-client score variation, by group:")
    summary = table.reindex(columns=list(V.GROUPS)).describe(percentiles=[0.25, 0.5, 0.75])
    print(summary.loc[["count", "mean", "25%", "50%", "75%", "min"]].round(3).to_string())
    print(f"rapport share >= 25 % for {np.mean(table['rapport'] >= 0.25):.0%} of these clients")
    wide = table[table["eligible"] >= 10]
    print(
        f"... and for {np.mean(wide['rapport'] >= 0.25):.0%} of the {len(wide)} with at least 10 "
        f"eligible therapists (lowest {wide['rapport'].min():.0%})"
    )
    print(f"#1 picks with no check-ins: {unmeasured:.0%}")


if __name__ == "__main__":
    main()
