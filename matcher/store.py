"""SQLite persistence for the coordinator's work: accounts, referrals, assignments, audit.

One file, WAL mode, schema created and migrated by the app itself (``PRAGMA user_version``).
Every write that depends on what is already booked runs in ``BEGIN IMMEDIATE``, so two
coordinators acting at the same moment (two processes) can never book a therapist past their
open slots. Passwords are stored as salted scrypt hashes, never as text; a hash made with
older, cheaper parameters is replaced on the account's next successful sign-in.

The file holds password hashes, risk flags, comments and check-in codes, so it and its WAL/SHM
files are owner-only (0600), also when an existing database is opened, and a folder the store
creates for it is owner-only (0700).

Where the file lives: ``MATCHER_DB`` in the environment, else ``var/matcher.db`` in the project.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from matcher import codes
from matcher.checkins import CheckIn, ImportedCheckIn
from matcher.preferences import Preferences
from matcher.referrals import Referral
from matcher.schema import valid_contact
from matcher.vocabulary import CHECKIN_MAX, CHECKIN_MIN, ITEMS
from matcher.words import day

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "var" / "matcher.db"
# OWASP's minimum for scrypt (Password Storage Cheat Sheet): 128 MiB and ~0.3 s per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSWORD = 10
FREE_FAILURES = 3  # wrong check-in codes a browser session may enter before it is slowed down
# A session number must be possible: the first session any time after the assignment, then at
# most two sessions a week since it was made.
SESSIONS_PER_WEEK = 2
# Sign-in back-off: after FREE_SIGN_IN_FAILURES wrong passwords within the window (per account
# and per source), the next attempt is checked only after a wait that doubles with each
# failure. It is capped, not a lock, so nobody can shut a coordinator out for long; the cap
# still holds one guesser to about 12 guesses an hour per account.
FREE_SIGN_IN_FAILURES = 3
MAX_SIGN_IN_WAIT_S = 300.0
SIGN_IN_WINDOW = timedelta(hours=1)
MAX_NAME = 200  # characters of an attempted username kept in the audit log
MAX_COMMENT = 2000  # characters in a check-in comment (the page shows a counter)
MAX_REQUEST_NAME = 60  # a first name or initials, for a consultation request
MAX_CHOSEN = 3  # therapists a consultation request may name
_HASHING = threading.BoundedSemaphore(2)  # password hashes computed at once, per process

# A migration is SQL, or a step that needs Python (the connection and the code key).
Migration = str | Callable[[sqlite3.Connection, bytes], None]
ITEM_COLUMNS = ", ".join(ITEMS)


def _codes_hashed_and_items_skippable(connection: sqlite3.Connection, key: bytes) -> None:
    """Version 5: check-in codes become short, derived and stored as digests (issue 11), and
    a check-in may skip items (a skipped item is missing, not a rating).

    Codes given out before this version were long random text kept as is; each active or
    released assignment gets a new code in the new format, and its check-ins follow it.
    Clients holding an old code need the new one (the queue shows it)."""
    connection.execute("PRAGMA defer_foreign_keys = ON")
    columns = ",\n".join(f"{item} INTEGER CHECK ({item} BETWEEN 1 AND 5)" for item in ITEMS)
    connection.execute(
        f"""CREATE TABLE checkins_v5 (
            id INTEGER PRIMARY KEY,
            checkin_code TEXT REFERENCES assignments(checkin_code),
            therapist_id TEXT NOT NULL,
            session INTEGER NOT NULL CHECK (session >= 1),
            day TEXT NOT NULL,
            {columns},
            comment TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('client', 'import')),
            created_at TEXT NOT NULL
        )"""
    )
    connection.execute("INSERT INTO checkins_v5 SELECT * FROM checkins")
    connection.execute("DROP TABLE checkins")
    connection.execute("ALTER TABLE checkins_v5 RENAME TO checkins")
    connection.execute(
        "CREATE UNIQUE INDEX one_checkin_per_session ON checkins(checkin_code, session) "
        "WHERE checkin_code IS NOT NULL"
    )
    connection.execute("CREATE INDEX checkins_by_therapist ON checkins(therapist_id)")
    connection.execute("DROP TABLE failed_codes")  # wrong codes now slow one browser session
    connection.execute("ALTER TABLE assignments ADD COLUMN code_nonce BLOB")
    for row_id, old in connection.execute("SELECT id, checkin_code FROM assignments").fetchall():
        nonce = codes.new_nonce()
        new = codes.digest(codes.derive(key, nonce))
        connection.execute(
            "UPDATE assignments SET checkin_code = ?, code_nonce = ? WHERE id = ?",
            (new, nonce, row_id),
        )
        connection.execute(
            "UPDATE checkins SET checkin_code = ? WHERE checkin_code = ?", (new, old)
        )


MIGRATIONS: tuple[Migration, ...] = (
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
    """
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        checkin_code TEXT REFERENCES assignments(checkin_code),
        therapist_id TEXT NOT NULL,
        session INTEGER NOT NULL CHECK (session >= 1),
        day TEXT NOT NULL,
        safe INTEGER NOT NULL CHECK (safe BETWEEN 1 AND 5),
        heard INTEGER NOT NULL CHECK (heard BETWEEN 1 AND 5),
        understood INTEGER NOT NULL CHECK (understood BETWEEN 1 AND 5),
        seen INTEGER NOT NULL CHECK (seen BETWEEN 1 AND 5),
        connected INTEGER NOT NULL CHECK (connected BETWEEN 1 AND 5),
        valued INTEGER NOT NULL CHECK (valued BETWEEN 1 AND 5),
        on_my_team INTEGER NOT NULL CHECK (on_my_team BETWEEN 1 AND 5),
        clear_plan INTEGER NOT NULL CHECK (clear_plan BETWEEN 1 AND 5),
        honest INTEGER NOT NULL CHECK (honest BETWEEN 1 AND 5),
        comment TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL CHECK (source IN ('client', 'import')),
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX one_checkin_per_session ON checkins(checkin_code, session)
        WHERE checkin_code IS NOT NULL;
    CREATE INDEX checkins_by_therapist ON checkins(therapist_id);
    CREATE TABLE failed_codes (at TEXT NOT NULL);
    """,
    """
    CREATE TABLE failed_sign_ins (
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        source TEXT
    );
    CREATE INDEX failed_sign_ins_by_user ON failed_sign_ins(username, at);
    CREATE INDEX failed_sign_ins_by_source ON failed_sign_ins(source, at);
    """,
    """
    ALTER TABLE referrals ADD COLUMN client_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE referrals ADD COLUMN contact TEXT NOT NULL DEFAULT '';
    ALTER TABLE referrals ADD COLUMN source TEXT NOT NULL DEFAULT 'import';
    ALTER TABLE referrals ADD COLUMN chosen TEXT NOT NULL DEFAULT '';
    """,
    _codes_hashed_and_items_skippable,
    """
    CREATE TABLE offers (
        id INTEGER PRIMARY KEY,
        referral_id TEXT NOT NULL REFERENCES referrals(referral_id),
        therapist_id TEXT NOT NULL,
        offered_at TEXT NOT NULL,
        offered_by TEXT NOT NULL,
        expires_on TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('open', 'accepted', 'declined', 'expired', 'withdrawn')),
        closed_at TEXT,
        closed_by TEXT
    );
    CREATE UNIQUE INDEX one_open_offer ON offers(referral_id) WHERE status = 'open';
    CREATE INDEX open_offers_by_therapist ON offers(therapist_id) WHERE status = 'open';
    CREATE INDEX offers_by_therapist ON offers(therapist_id);
    ALTER TABLE referrals ADD COLUMN reviewed_at TEXT;
    """,
    # Which browser session sent a consultation request: only a resend from that same session
    # is the same request (a random token of the session's, never shown; '' for imports).
    "ALTER TABLE referrals ADD COLUMN sender TEXT NOT NULL DEFAULT ''",
)

# A client's consultation request (the app's one place that stores a client's data) is kept this
# many days from the day it was sent (longer only while an offer to the client is open). Then
# a request nobody acted on is deleted, and one a coordinator acted on keeps no name or contact.
REQUEST_DAYS = 90
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
# An offer of a slot holds it for the client this many days, then lapses (the slot is free again).
OFFER_DAYS = 7


class StoreError(Exception):
    """A decision that cannot be made as asked (the message says why, in plain words)."""


def session_opens(decided: datetime, session: int) -> date:
    """The first day a check-in about ``session`` is possible for an assignment made at
    ``decided``: the first session any time, then SESSIONS_PER_WEEK a week."""
    return (decided + timedelta(days=-(-(session - 1) * 7 // SESSIONS_PER_WEEK))).date()


@dataclass(frozen=True)
class Requested:
    """A consultation request as stored: its reference, and whether the same request had been
    sent already today (then nothing new was queued)."""

    reference: str
    repeated: bool = False


@dataclass(frozen=True)
class Booking:
    referral_id: str
    therapist_id: str
    checkin_code: str


@dataclass(frozen=True)
class BookingRequest:
    """One proposed assignment to accept (``score`` is the match score, kept for the record)."""

    referral_id: str
    therapist_id: str
    score: float | None
    reason: str = ""


@dataclass(frozen=True)
class Refusal:
    """A request of a batch that was not booked, and why, in plain words."""

    request: BookingRequest
    why: str


@dataclass(frozen=True)
class BatchBooking:
    """What a batch booked and what it refused, each in the order asked."""

    booked: tuple[Booking, ...]
    refused: tuple[Refusal, ...]


@dataclass(frozen=True)
class Offer:
    """A slot offered to a referral with one therapist, held until it is answered or lapses."""

    offer_id: int
    referral_id: str
    therapist_id: str
    offered_at: datetime
    expires_on: date
    status: str  # open, accepted, declined, expired, withdrawn (assigned another way)


@dataclass(frozen=True)
class Contact:
    """One time a referral was offered (or given) a slot with a therapist, for reachability:
    days from the referral's arrival to that moment, and whether a first session followed as
    far as check-ins show (None while it is too early to say)."""

    therapist_id: str
    days_to_offer: int
    first_session: bool | None


@dataclass(frozen=True)
class SignIn:
    """One sign-in attempt: whether it succeeded, whether the password was checked at all (not
    during a back-off wait), and the seconds until the next attempt for this account (or from
    this source) will be checked."""

    ok: bool
    checked: bool = True
    wait_s: float = 0.0


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
        _owner_only(self.path)
        self._key = codes.key_for(self.path)
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
                if callable(script):
                    script(connection, self._key)
                    connection.execute(f"PRAGMA user_version = {number}")
                    continue
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
        """True only for the right password; the work is the same for unknown names. No
        back-off and no audit: the sign-in form uses ``sign_in``."""
        return self._hash_parameters(username, password) is not None

    def sign_in(
        self, username: str, password: str, source: str | None = None,
        now: datetime | None = None,
    ) -> SignIn:  # fmt: skip
        """Check a coordinator's password under the back-off (see ``sign_in_wait``).

        ``source`` is where the attempt comes from (an IP address) when known. Every refusal
        is audited with the username tried, never the password. A right password clears the
        account's recent failures and re-hashes a hash made with older parameters.
        """
        now = now or _utcnow()
        name = username.strip()[:MAX_NAME]  # attacker-chosen: never keep more than this
        origin = f"from {source}" if source else "source unknown"
        wait = self.sign_in_wait(name, source, now)
        if wait > 0:
            self.log(name, "sign-in refused", detail=f"{origin}; {wait:.1f} s of back-off left")
            return SignIn(False, checked=False, wait_s=wait)
        parameters = self._hash_parameters(username, password)
        if parameters is None:
            with self._connect(write=True) as connection:
                connection.execute(
                    "INSERT INTO failed_sign_ins VALUES (?, ?, ?)", (_stamp(now), name, source)
                )
                connection.execute(  # older failures no longer count: keep the table small
                    "DELETE FROM failed_sign_ins WHERE at < ?", (_stamp(now - SIGN_IN_WINDOW),)
                )
                _audit(connection, name, "failed sign-in", detail=origin)
            return SignIn(False, wait_s=self.sign_in_wait(name, source, now))
        upgrade = None
        if parameters != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
            salt = secrets.token_bytes(16)  # hashed before taking the write lock: it takes time
            upgrade = (salt, _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
        with self._connect(write=True) as connection:
            connection.execute("DELETE FROM failed_sign_ins WHERE username = ?", (name,))
            if upgrade is not None:
                connection.execute(
                    "UPDATE coordinators SET salt = ?, hash = ?, n = ?, r = ?, p = ? "
                    "WHERE username = ?",
                    (*upgrade, SCRYPT_N, SCRYPT_R, SCRYPT_P, username.strip()),
                )
        return SignIn(True)

    def sign_in_wait(
        self, username: str, source: str | None = None, now: datetime | None = None
    ) -> float:
        """Seconds until a sign-in attempt for ``username`` (or from ``source``) is checked.

        Zero until FREE_SIGN_IN_FAILURES failures within SIGN_IN_WINDOW; then one second
        after the latest failure, doubling with each further failure, at most
        MAX_SIGN_IN_WAIT_S. The account and the source are counted apart and the longer wait
        applies. The username need not exist, so the wait tells nothing about which do.
        """
        now = now or _utcnow()
        keys = [("username", username.strip()[:MAX_NAME])]
        if source:
            keys.append(("source", source))
        wait = 0.0
        with self._connect() as connection:
            for column, value in keys:
                failures, latest = connection.execute(
                    f"SELECT COUNT(*), MAX(at) FROM failed_sign_ins WHERE {column} = ? AND at >= ?",
                    (value, _stamp(now - SIGN_IN_WINDOW)),
                ).fetchone()
                if failures >= FREE_SIGN_IN_FAILURES:
                    backoff = min(2.0 ** (failures - FREE_SIGN_IN_FAILURES), MAX_SIGN_IN_WAIT_S)
                    ready = datetime.fromisoformat(latest) + timedelta(seconds=backoff)
                    wait = max(wait, (ready - now).total_seconds())
        return min(wait, MAX_SIGN_IN_WAIT_S)  # a clock set back never lengthens the cap

    def _hash_parameters(self, username: str, password: str) -> tuple[int, int, int] | None:
        """The (n, r, p) the account's hash was made with when the password is right, else
        None; an unknown name costs the same scrypt work, so timing does not tell it apart."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT salt, hash, n, r, p FROM coordinators WHERE username = ?",
                (username.strip(),),
            ).fetchone()
        if row is None:
            _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
            return None
        salt, digest, n, r, p = row
        if not hmac.compare_digest(_scrypt(password, salt, n, r, p), digest):
            return None
        return int(n), int(r), int(p)

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
                    "INSERT OR IGNORE INTO referrals (referral_id, received, urgency, "
                    "risk_self_harm, risk_harm_others, preferences, notes, imported_at, "
                    "imported_by, client_name, contact) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.referral_id, r.received.isoformat(), r.urgency, int(r.risk_self_harm),
                     int(r.risk_harm_others), r.preferences.model_dump_json(), r.notes, _now(),
                     actor, r.client_name, r.contact),
                )  # fmt: skip
                added += cursor.rowcount
            _audit(
                connection, actor, "import referrals",
                detail=f"{added} added, {len(referrals) - added} already there",
            )  # fmt: skip
        return ImportResult(added, len(referrals) - added)

    def referrals(self) -> list[Referral]:
        with self._connect() as connection:
            return _referrals(connection)

    def snapshot(self, today: date | None = None) -> Snapshot:
        """Everything the queue shows, read in one transaction (so slots, assignments, offers
        and check-ins are from the same moment), after lapsing offers past their date and
        forgetting old requests."""
        today = today or _utcnow().date()
        self.expire_offers(today)
        self.forget_old_requests(today)
        with self._connect() as connection:
            connection.execute("BEGIN")
            try:
                return Snapshot(
                    referrals=_referrals(connection),
                    assignments=self._assignments(connection, active_only=True),
                    taken=_taken(connection),
                    checkins=_active_checkins(connection),
                    offers=_offers(connection),
                    reviewed=_reviewed(connection),
                    released=_released(connection),
                )
            finally:
                connection.execute("COMMIT")

    def request_consultation(
        self,
        name: str,
        contact: str,
        therapists: Sequence[str],
        preferences: Preferences,
        risk: bool = False,
        today: date | None = None,
        sender: str = "",
    ) -> Requested:
        """A client's request to be contacted, stored as a self-referral in the queue, with the
        reference the client can quote.

        ``sender`` is a random token of the browser session sending it. The same request sent
        again from that session the same day (same name, contact and therapists, not yet
        answered) is the same request: its reference comes back, with the latest answers and any
        risk flag kept, and nothing is added to the queue. From another session (or with no
        token) it is a new request: nobody else learns that a request exists, or changes it.
        Old requests are forgotten first (``forget_old_requests``)."""
        name, contact = " ".join(name.split()), contact.strip()
        if not 1 <= len(name) <= MAX_REQUEST_NAME:
            raise StoreError(f"a first name or initials of up to {MAX_REQUEST_NAME} characters")
        if not (valid_contact("phone", contact) or valid_contact("email", contact)):
            raise StoreError("a phone number or an email address to reach you")
        if not 1 <= len(therapists) <= MAX_CHOSEN:
            raise StoreError(f"one to {MAX_CHOSEN} therapists")
        today = today or date.today()
        reference = "SR-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        with self._connect(write=True) as connection:
            _forget_old_requests(connection, today)
            same = connection.execute(
                "SELECT referral_id FROM referrals WHERE source = 'self' AND received = ? AND "
                "sender = ? AND client_name = ? AND contact = ? AND chosen = ? AND referral_id "
                "NOT IN (SELECT referral_id FROM assignments) AND referral_id NOT IN "
                "(SELECT referral_id FROM offers)",
                (today.isoformat(), sender, name, contact, ";".join(therapists)),
            ).fetchone()
            if same is not None and sender:  # no session, no "same request"
                connection.execute(
                    "UPDATE referrals SET preferences = ?, risk_self_harm = MAX(risk_self_harm, ?) "
                    "WHERE referral_id = ?",
                    (preferences.model_dump_json(), int(risk), same[0]),
                )
                _audit(connection, "app", "consultation request sent again", referral_id=same[0])
                return Requested(str(same[0]), repeated=True)
            connection.execute(
                "INSERT INTO referrals (referral_id, received, urgency, risk_self_harm, "
                "risk_harm_others, preferences, notes, imported_at, imported_by, client_name, "
                "contact, source, chosen, sender) VALUES (?, ?, 'routine', ?, 0, ?, ?, ?, 'app', "
                "?, ?, 'self', ?, ?)",
                (reference, today.isoformat(), int(risk), preferences.model_dump_json(),
                 "Consultation request from the app", _now(), name, contact,
                 ";".join(therapists), sender),
            )  # fmt: skip
            _audit(connection, "app", "consultation request", referral_id=reference)
        return Requested(reference)

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
        with self._connect(write=True) as connection:
            return _book(
                connection, self._key, referral_id, therapist_id, capacity, actor, score, kind,
                reason,
            )  # fmt: skip

    def book_all(
        self, requests: Sequence[BookingRequest], capacity: Mapping[str, int], actor: str
    ) -> BatchBooking:
        """Accept many proposed assignments in one transaction, in the order given.

        ``capacity`` is each therapist's open slots (absent: none). A request that cannot be
        made (no slot left, the referral already assigned or not in the queue) is refused with
        the reason and the others go ahead; anything else going wrong books none of them, so
        the queue is never left half-accepted. Each booking has its own audit entry.
        """
        booked: list[Booking] = []
        refused: list[Refusal] = []
        with self._connect(write=True) as connection:
            for request in requests:
                try:
                    booked.append(
                        _book(connection, self._key, request.referral_id, request.therapist_id,
                              capacity.get(request.therapist_id, 0), actor, request.score,
                              "accepted", request.reason)
                    )  # fmt: skip
                except StoreError as error:  # raised before _book writes anything
                    refused.append(Refusal(request, str(error)))
        return BatchBooking(tuple(booked), tuple(refused))

    def undo_batch(self, bookings: Sequence[Booking], actor: str) -> int:
        """Take back a batch of bookings as one step (the coordinator's "undo accept all"):
        their assignments are removed as if never made, in one transaction, and the undo is
        audited. Refused, changing nothing, once any of them has a check-in or was released."""
        digests = [codes.digest(b.checkin_code) for b in bookings]
        if not digests:
            return 0
        marks = ", ".join("?" for _ in digests)
        with self._connect(write=True) as connection:
            active = connection.execute(
                f"SELECT COUNT(*) FROM assignments WHERE checkin_code IN ({marks}) "
                "AND released_at IS NULL",
                digests,
            ).fetchone()[0]
            rated = connection.execute(
                f"SELECT COUNT(*) FROM checkins WHERE checkin_code IN ({marks})", digests
            ).fetchone()[0]
            if active != len(digests) or rated:
                raise StoreError(
                    "this batch can no longer be undone as one step: some of it was released, "
                    "changed or already has check-ins"
                )
            connection.execute(f"DELETE FROM assignments WHERE checkin_code IN ({marks})", digests)
            _audit(connection, actor, "undo accept all", detail=f"{len(digests)} assignments")
        return len(digests)

    def release(self, referral_id: str, actor: str, reason: str) -> str:
        """Give the referral's slot back; returns the therapist it was with."""
        with self._connect(write=True) as connection:
            return _release(connection, referral_id, actor, reason)

    def rematch(
        self, referral_id: str, therapist_id: str, capacity: int, actor: str, reason: str
    ) -> Booking:
        """Release the current therapist and book another in one transaction: if the new
        booking is refused, the client keeps the therapist they had."""
        with self._connect(write=True) as connection:
            _release(connection, referral_id, actor, reason)
            return _book(connection, self._key, referral_id, therapist_id, capacity, actor, None,
                         "override", reason)  # fmt: skip

    def taken_slots(self) -> dict[str, int]:
        """Slots in use per therapist: active assignments and open offers (an offer holds its
        slot until it is answered or lapses)."""
        with self._connect() as connection:
            return _taken(connection)

    def review(self, referral_id: str, actor: str) -> None:
        """Record that a coordinator reviewed a risk-flagged referral today (its next review
        falls due REVIEW_DAYS later; see coordination)."""
        with self._connect(write=True) as connection:
            if not connection.execute(
                "UPDATE referrals SET reviewed_at = ? WHERE referral_id = ?", (_now(), referral_id)
            ).rowcount:
                raise StoreError(f"referral {referral_id} is not in the queue")
            _audit(connection, actor, "risk review", referral_id)

    def reviewed(self) -> dict[str, date]:
        """The day each referral was last reviewed, for those ever reviewed."""
        with self._connect() as connection:
            return _reviewed(connection)

    # -----------------------------------------------------------------------------------------
    # Offers (a reply to a consultation request, or to any referral)

    def offer(
        self, referral_id: str, therapist_id: str, capacity: int, actor: str,
        days: int = OFFER_DAYS, now: datetime | None = None,
    ) -> Offer:  # fmt: skip
        """Hold one of the therapist's slots for the referral for ``days`` days."""
        if days < 1:
            raise StoreError("an offer must stay open at least one day")
        now = now or _utcnow()
        with self._connect(write=True) as connection:
            _expire(connection, now.date())
            _bookable(connection, referral_id, therapist_id, capacity)
            if connection.execute(
                "SELECT 1 FROM offers WHERE referral_id = ? AND status = 'open'", (referral_id,)
            ).fetchone():
                raise StoreError(f"referral {referral_id} already has an open offer")
            expires = now.date() + timedelta(days=days)
            cursor = connection.execute(
                "INSERT INTO offers (referral_id, therapist_id, offered_at, offered_by, "
                "expires_on, status) VALUES (?, ?, ?, ?, ?, 'open')",
                (referral_id, therapist_id, now.isoformat(timespec="seconds"), actor,
                 expires.isoformat()),
            )  # fmt: skip
            _audit(connection, actor, "offer", referral_id, therapist_id,
                   f"open until {expires.isoformat()}")  # fmt: skip
            return Offer(int(cursor.lastrowid or 0), referral_id, therapist_id, now, expires,
                         "open")  # fmt: skip

    def answer_offer(
        self, referral_id: str, accepted: bool, capacity: int, actor: str,
        now: datetime | None = None,
    ) -> Booking | None:  # fmt: skip
        """Record the client's answer to the referral's open offer. Accepted: the held slot
        becomes an assignment (with its check-in code), in the same transaction. Declined: the
        slot is free again. Refused when there is no open offer (answered, or lapsed)."""
        now = now or _utcnow()
        with self._connect(write=True) as connection:
            _expire(connection, now.date())
            row = connection.execute(
                "SELECT id, therapist_id FROM offers WHERE referral_id = ? AND status = 'open'",
                (referral_id,),
            ).fetchone()
            if row is None:
                raise StoreError(
                    f"referral {referral_id} has no open offer (it was answered or has lapsed)"
                )
            status = "accepted" if accepted else "declined"
            connection.execute(
                "UPDATE offers SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?",
                (status, now.isoformat(timespec="seconds"), actor, row[0]),
            )
            _audit(connection, actor, f"offer {status}", referral_id, row[1])
            if not accepted:
                return None
            return _book(connection, self._key, referral_id, str(row[1]), capacity, actor,
                         None, "accepted", "accepted an offer")  # fmt: skip

    def offers(self, today: date | None = None) -> list[Offer]:
        """Every offer, oldest first, after lapsing those past their date (each audited)."""
        self.expire_offers(today or _utcnow().date())
        with self._connect() as connection:
            return _offers(connection)

    def expire_offers(self, today: date) -> None:
        """Lapse open offers whose last day has passed (the write lock only when one has)."""
        with self._connect() as connection:
            due = connection.execute(
                "SELECT 1 FROM offers WHERE status = 'open' AND expires_on < ? LIMIT 1",
                (today.isoformat(),),
            ).fetchone()
        if due:
            with self._connect(write=True) as connection:
                _expire(connection, today)

    def forget_old_requests(self, today: date) -> None:
        """Keep the request form's promise (see REQUEST_DAYS); the write lock only when a
        request is due."""
        with self._connect() as connection:
            due = connection.execute(_OLD_REQUESTS + " LIMIT 1", _old(today)).fetchone()
        if due:
            with self._connect(write=True) as connection:
                _forget_old_requests(connection, today)

    def contacts(self, today: date | None = None, settle_days: int = 14) -> list[Contact]:
        """Reachability history: each referral's first offer or assignment with each therapist.

        A first session "followed" when the referral has a check-in about that therapist. It
        is too early to say (None) while an offer is open or an assignment is younger than
        ``settle_days`` without a check-in; a declined or lapsed offer did not lead to one.
        """
        today = today or _utcnow().date()
        with self._connect() as connection:
            rows = connection.execute(
                """
                WITH events AS (
                    SELECT referral_id, therapist_id, offered_at AS at, status, NULL AS code
                    FROM offers
                    UNION ALL
                    SELECT referral_id, therapist_id, decided_at, 'assigned', checkin_code
                    FROM assignments
                ),
                firsts AS (
                    SELECT referral_id, therapist_id, MIN(at) AS at FROM events
                    GROUP BY referral_id, therapist_id
                )
                SELECT f.therapist_id, r.received, f.at,
                    EXISTS (SELECT 1 FROM assignments a JOIN checkins c
                            ON c.checkin_code = a.checkin_code
                            WHERE a.referral_id = f.referral_id
                            AND a.therapist_id = f.therapist_id) AS seen,
                    EXISTS (SELECT 1 FROM offers o WHERE o.referral_id = f.referral_id
                            AND o.therapist_id = f.therapist_id AND o.status = 'open') AS open,
                    EXISTS (SELECT 1 FROM assignments a WHERE a.referral_id = f.referral_id
                            AND a.therapist_id = f.therapist_id) AS assigned,
                    (SELECT MIN(decided_at) FROM assignments a
                     WHERE a.referral_id = f.referral_id
                     AND a.therapist_id = f.therapist_id) AS assigned_at
                FROM firsts f JOIN referrals r ON r.referral_id = f.referral_id
                ORDER BY f.at
                """
            ).fetchall()
        found = []
        for therapist_id, received, at, seen, still_open, assigned, assigned_at in rows:
            days = max((date.fromisoformat(at[:10]) - date.fromisoformat(received)).days, 0)
            first: bool | None
            if seen:
                first = True
            elif still_open or (
                assigned and (today - date.fromisoformat(assigned_at[:10])).days < settle_days
            ):
                first = None
            else:
                first = False
            found.append(Contact(str(therapist_id), days, first))
        return found

    def assignments(self, active_only: bool = True) -> pd.DataFrame:
        """Assignments in the order decided, each with its check-in code as the client has it
        (derived again from its nonce; the database keeps only a digest)."""
        with self._connect() as connection:
            return self._assignments(connection, active_only)

    def _assignments(self, connection: sqlite3.Connection, active_only: bool) -> pd.DataFrame:
        query = (
            "SELECT referral_id, therapist_id, score, kind, reason, decided_by, decided_at, "
            "code_nonce, released_at, released_by, release_reason FROM assignments"
        )
        if active_only:
            query += " WHERE released_at IS NULL"
        table = pd.read_sql_query(query + " ORDER BY decided_at, id", connection)
        table.insert(
            7, "checkin_code", [codes.derive(self._key, bytes(n)) for n in table["code_nonce"]]
        )
        return table.drop(columns="code_nonce")

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

    # -----------------------------------------------------------------------------------------
    # Check-ins

    def checkin_target(self, code: str) -> tuple[str, str] | None:
        """(referral_id, therapist_id) the code belongs to, or None for an unknown code or one
        whose assignment was released or rematched (its code is dead)."""
        row = self._by_code(
            code,
            "SELECT referral_id, therapist_id FROM assignments WHERE checkin_code = ? "
            "AND released_at IS NULL",
        )
        return None if row is None else (str(row[0]), str(row[1]))

    def _by_code(self, code: str, query: str) -> tuple[Any, ...] | None:
        """The one row ``query`` finds for a check-in code (its ? is the code's digest), or None
        for a code that is not well formed or finds nothing."""
        try:
            key = codes.digest(code)
        except codes.CodeError:
            return None
        with self._connect() as connection:
            row = connection.execute(query, (key,)).fetchone()
        return None if row is None else tuple(row)

    def record_checkin(
        self, code: str, therapist_id: str, session: int, ratings: Mapping[str, int],
        comment: str = "", now: datetime | None = None,
    ) -> str:  # fmt: skip
        """Store a client's check-in; returns the referral id. ``ratings`` holds the items the
        client answered (a skipped item is missing); a check-in with no rating needs a comment.
        Misuse raises StoreError, including a comment longer than MAX_COMMENT characters and a
        session that cannot have happened yet (see SESSIONS_PER_WEEK)."""
        _check_ratings(ratings)
        comment = comment.strip()
        if len(comment) > MAX_COMMENT:
            raise StoreError(
                f"a comment can be at most {MAX_COMMENT:,} characters "
                f"(this one has {len(comment):,})"
            )
        if not ratings and not comment:
            raise StoreError("answer at least one statement, or write a comment")
        try:
            key = codes.digest(code)
        except codes.CodeError as error:
            raise StoreError(str(error)) from None
        now = now or _utcnow()
        with self._connect(write=True) as connection:
            row = connection.execute(
                "SELECT referral_id, therapist_id, decided_at FROM assignments "
                "WHERE checkin_code = ? AND released_at IS NULL",
                (key,),
            ).fetchone()
            if row is None:
                raise StoreError("that check-in code is not recognized")
            if row[1] != therapist_id:
                raise StoreError("this code is for a different therapist")
            if session < 1:
                raise StoreError("sessions are numbered from 1, the first session")
            opens = session_opens(datetime.fromisoformat(row[2]), session)
            if now.date() < opens:
                raise StoreError(
                    f"session {session} can't have happened yet: you can check in about it "
                    f"from {day(opens)}"
                )
            if connection.execute(
                "SELECT 1 FROM checkins WHERE checkin_code = ? AND session = ?", (key, session)
            ).fetchone():
                raise StoreError(f"session {session} already has a check-in with this code")
            _insert_checkin(connection, key, therapist_id, session, now.date(), ratings, comment,
                            "client")  # fmt: skip
            _audit(connection, "client", "check-in", row[0], therapist_id, f"session {session}")
        return str(row[0])

    def next_checkin(self, code: str) -> tuple[int, date] | None:
        """The next session a code's client has not checked in about, and the first day a
        check-in about it is possible; None for a code that is not in use."""
        row = self._by_code(
            code,
            "SELECT a.decided_at, COALESCE(MAX(c.session), 0) FROM assignments a LEFT JOIN "
            "checkins c ON c.checkin_code = a.checkin_code WHERE a.checkin_code = ? AND "
            "a.released_at IS NULL GROUP BY a.id",
        )
        if row is None:
            return None
        session = int(row[1]) + 1
        return session, session_opens(datetime.fromisoformat(row[0]), session)

    def import_checkins(self, rows: Sequence[ImportedCheckIn], actor: str) -> int:
        """A clinic's existing feedback, all rows or none; returns how many were new. A row
        already imported (same therapist, day, session and ratings) is not added again, so
        importing a file twice changes nothing."""
        added = 0
        with self._connect(write=True) as connection:
            for therapist_id, day, session, ratings in (
                (r.therapist_id, r.day, r.session, r.ratings) for r in rows
            ):
                _check_ratings(ratings)
                same = " AND ".join(f"{item} IS ?" for item in ITEMS)  # IS: a skip equals a skip
                if connection.execute(
                    f"SELECT 1 FROM checkins WHERE source = 'import' AND therapist_id = ? "
                    f"AND day = ? AND session = ? AND {same}",
                    (therapist_id, day.isoformat(), session, *(ratings.get(i) for i in ITEMS)),
                ).fetchone():
                    continue
                _insert_checkin(connection, None, therapist_id, session, day, ratings, "", "import")
                added += 1
            _audit(connection, actor, "import check-ins",
                   detail=f"{added} added, {len(rows) - added} already there")  # fmt: skip
        return added

    def checkin_ratings(self) -> list[tuple[str, tuple[int | None, ...]]]:
        """Every check-in as (therapist_id, ratings in item order; None where skipped), for
        measured rapport."""
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT therapist_id, {ITEM_COLUMNS} FROM checkins ORDER BY id"
            ).fetchall()
        return [
            (str(row[0]), tuple(None if v is None else int(v) for v in row[1:])) for row in rows
        ]

    def version(self) -> int:
        """Changes whenever anything is recorded (every write is audited: the newest audit
        entry's id; 0 in a new database), so evidence built from the store can be kept until
        then."""
        with self._connect() as connection:
            return int(connection.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0])

    def checkins_for(self, code: str) -> list[CheckIn]:
        """One client's check-ins about one therapist (by code), in session order."""
        try:
            key = codes.digest(code)
        except codes.CodeError:
            return []
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT therapist_id, session, day, comment, {ITEM_COLUMNS} FROM checkins "
                "WHERE checkin_code = ? ORDER BY session",
                (key,),
            ).fetchall()
        return [_checkin(row) for row in rows]

    def active_checkins(self) -> dict[str, list[CheckIn]]:
        """Every active assignment's check-ins by referral, in session order."""
        with self._connect() as connection:
            return _active_checkins(connection)


