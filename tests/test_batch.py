"""Batch ranking (``rank_many``) equals one-at-a-time ranking (``rank``) on everything a Ranking
holds, and the funnel counts equal a count made therapist by therapist from the raw table.

``rank_many`` shares one ``Scope`` (the rows licensed in a state and every tag test over them)
among the clients of a state, and ``rank`` builds its own, so a test result cached under the
wrong key, or a shared array changed by one client, makes these fail.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from matcher import synth
from matcher import vocabulary as V
from matcher.constraints import NAMES, Reach, distance_km
from matcher.directory import Directory, Scope, encode
from matcher.preferences import Preferences
from matcher.schema import DIRECTORY_FIELDS, parse_table
from matcher.scoring import Ranking, assess, rank, rank_many, similarities
from tests.conftest import TODAY
from tests.test_scoring import preferences_strategy


@pytest.fixture(scope="module")
def several_states() -> Directory:
    """A synthetic directory over the 20-odd states of synth's cities, some licensed in two."""
    table = synth.therapists(3000, seed=5)
    return encode(parse_table(table.astype(str).replace({"nan": ""}), DIRECTORY_FIELDS))


def clients() -> st.SearchStrategy[Preferences]:
    """Varied clients, some with a required gender or identity (rules the base strategy skips)."""
    return st.builds(
        lambda p, gender, identities, required: p.evolve(
            therapist_gender=None if gender is None else {"value": gender, "required": required},
            therapist_identities={"values": identities, "required": required},
        ),
        preferences_strategy(),
        st.sampled_from([None, *V.GENDERS]),
        st.lists(st.sampled_from(list(V.PEOPLE)), max_size=2, unique=True),
        st.booleans(),
    )


def assert_same(together: Ranking, alone: Ranking) -> None:
    """Field by field first, so a failure names what differs; then the whole value."""
    assert [m.therapist_id for m in together.matches] == [m.therapist_id for m in alone.matches]
    assert [m.score for m in together.matches] == [m.score for m in alone.matches]
    assert [m.contributions for m in together.matches] == [m.contributions for m in alone.matches]
    assert [m.practical for m in together.matches] == [m.practical for m in alone.matches]
    assert together.excluded == alone.excluded
    assert together.relaxations == alone.relaxations
    assert together.main_concern == alone.main_concern
    assert (together.eligible, together.total) == (alone.eligible, alone.total)
    assert together == alone  # facts, similarities, weights, unknown terms: everything


@given(ps=st.lists(clients(), min_size=1, max_size=12))
def test_batch_equals_one_at_a_time_on_the_demo(demo: Directory, ps: list[Preferences]) -> None:
    for together, p in zip(rank_many(demo, ps, top=5, today=TODAY), ps, strict=True):
        assert_same(together, rank(demo, p, top=5, today=TODAY))


@given(
    ps=st.lists(clients(), min_size=1, max_size=12),
    states=st.lists(st.sampled_from(["CA", "TX", "NY", "NC", "FL", "WA", "MA"]), min_size=12),
)
def test_batch_equals_one_at_a_time_across_several_states(
    several_states: Directory, ps: list[Preferences], states: list[str]
) -> None:
    # The clients' states interleave, so the batch regroups them and must restore the order.
    ps = [p.evolve(state=state) for p, state in zip(ps, states, strict=False)]
    batch = rank_many(several_states, ps, top=10, today=TODAY)
    assert len(batch) == len(ps)
    for together, p in zip(batch, ps, strict=True):
        assert_same(together, rank(several_states, p, top=10, today=TODAY))


def test_an_empty_batch_ranks_nobody(demo: Directory) -> None:
    assert rank_many(demo, [], today=TODAY) == []


def test_a_batch_leaves_no_cyclic_garbage_and_the_collector_as_it_was(
    demo: Directory, example: Preferences
) -> None:
    """rank_many pauses the cyclic collector, which is only safe if ranking makes no cycles."""
    gc.collect()
    assert gc.isenabled()
    rank_many(demo, [example, example.evolve(state="CA"), example], today=TODAY)
    assert gc.isenabled()
    assert gc.collect() == 0
    gc.disable()
    try:
        rank_many(demo, [example], today=TODAY)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------------------------------------
# The funnel, recounted from the raw table


