"""Daily price files as uploaded to ``POST /forecast/csv``, read with the standard library.

Two layouts, told apart by the header (names compared without case or surrounding spaces):

- Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume``, one ticker. The close the model reads is
  ``Adj Close`` (split- and dividend-adjusted, as in training; ``Close`` when the file has no
  ``Adj Close``), and the day's open, high and low are scaled by the same factor (Adj Close /
  Close). Yahoo writes ``null`` on days without data: those rows are dropped and counted.
- Kaggle: ``date,open,high,low,close,volume,Name``, one or many tickers (``Name``).

Rows may come in any order (each carries its date) but a date may appear once per ticker. Only
the newest ``keep`` rows go to the model; every row's date and numbers are still checked. A
value that is present but not a positive finite price (a volume: >= 0) is an error naming the
line; a missing one (empty, ``null``, ``NaN``, ``NA``, ``N/A``) in open, high, low or volume
is NaN in the model's ``Bars`` on that day only (the model reads a day's range only when it has
open, high and low), and a day whose bar cannot be (low above the close, say) loses its open,
high and low; each said in a warning.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from app.core.bars import bar_problem, impossible_days
from models.forecasting.forecaster import Bars

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
KAGGLE_HEADER = "date,open,high,low,close,volume,Name"
REQUIRED = ("date", "open", "high", "low", "close", "volume")
MISSING = {"", "null", "nan", "na", "n/a"}
MAX_PRICE, MAX_VOLUME = 1e9, 1e15
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SHOWN_TICKERS = 12


class PriceFileError(ValueError):
    """A file (``where`` "file") or a ticker choice (``where`` "ticker") that cannot be read."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


@dataclass
class PriceTable:
    """The rows of one ticker the model reads, oldest first: ``dates`` and ``bars`` (K,) each."""

    dates: list[date]
    bars: Bars
    ticker: str | None
    layout: str  # "yahoo" | "kaggle"
    close_column: str
    rows: int  # usable rows of the ticker in the file
    lines: list[int] = field(default_factory=list)  # the file line of each row read
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    day: date
    values: dict[str, float | None]


def _columns(header: list[str]) -> dict[str, int]:
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        shown = ",".join(header)[:120]
        raise PriceFileError(
            "file",
            f"not a daily price CSV: its header must be {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} "
            f"(Kaggle); missing {', '.join(missing)} in the first line ({shown!r})",
        )
    return index


def _number(text: str, line: int, column: str, volume: bool) -> float | None:
    """A cell as a float; None when missing; PriceFileError naming line and column when invalid."""
    if text.strip().lower() in MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError("file", f"line {line}, {column}: {text[:40]!r} is not a number") from None
    limit = MAX_VOLUME if volume else MAX_PRICE
    low_ok = value >= 0 if volume else value > 0
    if not (np.isfinite(value) and low_ok and value <= limit):
        rule = f">= 0 and <= {limit:g}" if volume else f"> 0 and <= {limit:g}"
        raise PriceFileError("file", f"line {line}, {column}: must be a finite number {rule}, got {text[:40]!r}")
    return value


