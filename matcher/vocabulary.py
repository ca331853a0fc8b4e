"""The product's words: every term a file, a client or a sentence may use, with its source.

The rapport items, the style axes and the groups of the model come from DESIGN.md §2, which takes
them from the three articles in ``shared/seeds`` (000: rapport in the relationship; 001: what is
therapeutic rapport; 003: rapport as precursor to the relationship). Labels are our own words.

One place per constant: scoring, explanations, validation and the UI all read from here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True)
class RapportItem:
    """One of the nine rapport items: a client's priority and a check-in question at once."""

    key: str
    feeling: str  # what the client wants to feel, as a noun phrase ("feeling heard")
    question: str  # the client's own self-check question
    statement: str  # the check-in statement rated 1-5
    explanation: str  # one plain line on why it matters
    brings: str  # what the therapist brings, in the articles' terms
    articles: tuple[str, ...]
    self_check: str  # what to ask yourself after the first sessions


RAPPORT_ITEMS: Final[tuple[RapportItem, ...]] = (
    RapportItem(
        "safe",
        "feeling safe enough to be open",
        "Do you want to feel safe enough to speak freely, without being judged?",
        "I feel safe enough to speak openly with my therapist.",
        "Trust comes first: you only open up where you are not judged.",
        "trust",
        ("000", "003"),
        "Could I be honest and open there without feeling judged?",
    ),
    RapportItem(
        "heard",
        "feeling heard",
        "Do you want to feel heard?",
        "I feel heard by my therapist.",
        "Being listened to closely is how empathy shows.",
        "empathy",
        ("000", "003"),
        "Did I feel closely listened to?",
    ),
    RapportItem(
        "understood",
        "feeling understood from your own side",
        "Do you want a therapist who really gets how you feel, from your side?",
        "My therapist understands how I feel, from my point of view.",
        "Empathy means seeing things through your eyes, not only hearing the words.",
        "empathy",
        ("000", "003"),
        "Did they grasp how things feel from my side?",
    ),
    RapportItem(
        "seen",
        "feeling free to be yourself",
        "Do you want to feel seen for who you are, free to be yourself?",
        "I can be myself with my therapist.",
        "Attunement lets you show up as you are, without a mask.",
        "attunement",
        ("000", "003"),
        "Could I simply be myself?",
    ),
    RapportItem(
        "connected",
        "feeling cared for",
        "Do you want to feel connected and cared for?",
        "I feel connected to my therapist and cared for.",
        "Warmth is part of what makes the relationship a safe model for others.",
        "warmth",
        ("000", "003"),
        "Did I feel cared for in the room?",
    ),
    RapportItem(
        "valued",
        "feeling that you matter",
        "Do you want to feel that you matter, as a person of worth?",
        "My therapist treats me as a person who matters.",
        "Positive regard, said out loud, supports growth more than neutrality does.",
        "positive regard",
        ("000", "003"),
        "Was I treated as someone who matters?",
    ),
    RapportItem(
        "on_my_team",
        "feeling the therapist is on your side",
        "Do you want a therapist who is on your side and asks for your input?",
        "My therapist is on my side and asks what I think.",
        "Asking for feedback makes you a partner and lets problems be repaired.",
        "collaboration",
        ("001", "003"),
        "Did they ask what I think, and seem to be on my side?",
    ),
    RapportItem(
        "clear_plan",
        "having a shared plan with goals",
        "Do you want a clear plan with goals you agree on and revisit together?",
        "We have a plan with goals that we agreed on and revisit together.",
        "A problem list and goals with benchmarks let you see your own progress.",
        "careful case conceptualization",
        ("001",),
        "Do we have a list of problems and goals we both agreed on?",
    ),
    RapportItem(
        "honest",
        "getting honest feedback that is never harsh",
        "Do you want honest, genuine feedback that is never harsh?",
        "My therapist is genuine and gives honest feedback without being harsh.",
        "Genuineness makes critical feedback easier to take in.",
        "genuineness",
        ("001", "003"),
        "Was their feedback honest, and kind in how it was said?",
    ),
)
ITEMS: Final[tuple[str, ...]] = tuple(item.key for item in RAPPORT_ITEMS)
ITEM_BY_KEY: Final = MappingProxyType({item.key: item for item in RAPPORT_ITEMS})

PRIORITY_LEVELS: Final = MappingProxyType(
    {0: "not important", 1: "nice to have", 2: "important", 3: "essential"}
)
CHECKIN_MIN, CHECKIN_MAX = 1, 5
PRIORITY_MAX: Final = 3

ARTICLES: Final = MappingProxyType(
    {
        "000": "Rapport in the Therapeutic Relationship",
        "001": "What is Therapeutic Rapport? (Verywell Mind)",
        "003": "Therapeutic Rapport: Precursor to a Successful Therapeutic Relationship and Treatment Outcome (M. Vickers, LCSWA)",
    }
)


