"""Load a therapist directory once and encode it into arrays for ranking.

Settings apart from learned state: :func:`encode` reads the validated table and produces a
:class:`Directory` of named numpy arrays. Ranking a client never parses a string again: list
columns become bit sets (one uint64 word per 64 vocabulary words), dates become day numbers, and
check-in means become measured rapport with its uncertainty (see ``rapport.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from matcher import vocabulary as V
from matcher.rapport import Prior, estimate, learn
from matcher.reachability import Contact, Reachability, measure
from matcher.schema import (
    CONTACT_COLUMNS,
    DIRECTORY_FIELDS,
    DIRECTORY_RULES,
    MAX_ROWS,
    Source,
    load_table,
    release_unused,
    source_name,
    split_words,
)

Bool = npt.NDArray[np.bool_]
Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]
Index = npt.NDArray[np.intp]
Words = npt.NDArray[np.uint64]

NO_DAY = np.iinfo(np.int32).min  # a date that was not given


@dataclass(frozen=True, eq=False)
class TagSet:
    """A list column as bit sets: row r holds tag j when bit j of ``bits[r]`` is set.

    ``bits`` has shape (n, words); words = ceil(len(vocabulary) / 64). It is stored column-major
    (each word's column contiguous): a tag test reads one word of every row, and a strided read
    of a row-major array pulls every word through the cache. Tags are matched
    case-insensitively; ``vocabulary`` keeps the first spelling seen, for display.
    """

    vocabulary: tuple[str, ...]
    bits: Words

    @cached_property
    def codes(self) -> dict[str, int]:
        return {tag.lower(): code for code, tag in enumerate(self.vocabulary)}

    def query(self, tags: Iterable[str]) -> Words:
        """The bit pattern of ``tags`` (unknown tags set no bit)."""
        codes = self.codes
        pattern = np.zeros(self.bits.shape[1], dtype=np.uint64)
        for tag in tags:
            code = codes.get(tag.lower())
            if code is not None:
                pattern[code // 64] |= np.uint64(1) << np.uint64(code % 64)
        return pattern

    def word(self, word: int, rows: Index | None = None) -> Words:
        """(n,) or (len(rows),) one word of each row: a contiguous read or one gather."""
        column = self.bits[:, word]  # contiguous (column-major storage)
        return column if rows is None else column[rows]

    def count(self, tags: Iterable[str], rows: Index | None = None) -> npt.NDArray[np.uint8]:
        """How many of ``tags`` each row holds."""
        pattern = self.query(tags)
        total = np.zeros(self.bits.shape[0] if rows is None else rows.size, dtype=np.uint8)
        for word in np.flatnonzero(pattern).tolist():
            total += np.bitwise_count(self.word(word, rows) & pattern[word])
        return total

    def has_any(self, tags: Iterable[str], rows: Index | None = None) -> Bool:
        pattern = self.query(tags)
        found = np.zeros(self.bits.shape[0] if rows is None else rows.size, dtype=bool)
        for word in np.flatnonzero(pattern).tolist():
            found |= (self.word(word, rows) & pattern[word]) != 0
        return found

    def has(self, tag: str, rows: Index | None = None) -> Bool:
        return self.has_any((tag,), rows)

    def tags_of(self, row: int) -> tuple[str, ...]:
        found = []
        for w in range(self.bits.shape[1]):
            word = int(self.bits[row, w])
            while word:  # one step per tag held, not per vocabulary word
                low = word & -word
                found.append(self.vocabulary[w * 64 + low.bit_length() - 1])
                word ^= low
        return tuple(found)

    @classmethod
    def encode(cls, column: pd.Series, vocabulary: Sequence[str] | None = None) -> TagSet:
        """Encode ';'-separated cells, once per distinct cell (cells repeat a great deal)."""
        codes, uniques = pd.factorize(column.astype("string").fillna(""), use_na_sentinel=False)
        split = [split_words(cell) for cell in uniques]
        if vocabulary is None:  # open vocabulary: languages, insurers
            seen: dict[str, str] = {}
            for words in split:
                for word in words:
                    seen.setdefault(word.lower(), word)
            vocabulary = sorted(seen.values(), key=str.lower)
        index = {tag.lower(): code for code, tag in enumerate(vocabulary)}
        n_words = max(1, -(-len(vocabulary) // 64))
        unique_bits = np.zeros((n_words, len(uniques)), dtype=np.uint64)
        for u, words in enumerate(split):
            for word in words:
                code = index[word.lower()]
                unique_bits[code // 64, u] |= np.uint64(1) << np.uint64(code % 64)
        # (words, n) row-major is (n, words) column-major: each word's column contiguous.
        return cls(tuple(vocabulary), np.take(unique_bits, codes, axis=1).T)


@dataclass(frozen=True, eq=False)
class Directory:
    """A directory encoded for ranking. Arrays are indexed by row (0..n-1) and read-only."""

    source: str
    table: pd.DataFrame  # the validated, typed table: display facts and extra columns
    ids: npt.NDArray[np.str_]
    text: Mapping[str, Any]  # name, credentials, city: the table's own text arrays, by row
    tags: Mapping[str, TagSet]  # by column name: states, formats, concerns, …
    numbers: Mapping[str, Float]  # by column name: fee, lat, lon, years_experience, …
    flags: Mapping[str, Bool]  # sliding_scale, accepting_new_clients, works_with_parents
    gender: npt.NDArray[np.int8]  # index into V.GENDERS, -1 when not given
    style: npt.NDArray[np.float64]  # (n, 4) in V.AXES order
    checkins_n: Int
    rapport_mean: Float  # (n, 9) raw mean of check-ins, NaN without any
    rapport: Float  # (n, 9) posterior mean, 1..5; exactly prior.mean without check-ins
    rapport_sd: Float  # (n, 9) its posterior SD
    reliability: Float  # (n,) how much of a therapist's own mean survives shrinkage, 0..1
    prior: Prior  # learned from this directory's check-ins when it was loaded
    next_opening: npt.NDArray[np.int32]  # days since 1970-01-01, NO_DAY when unknown
    confirmed: npt.NDArray[np.int32]  # days since 1970-01-01, NO_DAY when never
    # Rows licensed in each state, in tags["states"] vocabulary order (a therapist licensed in
    # several states is in each): a client scans only those licensed where they live.
    state_rows: tuple[Index, ...]
    # How quickly earlier clients were offered a slot, from the coordinator store's history;
    # None until that history is added (``with_reachability``): then "not measured yet".
    reach: Reachability | None = None

    def __len__(self) -> int:
        return int(self.ids.size)

    def licensed_in(self, state: str) -> Index:
        """Rows (ascending) of the therapists licensed in ``state``; read-only."""
        code = self.tags["states"].codes.get(state.lower())
        return _NO_ROWS if code is None else self.state_rows[code]

    def state_columns(self, state: str) -> StateColumns:
        """The columns of the therapists licensed in ``state``, packed (see
        :class:`StateColumns`); gathered on the state's first client and kept with this
        directory (about 230 bytes a licence: 0.3 GB for every state of a 1M directory)."""
        key = state.lower()
        found = self._state_columns.get(key)
        if found is None:  # two threads may both build it; either copy is the same
            found = StateColumns.of(self, self.licensed_in(state))
            self._state_columns[key] = found
        return found

    @cached_property
    def _state_columns(self) -> dict[str, StateColumns]:
        return {}

    @cached_property
    def standing(self) -> Float:
        """(n, 9) column-major: rapport relative to the directory's mean, in between-therapist
        SDs (0 without check-ins): what the rapport group weighs."""
        return _frozen(np.asfortranarray(_standing(self.rapport, self.prior)))

    @property
    def directory_mean(self) -> Float:
        """(9,) what a therapist without check-ins is expected to get on each item."""
        return self.prior.mean

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Row of each therapist id; built on first use (ranking never needs it)."""
        return {str(therapist_id): row for row, therapist_id in enumerate(self.ids)}

    def row(self, therapist_id: str) -> int:
        return self.row_of[therapist_id]

    def contacts(self, row: int) -> dict[str, str]:
        """How to reach the therapist at ``row``: each of CONTACT_COLUMNS, blank when not listed
        (loading adds the columns a file leaves out)."""
        return {column: str(self.table[column].iat[row]).strip() for column in CONTACT_COLUMNS}

    @cached_property
    def places(self) -> pd.DataFrame:
        """Cities with therapists: state, city, lat, lon (mean position of their therapists).

        A city's state is the one most of its therapists are licensed in.
        """
        frame = pd.DataFrame(
            {"city": self.table["city"], "states": self.table["states"],
             "lat": self.numbers["lat"], "lon": self.numbers["lon"]}
        )  # fmt: skip
        frame = frame[(frame["city"] != "") & frame["lat"].notna() & frame["lon"].notna()]
        if frame.empty:
            return pd.DataFrame(columns=["state", "city", "lat", "lon"])
        licences = frame.assign(state=frame["states"].str.upper().str.split(";")).explode("state")
        state = licences.groupby("city")["state"].agg(lambda s: s.value_counts().index[0])
        places = frame.groupby("city", as_index=False)[["lat", "lon"]].mean()
        places.insert(0, "state", places["city"].map(state))
        return places.sort_values(["state", "city"], ignore_index=True)

    def with_checkins(self, counts: Int, sums: Float) -> Directory:
        """A new directory whose rapport adds check-ins: ``counts`` (n,) and item ``sums`` (n, 9).

        The prior stays the one learned at load, so one client's check-in moves only the
        therapist it is about.
        """
        n = self.checkins_n + counts
        prior_sum = np.nan_to_num(self.rapport_mean) * self.checkins_n[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n[:, None] > 0, (prior_sum + sums) / n[:, None], np.nan)
        return _with_rapport(self, n, mean, self.prior)

    def with_reachability(self, contacts: Iterable[Contact]) -> Directory:
        """A new directory whose availability counts the store's reachability history (see
        ``reachability``); itself when there is none."""
        measured = measure(self.ids, self.row_of, contacts)
        if not measured.offers.any():
            return self
        return _replace(self, reach=measured)


class Columns(Protocol):
    """The columns scoring reads (``groups.Group.similarity``): a whole :class:`Directory`,
    indexed by directory row, or one state's :class:`StateColumns`, indexed by position in it."""

    @property
    def tags(self) -> Mapping[str, TagSet]: ...
    @property
    def numbers(self) -> Mapping[str, Float]: ...
    @property
    def flags(self) -> Mapping[str, Bool]: ...
    @property
    def gender(self) -> npt.NDArray[np.int8]: ...
    @property
    def style(self) -> Float: ...
    @property
    def standing(self) -> Float: ...
    @property
    def next_opening(self) -> npt.NDArray[np.int32]: ...
    @property
    def confirmed(self) -> npt.NDArray[np.int32]: ...
    @property
    def reach(self) -> Reachability | None: ...


@dataclass(frozen=True, eq=False)
class StateColumns:
    """The columns rules and scoring read, packed for the therapists licensed in one state.

    Those therapists are scattered through the directory (7 % of it for a median state at 1M),
    so reading their values from the directory's columns pulls a cache line, often a page,
    per value. Here each column is gathered once, contiguous, in ``rows`` order: a rule reads
    it front to back and scoring gathers eligible positions from a few megabytes. Built on a
    state's first client and kept with the directory (``Directory.state_columns``); values are
    the directory's own, so every result is the same bit for bit. Read-only: clients share it.
    """

    rows: Index  # directory rows, ascending: position i of every column is row rows[i]
    tags: Mapping[str, TagSet]
    numbers: Mapping[str, Float]
    flags: Mapping[str, Bool]
    gender: npt.NDArray[np.int8]
    style: Float  # (m, 4) column-major: one axis is one contiguous column
    standing: Float  # (m, 9) column-major: rapport relative to the directory (see Directory)
    next_opening: npt.NDArray[np.int32]
    confirmed: npt.NDArray[np.int32]
    reach: Reachability | None
    # (m, 3) column-major: each position as a point on the unit sphere (NaN when unknown), so
    # "within so many miles" is a comparison of squared chords (``constraints.Reach.within``)
    unit: Float

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[Any]] = [self.rows, self.gender, self.style, self.standing]
        arrays += [self.unit]
        arrays += [self.next_opening, self.confirmed, *self.numbers.values()]
        arrays += [*self.flags.values()]
        arrays += [t.bits for t in self.tags.values()]
        if self.reach is not None:
            r = self.reach
            arrays += [r.offers, r.days, r.settled, r.followed]
        return sum(a.nbytes for a in arrays)

    @classmethod
    def of(cls, d: Directory, rows: Index) -> StateColumns:
        reach = d.reach
        if reach is not None:
            reach = dataclasses.replace(
                reach,
                offers=_frozen(reach.offers[rows]),
                days=_frozen(reach.days[rows]),
                settled=_frozen(reach.settled[rows]),
                followed=_frozen(reach.followed[rows]),
            )
        return cls(
            rows=rows,
            tags={
                name: TagSet(t.vocabulary, _frozen(np.ascontiguousarray(t.bits.T[:, rows]).T))
                for name, t in d.tags.items()
                if name != "states"  # one state: nothing to test
            },
            numbers={name: _frozen(values[rows]) for name, values in d.numbers.items()},
            flags={name: _frozen(values[rows]) for name, values in d.flags.items()},
            gender=_frozen(d.gender[rows]),
            style=_frozen(np.asfortranarray(d.style[rows])),
            standing=_frozen(np.asfortranarray(_standing(d.rapport[rows], d.prior))),
            next_opening=_frozen(d.next_opening[rows]),
            confirmed=_frozen(d.confirmed[rows]),
            reach=reach,
            unit=_frozen(unit_vectors(d.numbers["lat"][rows], d.numbers["lon"][rows])),
        )


