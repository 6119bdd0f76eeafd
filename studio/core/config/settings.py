"""What a setting allows and how a form shows it, declared once on its dataclass field.

Ranges are closed or half-open at a nonzero end: a positive setting names its smallest sensible
value (1e-12, not "above 0"), so a form can hold every value the config allows.

A config dataclass declares each setting with `setting(...)`; the checks (`ranges_of`,
`choices_of`) and the window's forms (`schema`) all read that one declaration, so a form can
never allow another range, round to other decimals or offer other choices than the config.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import yaml

from studio.core import paths
from studio.core.errors import ConfigError

Kind = Literal["int", "float", "sci", "choice", "text", "bool"]
HELP_FILE = "settings_help.yaml"


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows: low..high, the high end excluded when `below`."""

    low: float
    high: float
    below: bool = False  # high itself is not allowed (ratios in [0, 1))

    def allows(self, value: float) -> bool:
        return self.low <= value and (value < self.high if self.below else value <= self.high)

    @property
    def highest(self) -> float:
        """The largest value allowed (for an open end, the float just below it)."""
        return math.nextafter(self.high, -math.inf) if self.below else self.high

    def __str__(self) -> str:
        return f"[{self.low:g}, {self.high:g}{')' if self.below else ']'}"


@dataclass(frozen=True)
class Setting:
    """One setting's declaration: how it is checked, labelled, grouped and shown.

    `none` is how the value None reads in a form ("auto", "all"): a setting without it
    never takes None. `step` is a spin box's step (a `sci` field steps its leading digit).
    """

    label: str
    group: str
    kind: Kind
    range: Range | None = None
    choices: tuple[str, ...] = ()
    none: str | None = None
    step: float = 1.0
    suffix: str = ""


@dataclass(frozen=True)
class Field:
    """A declared setting of a config class, with its key, default and help text."""

    key: str
    default: Any
    setting: Setting
    help: str


def setting(
    default: Any,
    label: str,
    group: str,
    kind: Kind,
    *,
    range: Range | None = None,  # noqa: A002 - the word the declarations read best with
    choices: tuple[str, ...] = (),
    none: str | None = None,
    step: float = 1.0,
    suffix: str = "",
) -> Any:
    """A dataclass field carrying its Setting (use as `x: int = setting(4, ...)`)."""
    meta = Setting(label, group, kind, range, choices, none, step, suffix)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={"setting": meta})
    return dataclasses.field(default=default, metadata={"setting": meta})


def declared(cls: type) -> dict[str, Setting]:
    """The Setting of each declared field of a config class, in declaration order."""
    return {
        f.name: f.metadata["setting"] for f in dataclasses.fields(cls) if "setting" in f.metadata
    }


def ranges_of(cls: type) -> dict[str, Range]:
    return {k: s.range for k, s in declared(cls).items() if s.range is not None}


def choices_of(cls: type) -> dict[str, tuple[str, ...]]:
    return {k: s.choices for k, s in declared(cls).items() if s.choices}


def schema(cls: type, section: str) -> list[Field]:
    """The declared settings of `cls` with their defaults and their help (`section` of the
    help file), in declaration order: what a form is built from."""
    text = help_texts().get(section, {})
    fields = []
    for f in dataclasses.fields(cls):
        if "setting" not in f.metadata:
            continue
        default = f.default
        if default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        fields.append(Field(f.name, default, f.metadata["setting"], text.get(f.name, "")))
    return fields


@cache
def help_texts() -> dict[str, dict[str, str]]:
    """Help of every setting, by section and key: plain text kept as data, so it can be
    edited without touching code or layout."""
    path = paths.package_dir("resources") / HELP_FILE
    # libyaml's parser where PyYAML has it: the pure-Python one took 10 ms of the window's start-up.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    return {section: {k: str(v) for k, v in keys.items()} for section, keys in raw.items()}


def check_ranges(settings: Any, ranges: dict[str, Range]) -> None:
    """ConfigError naming the first setting outside its range, and the range."""
    for key, allowed in ranges.items():
        value = getattr(settings, key)
        if value is not None and not allowed.allows(value):
            raise ConfigError(f"{key}: must be in {allowed}, got {value!r}")


def check_choices(settings: Any, choices: dict[str, tuple[str, ...]]) -> None:
    """ConfigError naming the first setting whose value is not one of its choices."""
    for key, allowed in choices.items():
        value = getattr(settings, key)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not allowed; use one of {list(allowed)}")
