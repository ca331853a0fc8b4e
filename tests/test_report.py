"""What a client takes away: the shortlist's order and numbers, its CSV and printable summary,
and the comparison's headings."""

from __future__ import annotations

import csv
import io

from matcher.directory import Directory
from matcher.report import (
    comparison_table,
    listed,
    printable_summary,
    shortlist,
    shortlist_csv,
)
from matcher.scoring import rank
from tests.conftest import TODAY, directory_of, prefs, therapist


def test_a_shortlist_is_in_the_cards_order_and_numbered_as_the_cards_are(demo: Directory) -> None:
    """The CSV's rank was the order ticked, so the 3rd card was "2" there and in the printed
    summary (found trying the app)."""
    p = prefs(concerns=["anxiety"])
    cards = rank(demo, p, top=40, today=TODAY).matches
    ticked = [cards[7].therapist_id, cards[2].therapist_id, cards[30].therapist_id]
    taken = shortlist(demo, p, [*ticked, "no-such-id"], TODAY)
    assert [(t.place, t.match.therapist_id) for t in taken] == [
        (3, cards[2].therapist_id),
        (8, cards[7].therapist_id),
        (31, cards[30].therapist_id),
    ]
    assert [t.match.score for t in taken] == [cards[i].score for i in (2, 7, 30)]
    data = shortlist_csv(taken, p)
    assert data.startswith("\ufeff".encode())  # so Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["rank"] for r in rows] == ["3", "8", "31"]
    summary = printable_summary(taken, p, TODAY)
    assert f"\n3. {cards[2].name} (" in summary and f"\n8. {cards[7].name} (" in summary


def test_one_who_no_longer_meets_a_must_drops_out_of_the_shortlist() -> None:
    d = directory_of([therapist("dear", fee="200"), therapist("cheap", fee="80")])
    p = prefs()
    assert {t.match.therapist_id for t in shortlist(d, p, ["dear", "cheap"], TODAY)} == {
        "dear",
        "cheap",
    }
    within = p.evolve(payment={"max_fee": 100})
    assert [t.match.therapist_id for t in shortlist(d, within, ["dear", "cheap"], TODAY)] == [
        "cheap"
    ]
    assert shortlist(d, p, [], TODAY) == []


def test_the_printable_summary_says_how_to_reach_each_therapist() -> None:
    d = directory_of(
        [
            therapist("a", phone="(919) 555-0101", email="a@example.com"),
            therapist("b", phone="", email=""),
        ]
    )
    p = prefs()
    summary = printable_summary(listed(d, rank(d, p, today=TODAY).matches), p, TODAY)
    assert "To reach them: phone (919) 555-0101; email a@example.com" in summary
    assert "To reach them: ask your clinic" in summary
    rows = list(
        csv.DictReader(
            io.StringIO(
                shortlist_csv(listed(d, rank(d, p, today=TODAY).matches), p).decode("utf-8-sig")
            )
        )
    )
    assert {r["phone"] for r in rows} == {"(919) 555-0101", ""}


def test_comparison_headings_are_names_never_ids() -> None:
    d = directory_of(
        [
            therapist("a", name="Sam Lee", city="Raleigh"),
            therapist("b", name="Sam Lee", city="Durham"),
            therapist("c", name="Ana Ruiz", city="Raleigh"),
        ]
    )
    p = prefs()
    matches = {m.therapist_id: m for m in rank(d, p, today=TODAY).matches}
    table = comparison_table([matches["a"], matches["b"], matches["c"]], p)
    assert list(table.columns) == ["Sam Lee (Raleigh)", "Sam Lee (Durham)", "Ana Ruiz"]
    twins = directory_of([therapist("x", name="Jo Kim"), therapist("y", name="Jo Kim")])
    both = rank(twins, p, today=TODAY).matches
    city = both[0].practical.city
    assert list(comparison_table(both, p).columns) == [
        f"Jo Kim ({city}) (1)",
        f"Jo Kim ({city}) (2)",
    ]


def test_a_shortlists_places_follow_the_cards_through_exact_ties() -> None:
    """Equal scores are ordered as the cards order them (here by fee), and counted so."""
    d = directory_of(
        [
            therapist("dear", fee="120"),
            therapist("cheap", fee="80"),
            therapist("middle", fee="100"),
        ]
    )
    p = prefs()
    cards = [m.therapist_id for m in rank(d, p, today=TODAY).matches]
    assert cards == ["cheap", "middle", "dear"]
    taken = shortlist(d, p, ["dear", "cheap", "middle"], TODAY)
    assert [(t.place, t.match.therapist_id) for t in taken] == [
        (1, "cheap"),
        (2, "middle"),
        (3, "dear"),
    ]
    assert [t.place for t in shortlist(d, p, ["dear"], TODAY)] == [3]
