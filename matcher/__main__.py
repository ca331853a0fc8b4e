"""Command line: ``python -m matcher rank|validate|triage|synth`` (DESIGN.md §5).

Exit status: 0 success, 1 invalid input (a readable message naming file, row, column and value;
never a traceback), 2 usage errors. Nothing is half-written: outputs are written atomically.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from matcher import synth
from matcher import vocabulary as V
from matcher import words as W
from matcher.checkins import read_checkins
from matcher.directory import load_directory
from matcher.explain import (
    contribution_label,
    describe_exclusion,
    describe_main_concern,
    describe_relaxation,
    describe_unassigned,
    describe_unknown,
    explain,
    summary,
)
from matcher.preferences import load_preferences
from matcher.referrals import read_referrals, referral_problems
from matcher.report import spreadsheet_safe
from matcher.schema import (
    DIRECTORY_FIELDS,
    DIRECTORY_RULES,
    InvalidInput,
    Problem,
    count_problems,
    read_table,
    validate_table,
    write_table,
)
from matcher.scoring import Ranking, rank
from matcher.store import Store, StoreError
from matcher.triage import Outcome, Reconciliation, outcome_table, triage

MAX_SHOWN_PROBLEMS = 200
DEMO_COORDINATOR = "coordinator"

DESCRIPTION = """\
Rapport-first therapist matching.

  rank      rank a directory's therapists for one client's preferences, with reasons
  validate  check a directory or referral file and list every problem in it
  triage    assign a referral queue to therapists' open slots, with reasons
  synth     make a realistic synthetic directory (and referral queue) for trials
  checkins import   import a clinic's existing check-in data
  add-coordinator / demo-account   coordinator logins (stored as salted hashes)