# ---------------------------------------------------------------------------------------------
# Reads on one connection (``Store.snapshot`` makes them all in one transaction)


@dataclass(frozen=True)
class Snapshot:
    referrals: list[Referral]
    assignments: pd.DataFrame  # active ones, with their check-in codes
    taken: dict[str, int]  # slots in use per therapist (assignments and open offers)
    checkins: dict[str, list[CheckIn]]  # active assignments' check-ins by referral
    offers: list[Offer]
    reviewed: dict[str, date]
    released: dict[str, frozenset[str]]  # referral -> therapists it was released from


def _referrals(connection: sqlite3.Connection) -> list[Referral]:
    rows = connection.execute(
        "SELECT referral_id, received, urgency, risk_self_harm, risk_harm_others, "
        "preferences, notes, client_name, contact, source, chosen FROM referrals "
        "ORDER BY referral_id"
    ).fetchall()
    return [
        Referral(rid, date.fromisoformat(received), urgency, bool(self_harm),
                 bool(others), Preferences.model_validate_json(p), notes, name, contact,
                 source, tuple(t for t in chosen.split(";") if t))
        for rid, received, urgency, self_harm, others, p, notes, name, contact, source,
        chosen in rows
    ]  # fmt: skip


def _taken(connection: sqlite3.Connection) -> dict[str, int]:
    rows = connection.execute(
        "SELECT therapist_id, COUNT(*) FROM (SELECT therapist_id FROM assignments "
        "WHERE released_at IS NULL UNION ALL SELECT therapist_id FROM offers "
        "WHERE status = 'open') GROUP BY therapist_id"
    ).fetchall()
    return {str(t): int(n) for t, n in rows}


