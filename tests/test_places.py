"""ZIP codes to positions, offline (``matcher.places``): known answers and bad input."""

from __future__ import annotations

import pytest

from matcher.places import locate


def test_a_zip_code_is_its_postal_centroid() -> None:
    raleigh = locate("27601")
    assert raleigh is not None
    assert (raleigh.zip_code, raleigh.city, raleigh.state) == ("27601", "Raleigh", "NC")
    assert raleigh.lat == pytest.approx(35.77, abs=0.05)
    assert raleigh.lon == pytest.approx(-78.63, abs=0.05)
    assert locate(" 27601-1234 ") == raleigh  # ZIP+4 and spaces: the same place


@pytest.mark.parametrize("text", ["", "2760", "276011", "ABCDE", "27601-12", "00000", "99999"])
def test_what_is_not_a_known_zip_code_is_none(text: str) -> None:
    assert locate(text) is None
