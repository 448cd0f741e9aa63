"""The one rule a day's bar must keep, shared by the JSON fields of ``POST /forecast``, the price
files of the upload and of training (``price_file``): its low is at most its open, close and
high, and its high at least its open and close. A missing figure (NaN, or a whole field None) is
not checked: NaN compares false with everything."""

from __future__ import annotations

import numpy as np

Pair = tuple[str, np.ndarray | None, str, np.ndarray | None, str]


def _pairs(close: np.ndarray, open: np.ndarray | None, high: np.ndarray | None, low: np.ndarray | None) -> list[Pair]:
    """(field, its values, other field, its values, rule) per check; low against high last, so
    that a high below the close is named as the high, a low above the close as the low."""
    return [
        ("high", high, "open", open, "at least"),
        ("high", high, "close", close, "at least"),
        ("low", low, "open", open, "at most"),
        ("low", low, "close", close, "at most"),
        ("low", low, "high", high, "at most"),
    ]


def _broken(values: np.ndarray, against: np.ndarray, relation: str) -> np.ndarray:
    """(N,) bool: the days where ``values`` break ``relation`` to ``against`` (NaN never does)."""
    return values > against if relation == "at most" else values < against


def impossible_days(
    close: np.ndarray, open: np.ndarray | None, high: np.ndarray | None, low: np.ndarray | None
) -> np.ndarray:
    """(N,) bool: the days whose bar cannot be (any rule broken). All arrays (N,), oldest first."""
    bad = np.zeros(len(close), dtype=bool)
    for _, values, _, against, relation in _pairs(close, open, high, low):
        if values is not None and against is not None:
            bad |= _broken(values, against, relation)
    return bad


def bar_problem(
    close: np.ndarray, open: np.ndarray | None, high: np.ndarray | None, low: np.ndarray | None
) -> tuple[str, int, str] | None:
    """The first day whose bar cannot be, as (field, index, why), else None. All arrays (N,),
    oldest first; a missing field (None) or figure (NaN) is not checked. ``why`` names both values."""
    found: list[tuple[int, str, str]] = []
    for field, values, other, against, relation in _pairs(close, open, high, low):
        if values is None or against is None:
            continue
        bad = np.flatnonzero(_broken(values, against, relation))
        if bad.size:
            i = int(bad[0])
            sign = ">" if relation == "at most" else "<"
            found.append(
                (i, field, f"must be {relation} the day's {other}: {field} {values[i]:g} {sign} {other} {against[i]:g}")
            )
    if not found:
        return None
    i, field, why = min(found, key=lambda item: item[0])
    return field, i, why
