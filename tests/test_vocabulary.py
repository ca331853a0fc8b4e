"""The vocabulary: complete, consistent, sourced, and in our own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matcher import vocabulary as V
from tests.conftest import ROOT

SEEDS = ROOT.parent / "shared" / "seeds"


def test_nine_rapport_items_each_from_the_articles() -> None:
    assert V.ITEMS == (
        "safe", "heard", "understood", "seen", "connected", "valued", "on_my_team",
        "clear_plan", "honest",
    )  # fmt: skip
    for item in V.RAPPORT_ITEMS:
        assert item.articles and set(item.articles) <= set(V.ARTICLES)
        assert item.question.endswith("?") and item.self_check.endswith("?")


def test_evidence_table_covers_every_concern_with_known_approaches() -> None:
    assert set(V.RECOMMENDED) == set(V.CONCERNS)
    for recommendation in V.RECOMMENDED.values():
        assert recommendation.approaches and set(recommendation.approaches) <= set(V.APPROACHES)
        assert recommendation.source
    assert V.RECOMMENDED["phobias"].approaches[:2] == ("exposure", "cbt")  # article 001
    assert "motivational_interviewing" in V.RECOMMENDED["substance_use"].approaches


def test_design_vocabulary_is_present() -> None:
    for concern in ("anxiety", "phobias", "trauma_ptsd", "substance_use", "self_harm"):
        assert concern in V.CONCERNS
    for approach in ("cbt", "exposure", "emdr", "person_centred", "play_therapy"):
        assert approach in V.APPROACHES
    assert set(V.DEFAULT_WEIGHTS) == set(V.GROUPS)
    assert sum(V.DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("word", "expected"), [("anxeity", "anxiety"), ("CBT", "cbt"), ("zzzz", None)]
)
def test_nearest_word(word: str, expected: str | None) -> None:
    choices = [*V.CONCERNS, *V.APPROACHES]
    assert V.nearest(word, choices) == expected


def _shingles(text: str, size: int = 8) -> set[str]:
    words = re.findall(r"[a-z']+", text.lower())
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the source articles are not beside this clone")
def test_no_sentence_is_pasted_from_the_articles() -> None:
    """Our words, their ideas: no run of eight words from an article appears in the product."""
    article_text = " ".join(p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt"))
    theirs = _shingles(article_text)
    ours: list[Path] = [*ROOT.glob("matcher/**/*.py"), ROOT / "app.py", ROOT / "README.md"]
    for path in ours:
        if path.exists():
            text = path.read_text(encoding="utf-8")
            for title in V.ARTICLES.values():  # citing a title is not pasting a sentence
                text = text.replace(title, "")
            copied = _shingles(text) & theirs
            assert not copied, f"{path.name} repeats the articles: {sorted(copied)[:3]}"


def test_words_shown_in_static_tables_hold_no_markdown() -> None:
    """The method page shows these in st.table, which reads Markdown: they must read as typed."""
    texts = [i.feeling for i in V.RAPPORT_ITEMS] + [i.brings for i in V.RAPPORT_ITEMS]
    texts += [i.explanation for i in V.RAPPORT_ITEMS] + [e.source for e in V.RECOMMENDED.values()]
    texts += [*V.CONCERNS.values(), *V.APPROACHES.values(), *V.GROUP_LABELS.values()]
    assert [t for t in texts if re.search(r"[*_\[\]`#<>~|\\]|https?:", t)] == []