def _released(connection: sqlite3.Connection) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for referral_id, therapist_id in connection.execute(
        "SELECT referral_id, therapist_id FROM assignments WHERE released_at IS NOT NULL"
    ).fetchall():
        found.setdefault(str(referral_id), set()).add(str(therapist_id))
    return {r: frozenset(t) for r, t in found.items()}


def _reviewed(connection: sqlite3.Connection) -> dict[str, date]:
    rows = connection.execute(
        "SELECT referral_id, reviewed_at FROM referrals WHERE reviewed_at IS NOT NULL"
    ).fetchall()
    return {str(r): date.fromisoformat(at[:10]) for r, at in rows}


def _offers(connection: sqlite3.Connection) -> list[Offer]:
    rows = connection.execute(
        "SELECT id, referral_id, therapist_id, offered_at, expires_on, status "
        "FROM offers ORDER BY id"
    ).fetchall()
    return [
        Offer(int(i), str(r), str(t), datetime.fromisoformat(at), date.fromisoformat(exp),
              str(status))
        for i, r, t, at, exp, status in rows
    ]  # fmt: skip


def _active_checkins(connection: sqlite3.Connection) -> dict[str, list[CheckIn]]:
    rows = connection.execute(
        f"SELECT a.referral_id, c.therapist_id, c.session, c.day, c.comment, "
        f"{', '.join('c.' + item for item in ITEMS)} FROM checkins c "
        "JOIN assignments a ON a.checkin_code = c.checkin_code "
        "WHERE a.released_at IS NULL ORDER BY a.referral_id, c.session"
    ).fetchall()
    found: dict[str, list[CheckIn]] = {}
    for row in rows:
        found.setdefault(str(row[0]), []).append(_checkin(row[1:]))
    return found


