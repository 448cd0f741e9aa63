"""The forecasting peers' shared data module: our split exported and read back without our code,
the backtest's origins, and forecast files in the backtest's --peers format."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pandas as pd
import pytest

from bench.peers import forecast_data as fd


@pytest.fixture(scope="module")
def price_file(tmp_path_factory):
    """A Kaggle-format file of 12 random-walk tickers over 300 weekdays; T11 starts late."""
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2015-01-01", periods=300)
    rows = []
    for i in range(12):
        span = days[150:] if i == 11 else days
        closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(span))))
        rows += [(d.date().isoformat(), c, c, c, c, 1000, f"T{i}") for d, c in zip(span, closes)]
    path = tmp_path_factory.mktemp("peers") / "prices.csv"
    pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume", "Name"]).to_csv(path, index=False)
    return path


def checkpoint_with(tmp_path, heldout: list[str]):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"training": {"heldout_tickers": heldout}}))
    return folder


def test_exported_split_reads_back_as_our_loader_and_split_see_it(price_file, tmp_path):
    from training.forecasting.prices import load_prices, split_prices

    series = load_prices(price_file)
    ours = split_prices(series)
    assert ours.heldout  # 10% of 12 tickers: the check below compares something
    out = fd.export(price_file, checkpoint_with(tmp_path, ours.heldout), tmp_path / "split")
    got = fd.load_split(out)
    assert (got.heldout, got.val_start, got.test_start) == (ours.heldout, ours.val_start, ours.test_start)
    assert sorted(got.series) == sorted(series)
    for ticker, s in series.items():
        assert got.series[ticker].index.equals(s.index)
        np.testing.assert_array_equal(got.series[ticker].values, s.values)
    assert set(got.training_tickers) == set(series) - set(ours.heldout)


def test_export_refuses_a_checkpoint_that_held_out_other_tickers(price_file, tmp_path):
    with pytest.raises(ValueError, match="other tickers"):
        fd.export(price_file, checkpoint_with(tmp_path, ["T0"]), tmp_path / "split")


def test_load_split_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(OSError, match="bench.peers.forecast_data"):
        fd.load_split(tmp_path)


@pytest.mark.parametrize("n", [fd.LOOKBACK + 30, 400, 1259])
def test_origins_are_the_backtests(n):
    at = fd.origins(n)
    assert at[-1] + fd.HORIZON == n - 1  # the last origin's H-day outcome is the last price
    assert at[0] >= fd.LOOKBACK and len(at) == min(fd.LAST_DAYS, n - fd.HORIZON - fd.LOOKBACK)
    try:
        from training.forecasting.backtest import origins_of
    except ImportError:
        return
    np.testing.assert_array_equal(at, origins_of(n, fd.LOOKBACK, fd.LAST_DAYS, fd.HORIZON))


def test_scored_tickers_are_the_held_out_ones_long_enough():
    short = pd.Series(np.ones(fd.LOOKBACK + fd.LAST_DAYS // 2 - 1), index=pd.bdate_range("2015-01-01", periods=184))
    long = pd.Series(np.ones(fd.LOOKBACK + fd.LAST_DAYS // 2), index=pd.bdate_range("2015-01-01", periods=185))
    split = fd.Split({"A": long, "B": short, "C": long}, ["A", "B", "Z"], "2015-06-01", "2015-07-01")
    assert split.scored() == ["A"]
    assert split.training_tickers == ["C"]


def test_forecast_file_holds_prices_per_horizon_and_the_rate(tmp_path):
    dates = pd.bdate_range("2017-01-02", periods=10)
    run = fd.PeerRun("peer-x", {"model": "X"})
    log_paths = {k: np.log(100.0 + i + np.arange(fd.HORIZON)) for i, k in enumerate(fd.CSV_COLUMNS[4:])}
    run.add("AAA", dates, 3, log_paths)
    run.predict_seconds = 0.5
    path = run.write(tmp_path)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["h"] for r in rows] == [str(h) for h in range(1, fd.HORIZON + 1)]
    assert {(r["method"], r["ticker"], r["origin_date"]) for r in rows} == {("peer-x", "AAA", "2017-01-05")}
    assert [float(r["upper90"]) for r in rows] == pytest.approx(104.0 + np.arange(fd.HORIZON))
    assert float(rows[0]["point"]) == pytest.approx(100.0)
    summary = json.loads(path.with_suffix(".json").read_text())
    assert (summary["forecasts"], summary["forecasts_per_second"], summary["model"]) == (1, 2.0, "X")


def test_ours_gets_the_backtests_bars_windows_from_the_split_dates(price_file, tmp_path):
    """forecast_ours hands predict() the days the checkpoint reads (its days_read: here L + 1) up to
    each origin (what the backtest gives the model), checked against the split's dates; closes alone
    without bars."""
    from bench.peers.forecast_ours import histories_of
    from training.forecasting.prices import load_bars, load_prices

    series = load_prices(price_file)["T3"]
    bars, dates = load_bars(price_file)["T3"]
    at = fd.origins(len(series))
    windows = histories_of(series, (bars, dates), at, fd.LOOKBACK + 1)
    assert [len(w) for w in windows] == [fd.LOOKBACK + 1] * len(at)
    for t, w in zip(at[[0, -1]], [windows[0], windows[-1]]):
        np.testing.assert_array_equal(w.close, series.values[t - fd.LOOKBACK : t + 1])
        np.testing.assert_array_equal(w.volume, bars.volume[t - fd.LOOKBACK : t + 1])
    closes = histories_of(series, None, at, fd.LOOKBACK + 1)
    np.testing.assert_array_equal(closes[-1], windows[-1].close)
    with pytest.raises(ValueError, match="rerun bench.peers.forecast_data"):
        histories_of(series, (bars, dates[:-1] + ["2099-01-01"]), at, fd.LOOKBACK + 1)


def test_a_timed_block_counts_its_cpu_seconds_beside_the_wall_clock(tmp_path):
    run = fd.PeerRun("peer-y", {})
    with run.timing("predict"):
        sum(i * i for i in range(300_000))  # CPU work
    with run.timing("predict"):
        time.sleep(0.2)  # waiting: wall time, next to no CPU
    assert run.predict_seconds >= 0.2 and 0 < run.cpu_seconds["predict"] < run.predict_seconds - 0.1
    run.forecasts = 10
    summary = json.loads(run.write(tmp_path).with_suffix(".json").read_text())
    assert summary["forecasts_per_cpu_second"] == round(10 / run.cpu_seconds["predict"], 1)
    assert summary["forecasts_per_cpu_second"] > summary["forecasts_per_second"]
