"""A client's preferences: frozen, validated values built from JSON, a form, or a referral row.

Every field but ``state`` may be left out and then means "no preference". Unknown keys and
unknown vocabulary words are errors that name the word and the nearest valid one. A change (a
weight, a relaxed constraint) makes a new value with :meth:`Preferences.evolve`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from matcher import vocabulary as V
from matcher.schema import (
    InvalidInput,
    Problem,
)


def _word(kind: str, choices: Mapping[str, str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        word = value.strip().lower()
        if word not in choices:
            raise ValueError(V.unknown_word_message(value, kind, choices))
        return word

    return check


def _state(value: str) -> str:
    code = value.strip().upper()
    if code not in V.STATES:
        names = {name.lower(): code for code, name in V.STATES.items()}
        if value.strip().lower() in names:  # "North Carolina" is a kindness, not an error
            return names[value.strip().lower()]
        raise ValueError(V.unknown_word_message(value, "state", V.STATES))
    return code


def _format(value: str) -> str:
    word = value.strip().lower()
    return "telehealth" if word == "online" else word


Concern = Annotated[str, AfterValidator(_word("concern", V.CONCERNS))]
Approach = Annotated[str, AfterValidator(_word("approach", V.APPROACHES))]
Person = Annotated[str, AfterValidator(_word("population", V.PEOPLE))]
Gender = Annotated[str, AfterValidator(_word("gender", V.GENDERS))]
AgeGroup = Annotated[str, AfterValidator(_word("age group", V.AGE_GROUPS))]
ClientFormat = Annotated[
    str, BeforeValidator(_format), AfterValidator(_word("session format", V.CLIENT_FORMATS))
]
State = Annotated[str, AfterValidator(_state)]
Priority = Annotated[int, Field(ge=0, le=V.PRIORITY_MAX, strict=False)]
Lean = Annotated[int, Field(ge=V.STYLE_MIN, le=V.STYLE_MAX)]
Weight = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Priorities(_Frozen):
    """Importance 0-3 of each rapport item; all zero means 'weigh them all equally'."""

    safe: Priority = 0
    heard: Priority = 0
    understood: Priority = 0
    seen: Priority = 0
    connected: Priority = 0
    valued: Priority = 0
    on_my_team: Priority = 0
    clear_plan: Priority = 0
    honest: Priority = 0

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, item) for item in V.ITEMS)

    def ranked(self) -> list[str]:
        """Items the client cares about, most important first (ties in vocabulary order)."""
        values = self.as_tuple()
        order = sorted(range(len(values)), key=lambda i: (-values[i], i))
        return [V.ITEMS[i] for i in order if values[i] > 0]


class Style(_Frozen):
    """Lean on each C-NIP axis, -3..+3; 0 is no preference."""

    directive: Lean = 0
    intensity: Lean = 0
    past: Lean = 0
    challenge: Lean = 0

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, axis) for axis in V.AXES)


class Modalities(_Frozen):
    prefer: tuple[Approach, ...] = ()
    avoid: tuple[Approach, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = sorted(set(self.prefer) & set(self.avoid))
        if both:
            raise ValueError(f"an approach cannot be both preferred and avoided: {', '.join(both)}")
        return self


class Location(_Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    max_km: float = Field(40.0, gt=0, le=5000)


class Payment(_Frozen):
    insurance: str | None = None
    max_fee: float | None = Field(None, ge=0, le=2000)
    sliding_scale_ok: bool = False

    @property
    def constrained(self) -> bool:
        return self.insurance is not None or self.max_fee is not None or self.sliding_scale_ok


class GenderWish(_Frozen):
    value: Gender
    required: bool = False


class IdentityWish(_Frozen):
    values: tuple[Person, ...] = ()
    required: bool = False


class Weights(_Frozen):
    """Relative weight of each group of the model; only their ratios matter."""

    rapport: Weight = V.DEFAULT_WEIGHTS["rapport"]
    concerns: Weight = V.DEFAULT_WEIGHTS["concerns"]
    approach: Weight = V.DEFAULT_WEIGHTS["approach"]
    style: Weight = V.DEFAULT_WEIGHTS["style"]
    identity: Weight = V.DEFAULT_WEIGHTS["identity"]
    availability: Weight = V.DEFAULT_WEIGHTS["availability"]

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(self.as_tuple()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return self

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, group)) for group in V.GROUPS)


class Preferences(_Frozen):
    """What a client asks for (DESIGN.md §3.2). Build with :func:`parse_preferences`."""

    state: State
    priorities: Priorities = Priorities()
    concerns: tuple[Concern, ...] = ()
    modalities: Modalities = Modalities()
    style: Style = Style()
    age_group: AgeGroup | None = None
    format: ClientFormat = "either"
    location: Location | None = None
    payment: Payment = Payment()
    language: str | None = None
    therapist_gender: GenderWish | None = None
    therapist_identities: IdentityWish = IdentityWish()
    populations: tuple[Person, ...] = ()
    weights: Weights = Weights()

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        for name in ("concerns", "populations"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a word twice")
        return self

    @property
    def young(self) -> bool:
        """A child or adolescent client: the therapist must work with parents too (article 001)."""
        return self.age_group in V.YOUNG_AGE_GROUPS

    def evolve(self, **changes: Any) -> Preferences:
        """A new, validated value with some fields changed; this one is left as it was."""
        data = self.model_dump()
        data.update(
            {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in changes.items()}
        )
        return Preferences.model_validate(data)


# ---------------------------------------------------------------------------------------------
# Building from outside input


def parse_preferences(data: object, source: str = "preferences") -> Preferences:
    """Validate a decoded JSON object; raise InvalidInput naming every problem."""
    if not isinstance(data, dict):
        raise InvalidInput(
            [Problem(source, None, None, None, "expected a JSON object {...} of preferences")]
        )
    try:
        return Preferences.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(problems_from(error, source)) from None


MAX_PREFERENCES_BYTES = 1_000_000  # one client's answers are a few hundred bytes


def load_preferences(path: str | Path) -> Preferences:
    """Read a preferences JSON file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PREFERENCES_BYTES:
            raise InvalidInput(
                [Problem(path.name, None, None, None,
                         f"too large for one client's preferences (over "
                         f"{MAX_PREFERENCES_BYTES:,} bytes)")]
            )  # fmt: skip
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(path.name, None, None, None, "no such file")]) from None
    except UnicodeDecodeError:
        raise InvalidInput([Problem(path.name, None, None, None, "not UTF-8 text")]) from None
    except IsADirectoryError:
        raise InvalidInput([Problem(path.name, None, None, None, "a folder, not a file")]) from None
    return parse_preferences(decode_json(text, path.name), path.name)