Run 'python -m matcher COMMAND --help' for the options of each command.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except InvalidInput as error:
        _print_problems(error.problems)
        return 1
    except BrokenPipeError:  # `... | head` closed the pipe; not an error of ours
        return 0
    except sqlite3.Error as error:  # locked past the timeout, read-only, full, corrupt
        print(f"The coordinator database can't be used: {error}; nothing was changed.",
              file=sys.stderr)  # fmt: skip
        return 1
    except OSError as error:  # a folder where a file was expected, no permission, disk full
        where = f" {error.filename}" if error.filename else ""
        print(f"Can't use{where}: {error.strerror or error}; nothing was changed.",
              file=sys.stderr)  # fmt: skip
        return 1
    except EOFError:  # a prompt with no input to read (e.g. no terminal)
        print("No input was given; nothing was changed.", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m matcher",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    ranker = commands.add_parser(
        "rank",
        help="rank therapists for one client",
        description="Rank the therapists in a directory for one client and say why each fits.",
        epilog="Example: python -m matcher rank --directory data/therapists.csv "
        "--preferences data/example_preferences.json --top 5",
    )
    ranker.add_argument("--directory", required=True, type=Path, help="directory CSV or Parquet")
    ranker.add_argument("--preferences", required=True, type=Path, help="client preferences JSON")
    ranker.add_argument("--top", type=_positive, default=10, help="how many matches (default 10)")
    ranker.add_argument("--format", choices=("json", "table"), default="table",
                        help="json for programs, table for people (default)")  # fmt: skip
    ranker.add_argument("--today", type=_date, default=None,
                        help="date to measure availability from, YYYY-MM-DD (default: today)")  # fmt: skip
    ranker.set_defaults(run=_rank)

    triager = commands.add_parser(
        "triage",
        help="assign a referral queue to open slots",
        description="Assign a referral queue to therapists' open slots: risk-flagged referrals "
        "go to the crisis protocol; then urgent, soon and routine referrals in turn, "
        "maximising the total match score without exceeding any therapist's open slots. "
        "Writes one row per referral (CSV), spreadsheet-safe.",
        epilog="Example: python -m matcher triage --directory data/therapists.csv "
        "--referrals data/referrals.csv --out assignments.csv",
    )
    triager.add_argument("--directory", required=True, type=Path, help="directory CSV or Parquet")
    triager.add_argument("--referrals", required=True, type=Path, help="referral queue CSV")
    triager.add_argument("--out", type=Path, help="output CSV (default: print to the screen)")
    triager.add_argument("--today", type=_date, default=None,
                         help="date to count waiting days from, YYYY-MM-DD (default: today)")  # fmt: skip
    triager.add_argument("--engine", choices=("local", "dask"), default="local",
                         help="local: this process (default); dask: a Dask cluster, for the "
                         "nightly batch (needs pip install -e '.[scale]'); the same output")  # fmt: skip
    triager.add_argument("--scheduler", metavar="ADDRESS",
                         help="with --engine dask: a running scheduler, e.g. tcp://10.0.0.5:8786 "
                         "(default: a local cluster of two worker processes)")  # fmt: skip
    triager.set_defaults(run=_triage)

    adder = commands.add_parser(
        "add-coordinator",
        help="create a coordinator login",
        description="Create a coordinator account in the database (MATCHER_DB, default "
        "var/matcher.db). The password is asked twice and never shown; only a salted scrypt "
        "hash is stored.",
    )
    adder.add_argument("username")
    adder.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input (for scripts)")  # fmt: skip
    adder.set_defaults(run=_add_coordinator)

    demo = commands.add_parser(
        "demo-account",
        help="create a one-time demo coordinator login if there is none",
        description="On a database with no coordinator yet, create one with a random "
        "password and print it once, so a newcomer can reach the coordinator pages.",
    )
    demo.set_defaults(run=_demo_account)

    checkins = commands.add_parser(
        "checkins",
        help="import a clinic's existing check-in data",
        description="Work with rapport check-ins stored in the database (MATCHER_DB).",
    )
    checkin_commands = checkins.add_subparsers(title="commands", metavar="COMMAND", required=True)
    importer = checkin_commands.add_parser(
        "import",
        help="import check-ins from a CSV file",
        description="Import a clinic's existing feedback: columns therapist_id, date, session "
        "and one 1-5 column per rapport item (" + ", ".join(V.ITEMS) + "). The file is "
        "checked as a whole; one bad row and nothing is imported.",
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--directory", type=Path,
                          help="also check that every therapist_id is in this directory")  # fmt: skip
    importer.set_defaults(run=_import_checkins)

    validator = commands.add_parser(
        "validate",
        help="check a directory or referral file",
        description="List every problem in a directory (CSV/Parquet), a referral queue (CSV) or "
        "client preferences (JSON). The kind of file is recognised from its name and columns. "
        "Exit status 1 when invalid.",
    )
    validator.add_argument("file", type=Path)
    validator.add_argument("--kind", choices=("directory", "referrals", "preferences"), default=None,
                           help="the kind of file, when its columns do not make it clear")  # fmt: skip
    validator.set_defaults(run=_validate)

    maker = commands.add_parser(
        "synth",
        help="make a synthetic directory and referral queue",
        description="Write DIR/therapists.csv (and DIR/referrals.csv) with realistic, "
        "deterministic synthetic data: the same seed always gives the same files.",
    )
    maker.add_argument("--therapists", type=_positive, required=True, metavar="N")
    maker.add_argument("--referrals", type=_non_negative, default=0, metavar="M")
    maker.add_argument("--seed", type=int, required=True, metavar="S")
    maker.add_argument("--out", type=Path, required=True, metavar="DIR")
    maker.add_argument("--as-of", type=_date, default=synth.DEFAULT_AS_OF,
                       help="the date the data describes (default %(default)s)")  # fmt: skip
    maker.add_argument("--parquet", action="store_true",
                       help="write the directory as therapists.parquet instead of CSV")  # fmt: skip
    maker.set_defaults(run=_synth)
    return parser


# ---------------------------------------------------------------------------------------------
# Commands


def _load_all(*loads: tuple[Callable[[Path], Any], Path]) -> list[Any]:
    """Load several input files, reporting the problems of all of them together."""
    problems: list[Problem] = []
    loaded = []
    for load, path in loads:
        try:
            loaded.append(load(path))
        except InvalidInput as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidInput(problems)
    return loaded


def _rank(args: argparse.Namespace) -> int:
    directory, preferences = _load_all(
        (load_directory, args.directory), (load_preferences, args.preferences)
    )
    ranking = rank(directory, preferences, top=args.top, today=args.today)
    if args.format == "json":
        print(json.dumps(_ranking_json(ranking, preferences, directory), indent=2))
    else:
        print(_ranking_table(ranking, preferences, directory))
    return 0