@dataclass(frozen=True)
class StyleAxis:
    """A C-NIP style axis, -3 (low) .. +3 (high); for a client 0 means no preference."""

    key: str
    low: str
    high: str


STYLE_AXES: Final[tuple[StyleAxis, ...]] = (
    StyleAxis("directive", "sessions you lead", "sessions the therapist leads"),
    StyleAxis("intensity", "a calm, emotionally reserved tone", "emotional intensity"),
    StyleAxis("past", "a focus on the present", "a focus on your past"),
    StyleAxis("challenge", "warm support", "focused challenge"),
)
AXES: Final[tuple[str, ...]] = tuple(axis.key for axis in STYLE_AXES)
STYLE_MIN, STYLE_MAX = -3, 3

CONCERNS: Final = MappingProxyType(
    {
        "anxiety": "anxiety",
        "phobias": "phobias",
        "panic": "panic attacks",
        "social_anxiety": "social anxiety",
        "depression": "depression",
        "trauma_ptsd": "trauma and PTSD",
        "substance_use": "substance use",
        "psychosis": "psychosis",
        "bipolar": "bipolar disorder",
        "ocd": "OCD",
        "eating": "eating difficulties",
        "grief": "grief and loss",
        "anger": "anger",
        "relationships": "relationships",
        "abuse_recovery": "recovery from abuse",
        "family_conflict": "family conflict",
        "parenting": "parenting",
        "adhd": "ADHD",
        "self_harm": "self-harm",
        "stress": "stress",
        "life_transitions": "life transitions",
    }
)

APPROACHES: Final = MappingProxyType(
    {
        "cbt": "cognitive behavioral therapy (CBT)",
        "exposure": "exposure therapy",
        "trauma_focused_cbt": "trauma-focused CBT",
        "emdr": "EMDR",
        "dbt": "dialectical behavior therapy (DBT)",
        "act": "acceptance and commitment therapy (ACT)",
        "person_centred": "person-centered therapy",
        "psychodynamic": "psychodynamic therapy",
        "family_systems": "family systems therapy",
        "motivational_interviewing": "motivational interviewing",
        "ipt": "interpersonal therapy (IPT)",
        "mindfulness": "mindfulness-based therapy",
        "solution_focused": "solution-focused therapy",
        "play_therapy": "play therapy",
    }
)

AGE_GROUPS: Final = MappingProxyType(
    {
        "children": "children",
        "adolescents": "adolescents",
        "adults": "adults",
        "older_adults": "older adults",
    }
)
# Article 001: a young client's therapist must build rapport with the parents too.
YOUNG_AGE_GROUPS: Final = frozenset({"children", "adolescents"})

# One tag vocabulary for the therapist's own identities, the populations they serve, and the
# populations a client belongs to.
PEOPLE: Final = MappingProxyType(
    {
        "veterans": "veterans and military families",
        "lgbtq": "LGBTQ+ people",
        "bipoc": "Black, Indigenous and people of color",
        "first_time": "people new to therapy",
        "faith": "people for whom faith matters",
        "immigrants": "immigrants and refugees",
        "disability": "people with disabilities",
        "students": "college students",
    }
)

# How a therapist's own identity reads in a sentence ("shares the identity you hoped for: …").
IDENTITY_WORDS: Final = MappingProxyType(
    {
        "veterans": "a veteran",
        "lgbtq": "LGBTQ+",
        "bipoc": "BIPOC",
        "first_time": "new to therapy",
        "faith": "a person of faith",
        "immigrants": "an immigrant",
        "disability": "living with a disability",
        "students": "a student",
    }
)

GENDERS: Final = MappingProxyType({"woman": "a woman", "man": "a man", "nonbinary": "non-binary"})

THERAPIST_FORMATS: Final = MappingProxyType(
    {"in_person": "in person", "telehealth": "online (telehealth)"}
)
CLIENT_FORMATS: Final = MappingProxyType(
    {"in_person": "in person", "telehealth": "online", "either": "in person or online"}
)

URGENCIES: Final[tuple[str, ...]] = ("urgent", "soon", "routine")  # most pressing first

