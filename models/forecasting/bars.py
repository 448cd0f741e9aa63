"""The one rule a day's bar must keep, shared by the JSON fields of ``POST /forecast``, the price
files of the upload and of training (``price_file``): its low is at most its open, close and
high, and its high at least its open and close. A missing figure (NaN, or a whole field None) is
not checked: NaN compares false with everything. ``file_bars`` turns a price file's columns into
the ``Bars`` the model reads by that rule (a day whose bar cannot be loses its open, high, low)."""

from __future__ import annotations

import numpy as np

from models.forecasting.forecaster import Bars

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


# ---- a price file's columns as Bars (``price_file``) ----


def _field(
    values: np.ndarray | None, lines: np.ndarray, key: str, warnings: list[str] | None = None
) -> np.ndarray | None:
    """(K,) ``values`` of ``key`` on the rows read (file ``lines``), NaN where missing; None when
    no row has it. What is missing is said in ``warnings`` when given."""
    values = np.full(len(lines), np.nan) if values is None else values
    missing = np.flatnonzero(np.isnan(values))
    if missing.size and warnings is not None:
        if missing.size == len(lines):
            warnings.append(f"{key}: missing on all {len(lines)} rows read; the model gets no {key}")
        else:
            warnings.append(
                f"{key}: missing on {missing.size} of the {len(lines)} rows read (the first on line "
                f"{lines[int(missing[0])]}); the model gets no {key} on those days"
            )
    return None if missing.size == len(lines) else values


def _left_out(
    lines: np.ndarray, raw_close: np.ndarray, given: dict[str, np.ndarray | None], warnings: list[str]
) -> np.ndarray:
    """(K,) bool: the days whose open, high and low the model does not get: a bar that cannot be
    (against the file's own close), or no close in the file to adjust them by; said in ``warnings``."""
    bad = impossible_days(raw_close, given["open"], given["high"], given["low"])
    problem = bar_problem(raw_close, given["open"], given["high"], given["low"])
    if problem:
        key, i, why = problem
        others = f" and {plural(int(bad.sum()) - 1, 'other day')} like it" if bad.sum() > 1 else ""
        tail = "the model gets no open, high or low on those days"
        warnings.append(f"line {lines[i]}: {key} {why}{others}; {tail}")
    unscalable = np.isnan(raw_close) & ~bad
    if unscalable.any() and any(given[key] is not None for key in ("open", "high", "low")):
        warnings.append(
            f"Close: missing on {plural(int(unscalable.sum()), 'row')} read, so their open, high and low cannot be "
            "adjusted: the model gets none on those days"
        )
    dropped: np.ndarray = bad | unscalable
    return dropped


def file_bars(lines: np.ndarray, values: dict[str, np.ndarray], close_key: str, warnings: list[str]) -> Bars:
    """The rows' Bars, closes from ``close_key``. Open, high and low are checked against the
    file's own close, then scaled by (close read / file's close), an adjusted close's factor, and
    kept inside the day's range (which the scaling could break by a rounding). A missing figure
    is NaN on its day only (a field missing on every row: None), and a day whose bar cannot be
    loses its open, high and low; each with a warning."""
    close = values[close_key]  # rows without a close were dropped
    if not len(close):
        return Bars(close)
    raw_close = _field(values.get("close"), lines, "close")
    raw_close = np.full(len(lines), np.nan) if raw_close is None else raw_close
    given = {key: _field(values.get(key), lines, key, warnings) for key in ("open", "high", "low", "volume")}
    drop = _left_out(lines, raw_close, given, warnings)
    scale = close / raw_close  # NaN where the file has no close: those days are dropped

    def adjusted(key: str) -> np.ndarray | None:
        values = given[key]
        if values is None:
            return None
        out = np.where(drop, np.nan, values * scale)
        return None if np.isnan(out).all() else out

    bars = Bars(close, open=adjusted("open"), volume=given["volume"])
    lo = close if bars.open is None else np.fmin(close, bars.open)  # fmin: a missing open leaves the close
    hi = close if bars.open is None else np.fmax(close, bars.open)
    low, high = adjusted("low"), adjusted("high")
    bars.low = None if low is None else np.minimum(low, lo)  # minimum: a missing low stays missing
    bars.high = None if high is None else np.maximum(high, hi)
    return bars


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
