"""Directory and referral validation: every problem, located, in words a coordinator can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.directory import load_directory
from matcher.schema import (
    DIRECTORY_FIELDS,
    DIRECTORY_RULES,
    InvalidInput,
    Problem,
    load_table,
    parse_table,
    read_table,
    to_number,
    validate_table,
)
from tests.conftest import DATA, table_of, therapist


def problems_of(rows: list[dict[str, object]]) -> list[Problem]:
    return validate_table(table_of(rows), DIRECTORY_FIELDS, "d.csv", DIRECTORY_RULES)  # type: ignore[arg-type]


def test_the_demo_directory_is_valid() -> None:
    frame = read_table(DATA / "therapists.csv")
    assert validate_table(frame, DIRECTORY_FIELDS, "therapists.csv", DIRECTORY_RULES) == []


def test_missing_column_is_named() -> None:
    row = therapist("a")
    del row["fee"]
    [problem] = problems_of([row])
    assert (problem.row, problem.column) == (1, "fee")
    assert "missing" in problem.message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("fee", "abc", "expected a number from 0 to 2000"),
        ("fee", "-5", "expected a number from 0 to 2000"),
        ("open_slots", "1.5", "expected a whole number"),
        ("years_experience", "inf", "expected a number"),
        ("accepting_new_clients", "maybe", "expected true or false"),
        ("next_opening", "next week", "expected a date"),
        ("style_past", "4", "expected a number from -3 to 3"),
        ("rapport_heard", "6", "expected a number from 1 to 5"),
        ("concerns", "anxiety;anxeity", 'unknown concern "anxeity"; did you mean "anxiety"?'),
        ("states", "NC;Carolina", 'unknown state "Carolina"'),
        ("name", "", "a name is required here"),
        ("concerns", "", "at least one concern is required here"),
    ],
)
def test_bad_cells_are_located_and_explained(column: str, value: str, expected: str) -> None:
    problems = problems_of([therapist("a"), therapist("b", **{column: value})])
    assert [(p.row, p.column) for p in problems] == [(3, column)]
    assert expected in problems[0].message
    assert str(problems[0]).startswith(f"d.csv, row 3, column {column}")


def test_duplicate_ids_are_reported_on_every_row() -> None:
    problems = problems_of([therapist("a"), therapist("b"), therapist("a")])
    assert {(p.row, p.column) for p in problems} == {(2, "therapist_id"), (4, "therapist_id")}
    assert all("duplicate" in p.message for p in problems)


def test_rapport_figures_need_checkins() -> None:
    problems = problems_of([therapist("a", checkins_n="0", rapport_heard="4")])
    assert [(p.row, p.column) for p in problems] == [(2, "rapport_heard")]


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of(
        [therapist("a", fee="x"), therapist("b", concerns="sadness"), therapist("c", gender="?")]
    )
    assert [(p.row, p.column) for p in problems] == [
        (2, "fee"),
        (3, "concerns"),
        (4, "gender"),
    ]


def test_extra_columns_are_kept_and_ignored(tmp_path: Path) -> None:
    frame = table_of([therapist("a")])
    frame["clinic_notes"] = "x"
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    directory = load_directory(path)
    assert "clinic_notes" in directory.table.columns


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file"),
        (b"therapist_id,name\nT1,Jos\xe9\n", "not UTF-8"),
        (b"just one line of prose without commas\n", "header row"),
        (b'therapist_id,name\n"T1,unclosed\n', "not a well-formed CSV"),
    ],
)
def test_unreadable_files_fail_clearly(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        load_directory(path)
    assert expected in str(caught.value)
    assert caught.value.problems[0].file == "bad.csv"


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"therapist_id,name\nT1,Ann\nT2,Jos\xe9\n")
    with pytest.raises(InvalidInput) as caught:
        read_table(path)
    assert caught.value.problems[0].row == 3


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    table_of([therapist("a")]).iloc[:0].to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="no rows"):
        load_directory(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_directory(tmp_path / "nope.csv")
    with pytest.raises(InvalidInput, match="folder"):
        load_directory(tmp_path)


def test_parquet_directories_validate_and_load(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "therapists.csv").head(300)
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, index=False)
    from_parquet = load_directory(path)
    from_csv = load_directory(DATA / "therapists.csv")
    assert len(from_parquet) == 300
    assert (from_parquet.tags["concerns"].bits == from_csv.tags["concerns"].bits[:300]).all()
    assert (from_parquet.next_opening == from_csv.next_opening[:300]).all()


def test_invalid_parquet_reports_cells(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "therapists.csv").head(5)
    frame.loc[2, "fee"] = -10
    frame.loc[3, "concerns"] = "anxiety;worry"
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(InvalidInput) as caught:
        load_directory(path)
    assert [(p.row, p.column) for p in caught.value.problems] == [(4, "fee"), (5, "concerns")]


def test_a_corrupt_parquet_file_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        load_directory(path)


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.text(alphabet="0123456789 ()-.+\t٣", max_size=30),
            st.builds(
                "{}{}{}@{}.org".format,
                st.from_regex(r"[a-z.]{1,8}", fullmatch=True),
                st.sampled_from(["", " ", "\x1c", "\x1f", "\x0b", "\u00a0", "\u2003", "<"]),
                st.from_regex(r"[a-z]{0,4}", fullmatch=True),
                st.sampled_from(["example", "mail\x1dbox", "b"]),
            ),
            st.from_regex(r"(https?|HTTP|javascript):(//)?[a-z.\u00a0 ]{1,15}(/[a-z?#]{0,8})?",
                          fullmatch=True),
        ),
        min_size=1,
        max_size=12,
    ),
    kind=st.sampled_from(["phone", "email", "url"]),
)  # fmt: skip
def test_the_vectorised_contact_check_agrees_with_the_per_value_one(
    cells: list[str], kind: Literal["phone", "email", "url"]
) -> None:
    from matcher.schema import Field, valid_contact

    field = Field("contact", kind, required=False)
    checked = field.check(pd.Series(cells, dtype="string")).tolist()
    expected = [not c.strip() or valid_contact(kind, c) for c in cells]
    assert checked == expected


def test_parsing_leaves_the_callers_text_and_loading_parses_the_same() -> None:
    """``load_table`` parses its own frame in place (so each text column's memory goes as it
    is parsed); ``parse_table`` must still leave a caller's frame as text."""
    frame = read_table(DATA / "therapists.csv")
    before = frame.copy()
    typed = parse_table(frame, DIRECTORY_FIELDS)
    pd.testing.assert_frame_equal(frame, before)
    assert typed["fee"].dtype.kind == "f" and frame["fee"].dtype != typed["fee"].dtype
    loaded = load_table(DATA / "therapists.csv", DIRECTORY_FIELDS, DIRECTORY_RULES)
    pd.testing.assert_frame_equal(loaded, typed)


