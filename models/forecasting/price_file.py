"""Daily price files, read with the standard library and numpy: the one reader of the upload
(``POST /forecast/csv``: ``read_price_csv``, one ticker's newest rows) and of training
(``training.forecasting.prices``: ``read_tickers``, every ticker's whole history).

Two layouts, told apart by the header (names compared without case or surrounding spaces):

- Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume``, one ticker. The close the model reads is
  ``Adj Close`` (split- and dividend-adjusted; ``Close`` when the file has no ``Adj Close``), and
  the day's open, high and low are scaled by the same factor (Adj Close / Close). Yahoo writes
  ``null`` on days without data: those rows are dropped and counted.
- Kaggle: ``date,open,high,low,close,volume,Name``, one or many tickers (``Name``).

A file needs a date and a close column; open, high, low and volume are read where it has them
(a column it lacks is missing on every day). Rows may come in any order (each carries its date)
but a date may appear once per ticker. A missing cell (empty, ``null``, ``NaN``, ``NA``,
``N/A``) in open, high, low or volume is NaN in the ``Bars`` on that day only (the model reads a
day's range only when it has open, high and low), and a row without a close is dropped. A value
that is present but not a positive finite price (a volume: >= 0) is an error naming the line
(``strict``: the upload) or missing like an empty cell (training's long histories; counted).
A day whose bar cannot be (low above the close, say: ``bars.impossible_days``) loses its open,
high and low. Each of these is said in the table's warnings.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter

import numpy as np

from models.forecasting.bars import bar_problem, impossible_days
from models.forecasting.forecaster import Bars

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
KAGGLE_HEADER = "date,open,high,low,close,volume,Name"
REQUIRED = ("date", "close")
NUMERIC = ("open", "high", "low", "close", "volume", "adj close")  # the order a row's cells are checked in
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


@dataclass(frozen=True)
class _Header:
    index: dict[str, int]  # lower-case name -> column
    names: dict[str, str]  # lower-case name -> as written
    width: int

    @property
    def kaggle(self) -> bool:
        return "name" in self.index

    @property
    def numeric(self) -> list[str]:
        return [key for key in NUMERIC if key in self.index]

    @property
    def close_key(self) -> str:
        return "adj close" if "adj close" in self.index else "close"


@dataclass
class _Rows:
    """One ticker's rows as read, in file order: their cells and file lines."""

    cells: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class _Parsed:
    """One ticker's rows checked, in file order: (N,) each."""

    days: list[date]
    values: dict[str, np.ndarray]  # numeric column -> figures, NaN where missing
    lines: np.ndarray
    warnings: list[str]


def _header(header: list[str] | None) -> _Header:
    if not header:
        raise PriceFileError("file", f"is empty; expected a header {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} (Kaggle)")
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        shown = ",".join(header)[:120]
        raise PriceFileError(
            "file",
            f"not a daily price CSV: its header must be {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} "
            f"(Kaggle); missing {', '.join(missing)} in the first line ({shown!r})",
        )
    return _Header(index, {name.strip().lower(): name.strip() for name in header}, len(header))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _tickers_text(names: dict[str, int]) -> str:
    shown = sorted(names)[:SHOWN_TICKERS]
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN_TICKERS else ""
    return ", ".join(shown) + more


def _number(text: str, line: int, column: str, volume: bool) -> None:
    """PriceFileError naming line and column when ``text`` is present but not a valid figure."""
    if text.strip().lower() in MISSING:
        return
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError("file", f"line {line}, {column}: {text[:40]!r} is not a number") from None
    limit = MAX_VOLUME if volume else MAX_PRICE
    low_ok = value >= 0 if volume else value > 0
    if not (math.isfinite(value) and low_ok and value <= limit):
        rule = f">= 0 and <= {limit:g}" if volume else f"> 0 and <= {limit:g}"
        raise PriceFileError("file", f"line {line}, {column}: must be a finite number {rule}, got {text[:40]!r}")


def _raise_first(rows: _Rows, header: _Header, figures: bool) -> None:
    """Raise the first problem of ``rows`` in file order (a row too short, a date that is not
    one, with ``figures`` a figure that is not one); return when there is none."""
    date_at, names = header.index["date"], header.names
    for cells, line in zip(rows.cells, rows.lines):
        if len(cells) < header.width:
            raise PriceFileError("file", f"line {line}: {len(cells)} fields, the header has {header.width}")
        day_text = cells[date_at].strip()
        if not ISO_DATE.fullmatch(day_text):
            raise PriceFileError("file", f"line {line}, {names['date']}: {day_text[:40]!r} is not a date YYYY-MM-DD")
        try:
            date.fromisoformat(day_text)
        except ValueError:
            raise PriceFileError("file", f"line {line}, {names['date']}: {day_text!r} is not a valid date") from None
        if figures:
            for key in header.numeric:
                _number(cells[header.index[key]], line, names[key], key == "volume")


