"""Attacks and faults from the outside audit (issue 13) that files and the CLI must withstand."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
from tests.conftest import DATA, table_of, therapist


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
