"""The nightly batch on Dask writes the local engine's output, byte for byte (issue 12, item 4).

A few thousand synthetic referrals into a small synthetic directory, so slots are scarce and
therapists licensed in several states are wanted from more than one state: the case where
solving each state's block apart would overbook them. Both engines run through the command
line and write their files; the Dask one on a LocalCluster of two worker processes.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from matcher import distributed, synth
from matcher.__main__ import main
from matcher.directory import load_directory
from matcher.referrals import read_referrals
from matcher.schema import write_table
from matcher.triage import Reconciliation, open_slots, triage
from tests.conftest import ROOT

pytest.importorskip("distributed")

THERAPISTS = 1_500
REFERRALS = 3_000
TODAY = "2026-11-22"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("batch")
    write_table(synth.therapists(THERAPISTS, seed=3), folder / "therapists.csv")
    write_table(synth.referrals(REFERRALS, seed=3), folder / "referrals.csv")
    return folder / "therapists.csv", folder / "referrals.csv"


def cli(directory: Path, referrals: Path, out: Path, *engine: str) -> int:
    return main(["triage", "--directory", str(directory), "--referrals", str(referrals),
                 "--out", str(out), "--today", TODAY, *engine])  # fmt: skip


def test_the_dask_engine_writes_the_local_engines_file_byte_for_byte(
    batch: tuple[Path, Path], tmp_path: Path
) -> None:
    directory, referrals = batch
    local, dask = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert cli(directory, referrals, local) == 0
    assert cli(directory, referrals, dask, "--engine", "dask") == 0
    assert dask.read_bytes() == local.read_bytes()

    # The file itself shows the reconciliation at work: therapists licensed in several
    # states, filled to their last slot by referrals from more than one state.
    d = load_directory(directory)
    state_of = {
        str(r["referral_id"]): str(r["state"])
        for r in pd.read_csv(referrals, dtype=str).to_dict("records")
    }
    table = pd.read_csv(local, dtype=str, keep_default_na=False)
    placed = table[table["status"] == "assigned"]
    assert len(placed) > REFERRALS / 2
    states_served: defaultdict[str, set[str]] = defaultdict(set)
    used: defaultdict[str, int] = defaultdict(int)
    for rid, therapist in zip(placed["referral_id"], placed["therapist_id"], strict=True):
        states_served[therapist].add(state_of[rid])
        used[therapist] += 1
    slots = open_slots(d)
    assert all(used[t] <= slots[t] for t in used)  # nobody overbooked across blocks
    filled_across_states = [
        t for t, states in states_served.items() if len(states) > 1 and used[t] == slots[t]
    ]
    assert len(filled_across_states) >= 10, filled_across_states


def test_therapists_in_several_states_are_contested_across_state_blocks(
    batch: tuple[Path, Path],
) -> None:
    directory, referrals = batch
    tiers: list[Reconciliation] = []
    triage(load_directory(directory), read_referrals(referrals), date.fromisoformat(TODAY),
           reconciled=tiers.append)  # fmt: skip
    assert [t.urgency for t in tiers] == ["urgent", "soon", "routine"]
    assert all(t.states > 1 for t in tiers)
    # Shared slots wanted beyond supply: solving states apart would have overbooked these.
    assert sum(t.contested for t in tiers) >= 100
    assert all(t.components < t.states for t in tiers)  # state blocks were joined


def test_an_unreachable_scheduler_is_a_clear_error_and_nothing_is_written(
    batch: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory, referrals = batch
    out = tmp_path / "out.csv"
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1.0)  # Dask retries until then
    # Port 9 (discard) on the loopback: nothing listens there.
    status = cli(directory, referrals, out, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9")
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert "no Dask scheduler answered at tcp://127.0.0.1:9" in err
    assert "nothing was written" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_scheduler_without_the_dask_engine_is_a_usage_error(
    batch: tuple[Path, Path], tmp_path: Path
) -> None:
    directory, referrals = batch
    out = tmp_path / "out.csv"
    assert cli(directory, referrals, out, "--scheduler", "tcp://127.0.0.1:9") == 2
    assert not out.exists()


def test_dask_is_imported_only_when_the_dask_engine_starts() -> None:
    code = (
        "import sys, matcher, matcher.triage, matcher.distributed, matcher.__main__\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
