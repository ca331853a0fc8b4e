"""Validation of the files people exchange: directory (CSV/Parquet) and referrals (CSV).

Each file kind is a tuple of :class:`Field` specs. One spec gives both the pandera check that
finds bad cells (all of them at once, lazily) and the sentence that says what was expected, so a
coordinator reads ``directory.csv, row 14, column fee: "abc" — expected a number from 0 to 2000``
instead of a traceback. Preferences (JSON) are checked by their pydantic model in
``preferences.py``; both report :class:`Problem` values.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute

from matcher import vocabulary as V

FIRST_ROW = 2  # a spreadsheet's row number of the first record
# Limits. A file is refused before it is read when it has more rows than its reader allows
# (Parquet: from its metadata; CSV: counted while its encoding is checked), so a small file
# that expands to millions of rows never reaches memory. The command line and batch jobs take
# national directories; an upload in the app is one clinic's and is held in a browser
# session's memory, so it gets a much lower cap.
MAX_ROWS = 5_000_000
UPLOAD_MAX_ROWS = 50_000
# Validation stops listing after this many problems and summarises the rest by column, so
# rejecting a bad file never costs more than accepting a good one.
MAX_PROBLEMS = 1_000
FIRST_YEAR, LAST_YEAR = 1900, 2100  # a plausible date in any of our files
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    total: int | None = None  # on the closing line of a truncated list: how many in all

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:  # tables have rows and columns; JSON has fields
            where.append(f"{'field' if self.row is None else 'column'} {self.column}")
        if self.value is None:
            return f"{', '.join(where)}: {self.message}"
        return f'{", ".join(where)}: "{_clip(self.value)}" — {self.message}'


class InvalidInput(Exception):
    """Raised with every problem found, never only the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


Kind = Literal[
    "text", "number", "integer", "bool", "date", "word", "words", "phone", "email", "url"
]

# Contact details are checked by shape, and a link must be a web address: anything else (a
# "javascript:" or "data:" URL, a file path) is refused, so it can never be rendered as a link.
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,25}$")
MAX_CONTACT = 300  # characters in one contact cell


