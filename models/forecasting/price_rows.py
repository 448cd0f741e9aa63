"""The rows of a daily price file (``price_file``): its header, and each ticker's dates and
figures checked, in file order. A figure present but not a positive finite price (a volume:
>= 0) is an error naming its line (``strict``) or missing like an empty cell (said in warnings).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

import numpy as np

from models.forecasting.bars import plural

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
KAGGLE_HEADER = "date,open,high,low,close,volume,Name"
REQUIRED = ("date", "close")
NUMERIC = ("open", "high", "low", "close", "volume", "adj close")  # the order a row's cells are checked in
MISSING = {"", "null", "nan", "na", "n/a"}
MAX_PRICE, MAX_VOLUME = 1e9, 1e15
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class PriceFileError(ValueError):
    """A file (``where`` "file") or a ticker choice (``where`` "ticker") that cannot be read."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class Header:
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
class Rows:
    """One ticker's rows as read, in file order: their cells and file lines."""

    cells: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class Parsed:
    """One ticker's rows checked, in file order: (N,) each."""

    days: list[date]
    values: dict[str, np.ndarray]  # numeric column -> figures, NaN where missing
    lines: np.ndarray
    warnings: list[str]


def read_header(header: list[str] | None) -> Header:
    if not header:
        raise PriceFileError("file", f"is empty; expected a header {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} (Kaggle)")
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    twice = [name for name in (*NUMERIC, "date", "name") if [n.strip().lower() for n in header].count(name) > 1]
    if twice:
        at = [i + 1 for i, n in enumerate(header) if n.strip().lower() == twice[0]]
        raise PriceFileError(
            "file", f"its header names {twice[0]!r} twice (columns {at[0]} and {at[1]}): which one to read is unknown"
        )
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        shown = ",".join(header)[:120]
        raise PriceFileError(
            "file",
            f"not a daily price CSV: its header must be {YAHOO_HEADER} (Yahoo) or {KAGGLE_HEADER} "
            f"(Kaggle); missing {', '.join(missing)} in the first line ({shown!r})",
        )
    return Header(index, {name.strip().lower(): name.strip() for name in header}, len(header))


def _number(text: str, line: int, column: str, volume: bool) -> None:
    """PriceFileError naming line and column when ``text`` is present but not a valid figure."""
    if text.strip().lower() in MISSING:
        return
    try:
        if "_" in text:  # float() reads "1_000" as 1000; a price file never writes one so
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise PriceFileError("file", f"line {line}, {column}: {text[:40]!r} is not a number") from None
    limit = MAX_VOLUME if volume else MAX_PRICE
    low_ok = value >= 0 if volume else value > 0
    if not (math.isfinite(value) and low_ok and value <= limit):
        rule = f">= 0 and <= {limit:g}" if volume else f"> 0 and <= {limit:g}"
        raise PriceFileError("file", f"line {line}, {column}: must be a finite number {rule}, got {text[:40]!r}")


def _raise_first(rows: Rows, header: Header, figures: bool) -> None:
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
        return float(text) if "_" not in text else math.nan
    except ValueError:
        return math.nan


def _figures(rows: Rows, at: int, volume: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column ``at`` of the rows -> ((N,) values, NaN where missing or invalid; (N,) bool:
    invalid, i.e. present but not a figure ``_number`` takes)."""
    texts = list(map(itemgetter(at), rows.cells))
    try:
        if any("_" in text for text in texts):  # "1_000": float() would read it
            raise ValueError
        values = np.fromiter(map(float, texts), np.float64, len(texts))
    except ValueError:  # a missing cell or a word: cell by cell
        values = np.fromiter(map(_maybe_float, texts), np.float64, len(texts))
    nan = np.isnan(values)
    missing = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(nan):
        missing[i] = rows.cells[i][at].strip().lower() in MISSING
    with np.errstate(invalid="ignore"):
        valid = (values >= 0 if volume else values > 0) & (values <= (MAX_VOLUME if volume else MAX_PRICE))
    values[~valid] = np.nan
    return values, ~valid & ~missing


def parse_rows(rows: Rows, header: Header, strict: bool) -> Parsed:
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
    return Parsed(days, values, np.asarray(rows.lines, dtype=np.int64), warnings)
