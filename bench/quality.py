"""Match quality against the alternatives, in a simulated world: ``python -m bench.quality``.

The world (all latent, never shown to the policies):
- each therapist has a true quality on each rapport item (a personal level plus item
  variation) and a true competence for each concern; the directory lists concerns as an
  imperfect signal of that competence (listed ones are better on average, not always);
- a client and therapist's true rapport on an item is the therapist's quality, plus how well
  they fit the client's concerns (competence, and an approach commonly recommended for the
  concern), minus a style mismatch, plus noise particular to the pair;
- a client's true rapport with a therapist weighs the items by the client's priorities; their
  top priority is "met" when the true rapport on that item is at least 4 of 5;
- check-ins are noisy, sparse observations of a pair's true item rapport; the directory's
  historical check-in means are made the same way.

Policies, on the same referrals and the same open slots each round (capacity resets per round):
random (among therapists who meet the hard constraints), directory-style (hard filters, then
the soonest opening, as a phone search gives), this model without check-ins, this model with
check-ins (historical plus every check-in from earlier rounds: the feedback loop), and the
oracle (the assignment maximising true rapport under the same constraints and capacity).

Reported: mean true rapport of the assigned therapist as a share of the oracle's, the share of
clients whose top priority is met, and the share assigned at all, per round and overall.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from matcher import synth
from matcher import vocabulary as V
from matcher.checkins import with_checkins
from matcher.directory import Directory, encode
from matcher.preferences import Preferences, referral_to_dict
from matcher.schema import DIRECTORY_FIELDS, REFERRAL_FIELDS, parse_table
from matcher.scoring import assess
from matcher.triage import Candidate, Referral, assign_tier, open_slots, referrals_from, triage

TODAY = date(2026, 11, 22)
POLICIES = ("random", "directory", "model, no check-ins", "model + check-ins", "oracle")
Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Settings:
    seed: int = 7
    therapists: int = 2000
    rounds: int = 8
    referrals_per_round: int = 150
    checkins_per_assignment: int = 2
    rating_noise: float = 0.8  # one check-in's error on the 1-5 scale
    pair_noise: float = 0.25  # how much a pair differs from the therapist's usual
    competence_signal: float = 0.25  # listed concerns' advantage in true competence


@dataclass(frozen=True)
class World:
    quality: Float  # (n, 9) true item quality, 1..5 scale
    competence: Float  # (n, concerns) true competence per concern


@dataclass(frozen=True)
class Client:
    referral: Referral
    rows: npt.NDArray[np.intp]  # therapists meeting the hard constraints
    item_rapport: Float  # (m, 9) true rapport on each item with each of them
    rapport: Float  # (m,) priority-weighted true rapport
    top_item: int


def build_world(directory: Directory, s: Settings, rng: np.random.Generator) -> World:
    n = len(directory)
    level = rng.normal(0, 0.45, n)
    quality = np.clip(4.0 + level[:, None] + rng.normal(0, 0.3, (n, 9)), 1, 5)
    listed = np.column_stack([directory.tags["concerns"].has(c) for c in V.CONCERNS])
    competence = np.where(listed, s.competence_signal, -s.competence_signal) + rng.normal(
        0, 0.2, listed.shape
    )
    return World(quality, competence)


def observed_history(directory: Directory, world: World, s: Settings,
                     rng: np.random.Generator) -> Directory:  # fmt: skip
    """The directory's historical check-ins, re-drawn from the world (same counts)."""
    n = directory.checkins_n.astype(float)
    spread = np.sqrt(s.pair_noise**2 + s.rating_noise**2) / np.sqrt(np.maximum(n, 1))
    mean = np.clip(world.quality + rng.normal(0, 1, world.quality.shape) * spread[:, None], 1, 5)
    table = directory.table.copy()
    for i, item in enumerate(V.ITEMS):
        table[f"rapport_{item}"] = np.where(n > 0, np.round(mean[:, i], 2), np.nan)
    return encode(table, directory.source)


def without_checkins(directory: Directory) -> Directory:
    table = directory.table.copy()
    table["checkins_n"] = 0
    for item in V.ITEMS:
        table[f"rapport_{item}"] = np.nan
    return encode(table, directory.source)


