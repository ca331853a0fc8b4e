"""Where a client is: a US ZIP code to a position, offline (the `zipcodes` package ships the
US Postal Service's ZIP centroids; no network at run time)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import zipcodes

_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")


@dataclass(frozen=True)
class Place:
    zip_code: str
    city: str
    state: str  # two-letter code
    lat: float
    lon: float


def locate(zip_code: str) -> Place | None:
    """The centroid of a US ZIP code (five digits, optionally ZIP+4), or None if unknown."""
    text = zip_code.strip()
    if not _ZIP.match(text):
        return None
    matches: list[dict[str, str]] = zipcodes.matching(text[:5])  # type: ignore[no-untyped-call]
    found = [z for z in matches if z.get("lat") and z.get("long")]
    if not found:
        return None
    z = found[0]
    return Place(
        text[:5], str(z["city"]).title(), str(z["state"]), float(z["lat"]), float(z["long"])
    )