def _row(cells: list[str], line: int, index: dict[str, int], names: dict[str, str], width: int) -> _Row:
    if len(cells) < width:
        raise PriceFileError("file", f"line {line}: {len(cells)} fields, the header has {width}")
    day_text = cells[index["date"]].strip()
    if not ISO_DATE.fullmatch(day_text):
        raise PriceFileError("file", f"line {line}, {names['date']}: {day_text[:40]!r} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise PriceFileError("file", f"line {line}, {names['date']}: {day_text!r} is not a valid date") from None
    numeric = [key for key in (*REQUIRED[1:], "adj close") if key in index]
    values = {key: _number(cells[index[key]], line, names[key], key == "volume") for key in numeric}
    return _Row(line, day, values)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _tickers_text(names: dict[str, int]) -> str:
    shown = sorted(names)[:SHOWN_TICKERS]
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN_TICKERS else ""
    return ", ".join(shown) + more


def _rows(text: str, ticker: str | None) -> tuple[list[_Row], str, str | None]:
    """(the chosen ticker's rows with a close, in file order; layout; ticker) and warnings via
    the rows' missing closes (counted by the caller)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise PriceFileError("file", f"is empty; expected a header {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} (Kaggle)")
    index = _columns(header)
    names = {name.strip().lower(): name.strip() for name in header}
    kaggle = "name" in index
    seen: dict[str, int] = {}  # Kaggle: ticker -> rows
    chosen = ticker
    rows: list[_Row] = []
    for cells in reader:
        if not cells or not any(c.strip() for c in cells):
            continue
        if kaggle:
            if len(cells) <= index["name"]:
                raise PriceFileError("file", f"line {reader.line_num}: no {names['name']} field")
            name = cells[index["name"]].strip()
            seen[name] = seen.get(name, 0) + 1
            chosen = chosen if chosen is not None else name
            if name != chosen:
                continue
        rows.append(_row(cells, reader.line_num, index, names, len(header)))
    if kaggle:
        if ticker is None and len(seen) > 1:
            raise PriceFileError(
                "ticker", f"required: the file holds {len(seen)} tickers ({_tickers_text(seen)}); name one"
            )
        if ticker is not None and ticker not in seen:
            raise PriceFileError("ticker", f"'{ticker}' is not in the file; it holds {_tickers_text(seen) or 'none'}")
    return rows, "kaggle" if kaggle else "yahoo", chosen


def _ordered(rows: list[_Row]) -> list[_Row]:
    """Rows sorted by date; PriceFileError naming both lines of a repeated date."""
    ordered = sorted(rows, key=lambda r: r.day)
    for before, after in zip(ordered, ordered[1:]):
        if before.day == after.day:
            first, second = sorted((before.line, after.line))
            raise PriceFileError("file", f"{after.day} appears twice, on lines {first} and {second} (one row per day)")
    return ordered


def _field(rows: list[_Row], key: str, warnings: list[str] | None = None) -> np.ndarray | None:
    """(K,) values of ``key`` in ``rows``, NaN on the rows without it; None when no row has it.
    What is missing is said in ``warnings`` when given."""
    values = np.array([np.nan if r.values.get(key) is None else r.values[key] for r in rows], dtype=np.float64)
    missing = np.flatnonzero(np.isnan(values))
    if missing.size and warnings is not None:
        if missing.size == len(rows):
            warnings.append(f"{key}: missing on all {len(rows)} rows read; the model gets no {key}")
        else:
            warnings.append(
                f"{key}: missing on {missing.size} of the {len(rows)} rows read (the first on line "
                f"{rows[int(missing[0])].line}); the model gets no {key} on those days"
            )
    return None if missing.size == len(rows) else values


def _left_out(
    window: list[_Row], raw_close: np.ndarray, given: dict[str, np.ndarray | None], warnings: list[str]
) -> np.ndarray:
    """(K,) bool: the days whose open, high and low the model does not get: a bar that cannot be
    (against the file's own close), or no close in the file to adjust them by; said in ``warnings``."""
    bad = impossible_days(raw_close, given["open"], given["high"], given["low"])
    problem = bar_problem(raw_close, given["open"], given["high"], given["low"])
    if problem:
        key, i, why = problem
        others = f" and {plural(int(bad.sum()) - 1, 'other day')} like it" if bad.sum() > 1 else ""
        tail = "the model gets no open, high or low on those days"
        warnings.append(f"line {window[i].line}: {key} {why}{others}; {tail}")
    unscalable = np.isnan(raw_close) & ~bad
    if unscalable.any() and any(given[key] is not None for key in ("open", "high", "low")):
        warnings.append(
            f"Close: missing on {plural(int(unscalable.sum()), 'row')} read, so their open, high and low cannot be "
            "adjusted: the model gets none on those days"
        )
    dropped: np.ndarray = bad | unscalable
    return dropped


def _bars(window: list[_Row], close_key: str, warnings: list[str]) -> Bars:
    """The window's Bars, closes from ``close_key``. Open, high and low are checked against the
    file's own close, then scaled by (close read / file's close), an adjusted close's factor, and
    kept inside the day's range (which the scaling could break by a rounding). A missing figure
    is NaN on its day only (a field missing on every row: None), and a day whose bar cannot be
    loses its open, high and low; each with a warning."""
    close = _field(window, close_key)
    assert close is not None  # rows without a close were dropped
    raw_close = _field(window, "close")
    raw_close = np.full(len(window), np.nan) if raw_close is None else raw_close
    given = {key: _field(window, key, warnings) for key in ("open", "high", "low", "volume")}
    drop = _left_out(window, raw_close, given, warnings)
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


def read_price_csv(
    data: bytes, keep: int, min_rows: int, ticker: str | None = None, filename: str | None = None
) -> PriceTable:
    """The newest ``keep`` rows (at least ``min_rows``) of the file's ticker (``ticker``; for a
    Yahoo file, else its ``filename`` without extension). Raises PriceFileError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PriceFileError("file", f"is not UTF-8 text (byte {error.start}); expected a CSV file") from None
    try:
        rows, layout, chosen = _rows(text, ticker)
    except csv.Error as error:
        raise PriceFileError("file", f"is not a readable CSV ({error})") from None
    if layout == "yahoo" and chosen is None and filename:
        stem = re.sub(r"\.[^.]*$", "", re.split(r"[/\\]", filename)[-1])
        chosen = re.sub(r"[^A-Za-z0-9._^=-]", "", stem)[:32].upper() or None
    close_key = "adj close" if rows and "adj close" in rows[0].values else "close"
    warnings: list[str] = []
    usable = [r for r in rows if r.values[close_key] is not None]
    if len(usable) < len(rows):
        first = next(r.line for r in rows if r.values[close_key] is None)
        warnings.append(
            f"dropped {plural(len(rows) - len(usable), 'row')} without a close (Yahoo writes null on days "
            f"without data), the first on line {first}"
        )
    ordered = _ordered(usable)
    if len(ordered) < min_rows:
        whose = f" of {chosen}" if chosen else ""
        raise PriceFileError(
            "file", f"holds {len(ordered)} rows with a close{whose}; the model needs at least {min_rows} (its window)"
        )
    window = ordered[-keep:]
    bars = _bars(window, close_key, warnings)
    column = {"adj close": "Adj Close", "close": "Close" if layout == "yahoo" else "close"}[close_key]
    return PriceTable(
        [r.day for r in window], bars, chosen, layout, column, len(ordered), [r.line for r in window], warnings
    )