def _checkin(row: Sequence[object]) -> CheckIn:
    """A CheckIn from (therapist_id, session, day, comment, *items); skipped items left out."""
    therapist_id, session, day, comment, *values = row
    ratings = {item: int(str(v)) for item, v in zip(ITEMS, values, strict=True) if v is not None}
    return CheckIn(str(therapist_id), int(str(session)), ratings, date.fromisoformat(str(day)),
                   str(comment))  # fmt: skip


def _check_ratings(ratings: Mapping[str, int]) -> None:
    if unknown := set(ratings) - set(ITEMS):
        raise StoreError(f"not a check-in item: {', '.join(sorted(unknown))}")
    low, high = CHECKIN_MIN, CHECKIN_MAX
    if not all(isinstance(v, int) and low <= v <= high for v in ratings.values()):
        raise StoreError(f"every rating is a whole number from {low} to {high}")


def _insert_checkin(
    connection: sqlite3.Connection,
    code: str | None,
    therapist_id: str,
    session: int,
    day: date,
    ratings: Mapping[str, int],
    comment: str,
    source: str,
) -> None:
    connection.execute(
        f"INSERT INTO checkins (checkin_code, therapist_id, session, day, {', '.join(ITEMS)}, "
        f"comment, source, created_at) VALUES ({', '.join('?' * (len(ITEMS) + 7))})",
        (code, therapist_id, session, day.isoformat(), *(ratings.get(i) for i in ITEMS),
         comment.strip(), source, _now()),
    )  # fmt: skip


