"""Rapport-first therapist matching.

The pipeline reads in file order: vocabulary -> schema -> directory -> preferences -> scoring ->
explain. This package never imports streamlit; only ``matcher.ui`` does.

    >>> from matcher import load_directory, load_preferences, rank, explain
    >>> directory = load_directory("data/therapists.csv")
    >>> ranking = rank(directory, load_preferences("data/example_preferences.json"), top=5)

The names below are imported when first used (PEP 562), so a module that needs none of the
engine, such as the ``matcher.serve`` launcher, starts without loading pandas and numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcher.directory import Directory, load_directory
    from matcher.explain import Explanation, explain
    from matcher.preferences import Preferences, load_preferences, parse_preferences
    from matcher.schema import InvalidInput, Problem
    from matcher.scoring import Match, Ranking, rank, rank_many

_HOME = {
    "Directory": "matcher.directory",
    "load_directory": "matcher.directory",
    "Explanation": "matcher.explain",
    "explain": "matcher.explain",
    "Preferences": "matcher.preferences",
    "load_preferences": "matcher.preferences",
    "parse_preferences": "matcher.preferences",
    "InvalidInput": "matcher.schema",
    "Problem": "matcher.schema",
    "Match": "matcher.scoring",
    "Ranking": "matcher.scoring",
    "rank": "matcher.scoring",
    "rank_many": "matcher.scoring",
}

__all__ = [
    "Directory",
    "Explanation",
    "InvalidInput",
    "Match",
    "Preferences",
    "Problem",
    "Ranking",
    "explain",
    "load_directory",
    "load_preferences",
    "parse_preferences",
    "rank",
    "rank_many",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'matcher' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