def _maybe_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _figures(rows: _Rows, at: int, volume: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column ``at`` of the rows -> ((N,) values, NaN where missing or invalid; (N,) bool:
    invalid, i.e. present but not a figure ``_number`` takes)."""
    texts = map(itemgetter(at), rows.cells)
    try:
        values = np.fromiter(map(float, texts), np.float64, len(rows.cells))
    except ValueError:  # a missing cell or a word: cell by cell
        texts = map(itemgetter(at), rows.cells)
        values = np.fromiter(map(_maybe_float, texts), np.float64, len(rows.cells))
    nan = np.isnan(values)
    missing = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(nan):
        missing[i] = rows.cells[i][at].strip().lower() in MISSING
    with np.errstate(invalid="ignore"):
        valid = (values >= 0 if volume else values > 0) & (values <= (MAX_VOLUME if volume else MAX_PRICE))
    values[~valid] = np.nan
    return values, ~valid & ~missing


def _parse(rows: _Rows, header: _Header, strict: bool) -> _Parsed:
    """The rows' dates and figures. Raises the first problem in file order; a figure that is
    not one too when ``strict``, else it is missing (said in the warnings)."""
    warnings: list[str] = []
    if rows.cells and min(map(len, rows.cells)) < header.width:
        _raise_first(rows, header, strict)

    texts = list(map(str.strip, map(itemgetter(header.index["date"]), rows.cells)))
    try:
        if not all(map(ISO_DATE.fullmatch, texts)):
            raise ValueError
        days = list(map(date.fromisoformat, texts))
    except ValueError:
        _raise_first(rows, header, strict)
        raise AssertionError("a date _raise_first passed") from None
    values: dict[str, np.ndarray] = {}
    for key in header.numeric:
        at = header.index[key]
        values[key], invalid = _figures(rows, at, key == "volume")
        if invalid.any():
            if strict:
                _raise_first(rows, header, True)
            first = int(np.flatnonzero(invalid)[0])
            rule = ">= 0" if key == "volume" else "> 0"
            warnings.append(
                f"{header.names[key]}: {plural(int(invalid.sum()), 'value')} not a finite number {rule} read as "
                f"missing, the first on line {rows.lines[first]} ({rows.cells[first][at][:40]!r})"
            )
    return _Parsed(days, values, np.asarray(rows.lines, dtype=np.int64), warnings)


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


def _bars(lines: np.ndarray, values: dict[str, np.ndarray], close_key: str, warnings: list[str]) -> Bars:
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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: reading makes a list a row (none refers to another,
    all are freed when the read ends), and the collections their number would set off took two
    thirds of the time a 600,000-row file takes to read."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _scan(text: str, ticker: str | None, every: bool, strict: bool) -> tuple[_Header, dict[str, _Rows], dict[str, int]]:
    """(header, {ticker: its rows, in file order}: ``ticker``'s (None: the file's first) or,
    ``every``, all of them; {ticker: rows} of a Kaggle file unless ``every``). A Yahoo file's one
    ticker is "". Blank rows are passed over."""
    reader = csv.reader(io.StringIO(text, newline=""))
    body: list[list[str]] = []
    lines: list[int] = []
    try:
        header = _header(next(reader, None))
        for cells in reader:
            body.append(cells)
            lines.append(reader.line_num)
    except csv.Error as error:
        if body:  # a problem on an earlier line comes first
            _check(_group(_Rows(body, lines), header, ticker, every, strict)[0], header, strict)
        raise PriceFileError("file", f"is not a readable CSV ({error})") from None
    return header, *_group(_Rows(body, lines), header, ticker, every, strict)


def _group(
    rows: _Rows, header: _Header, ticker: str | None, every: bool, strict: bool
) -> tuple[dict[str, _Rows], dict[str, int]]:
    """``_scan``'s groups and ticker counts of the rows read."""
    try:
        blank = not all(map(str.strip, map(itemgetter(0), rows.cells)))
    except IndexError:  # an empty row
        blank = True
    if blank:
        kept = [i for i, cells in enumerate(rows.cells) if any(c.strip() for c in cells)]
        rows = _Rows([rows.cells[i] for i in kept], [rows.lines[i] for i in kept])
    name_at = header.index.get("name")
    if name_at is None:
        return {"": rows}, {}
    try:
        names = list(map(str.strip, map(itemgetter(name_at), rows.cells)))
    except IndexError:
        short = next(i for i, cells in enumerate(rows.cells) if len(cells) <= name_at)
        before = _Rows(rows.cells[:short], rows.lines[:short])
        _check(_group(before, header, ticker, every, strict)[0], header, strict)  # its problems come first
        raise PriceFileError("file", f"line {rows.lines[short]}: no {header.names['name']} field") from None
    chosen = ticker if ticker is not None else next(iter(names), None)
    groups: dict[str, _Rows] = {}
    start = 0
    for name, run in groupby(names):
        end = start + len(list(run))
        if every or name == chosen:
            group = groups.setdefault(name, _Rows())
            group.cells += rows.cells[start:end]
            group.lines += rows.lines[start:end]
        start = end
    return groups, {} if every else dict(Counter(names))


