"""The command line as a coordinator uses it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DATA, ROOT

EXAMPLE = str(DATA / "example_preferences.json")
DEMO = str(DATA / "therapists.csv")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcher", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_rank_prints_explained_matches() -> None:
    result = run("rank", "--directory", DEMO, "--preferences", EXAMPLE, "--top", "5",
                 "--today", "2026-11-22")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1. " in result.stdout and "5. " in result.stdout and "6. " not in result.stdout
    assert "Why not higher" in result.stdout
    assert "can serve you" in result.stdout


def test_rank_json_matches_the_contract() -> None:
    result = run("rank", "--directory", DEMO, "--preferences", EXAMPLE, "--top", "3",
                 "--format", "json", "--today", "2026-11-22")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) >= {"matches", "excluded", "relaxations"}
    assert len(out["matches"]) == 3
    for match in out["matches"]:
        assert set(match) >= {"therapist_id", "name", "score", "contributions", "reasons"}
        total = match["baseline"] + sum(match["contributions"].values())
        assert total == pytest.approx(match["score"], abs=1e-5)
        assert 2 <= len(match["reasons"]) <= 4
    assert all(r["adds"] > 0 and r["description"] for r in out["relaxations"])


def test_validate_accepts_good_files() -> None:
    for path in (DEMO, str(DATA / "referrals.csv"), EXAMPLE):
        result = run("validate", path)
        assert result.returncode == 0, result.stderr
        assert "valid" in result.stdout


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    frame = pd.read_csv(DEMO, dtype=str, keep_default_na=False).head(10)
    frame.loc[2, "fee"] = "lots"
    frame.loc[5, "modalities"] = "cbt;hypnosis"
    frame.loc[7, "therapist_id"] = frame.loc[1, "therapist_id"]
    path = tmp_path / "clinic.csv"
    frame.to_csv(path, index=False)
    result = run("validate", str(path))
    assert_clean_failure(result)
    assert 'clinic.csv, row 4, column fee: "lots" — expected a number' in result.stderr
    assert 'unknown approach "hypnosis"' in result.stderr
    assert "row 9, column therapist_id" in result.stderr
    assert "4 problems found" in result.stderr


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01\x02binary", b"name\nonly one column\n", b"a,b\n\xff\xfe,1\n"]
)
def test_validate_bad_files_never_trace(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    assert_clean_failure(run("validate", str(path)))


def test_rank_reports_problems_in_both_files(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"state": "NC", "concerns": ["anxiety", "wory"]}')
    result = run("rank", "--directory", str(tmp_path / "missing.csv"), "--preferences", str(bad))
    assert_clean_failure(result)
    assert "missing.csv" in result.stderr and 'did you mean "worry"' not in result.stderr
    assert 'unknown concern "wory"' in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("frobnicate",),
        ("rank", "--directory", DEMO),
        ("rank", "--directory", DEMO, "--preferences", EXAMPLE, "--top", "0"),
        ("synth", "--therapists", "ten", "--seed", "1", "--out", "x"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert_clean_failure(run(*args), code=2)


def test_help_is_readable() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("rank", "validate", "synth"):
        assert command in result.stdout
    assert "Example:" in run("rank", "--help").stdout


def test_synth_writes_valid_deterministic_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("synth", "--therapists", "300", "--referrals", "20", "--seed", "5",
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert run("validate", str(out / "therapists.csv")).returncode == 0
    assert run("validate", str(out / "referrals.csv")).returncode == 0
    first = (out / "therapists.csv").read_bytes()
    run("synth", "--therapists", "300", "--seed", "5", "--out", str(out))
    assert (out / "therapists.csv").read_bytes() == first
    assert not list(out.glob(".*tmp"))  # nothing half-written left behind


def test_synth_parquet(tmp_path: Path) -> None:
    result = run("synth", "--therapists", "200", "--seed", "5", "--out", str(tmp_path),
                 "--parquet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert run("validate", str(tmp_path / "therapists.parquet")).returncode == 0


def test_synth_refuses_a_file_as_out(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    assert_clean_failure(run("synth", "--therapists", "10", "--seed", "1", "--out", str(target)))
    assert target.read_text() == "keep me"


def test_validate_preferences_json(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    path.write_text('{"state": "NC", "priorities": {"herd": 3}}')
    result = run("validate", str(path))
    assert_clean_failure(result)
    assert 'client.json, field priorities.herd: unknown key "herd"; did you mean "heard"?' in (
        result.stderr
    )
