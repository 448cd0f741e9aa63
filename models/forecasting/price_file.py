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
high and low. Each of these is said in the table's warnings. The rows are checked in
``price_rows``, their bars made in ``bars``; here, the file is read, split by ticker and ordered.
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter

import numpy as np

from models.forecasting.bars import file_bars, plural
from models.forecasting.forecaster import Bars
from models.forecasting.price_rows import Header, Parsed, PriceFileError, Rows, parse_rows, read_header

SHOWN_TICKERS = 12
__all__ = ["PriceFileError", "PriceTable", "file_ticker", "read_price_csv", "read_tickers"]


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


def _tickers_text(names: dict[str, int]) -> str:
    shown = sorted(names)[:SHOWN_TICKERS]
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN_TICKERS else ""
    return ", ".join(shown) + more


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


def _scan(text: str, ticker: str | None, every: bool, strict: bool) -> tuple[Header, dict[str, Rows], dict[str, int]]:
    """(header, {ticker: its rows, in file order}: ``ticker``'s (None: the file's first) or,
    ``every``, all of them; {ticker: rows} of a Kaggle file unless ``every``). A Yahoo file's one
    ticker is "". Blank rows are passed over."""
    reader = csv.reader(io.StringIO(text, newline=""))
    body: list[list[str]] = []
    lines: list[int] = []
    try:
        header = read_header(next(reader, None))
        for cells in reader:
            body.append(cells)
            lines.append(reader.line_num)
    except csv.Error as error:
        if body:  # a problem on an earlier line comes first
            _check(_group(Rows(body, lines), header, ticker, every, strict)[0], header, strict)
        raise PriceFileError("file", f"is not a readable CSV ({error})") from None
    return header, *_group(Rows(body, lines), header, ticker, every, strict)


def _group(
    rows: Rows, header: Header, ticker: str | None, every: bool, strict: bool
) -> tuple[dict[str, Rows], dict[str, int]]:
    """``_scan``'s groups and ticker counts of the rows read."""
    try:
        blank = not all(map(str.strip, map(itemgetter(0), rows.cells)))
    except IndexError:  # an empty row
        blank = True
    if blank:
        kept = [i for i, cells in enumerate(rows.cells) if any(c.strip() for c in cells)]
        rows = Rows([rows.cells[i] for i in kept], [rows.lines[i] for i in kept])
    name_at = header.index.get("name")
    if name_at is None:
        return {"": rows}, {}
    try:
        names = list(map(str.strip, map(itemgetter(name_at), rows.cells)))
    except IndexError:
        short = next(i for i, cells in enumerate(rows.cells) if len(cells) <= name_at)
        before = Rows(rows.cells[:short], rows.lines[:short])
        _check(_group(before, header, ticker, every, strict)[0], header, strict)  # its problems come first
        raise PriceFileError("file", f"line {rows.lines[short]}: no {header.names['name']} field") from None
    chosen = ticker if ticker is not None else next(iter(names), None)
    groups: dict[str, Rows] = {}
    start = 0
    for name, run in groupby(names):
        end = start + len(list(run))
        if every or (name == chosen if ticker is None else name.casefold() == ticker.casefold()):
            group = groups.setdefault(name, Rows())
            group.cells += rows.cells[start:end]
            group.lines += rows.lines[start:end]
        start = end
    return groups, {} if every else dict(Counter(names))


def _check(groups: dict[str, Rows], header: Header, strict: bool) -> None:
    """Raise the first problem of the rows read so far: a file's problems come in line order."""
    for rows in groups.values():
        parse_rows(rows, header, strict)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PriceFileError("file", f"is not UTF-8 text (byte {error.start}); expected a CSV file") from None


def _table(parsed: Parsed, header: Header, ticker: str | None, keep: int | None, min_rows: int) -> PriceTable:
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
    bars = file_bars(lines[window], {key: v[window] for key, v in values.items()}, close_key, warnings)
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
    if header.kaggle:  # a named ticker matches the file's spelling whatever its case ("aapl": AAPL)
        chosen = (
            next(iter(groups), None)
            if ticker is None
            else next((n for n in groups if n.casefold() == ticker.casefold()), ticker)
        )
        parsed = parse_rows(groups.get(chosen or "", Rows()), header, strict)  # its problems before the choice's
        if ticker is None and len(seen) > 1:
            raise PriceFileError(
                "ticker", f"required: the file holds {len(seen)} tickers ({_tickers_text(seen)}); name one"
            )
        if ticker is not None and chosen not in seen:
            raise PriceFileError("ticker", f"'{ticker}' is not in the file; it holds {_tickers_text(seen) or 'none'}")
    else:
        chosen = ticker if ticker is not None else file_ticker(filename)
        parsed = parse_rows(groups.get("", Rows()), header, strict)
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
        return {name: _table(parse_rows(groups.get("", Rows()), header, strict), header, name, None, 0)}
    return {name: _table(parse_rows(groups[name], header, strict), header, name, None, 0) for name in sorted(groups)}