def decode_json(text: str, source: str) -> object:
    """JSON text decoded, or InvalidInput for text that is not JSON or that no client's answers
    could be (nested past Python's recursion limit, numbers thousands of digits long)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [Problem(source, error.lineno, None, None, f"not valid JSON: {error.msg}")]
        ) from None
    except RecursionError:
        raise InvalidInput([Problem(source, None, None, None, "nested far too deeply")]) from None
    except ValueError:  # int("9" * 5000): Python refuses integers past 4,300 digits
        raise InvalidInput(
            [Problem(source, None, None, None, "holds a number far too long to be an answer")]
        ) from None


def problems_from(
    error: ValidationError,
    source: str,
    row: int | None = None,
    column_of: Callable[[tuple[str | int, ...]], str] | None = None,
) -> list[Problem]:
    """Pydantic's errors as Problems; unknown keys get the nearest valid key."""
    problems = []
    for detail in error.errors():
        loc = tuple(detail["loc"])
        column = (column_of or _dotted)(loc) if loc else None
        value = None if detail["type"] == "missing" else _shown(detail.get("input"))
        if detail["type"] == "extra_forbidden":
            known = _keys_at(Preferences, loc[:-1])
            message = V.unknown_word_message(str(loc[-1]), "key", known)
            value = None
        elif detail["type"] == "missing":
            message = "this is required"
        else:
            message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(Problem(source, row, column, value, message))
    return problems


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _keys_at(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """Field names of the nested model at ``path`` (for 'did you mean' on unknown keys)."""
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _shown(value: object) -> str | None:
    if isinstance(value, dict | list):
        return json.dumps(value)[:80]
    return None if value is None else str(value)