def first_failed(row: pd.Series, p: Preferences) -> str | None:
    """The first rule (in funnel order) this therapist fails, from the table's own values."""
    words = {c: {w.lower() for w in str(row[c]).split(";") if w} for c in
             ("states", "formats", "ages_served", "languages", "insurance", "identities")}  # fmt: skip
    in_person, online = "in_person" in words["formats"], "telehealth" in words["formats"]
    near = False
    if p.location is not None and in_person and not (pd.isna(row["lat"]) or pd.isna(row["lon"])):
        near = _km(p.location.lat, p.location.lon, row["lat"], row["lon"]) <= p.location.max_km
    pay = p.payment
    gender, identities = p.therapist_gender, p.therapist_identities
    passes = {
        "license": p.state.lower() in words["states"],
        "format": p.format == "either" or (in_person if p.format == "in_person" else online),
        "distance": p.location is None
        or p.format == "telehealth"
        or near
        or (online if p.format == "either" else not in_person),
        "capacity": bool(row["accepting_new_clients"]) and row["open_slots"] > 0,
        "age_group": not p.age_group or p.age_group in words["ages_served"],
        "language": not p.language or p.language.lower() in words["languages"],
        "payment": not pay.constrained
        or (pay.insurance is not None and pay.insurance.lower() in words["insurance"])
        or (pay.max_fee is not None and row["fee"] <= pay.max_fee)
        or (pay.sliding_scale_ok and bool(row["sliding_scale"])),
        "gender": gender is None or not gender.required or row["gender"] == gender.value,
        "identities": not (identities.required and identities.values)
        or {v.lower() for v in identities.values} <= words["identities"],
    }
    assert tuple(passes) == NAMES
    return next((name for name in NAMES if not passes[name]), None)


def _km(lat0: float, lon0: float, lat: float, lon: float) -> float:
    a = (
        math.sin(math.radians(lat - lat0) / 2) ** 2
        + math.cos(math.radians(lat0)) * math.cos(math.radians(lat))
        * math.sin(math.radians(lon - lon0) / 2) ** 2
    )  # fmt: skip
    return 2 * 6371.0088 * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


@given(p=clients())
def test_funnel_counts_every_therapist_of_the_directory_once(
    demo: Directory, p: Preferences
) -> None:
    """Only the rows licensed in the client's state are scanned, yet every therapist of the
    directory is counted, under the first rule it fails, exactly as a row-by-row check does."""
    failed = [first_failed(row, p) for _, row in demo.table.iterrows()]
    expected = {name: failed.count(name) for name in NAMES if failed.count(name)}
    ranking = rank(demo, p, top=3, today=TODAY)
    assert ranking.excluded == expected
    assert ranking.eligible == failed.count(None)
    assert sum(ranking.excluded.values()) + ranking.eligible == ranking.total == len(demo)


# ---------------------------------------------------------------------------------------------
# A state's packed columns hold the directory's own values, so scoring from them is exact


def test_a_states_columns_hold_each_column_of_its_rows(several_states: Directory) -> None:
    d = several_states
    for state in ("CA", "NY", "ZZ"):
        packed = d.state_columns(state)
        rows = d.licensed_in(state)
        assert packed.rows is rows and len(packed) == rows.size
        for name, tags in packed.tags.items():
            assert tags.vocabulary == d.tags[name].vocabulary
            assert (tags.bits == d.tags[name].bits[rows]).all(), name
            assert tags.bits[:, 0].flags.c_contiguous  # one word is one contiguous column
        assert "states" not in packed.tags  # one state: nothing to test
        for name, values in packed.numbers.items():
            assert_array_equal(values, d.numbers[name][rows])
        for name, values in packed.flags.items():
            assert_array_equal(values, d.flags[name][rows])
        assert_array_equal(packed.gender, d.gender[rows])
        assert_array_equal(packed.style, d.style[rows])
        assert_array_equal(packed.standing, d.standing[rows])
        assert_array_equal(packed.next_opening, d.next_opening[rows])
        assert_array_equal(packed.confirmed, d.confirmed[rows])
        assert packed.style[:, 0].flags.c_contiguous and packed.standing[:, 0].flags.c_contiguous
        with pytest.raises(ValueError):
            packed.numbers["fee"][:1] = 0  # shared by every client of the state


