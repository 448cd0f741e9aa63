"""The one rule a day's bar must keep, shared by the JSON fields and the CSV upload: its low is
at most its open, close and high, and its high at least its open and close."""

from __future__ import annotations

import numpy as np


def bar_problem(
    close: np.ndarray, open: np.ndarray | None, high: np.ndarray | None, low: np.ndarray | None
) -> tuple[str, int, str] | None:
    """The first day whose bar cannot be, as (field, index, why), else None. All arrays (N,),
    oldest first; a missing field (None) is not checked. ``why`` names both values."""
    # (field, its values, other field, its values, rule); low against high last, so that a high
    # below the close is named as the high, a low above the close as the low
    pairs: list[tuple[str, np.ndarray | None, str, np.ndarray | None, str]] = [
        ("high", high, "open", open, "at least"),
        ("high", high, "close", close, "at least"),
        ("low", low, "open", open, "at most"),
        ("low", low, "close", close, "at most"),
        ("low", low, "high", high, "at most"),
    ]
    found: list[tuple[int, str, str]] = []
    for field, values, other, against, relation in pairs:
        if values is None or against is None:
            continue
        bad = np.flatnonzero(values > against if relation == "at most" else values < against)
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