def _book(
    connection: sqlite3.Connection,
    key: bytes,
    referral_id: str,
    therapist_id: str,
    capacity: int,
    actor: str,
    score: float | None,
    kind: str,
    reason: str,
) -> Booking:
    if kind == "override" and not reason.strip():
        raise StoreError("an override needs a reason")
    _bookable(connection, referral_id, therapist_id, capacity)
    nonce = codes.new_nonce()
    code = codes.derive(key, nonce)
    connection.execute(
        "INSERT INTO assignments (referral_id, therapist_id, score, kind, reason, "
        "decided_by, decided_at, checkin_code, code_nonce) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (referral_id, therapist_id, score, kind, reason.strip(), actor, _now(),
         codes.digest(code), nonce),
    )  # fmt: skip
    # An open offer for this referral is settled by the booking: taken up, or withdrawn.
    connection.execute(
        "UPDATE offers SET status = CASE WHEN therapist_id = ? THEN 'accepted' "
        "ELSE 'withdrawn' END, closed_at = ?, closed_by = ? "
        "WHERE referral_id = ? AND status = 'open'",
        (therapist_id, _now(), actor, referral_id),
    )
    _audit(connection, actor, kind, referral_id, therapist_id, reason.strip())
    return Booking(referral_id, therapist_id, code)