def test_a_states_columns_are_built_once_per_directory_and_anew_for_new_evidence(
    several_states: Directory,
) -> None:
    d = several_states
    assert d.state_columns("ca") is d.state_columns("CA")
    rows = d.licensed_in("CA")
    counts = np.zeros(len(d), dtype=np.int64)
    sums = np.zeros((len(d), 9))
    counts[rows[0]], sums[rows[0]] = 3, 15.0  # three perfect check-ins for one therapist
    rated = d.with_checkins(counts, sums)
    assert rated.state_columns("CA") is not d.state_columns("CA")
    assert rated.state_columns("CA").standing[0, 0] > d.state_columns("CA").standing[0, 0]
    assert_array_equal(rated.state_columns("CA").standing, rated.standing[rows])

    quick = reached(d)  # the store's history of offers: another directory, other columns
    packed = quick.state_columns("CA")
    assert packed is not d.state_columns("CA") and packed.reach is not None
    assert quick.reach is not None and packed.reach.offers.any()
    for name in ("offers", "days", "settled", "followed"):
        assert_array_equal(getattr(packed.reach, name), getattr(quick.reach, name)[rows])
        with pytest.raises(ValueError):
            getattr(packed.reach, name)[:1] = 0  # shared by every client of the state


@dataclass(frozen=True)
class Contact:
    therapist_id: str
    days_to_offer: int
    first_session: bool | None


def reached(d: Directory) -> Directory:
    """``d`` with a history of offers for every 7th therapist licensed in CA and in NY."""
    rows = np.concatenate([d.licensed_in("CA")[::7], d.licensed_in("NY")[::7]])
    history = [Contact(str(d.ids[r]), int(r % 20), bool(r % 3) if r % 5 else None) for r in rows]
    return d.with_reachability(history)


def test_a_scope_of_another_directory_is_not_reused(several_states: Directory) -> None:
    """Rules and scoring read the directory they are given, even when handed a scope that
    some other version of it (before new check-ins, say) built."""
    d, quick = several_states, reached(several_states)
    p = Preferences(state="CA", concerns=["anxiety"])
    stale = Scope(d, "CA")
    assert_array_equal(assess(quick, p, TODAY, stale).score, assess(quick, p, TODAY).score)
    assert Reach(quick, p, stale).scope.d is quick


def test_a_shortlists_distances_are_those_of_in_person_therapists_only(
    several_states: Directory,
) -> None:
    """A Reach that measured nothing yet (a triage shortlist's) measures just the rows asked:
    the exact distance to those who see clients in person, NaN (not shown) for the others."""
    d = several_states
    p = Preferences(state="CA", location={"lat": 34.05, "lon": -118.25, "max_km": 40})
    reach = Reach(d, p)
    rows = reach.rows[:400]
    at = reach.km_at(rows)
    in_person = reach.in_person[:400]
    assert in_person.any() and (~in_person).any()
    assert_array_equal(at[in_person], distance_km(d, rows[in_person], p.location))
    assert np.isnan(at[~in_person]).all()


@given(p=clients(), seed=st.integers(0, 2**16))
def test_scoring_from_a_states_columns_equals_scoring_from_the_directory(
    several_states: Directory, p: Preferences, seed: int
) -> None:
    """The same similarities, bit for bit, from a state's packed columns and from the
    directory's rows, with and without reachability history (columns gathered from the wrong
    rows, or one out of order, make this fail)."""
    d = several_states if seed % 2 else reached(several_states)
    packed = d.state_columns(p.state)
    positions = np.flatnonzero(np.random.default_rng(seed).random(len(packed)) < 0.5)
    from_packed, active = similarities(packed, p, positions, TODAY)
    from_directory, same_active = similarities(d, p, packed.rows[positions], TODAY)
    assert_array_equal(active, same_active)
    assert_array_equal(from_packed, from_directory)


@given(p=clients(), scale=st.sampled_from([1.0, 2.0, 0.5, 40.0]))
def test_within_a_limit_is_within_it_by_great_circle_distance(
    several_states: Directory, p: Preferences, scale: float
) -> None:
    """Who is within a limit is decided by squared chords on the unit sphere, with no
    trigonometry per therapist; it must say what the great-circle distance says, for the
    client's limit and wider or narrower ones (a wrong threshold or axis fails here)."""
    d = several_states
    reach = Reach(d, p)
    exact = np.full(reach.rows.size, np.nan)
    in_person = reach.in_person
    if p.location is not None:
        where = np.flatnonzero(in_person)
        exact[where] = distance_km(d, reach.rows[where], p.location)
        km = min(p.location.max_km * scale, 5000.0)
        assert_array_equal(reach.within(km), exact <= km)  # NaN (unknown place) is never near
        # Limits halfway between neighbouring therapists' distances: as sharp as a test gets
        # without asking which side of a limit a therapist exactly on it falls.
        known = np.unique(exact[~np.isnan(exact)])
        for halfway in ((known[:-1] + known[1:]) / 2)[:: max(1, known.size // 25)]:
            assert_array_equal(reach.within(float(halfway)), exact <= halfway)
    else:
        assert not reach.within(100.0).any()
    assert_array_equal(reach.km_at(reach.rows), exact)
