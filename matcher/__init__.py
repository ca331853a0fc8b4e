"""Rapport-first therapist matching.

The pipeline reads in file order: vocabulary -> schema -> directory -> preferences -> scoring ->
explain. This package never imports streamlit; only ``matcher.ui`` does.

    >>> from matcher import load_directory, load_preferences, rank, explain
    >>> directory = load_directory("data/therapists.csv")
    >>> ranking = rank(directory, load_preferences("data/example_preferences.json"), top=5)
"""

from matcher.directory import Directory, load_directory
from matcher.explain import Explanation, explain
from matcher.preferences import Preferences, load_preferences, parse_preferences
from matcher.schema import InvalidInput, Problem
from matcher.scoring import Match, Ranking, rank, rank_many

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
