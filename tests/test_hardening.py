"""Attacks and faults from the outside audit (issue 13) that files and the CLI must withstand."""

from __future__ import annotations

import io
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matcher import vocabulary as V
from matcher.__main__ import main
from matcher.directory import load_directory
from matcher.schema import (
    DIRECTORY_FIELDS,
    DIRECTORY_RULES,
    MAX_PROBLEMS,
    UPLOAD_MAX_ROWS,
    InvalidInput,
    Upload,
    count_problems,
    read_table,
    validate_table,
)
from matcher.store import Store
from tests.conftest import DATA, ROOT, table_of, therapist


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_parquet_bomb_is_refused_from_its_metadata_in_bounded_memory(tmp_path: Path) -> None:
    """Two million rows in a file of a few hundred KB: refused before any row is read."""
    rows = 2_000_000
    bomb = pa.table(
        {
            "therapist_id": pa.array(np.zeros(rows, dtype=np.int64)),
            "bio": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * 2000])
            ),
        }
    )
    path = tmp_path / "bomb.parquet"
    pq.write_table(bomb, path, compression="zstd")
    data = path.read_bytes()
    del bomb
    assert len(data) < 2_000_000
    before = peak_mb()
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="2,000,000 rows; at most 50,000"):
        load_directory(Upload("bomb.parquet", data), max_rows=UPLOAD_MAX_ROWS)
    assert time.perf_counter() - started < 5
    assert peak_mb() - before < 200  # reading it would take gigabytes


def test_a_long_csv_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    text = "therapist_id,name\n" + "".join(f"T{i},N\n" for i in range(20))
    with pytest.raises(InvalidInput, match="20 rows; at most 10"):
        read_table(Upload("long.csv", text.encode()), max_rows=10)
    assert len(read_table(Upload("long.csv", text.encode()), max_rows=20)) == 20


def test_rejecting_a_file_full_of_bad_cells_stops_listing_and_summarises() -> None:
    rows = 100_000
    frame = pd.DataFrame({field.name: ["?"] * rows for field in DIRECTORY_FIELDS})
    started = time.perf_counter()
    problems = validate_table(frame, DIRECTORY_FIELDS, "bad.csv", DIRECTORY_RULES)
    seconds = time.perf_counter() - started
    listed = [p for p in problems if p.row is not None]
    assert len(listed) == MAX_PROBLEMS
    assert [p.row for p in listed] == sorted(p.row for p in listed)  # in row order
    assert count_problems(problems) > 2_000_000
    summaries = [p for p in problems if p.row is None and p.column is not None]
    assert summaries and all("more problems" in p.message for p in summaries)
    assert seconds < 60  # the full list took 103 s and 2.8 GB before


def test_a_few_bad_cells_are_all_listed_with_their_count() -> None:
    rows = [therapist(f"T{i}") for i in range(3)]
    rows[1]["fee"] = "free"
    problems = validate_table(table_of(rows), DIRECTORY_FIELDS, "d.csv", DIRECTORY_RULES)
    assert count_problems(problems) == len(problems) == 1


def test_columns_that_differ_only_by_spaces_are_refused(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "therapists.csv", dtype=str, keep_default_na=False).head(5)
    frame[" fee"] = frame["fee"]
    path = tmp_path / "twice.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="appears more than once") as caught:
        load_directory(path)
    assert caught.value.problems[0].column == "fee"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31"])
def test_implausible_dates_are_refused(day: str) -> None:
    rows = [therapist("a", next_opening=day), therapist("b")]
    problems = validate_table(table_of(rows), DIRECTORY_FIELDS, "d.csv", DIRECTORY_RULES)
    assert [(p.row, p.column) for p in problems] == [(2, "next_opening")]
    assert "between 1900 and 2100" in problems[0].message


def test_ids_that_differ_only_by_spaces_are_duplicates() -> None:
    rows = [therapist("T1"), therapist(" T1 ")]
    problems = validate_table(table_of(rows), DIRECTORY_FIELDS, "d.csv", DIRECTORY_RULES)
    assert any("duplicate therapist id" in p.message for p in problems)


# ---------------------------------------------------------------------------------------------
# The command line: a clear message and exit 1, never a traceback, nothing half-written


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher", *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"state":' + "[" * 100_000 + "]" * 100_000 + "}", "nested far too deeply"),
        ('{"state": "NC", "style": {"directive": ' + "9" * 5000 + "}}", "far too long"),
    ],
)
def test_hostile_json_is_a_message_not_a_traceback(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "client.json"
    path.write_text(text)
    for args in (("validate", str(path)),
                 ("rank", "--directory", str(DATA / "therapists.csv"), "--preferences", str(path))):  # fmt: skip
        result = cli(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert message in result.stderr


def test_out_pointing_at_a_folder_or_nowhere_writes_nothing(tmp_path: Path) -> None:
    for out in (tmp_path, tmp_path / "missing-parent" / "sub" / "x.csv"):
        if out != tmp_path:
            (tmp_path / "missing-parent").write_text("a file where a folder should be")
        result = cli("triage", "--directory", str(DATA / "therapists.csv"), "--referrals",
                     str(DATA / "referrals.csv"), "--out", str(out))  # fmt: skip
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "nothing was changed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["missing-parent"]  # no temp left


@pytest.mark.parametrize(
    "failure", ["attempt to write a readonly database", "database or disk is full"]
)
@pytest.mark.parametrize(
    "command",
    [["add-coordinator", "bob", "--password-stdin"], ["demo-account"], ["checkins", "import"]],
)
def test_a_database_that_cannot_be_written_is_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: str,
    command: list[str],
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError(failure)

    for method in ("add_coordinator", "import_checkins", "has_coordinators"):
        monkeypatch.setattr(Store, method, refuse)
    if command[0] == "checkins":
        rows = "therapist_id,date,session," + ",".join(V.ITEMS) + "\n"
        rows += "T0000001,2026-11-20,1," + ",".join(["4"] * len(V.ITEMS)) + "\n"
        (tmp_path / "c.csv").write_text(rows)
        command = [*command, str(tmp_path / "c.csv")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password-here\n"))
    assert main(command) == 1
    err = capsys.readouterr().err
    assert failure in err and "nothing was changed" in err