def client_truth(directory: Directory, world: World, referral: Referral, s: Settings,
                 rng: np.random.Generator) -> Client:  # fmt: skip
    p = referral.preferences
    rows = assess(directory, p, TODAY).rows
    concerns = np.array([list(V.CONCERNS).index(c) for c in p.concerns], dtype=np.intp)
    fit = (
        world.competence[np.ix_(rows, concerns)].mean(axis=1)
        if concerns.size
        else np.zeros(rows.size)
    )
    for concern in p.concerns:
        fit += 0.15 * directory.tags["modalities"].has_any(V.EVIDENCE[concern].approaches, rows)
    lean = np.array(p.style.as_tuple(), dtype=float)
    if lean.any():
        fit -= (
            0.15
            * (np.abs(directory.style[rows] - lean) * np.abs(lean)).sum(axis=1)
            / (6 * np.abs(lean).sum())
        )
    items = np.clip(
        world.quality[rows] + fit[:, None] + rng.normal(0, s.pair_noise, (rows.size, 9)), 1, 5
    )
    weights = np.array(p.priorities.as_tuple(), dtype=float)
    weights = np.ones(9) if weights.sum() == 0 else weights
    ranked = p.priorities.ranked()
    top = V.ITEMS.index(ranked[0]) if ranked else 0
    return Client(referral, rows, items, items @ (weights / weights.sum()), top)


# ---------------------------------------------------------------------------------------------
# Policies: each returns {referral_id: directory row}


Policy = Callable[[Sequence[Client], dict[str, int]], dict[str, int]]


def greedy(order_key: Callable[[Client, npt.NDArray[np.intp]], npt.NDArray[np.float64]],
           directory: Directory) -> Policy:  # fmt: skip
    """Queue order; each client takes the best free therapist by ``order_key`` (lower first)."""

    def policy(clients: Sequence[Client], slots: dict[str, int]) -> dict[str, int]:
        left = dict(slots)
        chosen = {}
        for c in clients:
            free = np.array([left.get(str(directory.ids[r]), 0) > 0 for r in c.rows], dtype=bool)
            rows = c.rows[free]
            if rows.size:
                pick = int(rows[np.argmin(order_key(c, rows))])
                left[str(directory.ids[pick])] -= 1
                chosen[c.referral.referral_id] = pick
        return chosen

    return policy


def model(directory_of: Callable[[], Directory]) -> Policy:
    def policy(clients: Sequence[Client], slots: dict[str, int]) -> dict[str, int]:
        d = directory_of()
        outcomes = triage(d, [c.referral for c in clients], TODAY, slots)
        return {o.referral.referral_id: o.match.row for o in outcomes if o.match}

    return policy


def oracle(directory: Directory) -> Policy:
    def policy(clients: Sequence[Client], slots: dict[str, int]) -> dict[str, int]:
        shortlists = {
            c.referral.referral_id: tuple(
                Candidate(str(directory.ids[r]), int(r), float((v - 1) / 4))
                for r, v in zip(c.rows, c.rapport, strict=True)
            )
            for c in clients
        }
        placed = assign_tier([c.referral for c in clients], shortlists, slots)
        return {rid: c.row for rid, c in placed.items()}

    return policy


# ---------------------------------------------------------------------------------------------


