"""The checkpoint contract: each part of ``config.json`` is a dataclass, and its fields are the
schema. ``parse(Part, data)`` checks a JSON value against them and builds the part, so training,
benchmarks and the server read one checkpoint by one set of rules.

Per field: its type (a size must be a JSON integer, not ``"64"`` or ``64.0``; a float any finite
number; a string not empty), the bounds in its ``rule(...)`` metadata, and ``null`` only where
the type admits ``None``. A key left out takes the field's default; an unknown key is refused in
a part whose ``extra`` is False (a network's architecture) and kept in the others (the card's
metadata). The part's own ``__post_init__`` then checks what spans fields (ids below the
vocabulary size, calibration rows per horizon step). Every broken rule raises ``SchemaError``
naming the field's path and the rule.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

Part = TypeVar("Part")
SHOWN = 5  # broken rules named in one message; the rest are counted


class SchemaError(ValueError):
    """A config.json value breaks a rule of its part; the message names each field and rule."""


def rule(
    *,
    ge: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    pattern: str | None = None,
    items: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A field's bounds, for ``dataclasses.field(metadata=rule(...))``: ``ge``/``gt``/``lt`` for
    numbers, ``min_items``/``max_items`` for lists, ``pattern`` (matched whole) for strings,
    ``items``: another ``rule(...)`` for each element of a list (or value of a mapping)."""
    given = {"ge": ge, "gt": gt, "lt": lt, "min_items": min_items, "max_items": max_items, "pattern": pattern}
    bounds = {k: v for k, v in given.items() if v is not None}
    return {"rule": bounds | ({"items": dict(items["rule"])} if items else {})}


def _bounds(value: Any, bounds: Mapping[str, Any]) -> str | None:
    """The bound ``value`` breaks, in words; None when it keeps them all."""
    if "ge" in bounds and value < bounds["ge"]:
        return f"must be >= {bounds['ge']}"
    if "gt" in bounds and value <= bounds["gt"]:
        return f"must be > {bounds['gt']}"
    if "lt" in bounds and value >= bounds["lt"]:
        return f"must be < {bounds['lt']}"
    if "pattern" in bounds and not re.fullmatch(bounds["pattern"], value):
        return f"must match {bounds['pattern']}"
    if "min_items" in bounds and len(value) < bounds["min_items"]:
        return f"must hold at least {bounds['min_items']} items"
    if "max_items" in bounds and len(value) > bounds["max_items"]:
        return f"must hold at most {bounds['max_items']} items"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    def __init__(self) -> None:
        self.broken: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.broken.append(f"{path or '(top level)'}: {why}")

    def value(self, value: Any, kind: Any, bounds: Mapping[str, Any], path: str) -> Any:
        """``value`` checked against the type ``kind`` and ``bounds``; broken rules are recorded
        and the value comes back as it was (or as the part it builds)."""
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin in (types.UnionType, typing.Union):
            if value is None:
                if type(None) not in args:
                    self.fail(path, "must not be null (leave the key out for its default)")
                return None
            kind = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(kind), typing.get_args(kind)
        elif value is None:
            self.fail(path, "must not be null (leave the key out for its default)")
            return None
        if dataclasses.is_dataclass(kind):
            return self.part(typing.cast(type, kind), value, path)
        before = len(self.broken)
        value = self._typed(value, kind, origin, args, bounds, path)
        if len(self.broken) == before and (why := _bounds(value, bounds)):
            self.fail(path, f"{why}, got {_shown(value)}")
        return value

    def _typed(
        self, value: Any, kind: Any, origin: Any, args: tuple[Any, ...], bounds: Mapping[str, Any], path: str
    ) -> Any:
        items = bounds.get("items", {})
        if kind is bool and not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_shown(value)}")
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(path, f"must be an integer, got {_shown(value)}")
        elif kind is float and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            self.fail(path, f"must be a finite number, got {_shown(value)}")
        elif kind is str and (not isinstance(value, str) or not value):
            self.fail(path, f"must be a non-empty string, got {_shown(value)}")
        elif origin in (list, tuple):
            if not isinstance(value, list | tuple):
                self.fail(path, f"must be a list, got {_shown(value)}")
            elif origin is tuple and len(value) != len(args):
                self.fail(path, f"must hold {len(args)} items, got {len(value)}")
            else:
                element = [args[0]] * len(value) if origin is list else list(args)
                checked = [self.value(v, k, items, f"{path}.{i}") for i, (v, k) in enumerate(zip(value, element))]
                return tuple(checked) if origin is tuple else checked
        elif origin is dict:
            if not isinstance(value, dict):
                self.fail(path, f"must be an object, got {_shown(value)}")
            else:
                return {k: self.value(v, args[1], items, f"{path}.{k}") for k, v in value.items()}
        return value

    def part(self, cls: type[Part], data: Any, path: str) -> Part | None:
        if not isinstance(data, dict):
            self.fail(path, f"must be an object, got {_shown(data)}")
            return None
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        prefix = f"{path}." if path else ""
        if not getattr(cls, "EXTRA", False):
            for key in sorted(set(data) - set(known)):
                self.fail(f"{prefix}{key}", f"is not a key of {cls.__name__} (known: {', '.join(known)})")
        values: dict[str, Any] = {}
        for name, spec in known.items():
            if name in data:
                values[name] = self.value(data[name], hints[name], spec.metadata.get("rule", {}), prefix + name)
            elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                self.fail(prefix + name, "is required")
        if self.broken:
            return None
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:  # the part's own checks across fields
            self.fail(path, str(exc))
            return None


def parse(cls: type[Part], data: Any, where: str = "") -> Part:
    """``data`` (decoded JSON) as a ``cls`` part, every field checked; else ``SchemaError``
    naming up to ``SHOWN`` broken rules (``where`` prefixes the message, e.g. the file)."""
    checker = _Checker()
    built = checker.part(cls, data, "")
    if built is None:
        shown = checker.broken[:SHOWN] + (
            [f"and {len(checker.broken) - SHOWN} more"] if len(checker.broken) > SHOWN else []
        )
        raise SchemaError(f"{where}{'; '.join(shown)}")
    return built