def _check(groups: dict[str, _Rows], header: _Header, strict: bool) -> None:
    """Raise the first problem of the rows read so far: a file's problems come in line order."""
    for rows in groups.values():
        _parse(rows, header, strict)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PriceFileError("file", f"is not UTF-8 text (byte {error.start}); expected a CSV file") from None


def _table(parsed: _Parsed, header: _Header, ticker: str | None, keep: int | None, min_rows: int) -> PriceTable:
    """One ticker's newest ``keep`` rows (None: all; at least ``min_rows``) as a PriceTable."""
    days, values, lines, warnings = parsed.days, parsed.values, parsed.lines, parsed.warnings
    close_key = header.close_key
    close = values[close_key]
    usable = np.flatnonzero(~np.isnan(close))
    if len(usable) < len(close):
        first = lines[int(np.flatnonzero(np.isnan(close))[0])]
        warnings.append(
            f"dropped {plural(len(close) - len(usable), 'row')} without a close (Yahoo writes null on days "
            f"without data), the first on line {first}"
        )
    ordinals = np.array(list(map(date.toordinal, days)), dtype=np.int64)[usable]
    by_date = np.argsort(ordinals, kind="stable")
    order = usable[by_date]
    repeated = np.flatnonzero(np.diff(ordinals[by_date]) == 0)
    if repeated.size:
        i = int(repeated[0])
        first, second = sorted((int(lines[order[i]]), int(lines[order[i + 1]])))
        raise PriceFileError("file", f"{days[order[i]]} appears twice, on lines {first} and {second} (one row per day)")
    if len(order) < min_rows:
        whose = f" of {ticker}" if ticker else ""
        raise PriceFileError(
            "file", f"holds {len(order)} rows with a close{whose}; the model needs at least {min_rows} (its window)"
        )
    window = order if keep is None else order[-keep:]
    bars = _bars(lines[window], {key: v[window] for key, v in values.items()}, close_key, warnings)
    layout = "kaggle" if header.kaggle else "yahoo"
    column = {"adj close": "Adj Close", "close": "Close" if layout == "yahoo" else "close"}[close_key]
    dates = [days[i] for i in window]
    return PriceTable(dates, bars, ticker, layout, column, len(order), lines[window].tolist(), warnings)


def file_ticker(filename: str | None) -> str | None:
    """A Yahoo file's ticker: its name without folder and extension, upper case ("prices.csv" ->
    "PRICES"); None without a usable name."""
    if not filename:
        return None
    stem = re.sub(r"\.[^.]*$", "", re.split(r"[/\\]", filename)[-1])
    return re.sub(r"[^A-Za-z0-9._^=-]", "", stem)[:32].upper() or None


def read_price_csv(
    data: bytes,
    keep: int,
    min_rows: int,
    ticker: str | None = None,
    filename: str | None = None,
    strict: bool = True,
) -> PriceTable:
    """The newest ``keep`` rows (at least ``min_rows``) of the file's ticker (``ticker``; for a
    Yahoo file, else its ``filename``'s: ``file_ticker``); every row of that ticker is checked.
    Raises PriceFileError."""
    with _collector_paused():
        return _read_price_csv(_decode(data), keep, min_rows, ticker, filename, strict)


def _read_price_csv(
    text: str, keep: int, min_rows: int, ticker: str | None, filename: str | None, strict: bool
) -> PriceTable:
    header, groups, seen = _scan(text, ticker, every=False, strict=strict)
    if header.kaggle:
        chosen = ticker if ticker is not None else next(iter(groups), None)
        parsed = _parse(groups.get(chosen or "", _Rows()), header, strict)  # its problems before the choice's
        if ticker is None and len(seen) > 1:
            raise PriceFileError(
                "ticker", f"required: the file holds {len(seen)} tickers ({_tickers_text(seen)}); name one"
            )
        if ticker is not None and ticker not in seen:
            raise PriceFileError("ticker", f"'{ticker}' is not in the file; it holds {_tickers_text(seen) or 'none'}")
    else:
        chosen = ticker if ticker is not None else file_ticker(filename)
        parsed = _parse(groups.get("", _Rows()), header, strict)
    return _table(parsed, header, chosen, keep, min_rows)


def read_tickers(data: bytes, filename: str | None = None, strict: bool = False) -> dict[str, PriceTable]:
    """{ticker: its whole history}, tickers in name order (a Yahoo file's one: ``file_ticker``, or
    "PRICES"). The rules of ``read_price_csv``; a figure that is not one is missing here unless
    ``strict``. Raises PriceFileError."""
    with _collector_paused():
        return _read_tickers(_decode(data), filename, strict)


def _read_tickers(text: str, filename: str | None, strict: bool) -> dict[str, PriceTable]:
    header, groups, _ = _scan(text, None, every=True, strict=strict)
    if not header.kaggle:
        name = file_ticker(filename) or "PRICES"
        return {name: _table(_parse(groups.get("", _Rows()), header, strict), header, name, None, 0)}
    return {name: _table(_parse(groups[name], header, strict), header, name, None, 0) for name in sorted(groups)}