def _number(value: float) -> str:
    """1,000,000 and 2.5, never 1e+06."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


@dataclass(frozen=True)
class Field:
    """A column of a file kind: what a cell must hold, and how to say so."""

    name: str
    kind: Kind
    required: bool = True  # a blank cell is a problem
    low: float | None = None
    high: float | None = None
    vocabulary: Mapping[str, str] | None = None  # closed vocabulary for word(s)
    noun: str = "value"  # "concern", for messages
    unique: bool = False
    optional_column: bool = False  # the whole column may be left out of a file

    def __post_init__(self) -> None:
        if self.vocabulary is not None:  # a plain dict: pandera deep-copies its checks
            object.__setattr__(self, "vocabulary", dict(self.vocabulary))

    @property
    def spelled(self) -> list[str]:
        """The closed vocabulary as a file writes it: "NC", not the lower case matched against
        (a key whose display is other words, such as a concern's, is written as the key)."""
        return [
            shown if isinstance(shown, str) and shown.lower() == key else key
            for key, shown in (self.vocabulary or {}).items()
        ]

    @property
    def allowed(self) -> str:
        """What a cell may hold, in words, for the file format's documentation."""
        if self.vocabulary is not None:
            codes = self.spelled
            # every code a clinic may need (21 concerns); the 51 states are well known
            few = len(codes) <= 25
            shown = ", ".join(codes if few else codes[:8]) + ("" if few else f", … ({len(codes)})")
            if self.kind == "words":
                return f"one or more of {shown}, separated by ;"
            return f"one of {shown}"
        if self.low is not None and self.high is not None:
            whole = "a whole number" if self.kind == "integer" else "a number"
            return f"{whole} from {_number(self.low)} to {_number(self.high)}"
        return {
            "bool": "true or false",
            "date": "a date, YYYY-MM-DD",
            "words": "any words, separated by ;",
            "phone": "a phone number",
            "email": "an email address",
            "url": "a web address (http or https)",
        }.get(self.kind, "any text")

    def blank(self, column: pd.Series) -> pd.Series:
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            return column.isna() | (column.astype("string").str.strip() == "")
        return column.isna()

    def check(self, column: pd.Series) -> pd.Series:
        """True where the cell is acceptable; vectorised (words checked once per distinct cell)."""
        blank = self.blank(column)
        if self.kind == "text":
            ok = ~blank
        elif self.kind in ("number", "integer"):
            values = to_number(column)
            ok = values.notna() & np.isfinite(values.fillna(0))
            if self.low is not None:
                ok &= values >= self.low
            if self.high is not None:
                ok &= values <= self.high
            if self.kind == "integer":
                ok &= values == values.round()
        elif self.kind == "bool":
            ok = to_bool(column).notna()
        elif self.kind == "date":
            dates = to_date(column)
            ok = dates.notna() & dates.dt.year.between(FIRST_YEAR, LAST_YEAR)
        elif self.kind in ("phone", "email", "url"):
            # Vectorised: contact cells are mostly distinct, so a check per distinct cell would
            # be a Python call per therapist (17 s of a 1M-row load). ASCII cells go through
            # Arrow's regex engine with patterns that mean there what valid_contact's mean in
            # Python's (pandas would fall back to Python per cell for \s or \d); the rare
            # other cells get valid_contact itself.
            text = column.astype("string").str.strip()
            pattern = _CONTACT_ASCII[self.kind]
            ok = (text.str.len() <= MAX_CONTACT) & text.str.match(pattern)
            if self.kind == "phone":
                ok &= text.str.count("[0-9]") >= 7
            ok = ok.fillna(False).astype(bool)
            other = (~text.str.isascii()).fillna(False).astype(bool)
            if other.any():
                ok[other] = np.array([valid_contact(self.kind, str(v)) for v in text[other]])
        else:
            ok = _per_distinct(column, self._word_cell_ok)
        return (blank & (not self.required)) | (~blank & ok)

    def describe(self, value: object) -> str:
        """What was expected, for one failing cell."""
        text = "" if _is_missing(value) else str(value).strip()
        if not text:
            return (
                f"a {self.noun} is required here"
                if self.kind != "words"
                else (f"at least one {self.noun} is required here")
            )
        if self.kind in ("number", "integer"):
            what = "a whole number" if self.kind == "integer" else "a number"
            if self.low is not None and self.high is not None:
                return f"expected {what} from {_num(self.low)} to {_num(self.high)}"
            if self.low is not None:
                return f"expected {what} of at least {_num(self.low)}"
            return f"expected {what}"
        if self.kind == "bool":
            return "expected true or false (yes/no also accepted)"
        if self.kind == "date":
            return f"expected a date such as 2026-11-22, between {FIRST_YEAR} and {LAST_YEAR}"
        if self.kind == "phone":
            return "expected a phone number such as (919) 555-0123"
        if self.kind == "email":
            return "expected an email address such as intake@clinic.example"
        if self.kind == "url":
            return "expected a web address starting with https:// (or http://)"
        if self.kind in ("word", "words") and self.vocabulary is not None:
            unknown = [word for word in split_words(text) if word.lower() not in self.vocabulary]
            if self.kind == "word" and not unknown:
                unknown = [text]
            spelled = self.spelled
            return "; ".join(V.unknown_word_message(word, self.noun, spelled) for word in unknown)
        return f"unexpected {self.noun}"

    def parse(self, column: pd.Series) -> pd.Series:
        """The typed column, after :meth:`check` passed for every cell."""
        if self.kind in ("number", "integer"):
            return to_number(column)
        if self.kind == "bool":
            return to_bool(column).fillna(False).astype(bool)
        if self.kind == "date":
            return to_date(column)
        if self.kind in ("text", "word", "words", "phone", "email", "url"):
            text = column.astype("string").fillna("").str.strip()
            return text.str.lower() if self.vocabulary is not None else text
        raise AssertionError(self.kind)

    def _word_cell_ok(self, cell: str) -> bool:
        words = split_words(cell)
        if self.kind == "word" and len(words) > 1:
            return False
        return self.vocabulary is None or all(word.lower() in self.vocabulary for word in words)


_URL = re.compile(r"^(?i:https?)://[^\s<>\"/?#@]+(?:[/?#][^\s<>\"]*)?$")
_CONTACT: Mapping[str, re.Pattern[str]] = {"phone": _PHONE, "email": _EMAIL, "url": _URL}
# The same patterns for ASCII text, spelled for Arrow's RE2: Python's \s on ASCII is these
# characters, and its \d is 0-9.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f "
_CONTACT_ASCII: Mapping[str, str] = {
    kind: pattern.pattern.replace(r"\s", _SPACE).replace(r"\d", "0-9")
    for kind, pattern in _CONTACT.items()
}


def valid_contact(kind: Literal["phone", "email", "url"], text: str) -> bool:
    """Whether ``text`` has the shape of a phone number, an email address or a web address."""
    text = text.strip()
    if len(text) > MAX_CONTACT or not _CONTACT[kind].match(text):
        return False
    return kind != "phone" or sum(ch.isdigit() for ch in text) >= 7


def contact_link(kind: Literal["phone", "email", "url"], text: str) -> str | None:
    """The link a contact cell may become, or None: 'tel:' and its digits, 'mailto:' and the
    address percent-quoted (so no '?cc=' or '&body=' rides along), or the checked http(s)
    address itself."""
    text = text.strip()
    if not valid_contact(kind, text):
        return None
    if kind == "phone":
        return "tel:" + "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if kind == "email":
        return "mailto:" + quote(text, safe="@")
    return text


@dataclass(frozen=True)
class RowRule:
    """A check across columns of one row, reported against ``column``."""

    name: str
    column: str
    needs: tuple[str, ...]
    check: Callable[[pd.DataFrame], pd.Series]
    message: str


def _rapport_rule(item: str) -> RowRule:
    column = f"rapport_{item}"

    def consistent(frame: pd.DataFrame) -> pd.Series:
        n = to_number(frame["checkins_n"])
        has_value = ~Field(column, "number").blank(frame[column])
        # A non-numeric count is reported by its own column check; do not pile on here.
        return n.isna() | ((n > 0) == has_value)

    return RowRule(
        f"rapport_needs_checkins:{item}",
        column,
        ("checkins_n", column),
        consistent,
        "a rapport figure needs checkins_n above 0, and checkins_n above 0 needs a figure",
    )


DIRECTORY_FIELDS: tuple[Field, ...] = (
    Field("therapist_id", "text", unique=True, noun="therapist id"),
    Field("name", "text", noun="name"),
    Field("credentials", "text", required=False),
    Field("years_experience", "number", low=0, high=70),
    Field("gender", "word", required=False, vocabulary=V.GENDERS, noun="gender"),
    Field("languages", "words", noun="language"),
    Field("identities", "words", required=False, vocabulary=V.PEOPLE, noun="identity"),
    Field("states", "words", vocabulary={s.lower(): s for s in V.STATES}, noun="state"),
    Field("city", "text", required=False),
    Field("lat", "number", required=False, low=-90, high=90),
    Field("lon", "number", required=False, low=-180, high=180),
    Field("formats", "words", vocabulary=V.THERAPIST_FORMATS, noun="session format"),
    Field("insurance", "words", required=False, noun="insurer"),
    Field("fee", "number", required=False, low=0, high=2000),
    Field("sliding_scale", "bool", required=False),
    Field("accepting_new_clients", "bool"),
    Field("open_slots", "integer", low=0, high=500),
    Field("next_opening", "date", required=False),
    Field("availability_confirmed", "date", required=False),
    Field("ages_served", "words", vocabulary=V.AGE_GROUPS, noun="age group"),
    Field("works_with_parents", "bool", required=False),
    Field("populations", "words", required=False, vocabulary=V.PEOPLE, noun="population"),
    Field("concerns", "words", vocabulary=V.CONCERNS, noun="concern"),
    Field("modalities", "words", vocabulary=V.APPROACHES, noun="approach"),
    *(
        Field(f"style_{axis}", "number", low=V.STYLE_MIN, high=V.STYLE_MAX)
        for axis in V.AXES
    ),
    Field("checkins_n", "integer", low=0, high=1_000_000),
    *(
        Field(f"rapport_{item}", "number", required=False, low=V.CHECKIN_MIN,
              high=V.CHECKIN_MAX)
        for item in V.ITEMS
    ),
    Field("bio", "text", required=False),
    # Optional contact columns: a directory without them is still valid.
    Field("phone", "phone", required=False, noun="phone number", optional_column=True),
    Field("email", "email", required=False, noun="email address", optional_column=True),
    Field("website", "url", required=False, noun="web address", optional_column=True),
    Field("booking_url", "url", required=False, noun="booking link", optional_column=True),
)  # fmt: skip
CONTACT_COLUMNS: tuple[str, ...] = ("phone", "email", "website", "booking_url")
DIRECTORY_RULES: tuple[RowRule, ...] = tuple(_rapport_rule(item) for item in V.ITEMS)

_URGENCY = {u: u for u in V.URGENCIES}
REFERRAL_FIELDS: tuple[Field, ...] = (
    Field("referral_id", "text", unique=True, noun="referral id"),
    Field("received", "date"),
    Field("urgency", "word", vocabulary=_URGENCY, noun="urgency"),
    Field("risk_self_harm", "bool", required=False),
    Field("risk_harm_others", "bool", required=False),
    Field("age_group", "word", required=False, vocabulary=V.AGE_GROUPS, noun="age group"),
    Field("state", "word", vocabulary={s.lower(): s for s in V.STATES}, noun="state"),
    Field("format", "word", required=False,
          vocabulary={**V.CLIENT_FORMATS, "online": "online"}, noun="session format"),
    Field("lat", "number", required=False, low=-90, high=90),
    Field("lon", "number", required=False, low=-180, high=180),
    Field("max_km", "number", required=False, low=1, high=5000),
    Field("insurance", "text", required=False),
    Field("max_fee", "number", required=False, low=0, high=2000),
    Field("sliding_scale_ok", "bool", required=False),
    Field("language", "text", required=False),
    Field("concerns", "words", required=False, vocabulary=V.CONCERNS, noun="concern"),
    Field("modalities_prefer", "words", required=False, vocabulary=V.APPROACHES,
          noun="approach"),
    Field("modalities_avoid", "words", required=False, vocabulary=V.APPROACHES,
          noun="approach"),
    *(
        Field(f"priority_{item}", "integer", required=False, low=0, high=V.PRIORITY_MAX)
        for item in V.ITEMS
    ),
    *(
        Field(f"style_{axis}", "integer", required=False, low=V.STYLE_MIN, high=V.STYLE_MAX)
        for axis in V.AXES
    ),
    Field("therapist_gender", "word", required=False, vocabulary=V.GENDERS, noun="gender"),
    Field("therapist_gender_required", "bool", required=False),
    Field("therapist_identities", "words", required=False, vocabulary=V.PEOPLE,
          noun="identity"),
    Field("therapist_identities_required", "bool", required=False),
    Field("populations", "words", required=False, vocabulary=V.PEOPLE, noun="population"),
    Field("notes", "text", required=False),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Upload:
    """A file received in memory (from the app), read without ever touching the disk."""

    name: str
    data: bytes


Source = str | Path | Upload


def source_name(source: Source) -> str:
    return source.name if isinstance(source, Upload) else Path(source).name


def read_table(source: Source, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Read a CSV (all cells as text) or a Parquet file; unreadable files, files with more than
    ``max_rows`` rows and headers that repeat a column raise InvalidInput."""
    name = source_name(source)
    if not isinstance(source, Upload):
        path = Path(source)
        if not path.exists():
            raise InvalidInput([Problem(name, None, None, None, f"no such file: {path}")])
        if path.is_dir():
            raise InvalidInput([Problem(name, None, None, None, "this is a folder, not a file")])
    if Path(name).suffix.lower() in PARQUET_SUFFIXES:
        frame = _read_parquet(source, max_rows)
    else:
        frame = _read_csv(source, max_rows)
    frame.columns = [str(column).strip() for column in frame.columns]
    repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise InvalidInput(
            [
                Problem(name, 1, column, None,
                        "this column appears more than once (names are compared without the "
                        "spaces around them)")
                for column in repeated
            ]
        )  # fmt: skip
    return frame


def _too_many(name: str, rows: int, max_rows: int) -> InvalidInput:
    return InvalidInput(
        [Problem(name, None, None, None,
                 f"the file has {rows:,} rows; at most {max_rows:,} can be read here")]
    )  # fmt: skip


def _opened(source: Source) -> Path | io.BytesIO:
    return io.BytesIO(source.data) if isinstance(source, Upload) else Path(source)


def _read_parquet(source: Source, max_rows: int) -> pd.DataFrame:
    """Checks the row count in the file's metadata before reading any row."""
    import pyarrow.parquet as pq

    name = source_name(source)
    try:
        metadata = pq.ParquetFile(_opened(source)).metadata
    except Exception as error:  # pyarrow raises several unrelated types for bad files
        raise InvalidInput(
            [Problem(name, None, None, None, f"not a readable Parquet file ({error})")]
        ) from None
    if metadata.num_rows > max_rows:
        raise _too_many(name, metadata.num_rows, max_rows)
    try:
        return pd.read_parquet(_opened(source))
    except Exception as error:
        raise InvalidInput(
            [Problem(name, None, None, None, f"not a readable Parquet file ({error})")]
        ) from None


def _read_csv(source: Source, max_rows: int) -> pd.DataFrame:
    name = source_name(source)
    problem, lines = _text_problem(source)
    if problem is not None:
        raise InvalidInput([replace(problem, file=name)])
    if lines - 1 > max_rows:  # lines, so a quoted cell with line breaks counts more than once
        raise _too_many(name, lines - 1, max_rows)  # the header is one line
    try:
        # pyarrow's reader: six times faster than the C one on a 1M-row directory, at 60 % of
        # its memory. Cells stay text; every check and parse strips them.
        frame = pd.read_csv(
            _opened(source), dtype=str, keep_default_na=False, encoding="utf-8-sig",
            engine="pyarrow",
        )  # fmt: skip
    except (pd.errors.ParserError, csv.Error, ValueError) as error:
        raise InvalidInput(
            [Problem(name, None, None, None, f"not a well-formed CSV file ({error})")]
        ) from None
    if frame.columns.size < 2:
        raise InvalidInput([Problem(name, 1, None, None, "expected a comma-separated header row")])
    return frame


def _text_problem(source: Source, chunk: int = 1 << 24) -> tuple[Problem | None, int]:
    """Why a file is not UTF-8 CSV text (empty, binary, or badly encoded), and how many lines
    it has; read in chunks so that a large directory is never held in memory twice."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, seen_text, last = 1, False, b"\n"
    opened = _opened(source)
    with opened if isinstance(opened, io.BytesIO) else opened.open("rb") as handle:
        while block := handle.read(chunk):
            if b"\x00" in block:
                return Problem("", None, None, None, "this is not a CSV text file"), line
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                at = line + block[: error.start].count(b"\n")
                return Problem(
                    "", at, None, None,
                    f"not UTF-8 text (byte 0x{block[error.start]:02x}); "
                    "save the file as UTF-8 CSV and try again",
                ), line  # fmt: skip
            line += block.count(b"\n")
            seen_text = seen_text or bool(block.strip())
            last = block[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            problem = Problem("", line, None, None, "not UTF-8 text (the file ends mid-character)")
            return problem, line
    lines = line - 1 if last == b"\n" else line  # a final line break ends a line, not starts one
    return (None if seen_text else Problem("", None, None, None, "the file is empty")), lines


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet (by suffix) atomically: a failed write leaves nothing behind."""
    if path.is_dir():
        raise IsADirectoryError(21, "this is a folder; give a file name to write", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False, lineterminator="\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a data file is not
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# Validation


def validate_table(
    frame: pd.DataFrame,
    fields: Sequence[Field],
    source: str,
    rules: Sequence[RowRule] = (),
) -> list[Problem]:
    """Every problem in ``frame``: missing columns, bad cells, duplicates, row rules."""
    if frame.empty:
        return [Problem(source, None, None, None, "the file has a header but no rows")]
    for field in fields:  # " T1" and "T1" are one id: compare them as they will be loaded
        if (
            field.unique
            and field.name in frame
            and not pd.api.types.is_numeric_dtype(frame[field.name].dtype)
        ):
            frame[field.name] = frame[field.name].astype("string").str.strip()
    bad = {f.name: ~f.check(frame[f.name]).to_numpy(dtype=bool) for f in fields if f.name in frame}
    flood = _flood(frame, fields, source, bad)
    if flood is not None:
        return flood
    by_name = {field.name: field for field in fields}
    # Every cell was checked once above; pandera re-checks only the columns with bad cells, to
    # locate them, and checks uniqueness and the row rules.
    columns = {
        field.name: pa.Column(
            None,
            checks=[pa.Check(field.check, name=f"cell:{field.name}")]
            if bad.get(field.name, np.zeros(0, dtype=bool)).any()
            else [],
            unique=field.unique,
            nullable=True,
            required=not field.optional_column,
        )
        for field in fields
    }
    present = set(frame.columns)
    frame_checks = [
        pa.Check(rule.check, name=f"rule:{rule.name}")
        for rule in rules
        if set(rule.needs) <= present
    ]
    schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=False)
    try:
        schema.validate(frame.reset_index(drop=True), lazy=True, inplace=True)  # no copy
    except pa.errors.SchemaErrors as errors:
        return _problems(errors.failure_cases, by_name, {r.name: r for r in rules}, frame, source)
    return []


def _flood(
    frame: pd.DataFrame,
    fields: Sequence[Field],
    source: str,
    bad: Mapping[str, npt.NDArray[np.bool_]],
) -> list[Problem] | None:
    """When bad cells alone (``bad``: per column, True where a cell fails) exceed MAX_PROBLEMS:
    the first MAX_PROBLEMS of them in row order, then how many more each column has, in memory
    that grows with the rows, not the problems. None when there are fewer (the full, located
    report is then cheap)."""
    present = [f for f in fields if f.name in frame.columns]
    total = sum(int(np.count_nonzero(mask)) for mask in bad.values())
    if total <= MAX_PROBLEMS:
        return None
    shown: list[Problem] = [
        Problem(source, 1, f.name, None, "this required column is missing")
        for f in fields
        if f.name not in frame.columns and not f.optional_column
    ]
    by_name = {f.name: f for f in present}
    columns = list(bad)
    grid = np.column_stack([bad[c] for c in columns])
    rows, cols = np.nonzero(grid)  # row-major: row order, then column order
    listed: dict[str, int] = dict.fromkeys(columns, 0)
    for r, c in zip(rows[:MAX_PROBLEMS], cols[:MAX_PROBLEMS], strict=True):
        column = columns[int(c)]
        value = frame[column].iloc[int(r)]
        shown.append(
            Problem(
                source, int(r) + FIRST_ROW, column, _text(value), by_name[column].describe(value)
            )
        )
        listed[column] += 1
    for column in columns:
        rest = int(np.count_nonzero(bad[column])) - listed[column]
        if rest:
            shown.append(Problem(source, None, column, None, f"… and {rest:,} more problems"))
    shown.append(
        Problem(source, None, None, None,
                f"{total:,} problems in all; the first {MAX_PROBLEMS:,} are listed "
                "(fix these and check the file again)", total=total)
    )  # fmt: skip
    return shown


def count_problems(problems: Sequence[Problem]) -> int:
    """How many problems a report stands for (more than it lists when it was cut short)."""
    return next((p.total for p in problems if p.total is not None), len(problems))


def _problems(
    failures: pd.DataFrame,
    fields: Mapping[str, Field],
    rules: Mapping[str, RowRule],
    frame: pd.DataFrame,
    source: str,
) -> list[Problem]:
    problems: dict[tuple[object, ...], Problem] = {}
    for failure in failures.itertuples(index=False):
        check = str(failure.check)
        index = failure.index
        row = None if _is_missing(index) else int(index) + FIRST_ROW  # type: ignore[call-overload]
        if check == "column_in_dataframe":
            column = str(failure.failure_case)
            problem = Problem(source, 1, column, None, "this required column is missing")
        elif check == "field_uniqueness":
            column = str(failure.column)
            problem = Problem(
                source, row, column, _text(failure.failure_case),
                f"duplicate {fields[column].noun}: each row needs its own",
            )  # fmt: skip
        elif check.startswith("cell:"):
            column = check.removeprefix("cell:")
            value = failure.failure_case
            problem = Problem(source, row, column, _text(value), fields[column].describe(value))
        elif check.startswith("rule:"):
            rule = rules[check.removeprefix("rule:")]
            column = rule.column
            value = None if row is None else frame.iloc[row - FIRST_ROW][column]
            problem = Problem(source, row, column, _text(value), rule.message)
        else:  # a pandera check we did not define, e.g. a dtype it could not handle
            other = None if _is_missing(failure.column) else str(failure.column)
            problem = Problem(source, row, other, _text(failure.failure_case), check)
        problems.setdefault((problem.row or 0, problem.column or "", check), problem)
    return [problems[key] for key in sorted(problems, key=lambda k: (k[0], str(k[1])))]


def parse_table(frame: pd.DataFrame, fields: Iterable[Field]) -> pd.DataFrame:
    """Typed copy of a validated frame: numbers, bools, dates; extra columns kept as they are."""
    return _parse_in_place(frame.reset_index(drop=True), fields)  # copy-on-write: no copy


def _parse_in_place(frame: pd.DataFrame, fields: Iterable[Field]) -> pd.DataFrame:
    """Replace each field's text column by its typed one, handing the text's memory back as
    it goes (a 1M-row file's text columns are about 1 GB)."""
    for field in fields:
        if field.name not in frame.columns:  # an optional column left out: present, empty
            frame[field.name] = pd.Series("", index=frame.index, dtype="string")
            continue
        frame[field.name] = field.parse(frame[field.name])
        release_unused()
    return frame


def release_unused() -> None:
    """Hand the memory Arrow has freed back to the system. Its allocator keeps freed blocks for
    reuse, and loading a large file frees a lot (every stage makes new text or number columns
    from old ones): at 1M therapists it held about 1 GB it no longer used, which set the load's
    peak. Costs well under a millisecond when there is little to give back."""
    pyarrow.default_memory_pool().release_unused()


def load_table(
    source: Source,
    fields: Sequence[Field],
    rules: Sequence[RowRule] = (),
    max_rows: int = MAX_ROWS,
) -> pd.DataFrame:
    """Read, validate and parse one file; raise InvalidInput listing its problems."""
    frame = read_table(source, max_rows)
    release_unused()
    problems = validate_table(frame, fields, source_name(source), rules)
    if problems:
        raise InvalidInput(problems)
    release_unused()
    frame = frame.reset_index(drop=True)  # the only reference: each text column goes as parsed
    return _parse_in_place(frame, fields)


# ---------------------------------------------------------------------------------------------
# Cell conversions shared by checks and parsing (polymorphic: CSV text or typed Parquet).


def to_number(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("float64")
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.astype("float64")
    text = column.astype("string").str.strip()
    cells = pyarrow.array(text)
    try:  # Arrow's parser: five times faster than pandas' on a column of a million numbers
        blank = pyarrow.compute.equal(cells, "")
        numbers = pyarrow.compute.cast(
            pyarrow.compute.if_else(blank, pyarrow.scalar(None, cells.type), cells),
            pyarrow.float64(),
        )
    except pyarrow.ArrowInvalid:  # some cell is not a number: pandas marks which, as NaN
        return pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    values = numbers.to_numpy(zero_copy_only=False)
    return pd.Series(values, index=column.index, dtype="float64", name=column.name)


def to_bool(column: pd.Series) -> pd.Series:
    """True/False where the cell says so, <NA> where it says something else or nothing."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("boolean")
    text = column.astype("string").str.strip().str.lower()
    result = pd.Series(pd.NA, index=column.index, dtype="boolean")
    result[text.isin(TRUE_WORDS).fillna(False).astype(bool)] = True
    result[text.isin(FALSE_WORDS).fillna(False).astype(bool)] = False
    return result


def to_date(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.dt.tz_localize(None) if column.dt.tz is not None else column
    text = column.astype("string").str.strip()
    return pd.to_datetime(text.where(text != ""), errors="coerce", format="ISO8601")


def split_words(cell: object) -> list[str]:
    """'anxiety; phobias;' -> ['anxiety', 'phobias']."""
    if _is_missing(cell):
        return []
    return [word.strip() for word in str(cell).split(";") if word.strip()]


def _per_distinct(column: pd.Series, test: Callable[[str], bool]) -> pd.Series:
    """Apply ``test`` once per distinct cell; directories repeat cells a great deal."""
    codes, uniques = pd.factorize(column.astype("string").fillna(""), use_na_sentinel=False)
    verdicts = np.fromiter((test(str(value)) for value in uniques), dtype=bool, count=len(uniques))
    return pd.Series(verdicts[codes], index=column.index)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(value: object) -> str | None:
    return None if _is_missing(value) else str(value)


def _num(value: float) -> str:
    return f"{value:g}"


def _clip(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