class Scope:
    """The therapists licensed in one state, and each column test over them, computed once.

    Most of a directory fails the licence rule, so a client's other rules are evaluated only over
    these ``rows`` (ascending directory rows), reading the state's packed ``columns``. Clients
    from one state may share a Scope (``scoring.rank_many`` does): a tag test such as "speaks
    Spanish" is then computed once for all of them. Every array is over ``rows``, in that
    order, and read-only, since clients share it.
    """

    def __init__(self, directory: Directory, state: str) -> None:
        self.d, self.state = directory, state
        self.columns = directory.state_columns(state)
        self.rows = self.columns.rows
        self._memo: dict[tuple[str, ...], npt.NDArray[Any]] = {}

    def __len__(self) -> int:
        return int(self.rows.size)

    def has(self, column: str, tag: str) -> Bool:
        """Who holds ``tag`` in the list ``column``."""
        key = ("has", column, tag.lower())
        if key not in self._memo:
            self._memo[key] = _frozen(self.columns.tags[column].has(tag))
        found: Bool = self._memo[key]
        return found

    def count(self, column: str, tags: Sequence[str]) -> npt.NDArray[np.uint8]:
        """How many of ``tags`` each holds in the list ``column``."""
        key = ("count", column, *sorted(tag.lower() for tag in tags))
        if key not in self._memo:
            self._memo[key] = _frozen(self.columns.tags[column].count(tags))
        held: npt.NDArray[np.uint8] = self._memo[key]
        return held

    def number(self, name: str) -> Float:
        return self.columns.numbers[name]

    def flag(self, name: str) -> Bool:
        return self.columns.flags[name]

    @property
    def gender(self) -> npt.NDArray[np.int8]:
        return self.columns.gender


