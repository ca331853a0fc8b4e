"""SQLite persistence for the coordinator's work: accounts, referrals, assignments, audit.

One file, WAL mode, schema created and migrated by the app itself (``PRAGMA user_version``).
Every write that depends on what is already booked runs in ``BEGIN IMMEDIATE``, so two
coordinators acting at the same moment (two processes) can never book a therapist past their
open slots. Passwords are stored as salted scrypt hashes, never as text.

Where the file lives: ``MATCHER_DB`` in the environment, else ``var/matcher.db`` in the project.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from matcher.preferences import Preferences
from matcher.triage import Referral

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "var" / "matcher.db"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~50 ms per check on this machine: slow on purpose
MIN_PASSWORD = 10

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE coordinators (
        username TEXT PRIMARY KEY,
        salt BLOB NOT NULL,
        hash BLOB NOT NULL,
        n INTEGER NOT NULL, r INTEGER NOT NULL, p INTEGER NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE referrals (
        referral_id TEXT PRIMARY KEY,
        received TEXT NOT NULL,
        urgency TEXT NOT NULL,
        risk_self_harm INTEGER NOT NULL,
        risk_harm_others INTEGER NOT NULL,
        preferences TEXT NOT NULL,
        notes TEXT NOT NULL DEFAULT '',
        imported_at TEXT NOT NULL,
        imported_by TEXT NOT NULL
    );
    CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        referral_id TEXT NOT NULL REFERENCES referrals(referral_id),
        therapist_id TEXT NOT NULL,
        score REAL,
        kind TEXT NOT NULL CHECK (kind IN ('accepted', 'override')),
        reason TEXT NOT NULL DEFAULT '',
        decided_by TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        checkin_code TEXT NOT NULL UNIQUE,
        released_at TEXT,
        released_by TEXT,
        release_reason TEXT
    );
    CREATE UNIQUE INDEX one_active_assignment ON assignments(referral_id)
        WHERE released_at IS NULL;
    CREATE INDEX active_by_therapist ON assignments(therapist_id) WHERE released_at IS NULL;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        referral_id TEXT,
        therapist_id TEXT,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
)


class StoreError(Exception):
    """A decision that cannot be made as asked (the message says why, in plain words)."""


@dataclass(frozen=True)
class Booking:
    referral_id: str
    therapist_id: str
    checkin_code: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    unchanged: int


def database_path() -> Path:
    configured = os.environ.get("MATCHER_DB")
    return Path(configured) if configured else DEFAULT_PATH


class Store:
    """The coordinator database. Cheap to create: each call opens its own connection."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else database_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA busy_timeout = 30000")
            if write:
                connection.execute("BEGIN IMMEDIATE")  # take the write lock before reading
            try:
                yield connection
            except BaseException:
                if write:
                    connection.execute("ROLLBACK")
                raise
            if write:
                connection.execute("COMMIT")
        finally:
            connection.close()

    def _migrate(self) -> None:
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])

    # -----------------------------------------------------------------------------------------
    # Coordinators

    def add_coordinator(self, username: str, password: str) -> None:
        username = username.strip()
        if not username:
            raise StoreError("a username is required")
        if len(password) < MIN_PASSWORD:
            raise StoreError(f"the password needs at least {MIN_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        with self._connect(write=True) as connection:
            if connection.execute(
                "SELECT 1 FROM coordinators WHERE username = ?", (username,)
            ).fetchone():
                raise StoreError(f'a coordinator called "{username}" already exists')
            connection.execute(
                "INSERT INTO coordinators VALUES (?, ?, ?, ?, ?, ?, ?)",
                (username, salt, digest, SCRYPT_N, SCRYPT_R, SCRYPT_P, _now()),
            )
            _audit(connection, "system", "add coordinator", detail=username)

    def verify(self, username: str, password: str) -> bool:
        """True only for the right password; the work is the same for unknown names."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT salt, hash, n, r, p FROM coordinators WHERE username = ?",
                (username.strip(),),
            ).fetchone()
        if row is None:
            _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)  # no timing hint
            return False
        salt, digest, n, r, p = row
        return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)

    def has_coordinators(self) -> bool:
        with self._connect() as connection:
            return connection.execute("SELECT 1 FROM coordinators LIMIT 1").fetchone() is not None

    # -----------------------------------------------------------------------------------------
    # Referrals

    def import_referrals(self, referrals: Sequence[Referral], actor: str) -> ImportResult:
        """Add referrals in one transaction; an id already stored is left exactly as it was."""
        added = 0
        with self._connect(write=True) as connection:
            for r in referrals:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO referrals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.referral_id, r.received.isoformat(), r.urgency, int(r.risk_self_harm),
                     int(r.risk_harm_others), r.preferences.model_dump_json(), r.notes, _now(),
                     actor),
                )  # fmt: skip
                added += cursor.rowcount
            _audit(
                connection, actor, "import referrals",
                detail=f"{added} added, {len(referrals) - added} already there",
            )  # fmt: skip
        return ImportResult(added, len(referrals) - added)

    def referrals(self) -> list[Referral]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT referral_id, received, urgency, risk_self_harm, risk_harm_others, "
                "preferences, notes FROM referrals ORDER BY referral_id"
            ).fetchall()
        return [
            Referral(rid, date.fromisoformat(received), urgency, bool(self_harm),
                     bool(others), Preferences.model_validate_json(p), notes)
            for rid, received, urgency, self_harm, others, p, notes in rows
        ]  # fmt: skip

    # -----------------------------------------------------------------------------------------
    # Assignments

    def book(
        self,
        referral_id: str,
        therapist_id: str,
        capacity: int,
        actor: str,
        score: float | None = None,
        kind: str = "accepted",
        reason: str = "",
    ) -> Booking:
        """Take one of the therapist's ``capacity`` slots for the referral, or raise StoreError."""
        if kind == "override" and not reason.strip():
            raise StoreError("an override needs a reason")
        code = secrets.token_urlsafe(16)
        with self._connect(write=True) as connection:
            if not connection.execute(
                "SELECT 1 FROM referrals WHERE referral_id = ?", (referral_id,)
            ).fetchone():
                raise StoreError(f"referral {referral_id} is not in the queue")
            current = connection.execute(
                "SELECT therapist_id FROM assignments WHERE referral_id = ? AND released_at IS NULL",
                (referral_id,),
            ).fetchone()
            if current:
                raise StoreError(f"referral {referral_id} is already assigned to {current[0]}")
            taken = connection.execute(
                "SELECT COUNT(*) FROM assignments WHERE therapist_id = ? AND released_at IS NULL",
                (therapist_id,),
            ).fetchone()[0]
            if taken >= capacity:
                raise StoreError(
                    f"{therapist_id} has no open slot left ({taken} of {capacity} taken)"
                )
            connection.execute(
                "INSERT INTO assignments (referral_id, therapist_id, score, kind, reason, "
                "decided_by, decided_at, checkin_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (referral_id, therapist_id, score, kind, reason.strip(), actor, _now(), code),
            )
            _audit(connection, actor, kind, referral_id, therapist_id, reason.strip())
        return Booking(referral_id, therapist_id, code)

    def release(self, referral_id: str, actor: str, reason: str) -> str:
        """Give the referral's slot back; returns the therapist it was with."""
        if not reason.strip():
            raise StoreError("releasing a slot needs a reason")
        with self._connect(write=True) as connection:
            row = connection.execute(
                "SELECT id, therapist_id FROM assignments "
                "WHERE referral_id = ? AND released_at IS NULL",
                (referral_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"referral {referral_id} has no assignment to release")
            connection.execute(
                "UPDATE assignments SET released_at = ?, released_by = ?, release_reason = ? "
                "WHERE id = ?",
                (_now(), actor, reason.strip(), row[0]),
            )
            _audit(connection, actor, "release", referral_id, row[1], reason.strip())
        return str(row[1])

    def taken_slots(self) -> dict[str, int]:
        """Active assignments per therapist."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT therapist_id, COUNT(*) FROM assignments WHERE released_at IS NULL "
                "GROUP BY therapist_id"
            ).fetchall()
        return {str(t): int(n) for t, n in rows}

    def assignments(self, active_only: bool = True) -> pd.DataFrame:
        query = (
            "SELECT referral_id, therapist_id, score, kind, reason, decided_by, decided_at, "
            "checkin_code, released_at, released_by, release_reason FROM assignments"
        )
        if active_only:
            query += " WHERE released_at IS NULL"
        with self._connect() as connection:
            return pd.read_sql_query(query + " ORDER BY decided_at, id", connection)

    def audit(self) -> pd.DataFrame:
        with self._connect() as connection:
            return pd.read_sql_query(
                "SELECT at, actor, action, referral_id, therapist_id, detail FROM audit "
                "ORDER BY id",
                connection,
            )

    def log(
        self, actor: str, action: str, referral_id: str | None = None, detail: str = ""
    ) -> None:
        with self._connect(write=True) as connection:
            _audit(connection, actor, action, referral_id, None, detail)


def _audit(
    connection: sqlite3.Connection,
    actor: str,
    action: str,
    referral_id: str | None = None,
    therapist_id: str | None = None,
    detail: str = "",
) -> None:
    connection.execute(
        "INSERT INTO audit (at, actor, action, referral_id, therapist_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (_now(), actor, action, referral_id, therapist_id, detail),
    )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def export_day(store: Store, day: date) -> pd.DataFrame:
    """Assignments decided on ``day`` (UTC), for the coordinator's export."""
    table = store.assignments(active_only=False)
    on_day = table["decided_at"].str.startswith(day.isoformat())
    return table[on_day].reset_index(drop=True)
