"""The settings a sweep varies: each one a declared training setting with a list of values or a range.

Written as the CLI and the page take them: `learning_rate=0.0003:0.01:log` (a range, linear or
log, with an optional number of grid points: `0.1:0.5:lin:5`) or `dropout=0.1,0.3,0.5` (a list).
A setting is named by its field name, its flag without dashes or its link key (`lr`). Every value
and both ends of a range are checked against the setting's declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnn_core.errors import StudioError
from cnn_core.settings import fields
from cnn_core.settings.config import TrainConfig

MAX_PARAMS = 4
GRID_POINTS = 3  # how many values a range gives a grid search when it does not say
FIXED = ("epochs",)  # each trial's length: the budget pruning measures in, not a setting to search


def sweepable() -> dict[str, fields.Declared]:
    """The training settings a sweep may vary: numbers, choices and switches, by field name."""
    return {d.name: d for d in fields.declared(TrainConfig) if d.setting.kind != "text" and d.name not in FIXED}


def find_setting(name: str) -> fields.Declared:
    """The declared setting called `name` (field name, flag or link key); `StudioError` naming the choices."""
    wanted = name.strip().lstrip("-").replace("-", "_")
    for d in sweepable().values():
        if wanted in (d.name, d.key):
            return d
    if wanted in FIXED:
        raise StudioError(f"{wanted} is every trial's length: set it with --epochs, not as a swept setting")
    raise StudioError(f"no setting {name.strip()!r} can be swept; choose from {', '.join(sweepable())}")


@dataclass(frozen=True)
class SweepParam:
    """One varied setting: `values` (a list), or `low`..`high` on a linear or log scale."""

    name: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    points: int = GRID_POINTS

    @property
    def declared(self) -> fields.Declared:
        return find_setting(self.name)

    @property
    def is_range(self) -> bool:
        return not self.values

    def check(self) -> None:
        """`StudioError` naming the setting and the value that its declaration refuses."""
        s = self.declared.setting
        label = s.label.lower()
        if self.values:
            for value in self.values:
                why = fields.problem(s, value)
                if why:
                    raise StudioError(f"{self.name}: {label} {why} (got {value!r})")
            if len(set(map(repr, self.values))) != len(self.values):
                raise StudioError(f"{self.name}: a value is listed twice")
            return
        if s.kind not in ("int", "float"):
            raise StudioError(f"{self.name}: {label} is a choice; list its values (a,b,c), not a range")
        for end in (self.low, self.high):
            why = fields.problem(s, end)
            if why:
                raise StudioError(f"{self.name}: {label} {why} (got {end!r})")
        if not self.low < self.high:
            raise StudioError(f"{self.name}: a range goes from low to high (got {self.low:g}:{self.high:g})")
        if self.log and self.low <= 0:
            raise StudioError(f"{self.name}: a log range must start above 0")
        if not 2 <= self.points <= 20:
            raise StudioError(f"{self.name}: a range gives a grid from 2 to 20 points (got {self.points})")

    def grid(self) -> list:
        """The values a grid search tries: the list, or `points` values spread over the range."""
        if self.values:
            return list(self.values)
        if self.log:
            found = [math.exp(math.log(self.low) + i * (math.log(self.high) - math.log(self.low)) / (self.points - 1))
                     for i in range(self.points)]  # fmt: skip
        else:
            found = [self.low + i * (self.high - self.low) / (self.points - 1) for i in range(self.points)]
        if self.declared.setting.kind == "int":
            return sorted({int(round(v)) for v in found})
        return [float(f"{v:.4g}") for v in found]

    def distribution(self):
        """Optuna's distribution for this setting (a categorical one for a list)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.values:
            return CategoricalDistribution(list(self.values))
        if self.declared.setting.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def text(self) -> str:
        """The setting as it is written on the command line."""
        if self.values:
            return f"{self.name}=" + ",".join(fields.format_value(v) if v is not None else "none" for v in self.values)
        scale = "log" if self.log else "lin"
        extra = f":{self.points}" if self.points != GRID_POINTS else ""
        return f"{self.name}={self.low:g}:{self.high:g}:{scale}{extra}"

    def to_dict(self) -> dict:
        if self.values:
            return {"name": self.name, "values": list(self.values)}
        return {"name": self.name, "low": self.low, "high": self.high, "log": self.log, "points": self.points}

    @classmethod
    def from_dict(cls, data: dict) -> SweepParam:
        if data.get("values"):
            return cls(str(data["name"]), tuple(data["values"]))
        return cls(str(data["name"]), (), data.get("low"), data.get("high"), bool(data.get("log")), int(data.get("points", 3)))


def parse_param(text: str) -> SweepParam:
    """`name=a,b,c` or `name=low:high[:log|lin[:points]]` as a checked `SweepParam`."""
    name, sep, spec = text.partition("=")
    if not sep or not spec.strip():
        raise StudioError(f"{text!r}: write a swept setting as name=a,b,c or name=low:high:log")
    d = find_setting(name)
    spec = spec.strip()
    if ":" in spec:
        parts = [p.strip() for p in spec.split(":")]
        if len(parts) > 4 or (len(parts) >= 3 and parts[2] not in ("log", "lin")):
            raise StudioError(f"{text!r}: a range is low:high, low:high:log or low:high:lin[:points]")
        low, high = (_value(d, p, text) for p in parts[:2])
        points = _points(parts[3], text) if len(parts) == 4 else GRID_POINTS
        param = SweepParam(d.name, (), low, high, len(parts) >= 3 and parts[2] == "log", points)
    else:
        param = SweepParam(d.name, tuple(_value(d, p.strip(), text) for p in spec.split(",")))
    param.check()
    return param


def _value(d: fields.Declared, text: str, whole: str):
    try:
        return fields.parse(d.setting, text)
    except StudioError as exc:
        raise StudioError(f"{whole!r}: {exc}") from None


def _points(text: str, whole: str) -> int:
    if not text.isdigit():
        raise StudioError(f"{whole!r}: the number of grid points must be a whole number (got {text!r})")
    return int(text)


def check_params(params: list[SweepParam] | tuple[SweepParam, ...]) -> None:
    """1 to 4 settings, each once, each valid."""
    if not 1 <= len(params) <= MAX_PARAMS:
        raise StudioError(f"a sweep varies 1 to {MAX_PARAMS} settings (got {len(params)})")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise StudioError("a setting is swept twice: give each one once")
    for p in params:
        p.check()


def grid_size(params) -> int:
    """How many combinations a grid search has."""
    return math.prod(len(p.grid()) for p in params)
