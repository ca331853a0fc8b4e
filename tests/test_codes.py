"""Check-in codes: short, forgiving to type, typos caught, unguessable, stored only as digests."""

from __future__ import annotations

import itertools
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher import codes
from matcher.codes import ALPHABET, CodeError

KEY = bytes(range(32))
nonces = st.binary(min_size=16, max_size=16)


def test_a_known_code() -> None:
    # Golden: derivation and format are a contract with codes already given to clients.
    assert codes.derive(KEY, bytes(16)) == "8Z91-Y4MC-TJX6-BAC8"
    assert codes.from_bytes(bytes(10)) == "0000-0000-0000-0000"
    assert codes.from_bytes(b"\xff" * 10) == "ZZZZ-ZZZZ-ZZZZ-ZZZF"


@given(nonces)
def test_codes_are_four_groups_of_four_with_a_valid_check(nonce: bytes) -> None:
    code = codes.derive(KEY, nonce)
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set(code.replace("-", "")) <= set(ALPHABET)
    assert codes.normalise(code) == code.replace("-", "")


@given(nonces, st.sampled_from(["lower", "spaces", "no hyphens", "look-alikes"]))
def test_entry_forgives_case_spacing_and_look_alike_letters(nonce: bytes, how: str) -> None:
    code = codes.derive(KEY, nonce)
    typed = {
        "lower": code.lower(),
        "spaces": f"  {code.replace('-', ' ')} ",
        "no hyphens": code.replace("-", ""),
        "look-alikes": code.replace("0", "o").replace("1", "l"),
    }[how]
    assert codes.digest(typed) == codes.digest(code)


@given(nonces, st.integers(0, 15), st.sampled_from(ALPHABET))
def test_every_single_mistyped_symbol_is_caught(nonce: bytes, at: int, symbol: str) -> None:
    symbols = list(codes.normalise(codes.derive(KEY, nonce)))
    if symbols[at] == symbol:
        return
    symbols[at] = symbol
    with pytest.raises(CodeError, match="mistyped"):
        codes.normalise("".join(symbols))


def test_swapping_neighbours_is_caught_except_zero_and_z() -> None:
    base = list("7KQ2M9XD4TRBH3W")
    missed = set()
    for at, (a, b) in itertools.product(range(14), itertools.permutations(ALPHABET, 2)):
        one, other = base.copy(), base.copy()
        one[at : at + 2], other[at : at + 2] = [a, b], [b, a]
        if codes.check_symbol("".join(one)) == codes.check_symbol("".join(other)):
            missed.add(frozenset((a, b)))
    assert missed == {frozenset("0Z")}


@pytest.mark.parametrize(
    ("typed", "why"),
    [("", "enter the code"), ("ABCD-EFGH", "has 16"), ("ABCD-EFGH-JKMN-PQR!", "not part"),
     ("U" * 16, "not part")],
)  # fmt: skip
def test_malformed_codes_say_what_is_wrong(typed: str, why: str) -> None:
    with pytest.raises(CodeError, match=why):
        codes.normalise(typed)


def test_the_code_space_is_at_least_64_bits() -> None:
    assert 5 * codes.SYMBOLS >= 64


def test_the_key_is_created_once_owner_only_and_reused(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    first = codes.key_for(database)
    assert codes.key_for(database) == first and len(first) == codes.KEY_BYTES
    key_file = tmp_path / "m.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.db.key"]  # no draft left behind


def test_a_configured_key_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_CODE_KEY", "zz")
    with pytest.raises(CodeError, match="hexadecimal"):
        codes.key_for(tmp_path / "m.db")
    monkeypatch.setenv("MATCHER_CODE_KEY", "ab" * 8)
    with pytest.raises(CodeError, match="at least 16 bytes"):
        codes.key_for(tmp_path / "m.db")
    monkeypatch.setenv("MATCHER_CODE_KEY", "ab" * 16)
    assert codes.key_for(tmp_path / "m.db") == bytes.fromhex("ab" * 16)
    assert not (tmp_path / "m.db.key").exists()


def test_the_database_never_holds_a_code(private_database: Path) -> None:
    from datetime import date

    from matcher.referrals import Referral
    from matcher.store import Store
    from tests.conftest import prefs

    store = Store(private_database)
    store.import_referrals([Referral("R1", date(2026, 11, 1), "routine", False, False, prefs())],
                           "ana")  # fmt: skip
    code = store.book("R1", "T1", capacity=1, actor="ana").checkin_code
    assert store.checkin_target(code.lower().replace("-", " ")) == ("R1", "T1")
    assert list(store.assignments()["checkin_code"]) == [code]  # shown whole to coordinators
    with sqlite3.connect(private_database) as raw:
        dumped = "\n".join(raw.iterdump())
    assert code not in dumped and code.replace("-", "") not in dumped
    assert codes.digest(code) in dumped


def test_the_example_shown_to_clients_is_well_formed() -> None:
    """The check-in page's placeholder failed its own check ("this code has a typo")."""
    assert codes.format_code(codes.normalise(codes.EXAMPLE)) == codes.EXAMPLE
