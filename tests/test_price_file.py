"""One reader of price files (issue 24): the upload (``POST /forecast/csv``) and training read a
file alike: the same closes, open, high, low and volume per ticker, the same missing cells and
the same bars that cannot be, left without open, high and low on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from models.forecasting.price_file import PriceFileError, read_price_csv
from training.forecasting.prices import load_bars, load_frames, read_prices

FIELDS = ("close", "open", "high", "low", "volume")
DAYS = 60


def walk(rng: np.random.Generator, n: int) -> list[list[float]]:
    """[open, high, low, close, volume] per day, bars that can be."""
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high, low = np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99
    return [[round(float(v), 4) for v in day] + [1000.0 + i] for i, day in enumerate(zip(open_, high, low, close))]


# (ticker, day, column, cell): the bars that cannot be and the missing cells of the generated file
BROKEN = {("AAA", 10): ("low", "close", 1.05), ("AAA", 40): ("high", "open", 0.95), ("BBB", 20): ("low", "high", 1.2)}
MISSING = [("AAA", 5, "open", ""), ("AAA", 40, "low", "null"), ("BBB", 7, "volume", "NaN"), ("CCC", 3, "high", "N/A")]
NO_CLOSE = [("BBB", 30)]  # a row without a close: dropped on both sides


ALL_DATES = [str(d) for d in np.busday_offset("2020-01-01", np.arange(DAYS), roll="forward")]


def kaggle_file(path) -> dict[str, list[str]]:
    """Three tickers on interleaved rows, newest first for CCC -> {ticker: ISO dates kept}."""
    rng = np.random.default_rng(4)
    columns = ["open", "high", "low", "close", "volume"]
    rows: dict[str, list[list[str]]] = {}
    for ticker in ("AAA", "BBB", "CCC"):
        table = walk(rng, DAYS)
        for (name, day), (field, other, factor) in BROKEN.items():
            if name == ticker:
                table[day][columns.index(field)] = round(table[day][columns.index(other)] * factor, 4)
        cells = [[d] + [repr(v) for v in day] + [ticker] for d, day in zip(ALL_DATES, table)]
        for name, day, field, text in MISSING:
            if name == ticker:
                cells[day][1 + columns.index(field)] = text
        for name, day in NO_CLOSE:
            if name == ticker:
                cells[day][4] = ""
        rows[ticker] = cells[::-1] if ticker == "CCC" else cells
    lines = ["date,open,high,low,close,volume,Name"]
    lines += [",".join(row) for trio in zip(*rows.values()) for row in trio]
    path.write_text("\n".join(lines) + "\n")
    return {t: [d for i, d in enumerate(ALL_DATES) if (t, i) not in NO_CLOSE] for t in rows}


def assert_same_bars(uploaded, trained) -> None:
    for field in FIELDS:
        a, b = getattr(uploaded, field), getattr(trained, field)
        assert (a is None) == (b is None), field
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=field)  # NaN on the same days, every figure to the bit


def test_the_upload_and_training_read_a_kaggle_file_alike(tmp_path):
    path = tmp_path / "prices.csv"
    kept = kaggle_file(path)
    data = path.read_bytes()
    bars, frames, tables = load_bars(path), load_frames(path), read_prices(path)
    assert sorted(bars) == sorted(frames) == ["AAA", "BBB", "CCC"]
    for ticker, dates in kept.items():
        uploaded = read_price_csv(data, keep=10 * DAYS, min_rows=1, ticker=ticker)
        trained, trained_dates = bars[ticker]
        assert [str(d) for d in uploaded.dates] == trained_dates == dates
        assert_same_bars(uploaded.bars, trained)
        assert uploaded.warnings == tables[ticker].warnings  # the same days said repaired, missing, dropped
        frame = frames[ticker]
        for field in FIELDS:
            values = getattr(trained, field)
            expected = np.full(len(dates), np.nan) if values is None else values
            np.testing.assert_array_equal(frame[field].to_numpy(), expected)
        # the days that cannot be lose open, high and low on both sides; a missing cell its own field
        broken = {dates.index(ALL_DATES[day]) for t, day in BROKEN if t == ticker}
        for field in ("open", "high", "low", "volume"):
            gaps = {dates.index(ALL_DATES[day]) for t, day, f, _ in MISSING if t == ticker and f == field}
            expected_nan = gaps if field == "volume" else broken | gaps
            assert set(np.flatnonzero(np.isnan(getattr(trained, field))).tolist()) == expected_nan, (ticker, field)
        has = ~np.isnan(trained.low) & ~np.isnan(trained.high)
        assert np.all(trained.low[has] <= trained.close[has]) and np.all(trained.high[has] >= trained.close[has])
    assert any(
        w.startswith("line 32: low must be at most") and "1 other day like it" in w for w in tables["AAA"].warnings
    )
    assert any("dropped 1 row without a close" in w for w in tables["BBB"].warnings)
    # the upload's window is the newest rows of what training reads
    window = read_price_csv(data, keep=20, min_rows=20, ticker="AAA")
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(window.bars, field), getattr(bars["AAA"][0], field)[-20:])


def test_the_upload_and_training_read_a_yahoo_file_alike(tmp_path):
    """Adjusted closes, open/high/low scaled by the same factor and kept in the day's range,
    Yahoo's null rows dropped, a bar that cannot be repaired on both sides."""
    rng = np.random.default_rng(8)
    days = [str(d) for d in np.busday_offset("2021-03-01", np.arange(40), roll="forward")]
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for i, (d, (o, h, lo, c, v)) in enumerate(zip(days, walk(rng, 40))):
        if i == 12:
            lines.append(f"{d},null,null,null,null,null,null")
            continue
        lo = round(c * 1.02, 4) if i == 25 else lo  # the low above the close
        lines.append(f"{d},{o},{h},{lo},{c},{round(c / 3, 6)},{int(v)}")
    path = tmp_path / "acme.csv"
    path.write_text("\n".join(lines) + "\n")
    [(name, (trained, dates))] = load_bars(path).items()
    uploaded = read_price_csv(path.read_bytes(), keep=100, min_rows=1, filename="acme.csv")
    assert name == uploaded.ticker == "ACME"
    assert dates == [str(d) for d in uploaded.dates] and len(dates) == 39
    assert_same_bars(uploaded.bars, trained)
    repaired = dates.index(days[25])
    assert np.isnan(trained.open).tolist() == [i == repaired for i in range(39)]


def test_a_figure_that_is_not_one_is_refused_by_the_upload_and_missing_in_training(tmp_path, caplog):
    path = tmp_path / "x.csv"
    path.write_text("date,open,high,low,close,volume,Name\n2020-01-02,1,2,0.5,1.5,-3,A\n2020-01-03,1,2,1,1.8,7,A\n")
    with pytest.raises(PriceFileError, match="line 2, volume: must be a finite number >= 0"):
        read_price_csv(path.read_bytes(), keep=5, min_rows=1)
    with caplog.at_level("INFO"):
        bars, _ = load_bars(path)["A"]
    assert np.isnan(bars.volume[0]) and bars.volume[1] == 7
    assert "volume: 1 value not a finite number >= 0 read as missing, the first on line 2" in caplog.text


def test_training_names_the_file_and_line_of_a_date_that_is_not_one(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("date,open,high,low,close,volume,Name\n2020-01-02,1,2,0.5,1.5,3,A\n02/01/2020,1,2,1,1.8,7,A\n")
    with pytest.raises(ValueError, match=r"x\.csv: line 3, date: '02/01/2020' is not a date YYYY-MM-DD"):
        load_bars(path)
