"""Synthetic data: deterministic, valid, and realistic in the ways that matter to matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from matcher import synth
from matcher.directory import encode, load_directory
from matcher.referrals import read_referrals
from matcher.schema import (
    DIRECTORY_FIELDS,
    DIRECTORY_RULES,
    parse_table,
    validate_table,
    write_table,
)
from tests.conftest import DATA

DEMO_SEED, DEMO_THERAPISTS, DEMO_REFERRALS = 2026, 2000, 80


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synth.therapists(20_000, seed=11)


def test_same_seed_same_data_and_different_seed_different_data() -> None:
    a = synth.therapists(500, seed=3)
    pd.testing.assert_frame_equal(a, synth.therapists(500, seed=3))
    assert not a.equals(synth.therapists(500, seed=4))
    pd.testing.assert_frame_equal(synth.referrals(50, seed=3), synth.referrals(50, seed=3))


def test_the_committed_demo_data_is_what_synth_makes(tmp_path: Path) -> None:
    """The demo is reproducible: `python -m matcher synth --therapists 2000 --referrals 80
    --seed 2026 --out data` rewrites exactly the committed files."""
    write_table(synth.therapists(DEMO_THERAPISTS, DEMO_SEED), tmp_path / "t.csv")
    write_table(synth.referrals(DEMO_REFERRALS, DEMO_SEED), tmp_path / "r.csv")
    assert (tmp_path / "t.csv").read_bytes() == (DATA / "therapists.csv").read_bytes()
    assert (tmp_path / "r.csv").read_bytes() == (DATA / "referrals.csv").read_bytes()


def test_synthetic_directories_are_valid(table: pd.DataFrame) -> None:
    text = table.astype(str).replace({"nan": "", "None": ""})
    assert validate_table(text, DIRECTORY_FIELDS, "synth", DIRECTORY_RULES) == []


def test_demo_covers_enough_states_and_urgent_and_risky_referrals() -> None:
    directory = load_directory(DATA / "therapists.csv")
    home_states = directory.table["states"].str.split(";").str[0].nunique()
    assert home_states >= 12
    queue = read_referrals(DATA / "referrals.csv")
    assert sum(r.urgency == "urgent" for r in queue) >= 3
    assert sum(r.crisis for r in queue) >= 2


def test_correlations_are_realistic(table: pd.DataFrame) -> None:
    typed = parse_table(table.astype(str).replace({"nan": ""}), DIRECTORY_FIELDS)
    d = encode(typed)
    no_checkins = (d.checkins_n == 0).mean()
    assert 0.15 < no_checkins < 0.5
    rho = stats.spearmanr(d.numbers["years_experience"], d.checkins_n).statistic
    assert rho > 0.3  # experience brings check-ins
    # Specialties go with approaches: trauma therapists offer EMDR far more often than others.
    trauma = d.tags["concerns"].has("trauma_ptsd")
    emdr = d.tags["modalities"].has("emdr")
    assert emdr[trauma].mean() > 3 * emdr[~trauma].mean()
    # Style follows orientation: CBT therapists lead more and look at the past less.
    cbt = d.tags["modalities"].has("cbt")
    psychodynamic = d.tags["modalities"].has("psychodynamic")
    assert d.style[cbt, 0].mean() > d.style[psychodynamic, 0].mean()
    assert d.style[psychodynamic, 2].mean() > d.style[cbt, 2].mean()
    # Fees follow the region: New York costs more than Ohio.
    fee, state = d.numbers["fee"], typed["states"].str[:2].str.upper()
    assert np.nanmedian(fee[state == "NY"]) > np.nanmedian(fee[state == "OH"])
    # Some availability is stale.
    stale = (pd.Timestamp(synth.DEFAULT_AS_OF) - typed["availability_confirmed"]).dt.days > 30
    assert 0.1 < stale.mean() < 0.5


def test_a_large_directory_is_practical() -> None:
    frame = synth.therapists(200_000, seed=5)
    assert len(frame) == 200_000
    assert frame["therapist_id"].is_unique


def test_a_listed_phone_number_is_local_to_the_practice() -> None:
    """A Durham therapist listed a San Francisco (415) number (found trying the app)."""
    table = synth.therapists(300, seed=5)
    listed = table[table["phone"] != ""]
    assert len(listed) > 200
    area = listed["phone"].str.extract(r"^\((\d{3})\) 555-01\d\d$")[0].astype(int)
    assert (area == listed["city"].map(synth.AREA_CODES)).all()
    assert set(synth.AREA_CODES) == {c.name for c in synth.CITIES}
