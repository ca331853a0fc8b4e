"""Synthetic, realistic, deterministic therapist directories and referral queues.

Realistic means the correlations a clinic would recognise rather than uniform noise: a latent
clinical orientation drives approaches, concerns and style; experience drives fees and check-in
counts; about a third of therapists have no check-ins; some availability is stale; fees and
insurers follow the region. Generation is vectorised, so a million therapists take seconds.
The same seed and ``as_of`` date always give the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from matcher import vocabulary as V

DEFAULT_AS_OF = date(2026, 11, 22)

Rng = np.random.Generator
Matrix = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class City:
    name: str
    state: str
    lat: float
    lon: float
    weight: float  # share of therapists, roughly by population
    cost: float  # fee multiplier
    spanish: float  # share of therapists who speak Spanish


CITIES: tuple[City, ...] = (
    City("Raleigh", "NC", 35.78, -78.64, 2.0, 1.0, 0.08),
    City("Charlotte", "NC", 35.23, -80.84, 2.2, 1.0, 0.09),
    City("Durham", "NC", 35.99, -78.90, 1.0, 1.0, 0.08),
    City("Columbia", "SC", 34.00, -81.03, 1.0, 0.9, 0.05),
    City("Charleston", "SC", 32.78, -79.93, 1.0, 1.0, 0.05),
    City("Richmond", "VA", 37.54, -77.44, 1.2, 1.0, 0.07),
    City("Arlington", "VA", 38.88, -77.10, 1.5, 1.25, 0.12),
    City("Atlanta", "GA", 33.75, -84.39, 3.0, 1.05, 0.09),
    City("Savannah", "GA", 32.08, -81.09, 0.6, 0.9, 0.05),
    City("Miami", "FL", 25.76, -80.19, 2.6, 1.15, 0.45),
    City("Orlando", "FL", 28.54, -81.38, 1.6, 1.0, 0.25),
    City("Tampa", "FL", 27.95, -82.46, 1.6, 1.0, 0.18),
    City("Austin", "TX", 30.27, -97.74, 2.0, 1.1, 0.25),
    City("Houston", "TX", 29.76, -95.37, 3.2, 1.0, 0.32),
    City("Dallas", "TX", 32.78, -96.80, 3.0, 1.0, 0.26),
    City("El Paso", "TX", 31.76, -106.49, 0.7, 0.85, 0.6),
    City("Los Angeles", "CA", 34.05, -118.24, 5.0, 1.35, 0.33),
    City("San Francisco", "CA", 37.77, -122.42, 2.6, 1.5, 0.15),
    City("San Diego", "CA", 32.72, -117.16, 2.0, 1.3, 0.28),
    City("Sacramento", "CA", 38.58, -121.49, 1.3, 1.15, 0.2),
    City("New York", "NY", 40.71, -74.01, 6.0, 1.45, 0.2),
    City("Buffalo", "NY", 42.89, -78.88, 0.8, 0.95, 0.05),
    City("Albany", "NY", 42.65, -73.75, 0.7, 1.0, 0.05),
    City("Chicago", "IL", 41.88, -87.63, 4.0, 1.15, 0.18),
    City("Springfield", "IL", 39.78, -89.65, 0.5, 0.9, 0.04),
    City("Seattle", "WA", 47.61, -122.33, 2.4, 1.25, 0.08),
    City("Spokane", "WA", 47.66, -117.43, 0.6, 0.9, 0.04),
    City("Denver", "CO", 39.74, -104.99, 2.2, 1.15, 0.16),
    City("Colorado Springs", "CO", 38.83, -104.82, 0.8, 1.0, 0.1),
    City("Boston", "MA", 42.36, -71.06, 2.8, 1.4, 0.1),
    City("Worcester", "MA", 42.26, -71.80, 0.6, 1.05, 0.08),
    City("Philadelphia", "PA", 39.95, -75.17, 2.6, 1.1, 0.1),
    City("Pittsburgh", "PA", 40.44, -80.00, 1.2, 0.95, 0.03),
    City("Columbus", "OH", 39.96, -83.00, 1.6, 0.9, 0.04),
    City("Cleveland", "OH", 41.50, -81.69, 1.2, 0.9, 0.05),
    City("Phoenix", "AZ", 33.45, -112.07, 2.4, 1.0, 0.3),
    City("Tucson", "AZ", 32.22, -110.97, 0.9, 0.9, 0.3),
    City("Las Vegas", "NV", 36.17, -115.14, 1.6, 1.0, 0.25),
    City("Reno", "NV", 39.53, -119.81, 0.5, 1.0, 0.15),
    City("Minneapolis", "MN", 44.98, -93.27, 1.8, 1.1, 0.05),
    City("Portland", "OR", 45.52, -122.68, 1.8, 1.15, 0.07),
)
# Each city's main telephone area code, so a fictional number reads as local to the practice
AREA_CODES = {
    "Raleigh": 919, "Charlotte": 704, "Durham": 919, "Columbia": 803, "Charleston": 843,
    "Richmond": 804, "Arlington": 703, "Atlanta": 404, "Savannah": 912, "Miami": 305,
    "Orlando": 407, "Tampa": 813, "Austin": 512, "Houston": 713, "Dallas": 214, "El Paso": 915,
    "Los Angeles": 213, "San Francisco": 415, "San Diego": 619, "Sacramento": 916,
    "New York": 212, "Buffalo": 716, "Albany": 518, "Chicago": 312, "Springfield": 217,
    "Seattle": 206, "Spokane": 509, "Denver": 303, "Colorado Springs": 719, "Boston": 617,
    "Worcester": 508, "Philadelphia": 215, "Pittsburgh": 412, "Columbus": 614,
    "Cleveland": 216, "Phoenix": 602, "Tucson": 520, "Las Vegas": 702, "Reno": 775,
    "Minneapolis": 612, "Portland": 503,
}  # fmt: skip

# Latent orientation -> probability of each approach, each concern, and a style centre.
ORIENTATIONS: dict[str, float] = {
    "cbt": 0.34,
    "humanistic": 0.19,
    "psychodynamic": 0.12,
    "trauma": 0.14,
    "family": 0.13,
    "addiction": 0.08,
}
APPROACH_P: dict[str, dict[str, float]] = {
    "cbt": {"cbt": 0.95, "exposure": 0.45, "act": 0.35, "dbt": 0.2, "mindfulness": 0.4,
            "solution_focused": 0.2, "motivational_interviewing": 0.15, "ipt": 0.1},
    "humanistic": {"person_centred": 0.9, "mindfulness": 0.5, "act": 0.25, "cbt": 0.3,
                   "solution_focused": 0.35, "ipt": 0.15, "emdr": 0.05},
    "psychodynamic": {"psychodynamic": 0.95, "ipt": 0.35, "person_centred": 0.3,
                      "mindfulness": 0.15, "emdr": 0.08},
    "trauma": {"trauma_focused_cbt": 0.75, "emdr": 0.6, "cbt": 0.5, "exposure": 0.35,
               "dbt": 0.3, "mindfulness": 0.35, "person_centred": 0.2},
    "family": {"family_systems": 0.9, "play_therapy": 0.35, "cbt": 0.4,
               "solution_focused": 0.35, "person_centred": 0.2, "dbt": 0.1},
    "addiction": {"motivational_interviewing": 0.9, "cbt": 0.6, "dbt": 0.3,
                  "mindfulness": 0.3, "act": 0.2, "trauma_focused_cbt": 0.15},
}  # fmt: skip
CONCERN_P: dict[str, dict[str, float]] = {
    "cbt": {"anxiety": 0.9, "phobias": 0.45, "panic": 0.5, "social_anxiety": 0.45,
            "depression": 0.75, "ocd": 0.3, "stress": 0.55, "anger": 0.15, "adhd": 0.15,
            "eating": 0.08, "life_transitions": 0.2},
    "humanistic": {"depression": 0.6, "anxiety": 0.6, "grief": 0.45, "relationships": 0.5,
                   "life_transitions": 0.55, "stress": 0.55, "self_harm": 0.08},
    "psychodynamic": {"depression": 0.7, "relationships": 0.6, "anxiety": 0.5,
                      "grief": 0.3, "abuse_recovery": 0.25, "eating": 0.12, "bipolar": 0.1,
                      "psychosis": 0.05},
    "trauma": {"trauma_ptsd": 0.95, "abuse_recovery": 0.7, "anxiety": 0.55,
               "depression": 0.5, "self_harm": 0.25, "grief": 0.2, "substance_use": 0.15},
    "family": {"family_conflict": 0.85, "parenting": 0.7, "relationships": 0.55,
               "adhd": 0.35, "anxiety": 0.35, "depression": 0.25, "anger": 0.25},
    "addiction": {"substance_use": 0.95, "depression": 0.35, "anxiety": 0.3,
                  "trauma_ptsd": 0.25, "anger": 0.2, "bipolar": 0.15, "psychosis": 0.08},
}  # fmt: skip
STYLE_CENTRE: dict[str, tuple[float, float, float, float]] = {
    # directive, intensity, past, challenge
    "cbt": (1.6, -0.5, -1.6, 0.6),
    "humanistic": (-1.6, 0.2, -0.2, -1.4),
    "psychodynamic": (-1.0, 1.0, 2.0, 0.4),
    "trauma": (0.5, 0.6, 1.0, -0.4),
    "family": (0.6, 0.2, -0.3, 0.2),
    "addiction": (0.8, 0.0, -0.8, 1.2),
}
# Check-in ratings (1-5): therapists' true mean level, its spread between therapists, the
# spread of what is particular to one item, and one check-in's scatter around the therapist's
# level, shared across items (the client's overall feeling) and per item. Therapists account for
# about 5-8 % of variance in what clients report (Baldwin & Imel 2013); here their share of one
# check-in's item average is 0.25^2 / (0.25^2 + 0.85^2 + 0.45^2 / 9) ≈ 0.077.
RATING_MEAN, RATING_THERAPIST_SD, RATING_ITEM_SD = 4.25, 0.25, 0.1
RATING_CLIENT_SD, RATING_NOISE_SD = 0.85, 0.45
# Rapport the orientation tends to earn above the therapist's own level, item by item.
RAPPORT_LEAN: dict[str, dict[str, float]] = {
    "cbt": {"clear_plan": 0.35, "on_my_team": 0.05},
    "humanistic": {"connected": 0.25, "valued": 0.25, "seen": 0.15, "clear_plan": -0.25},
    "psychodynamic": {"understood": 0.15, "seen": 0.1, "clear_plan": -0.15},
    "trauma": {"safe": 0.2, "heard": 0.1},
    "family": {"on_my_team": 0.15},
    "addiction": {"honest": 0.25, "clear_plan": 0.15},
}

CREDENTIALS: tuple[tuple[str, float, float], ...] = (
    # credential, share, base fee (USD)
    ("LPC", 0.26, 110),
    ("LCSW", 0.28, 115),
    ("LMFT", 0.16, 125),
    ("LMHC", 0.08, 110),
    ("PsyD", 0.10, 170),
    ("PhD", 0.10, 180),
    ("PMHNP", 0.02, 190),
)
NATIONAL_INSURERS: tuple[tuple[str, float], ...] = (
    ("Aetna", 0.45),
    ("Blue Cross Blue Shield", 0.5),
    ("Cigna", 0.45),
    ("UnitedHealthcare", 0.4),
    ("Optum", 0.25),
    ("Humana", 0.12),
    ("Medicaid", 0.3),
    ("Medicare", 0.2),
    ("Tricare", 0.08),
)
REGIONAL_INSURERS: dict[str, frozenset[str]] = {  # insurer -> states where it operates
    "Kaiser Permanente": frozenset({"CA", "CO", "WA", "OR", "GA", "VA"}),
    "Ambetter": frozenset({"TX", "FL", "GA", "NC", "AZ", "NV"}),
    "Oscar": frozenset({"NY", "TX", "FL", "CA"}),
}
OTHER_LANGUAGES: tuple[tuple[str, float, frozenset[str]], ...] = (
    ("Mandarin", 0.05, frozenset({"CA", "NY", "WA", "MA"})),
    ("Vietnamese", 0.04, frozenset({"CA", "TX", "WA"})),
    ("Korean", 0.03, frozenset({"CA", "NY", "GA"})),
    ("Arabic", 0.02, frozenset({"MI", "IL", "TX", "NY"})),
    ("Portuguese", 0.04, frozenset({"MA", "FL"})),
    ("Haitian Creole", 0.04, frozenset({"FL", "NY", "MA"})),
    ("French", 0.015, frozenset()),
    ("Russian", 0.015, frozenset({"NY", "WA"})),
    ("Tagalog", 0.02, frozenset({"CA", "NV"})),
    ("Hindi", 0.015, frozenset({"NJ", "CA", "TX"})),
    ("ASL", 0.01, frozenset()),
)
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "woman": tuple(
        [
            "Maya",
            "Priya",
            "Grace",
            "Aisha",
            "Elena",
            "Hana",
            "Claire",
            "Sofia",
            "Leah",
            "Nina",
            "Rachel",
            "Ana",
            "Imani",
            "Mei",
            "Julia",
            "Fatima",
            "Rosa",
            "Keiko",
            "Sarah",
            "Olivia",
            "Naomi",
            "Erin",
            "Zoe",
            "Aaliyah",
            "Lucia",
            "Ingrid",
            "Hannah",
            "Chloe",
            "Esther",
            "Amara",
            "Yesenia",
            "Thandiwe",
            "Carmen",
            "Deborah",
            "Linh",
        ]
    ),
    "man": tuple(
        [
            "Daniel",
            "Luis",
            "Noah",
            "Marcus",
            "Omar",
            "Jamal",
            "Ethan",
            "Mateo",
            "Kwame",
            "David",
            "Tomas",
            "Kevin",
            "Andre",
            "Ben",
            "Victor",
            "Malik",
            "Diego",
            "Rahul",
            "Jose",
            "Carlos",
            "Peter",
            "Samuel",
            "Tariq",
            "Miguel",
            "Paul",
            "Hiro",
            "Dmitri",
            "Emeka",
            "Javier",
        ]
    ),
    "nonbinary": tuple(
        ["Alex", "Jordan", "Sam", "Robin", "Casey", "Riley", "Quinn", "Avery", "Jesse", "Rowan"]
    ),
}
LAST_NAMES = [
    "Nguyen",
    "Smith",
    "Patel",
    "Garcia",
    "Johnson",
    "Kim",
    "Williams",
    "Rodriguez",
    "Brown",
    "Chen",
    "Davis",
    "Martinez",
    "Lee",
    "Wilson",
    "Okafor",
    "Lopez",
    "Anderson",
    "Thomas",
    "Hernandez",
    "Moore",
    "Jackson",
    "Singh",
    "Taylor",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Perez",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Sanchez",
    "Morris",
    "Rogers",
    "Reed",
    "Cook",
    "Morgan",
    "Bell",
    "Murphy",
    "Bailey",
    "Rivera",
    "Cooper",
    "Cohen",
    "Ramirez",
    "Diaz",
    "Ahmed",
    "Ali",
    "Hughes",
    "Foster",
    "Sato",
    "Bennett",
    "Gray",
    "Ruiz",
    "Kaur",
    "Ortiz",
    "Brooks",
    "Price",
]


# ---------------------------------------------------------------------------------------------
# Directory


def therapists(n: int, seed: int, as_of: date = DEFAULT_AS_OF) -> pd.DataFrame:
    """A directory table of ``n`` therapists in the DESIGN.md §3.1 format."""
    rng = np.random.default_rng([seed, 1])
    today = np.datetime64(as_of, "D")
    city = _choice(rng, n, [c.weight for c in CITIES])
    states = np.array([c.state for c in CITIES])[city]
    cost = np.array([c.cost for c in CITIES])[city]
    orientation = _choice(rng, n, list(ORIENTATIONS.values()))
    names_o = list(ORIENTATIONS)

    years = np.clip(np.round(rng.gamma(2.2, 5.5, n)), 0, 45)
    cred = _choice(rng, n, [c[1] for c in CREDENTIALS])
    credentials = np.array([c[0] for c in CREDENTIALS])[cred]
    base_fee = np.array([c[2] for c in CREDENTIALS])[cred]
    fee = base_fee * cost * (1 + 0.012 * years) * rng.lognormal(0, 0.12, n)
    fee = np.clip(np.round(fee / 5) * 5, 40, 400)

    gender = np.array(["woman", "man", "nonbinary"])[_choice(rng, n, [0.68, 0.27, 0.05])]
    identity = {
        "lgbtq": rng.random(n) < 0.12,
        "bipoc": rng.random(n) < 0.28,
        "veterans": rng.random(n) < np.where(gender == "man", 0.1, 0.03),
        "faith": rng.random(n) < 0.1,
        "immigrants": rng.random(n) < 0.06,
        "disability": rng.random(n) < 0.04,
    }
    populations = {
        "first_time": rng.random(n) < 0.5,
        "lgbtq": rng.random(n) < np.where(identity["lgbtq"], 0.75, 0.15),
        "veterans": rng.random(n)
        < np.where(identity["veterans"], 0.8, np.where(orientation == 3, 0.2, 0.04)),
        "bipoc": rng.random(n) < np.where(identity["bipoc"], 0.6, 0.1),
        "faith": rng.random(n) < np.where(identity["faith"], 0.6, 0.04),
        "immigrants": rng.random(n) < np.where(identity["immigrants"], 0.6, 0.04),
        "disability": rng.random(n) < np.where(identity["disability"], 0.6, 0.05),
        "students": rng.random(n) < 0.15,
    }

    modalities = _by_orientation(rng, orientation, names_o, APPROACH_P, tuple(V.APPROACHES))
    concerns = _by_orientation(rng, orientation, names_o, CONCERN_P, tuple(V.CONCERNS))
    _ensure_one(rng, modalities, orientation, names_o, APPROACH_P, tuple(V.APPROACHES))
    _ensure_one(rng, concerns, orientation, names_o, CONCERN_P, tuple(V.CONCERNS))

    family = orientation == names_o.index("family")
    ages = {
        "children": rng.random(n) < np.where(family, 0.6, 0.08),
        "adolescents": rng.random(n) < np.where(family, 0.75, 0.28),
        "adults": rng.random(n) < np.where(family, 0.8, 0.97),
        "older_adults": rng.random(n) < 0.3,
    }
    none = ~(ages["children"] | ages["adolescents"] | ages["adults"] | ages["older_adults"])
    ages["adults"] |= none
    young = ages["children"] | ages["adolescents"]
    works_with_parents = young & (rng.random(n) < np.where(family, 0.95, 0.7))
    play = modalities[:, list(V.APPROACHES).index("play_therapy")]
    modalities[:, list(V.APPROACHES).index("play_therapy")] = play & ages["children"]
    _ensure_one(rng, modalities, orientation, names_o, APPROACH_P, tuple(V.APPROACHES))

    centre = np.array([STYLE_CENTRE[o] for o in names_o])[orientation]
    style = np.clip(np.round((centre + rng.normal(0, 0.8, (n, 4))) * 2) / 2, -3, 3)

    # Licensure: home state, plus other states for a share who see clients online.
    state_codes = list(V.STATES)
    home = np.array([state_codes.index(s) for s in states])
    extra = rng.random(n) < 0.3
    other_states = sorted({c.state for c in CITIES})
    extra_state = np.array([state_codes.index(s) for s in other_states])[
        rng.integers(0, len(other_states), n)
    ]
    licensed = np.zeros((n, len(state_codes)), dtype=bool)
    licensed[np.arange(n), home] = True
    licensed[np.arange(n), extra_state] |= extra
    fmt = _choice(rng, n, [0.25, 0.2, 0.55])  # in person only, online only, both
    formats = np.column_stack([fmt != 1, fmt != 0])

    languages = np.zeros((n, 2 + len(OTHER_LANGUAGES)), dtype=bool)
    languages[:, 0] = rng.random(n) < 0.995  # English
    spanish = np.array([c.spanish for c in CITIES])[city]
    languages[:, 1] = rng.random(n) < spanish
    for j, (_, share, where) in enumerate(OTHER_LANGUAGES, start=2):
        boost = np.isin(states, list(where)) if where else np.zeros(n, dtype=bool)
        languages[:, j] = rng.random(n) < np.where(boost, share * 2.5, share * 0.5)
    languages[~languages.any(axis=1), 0] = True
    language_names = ("English", "Spanish", *(lang[0] for lang in OTHER_LANGUAGES))

    cash_only = rng.random(n) < np.where(base_fee >= 170, 0.55, 0.18) * cost
    insurer_names = [name for name, _ in NATIONAL_INSURERS] + list(REGIONAL_INSURERS)
    insurance = np.zeros((n, len(insurer_names)), dtype=bool)
    for j, (_, share) in enumerate(NATIONAL_INSURERS):
        insurance[:, j] = rng.random(n) < share
    for j, where in enumerate(REGIONAL_INSURERS.values(), start=len(NATIONAL_INSURERS)):
        insurance[:, j] = np.isin(states, list(where)) & (rng.random(n) < 0.3)
    tricare = insurer_names.index("Tricare")
    insurance[:, tricare] |= populations["veterans"] & (rng.random(n) < 0.5)
    insurance[cash_only] = False
    sliding = rng.random(n) < np.where(cash_only, 0.45, 0.25)

    # Availability: most accept; confirmations are mostly fresh, some stale, a few never.
    accepting = rng.random(n) < 0.72
    open_slots = np.where(accepting, rng.poisson(1.6, n) + (rng.random(n) < 0.9), 0)
    soon = rng.exponential(9, n).astype(int)
    later = rng.integers(30, 120, n)
    next_opening = today + np.where(accepting & (open_slots > 0), soon, later).astype(
        "timedelta64[D]"
    )
    no_opening = ~accepting & (rng.random(n) < 0.5)
    age = np.select(
        [rng.random(n) < 0.65, rng.random(n) < 0.6],
        [rng.integers(0, 15, n), rng.integers(15, 46, n)],
        rng.integers(46, 200, n),
    )
    confirmed = today - age.astype("timedelta64[D]")
    never = rng.random(n) < 0.03

    # Check-ins: experience brings more of them; about a third have none at all.
    has_checkins = rng.random(n) < np.clip(0.45 + years * 0.02, 0, 0.85)
    checkins_n = np.where(has_checkins, np.minimum(rng.poisson(2 + years * 3.0), 400), 0)
    checkins_n = np.where(has_checkins & (checkins_n == 0), 1, checkins_n)
    # Ratings are ceiling-heavy (mean near 4.3 of 5) and therapists account for only about a
    # tenth of their variance: one check-in mostly reflects that client and that session, and a
    # client who feels heard tends to rate every item high (a shared "halo" across items).
    level = rng.normal(0, RATING_THERAPIST_SD, n)
    lean = np.array([[RAPPORT_LEAN[o].get(item, 0.0) for item in V.ITEMS] for o in names_o])[
        orientation
    ]
    true_rapport = np.clip(
        RATING_MEAN + level[:, None] + lean + rng.normal(0, RATING_ITEM_SD, (n, 9)), 1, 5
    )
    root_n = np.sqrt(np.maximum(checkins_n, 1))[:, None]
    halo = rng.normal(0, RATING_CLIENT_SD, (n, 1)) / root_n
    noise = halo + rng.normal(0, RATING_NOISE_SD, (n, 9)) / root_n
    rapport = np.round(np.clip(true_rapport + noise, 1, 5), 2)

    first = np.empty(n, dtype=object)
    for value, names in FIRST_NAMES.items():
        who = gender == value
        first[who] = np.array(names, dtype=object)[rng.integers(0, len(names), who.sum())]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    lat = np.array([c.lat for c in CITIES])[city] + rng.normal(0, 0.12, n)
    lon = np.array([c.lon for c in CITIES])[city] + rng.normal(0, 0.15, n)

    frame = pd.DataFrame(
        {
            "therapist_id": [f"T{i:07d}" for i in range(1, n + 1)],
            "name": pd.Series(first, dtype=object) + " " + pd.Series(last, dtype=object),
            "credentials": credentials,
            "years_experience": years.astype(int),
            "gender": gender,
            "languages": _joined(languages, language_names),
            "identities": _joined(np.column_stack(list(identity.values())), list(identity)),
            "states": _joined(licensed, state_codes),
            "city": np.array([c.name for c in CITIES])[city],
            "lat": np.round(lat, 4),
            "lon": np.round(lon, 4),
            "formats": _joined(formats, list(V.THERAPIST_FORMATS)),
            "insurance": _joined(insurance, insurer_names),
            "fee": fee.astype(int),
            "sliding_scale": sliding,
            "accepting_new_clients": accepting,
            "open_slots": open_slots.astype(int),
            "next_opening": pd.Series(next_opening.astype("datetime64[s]")).where(~no_opening),
            "availability_confirmed": pd.Series(confirmed.astype("datetime64[s]")).where(~never),
            "ages_served": _joined(np.column_stack(list(ages.values())), list(ages)),
            "works_with_parents": works_with_parents,
            "populations": _joined(np.column_stack(list(populations.values())), list(populations)),
            "concerns": _joined(concerns, tuple(V.CONCERNS)),
            "modalities": _joined(modalities, tuple(V.APPROACHES)),
            **{f"style_{axis}": style[:, a] for a, axis in enumerate(V.AXES)},
            "checkins_n": checkins_n.astype(int),
            **{
                f"rapport_{item}": np.where(checkins_n > 0, rapport[:, i], np.nan)
                for i, item in enumerate(V.ITEMS)
            },
        }
    )
    frame["next_opening"] = frame["next_opening"].dt.strftime("%Y-%m-%d")
    frame["availability_confirmed"] = frame["availability_confirmed"].dt.strftime("%Y-%m-%d")
    frame["bio"] = _bios(frame, first)
    return _with_contacts(frame)


def _with_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    """Fictional contact details, derived from the id and the city (no random draws, so every
    other column stays as it was): the city's own area code with a 555-01xx number, which is
    reserved for fiction, and example.com addresses. Some therapists list no phone, and about a
    third take bookings online."""
    number = np.arange(1, len(frame) + 1)
    slug = (
        frame["name"].str.lower().str.replace(r"[^a-z]+", ".", regex=True).str.strip(".")
        + "."
        + pd.Series(number, index=frame.index).astype(str)
    )
    area = frame["city"].map(AREA_CODES).to_numpy()  # the practice's own area code
    phone = pd.Series(
        [f"({a}) 555-01{n % 100:02d}" for a, n in zip(area, number, strict=True)],
        index=frame.index,
    )
    frame["phone"] = phone.where(number % 7 != 0, "")
    frame["email"] = slug + "@example.com"
    frame["website"] = "https://example.com/therapists/" + frame["therapist_id"].str.lower()
    booking = "https://example.com/book/" + frame["therapist_id"].str.lower()
    frame["booking_url"] = booking.where(number % 3 == 0, "")
    return frame


def _bios(frame: pd.DataFrame, first: npt.NDArray[np.str_]) -> pd.Series:
    concern_words = frame["concerns"].map(_top_words(V.CONCERNS))
    approach_words = frame["modalities"].map(_top_words(V.APPROACHES))
    years = frame["years_experience"].astype(str)
    return (
        pd.Series(first, dtype=object)
        + " ("
        + frame["credentials"]
        + ") practices in "
        + frame["city"]
        + " and has "
        + years
        + " years of experience, working mostly with "
        + concern_words
        + ", through "
        + approach_words
        + "."
    )


def _top_words(labels: dict[str, str] | object) -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def words(cell: str) -> str:
        if cell not in cache:
            parts = [labels[w] for w in cell.split(";")[:2] if w]  # type: ignore[index]
            cache[cell] = " and ".join(parts) if parts else "a range of concerns"
        return cache[cell]

    return words


# ---------------------------------------------------------------------------------------------
# Referral queue


CONCERN_POPULARITY: dict[str, float] = {
    "anxiety": 0.45, "depression": 0.38, "stress": 0.2, "relationships": 0.15,
    "trauma_ptsd": 0.14, "panic": 0.07, "social_anxiety": 0.07, "phobias": 0.05,
    "grief": 0.07, "substance_use": 0.07, "family_conflict": 0.06, "parenting": 0.04,
    "adhd": 0.06, "ocd": 0.04, "anger": 0.04, "abuse_recovery": 0.04, "eating": 0.03,
    "self_harm": 0.03, "bipolar": 0.03, "psychosis": 0.01, "life_transitions": 0.07,
}  # fmt: skip
NOTES = (
    "",
    "",
    "",
    "Prefers evening appointments.",
    "Referred by primary care after a screening.",
    "Has tried therapy before and stopped after two sessions.",
    "Parent is calling on the client's behalf.",
    "Would like someone who explains the plan clearly.",
    "Works nights; telehealth strongly preferred.",
)


def referrals(m: int, seed: int, as_of: date = DEFAULT_AS_OF) -> pd.DataFrame:
    """A referral queue of ``m`` rows in the DESIGN.md §3.3 format."""
    rng = np.random.default_rng([seed, 2])
    today = np.datetime64(as_of, "D")
    city = _choice(rng, m, [c.weight for c in CITIES])
    urgency = np.array(["routine", "soon", "urgent"])[_choice(rng, m, [0.6, 0.28, 0.12])]
    risk_self = rng.random(m) < np.where(urgency == "urgent", 0.3, 0.02)
    risk_others = rng.random(m) < np.where(urgency == "urgent", 0.08, 0.005)
    age_group = np.array(list(V.AGE_GROUPS))[_choice(rng, m, [0.07, 0.12, 0.73, 0.08])]

    concern_keys = list(CONCERN_POPULARITY)
    weights = np.array(list(CONCERN_POPULARITY.values()))
    k = 1 + _choice(rng, m, [0.4, 0.4, 0.2])
    concerns = []
    for i in range(m):
        picked = rng.choice(len(concern_keys), size=k[i], replace=False, p=weights / weights.sum())
        concerns.append(";".join(concern_keys[j] for j in sorted(picked)))

    fmt = np.array(["either", "telehealth", "in_person"])[_choice(rng, m, [0.5, 0.25, 0.25])]
    located = (fmt != "telehealth") & (rng.random(m) < 0.75)
    lat = np.where(located, np.array([c.lat for c in CITIES])[city] + rng.normal(0, 0.1, m), np.nan)
    lon = np.where(located, np.array([c.lon for c in CITIES])[city] + rng.normal(0, 0.1, m), np.nan)
    max_km = np.where(located, rng.choice([15, 25, 40, 60], m), np.nan)

    insured = rng.random(m) < 0.65
    insurer_pool = [name for name, _ in NATIONAL_INSURERS]
    insurer = np.where(insured, np.array(insurer_pool)[rng.integers(0, len(insurer_pool), m)], "")
    max_fee = np.where(rng.random(m) < 0.4, rng.choice([60, 80, 100, 120, 150, 180], m), np.nan)
    sliding = rng.random(m) < 0.3
    spanish = np.array([c.spanish for c in CITIES])[city]
    language = np.where(rng.random(m) < spanish * 0.4, "Spanish", "English")

    # Priorities: two or three items matter most; the rest lower, some not at all.
    base = rng.integers(0, 3, (m, 9))
    top = np.argsort(rng.random((m, 9)), axis=1)[:, :3]
    base[np.arange(m)[:, None], top[:, :2]] = 3
    base[np.arange(m), top[:, 2]] = np.maximum(base[np.arange(m), top[:, 2]], 2)
    style = np.where(rng.random((m, 4)) < 0.35, rng.integers(-3, 4, (m, 4)), 0)

    gender_wish = np.where(
        rng.random(m) < 0.25,
        np.array(["woman", "man", "nonbinary"])[_choice(rng, m, [0.7, 0.25, 0.05])],
        "",
    )
    identity_wish = np.where(
        rng.random(m) < 0.1,
        np.array(["lgbtq", "bipoc", "veterans", "faith"])[rng.integers(0, 4, m)],
        "",
    )
    populations = _joined(
        np.column_stack(
            [
                rng.random(m) < 0.35,
                rng.random(m) < 0.08,
                rng.random(m) < 0.05,
                rng.random(m) < 0.07,
            ]
        ),
        ["first_time", "lgbtq", "veterans", "students"],
    )
    received = today - rng.exponential(7, m).astype(int).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "referral_id": [f"R{i:05d}" for i in range(1, m + 1)],
            "received": pd.Series(received.astype("datetime64[s]")).dt.strftime("%Y-%m-%d"),
            "urgency": urgency,
            "risk_self_harm": risk_self,
            "risk_harm_others": risk_others,
            "age_group": age_group,
            "state": np.array([c.state for c in CITIES])[city],
            "format": fmt,
            "lat": np.round(lat, 4),
            "lon": np.round(lon, 4),
            "max_km": max_km,
            "insurance": insurer,
            "max_fee": max_fee,
            "sliding_scale_ok": sliding,
            "language": language,
            "concerns": concerns,
            "modalities_prefer": np.where(
                rng.random(m) < 0.2, np.array(list(V.APPROACHES))[rng.integers(0, 8, m)], ""
            ),
            "modalities_avoid": np.where(
                rng.random(m) < 0.05,
                np.array(["psychodynamic", "exposure"])[rng.integers(0, 2, m)],
                "",
            ),
            **{f"priority_{item}": base[:, i] for i, item in enumerate(V.ITEMS)},
            **{f"style_{axis}": style[:, a] for a, axis in enumerate(V.AXES)},
            "therapist_gender": gender_wish,
            "therapist_gender_required": (gender_wish != "") & (rng.random(m) < 0.3),
            "therapist_identities": identity_wish,
            "therapist_identities_required": (identity_wish != "") & (rng.random(m) < 0.2),
            "populations": populations,
            "notes": np.array(NOTES)[rng.integers(0, len(NOTES), m)],
        }
    )
    # A clash between a preferred and an avoided approach would be an invalid referral.
    clash = frame["modalities_prefer"] == frame["modalities_avoid"]
    frame.loc[clash, "modalities_avoid"] = ""
    return frame


# ---------------------------------------------------------------------------------------------
# Helpers


def _choice(rng: Rng, n: int, weights: Sequence[float]) -> npt.NDArray[np.intp]:
    p = np.asarray(weights, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _by_orientation(
    rng: Rng,
    orientation: npt.NDArray[np.intp],
    names: list[str],
    table: dict[str, dict[str, float]],
    vocabulary: tuple[str, ...],
) -> Matrix:
    p = np.array([[table[o].get(word, 0.02) for word in vocabulary] for o in names])
    return rng.random((orientation.size, len(vocabulary))) < p[orientation]


def _ensure_one(
    rng: Rng,
    matrix: Matrix,
    orientation: npt.NDArray[np.intp],
    names: list[str],
    table: dict[str, dict[str, float]],
    vocabulary: tuple[str, ...],
) -> None:
    """Give every empty row its orientation's most typical word."""
    empty = ~matrix.any(axis=1)
    typical = np.array([vocabulary.index(max(table[o], key=table[o].__getitem__)) for o in names])
    matrix[np.flatnonzero(empty), typical[orientation[empty]]] = True


def _joined(matrix: Matrix, words: Sequence[str]) -> npt.NDArray[np.object_]:
    """Rows of a boolean matrix as ';'-joined words, built once per distinct row."""
    if matrix.shape[1] > 63:
        packed = np.packbits(matrix, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    else:
        keys = (matrix.astype(np.uint64) << np.arange(matrix.shape[1], dtype=np.uint64)).sum(axis=1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    texts = np.array(
        [";".join(w for w, on in zip(words, matrix[i], strict=True) if on) for i in first],
        dtype=object,
    )
    return texts[inverse.ravel()]