STATES: Final = MappingProxyType(
    {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
        "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
        "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
        "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
        "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
        "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
        "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
        "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
        "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
        "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Recommendation:
    """Approaches commonly recommended for a concern, with where that recommendation comes from."""

    approaches: tuple[str, ...]
    source: str


# Used when a client states no approach preference. Sources are clinical guidelines and reviews;
# article 001 itself notes that phobias are most often treated with CBT.
RECOMMENDED: Final = MappingProxyType(
    {
        "anxiety": Recommendation(("cbt", "act", "mindfulness"), "NICE CG113 (2011)"),
        "phobias": Recommendation(("exposure", "cbt"), "article 001; NICE CG159 (2013)"),
        "panic": Recommendation(("cbt", "exposure"), "NICE CG113 (2011)"),
        "social_anxiety": Recommendation(("cbt", "exposure"), "NICE CG159 (2013)"),
        "depression": Recommendation(
            ("cbt", "ipt", "act", "psychodynamic"), "APA depression guideline (2019)"
        ),
        "trauma_ptsd": Recommendation(
            ("trauma_focused_cbt", "emdr", "exposure"), "APA PTSD guideline (2017)"
        ),
        "substance_use": Recommendation(
            ("motivational_interviewing", "cbt"), "NIDA principles of treatment (2018)"
        ),
        "psychosis": Recommendation(("cbt", "family_systems"), "NICE CG178 (2014)"),
        "bipolar": Recommendation(("cbt", "family_systems", "ipt"), "NICE CG185 (2014)"),
        "ocd": Recommendation(
            ("exposure", "cbt"), "NICE CG31 (2005), exposure and response prevention"
        ),
        "eating": Recommendation(("cbt", "family_systems"), "NICE NG69 (2017)"),
        "grief": Recommendation(("cbt", "ipt", "person_centred"), "Wittouck et al. (2011) review"),
        "anger": Recommendation(
            ("cbt", "mindfulness"), "Del Vecchio & O'Leary (2004) meta-analysis"
        ),
        "relationships": Recommendation(
            ("family_systems", "ipt", "person_centred"), "Lebow et al. (2012) review"
        ),
        "abuse_recovery": Recommendation(
            ("trauma_focused_cbt", "emdr"), "APA PTSD guideline (2017)"
        ),
        "family_conflict": Recommendation(
            ("family_systems",), "Carr (2019) review of family therapy"
        ),
        "parenting": Recommendation(
            ("family_systems", "cbt"), "NICE CG158 (2013), parent training"
        ),
        "adhd": Recommendation(("cbt", "family_systems"), "NICE NG87 (2018)"),
        "self_harm": Recommendation(("dbt", "cbt"), "NICE NG225 (2022)"),
        "stress": Recommendation(
            ("mindfulness", "cbt", "act"), "Khoury et al. (2015) meta-analysis"
        ),
        "life_transitions": Recommendation(
            ("solution_focused", "person_centred", "act"), "Gingerich & Peterson (2013) review"
        ),
    }
)

GROUPS: Final[tuple[str, ...]] = (
    "rapport",
    "concerns",
    "approach",
    "style",
    "identity",
    "availability",
)
GROUP_LABELS: Final = MappingProxyType(
    {
        "rapport": "rapport",
        "concerns": "your concerns",
        "approach": "approach",
        "style": "style",
        "identity": "identity and fit",
        "availability": "availability",
    }
)

# Default group weights (groups are on a common scale, so a weight is how much a group moves the
# order). Rapport leads because the relationship predicts outcome about as well as anything
# measured (Norcross & Lambert 2018-19: alliance r≈.28, empathy r≈.28, positive regard g≈.28,
# collaboration r≈.29). Honoring stated preferences (approach, style, identity) lowers dropout
# (Swift et al. 2018, OR≈1.79, d≈.28), so together they weigh a little more than concerns, whose
# self-listed specialties are weak signals of skill. Availability breaks near ties. Chosen in the
# literature-calibrated simulation (bench/quality.py, seeds 1-10; reported on seeds 11-20): the
# previous 35/25/10/10/10/10 closed 20 % of the random-to-oracle gap, these about 25 %; nearby
# choices (rapport .45-.50, concerns .10-.15) were within one standard error of each other.
DEFAULT_WEIGHTS: Final = MappingProxyType(
    {
        "rapport": 0.45,
        "concerns": 0.15,
        "approach": 0.10,
        "style": 0.15,
        "identity": 0.10,
        "availability": 0.05,
    }
)

# How far measured rapport is trusted is learned from each directory's own check-ins: rapport.py.

# Availability: an opening this many days away halves the availability similarity...
OPENING_HALF_DAYS: Final = 14.0
# ...and a confirmation older than this is stale (flagged, and its similarity discounted).
STALE_AFTER_DAYS: Final = 30


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The valid word closest to ``word`` (case-insensitive), or None when nothing is close."""
    options = [str(choice) for choice in choices]
    lowered = {option.lower(): option for option in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def unknown_word_message(word: str, kind: str, choices: Iterable[str]) -> str:
    """'unknown concern "anxeity"; did you mean "anxiety"?' — one wording everywhere."""
    guess = nearest(word, choices)
    hint = f'; did you mean "{guess}"?' if guess else f"; expected one of {_listing(choices)}"
    return f'unknown {kind} "{word}"{hint}'


def _listing(choices: Iterable[str]) -> str:
    options = [str(choice) for choice in choices]
    shown = ", ".join(options[:12])
    return shown + (f", … ({len(options)} in all)" if len(options) > 12 else "")