def simulate(s: Settings, progress: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    rng = np.random.default_rng(s.seed)
    base = encode(parse_table(synth.therapists(s.therapists, s.seed).astype(str)
                              .replace({"nan": ""}), DIRECTORY_FIELDS))  # fmt: skip
    world = build_world(base, s, rng)
    directory = observed_history(base, world, s, rng)
    blind = without_checkins(directory)
    queue = synth.referrals(s.rounds * s.referrals_per_round, s.seed)
    queue[["risk_self_harm", "risk_harm_others"]] = False  # crisis cases are not matched
    typed = parse_table(queue.astype(str).replace({"nan": ""}), REFERRAL_FIELDS)
    people = [Preferences.model_validate(referral_to_dict(r)) for r in typed.to_dict("records")]
    referrals = referrals_from(typed, people)
    slots = open_slots(directory)
    new_checkins: list[tuple[str, tuple[int, ...]]] = []
    learning = {"directory": directory}

    def learned() -> Directory:
        return learning["directory"]

    policies: dict[str, Policy] = {
        "random": greedy(lambda c, rows: rng.random(rows.size), directory),
        "directory": greedy(
            lambda c, rows: directory.next_opening[rows].astype(float) + 1e-6 * rows,
            directory,
        ),
        "model, no check-ins": model(lambda: blind),
        "model + check-ins": model(learned),
        "oracle": oracle(directory),
    }
    records = []
    for round_ in range(s.rounds):
        batch = referrals[round_ * s.referrals_per_round : (round_ + 1) * s.referrals_per_round]
        batch = [replace(r, received=TODAY) for r in batch]
        clients = [client_truth(directory, world, r, s, rng) for r in batch]
        by_id = {c.referral.referral_id: c for c in clients}
        results = {name: policy(clients, slots) for name, policy in policies.items()}
        oracle_mean = _mean_rapport(results["oracle"], by_id)
        for name, chosen in results.items():
            met = [
                by_id[rid].item_rapport[_position(by_id[rid], row), by_id[rid].top_item] >= 4.0
                for rid, row in chosen.items()
            ]
            records.append(
                {
                    "round": round_ + 1,
                    "policy": name,
                    "share_of_oracle": _mean_rapport(chosen, by_id) / oracle_mean,
                    "top_priority_met": float(np.mean(met)) if met else 0.0,
                    "assigned": len(chosen) / len(clients),
                }
            )
        # the feedback loop: the model's own assignments produce check-ins for the next round
        for rid, row in results["model + check-ins"].items():
            c = by_id[rid]
            truth = c.item_rapport[_position(c, row)]
            for _ in range(s.checkins_per_assignment):
                ratings = np.clip(np.rint(truth + rng.normal(0, s.rating_noise, 9)), 1, 5)
                new_checkins.append((str(directory.ids[row]), tuple(int(x) for x in ratings)))
        learning["directory"] = with_checkins(directory, new_checkins)
        progress(f"round {round_ + 1}/{s.rounds}")
    return pd.DataFrame(records)


def _position(client: Client, row: int) -> int:
    return int(np.searchsorted(client.rows, row))


def _mean_rapport(chosen: dict[str, int], by_id: dict[str, Client]) -> float:
    values = [by_id[rid].rapport[_position(by_id[rid], row)] for rid, row in chosen.items()]
    return float(np.mean(values)) if values else float("nan")


def report(results: pd.DataFrame, s: Settings, plot: Path | None) -> str:
    overall = results.groupby("policy", sort=False)[
        ["share_of_oracle", "top_priority_met", "assigned"]
    ].mean()
    first = results[results["round"] == 1].set_index("policy")["share_of_oracle"]
    last = results[results["round"] == s.rounds].set_index("policy")["share_of_oracle"]
    lines = [
        f"Settings: {s}",
        "",
        "| policy | true rapport, share of oracle | top priority met | assigned "
        f"| round 1 → round {s.rounds} (share of oracle) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in POLICIES:
        row = overall.loc[name]
        lines.append(
            f"| {name} | {row['share_of_oracle']:.1%} | {row['top_priority_met']:.1%} "
            f"| {row['assigned']:.1%} | {first[name]:.1%} → {last[name]:.1%} |"
        )
    if plot is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            lines.append("\n(matplotlib is not installed: no plot written)")
        else:
            figure, axis = plt.subplots(figsize=(7, 4))
            for name in POLICIES:
                series = results[results["policy"] == name]
                axis.plot(series["round"], series["share_of_oracle"], marker="o", label=name)
            axis.set_xlabel("round of referrals (check-ins accumulate between rounds)")
            axis.set_ylabel("mean true rapport, share of oracle")
            axis.set_title(f"Simulated clinics, seed {s.seed}")
            axis.grid(alpha=0.3)
            axis.legend()
            figure.tight_layout()
            figure.savefig(plot, dpi=120)
            lines.append(f"\nPlot written to {plot}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--rounds", type=int, default=Settings.rounds)
    parser.add_argument("--plot", type=Path, default=Path("docs/quality.png"))
    args = parser.parse_args()
    settings = Settings(seed=args.seed, rounds=args.rounds)
    results = simulate(settings, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(report(results, settings, args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