def load_directory(source: Source, max_rows: int = MAX_ROWS) -> Directory:
    """Read, validate and encode a directory file (CSV or Parquet; a path or an Upload).

    Raises schema.InvalidInput listing its problems when the file is not a valid directory.
    """
    table = load_table(source, DIRECTORY_FIELDS, DIRECTORY_RULES, max_rows)
    directory = encode(table, source_name(source))
    release_unused()
    return directory


def encode(table: pd.DataFrame, source: str = "directory") -> Directory:
    """Encode a validated, typed directory table (see schema.parse_table)."""
    closed: dict[str, Sequence[str]] = {
        "states": tuple(V.STATES),
        "formats": tuple(V.THERAPIST_FORMATS),
        "ages_served": tuple(V.AGE_GROUPS),
        "identities": tuple(V.PEOPLE),
        "populations": tuple(V.PEOPLE),
        "concerns": tuple(V.CONCERNS),
        "modalities": tuple(V.APPROACHES),
    }
    tags = {name: TagSet.encode(table[name], vocab) for name, vocab in closed.items()}
    tags["languages"] = TagSet.encode(table["languages"])
    tags["insurance"] = TagSet.encode(table["insurance"])
    numbers = {
        name: _frozen(table[name].to_numpy(dtype=np.float64, na_value=np.nan))
        for name in ("years_experience", "fee", "lat", "lon", "open_slots")
    }
    flags = {
        name: _frozen(table[name].to_numpy(dtype=bool))
        for name in ("sliding_scale", "accepting_new_clients", "works_with_parents")
    }
    gender_codes = {g: i for i, g in enumerate(V.GENDERS)}
    gender = np.asarray(table["gender"].map(gender_codes).fillna(-1), dtype=np.int8)
    style = np.column_stack([table[f"style_{axis}"].to_numpy(np.float64) for axis in V.AXES])
    checkins_n = table["checkins_n"].to_numpy(dtype=np.int64)
    mean = np.column_stack(
        [table[f"rapport_{item}"].to_numpy(np.float64, na_value=np.nan) for item in V.ITEMS]
    )
    ids = table["therapist_id"].to_numpy(dtype=str)
    base = Directory(
        source=source,
        table=table,
        ids=_frozen(ids),
        # Arrow-backed arrays, not Python strings: a few lookups per ranking, no extra copy.
        text={name: table[name].array for name in ("name", "credentials", "city")},
        tags=tags,
        numbers=numbers,
        flags=flags,
        gender=_frozen(gender),
        style=_frozen(style),
        checkins_n=checkins_n,
        rapport_mean=mean,
        rapport=mean,
        rapport_sd=mean,
        reliability=np.zeros(len(ids)),
        prior=learn(checkins_n, mean),
        next_opening=_frozen(_days(table["next_opening"])),
        confirmed=_frozen(_days(table["availability_confirmed"])),
        state_rows=_rows_per_tag(tags["states"]),
    )
    return _with_rapport(base, checkins_n, mean, base.prior)


