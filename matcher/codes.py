"""Check-in codes: short enough to read over the phone, unguessable, and never stored as text.

A code is 15 random symbols of Crockford's base32 (75 bits) and one check symbol, shown in four
groups of four: ``7KQ2-M9XD-4TRB-H3WQ`` (``EXAMPLE``). Entry forgives what people do when they
copy a code: lower case, spaces or missing hyphens, and the letters Crockford's alphabet leaves
out because they look like digits (O for 0, I and L for 1). The check symbol (Luhn's algorithm
in base 32) catches every single mistyped symbol and every swap of two neighbouring ones but 0
and Z, so a typo is reported at once, before the store is asked (as is a made-up code, 31
times in 32: the message says a symbol is probably mistyped, not that one certainly is).

The store keeps only a digest of each code. The coordinator still sees the code whole in the
queue: a code is derived from a random per-assignment nonce (kept in the database) with a key
kept outside it (:func:`key_for`), so a copy of the database alone yields neither the codes
nor a way to test guesses offline faster than the check-in page allows.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from contextlib import suppress
from pathlib import Path

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
SYMBOLS = 15  # random symbols: 75 bits
GROUP = 4
LENGTH = SYMBOLS + 1  # with the check symbol
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
KEY_BYTES = 32
EXAMPLE = "7KQ2-M9XD-4TRB-H3WQ"  # what a code looks like; its check symbol is right


class CodeError(ValueError):
    """A code that cannot be right as typed (the message says why, in plain words)."""


def check_symbol(symbols: str) -> str:
    """Luhn mod 32 over ``symbols`` (already normalised)."""
    total, factor = 0, 2
    for symbol in reversed(symbols):
        addend = factor * _VALUE[symbol]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[(32 - total % 32) % 32]


def format_code(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def from_bytes(material: bytes) -> str:
    """The code (formatted, with its check symbol) for at least 10 bytes of key material."""
    number = int.from_bytes(material[:10], "big") >> (80 - 5 * SYMBOLS)
    symbols = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(SYMBOLS)))
    return format_code(symbols + check_symbol(symbols))


def normalise(text: str) -> str:
    """The code as typed, checked and reduced to its 16 symbols (raises CodeError)."""
    symbols = "".join(text.upper().split()).replace("-", "").translate(_LOOK_ALIKES)
    if not symbols:
        raise CodeError("enter the code from your clinic")
    if bad := sorted({s for s in symbols if s not in _VALUE}):
        raise CodeError(f"a code has only letters and digits; {''.join(bad)} is not part of one")
    if len(symbols) != LENGTH:
        raise CodeError(
            f"a code has {LENGTH} letters and digits (four groups of four); this has {len(symbols)}"
        )
    if check_symbol(symbols[:-1]) != symbols[-1]:
        raise CodeError(  # a typo, most likely; or a code nobody issued
            "this code does not check out: a letter or digit is probably mistyped, so please "
            "compare it, group by group, with the one you were given"
        )
    return symbols


def digest(code: str) -> str:
    """What the store keeps for a code (hex SHA-256 of its normalised symbols)."""
    return hashlib.sha256(normalise(code).encode("ascii")).hexdigest()


def derive(key: bytes, nonce: bytes) -> str:
    """The code for one assignment's nonce under the installation's key."""
    return from_bytes(hmac.new(key, b"check-in code\0" + nonce, hashlib.sha256).digest())


def new_nonce() -> bytes:
    return secrets.token_bytes(16)


def key_for(database: Path) -> bytes:
    """The key codes are derived with: ``MATCHER_CODE_KEY`` (hex) in the environment, else a
    file beside the database (``<database>.key``), created owner-only on first use. Losing it
    means coordinators can no longer display codes already given out (clients' codes still
    work: the database keeps their digests)."""
    configured = os.environ.get("MATCHER_CODE_KEY")
    if configured:
        try:
            key = bytes.fromhex(configured)
        except ValueError:
            raise CodeError("MATCHER_CODE_KEY must be hexadecimal") from None
        if len(key) < 16:
            raise CodeError("MATCHER_CODE_KEY must be at least 16 bytes (32 hex digits)")
        return key
    path = database.with_name(database.name + ".key")
    if not path.exists():  # written whole, then linked into place: a reader never sees half
        draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
        with suppress(FileExistsError):  # another process was first: use its key
            os.link(draft, path)
        draft.unlink()
    key = path.read_bytes()
    if len(key) < 16:
        raise CodeError(f"the check-in code key {path} is damaged (too short)")
    return key
