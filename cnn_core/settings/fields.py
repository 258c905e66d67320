"""One declaration per user-settable field, and everything derived from it.

A config dataclass declares each field with `setting(default, label=..., help=..., ...)`. The
metadata on that field is the only place a setting is described: the pages build their widgets
from it (ui/settings_form.py), the CLI builds its flags from it (`add_arguments`), the share link
encodes and decodes through it (`encode`, `decode`), and `problems` validates against it.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields

from cnn_core.errors import StudioError

KINDS = ("int", "float", "bool", "choice", "text")


@dataclass(frozen=True)
class Setting:
    """What a user sees and may enter for one field.

    Args:
        label: the widget's label and the CLI help's first words.
        help: one sentence for a learner: what it does and a typical value.
        kind: "int", "float", "bool", "choice" (one of `choices`) or "text".
        minimum, maximum: the inclusive range of a number (`above` makes the minimum exclusive).
        step: the widget's step.
        choices: value → label for "choice" settings.
        unit: shown after numbers ("degrees", "epochs").
        optional: when set, None is allowed and this text says what None means.
        widget: "number", "slider", "select_slider", "checkbox", "selectbox" or "toggle" (a toggle
            that enables a slider: for optional numbers where None means "off").
        pages: the pages whose forms show it ("data", "train", "model").
        group: the section of the form it appears in.
        presets: values a select_slider offers (the current value is added when missing).
        check: a further test of a value; returns the problem in words, or None.
        flag, key: the CLI flag and URL key; default `--field-name` and the field name.
    """

    label: str
    help: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    step: float | None = None
    choices: dict | None = None
    unit: str = ""
    optional: str = ""
    widget: str = "number"
    pages: tuple[str, ...] = ("train",)
    group: str = ""
    presets: tuple | None = None
    check: Callable[[object], str | None] | None = None
    flag: str = ""
    key: str = ""


def setting(default, **meta):
    """A dataclass field carrying its `Setting` (the one place the setting is described)."""
    if meta.get("kind") not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    return field(default=default, metadata={"setting": Setting(**meta)})


@dataclass(frozen=True)
class Declared:
    """One declared field: its name, default and `Setting`, with the derived flag and URL key."""

    name: str
    default: object
    setting: Setting

    @property
    def flag(self) -> str:
        return self.setting.flag or "--" + self.name.replace("_", "-")

    @property
    def key(self) -> str:
        return self.setting.key or self.name


def declared(cls) -> list[Declared]:
    """The declared settings of a config dataclass, in field order."""
    return [
        Declared(f.name, f.default if f.default is not MISSING else None, f.metadata["setting"])
        for f in fields(cls)
        if "setting" in f.metadata
    ]


def describe_range(s: Setting) -> str:
    """The allowed values in words: "from 1 to 1000 epochs", "one of adam, sgd"."""
    if s.kind == "choice":
        return "one of " + ", ".join(str(c) for c in s.choices)
    if s.kind in ("int", "float") and s.minimum is not None and s.maximum is not None:
        low = f"above {s.minimum:g}" if s.above else f"from {s.minimum:g}"
        return f"{low} to {s.maximum:g}" + (f" {s.unit}" if s.unit else "")
    return ""


def problem(s: Setting, value) -> str | None:
    """Why `value` is not allowed for `s`, or None when it is."""
    if value is None:
        return None if s.optional else "a value is required"
    if s.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if s.kind == "choice":
        # the value's own type too: a list (unhashable) or True (== 1) from a file is no choice
        known = any(type(value) is type(c) and value == c for c in s.choices)
        return None if known else f"must be {describe_range(s)}"
    if s.kind == "text":
        return (s.check(value) if s.check else None) if isinstance(value, str) else "must be text"
    wanted = int if s.kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted) or (isinstance(value, float) and not math.isfinite(value)):
        return f"must be {'a whole number' if s.kind == 'int' else 'a number'}"
    too_low = s.minimum is not None and (value <= s.minimum if s.above else value < s.minimum)
    if too_low or (s.maximum is not None and value > s.maximum):
        return f"must be {describe_range(s)}"
    return s.check(value) if s.check else None


def problems(config) -> list[str]:
    """Every field of `config` that breaks its declaration, as "label: problem"."""
    found = []
    for d in declared(type(config)):
        why = problem(d.setting, getattr(config, d.name))
        if why:
            found.append(f"{d.setting.label.lower()} {why} (got {getattr(config, d.name)!r})")
    return found


def parse(s: Setting, text: str):
    """A value from text (a URL query value or a CLI argument); `StudioError` when unreadable."""
    text = text.strip()
    if s.optional and text.lower() in ("", "none", "null"):
        return None
    try:
        if s.kind == "bool":
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if s.kind == "int":
            number = float(text)
            if not number.is_integer():
                raise ValueError(text)
            return int(number)
        if s.kind == "float":
            return float(text)
        if s.kind == "choice":
            return _choice(s, text)
        return text
    except (ValueError, OverflowError):
        if s.kind == "choice":
            raise StudioError(f"it must be {describe_range(s)}") from None
        kind = {"int": "a whole number", "float": "a number", "bool": "true or false"}.get(s.kind, "readable")
        raise StudioError(f"'{text}' is not {kind}") from None


def _choice(s: Setting, text: str):
    for value in s.choices:
        if str(value) == text:
            return value
    raise ValueError(text)


def format_value(value) -> str:
    """A value as URL text: numbers in their shortest form, booleans as true/false."""
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def shown_default(d: Declared) -> str:
    return d.setting.optional if d.default is None else format_value(d.default)


def encode(config) -> dict[str, str]:
    """The fields that differ from their defaults, as URL query pairs."""
    return {d.key: format_value(getattr(config, d.name)) for d in declared(type(config)) if getattr(config, d.name) != d.default}


def decode(cls, query: dict[str, str]) -> tuple[dict, list[str]]:
    """Field values read from a URL query, and a notice for each value that was dropped.

    An unreadable or out-of-range value is never turned into something else: the field keeps
    its default and the notice names the key, the value and the reason.
    """
    values, notices = {}, []
    for d in declared(cls):
        if d.key not in query:
            continue
        text = query[d.key]
        try:
            value = parse(d.setting, text)
        except StudioError as exc:
            notices.append(f"{d.key}={text!r} was ignored: {exc}; {d.setting.label.lower()} stays {shown_default(d)}")
            continue
        why = problem(d.setting, value)
        if why:
            notices.append(f"{d.key}={text!r} was ignored: {d.setting.label.lower()} {why}; it stays {shown_default(d)}")
        else:
            values[d.name] = value
    return values, notices


class _Parse:
    """argparse `type=`: parse with the declaration, so the CLI reads values as links do."""

    def __init__(self, s: Setting):
        self.s, self.__name__ = s, s.kind

    def __call__(self, text: str):
        try:
            value = parse(self.s, text)
        except StudioError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        why = problem(self.s, value)
        if why:
            raise argparse.ArgumentTypeError(f"{self.s.label.lower()} {why}")
        return value


def add_arguments(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (), prefix: str = "") -> None:
    """One flag per declared field, with its help text, range and default; `prefix` keeps the
    destinations of two configs apart (both have a `seed`)."""
    for d in declared(cls):
        if d.name in skip:
            continue
        s, allowed = d.setting, describe_range(d.setting)
        text = s.help + (f" Allowed: {allowed}." if allowed else "")
        if s.kind == "bool":
            parser.add_argument(d.flag, dest=prefix + d.name, action=argparse.BooleanOptionalAction, default=d.default, help=text)
            continue
        default = "none: " + s.optional if d.default is None else format_value(d.default)
        parser.add_argument(
            d.flag, dest=prefix + d.name, type=_Parse(s), default=d.default, metavar=s.unit.upper() or d.name.upper(),
            help=f"{text} Default: {default}.",
        )  # fmt: skip


def from_arguments(cls, args: argparse.Namespace, prefix: str = "", **fixed):
    """A config built from parsed CLI arguments (the declared flags) plus `fixed` fields."""
    found = {d.name: getattr(args, prefix + d.name) for d in declared(cls) if hasattr(args, prefix + d.name)}
    return cls(**(found | fixed))