def _bookable(
    connection: sqlite3.Connection, referral_id: str, therapist_id: str, capacity: int
) -> None:
    """Refuse (StoreError) unless the referral is in the queue, has no active assignment, and
    the therapist has a slot not taken by an assignment or held by another referral's offer."""
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
        "SELECT (SELECT COUNT(*) FROM assignments WHERE therapist_id = ? AND released_at IS NULL)"
        " + (SELECT COUNT(*) FROM offers WHERE therapist_id = ? AND status = 'open' "
        "AND referral_id != ?)",
        (therapist_id, therapist_id, referral_id),
    ).fetchone()[0]
    if taken >= capacity:
        raise StoreError(f"{therapist_id} has no open slot left ({taken} of {capacity} taken)")


# Requests sent more than REQUEST_DAYS ago that still hold a name or contact, but no open offer
_OLD_REQUESTS = (
    "SELECT referral_id FROM referrals WHERE source = 'self' AND received < ? AND "
    "(client_name != '' OR contact != '') AND referral_id NOT IN "
    "(SELECT referral_id FROM offers WHERE status = 'open')"
)


def _old(today: date) -> tuple[str]:
    return ((today - timedelta(days=REQUEST_DAYS)).isoformat(),)


def _forget_old_requests(connection: sqlite3.Connection, today: date) -> None:
    """Delete old requests nobody acted on; erase the name and contact of the others (the
    rest stays as the clinic's record of the referral: the queue, the audit, reachability)."""
    old = [row[0] for row in connection.execute(_OLD_REQUESTS, _old(today)).fetchall()]
    if not old:
        return
    marks = ",".join("?" * len(old))
    acted = {
        row[0]
        for row in connection.execute(
            f"SELECT referral_id FROM assignments WHERE referral_id IN ({marks}) UNION "
            f"SELECT referral_id FROM offers WHERE referral_id IN ({marks})",
            (*old, *old),
        ).fetchall()
    }
    untouched = [r for r in old if r not in acted]
    if untouched:
        connection.execute(
            f"DELETE FROM referrals WHERE referral_id IN ({','.join('?' * len(untouched))})",
            untouched,
        )
        _audit(connection, "app", "delete old requests", detail=f"{len(untouched)} deleted")
    if acted:
        connection.execute(
            "UPDATE referrals SET client_name = '', contact = '', sender = '' WHERE referral_id "
            f"IN ({','.join('?' * len(acted))})",
            sorted(acted),
        )
        _audit(connection, "app", "erase old contact details", detail=f"{len(acted)} erased")