def _add_coordinator(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Same password again: ") != password:
            print("The two passwords differ; nothing was changed.", file=sys.stderr)
            return 1
    try:
        Store().add_coordinator(args.username, password)
    except StoreError as error:
        print(f"{error}; nothing was changed.", file=sys.stderr)
        return 1
    print(f'Coordinator "{args.username}" can now sign in.')
    return 0


def _demo_account(args: argparse.Namespace) -> int:
    store = Store()
    if store.has_coordinators():
        print(f"Coordinator sign-in: use your account (database {store.path}); add one with "
              "`python -m matcher add-coordinator NAME`.")  # fmt: skip
        return 0
    password = secrets.token_urlsafe(12)
    store.add_coordinator(DEMO_COORDINATOR, password)
    print(
        "\n  A demo coordinator account was created. It is shown this once:\n"
        f"    username: {DEMO_COORDINATOR}\n    password: {password}\n"
        "  Sign in at the app's /queue page (the Referral queue). Add real accounts with\n"
        "  `python -m matcher add-coordinator NAME`.\n"
    )
    return 0


def _import_checkins(args: argparse.Namespace) -> int:
    directory = load_directory(args.directory) if args.directory is not None else None
    rows = read_checkins(args.file, directory)
    count = Store().import_checkins(rows, "command line")
    print(f"Imported {count:,} check-ins from {args.file.name}.")
    return 0


def _triage(args: argparse.Namespace) -> int:
    if args.scheduler and args.engine != "dask":
        print("--scheduler needs --engine dask; nothing was written.", file=sys.stderr)
        return 2
    directory, queue = _load_all((load_directory, args.directory), (read_referrals, args.referrals))
    today = args.today or date.today()
    tiers: list[Reconciliation] = []
    if args.engine == "dask":
        from matcher.distributed import DaskEngine, EngineUnavailable

        try:
            with DaskEngine(args.scheduler) as engine:
                outcomes = triage(directory, queue, today, progress=_progress, engine=engine,
                                  reconciled=tiers.append)  # fmt: skip
        except EngineUnavailable as error:
            print(f"The Dask engine can't start: {error}; nothing was written.", file=sys.stderr)
            return 1
    else:
        outcomes = triage(directory, queue, today, progress=_progress, reconciled=tiers.append)
    table = spreadsheet_safe(outcome_table(outcomes, outcome_words))
    if args.out:
        write_table(table, args.out)
        counts = table["status"].value_counts()
        print(
            f"Wrote {args.out}: "
            + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("assigned", "unassigned", "crisis")),
            file=sys.stderr,
        )
        if any(t.shared for t in tiers):
            print("Therapists licensed in several states, shortlisted from more than one state "
                  "(of them, asked for beyond their slots), by tier: "
                  + ", ".join(f"{t.urgency} {t.shared:,} ({t.contested:,})" for t in tiers)
                  + "; the states they join were solved together.", file=sys.stderr)  # fmt: skip
    else:
        print(table.to_csv(index=False, lineterminator="\n"), end="")
    return 0


def outcome_words(outcome: Outcome) -> tuple[str, str]:
    """(reasons, unassigned reason) of one triage outcome, for tables."""
    p = outcome.referral.preferences
    reasons = " | ".join(explain(outcome.match, p).reasons) if outcome.match else ""
    why = describe_unassigned(outcome.unassigned, p) if outcome.unassigned else ""
    return reasons, why


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and (done == total or done % 50 == 0):
        print(f"\rScoring referrals: {done}/{total}", end="\n" if done == total else "",
              file=sys.stderr)  # fmt: skip


def _validate(args: argparse.Namespace) -> int:
    if args.kind == "preferences" or (args.kind is None and args.file.suffix.lower() == ".json"):
        load_preferences(args.file)
        print(f"{args.file.name}: valid client preferences.")
        return 0
    frame = read_table(args.file)
    kind = args.kind or ("referrals" if "referral_id" in frame.columns else "directory")
    if kind == "referrals":
        problems = referral_problems(frame, args.file.name)
    else:
        problems = validate_table(frame, DIRECTORY_FIELDS, args.file.name, DIRECTORY_RULES)
    if problems:
        raise InvalidInput(problems)
    print(f"{args.file.name}: a valid {kind} file with {len(frame):,} rows.")
    return 0