NUMBERISH = st.text(alphabet="0123456789.eE+- infaINFx,_", max_size=8)


@given(cells=st.lists(st.one_of(NUMBERISH, st.floats(allow_nan=False).map(repr)), max_size=20))
def test_numbers_parse_as_pandas_would_whether_or_not_every_cell_is_a_number(
    cells: list[str],
) -> None:
    """``to_number`` parses with Arrow when every cell is a number and falls back to pandas
    otherwise; either way the values and the blanks are pandas' own."""
    column = pd.Series(cells, dtype="string", name="fee")
    stripped = column.str.strip()
    expected = pd.to_numeric(stripped.where(stripped != ""), errors="coerce").astype("float64")
    pd.testing.assert_series_equal(to_number(column), expected, check_exact=True)


@pytest.mark.parametrize(
    ("kind", "text", "link"),
    [
        ("phone", "(919) 555-0142", "tel:9195550142"),
        ("phone", "+1 919.555.0142", "tel:+19195550142"),
        ("phone", "call me", None),
        ("email", "ana.b@example.com", "mailto:ana.b@example.com"),
        ("email", "a?cc=x@evil.example.com", "mailto:a%3Fcc%3Dx@evil.example.com"),
        ("email", "not-an-address", None),
        ("url", "https://example.com/book?x=1", "https://example.com/book?x=1"),
        ("url", "javascript:alert(1)", None),
        ("url", "data:text/html,<b>x</b>", None),
        ("phone", "", None),
    ],
)
def test_a_contact_becomes_a_link_only_of_its_own_kind(
    kind: str, text: str, link: str | None
) -> None:
    from matcher.schema import contact_link

    assert contact_link(kind, text) == link  # type: ignore[arg-type]


def test_an_unknown_state_lists_the_codes_as_a_file_writes_them() -> None:
    """'expected one of al, ak, az…' (found trying the app): the codes are upper case."""
    [states] = [f for f in DIRECTORY_FIELDS if f.name == "states"]
    said = states.describe("ZZ")
    assert 'unknown state "ZZ"; expected one of AL, AK, AZ' in said


def test_the_format_says_what_each_column_allows_from_the_checks_themselves() -> None:
    """The method page's file format listed only a kind ("words"), no allowed values."""
    from matcher.schema import DIRECTORY_FIELDS

    allowed = {f.name: f.allowed for f in DIRECTORY_FIELDS}
    assert allowed["fee"] == "a number from 0 to 2,000"
    assert allowed["open_slots"] == "a whole number from 0 to 500"
    assert allowed["checkins_n"] == "a whole number from 0 to 1,000,000"  # not 1e+06
    assert allowed["formats"] == "one or more of in_person, telehealth, separated by ;"
    assert allowed["states"].startswith("one or more of AL, AK, AZ") and "(51)" in allowed["states"]
    assert allowed["gender"] == "one of woman, man, nonbinary"
    assert "…" not in allowed["concerns"] and "psychosis" in allowed["concerns"]  # all 21
    assert allowed["sliding_scale"] == "true or false"
    assert allowed["next_opening"] == "a date, YYYY-MM-DD"
    assert allowed["website"] == "a web address (http or https)"