def _expire(connection: sqlite3.Connection, today: date) -> None:
    """Lapse open offers whose last day has passed, each audited (the slot is free again)."""
    lapsed = connection.execute(
        "SELECT id, referral_id, therapist_id FROM offers WHERE status = 'open' AND expires_on < ?",
        (today.isoformat(),),
    ).fetchall()
    for offer_id, referral_id, therapist_id in lapsed:
        connection.execute(
            "UPDATE offers SET status = 'expired', closed_at = ?, closed_by = 'system' "
            "WHERE id = ?",
            (_now(), offer_id),
        )
        _audit(connection, "system", "offer expired", referral_id, therapist_id)


def _release(connection: sqlite3.Connection, referral_id: str, actor: str, reason: str) -> str:
    if not reason.strip():
        raise StoreError("releasing a slot needs a reason")
    row = connection.execute(
        "SELECT id, therapist_id FROM assignments WHERE referral_id = ? AND released_at IS NULL",
        (referral_id,),
    ).fetchone()
    if row is None:
        raise StoreError(f"referral {referral_id} has no assignment to release")
    connection.execute(
        "UPDATE assignments SET released_at = ?, released_by = ?, release_reason = ? WHERE id = ?",
        (_now(), actor, reason.strip(), row[0]),
    )
    _audit(connection, actor, "release", referral_id, row[1], reason.strip())
    return str(row[1])


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


def _owner_only(path: Path) -> None:
    """Make the database owner-only before SQLite opens it: SQLite would create the file
    0644, and it gives the WAL and SHM files the main file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    elif path.parent == DEFAULT_PATH.parent:  # the app's own folder; one the user chose is theirs
        path.parent.chmod(0o700)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):  # an older database: tighten what is there
        with suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # Each check takes 128 MiB: many sign-in attempts at once (every session runs in its own
    # thread) must queue rather than exhaust the server's memory.
    with _HASHING:
        # OpenSSL refuses more than 32 MiB unless told; this is what these parameters need.
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                              maxmem=128 * r * (n + p + 2))  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)  # one place to read the clock, so a test can stop it


def _now() -> str:
    return _utcnow().isoformat(timespec="seconds")


def _stamp(moment: datetime) -> str:
    """A sign-in failure's time: to the microsecond, as waits are counted in seconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def export_day(store: Store, day: date) -> pd.DataFrame:
    """Assignments decided on ``day`` (UTC), for the coordinator's export."""
    table = store.assignments(active_only=False)
    on_day = table["decided_at"].str.startswith(day.isoformat())
    return table[on_day].reset_index(drop=True)