def _synth(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InvalidInput([Problem(str(out), None, None, None, "--out must be a folder")])
    print(f"Generating {args.therapists:,} therapists (seed {args.seed})…", file=sys.stderr)
    table = synth.therapists(args.therapists, args.seed, args.as_of)
    name = "therapists.parquet" if args.parquet else "therapists.csv"
    write_table(table, out / name)
    print(f"Wrote {out / name}", file=sys.stderr)
    if args.referrals:
        queue = synth.referrals(args.referrals, args.seed, args.as_of)
        write_table(queue, out / "referrals.csv")
        print(f"Wrote {out / 'referrals.csv'} ({args.referrals:,} referrals)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# Output


def _ranking_json(ranking: Ranking, preferences: Any, directory: Any) -> dict[str, Any]:
    matches = []
    for match in ranking.matches:
        words = explain(match, preferences)
        x, a = match.practical, match.availability
        matches.append(
            {
                "therapist_id": match.therapist_id,
                "name": match.name,
                "score": round(match.score, 6),
                "baseline": match.baseline,
                "contributions": {g: round(v, 6) for g, v in match.contributions.items()},
                "rapport_measured": match.measured,
                "reasons": list(words.reasons),
                "why_not_higher": words.shortfall,
                "first_session": list(words.first_session),
                "checkins_n": match.rapport.checkins_n,
                "credentials": x.credentials,
                "city": x.city,
                "fee": x.fee,
                "formats": list(x.formats),
                "next_opening": a.next_opening.isoformat() if a.next_opening else None,
                "availability_confirmed": a.confirmed.isoformat() if a.confirmed else None,
                "availability_stale": a.stale,
                "distance_km": None if x.distance_km is None else round(x.distance_km, 1),
            }
        )
    main_concern = describe_main_concern(ranking, preferences)
    return {
        "matches": matches,
        "eligible": ranking.eligible,
        "total": ranking.total,
        "excluded": dict(ranking.excluded),
        "excluded_reasons": [
            describe_exclusion(c, n, preferences) for c, n in ranking.excluded.items()
        ],
        "relaxations": [
            {
                "constraint": r.constraint,
                "adds": r.adds,
                "description": describe_relaxation(r, preferences),
            }
            for r in ranking.relaxations
        ],
        "notes": _unknown_notes(ranking, directory) + ([main_concern] if main_concern else []),
    }


def _ranking_table(ranking: Ranking, preferences: Any, directory: Any) -> str:
    lines = list(summary(ranking, preferences))
    lines.extend(_unknown_notes(ranking, directory))
    main_concern = describe_main_concern(ranking, preferences)
    if main_concern:
        lines.append(main_concern)
    for place, match in enumerate(ranking.matches, start=1):
        words = explain(match, preferences)
        x = match.practical
        lines += [
            "",
            f"{place}. {match.name} ({x.credentials}, {x.city}) — {match.therapist_id}"
            f" — match {match.score:.0%}",
            *(f"   • {reason}" for reason in words.reasons),
        ]
        if words.shortfall:
            lines.append(f"   {words.shortfall}")
        formats = " or ".join(V.THERAPIST_FORMATS[f] for f in x.formats)
        lines.append(f"   {W.fee(x.fee, x.sliding_scale)}; {formats}")
        parts = "  ".join(f"{g} {contribution_label(match, g)}" for g in match.active)
        lines.append(f"   average match {match.baseline:.0%}, then by group: {parts}")
    return "\n".join(lines)


def _unknown_notes(ranking: Ranking, directory: Any) -> list[str]:
    column = {"language": "languages", "insurance": "insurance"}
    return [
        describe_unknown(term, value, directory.tags[column[term]].vocabulary)
        for term, value in ranking.unknown_terms.items()
    ]


def _print_problems(problems: Sequence[Problem]) -> None:
    listed = [p for p in problems if p.total is None]
    for problem in listed[:MAX_SHOWN_PROBLEMS]:
        print(problem, file=sys.stderr)
    total = count_problems(problems)
    if total > MAX_SHOWN_PROBLEMS:
        print(f"… and {total - MAX_SHOWN_PROBLEMS:,} more problems", file=sys.stderr)
    noun = "problem" if total == 1 else "problems"
    print(f"{total:,} {noun} found; nothing was changed.", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Argument types


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-22, got {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
