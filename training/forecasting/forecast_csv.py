"""Forecast files: the CSV the backtest writes (``--write-forecasts``) and scores (``--peers``).

One row per method, ticker, origin and horizon:

    method,ticker,origin_date,h,point,lower80,upper80,lower90,upper90

``origin_date`` is the ISO date of the last price the forecast saw; ``h`` is the number of
trading days (rows of that ticker's price file) ahead; ``point`` is the point forecast of that
day's close; ``lowerNN``/``upperNN`` bound the central NN% interval (empty: no interval).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLUMNS = ("method", "ticker", "origin_date", "h", "point", "lower80", "upper80", "lower90", "upper90")
LEVELS = {0.8: ("lower80", "upper80"), 0.9: ("lower90", "upper90")}  # the levels a file holds


@dataclass
class HorizonForecast:
    """Forecasts of one method for one ticker at one horizon: ``point`` (N,) and, per interval
    level, ``(lower, upper)`` each (N,), for N origins in order."""

    point: np.ndarray
    intervals: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


Key = tuple[str, str, int]  # ticker, origin date, h


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: not a number: {text!r}") from None


def read_forecasts(paths: Iterable[str | Path]) -> dict[str, dict[Key, tuple[float, dict[float, tuple]]]]:
    """-> {method: {(ticker, origin_date, h): (point, {level: (lower, upper)})}} from forecast files.

    Raises ``ValueError`` for a missing column, a non-numeric figure or a row given twice."""
    found: dict[str, dict[Key, tuple[float, dict[float, tuple]]]] = {}
    for path in paths:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS[:5] if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}; a forecast file has {','.join(COLUMNS)}")
            for line, row in enumerate(reader, 2):
                where = f"{path}:{line}"
                key = (row["ticker"], row["origin_date"], int(_number(row["h"], where)))
                intervals = {
                    level: (_number(row[lo], where), _number(row[hi], where))
                    for level, (lo, hi) in LEVELS.items()
                    if row.get(lo) and row.get(hi)
                }
                rows = found.setdefault(row["method"], {})
                if key in rows:
                    raise ValueError(f"{where}: {row['method']} {key} given twice")
                rows[key] = (_number(row["point"], where), intervals)
    return found


def peer_forecasts(
    rows: dict[Key, tuple[float, dict[float, tuple]]], method: str, ticker: str, dates: list[str], h: int
) -> tuple[HorizonForecast | None, list[str]]:
    """One peer's forecasts for ``ticker`` at the origins ``dates`` and horizon h, or None and
    the origin dates it lacks. Intervals are kept for the levels every origin has."""
    missing = [d for d in dates if (ticker, d, h) not in rows]
    if missing:
        return None, missing
    picked = [rows[(ticker, d, h)] for d in dates]
    levels = set.intersection(*(set(iv) for _, iv in picked)) if picked else set()
    return HorizonForecast(
        np.array([p for p, _ in picked]),
        {lv: (np.array([iv[lv][0] for _, iv in picked]), np.array([iv[lv][1] for _, iv in picked])) for lv in levels},
    ), []


def forecast_rows(method: str, ticker: str, dates: list[str], h: int, fc: HorizonForecast) -> list[dict]:
    """Rows of the forecast file for one method, ticker and horizon (levels it lacks left empty)."""
    rows = []
    for i, date in enumerate(dates):
        row = {"method": method, "ticker": ticker, "origin_date": date, "h": h, "point": repr(float(fc.point[i]))}
        for level, (lo, hi) in LEVELS.items():
            if level in fc.intervals:
                row[lo], row[hi] = (repr(float(x[i])) for x in fc.intervals[level])
            else:
                row[lo] = row[hi] = ""
        rows.append(row)
    return rows


def write_forecasts(path: str | Path, rows: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