def _with_rapport(directory: Directory, n: Int, mean: Float, prior: Prior) -> Directory:
    """Measured rapport for every row under ``prior`` (see ``rapport.estimate``)."""
    measured = estimate(n, mean, prior)
    return _replace(
        directory,
        checkins_n=_frozen(n.astype(np.int64)),
        rapport_mean=_frozen(mean),
        rapport=_frozen(measured.value),
        rapport_sd=_frozen(measured.sd),
        reliability=_frozen(measured.reliability),
        prior=prior,
    )


def unit_vectors(lat: Float, lon: Float) -> Float:
    """(m, 3) column-major: points on the unit sphere at latitudes and longitudes in degrees."""
    phi, lam = np.radians(lat), np.radians(lon)
    unit = np.empty((lat.size, 3), order="F")
    unit[:, 0] = np.cos(phi) * np.cos(lam)
    unit[:, 1] = np.cos(phi) * np.sin(lam)
    unit[:, 2] = np.sin(phi)
    return unit


def _standing(rapport: Float, prior: Prior) -> Float:
    return np.asarray((rapport - prior.mean) / prior.spread)


def _rows_per_tag(tags: TagSet) -> tuple[Index, ...]:
    """For each tag of the vocabulary, the rows holding it (ascending, read-only)."""
    return tuple(
        _frozen(np.flatnonzero(tags.word(code // 64) & (np.uint64(1) << np.uint64(code % 64))))
        for code in range(len(tags.vocabulary))
    )


def _replace(directory: Directory, **changes: Any) -> Directory:
    return dataclasses.replace(directory, **changes)


def _days(column: pd.Series) -> npt.NDArray[np.int32]:
    dates = pd.to_datetime(column)
    days = (dates.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    return np.asarray(days.fillna(NO_DAY).to_numpy(dtype=np.int32), dtype=np.int32)


A = TypeVar("A", bound=np.ndarray[Any, Any])


def _frozen(array: A) -> A:
    array.flags.writeable = False
    return array


_NO_ROWS: Index = _frozen(np.zeros(0, dtype=np.intp))
